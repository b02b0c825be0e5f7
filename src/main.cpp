// batchprop: the command-line entry point. Registers the subcommands, parses, and turns every
// error into one line on stderr and a non-zero exit. The commands live in src/cli/.
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "blas_core.hpp"
#include "batchprop/check.hpp"
#include "cli/commands.hpp"

namespace {

// CLI11's usage errors in the same one-line form as ours, plus where to find help.
std::string usage_error(const CLI::App* app, const CLI::Error& e) {
    std::string cmd = "batchprop";
    for (const CLI::App* sub : app->get_subcommands()) cmd += " " + sub->get_name();
    std::string what = e.what();
    // CLI11 reports a misspelt command as a missing one; say what was typed instead.
    if (app->get_subcommands().empty() && !app->remaining().empty()) {
        const std::string word = app->remaining().front();  // remaining() returns a copy
        what = (word.rfind('-', 0) == 0 ? "unknown option '" : "unknown command '") + word +
               "' (commands: train, eval, predict, gradcheck, info)";
    }
    return "batchprop: error: " + what + "\nRun '" + cmd + " --help' for the options.\n";
}

}  // namespace

int main(int argc, char** argv) {
    batchprop::prefer_fast_blas_core(argv);
    CLI::App app{"batchprop: fully matrix-based backpropagation for sigmoid networks (CPU and CUDA)",
                 "batchprop"};
    app.set_version_flag("--version", std::string("batchprop ") + BATCHPROP_VERSION);
    app.require_subcommand(1);
    app.failure_message(usage_error);
    // A repeated option takes its last value, so a script can append overrides to a command
    // line. (List options such as --sizes set their own policy.)
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    batchprop::cli::register_train(app);
    batchprop::cli::register_eval(app);
    batchprop::cli::register_predict(app);
    batchprop::cli::register_gradcheck(app);
    batchprop::cli::register_info(app);
    try {
        app.parse(argc, argv);  // runs the chosen command's callback
    } catch (const CLI::ParseError& e) {
        return app.exit(e);  // help, version, or a usage error
    } catch (const batchprop::cli::Interrupted& e) {
        return 128 + e.signal;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "batchprop: error: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "batchprop: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
