// A CUDA toolkit library opened with dlopen on first use instead of linked: cuBLAS
// (cublas_loader.cu) and NCCL (nccl_comm.cu). Linking either loads hundreds of MiB of library
// into every process, GPU or not; opened on demand, only runs that use a GPU pay for it.
#pragma once

#include <dlfcn.h>

#include <string>

#include "batchprop/check.hpp"

namespace batchprop {
namespace cuda_detail {

class RuntimeLibrary {
public:
    // Opens `soname` (e.g. "libcublas.so.13") through the loader's own search
    // (LD_LIBRARY_PATH, the executable's RUNPATH, ld.so.cache), else from the directory the
    // CUDA runtime was loaded from, where a toolkit or a pip wheel keeps its siblings. Throws
    // batchprop::Error naming `what`, the soname, the loader's reason and `install_hint`. The
    // library is never closed: what it hands out may be used until the process ends.
    RuntimeLibrary(std::string soname, const char* what, const char* install_hint);

    // out = the library's symbol `name`, as the function pointer type F. Throws if absent.
    template <class F>
    void resolve(const char* name, F& out) const {
        out = reinterpret_cast<F>(dlsym(handle_, name));
        if (!out) BP_THROW(what_ << " (" << soname_ << ") lacks " << name << ": " << dlerror());
    }

private:
    std::string soname_;
    std::string what_;
    void* handle_ = nullptr;
};

}  // namespace cuda_detail
}  // namespace batchprop
