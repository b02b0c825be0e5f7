// See blas_core.hpp.
#include "cpu/blas_core.hpp"

#include "batchprop/build_info.hpp"

#include <cblas.h>
#include <strings.h>
#include <unistd.h>

#include <cstdlib>

namespace batchprop {

const char* blas_core_name() { return openblas_get_corename(); }

void prefer_fast_blas_kernels(char** argv) {
#if defined(__x86_64__)
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user's (or a prior exec's) choice
    if (strcasecmp(openblas_get_corename(), "prescott") != 0) return;  // detected fine
    __builtin_cpu_init();
    const char* core = nullptr;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd"))
        core = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        core = "Haswell";
    if (!core) return;
    if (setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");  // exec failed: carry on with the detected kernels
#else
    (void)argv;
#endif
}

}  // namespace batchprop
