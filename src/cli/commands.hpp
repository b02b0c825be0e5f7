// The subcommands of the batchprop executable. Each register_* adds one CLI11 subcommand
// whose callback does the work; errors are thrown as batchprop::Error and reported by main.
#pragma once

#include <CLI/CLI.hpp>

#include "batchprop/check.hpp"
#include "batchprop/settings.hpp"

namespace batchprop::cli {

void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_predict(CLI::App& app);
void register_gradcheck(CLI::App& app);
void register_info(CLI::App& app);
void register_sweep(CLI::App& app);

// Thrown by a command that Ctrl-C or SIGTERM stopped after it finished cleanly (e.g. train
// saved the model): not an error, but the run did not complete, so main exits with
// 128 + the signal (130 for SIGINT, 143 for SIGTERM).
struct Interrupted {
    int signal = 2;  // SIGINT
};
constexpr int kInterruptedExitCode = 130;

// A mistake in the command line found after parsing (flags that contradict each other, a value
// out of range, a bad BATCHPROP_DEVICE): exits with kUsageExitCode like CLI11's parse errors.
struct UsageError : Error {
    using Error::Error;
};
// Runs `check` (the flags on their own, or the outputs against the inputs): an Error it throws
// is a mistake in the command line, so a UsageError; a SettingError passes as it is (main
// names its setting by the flag).
template <class Check>
decltype(auto) as_usage_errors(Check&& check) {
    try {
        return check();
    } catch (const SettingError&) {
        throw;
    } catch (const UsageError&) {
        throw;
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
}
// Exit statuses (README, "Exit status"): 0 success, 1 failure, 2 usage, 130 Ctrl-C, 143 SIGTERM.
constexpr int kFailureExitCode = 1;
constexpr int kUsageExitCode = 2;

}  // namespace batchprop::cli
