// See train_run.hpp.
#include "train_run.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchprop/batchprop.hpp"
#include "commands.hpp"
#include "early_stop.hpp"
#include "failure.hpp"
#include "interrupt.hpp"
#include "progress.hpp"
#include "run_record.hpp"
#include "train_data.hpp"
#include "train_report.hpp"

namespace batchprop::cli {
namespace {

using Clock = std::chrono::steady_clock;

class TrainRun {
public:
    TrainRun(TrainOptions& o, const TrainStartingPoint& from, DistributedSession* dist);
    void run();

private:
    // What each rank does on its own (no collective): the data's files found and the outputs
    // checked against them, the network on its device, the data read and checked.
    void prepare();
    // Then, together: the ranks' communicator, the settings shown and early stopping's start.
    void join();
    Session open_session();  // the network on its device
    void load_data();        // the data, checked against the network
    Session& session() { return *session_; }
    TrainCallbacks callbacks(const InterruptGuard& interrupt);
    void on_start(const TrainStart& s);
    bool on_epoch(const EpochResult& r);
    void open_metrics();
    void write_checkpoint(int epochs_done, bool finished);
    double train(const InterruptGuard& interrupt);  // seconds, or 0 when nothing was left to train
    void finish(const InterruptGuard& interrupt, double run_seconds);
    nlohmann::json record(int epochs_done, bool interrupted) const;

