// run_sweep (sweep.hpp): a pool of worker threads trains a sweep's models, one Session each,
// in the scheduler's order. What is shared between workers is read-only (the data, the models)
// or behind one lock (the front end's callbacks) or atomic (the next model, the stop flag).
#include "batchprop/sweep.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <thread>
#include <utility>

#include "cpu/blas_threads.hpp"
#include "engine/data_fit.hpp"

namespace batchprop {

namespace {

using Clock = std::chrono::steady_clock;

// How Trainer::run reports divergence (src/engine/trainer.cpp): "training diverged in epoch N:
// ...". A sweep keeps it to the model and says so in its row.
constexpr const char kDiverged[] = "training diverged in epoch";

class SweepRun {
public:
    SweepRun(const Dataset& train, const Dataset* eval, const std::vector<SweepModel>& models,
             const SweepCallbacks& cb, const std::vector<SweepStart>& starts)
        : train_(train), eval_(eval), models_(models), cb_(cb), starts_(starts), out_(models.size()) {}

    void open_sessions(const SessionOptions& where);
    bool on_gpu() { return !out_.empty() && !out_.front().session->memory().is_host_memory(); }
    void run(const std::vector<int>& order, int jobs);
    std::vector<SweepOutcome> finish();

private:
    void work(const std::vector<int>& order);
    void train_one(int id);
    TrainCallbacks model_callbacks(const SweepModel& m, SweepOutcome& o, int& whole, bool& said_stop);
    // f() with the lock held; an exception from it stops every model and is kept for run_sweep.
    template <class F, class R>
    R locked(F&& f, R on_error);

