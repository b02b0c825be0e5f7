// How a Trainer runs its steps: one Runner for the whole run, chosen once, when the trainer is
// made, by choose_runner from the configuration, what the device offers and the communicator:
//   eager          every primitive call issued as it is made (the CPU; Launch::eager)
//   graph          segments recorded once as CUDA graphs and replayed (Launch::graph)
//   fused          a segment of steps in one kernel launch (Launch::fused)
//   data-parallel  this rank's slice of each batch, gradients summed across ranks
// Each runner owns the state of its way of running; what all of them read (the device, the
// data, the settings, the parameters, the batch buffers) is the trainer's TrainerState.
// Internal: the public face is Trainer (trainer.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "batchprop/backprop.hpp"
#include "batchprop/distributed.hpp"
#include "batchprop/epoch_plan.hpp"
#include "batchprop/trainer.hpp"
#include "fused/cluster_plan.hpp"
#include "fused/fused_plan.hpp"

namespace batchprop {

template <class T>
class FusedDevice;

template <class T>
struct TrainerState {
    // Validates config against the data (batch <= n_train, eta > 0, ...) before allocating
    // anything sized by it.
    TrainerState(Backend<T>& backend, const ParamLayout& layout, const DeviceData<T>& train_data,
                 const DeviceData<T>* eval_data, const TrainConfig& config);

    Backend<T>& be;
    const DeviceData<T>& train;
    const DeviceData<T>* eval;  // may be null
    const TrainConfig cfg;
    Backprop<T> bp;
    Buffer<int> order;   // this epoch's order of 0..n-1 (the permutation, or 0..n-1 unshuffled)
    Buffer<int> cursor;  // (1): position in order of the next batch's first example
    Buffer<T> x;         // the gathered mini-batch X, (n_0 x m); also the trainer's evaluation chunks
    Buffer<T> y;         // one-hot targets Y: (n_L x m)
};

template <class T>
class Runner {
public:
    virtual ~Runner() = default;

    // The launch in use: resolve_launch's answer, eager when data-parallel or once a
    // recording has failed.
    virtual Launch launch() const = 0;
    // Steps per full segment when the configuration leaves it open (segment_steps = 0).
    virtual int segment_steps() const = 0;
    // The steps of segment s, from the cursor on, and the cursor moved past them.
    virtual void run_segment(const Segment& s, const TrainCallbacks& cb) = 0;

    // ---- what the ranks of a data-parallel run agree on; alone, there is nothing to agree ----
    // Whether to stop at this segment or epoch's end: callbacks.stop (on any rank).
    virtual bool stop_requested(const TrainCallbacks& cb) {
        return cb.stop && cb.stop->load(std::memory_order_relaxed);
    }
    // Throws ReplicasDiffer unless every rank has the same settings and parameters.
    virtual void check_replicas(int /*epochs_done*/) {}
    // The examples of a set of n that this process evaluates, and the sums over all processes.
    virtual BatchSlice evaluation_share(int n) const { return BatchSlice{0, n}; }
    virtual void add_up(EvalSums& /*sums*/) {}
    // Trainer::allreduce_seconds and allreduce_wait_seconds.
    virtual double allreduce_seconds() const { return 0.0; }
    virtual double allreduce_wait_seconds() const { return 0.0; }
};

// The runner for a trainer over `state`: resolve_launch's choice for this device (fused where
// it has a fused step and plans this network, graph where it records, else eager), or the
// data-parallel runner when comm is given (data_fingerprint: the caller's digest of its data,
// compared across ranks). Throws what resolve_launch throws, and SettingError for a fused
// launch asked for with a communicator.
template <class T>
std::unique_ptr<Runner<T>> choose_runner(TrainerState<T>& state, Communicator* comm, std::uint64_t data_fingerprint);

// How a trainer of `layout` on n training examples of `pixels` with `cfg` runs its steps on a
// device (`fused`: its fused step, null when it has none; can_record: Memory::can_record) when
// alone: resolve_launch's answer, and for a fused launch its plans and which fused step (the
// cluster step where cluster.N > 0). choose_runner's decision, without a trainer: a sweep asks
// it which models its shared launches may take. Throws what resolve_launch throws.
struct LaunchChoice {
    Launch launch = Launch::eager;
    FusedEpochPlan plans;
    ClusterEpochPlan cluster_plans;
    ClusterDecision cluster;
};
template <class T>
LaunchChoice choose_launch(FusedDevice<T>* fused, bool can_record, const ParamLayout& layout, int n, PixelType pixels,
                           const TrainConfig& cfg);

// The four runners (eager_runner.cpp, graph_runner.cpp, fused_runner.cpp,
// data_parallel_runner.cpp), for choose_runner.
template <class T>
std::unique_ptr<Runner<T>> make_eager_runner(TrainerState<T>& state);
template <class T>
std::unique_ptr<Runner<T>> make_graph_runner(TrainerState<T>& state);
// cluster: the cluster step's plans, run where cluster.full.N > 0 (else the one-block step's, plans).
template <class T>
std::unique_ptr<Runner<T>> make_fused_runner(TrainerState<T>& state, FusedDevice<T>& device, const FusedEpochPlan& plans,
                                             const ClusterEpochPlan& cluster);
template <class T>
std::unique_ptr<Runner<T>> make_data_parallel_runner(TrainerState<T>& state, Communicator& comm,
                                                     std::uint64_t data_fingerprint);

// `runner`, saying each non-empty one of `notices` through the callbacks' on_notice before its
// first segment: a choice made when the trainer was made (a fallback, a setting without effect
// here), told when the run starts, once. `runner` itself when there is nothing to say.
template <class T>
std::unique_ptr<Runner<T>> with_notice(std::unique_ptr<Runner<T>> runner, const std::vector<std::string>& notices);

}  // namespace batchprop
