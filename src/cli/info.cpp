// `batchprop info`: version, build options, BLAS, and the GPUs seen (or why none).
#include <cblas.h>

#include <cstdio>
#include <cstdlib>

#include "batchprop/backend.hpp"
#include "batchprop/blas_core.hpp"
#include "cli/commands.hpp"

namespace batchprop::cli {

void register_info(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("info", "Show version, build options, BLAS and GPUs");
    cmd->callback([] {
        std::printf("batchprop %s\n", BATCHPROP_VERSION);
#ifdef NDEBUG
        std::printf("build:  release\n");
#else
        std::printf("build:  debug\n");
#endif
        std::printf("BLAS:   %s; kernels %s%s\n", openblas_get_config(), blas_core_name(),
                    std::getenv("OPENBLAS_CORETYPE") ? " (OPENBLAS_CORETYPE)" : "");
        const GpuStatus& gpu = gpu_status();
        std::printf("CUDA:   %s\n", gpu.compiled ? "on" : "off");
        if (gpu.usable) {
            for (int i = 0; i < gpu.count; ++i) std::printf("GPU %d:  %s\n", i, gpu.names[std::size_t(i)].c_str());
        } else {
            std::printf("GPUs:   none usable (%s)\n", gpu.reason.c_str());
        }
    });
}

}  // namespace batchprop::cli
