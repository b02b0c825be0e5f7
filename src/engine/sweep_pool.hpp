// The machinery behind run_sweep (sweep.hpp), internal: a SweepPool holds a sweep's models, one
// Session each, and trains them: on worker threads that take the next model as they come free
// (sweep_runner.cpp), or, where the device has shared launches, a group of models at a time,
// each on a thread of its own and all of the group's segments in one launch (sweep_launches.cpp).
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

#include "batchprop/sweep.hpp"

namespace batchprop {

// Makes the session a model trains in (run_sweep: Session::create on SweepOptions::where; the
// tests: a session over a double).
using SessionOpener = std::function<Session(const SweepModel&)>;

class SweepPool {
public:
    SweepPool(const Dataset& train, const Dataset* eval, const std::vector<SweepModel>& models,
              const SweepCallbacks& cb, const std::vector<SweepStart>& starts)
        : train_(train), eval_(eval), models_(models), cb_(cb), starts_(starts), out_(models.size()) {}

    // One session per model, on the calling thread, before any worker starts.
    void open_sessions(const SessionOpener& open);
    Session& session(int id) { return *out_[std::size_t(id)].session; }
    const Dataset& train_data() const { return train_; }
    const std::vector<SweepModel>& models() const { return models_; }

    // Trains model `id` (its outcome filled in); what it throws is kept in the outcome.
    void train_one(int id);
    // Whether no further model should start: the caller's stop flag, or a callback's error.
    bool stopping() const { return stop_ || (cb_.stop && cb_.stop->load()); }
    // Stops every model after its current segment (a thread could not be made).
    void stop_all() { stop_ = true; }
    // Trains `order` on `jobs` worker threads taking the next model as they come free.
    void run_workers(const std::vector<int>& order, int jobs);
    // The outcomes, by id; rethrows a callback's exception.
    std::vector<SweepOutcome> finish();

private:
    void work(const std::vector<int>& order);
    TrainCallbacks model_callbacks(const SweepModel& m, SweepOutcome& o, int& whole, bool& said_stop);
    // f() with the lock held; an exception from it stops every model and is kept for finish.
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

// ---- shared launches (sweep_launches.cpp) ----

// What the sweep's device offers for shared launches: none on the CPU (shares false). Where it
// has them: the models a launch runs at once and, per model, whether it may share one (it
// would run the one-block fused step alone: the same program and plan, the same bits).
struct LaunchSupport {
    bool shares = false;
    int models_per_launch = 0;
    std::vector<bool> fusable;
};
LaunchSupport launch_support(SweepPool& pool, DType dtype);

// Trains the models `ids` together: a thread each, their devices seated at one SharedLaunch
// (seat k: ids[k]). Returns when all have ended. A model that cannot start (the stop flag, no
// thread) leaves its seat at once and stays pending.
void run_shared_launch(SweepPool& pool, DType dtype, const std::vector<int>& ids);

// run_sweep with the sessions made by `open` (one per model, all of one dtype).
std::vector<SweepOutcome> run_sweep_on(const Dataset& train, const Dataset* eval, const std::vector<SweepModel>& models,
                                       const SweepOptions& options, const SweepCallbacks& callbacks,
                                       const std::vector<SweepStart>& starts, const SessionOpener& open);

}  // namespace batchprop
