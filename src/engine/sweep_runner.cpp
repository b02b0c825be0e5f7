// run_sweep (sweep.hpp): a SweepPool (sweep_pool.hpp) trains a sweep's models, one Session each,
// in the scheduler's order: a device's shared launches first, a group of models at a time
// (sweep_launches.cpp), then the rest on worker threads. What is shared between threads is
// read-only (the data, the models) or behind one lock (the front end's callbacks) or atomic
// (the next model, the stop flag).
#include "engine/sweep_pool.hpp"

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
#include "engine/session_access.hpp"

namespace batchprop {

namespace {

using Clock = std::chrono::steady_clock;

// How Trainer::run reports divergence (src/engine/trainer.cpp): "training diverged in epoch N:
// ...". A sweep keeps it to the model and says so in its row.
constexpr const char kDiverged[] = "training diverged in epoch";

}  // namespace

template <class F, class R>
R SweepPool::locked(F&& f, R on_error) {
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

void SweepPool::open_sessions(const SessionOpener& open) {
    // On the calling thread, before any worker starts: the CPU backend's first construction
    // restarts OpenBLAS's workers (cpu/subnormals.hpp), which no other thread may be calling.
    for (std::size_t i = 0; i < models_.size(); ++i) {
        const SweepModel& m = models_[i];
        BP_REQUIRE(m.id == int(i), "run_sweep: models[" << i << "] has run id " << m.id);
        Session s = open(m);
        if (!starts_.empty() && starts_[i].net) s.set_network(*starts_[i].net);
        s.set_cost(m.config.cost);
        out_[i].id = m.id;
        out_[i].session.emplace(std::move(s));
    }
}

TrainCallbacks SweepPool::model_callbacks(const SweepModel& m, SweepOutcome& o, int& whole, bool& said_stop) {
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

void SweepPool::train_one(int id) {
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

void SweepPool::work(const std::vector<int>& order) {
    for (;;) {
        if (stopping()) return;  // the rest stay pending
        const std::size_t k = next_++;
        if (k >= order.size()) return;
        train_one(order[k]);
    }
}

void SweepPool::run_workers(const std::vector<int>& order, int jobs) {
    if (order.empty()) return;
    next_ = 0;
    // One BLAS thread per model, set before the workers start, or one model at a time where
    // the CPU backend would not keep it so (cpu/blas_threads.hpp).
    const bool host = session(order.front()).memory().is_host_memory();
    if (jobs > 1 && host && !blas_one_thread_per_caller()) {
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
        for (int w = 0; w < std::min<int>(jobs, int(order.size())); ++w)
            workers.emplace_back([this, &order] { work(order); });
    } catch (...) {  // no thread could be made: stop those that started, then report it
        start_error = std::current_exception();
        stop_ = true;
    }
    for (std::thread& t : workers) t.join();
    if (start_error) std::rethrow_exception(start_error);
}

std::vector<SweepOutcome> SweepPool::finish() {
    if (callback_error_) std::rethrow_exception(callback_error_);
    for (SweepOutcome& o : out_) {
        if (o.session) SessionAccess::share_data(*o.session, nullptr);  // the sweep's data on the device
        if (o.status == SweepStatus::pending) o.session.reset();  // never trained: no network to hand back
    }
    return std::move(out_);
}

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
    // A GPU's models that share no launch each run on a stream of their own (their own
    // backend); kGpuStreams at once unless asked otherwise (bench/RESULTS.md, "Sweeps").
    constexpr int kGpuStreams = 4;
    int j = jobs > 0 ? jobs : gpu ? kGpuStreams : int(std::thread::hardware_concurrency());
    return std::max(1, std::min(j, n_models));
}

std::vector<SweepOutcome> run_sweep_on(const Dataset& train, const Dataset* eval, const std::vector<SweepModel>& models,
                                       const SweepOptions& options, const SweepCallbacks& callbacks,
                                       const std::vector<SweepStart>& starts, const SessionOpener& open) {
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
    SweepPool pool(train, eval, models, callbacks, starts);
    if (models.empty()) return pool.finish();
    pool.open_sessions(open);
    const bool gpu = !pool.session(0).memory().is_host_memory();
    // One copy of the data on a GPU for every model (session_access.hpp); finish() drops it, so
    // the sessions handed back hold no reference to the caller's data sets.
    if (gpu) {
        const std::shared_ptr<const SharedData> on_device = SessionAccess::put_on_device(options.where, train, eval);
        for (std::size_t i = 0; i < models.size(); ++i) SessionAccess::share_data(pool.session(int(i)), on_device);
    }

    const LaunchSupport launches = launch_support(pool, options.where.dtype);
    const int jobs = sweep_jobs(options.jobs, int(models.size()), gpu || launches.shares);
    std::vector<double> work;
    for (const SweepModel& m : models) work.push_back(model_work(m, train.n));
    SweepDevice device;
    device.gpu = launches.shares;
    device.workers = jobs;
    device.models_per_launch = launches.models_per_launch;
    const SweepSchedule schedule = schedule_sweep(models, work, launches.fusable, device);
    if (callbacks.on_notice && launches.shares) {
        int shared = 0;
        for (const SweepGroup& g : schedule.groups) shared += g.one_launch ? int(g.models.size()) : 0;
        const int rest = int(models.size()) - shared;
        callbacks.on_notice(std::to_string(shared) + " of the " + std::to_string(models.size()) +
                            " models share fused launches, up to " + std::to_string(launches.models_per_launch) +
                            " a launch (a block each)" +
                            (rest > 0 ? "; the other " + std::to_string(rest) + " (another launch or step alone) train " +
                                            std::to_string(jobs) + " at a time after them"
                                      : ""));
    }
    for (const SweepGroup& g : schedule.groups) {
        if (pool.stopping()) break;  // the rest stay pending
        if (g.one_launch) run_shared_launch(pool, options.where.dtype, g.models);
        else pool.run_workers(g.models, jobs);
    }
    return pool.finish();
}

std::vector<SweepOutcome> run_sweep(const Dataset& train, const Dataset* eval, const std::vector<SweepModel>& models,
                                    const SweepOptions& options, const SweepCallbacks& callbacks,
                                    const std::vector<SweepStart>& starts) {
    const SessionOpener open = [&options](const SweepModel& m) {
        return Session::create(m.sizes, m.config.cost, m.init, m.config.seed, options.where);
    };
    return run_sweep_on(train, eval, models, options, callbacks, starts, open);
}

}  // namespace batchprop
