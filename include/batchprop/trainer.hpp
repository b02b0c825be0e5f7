// Mini-batch SGD over a data set that lives on the backend's device: shuffles each epoch,
// walks the mini-batches (the last, partial one included), evaluates after each epoch, and
// reports through callbacks. The numerical work is Backprop's; this is the loop around it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include "batchprop/backprop.hpp"
#include "batchprop/dataset.hpp"

namespace batchprop {

// A data set uploaded to a backend once: X (n_inputs x n) in T, labels as int.
template <class T>
struct DeviceData {
    DeviceData(Backend<T>& be, const Dataset& host);
    ConstView<T> x() const { return ConstView<T>(x_.data(), n_inputs, n); }
    const int* labels() const { return labels_.data(); }
    int n_inputs = 0;
    int n = 0;
    Buffer<T> x_;
    Buffer<int> labels_;
};

struct TrainConfig {
    int epochs = 5;
    int batch = 10;  // m
    double eta = 3.0;
    double lambda = 0.0;
    Cost cost = Cost::quadratic;
    Mode mode = Mode::matrix;
    bool shuffle = true;
    std::uint64_t seed = 1;
    bool monitor_training = false;    // also evaluate on the training set after each epoch
    bool monitor_evaluation = true;   // evaluate on the evaluation set after each epoch
};

struct Evaluation {
    long long correct = 0;
    long long total = 0;
    double cost = 0.0;  // mean cost per example, plus the L2 term when lambda > 0
    double accuracy() const { return total ? double(correct) / double(total) : 0.0; }
};

struct EpochResult {
    int epoch = 0;                    // 1-based
    double train_seconds = 0.0;       // the SGD part alone (no evaluation)
    double examples_per_second = 0.0;  // of the examples actually trained on
    long long examples = 0;            // n, or fewer when the epoch was stopped part-way
    std::optional<Evaluation> evaluation;
    std::optional<Evaluation> training;
};

struct BatchProgress {
    int epoch = 0;
    long long examples_done = 0;
    long long examples_total = 0;
    double seconds = 0.0;  // since the epoch started
};

struct TrainCallbacks {
    std::function<void(const BatchProgress&)> on_batch;   // after each mini-batch (may be empty)
    std::function<bool(const EpochResult&)> on_epoch;     // return false to stop training
    const std::atomic<bool>* stop = nullptr;              // set (e.g. by SIGINT): stop after the current batch
};

template <class T>
class Trainer {
public:
    // Validates the configuration against the data (batch <= n_train, eta > 0, ...).
    Trainer(Backend<T>& backend, const ParamLayout& layout, const DeviceData<T>& train,
            const DeviceData<T>* eval, const TrainConfig& config);

    Backprop<T>& backprop() { return bp_; }

    // Trains config.epochs epochs (fewer if a callback or the stop flag says so). Returns
    // the number of epochs completed.
    int run(const TrainCallbacks& callbacks = {});

    // One epoch of SGD; returns seconds spent. epoch is 0-based (it seeds the shuffle).
    // examples_done, when given, receives how many examples were trained on (fewer than n
    // when callbacks.stop ended the epoch early).
    double train_epoch(int epoch, const TrainCallbacks& callbacks = {}, long long* examples_done = nullptr);

    Evaluation evaluate(const DeviceData<T>& data);

private:
    Backend<T>& be_;
    const DeviceData<T>& train_;
    const DeviceData<T>* eval_;
    TrainConfig cfg_;
    Backprop<T> bp_;
    Buffer<int> order_;  // this epoch's permutation of 0..n-1
    Buffer<T> x_;        // gathered mini-batch X: (n_0 x m)
    Buffer<T> y_;        // one-hot targets Y: (n_L x m)
};

void validate(const TrainConfig& config, int n_train);

}  // namespace batchprop
