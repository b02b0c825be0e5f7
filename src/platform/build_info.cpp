// See build_info.hpp.
#include "batchprop/build_info.hpp"

#include <cblas.h>

#include "batchprop/backend.hpp"
#include "batchprop/distributed.hpp"
#include "batchprop/version.hpp"
#include "cpu/blas_core.hpp"
#include "cpu/small_gemm.hpp"

namespace batchprop {

namespace {
const char* threading(int kind) {
    switch (kind) {
        case 0: return "sequential";
        case 1: return "pthreads";
        case 2: return "OpenMP";
        default: return "unknown threading";
    }
}
}  // namespace

BuildInfo build_info() {
    BuildInfo b;
    b.version = BATCHPROP_VERSION_STRING;
#ifndef NDEBUG
    b.debug = true;
#endif
#if defined(__SANITIZE_ADDRESS__)
    b.address_sanitizer = true;
#endif
    b.blas = openblas_get_config();
    b.blas_kernels = blas_core_name();
    b.blas_threads = openblas_get_num_threads();
    b.blas_threading = threading(openblas_get_parallel());
    const SimdLevel small = small_gemm_level();
    if (small != SimdLevel::none) b.small_gemm = to_string(small);
    b.small_gemm_max_dim = kSmallGemmMaxDim;
    b.cuda = gpu_status().compiled;
    b.mpi = mpi_compiled();
    b.nccl = nccl_compiled();
    return b;
}

}  // namespace batchprop
