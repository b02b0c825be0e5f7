// What `batchprop sweep` says about its models, as text: the grid line, a line per finished
// model, the live line, the table sorted by best validation accuracy, and the spread over seeds
// of each setting. Pure functions of the rows (the printing is Progress's), so tests pin the
// ranking and the figures without training anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "batchprop/sweep.hpp"

namespace batchprop::cli {

// One model's line of the table, kept up to date as its epochs come in.
struct SweepRow {
    int id = 0, setting = 0;
    std::vector<int> sizes;
    double eta = 0.0, lambda = 0.0;
    int batch = 0;
    std::uint64_t seed = 0;
    int epochs = 0;       // planned
    int epochs_done = 0;  // whole epochs
    int best_epoch = 0;   // the epoch of the best validation accuracy; 0: none evaluated yet
    long long best_correct = -1, eval_total = 0;
    double best_cost = 0.0;  // the validation cost at best_epoch
    double seconds = 0.0;    // training time, this run and the resumed ones before it
    SweepStatus status = SweepStatus::pending;
    int failed_epoch = 0;       // diverged or failed: the epoch
    bool early_stopped = false;  // --early-stop ended it
    int saved_epoch = 0;         // the epoch of the network a save writes (early stopping: the best)
    std::optional<double> test_accuracy;

    static SweepRow of(const SweepModel& m);
    double best_accuracy() const { return eval_total > 0 ? double(best_correct) / double(eval_total) : 0.0; }
    // Trained and healthy: it has a network worth choosing.
    bool usable() const {
        return (status == SweepStatus::done || status == SweepStatus::stopped) && epochs_done > 0;
    }
    // After an epoch (a partial one too: the trainer evaluates it): the best so far, first wins ties.
    void note_epoch(const EpochResult& r, long long n_train);
};

// The rows in the table's order: usable rows by best validation accuracy (higher first), then
// lower validation cost at that epoch, then run id; the rest (diverged, failed, not trained)
// after them by run id.
std::vector<int> ranking(const std::vector<SweepRow>& rows);

// "done", "early stop (best 12)", "diverged in epoch 3", "stopped in epoch 5", "not trained".
std::string status_text(const SweepRow& row);

// The table, one header line and one line per row in `order`; show_test: the test accuracy
// column (empty where not measured).
std::string table_text(const std::vector<SweepRow>& rows, const std::vector<int>& order, bool show_test);

// The spread over seeds of one setting (its models' best validation accuracies).
struct SettingSpread {
    int setting = 0;
    std::vector<int> sizes;
    double eta = 0.0, lambda = 0.0;
    int batch = 0;
    int seeds = 0;    // models of the setting
    int counted = 0;  // usable ones, which the figures are of
    double mean = 0.0, sd = 0.0, min = 0.0, max = 0.0;  // fractions; sd: sample (n - 1), 0 for one
};
std::vector<SettingSpread> spreads(const std::vector<SweepRow>& rows);
std::string spread_text(const std::vector<SettingSpread>& s);

// "36 models: sizes 784,30,10 x eta 0.025,0.25,2.5 (3) x lambda 0,1,5 (3) x m 10 x seeds 1-4 (4)".
std::string grid_line(const SweepGrid& grid, long long n_models);

// The sweep's progress, for a line per finished model and the live line: models finished,
// whole epochs done of all planned, and the time left from the rate so far.
struct SweepTally {
    int models = 0, finished = 0, running = 0;
    long long epochs_total = 0, epochs_done = 0;
    double work_total = 0.0, work_done = 0.0;  // examples to train and trained (ETA)
    double seconds = 0.0;                      // since training started
    double eta_seconds() const;
};
std::string progress_text(const SweepTally& t);
// "run 7 (784,30,10 eta 0.25 lambda 1 m 10 seed 2): best validation 85.21% at epoch 28, 30 epochs in 12.3 s"
std::string model_line(const SweepRow& row);

}  // namespace batchprop::cli
