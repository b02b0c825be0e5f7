// arc4random for executables linked with BATCHPROP_STATIC_RUNTIME (scripts/gpu-check.sh bundle),
// and nothing else. GCC 12's libstdc++.a, built on glibc 2.36, calls arc4random (new in glibc
// 2.36) from std::random_device, and the archive's COW-string code pulls that object in whether
// or not random_device is used (batchprop never constructs one). Defined here, the call binds
// to this definition instead of to arc4random@GLIBC_2.36, so the bundle's executables load on
// glibc 2.34 and 2.35. getrandom (glibc 2.25) gives the same kernel-sourced bytes.
#include <sys/random.h>

#include <cerrno>
#include <cstdint>

extern "C" std::uint32_t arc4random(void) {
    std::uint32_t v = 0;
    while (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v) && errno == EINTR) {
    }
    return v;
}
