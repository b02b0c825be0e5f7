// The CUDA entry points for a build without the CUDA toolkit: no GPU, and a clear reason.
#include "cuda_backend.hpp"

namespace batchprop {

GpuStatus query_gpus() {
    GpuStatus s;
    s.compiled = false;
    s.reason = "batchprop was built without CUDA (BATCHPROP_CUDA=OFF or no nvcc at build time)";
    return s;
}

template <class T>
std::unique_ptr<Backend<T>> make_cuda_backend(int) {
    throw Error(query_gpus().reason);
}

template std::unique_ptr<Backend<float>> make_cuda_backend<float>(int);
template std::unique_ptr<Backend<double>> make_cuda_backend<double>(int);

}  // namespace batchprop
