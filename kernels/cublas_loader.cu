// See cublas_loader.cuh.
#include "cublas_loader.cuh"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <string>

#include "batchprop/check.hpp"

namespace batchprop {
namespace cuda_detail {
namespace {

// The cuBLAS of the toolkit we were compiled against: its major version names the soname.
const std::string kSoname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);

// The directory the CUDA runtime was loaded from, where a toolkit or a pip wheel also keeps
// cuBLAS: the fallback when the loader's own search (LD_LIBRARY_PATH, the executable's
// RUNPATH, ld.so.cache) does not find it.
std::string cudart_directory() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cudaGetDeviceCount), &info) == 0 || !info.dli_fname) return "";
    const std::string path = info.dli_fname;
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? "" : path.substr(0, slash);
}

template <class F>
void resolve(void* lib, const char* name, F& out) {
    out = reinterpret_cast<F>(dlsym(lib, name));
    if (!out) BP_THROW("cuBLAS (" << kSoname << ") lacks " << name << ": " << dlerror());
}

CublasApi load() {
    void* lib = dlopen(kSoname.c_str(), RTLD_NOW | RTLD_LOCAL);
    std::string why = lib ? "" : dlerror();
    if (!lib) {
        const std::string dir = cudart_directory();
        if (!dir.empty()) lib = dlopen((dir + "/" + kSoname).c_str(), RTLD_NOW | RTLD_LOCAL);
    }
    if (!lib)
        BP_THROW("cannot load cuBLAS (" << kSoname << "): " << why
                                        << "; install the CUDA toolkit's cuBLAS or put its directory on LD_LIBRARY_PATH");
    // Never closed: the backend may use it until the process ends.
    CublasApi api;
    resolve(lib, "cublasCreate_v2", api.create);
    resolve(lib, "cublasDestroy_v2", api.destroy);
    resolve(lib, "cublasSetStream_v2", api.set_stream);
    resolve(lib, "cublasSetPointerMode_v2", api.set_pointer_mode);
    resolve(lib, "cublasSetMathMode", api.set_math_mode);
    resolve(lib, "cublasSetWorkspace_v2", api.set_workspace);
    resolve(lib, "cublasSgemm_v2", api.sgemm);
    resolve(lib, "cublasDgemm_v2", api.dgemm);
    return api;
}

}  // namespace

const CublasApi& cublas_api() {
    static const CublasApi api = load();  // a failure throws and is retried on the next call
    return api;
}

}  // namespace cuda_detail
}  // namespace batchprop
