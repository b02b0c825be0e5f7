// One `batchprop sweep` run, from its checked flags to the table: the data (as train reads it,
// plus the test set), the outputs checked against the inputs, the models resumed from a
// checkpoint, the library's run_sweep with callbacks that keep each model's row, write the
// metrics and checkpoints and stop early, and the end (the table, the spread over seeds, the
// chosen model's test accuracy, the saves and the plot), also when a signal cut it short.
#pragma once

#include <optional>
#include <vector>

#include "batchprop/sweep.hpp"
#include "checkpoint.hpp"
#include "sweep_options.hpp"

namespace batchprop::cli {

// What sweep.cpp settled before the data: the grid, its models, the resumed sweep's record.
struct SweepPlan {
    SweepGrid grid;
    std::vector<SweepModel> models;
    std::optional<Checkpoint> resume;  // DIR/sweep.json when resuming
};

// Throws Interrupted (after printing the table and saving what was asked) when Ctrl-C or
// SIGTERM stopped the sweep.
void run_sweep_command(SweepFlags& f, const SweepPlan& plan);

}  // namespace batchprop::cli