    const Dataset& train_;
    const Dataset* eval_;
    const std::vector<SweepModel>& models_;
    const SweepCallbacks& cb_;
    const std::vector<SweepStart>& starts_;
    std::vector<SweepOutcome> out_;
    std::atomic<std::size_t> next_{0};
    std::atomic<bool> stop_{false};  // every trainer's stop flag: the caller's, or a callback's error
    std::mutex lock_;
    std::exception_ptr callback_error_;
};

template <class F, class R>
R SweepRun::locked(F&& f, R on_error) {
    std::lock_guard<std::mutex> hold(lock_);
    if (callback_error_) return on_error;
    try {
        return f();
    } catch (...) {
        callback_error_ = std::current_exception();
        stop_ = true;
        return on_error;
    }
}

void SweepRun::open_sessions(const SessionOptions& where) {
    // On the calling thread, before any worker starts: the CPU backend's first construction
    // restarts OpenBLAS's workers (cpu/subnormals.hpp), which no other thread may be calling.
    for (std::size_t i = 0; i < models_.size(); ++i) {
        const SweepModel& m = models_[i];
        BP_REQUIRE(m.id == int(i), "run_sweep: models[" << i << "] has run id " << m.id);
        Session s = Session::create(m.sizes, m.config.cost, m.init, m.config.seed, where);
        if (!starts_.empty() && starts_[i].net) s.set_network(*starts_[i].net);
        s.set_cost(m.config.cost);
        out_[i].id = m.id;
        out_[i].session.emplace(std::move(s));
    }
}

TrainCallbacks SweepRun::model_callbacks(const SweepModel& m, SweepOutcome& o, int& whole, bool& said_stop) {
    TrainCallbacks tc;
    tc.stop = &stop_;
    tc.on_batch = [this, &m](const BatchProgress& p) {
        if (cb_.stop && cb_.stop->load()) stop_ = true;  // read by the trainer right after this call
        if (cb_.on_batch) locked([&] { return cb_.on_batch(m, p), true; }, false);
    };
    tc.on_epoch = [this, &m, &o, &whole, &said_stop](const EpochResult& r) {
        if (r.examples == train_.n) whole = r.epoch;
        o.epochs_done = whole;
        const bool go_on = !cb_.on_epoch || locked([&] { return cb_.on_epoch(m, r, *o.session); }, false);
        if (!go_on) said_stop = true;
        return go_on;
    };
    return tc;
}

void SweepRun::train_one(int id) {
    const SweepModel& m = models_[std::size_t(id)];
    SweepOutcome& o = out_[std::size_t(id)];
    TrainConfig cfg = m.config;
    if (!starts_.empty()) cfg.first_epoch = std::min(starts_[std::size_t(id)].first_epoch, cfg.epochs);
    int whole = cfg.first_epoch;
    o.epochs_done = whole;
    if ((!starts_.empty() && starts_[std::size_t(id)].finished) || cfg.first_epoch >= cfg.epochs) {
        o.status = SweepStatus::done;  // a resumed sweep's finished model: nothing left to do
        return;
    }
    bool said_stop = false;
    if (cb_.on_model_start) locked([&] { return cb_.on_model_start(m, *o.session), true; }, false);
    const auto t0 = Clock::now();
    try {
        o.session->train(train_, eval_, cfg, model_callbacks(m, o, whole, said_stop));
        o.status = whole >= cfg.epochs || said_stop ? SweepStatus::done : SweepStatus::stopped;
    } catch (const std::exception& e) {
        // A callback's exception ends the sweep (rethrown by run_sweep); anything else is this
        // model's own fault, reported in its outcome while the others go on.
        o.status = std::strncmp(e.what(), kDiverged, sizeof kDiverged - 1) == 0 ? SweepStatus::diverged
                                                                                : SweepStatus::failed;
        o.failed_epoch = whole + 1;
        o.error = e.what();
    }
    o.epochs_done = whole;
    o.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (cb_.on_model_end) locked([&] { return cb_.on_model_end(m, o), true; }, false);
}

void SweepRun::work(const std::vector<int>& order) {
    for (;;) {
        if (stop_ || (cb_.stop && cb_.stop->load())) return;  // the rest stay pending
        const std::size_t k = next_++;
        if (k >= order.size()) return;
        train_one(order[k]);
    }
}

void SweepRun::run(const std::vector<int>& order, int jobs) {
    // One BLAS thread per model, set before the workers start, or one model at a time where
    // the CPU backend would not keep it so (cpu/blas_threads.hpp).
    if (jobs > 1 && !on_gpu() && !blas_one_thread_per_caller()) {
        if (cb_.on_notice)
            cb_.on_notice("training one model at a time: this process computed on the CPU before the sweep with "
                          "more than one BLAS thread, and concurrent models would then not train deterministically "
                          "(a sweep started before any other CPU work trains one model per core)");
        jobs = 1;
    }
    if (jobs <= 1) {
        work(order);
        return;
    }
    std::vector<std::thread> workers;
    std::exception_ptr start_error;
    try {
        for (int w = 0; w < jobs; ++w) workers.emplace_back([this, &order] { work(order); });
    } catch (...) {  // no thread could be made: stop those that started, then report it
        start_error = std::current_exception();
        stop_ = true;
    }
    for (std::thread& t : workers) t.join();
    if (start_error) std::rethrow_exception(start_error);
}

std::vector<SweepOutcome> SweepRun::finish() {
    if (callback_error_) std::rethrow_exception(callback_error_);
    for (SweepOutcome& o : out_)
        if (o.status == SweepStatus::pending) o.session.reset();  // never trained: no network to hand back
    return std::move(out_);
}

}  // namespace

const char* to_string(SweepStatus status) {
    switch (status) {
        case SweepStatus::pending: return "pending";
        case SweepStatus::done: return "done";
        case SweepStatus::stopped: return "stopped";
        case SweepStatus::diverged: return "diverged";
        case SweepStatus::failed: return "failed";
    }
    return "?";
}

int sweep_jobs(int jobs, int n_models, bool gpu) {
    if (gpu) return 1;  // one model at a time until concurrent GPU models are measured (README, "Sweeps")
    int j = jobs > 0 ? jobs : int(std::thread::hardware_concurrency());
    return std::max(1, std::min(j, n_models));
}

std::vector<SweepOutcome> run_sweep(const Dataset& train, const Dataset* eval, const std::vector<SweepModel>& models,
                                    const SweepOptions& options, const SweepCallbacks& callbacks,
                                    const std::vector<SweepStart>& starts) {
    BP_REQUIRE(starts.empty() || starts.size() == models.size(), "run_sweep: one start per model, or none");
    if (options.jobs < 0) BP_THROW("run_sweep: jobs must be 0 (one per core) or more (got " << options.jobs << ")");
    validate_sweep(models, train.n);
    // Data a network cannot use would fail each of its models alike: one error, before any trains.
    for (std::size_t i = 0; i < models.size(); ++i) {
        const SweepModel& m = models[i];
        if (i > 0 && m.sizes == models[i - 1].sizes) continue;  // checked already (the grid's neighbours share it)
        try {
            check_data_fits(train, m.sizes, true);
            if (eval) check_data_fits(*eval, m.sizes, true);
        } catch (const Error& e) {
            BP_THROW(e.what() << ", for the network " << sizes_to_string(m.sizes) << " (run " << m.id << ")");
        }
    }
    SweepRun run(train, eval, models, callbacks, starts);
    run.open_sessions(options.where);
    const bool gpu = run.on_gpu();
    const int jobs = sweep_jobs(options.jobs, int(models.size()), gpu);
    std::vector<double> work;
    for (const SweepModel& m : models) work.push_back(model_work(m, train.n));
    SweepDevice device;
    device.gpu = gpu;
    device.workers = jobs;
    const SweepSchedule schedule = schedule_sweep(models, work, {}, device);
    std::vector<int> order;
    for (const SweepGroup& g : schedule.groups) order.insert(order.end(), g.models.begin(), g.models.end());
    run.run(order, jobs);
    return run.finish();
}

}  // namespace batchprop
