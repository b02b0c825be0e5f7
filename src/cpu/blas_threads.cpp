// See blas_threads.hpp.
#include "cpu/blas_threads.hpp"

#include <cblas.h>

#include <vector>

#include "batchprop/backend.hpp"

namespace batchprop {

bool blas_one_thread_per_caller() {
    openblas_set_num_threads(1);
    auto be = make_cpu_backend<float>();
    // 2 * 253^3 = 32.4 MFLOP: just past the size the backend gives all its threads.
    constexpr int kLarge = 253;
    std::vector<float> a(std::size_t(kLarge) * kLarge, 0.5f), c(a.size());
    const ConstView<float> small_a(a.data(), 2, 2), large_a(a.data(), kLarge, kLarge);
    be->gemm(MatrixView<float>(c.data(), 2, 2), Op::N, small_a, Op::N, small_a, 1.0f, 0.0f);  // the backend's one thread
    be->gemm(MatrixView<float>(c.data(), kLarge, kLarge), Op::N, large_a, Op::N, large_a, 1.0f, 0.0f);  // its all
    return openblas_get_num_threads() == 1;
}

}  // namespace batchprop
