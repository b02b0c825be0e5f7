// cuBLAS, loaded when the first GPU backend is made instead of when the program starts.
// Linking libcublas directly costs every process about 200 MiB of resident memory and ~0.15 s
// at start-up (libcublasLt's relocations are applied at load), whether it ever touches a GPU
// or not; most runs of a CUDA-enabled build on a machine without a GPU never do. So the few
// entry points the backend uses are looked up with dlopen/dlsym on first use.
#pragma once

#include <cublas_v2.h>

namespace batchprop {
namespace cuda_detail {

struct CublasApi {
    decltype(&cublasCreate_v2) create = nullptr;
    decltype(&cublasDestroy_v2) destroy = nullptr;
    decltype(&cublasSetStream_v2) set_stream = nullptr;
    decltype(&cublasSetPointerMode_v2) set_pointer_mode = nullptr;
    decltype(&cublasSetMathMode) set_math_mode = nullptr;
    decltype(&cublasSetWorkspace_v2) set_workspace = nullptr;
    decltype(&cublasSgemm_v2) sgemm = nullptr;
    decltype(&cublasDgemm_v2) dgemm = nullptr;
};

// The loaded API; the library is opened on the first call (thread-safe). Throws
// batchprop::Error naming the library and the loader's reason when it cannot be loaded.
const CublasApi& cublas_api();

}  // namespace cuda_detail
}  // namespace batchprop
