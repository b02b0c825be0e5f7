// See cpu_subnormals.hpp.
#include "cpu/subnormals.hpp"

#include <mutex>

// OpenBLAS's own shutdown of its thread pool, the one it runs before fork(); the next
// multi-threaded call creates the pool again. Exported by libopenblas but not declared in
// cblas.h; weak, so a BLAS without it leaves its workers in their mode (slower, not wrong).
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));

namespace batchprop {

void restart_blas_workers_for_flushing() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (blas_thread_shutdown_) blas_thread_shutdown_();
    });
}

bool subnormals_flushed() {
#if defined(__x86_64__)
    return (_mm_getcsr() & FlushSubnormals::kFtzDaz) == FlushSubnormals::kFtzDaz;
#else
    return false;
#endif
}

}  // namespace batchprop
