// The subcommands of the batchprop executable. Each register_* adds one CLI11 subcommand
// whose callback does the work; errors are thrown as batchprop::Error and reported by main.
#pragma once

#include <CLI/CLI.hpp>

namespace batchprop::cli {

void register_train(CLI::App& app);
void register_info(CLI::App& app);

}  // namespace batchprop::cli
