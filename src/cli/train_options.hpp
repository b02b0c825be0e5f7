// The flags of `batchprop train` as parsed (register_train fills them): the run's TrainConfig
// and what surrounds it — the data, where it runs, what it reports and writes, early stopping,
// resuming.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "batchprop/settings.hpp"
#include "compute_options.hpp"
#include "data_options.hpp"
#include "distributed_cli.hpp"

namespace batchprop::cli {

struct TrainOptions {
    DataOptions data;
    ComputeOptions compute;
    std::string sizes_text = "784,30,10";
    std::vector<int> sizes;   // parsed from sizes_text
    TrainConfig cfg;          // epochs, batch, eta, lambda, cost, mode, seed, shuffle, launch
    Init init = Init::gaussian;
    int train_limit = 50000;  // the book's split: the first 50,000 training images
    int validation = 0;       // > 0: the last N training images are the evaluation set
    std::string monitor = "eval-acc,eval-cost";
    int early_stop = 0;
    bool early_stop_on_test = false;
    std::string save, init_model, metrics;
    std::string checkpoint, resume;  // --checkpoint, --resume (checkpoint.hpp)
    bool quiet = false;
    DistributedOptions dist;  // --distributed (distributed_cli.hpp)
    // The flags given on the command line: they override what --init-model and --resume
    // bring (and must agree with a resumed run's).
    std::set<std::string> given;
    bool was_given(const std::string& flag) const { return given.count(flag) > 0; }
};

}  // namespace batchprop::cli
