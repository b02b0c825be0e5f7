// --early-stop N: stop when the evaluation accuracy has not improved for N epochs, and keep the
// best epoch's parameters (for --save, and in the checkpoint for a resumed run's --save). A
// model training continues from is the baseline, epoch 0: a run that never beats it keeps it.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "batchprop/network.hpp"
#include "batchprop/trainer.hpp"

namespace batchprop::cli {

// Early stopping's state after an epoch, as a checkpoint records it.
struct EarlyStopState {
    long long best_correct = -1;
    int best_epoch = -1;  // -1: none yet; 0: the --init-model the run started from
    int since_best = 0;
    std::optional<Network<double>> best;  // the best epoch's parameters, when kept
};

// The epoch of the network a save writes: the best one, when its parameters were kept, else
// the last trained.
inline int saved_epoch(const EarlyStopState& s, int epochs_done) { return s.best ? s.best_epoch : epochs_done; }

class EarlyStopper {
public:
    // patience 0: no early stopping. keep_best: keep the best epoch's parameters.
    EarlyStopper(int patience, bool keep_best) : patience_(patience), keep_best_(keep_best) {}

    bool on() const { return patience_ > 0; }
    const EarlyStopState& state() const { return s_; }
    void restore(EarlyStopState s) { s_ = std::move(s); }  // a resumed run goes on from its checkpoint's
    // The epoch kept, as a saved model records it: -1 when not early stopping.
    int recorded_best_epoch() const { return on() ? s_.best_epoch : -1; }
    // A resumed run whose checkpoint had already stopped early.
    bool exhausted() const { return on() && s_.since_best >= patience_; }

    // The starting model (correct examples of the evaluation set) as epoch 0.
    void baseline(long long correct, const std::function<Network<double>()>& net);
    // After an epoch: whether training goes on.
    bool after_epoch(const EpochResult& r, const std::function<Network<double>()>& net);
    // Why after_epoch said stop.
    std::string stop_line() const;

private:
    void keep(long long correct, int epoch, const std::function<Network<double>()>& net);
    int patience_;
    bool keep_best_;
    EarlyStopState s_;
};

}  // namespace batchprop::cli
