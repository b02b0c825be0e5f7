// batchprop: the command-line entry point. Parses, dispatches, and turns every error into
// one line on stderr and a non-zero exit.
#include <cstdio>
#include <exception>

#include "batchprop/blas_core.hpp"
#include "batchprop/check.hpp"
#include "cli/commands.hpp"

int main(int argc, char** argv) {
    batchprop::prefer_fast_blas_core(argv);
    CLI::App app{"batchprop: fully matrix-based backpropagation for sigmoid networks (CPU and CUDA)",
                 "batchprop"};
    app.set_version_flag("--version", std::string("batchprop ") + BATCHPROP_VERSION);
    app.require_subcommand(1);
    batchprop::cli::register_train(app);
    batchprop::cli::register_info(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);  // help, version, or a usage error with CLI11's message
    } catch (const batchprop::Error& e) {
        std::fprintf(stderr, "batchprop: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "batchprop: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
