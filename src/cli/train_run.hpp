// One `batchprop train` run, from its checked options to the saved model: the network on its
// device (checked before the slow data), the data, the callbacks that report each epoch, write
// metrics and checkpoints and stop early, and the end of the run (summary, --save, what a
// signal cut short). Distributed, every rank runs it; rank 0 alone prints and writes files.
#pragma once

#include <optional>
#include <string>

#include "batchprop/model_io.hpp"
#include "checkpoint.hpp"
#include "distributed_cli.hpp"
#include "metrics.hpp"
#include "train_options.hpp"

namespace batchprop::cli {

// What run_train settled before the run: what is shown each epoch; the model to start from
// (the --init-model, its settings already applied and `from_model` saying which, or the
// checkpoint's model when resuming); the checkpoint resumed. dist: null for a plain run.
struct TrainStartingPoint {
    Monitor monitor;
    std::optional<Model> start;
    std::string from_model;
    std::optional<Checkpoint> resume;
};

// Throws Interrupted (after saving what was asked) when Ctrl-C or SIGTERM stopped the run.
void run_training(TrainOptions& o, const TrainStartingPoint& from, DistributedSession* dist);

}  // namespace batchprop::cli
