// See runtime_library.cuh.
#include "runtime_library.cuh"

#include <cuda_runtime.h>

#include <utility>

namespace batchprop {
namespace cuda_detail {
namespace {

// The directory the CUDA runtime was loaded from ("" if unknown).
std::string cudart_directory() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cudaGetDeviceCount), &info) == 0 || !info.dli_fname) return "";
    const std::string path = info.dli_fname;
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace

RuntimeLibrary::RuntimeLibrary(std::string soname, const char* what, const char* install_hint)
    : soname_(std::move(soname)), what_(what) {
    handle_ = dlopen(soname_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_) return;
    const std::string why = dlerror();
    const std::string dir = cudart_directory();
    if (!dir.empty()) handle_ = dlopen((dir + "/" + soname_).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) BP_THROW("cannot load " << what_ << " (" << soname_ << "): " << why << "; " << install_hint);
}

}  // namespace cuda_detail
}  // namespace batchprop
