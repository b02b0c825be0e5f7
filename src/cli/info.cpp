// `batchprop info`: version, build options, BLAS (kernel set and threads), the GPUs seen (or
// why none), and whether the default data set is installed.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "batchprop/backend.hpp"
#include "batchprop/build_info.hpp"
#include "batchprop/dataset.hpp"
#include "commands.hpp"

namespace batchprop::cli {

namespace {

void print_info() {
    const BuildInfo b = build_info();
    std::printf("batchprop %s\n", b.version.c_str());
    const char* build = b.debug ? "debug" : "release";
    if (b.address_sanitizer)
        std::printf("build:  %s, AddressSanitizer\n", build);
    else
        std::printf("build:  %s\n", build);
    std::printf("BLAS:   %s\n", b.blas.c_str());
    // The kernel set is what decides speed: OpenBLAS may fall back to slow generic kernels on
    // CPUs it does not know (prefer_fast_blas_kernels, build_info.hpp), in which case batchprop
    // re-executes itself with a better one chosen through OPENBLAS_CORETYPE.
    const char* chosen = std::getenv("OPENBLAS_CORETYPE");
    std::printf("        kernels %s%s%s%s\n", b.blas_kernels.c_str(), chosen ? " (OPENBLAS_CORETYPE=" : "",
                chosen ? chosen : "", chosen ? ")" : "");
    std::printf("        %d thread(s), %s; %u hardware thread(s)%s\n", b.blas_threads, b.blas_threading.c_str(),
                std::thread::hardware_concurrency(),
                std::getenv("OPENBLAS_NUM_THREADS") ? " (OPENBLAS_NUM_THREADS set)" : "");
    // Two CPU backend policies that change speed, not results (src/cpu/cpu_backend.cpp, subnormals.hpp).
    std::printf("        the CPU backend: products under 32 MFLOP on one thread; subnormals flushed to zero\n");
    // Which kernel takes the mini-batch-sized products, or that the BLAS does.
    if (b.small_gemm.empty())
        std::printf("        products with a dimension <= %d: the BLAS (no AVX2, or BATCHPROP_SMALL_GEMM=off)\n",
                    b.small_gemm_max_dim);
    else
        std::printf("        products with a dimension <= %d: batchprop's %s kernel (BATCHPROP_SMALL_GEMM=off|avx2)\n",
                    b.small_gemm_max_dim, b.small_gemm.c_str());
    const GpuStatus& gpu = gpu_status();
    std::printf("CUDA:   %s\n", b.cuda ? "compiled in" : "not compiled in");
    if (gpu.usable) {
        for (int i = 0; i < gpu.count; ++i) std::printf("GPU %d:  %s\n", i, gpu.names[std::size_t(i)].c_str());
    } else {
        std::printf("GPUs:   none usable (%s)\n", gpu.reason.c_str());
    }
    struct stat st {};
    const bool data = ::stat(default_data_dir(), &st) == 0 && S_ISDIR(st.st_mode);
    std::printf("data:   %s %s\n", default_data_dir(),
                data ? "(the default data set)" : "is missing: apt-get install dataset-fashion-mnist");
}

}  // namespace

void register_info(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("info", "Show version, build options, BLAS, GPUs and the default data");
    cmd->callback(print_info);
}

}  // namespace batchprop::cli
