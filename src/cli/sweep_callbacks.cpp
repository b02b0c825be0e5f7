// The sweep's callbacks (sweep_command.hpp): each model's row, its metrics lines, its early
// stopping and its checkpoint, and the sweep's progress. run_sweep calls them one at a time,
// from whichever worker trains the model, so they share this state without locks of their own.
#include "checkpoint.hpp"
#include "run_record.hpp"
#include "sweep_checkpoint.hpp"
#include "sweep_command.hpp"

namespace batchprop::cli {

SweepCallbacks SweepCommand::callbacks(const InterruptGuard& interrupt) {
    SweepCallbacks cb;
    cb.stop = interrupt.flag();
    cb.on_model_start = [this](const SweepModel& m, const Session& s) { on_model_start(m, s); };
    cb.on_epoch = [this](const SweepModel& m, const EpochResult& r, const Session& s) { return on_epoch(m, r, s); };
    cb.on_batch = [this](const SweepModel& m, const BatchProgress& p) { on_batch(m, p); };
    cb.on_model_end = [this](const SweepModel& m, const SweepOutcome& o) { on_model_end(m, o); };
    cb.on_notice = [this](const std::string& why) { progress_.note(why); };
    return cb;
}

void SweepCommand::write_model_checkpoint(const SweepModel& m, const Network<double>& net, int epochs_done,
                                          bool finished, const SweepRow& row) {
    TrainOptions o = model_options(m);
    const std::vector<RunSetting> settings = run_settings(o);
    nlohmann::json record = model_record(m, epochs_done, false);
    record["sweep"] = row_record(row);
    cli::write_checkpoint(model_checkpoint_file(f_.checkpoint, m.id, int(models_.size())), net, m.config.cost, record,
                          epochs_done, finished, settings, data_id_, stoppers_[std::size_t(m.id)].state());
}

void SweepCommand::on_model_start(const SweepModel& m, const Session& s) {
    ++tally_.running;
    started_[std::size_t(m.id)] = Clock::now();
    // As train writes its checkpoint before the first epoch: a model that fails in its first
    // epoch still leaves a file that says so (on_model_end rewrites it).
    if (!f_.checkpoint.empty())
        write_model_checkpoint(m, s.network(), rows_[std::size_t(m.id)].epochs_done, false, rows_[std::size_t(m.id)]);
    draw(true);
}

bool SweepCommand::on_epoch(const SweepModel& m, const EpochResult& r, const Session& s) {
    const std::size_t i = std::size_t(m.id);
    SweepRow& row = rows_[i];
    row.note_epoch(r, data_.train.n);
    const bool whole = r.examples == data_.train.n;
    if (whole) {
        ++tally_.epochs_done;
        partial_[i] = 0;  // the epoch's examples were counted by on_batch
    }
    if (metrics_) metrics_->write(r, metric_fields_[i]);
    EarlyStopper& es = stoppers_[i];
    const bool go_on = es.after_epoch(r, [&] { return s.network(); });
    if (!go_on) row.early_stopped = true;
    if (!f_.checkpoint.empty() && whole) {
        // An epoch cut short by a signal is not checkpointed: the file keeps the last whole one.
        const bool finished = !go_on || r.epoch == m.config.epochs;
        SweepRow now = row;
        now.seconds = seconds_before_[i] + std::chrono::duration<double>(Clock::now() - started_[i]).count();
        if (finished) now.status = SweepStatus::done;
        write_model_checkpoint(m, s.network(), r.epoch, finished, now);
    }
    draw(false);
    return go_on;
}

void SweepCommand::on_batch(const SweepModel& m, const BatchProgress& p) {
    long long& part = partial_[std::size_t(m.id)];
    tally_.work_done += double(p.examples_done - part);
    part = p.examples_done;
    draw(false);
}

void SweepCommand::on_model_end(const SweepModel& m, const SweepOutcome& o) {
    const std::size_t i = std::size_t(m.id);
    SweepRow& row = rows_[i];
    row.status = o.status;
    row.failed_epoch = o.failed_epoch;
    row.epochs_done = o.epochs_done;
    row.seconds = seconds_before_[i] + o.seconds;
    row.saved_epoch = saved_epoch(stoppers_[i].state(), row.epochs_done);
    --tally_.running;
    ++tally_.finished;
    // The epochs it will not train (early stopping, a fault) are no longer ahead; a model a
    // signal stopped keeps them (a resumed sweep trains them).
    const int left = m.config.epochs - row.epochs_done;
    if (o.status != SweepStatus::stopped) {
        tally_.epochs_total -= left;
        tally_.work_total -= double(left) * data_.train.n - double(partial_[i]);
    }
    if (!f_.checkpoint.empty() && (o.status == SweepStatus::diverged || o.status == SweepStatus::failed)) {
        // The checkpoint of its last whole epoch, marked finished: a resumed sweep reports the
        // fault rather than trains into it again.
        const Checkpoint c = read_checkpoint(model_checkpoint_file(f_.checkpoint, m.id, int(models_.size())));
        stoppers_[i].restore(c.early_stop);
        write_model_checkpoint(m, c.model.net, c.epochs_done, true, row);
    }
    progress_.line(model_line(row));
    draw(true);
}

void SweepCommand::draw(bool now) {
    if (!progress_.live()) return;
    const double t = std::chrono::duration<double>(Clock::now() - t0_).count();
    if (!now && t < next_draw_) return;
    next_draw_ = t + 0.1;  // at most ten times a second
    tally_.seconds = t;
    progress_.status("sweep: " + progress_text(tally_));
}

}  // namespace batchprop::cli
