// The state of one `batchprop sweep` run (sweep_run.hpp), shared by its two halves:
// sweep_run.cpp (before and during training) and sweep_finish.cpp (the end: table, saves, plot).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "batchprop/sweep.hpp"
#include "early_stop.hpp"
#include "interrupt.hpp"
#include "metrics.hpp"
#include "progress.hpp"
#include "sweep_report.hpp"
#include "sweep_run.hpp"
#include "train_data.hpp"

namespace batchprop::cli {

class SweepCommand {
public:
    SweepCommand(SweepFlags& f, const SweepPlan& plan);
    void run();

private:
    using Clock = std::chrono::steady_clock;

    // ---- before training (sweep_run.cpp)
    void prepare();                  // files, outputs apart from inputs, the device, the data, the combinations
    void check_outputs_apart() const;
    void resume_models();            // each model's checkpoint: where it starts, its row so far
    void start();                    // the header lines, the output directories, sweep.json, the metrics file
    TrainOptions model_options(const SweepModel& m) const;  // train's options for one model
    nlohmann::json model_record(const SweepModel& m, int epochs_done, bool interrupted) const;

    // ---- during training: the callbacks, called one at a time (run_sweep's lock)
    SweepCallbacks callbacks(const InterruptGuard& interrupt);
    void on_model_start(const SweepModel& m, const Session& s);
    bool on_epoch(const SweepModel& m, const EpochResult& r, const Session& s);
    void on_batch(const SweepModel& m, const BatchProgress& p);
    void on_model_end(const SweepModel& m, const SweepOutcome& o);
    void write_model_checkpoint(const SweepModel& m, const Network<double>& net, int epochs_done, bool finished,
                                const SweepRow& row);
    void draw(bool now);  // the live line, at most ten times a second unless now

    // ---- the end (sweep_finish.cpp)
    void finish(std::vector<SweepOutcome>& out, const InterruptGuard& interrupt, double seconds);
    std::optional<Network<double>> kept_network(int id, const std::vector<SweepOutcome>& out) const;
    void measure_tests(const std::vector<int>& order, const std::vector<SweepOutcome>& out);
    void save_models(int chosen, const std::vector<SweepOutcome>& out, bool interrupted);
    std::string summary_line(double seconds, int epochs_run, bool interrupted) const;
    // How the models run at once: "2 at a time on cpu (OpenBLAS)"; on a GPU the fused ones in
    // shared launches too.
    std::string how_text() const;

    SweepFlags& f_;
    const SweepPlan& plan_;
    const std::vector<SweepModel>& models_;
    Progress progress_;
    TrainFiles files_;
    TrainData data_;
    SessionOptions where_;
    std::string device_name_, notice_;
    int jobs_ = 1;
    bool gpu_ = false;
    nlohmann::json data_id_;
    std::vector<SweepRow> rows_;
    std::vector<SweepStart> starts_;
    std::vector<EarlyStopper> stoppers_;
    std::vector<nlohmann::ordered_json> metric_fields_;  // each model's settings, repeated on its metrics lines
    std::vector<double> seconds_before_;                 // training time of earlier (resumed) runs
    std::vector<Clock::time_point> started_;             // when each model started in this run
    std::vector<long long> partial_;                     // examples of each model's current epoch
    std::optional<MetricsLog> metrics_;
    SweepTally tally_;
    Clock::time_point t0_ = Clock::now();
    double next_draw_ = 0.0;
};

}  // namespace batchprop::cli
