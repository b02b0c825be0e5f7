// batchprop: the command-line entry point. Registers the subcommands, parses, and turns every
// error into one line on stderr and an exit status: 0 success, 1 failure, 2 a usage error
// (with the nearest flag or command when a name was mistyped), 130 Ctrl-C, 143 SIGTERM. The commands live
// in src/cli/.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <sstream>
#include <regex>
#include <string>
#include <vector>

#include "batchprop/build_info.hpp"
#include "batchprop/check.hpp"
#include "batchprop/version.hpp"
#include "commands.hpp"
#include "distributed_cli.hpp"
#include "failure.hpp"

namespace {

std::vector<std::string> g_args;  // argv[1..], to say where an unexpected word came from

std::vector<std::string> option_names(const CLI::App* app) {
    std::vector<std::string> names{"--help"};
    for (const CLI::Option* opt : app->get_options()) {
        for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
        for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
    }
    return names;
}

const CLI::Option* find_option(const CLI::App* app, const std::string& flag) {
    for (const CLI::Option* opt : app->get_options())
        if (opt->check_name(flag)) return opt;
    return nullptr;
}

// One unexpected word explained: a mistyped flag (with the nearest one), or a value that
// followed a list flag as separate words ("--sizes 784 30 10").
std::string explain_extra(const CLI::App* app, const std::string& word) {
    if (word.size() > 1 && word[0] == '-') {
        const std::string name = word.substr(0, word.find('='));
        std::string what = "unknown option '" + name + "'";
        const std::string near = batchprop::nearest_word(name, option_names(app));
        if (!near.empty()) what += " (did you mean '" + near + "'?)";
        return what;
    }
    // Where did it come from? The flag before it on the command line, if any.
    const auto at = std::find(g_args.begin(), g_args.end(), word);
    for (auto it = at; it != g_args.begin();) {
        --it;
        if (it->rfind("--", 0) != 0) continue;
        const CLI::Option* opt = find_option(app, *it);
        if (opt && (opt->get_type_name() == "N,N,..." || opt->get_type_name() == "LIST") && std::next(it) != at) {
            std::string joined;
            for (auto v = std::next(it); v != g_args.end() && (*v)[0] != '-'; ++v) joined += (joined.empty() ? "" : ",") + *v;
            return "unexpected argument '" + word + "' after " + *it + ": its values are comma-separated, without "
                   "spaces (" + *it + " " + joined + ")";
        }
        break;
    }
    return "unexpected argument '" + word + "' (every value belongs to a flag; see --help)";
}

std::string conversion_error(const CLI::App* app, const std::string& what) {
    static const std::regex re("Could not convert: (\\S+) = (.*)");
    std::smatch m;
    if (!std::regex_match(what, m, re)) return what;
    const CLI::Option* opt = find_option(app, m[1].str());
    const std::string type = opt ? opt->get_type_name() : "";
    const std::string expected = type == "FLOAT" ? "a number" : "a whole number";
    // CLI11 lists every value the flag got, comma-joined; the last one is the one in force.
    std::string value = m[2].str();
    if (value.find(',') != std::string::npos) value = value.substr(value.rfind(',') + 1);
    return m[1].str() + ": '" + value + "' is not " + expected;
}

// CLI11's usage errors in the same one-line form as ours, plus where to find help.
std::string usage_error(const CLI::App* app, const CLI::Error& e) {
    std::string cmd = "batchprop";
    const CLI::App* sub = app;
    for (const CLI::App* s : app->get_subcommands()) {
        cmd += " " + s->get_name();
        sub = s;
    }
    std::string what = e.what();
    const std::vector<std::string> extras = sub->remaining();
    if (app->get_subcommands().empty() && !app->remaining().empty()) {
        // CLI11 reports a misspelt command as a missing one; say what was typed instead.
        const std::string word = app->remaining().front();  // remaining() returns a copy
        if (word.rfind('-', 0) == 0) {
            what = "unknown option '" + word + "' (options come after the command: batchprop train " + word + " ...)";
        } else {
            const std::string near = batchprop::nearest_word(word, {"train", "sweep", "eval", "predict", "gradcheck", "info"});
            what = "unknown command '" + word + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                   "; the commands are train, sweep, eval, predict, gradcheck, info";
        }
    } else if (!extras.empty() && sub != app) {
        // Whatever CLI11 stopped at (a missing --model, ...), a word it could not place explains
        // more: "--modle" is why --model is missing.
        // A mistyped flag leaves its value behind as an extra too: explain the flag first.
        auto flag = std::find_if(extras.begin(), extras.end(), [](const std::string& w) { return w.size() > 1 && w[0] == '-'; });
        what = explain_extra(sub, flag != extras.end() ? *flag : extras.front());
    } else if (dynamic_cast<const CLI::ConversionError*>(&e)) {
        what = conversion_error(sub, what);
    }
    return "batchprop: error: " + what + "\nRun '" + cmd + " --help' for the options.\n";
}

}  // namespace

int main(int argc, char** argv) {
    batchprop::prefer_fast_blas_kernels(argv);
    g_args.assign(argv + 1, argv + argc);
    CLI::App app{"batchprop: fully matrix-based backpropagation for sigmoid networks (CPU and CUDA)",
                 "batchprop"};
    const std::string version = std::string("batchprop ") + BATCHPROP_VERSION_STRING;
    app.set_version_flag("--version", version);
    app.require_subcommand(1);
    app.failure_message(usage_error);
    app.footer("Exit status: 0 success, 1 failure, 2 usage error, 130 interrupted (Ctrl-C), 143 stopped (SIGTERM).\n"
               "Environment: BATCHPROP_DEVICE (the default --device), BATCHPROP_FUSED_CLUSTER (auto or 1..8: the fused\n"
               "step on a cluster of SMs, opt-in until checked on a GPU), OPENBLAS_NUM_THREADS, OPENBLAS_CORETYPE.");
    // A repeated option takes its last value, so a script can append overrides to a command
    // line. (List options such as --sizes set their own policy.)
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    batchprop::cli::register_train(app);
    batchprop::cli::register_sweep(app);
    batchprop::cli::register_eval(app);
    batchprop::cli::register_predict(app);
    batchprop::cli::register_gradcheck(app);
    batchprop::cli::register_info(app);
    for (CLI::App* sub : app.get_subcommands({})) sub->set_version_flag("--version", version);
    if (argc == 1) {  // plain `batchprop`: what it can do, not an error
        std::fputs(app.help().c_str(), stdout);
        return 0;
    }
    try {
        app.parse(argc, argv);  // runs the chosen command's callback
    } catch (const CLI::ParseError& e) {
        // Under mpirun every rank finds the same usage error (before MPI starts): rank 0 says it.
        std::ostringstream elsewhere;
        const bool silent = e.get_exit_code() != 0 && batchprop::cli::launcher_rank() > 0;
        // Prints help, the version, or our one-line usage error.
        const int code = silent ? app.exit(e, elsewhere, elsewhere) : app.exit(e);
        return code == 0 ? 0 : batchprop::cli::kUsageExitCode;
    } catch (const batchprop::cli::Interrupted& e) {
        return 128 + e.signal;  // 130 for Ctrl-C, 143 for SIGTERM
    } catch (...) {
        const batchprop::cli::Failure f = batchprop::cli::failure_of(std::current_exception());
        // A usage error (found before MPI starts) is every rank's under mpirun: rank 0 says it.
        if (f.code != batchprop::cli::kUsageExitCode || batchprop::cli::launcher_rank() == 0)
            std::fprintf(stderr, "batchprop: error: %s\n", f.message.c_str());
        return f.code;
    }
    return 0;
}
