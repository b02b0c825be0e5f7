// `batchprop info`: version, build options, BLAS (kernel set and threads), the GPUs seen (or
// why none), and whether the default data set is installed.
#include <cblas.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "batchprop/backend.hpp"
#include "cpu/blas_core.hpp"
#include "batchprop/dataset.hpp"
#include "cli/commands.hpp"
#include "cpu/small_gemm.hpp"

namespace batchprop::cli {

namespace {

const char* parallel_kind() {
    switch (openblas_get_parallel()) {
        case 0: return "sequential";
        case 1: return "pthreads";
        case 2: return "OpenMP";
        default: return "unknown threading";
    }
}

void print_info() {
    std::printf("batchprop %s\n", BATCHPROP_VERSION);
#ifdef NDEBUG
    const char* build = "release";
#else
    const char* build = "debug";
#endif
#if defined(__SANITIZE_ADDRESS__)
    std::printf("build:  %s, AddressSanitizer\n", build);
#else
    std::printf("build:  %s\n", build);
#endif
    std::printf("BLAS:   %s\n", openblas_get_config());
    // The core is what decides speed: OpenBLAS may fall back to slow generic kernels on CPUs
    // it does not know (blas_core.hpp), in which case batchprop re-executes itself with a
    // better one chosen through OPENBLAS_CORETYPE.
    const char* chosen = std::getenv("OPENBLAS_CORETYPE");
    std::printf("        kernels %s%s%s%s\n", blas_core_name(), chosen ? " (OPENBLAS_CORETYPE=" : "",
                chosen ? chosen : "", chosen ? ")" : "");
    std::printf("        %d thread(s), %s; %u hardware thread(s)%s\n", openblas_get_num_threads(), parallel_kind(),
                std::thread::hardware_concurrency(),
                std::getenv("OPENBLAS_NUM_THREADS") ? " (OPENBLAS_NUM_THREADS set)" : "");
    // Two CPU backend policies that change speed, not results (cpu_backend.cpp, cpu_subnormals.hpp).
    std::printf("        the CPU backend: products under 32 MFLOP on one thread; subnormals flushed to zero\n");
    // Which kernel takes the mini-batch-sized products (cpu_small_gemm.hpp), or that the BLAS does.
    const SimdLevel small = small_gemm_level();
    if (small == SimdLevel::none)
        std::printf("        products with a dimension <= %d: the BLAS (no AVX2, or BATCHPROP_SMALL_GEMM=off)\n",
                    kSmallGemmMaxDim);
    else
        std::printf("        products with a dimension <= %d: batchprop's %s kernel (BATCHPROP_SMALL_GEMM=off|avx2)\n",
                    kSmallGemmMaxDim, to_string(small));
    const GpuStatus& gpu = gpu_status();
    std::printf("CUDA:   %s\n", gpu.compiled ? "compiled in" : "not compiled in");
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
