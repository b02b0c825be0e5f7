/// @file
/// Many trainings at once: a hyper-parameter sweep. A grid of settings (sizes, eta, lambda, m,
/// seed) expands to one model per combination; a pure scheduler decides the order in which the
/// models run (and, on a GPU, which would share a launch); a runner trains them concurrently,
/// each exactly as a Session trained alone with the same settings would be, and keeps a fault
/// (a model that diverges) to that model. The CLI's `batchprop sweep` and Python's
/// batchprop.sweep are front ends of this; what they print and save is theirs.
///
/// @code
///   SweepGrid g;                                   // the axes; their product is the sweep
///   g.eta = {0.025, 0.25, 2.5};  g.lambda = {0, 1, 5};  g.seeds = {1, 2, 3, 4};
///   TrainConfig base;  base.epochs = 30;  base.cost = Cost::cross_entropy;
///   std::vector<SweepModel> models = expand_grid(g, base, Init::scaled);
///   validate_sweep(models, train.n);               // a bad combination: SettingError naming it
///   std::vector<SweepOutcome> out = run_sweep(train, &validation, models, {});
/// @endcode
#pragma once

#include "batchprop/export.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchprop/batchprop.hpp"
#include "batchprop/network.hpp"
#include "batchprop/settings.hpp"
#include "batchprop/trainer.hpp"

