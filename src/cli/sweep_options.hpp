// The flags of `batchprop sweep` as parsed (register_sweep fills them): train's options for
// everything a sweep shares with one run (the data, the device, the settings every model has),
// the lists that make the grid, and what the sweep writes.
#pragma once

#include <set>
#include <string>

#include "train_options.hpp"

namespace batchprop::cli {

struct SweepFlags {
    // The data, --train-limit, --validation, the device and dtype, --epochs, --cost, --init,
    // --mode, --launch, --no-shuffle, --early-stop, --quiet: as train reads them. Its own
    // outputs (save, metrics, checkpoint, resume) stay empty: a sweep's are below.
    TrainOptions base;
    // The grid's axes as typed (sweep_lists.hpp reads them).
    std::string sizes = "784,30,10", eta = "3", lambda = "0", batch = "10", seeds = "1";
    int jobs = 0;           // models trained at once: 0 = one per core
    bool test_all = false;  // the test accuracy of every model, not the chosen one's alone
    std::string save_best, save_dir, metrics, plot, checkpoint, resume;
    std::set<std::string> given;  // flags given on the command line (a resumed sweep's must agree)
    bool was_given(const std::string& flag) const { return given.count(flag) > 0; }
};

}  // namespace batchprop::cli
