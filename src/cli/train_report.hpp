// The lines `batchprop train` prints about a run: the header, one per epoch, and the summary at
// the end; and the tally of the epochs behind the summary. Text only (Progress prints it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "batchprop/trainer.hpp"
#include "metrics.hpp"

namespace batchprop::cli {

// "5865 / 10000 (58.65%)"
std::string accuracy_text(const Evaluation& e);

// "Epoch 3/30: eval accuracy ..., SGD 0.061 s, 819672 examples/s" (what `monitor` shows); an
// epoch a signal cut short says which ("Ctrl-C", "SIGTERM", or "" for a stop another rank saw).
std::string epoch_line(const EpochResult& r, const Monitor& monitor, int epochs, long long n_train,
                       const std::string& stopped_by = "");

// What the header says about the run beyond its settings.
struct RunFacts {
    std::vector<int> sizes;
    int n_train = 0, n_eval = 0;
    std::string eval_name;     // where the evaluation set comes from
    std::string device;        // the backend's name
    std::string distributed;   // "2 processes (MPI)" when data-parallel, else empty
    std::string resumed_from;  // the checkpoint when resuming, else empty
    int resumed_after = 0;     // its epochs done
    std::string started_from;  // the --init-model, else empty
};

// "batchprop: sizes 784,30,10, 50000 training examples, ..., cpu (OpenBLAS)".
std::string header_line(const RunFacts& f, const TrainConfig& cfg, DType dtype, const TrainStart& s,
                        const Monitor& monitor);

// The epochs a run trained, for its summary.
struct RunTally {
    int epochs_done = 0;           // the run's, 1-based (a resumed run counts its checkpoint's)
    double sgd_seconds = 0.0;
    long long examples_trained = 0;
    long long last_examples = 0;   // of the last epoch: fewer than the training set when cut short
    std::optional<Evaluation> top;  // the best shown evaluation accuracy, and its epoch
    int top_epoch = 0;
    void add(const EpochResult& r, bool eval_acc_shown);
};

// "Done: 5 epochs in 1.2 s (SGD 0.9 s, 270000 examples/s); best eval accuracy ... at epoch 4".
// first_epoch: the epochs the run had done before (a resumed run); best_epoch: early stopping's
// (0: no epoch beat the starting model).
std::string summary_line(const RunTally& t, int first_epoch, bool resumed, bool cut_short, int n_train,
                         double run_seconds, int best_epoch);

}  // namespace batchprop::cli