namespace batchprop {

// ---- the grid --------------------------------------------------------------------------------

/// The values of each axis; every combination is one model. The defaults are TrainConfig's.
struct SweepGrid {
    std::vector<std::vector<int>> sizes{{784, 30, 10}};  ///< networks, each its neurons per layer, input first
    std::vector<double> eta{3.0};                        ///< learning rates
    std::vector<double> lambda{0.0};                     ///< L2 regularisations
    std::vector<int> batch{10};                          ///< mini-batch sizes m
    std::vector<std::uint64_t> seeds{1};                 ///< seeds (initialisation and shuffling)
};

/// One model of a sweep.
struct SweepModel {
    int id = 0;       ///< its run id: its place in the grid's order (0-based)
    int setting = 0;  ///< the combination of every axis but the seed: the seeds of a setting share it
    std::vector<int> sizes;  ///< its network
    Init init = Init::gaussian;  ///< its initialisation (every model's)
    TrainConfig config;  ///< the base configuration with this model's eta, lambda, batch and seed
};

/// How many models the grid makes (the product of the axes' lengths); SettingError when an axis
/// is empty or the product passes `most`.
BATCHPROP_API long long grid_size(const SweepGrid& grid, long long most = 100000);

/// The grid's product in a fixed order, the seed varying fastest, then m, lambda, eta, sizes:
/// models id .. id + seeds - 1 are one setting's seeds. `base` gives every other setting
/// (epochs, cost, mode, launch, shuffle, monitors). Checks each axis value on its own
/// (validate(TrainConfig), ParamLayout) and refuses a value given twice on an axis: SettingError
/// naming it. No data needed.
BATCHPROP_API std::vector<SweepModel> expand_grid(const SweepGrid& grid, const TrainConfig& base, Init init);

/// Every model against a training set of n_train examples (m <= n_train, eta lambda / n < 1):
/// the first that fails is a SettingError whose detail names its whole combination ("in the
/// combination {sizes} 784,30,10 {eta} 2.5 {lambda} 5 {batch} 10"), before anything trains.
BATCHPROP_API void validate_sweep(const std::vector<SweepModel>& models, int n_train);

// ---- the schedule: a pure function --------------------------------------------------------------

/// The work of one model, for ordering: multiply-adds per epoch (forward 1, backward 2 per
/// weight and example) plus a fixed cost per step, times its epochs.
BATCHPROP_API double model_work(const SweepModel& model, int n_train);

/// What the scheduler knows of the device.
struct SweepDevice {
    bool gpu = false;  ///< a GPU (launches may hold several models) or the CPU
    int workers = 1;   ///< CPU: models trained at once (threads); GPU: streams
    /// GPU: models one fused launch runs at once (a block each); 0: no multi-model launch.
    int models_per_launch = 0;
};

/// Models that run together: on the CPU (and for a GPU's models that cannot be fused) each on
/// its own worker, taken in this order as workers come free; one_launch: a GPU launch with one
/// block per model (their segments run side by side; the launch lasts as long as its longest).
struct SweepGroup {
    std::vector<int> models;  ///< run ids
    bool one_launch = false;  ///< one GPU launch, a block per model (else: each on a worker)
};

/// The order in which a sweep's models run (schedule_sweep).
struct SweepSchedule {
    std::vector<SweepGroup> groups;  ///< in the order they run
    int workers = 1;                 ///< workers taking the models of non-launch groups
};

/// Longest work first (ties: the lower run id): on `workers` workers that take the next model as
/// they come free, the sweep ends at most 4/3 of the best possible time (Graham's bound for LPT),
/// and a long model never starts last. On a GPU with models_per_launch > 0, the models that
/// `fusable` marks are cut, in that order, into launches of up to models_per_launch (models of
/// similar length together, so that few blocks idle while the longest finishes); the others
/// follow as one group on the streams. Deterministic: the same inputs give the same schedule.
BATCHPROP_API SweepSchedule schedule_sweep(const std::vector<SweepModel>& models, const std::vector<double>& work,
                                           const std::vector<bool>& fusable, const SweepDevice& device);

// ---- the runner -------------------------------------------------------------------------------

/// How a model's training ended.
enum class SweepStatus {
    pending,   ///< never started (a stop came first)
    done,      ///< trained all its epochs, or its on_epoch said stop (early stopping)
    stopped,   ///< the stop flag cut it short (its last epoch may be partial)
    diverged,  ///< a parameter became infinite or NaN; the session keeps its parameters from before
    failed,    ///< another error of this model alone (out of memory, ...)
};
/// "pending", "done", "stopped", "diverged" or "failed".
BATCHPROP_API const char* to_string(SweepStatus status);

/// What became of one model of a sweep.
struct SweepOutcome {
    int id = 0;                                  ///< its run id
    SweepStatus status = SweepStatus::pending;   ///< how its training ended
    int epochs_done = 0;      ///< whole epochs (from first_epoch's count on)
    int failed_epoch = 0;     ///< diverged or failed: the epoch it happened in (1-based)
    std::string error;        ///< diverged or failed: the library's message
    double seconds = 0.0;     ///< wall time of its training
    std::optional<Session> session;  ///< the trained network (absent when pending)
};

/// Where a model starts: fresh (no net: Session::create from its seed), or a saved network after
/// first_epoch epochs (resuming); finished: nothing left to train (its outcome is done).
struct SweepStart {
    std::optional<Network<double>> net;  ///< the network to go on from; none: a fresh one from the seed
    int first_epoch = 0;                 ///< epochs it has trained already
    bool finished = false;               ///< nothing left to train
};

/// Where and how many at once (run_sweep).
struct SweepOptions {
    SessionOptions where;  ///< device and dtype, the same for every model
    int jobs = 0;          ///< models at once: 0 = one per CPU core (1 on a GPU: see run_sweep)
};

/// Each callback is called with the sweep's lock held: never two at once, from whichever worker
/// thread trains the model, so a front end needs no locking of its own. An exception from a
/// callback stops every model (after its current segment) and is rethrown by run_sweep.
struct SweepCallbacks {
    /// When a model starts training in this run (a resumed one too; never one with nothing left).
    std::function<void(const SweepModel&, const Session&)> on_model_start;
    /// After each epoch: false stops this model (early stopping). The session's network() is the
    /// parameters after the epoch.
    std::function<bool(const SweepModel&, const EpochResult&, const Session&)> on_epoch;
    std::function<void(const SweepModel&, const BatchProgress&)> on_batch;  ///< after each segment
    /// Once per model that ran (done, stopped, diverged, failed).
    std::function<void(const SweepModel&, const SweepOutcome&)> on_model_end;
    /// Set (Ctrl-C): every running model stops after its current segment, none starts.
    const std::atomic<bool>* stop = nullptr;
    /// Before training, what was decided for the caller to tell: on a GPU how many models share
    /// launches; on the CPU that the models train one at a time, and why.
    std::function<void(const std::string&)> on_notice;
};

/// The models a worker pool would run at once here: jobs, or when 0 one per online CPU core (on a
/// GPU: 4, each model on a stream of its own); never more than the models. On a GPU this is for
/// the models that share no fused launch (run_sweep).
BATCHPROP_API int sweep_jobs(int jobs, int n_models, bool gpu);

/// Trains every model (models[i].id == i) on `train`, evaluating on `eval` as its config asks,
/// in schedule_sweep's order. Each model has its own Session (its own backend and buffers) and is
/// trained by Session::train exactly as alone: its parameters are bit for bit those of the same
/// settings trained alone on the same backend with the same BLAS threads. On the CPU, `jobs` at a
/// time, the images read in place. On a GPU, one copy of the data on the device for all; the
/// models that alone would run the one-block fused step share launches, up to one per SM in a
/// launch (a block each, each model on a thread of its own, its segments in lockstep with the
/// others': the same program and plan as alone, so the same bits); the rest follow, `jobs` at a
/// time (callbacks.on_notice says how many share). On the CPU with jobs > 1, every
/// BLAS call runs on its caller's thread, for the rest of the process: OpenBLAS's results depend
/// on its thread count for products of >= 32 MFLOP, which a process alone gives every core
/// (so those models equal `OPENBLAS_NUM_THREADS=1 batchprop train`; smaller products always
/// run on one thread). If this process computed on the CPU before with more BLAS threads, the
/// backend would raise the count again mid-sweep: the models then train one at a time
/// (callbacks.on_notice says so). starts (empty, or one per model) resumes models. Returns one
/// outcome per model, by id.
BATCHPROP_API std::vector<SweepOutcome> run_sweep(const Dataset& train, const Dataset* eval,
                                                  const std::vector<SweepModel>& models, const SweepOptions& options,
                                                  const SweepCallbacks& callbacks = {},
                                                  const std::vector<SweepStart>& starts = {});

}  // namespace batchprop
