// See cublas_loader.cuh.
#include "cublas_loader.cuh"

#include <string>

#include "runtime_library.cuh"

namespace batchprop {
namespace cuda_detail {
namespace {

CublasApi load() {
    // The cuBLAS of the toolkit we were compiled against: its major version names the soname.
    const RuntimeLibrary lib("libcublas.so." + std::to_string(CUBLAS_VER_MAJOR), "cuBLAS",
                             "install the CUDA toolkit's cuBLAS or put its directory on LD_LIBRARY_PATH");
    CublasApi api;
    lib.resolve("cublasCreate_v2", api.create);
    lib.resolve("cublasDestroy_v2", api.destroy);
    lib.resolve("cublasSetStream_v2", api.set_stream);
    lib.resolve("cublasSetPointerMode_v2", api.set_pointer_mode);
    lib.resolve("cublasSetMathMode", api.set_math_mode);
    lib.resolve("cublasSetWorkspace_v2", api.set_workspace);
    lib.resolve("cublasSgemm_v2", api.sgemm);
    lib.resolve("cublasDgemm_v2", api.dgemm);
    return api;
}

}  // namespace

const CublasApi& cublas_api() {
    static const CublasApi api = load();  // a failure throws and is retried on the next call
    return api;
}

}  // namespace cuda_detail
}  // namespace batchprop
