// --metrics PATH: one JSON object per epoch (JSON Lines), for plotting and comparing runs:
//   {"epoch", "seconds" (SGD only), "examples", "examples_per_s", "eval_accuracy", "eval_cost",
//    "train_accuracy", "train_cost" (accuracies as fractions; null when not monitored),
//    "device", "mode", "dtype", "batch", "sizes", "eta", "lambda", "cost", "seed", "init",
//    "init_model" (null unless init is "model"), "time" (UTC, ISO 8601, when the line was written)}
// PATH "-" is stdout.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "batchprop/trainer.hpp"

namespace batchprop::cli {

// What is reported each epoch (network2.py's four monitor_* flags): --monitor.
struct Monitor {
    bool eval_acc = true, eval_cost = true, train_acc = false, train_cost = false;
    bool evaluation() const { return eval_acc || eval_cost; }
    bool training() const { return train_acc || train_cost; }
};

class MetricsLog {
public:
    // Creates (or truncates) the file, or uses stdout for "-"; call it only once the run is
    // known to start. append: add to an existing file (a resumed run) instead of starting it
    // afresh.
    // run: the run's settings every line repeats, so each line stands alone (run_record.hpp's
    // metrics_fields); monitor: which evaluations the line reports (null for the others).
    MetricsLog(const std::string& path, const Monitor& monitor, nlohmann::ordered_json run, bool append = false);
    ~MetricsLog();
    MetricsLog(const MetricsLog&) = delete;
    MetricsLog& operator=(const MetricsLog&) = delete;

    // Appends the epoch's line and flushes it, so the file is useful while training runs.
    void write(const EpochResult& r) { write(r, run_); }
    // The same with other settings after the epoch's figures (a sweep: each model's own).
    void write(const EpochResult& r, const nlohmann::ordered_json& run);

private:
    std::string path_;
    Monitor monitor_;
    nlohmann::ordered_json run_;
    std::FILE* file_ = nullptr;
};

}  // namespace batchprop::cli
