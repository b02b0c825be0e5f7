// See sweep_run.hpp: the sweep up to the end of its training (the end is sweep_finish.cpp).
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "commands.hpp"
#include "compute_options.hpp"
#include "data_options.hpp"
#include "output_paths.hpp"
#include "run_record.hpp"
#include "sweep_checkpoint.hpp"
#include "sweep_command.hpp"

namespace batchprop::cli {

SweepCommand::SweepCommand(SweepFlags& f, const SweepPlan& plan)
    : f_(f),
      plan_(plan),
      models_(plan.models),
      // Summary lines go to stderr when stdout carries the metrics (--metrics -).
      progress_(f.base.quiet, f.metrics == "-", f.base.cfg.epochs) {}

TrainOptions SweepCommand::model_options(const SweepModel& m) const {
    TrainOptions o = f_.base;
    o.sizes = m.sizes;
    o.sizes_text = sizes_to_string(m.sizes);
    o.cfg = m.config;
    o.init = m.init;
    return o;
}

nlohmann::json SweepCommand::model_record(const SweepModel& m, int epochs_done, bool interrupted) const {
    nlohmann::json rec = run_record(model_options(m), data_.train.source, data_.train.n, epochs_done, interrupted,
                                    stoppers_[std::size_t(m.id)].recorded_best_epoch());
    rec["sweep_run"] = m.id;  // which model of the sweep this is
    return rec;
}

void SweepCommand::check_outputs_apart() const {
    std::vector<NamedFile> inputs = named_inputs(f_.base, files_);
    // A resumed sweep reads its checkpoint directory: only the --checkpoint files that are those
    // very files (the default, --checkpoint = --resume) may replace them.
    if (!f_.resume.empty()) inputs.push_back({sweep_file(f_.resume), "--resume's sweep.json"});
    std::vector<NamedFile> singles;
    if (!f_.save_best.empty()) singles.push_back({f_.save_best, "--save-best"});
    if (!f_.metrics.empty() && f_.metrics != "-") singles.push_back({f_.metrics, "--metrics"});
    if (!f_.plot.empty()) singles.push_back({f_.plot, "--plot"});
    if (!f_.checkpoint.empty()) singles.push_back({sweep_file(f_.checkpoint), "--checkpoint's sweep.json"});
    cli::check_outputs_apart(singles, inputs, {{"--checkpoint's sweep.json", "--resume's sweep.json"}});
    const int n = int(models_.size());
    for (const SweepModel& m : models_) {
        const std::string run = "run " + std::to_string(m.id);
        std::vector<NamedFile> each;
        if (!f_.save_dir.empty()) each.push_back({model_save_file(f_.save_dir, m.id, n), "--save-dir's " + run});
        if (!f_.checkpoint.empty()) each.push_back({model_checkpoint_file(f_.checkpoint, m.id, n), "--checkpoint's " + run});
        for (const NamedFile& e : each)
            for (const NamedFile& s : singles)
                if (same_file(e.path, s.path)) BP_THROW(s.name << " and " << e.name << " name the same file " << e.path);
        std::vector<NamedFile> model_inputs = inputs;
        if (!f_.resume.empty()) {
            const NamedFile resumed{model_checkpoint_file(f_.resume, m.id, n), "--resume's " + run};
            cli::check_outputs_apart(singles, {resumed});
            model_inputs.push_back(resumed);
        }
        cli::check_outputs_apart(each, model_inputs, {{"--checkpoint's " + run, "--resume's " + run}});
    }
}

void SweepCommand::prepare() {
    files_ = locate_train_files(f_.base);
    files_.test = locate(f_.base.data, Split::test);  // the chosen model's test accuracy
    as_usage_errors([&] { check_outputs_apart(); });
    // The device, before the slow data: a missing GPU is said at once (and the notice kept).
    Session probe = make_session_for(f_.base.compute, /*quiet=*/true, [&](const SessionOptions& where) {
        where_ = where;
        return Session::create({1, 1}, Cost::quadratic, Init::gaussian, 1, where);
    });
    device_name_ = probe.device();
    notice_ = probe.device_notice();
    progress_.status("batchprop: loading the data ...");
    data_ = load_train_data(f_.base, files_);
    progress_.clear();
    if (!data_.note.empty()) progress_.note(data_.note);
    for (const std::vector<int>& sizes : plan_.grid.sizes) {
        check_fits(data_.train, sizes, "--sizes");
        check_fits(data_.eval, sizes, "--sizes");
        check_fits(data_.test, sizes, "--sizes");
    }
    validate_sweep(models_, data_.train.n);  // a bad combination, named, before anything trains
    if (!f_.checkpoint.empty()) data_id_ = data_identity(paths_of(files_), data_.train.n, data_.eval.n);
    if (plan_.resume) check_same_data(*plan_.resume, data_id_);
    gpu_ = !probe.memory().is_host_memory();
    jobs_ = sweep_jobs(f_.jobs, int(models_.size()), gpu_);
}

void SweepCommand::resume_models() {
    // Early stopping's best network is what a model's test accuracy is measured on (and what is
    // saved), as train --early-stop keeps it: kept whenever it may be asked for.
    const bool keep_best =
        f_.base.early_stop > 0 || !f_.save_best.empty() || !f_.save_dir.empty() || !f_.checkpoint.empty();
    const int n = int(models_.size());
    for (const SweepModel& m : models_) {
        rows_.push_back(SweepRow::of(m));
        stoppers_.emplace_back(f_.base.early_stop, keep_best);
        starts_.emplace_back();
        seconds_before_.push_back(0.0);
    }
    if (!plan_.resume) return;
    for (const SweepModel& m : models_) {
        const std::string path = model_checkpoint_file(f_.resume, m.id, n);
        if (::access(path.c_str(), F_OK) != 0) continue;  // not started before: starts afresh
        const Checkpoint c = read_checkpoint(path);
        TrainOptions o = model_options(m);
        std::vector<RunSetting> settings = run_settings(o);
        std::set<std::string> all;
        for (const RunSetting& s : settings) all.insert(s.flag);
        adopt_settings(c, settings, all);  // compares every setting: the file must be this model's
        SweepRow& row = rows_[std::size_t(m.id)];
        restore_row(row, c.model.batchprop, path);
        EarlyStopper& es = stoppers_[std::size_t(m.id)];
        es.restore(c.early_stop);
        // As on_model_end sets it: a finished model is not trained again, so never gets there.
        row.saved_epoch = saved_epoch(es.state(), row.epochs_done);
        SweepStart& s = starts_[std::size_t(m.id)];
        s.net = c.model.net;
        s.first_epoch = c.epochs_done;
        const bool faulted = row.status == SweepStatus::diverged || row.status == SweepStatus::failed;
        // Nothing left to train: a fault (trained again, it would fail again), early stopping's
        // end, or every epoch done (unless --epochs was raised).
        s.finished = faulted || (c.finished && es.exhausted()) || c.epochs_done >= m.config.epochs;
        if (!s.finished) row.status = SweepStatus::pending;
        seconds_before_[std::size_t(m.id)] = row.seconds;
    }
}

void SweepCommand::start() {
    const int n = int(models_.size());
    if (!progress_.quiet()) print_device_notice(notice_);
    progress_.line("batchprop sweep: " + grid_line(plan_.grid, n));
    const TrainConfig& c = f_.base.cfg;
    progress_.line(fmt::format("  {} epochs each, {} cost, {} init, {}, {} mode; {} training examples, choosing on {}; "
                               "{}",
                               c.epochs, to_string(c.cost), to_string(f_.base.init), to_string(f_.base.compute.dtype),
                               to_string(c.mode), data_.train.n, data_.eval_name, how_text()));
    tally_.models = n;
    for (const SweepModel& m : models_) {
        const SweepStart& s = starts_[std::size_t(m.id)];
        if (s.finished) {
            ++tally_.finished;
            continue;
        }
        tally_.epochs_total += m.config.epochs - std::min(s.first_epoch, m.config.epochs);
        tally_.work_total += double(m.config.epochs - std::min(s.first_epoch, m.config.epochs)) * data_.train.n;
    }
    if (plan_.resume)
        progress_.line(fmt::format("  resuming {}: {} of {} models finished, {} epochs left to train", f_.resume,
                                   tally_.finished, n, tally_.epochs_total));
    if (!f_.save_dir.empty()) make_output_dir(f_.save_dir, "--save-dir", true);
    if (!f_.checkpoint.empty()) {
        make_output_dir(f_.checkpoint, "--checkpoint", true);
        std::vector<RunSetting> settings = sweep_settings(f_);
        write_sweep_checkpoint(f_.checkpoint, settings, data_id_, n);
    }
    const Monitor monitor{true, true, false, false};  // the validation set's accuracy and cost
    for (const SweepModel& m : models_) {
        nlohmann::ordered_json fields{{"run", m.id}};
        const nlohmann::ordered_json settings = metrics_fields(model_record(m, 0, false), device_name_, m.sizes);
        for (const auto& [key, value] : settings.items()) fields[key] = value;
        metric_fields_.push_back(std::move(fields));
    }
    if (!f_.metrics.empty()) metrics_.emplace(f_.metrics, monitor, nlohmann::ordered_json::object(), plan_.resume.has_value());
    started_.assign(models_.size(), Clock::now());
    partial_.assign(models_.size(), 0);
    t0_ = Clock::now();
}

}  // namespace batchprop::cli