    TrainOptions& o_;
    const TrainStartingPoint& from_;
    DistributedSession* dist_;
    const bool leader_;
    TrainConfig cfg_;
    std::vector<int> sizes_;
    Progress progress_;
    TrainFiles files_;
    std::optional<Session> session_;
    std::unique_ptr<Communicator> gpu_comm_;  // NCCL, when the ranks are on GPUs
    Communicator* comm_ = nullptr;
    TrainData data_;
    std::vector<RunSetting> settings_;
    nlohmann::json data_id_;
    Monitor shown_;  // what each epoch line shows (--monitor, and eval-acc for early stopping)
    EarlyStopper early_;
    std::optional<std::string> epoch0_line_;  // the early-stop baseline, reported after the header
    std::optional<MetricsLog> metrics_;
    RunTally tally_;
    int last_checkpointed_ = 0;
    double allreduce_before_ = 0.0, wait_before_ = 0.0;  // distributed: the all-reduce's seconds so far
    const InterruptGuard* interrupt_ = nullptr;  // while training: which signal stopped it
    Clock::time_point t0_ = Clock::now();  // reset when training starts, for the summary
};

TrainRun::TrainRun(TrainOptions& o, const TrainStartingPoint& from, DistributedSession* dist)
    : o_(o),
      from_(from),
      dist_(dist),
      leader_(!dist || dist->leader()),
      cfg_(o.cfg),
      sizes_(from.start ? from.start->net.sizes() : o.sizes),
      // Summary lines go to stderr when stdout carries the metrics (--metrics -).
      progress_(o.quiet || !leader_, o.metrics == "-", o.cfg.epochs, /*allow_live=*/!dist),
      early_(o.early_stop, !o.save.empty() || !o.checkpoint.empty()) {}

void TrainRun::prepare() {
    files_ = locate_train_files(o_);
    check_train_outputs(o_, files_);
    session_.emplace(open_session());
    load_data();
    // Distributed, the data-dependent checks of the settings (--batch larger than the training
    // set, ...) happen here, where every rank agrees on them, not inside the training.
    if (dist_) validate(cfg_, data_.train.n);
}

void TrainRun::join() {
    if (dist_) {
        comm_ = &dist_->connect(session().memory(), gpu_comm_);
        session().set_communicator(comm_, data_fingerprint(data_.train, data_fingerprint(data_.eval)));
    }
    cfg_.monitor_evaluation = from_.monitor.evaluation() || o_.early_stop > 0;
    cfg_.monitor_training = from_.monitor.training();
    shown_ = from_.monitor;
    if (early_.on()) shown_.eval_acc = true;
    if (from_.resume) early_.restore(from_.resume->early_stop);
    if (from_.start && !from_.resume && early_.on()) {
        // The model we continue from is the baseline: epoch 0.
        const Evaluation e0 = session().evaluate(data_.eval);
        early_.baseline(e0.correct, [&] { return session().network(); });
        tally_.top = e0;  // the summary's best: epoch 0 until an epoch beats it
        tally_.top_epoch = 0;
        epoch0_line_ = "Epoch 0 (the starting model): eval accuracy " + accuracy_text(e0);
    }
    tally_.epochs_done = last_checkpointed_ = cfg_.first_epoch;
    tally_.last_examples = data_.train.n;
}

Session TrainRun::open_session() {
    if (from_.resume) {
        if (from_.start->net.sizes() != sizes_)
            BP_THROW(o_.resume << ": a damaged checkpoint: the model's sizes "
                               << sizes_to_string(from_.start->net.sizes()) << " are not the run's " << o_.sizes_text);
        cfg_.first_epoch = std::min(from_.resume->epochs_done, cfg_.epochs);
    }
    // The sizes the run really uses (--init-model may bring them), as a checkpoint records them.
    o_.sizes_text = sizes_to_string(sizes_);
    DeviceSpec device = device_of(o_.compute);
    if (dist_) device.local_rank = dist_->local_rank();  // each rank its own GPU
    // Its "no usable GPU" notice waits for the start (on_start).
    Session s = make_session_for(
        o_.compute, /*quiet=*/true,
        [&](const SessionOptions& where) {
            return from_.start ? Session::from_model(*from_.start, where)
                               : Session::create(sizes_, cfg_.cost, o_.init, cfg_.seed, where);
        },
        &device);
    s.set_cost(cfg_.cost);
    return s;
}

void TrainRun::load_data() {
    progress_.status("batchprop: loading the data ...");
    data_ = load_train_data(o_, files_);
    progress_.clear();
    if (!data_.note.empty()) progress_.note(data_.note);
    const std::string sizes_from = from_.resume                          ? "the run in " + o_.resume
                                   : from_.start && !o_.was_given("--sizes") ? "the model " + o_.init_model
                                                                             : "--sizes";
    check_fits(data_.train, sizes_, sizes_from);
    check_fits(data_.eval, sizes_, sizes_from);
    // The flags were checked on their own before the data was read; the library checks them
    // against the data (--batch larger than the training set, ...) where training starts,
    // before on_start: a SettingError, reported as the usage error it is.
    settings_ = run_settings(o_);
    if (!o_.checkpoint.empty()) data_id_ = data_identity(paths_of(files_), data_.train.n, data_.eval.n);
    if (from_.resume) check_same_data(*from_.resume, data_id_);
}

nlohmann::json TrainRun::record(int epochs_done, bool interrupted) const {
    return run_record(o_, data_.train.source, data_.train.n, epochs_done, interrupted, early_.recorded_best_epoch());
}

// Created only once the run is known to start: bad input never leaves a file behind.
void TrainRun::open_metrics() {
    if (o_.metrics.empty() || !leader_) return;
    metrics_.emplace(o_.metrics, shown_, metrics_fields(record(cfg_.first_epoch, false), session().device(), sizes_),
                     from_.resume.has_value());  // a resumed run adds its epochs
}

void TrainRun::on_start(const TrainStart& s) {
    open_metrics();
    progress_.clear();
    // Only now that training starts: an error in the data or the settings comes alone.
    if (!progress_.quiet()) print_device_notice(session().device_notice());
    RunFacts f;
    f.sizes = sizes_;
    f.n_train = data_.train.n;
    f.n_eval = data_.eval.n;
    f.eval_name = data_.eval_name;
    f.device = session().device();
    if (dist_) f.distributed = dist_->describe(*comm_);
    if (from_.resume) f.resumed_from = o_.resume, f.resumed_after = from_.resume->epochs_done;
    else if (from_.start) f.started_from = o_.init_model;
    progress_.line(header_line(f, cfg_, o_.compute.dtype, s, from_.monitor));
    if (!from_.from_model.empty()) progress_.line(from_.from_model);
    if (o_.was_given("--launch") && session().memory().is_host_memory())
        progress_.note("--launch has no effect on the CPU: its calls run one by one, as they are made");
    if (o_.early_stop > 0 && o_.validation == 0)
        progress_.note("--early-stop-on-test: the epoch kept is chosen on the test set, so its test accuracy "
                       "overstates how the model does on new data");
    if (epoch0_line_) progress_.line(*epoch0_line_);
    t0_ = Clock::now();
}

bool TrainRun::on_epoch(const EpochResult& r) {
    tally_.add(r, shown_.eval_acc);
    const int sig = interrupt_ ? interrupt_->signal() : 0;
    std::string line = epoch_line(r, shown_, cfg_.epochs, data_.train.n,
                                  sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "Ctrl-C" : "");
    if (dist_) {
        // The all-reduce's share of the epoch.
        const double s = session().allreduce_seconds() - allreduce_before_;
        const double w = session().allreduce_wait_seconds() - wait_before_;
        allreduce_before_ = session().allreduce_seconds();
        wait_before_ = session().allreduce_wait_seconds();
        const double pct = r.train_seconds > 0 ? 100.0 / r.train_seconds : 0.0;
        line += fmt::format(", all-reduce {:.3f} s ({:.1f}%", s, pct * s);
        line += session().memory().kind() == DeviceKind::cpu ? fmt::format(", waiting for other ranks {:.1f}%)", pct * w)
                                                             : ")";
    }
    progress_.line(line);
    if (metrics_) metrics_->write(r);
    const bool go_on = early_.after_epoch(r, [&] { return session().network(); });
    if (!go_on) progress_.line(early_.stop_line());
    // An epoch cut short by a signal is not checkpointed: the file keeps the last whole one.
    if (!o_.checkpoint.empty() && leader_ && r.examples == data_.train.n)
        write_checkpoint(r.epoch, !go_on || r.epoch == cfg_.epochs);
    return go_on;
}

// --checkpoint: written atomically before the first epoch and after each completed one;
// distributed, by rank 0 alone (every rank holds the same parameters).
void TrainRun::write_checkpoint(int epochs_done, bool finished) {
    last_checkpointed_ = epochs_done;
    cli::write_checkpoint(o_.checkpoint, session().network(), cfg_.cost, record(epochs_done, false), epochs_done,
                          finished, settings_, data_id_, early_.state());
}

TrainCallbacks TrainRun::callbacks(const InterruptGuard& interrupt) {
    TrainCallbacks cb;
    cb.on_start = [this](const TrainStart& s) {
        on_start(s);
        if (!o_.checkpoint.empty() && leader_ && (!from_.resume || o_.checkpoint != o_.resume))
            write_checkpoint(s.first_epoch, false);
    };
    cb.stop = interrupt.flag();
    cb.on_notice = [this](const std::string& why) {
        if (leader_) fmt::print(stderr, "batchprop: {}\n", why);
    };
    if (progress_.live()) cb.on_batch = [this](const BatchProgress& p) { progress_.batch(p); };
    cb.on_epoch = [this](const EpochResult& r) { return on_epoch(r); };
    return cb;
}

double TrainRun::train(const InterruptGuard& interrupt) {
    const bool stopped_early = from_.resume && from_.resume->finished && early_.exhausted();
    if (stopped_early || cfg_.first_epoch >= cfg_.epochs) {
        on_start(TrainStart{cfg_.first_epoch, cfg_.epochs, false, 0});
        progress_.line(fmt::format("The run in {} {} after epoch {}: no epochs left to train", o_.resume,
                                   stopped_early ? "stopped early" : "ended", from_.resume->epochs_done));
        return 0.0;
    }
    if (!session().memory().is_host_memory()) progress_.status("batchprop: uploading the data ...");
    session().train(data_.train, &data_.eval, cfg_, callbacks(interrupt));
    return std::chrono::duration<double>(Clock::now() - t0_).count();
}

void TrainRun::finish(const InterruptGuard& interrupt, double run_seconds) {
    progress_.clear();
    bool interrupted = interrupt.interrupted();
    if (comm_) {
        // Distributed, a Ctrl-C that reached any rank stopped them all (the trainer agrees on
        // it): every rank then reports the interruption, and rank 0's saved model records it.
        std::uint64_t any = interrupted ? 1 : 0;
        comm_->allreduce_host(&any, 1, ReduceOp::max);
        interrupted = any != 0;
    }
    const int epochs_run = tally_.epochs_done - cfg_.first_epoch;
    const int best_epoch = early_.state().best_epoch;
    if (epochs_run > 0 || !from_.resume)  // a finished run resumed has said so already
        progress_.line(summary_line(tally_, cfg_.first_epoch, from_.resume.has_value(), interrupted, data_.train.n,
                                    run_seconds, best_epoch));
    if (!o_.save.empty() && leader_) {
        const nlohmann::json rec = record(tally_.epochs_done, interrupted);
        if (early_.state().best)
            save_model(o_.save, *early_.state().best, cfg_.cost, rec);
        else
            session().save(o_.save, rec);
        progress_.line(best_epoch == 0 ? "Saved the starting model, unchanged, to " + o_.save
                                       : "Saved the model " +
                                             std::string(best_epoch > 0 ? "of epoch " + std::to_string(best_epoch) + " " : "") +
                                             "to " + o_.save);
    }
    if (!interrupted) return;
    if (leader_) {
        std::fprintf(stderr, "batchprop: %s during epoch %d; %s\n",
                     interrupt.signal() == SIGTERM ? "terminated" : "interrupted", tally_.epochs_done,
                     o_.save.empty() ? "no model saved (no --save)" : ("model saved to " + o_.save).c_str());
        if (!o_.checkpoint.empty())
            std::fprintf(stderr, "batchprop: %s holds the run after epoch %d; continue it with --resume %s\n",
                         o_.checkpoint.c_str(), last_checkpointed_, o_.checkpoint.c_str());
    }
    if (comm_) {
        // A rank's exit status 130 (143) makes the launcher end the others: not before rank 0
        // has saved and said so.
        std::uint64_t done = 0;
        comm_->allreduce_host(&done, 1, ReduceOp::max);
    }
    throw Interrupted{interrupt.signal() ? interrupt.signal() : SIGINT};
}

void TrainRun::run() {
    if (dist_) {
        Failure failure;
        try {
            prepare();
        } catch (...) {
            failure = failure_of(std::current_exception());
        }
        dist_->agree(failure);
    } else {
        prepare();
    }
    join();
    // Alive until the model is saved: one Ctrl-C cannot cut the save short. Distributed, rank 0
    // alone says it was stopped (a launcher passes the signal to every rank).
    InterruptGuard interrupt(/*quiet=*/!leader_);
    interrupt_ = &interrupt;
    const double seconds = train(interrupt);
    finish(interrupt, seconds);
}

}  // namespace

void run_training(TrainOptions& o, const TrainStartingPoint& from, DistributedSession* dist) {
    TrainRun(o, from, dist).run();
}

}  // namespace batchprop::cli
