/// @file
/// Mini-batch SGD over a data set that lives on the backend's device: shuffles each epoch,
/// walks the mini-batches (the last, partial one included) in segments (epoch_plan.hpp),
/// evaluates after each epoch, and reports through callbacks. How a segment's steps reach the
/// device is chosen once, when the trainer is made: one call at a time (eager), recorded once
/// and replayed (CUDA graphs), in one launch of a GPU's fused step, or data-parallel across
/// ranks (distributed.hpp). The numerical work is Backprop's; this is the loop around it.
#pragma once

#include "batchprop/export.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchprop/backprop.hpp"
#include "batchprop/dataset.hpp"
#include "batchprop/epoch_plan.hpp"
#include "batchprop/settings.hpp"

namespace batchprop {

class Communicator;  ///< distributed.hpp

/// A data set on a backend, as it is on the host: the images (n_inputs x n) as bytes or float
/// inputs (Dataset::pixel_type), the labels as int. Batches are converted to T when gathered
/// (Backend::gather_batch). Where the backend's memory is host memory (the CPU) the images are
/// the Dataset's own, used in place, not copied: the Dataset must then outlive this (borrowed
/// images are also kept alive here, through their keepalive). A GPU gets a copy, uploaded once.
template <class T>
struct BATCHPROP_API DeviceData {
    DeviceData(Backend<T>& be, const Dataset& host);
    DeviceData(Backend<T>& be, const Dataset&& host) = delete;  ///< the images may be used in place: no temporaries

    PixelType pixel_type() const { return pixel_type_; }
    /// The images on the backend's device: the Dataset's image_data() on the CPU, else the copy.
    const void* image_data() const { return images_; }
    ConstView<std::uint8_t> pixels() const;  ///< the images, when bytes
    ConstView<float> inputs() const;         ///< the images, when float inputs
    /// f(images) with the images as the view of their type: ConstView<std::uint8_t> or
    /// ConstView<float>. What gathers or loads them calls the backend inside f.
    template <class F>
    void with_images(F&& f) const {
        if (pixel_type_ == PixelType::f32) f(inputs());
        else f(pixels());
    }
    const int* labels() const { return labels_.data(); }

    int n_inputs = 0;
    int n = 0;

private:
    PixelType pixel_type_ = PixelType::u8;
    const void* images_ = nullptr;           ///< (n_inputs x n) of pixel_type_, on the device
    Buffer<std::uint8_t> uploaded_pixels_;   ///< a GPU's copy of byte images (else empty)
    Buffer<float> uploaded_inputs_;          ///< a GPU's copy of float inputs (else empty)
    std::shared_ptr<const void> keepalive_;  ///< the borrowed images', while they are used in place
    Buffer<int> labels_;
};

/// The launch a trainer uses when `asked` for one: device_fuses = the device has a fused step
/// (a GPU: one kernel launch runs a segment of steps), plan_error = why that step cannot run
/// this network (empty when it can), preferred = the plan suits the fused step better than
/// the library path (the parameters fit in shared memory, the batch is narrow), can_record =
/// the device records (Memory::can_record). Throws SettingError when fused is asked for in
/// per-example mode, and SettingUnavailable when the device has no fused step or it refused
/// this network (both settings.hpp).
BATCHPROP_API Launch resolve_launch(Launch asked, Mode mode, bool device_fuses, const std::string& plan_error,
                                    bool preferred, bool can_record);

struct Evaluation {
    long long correct = 0;
    long long total = 0;
    double cost = 0.0;  ///< mean cost per example, plus the L2 term when lambda > 0
    double accuracy() const { return total ? double(correct) / double(total) : 0.0; }
};

struct EpochResult {
    int epoch = 0;                    ///< 1-based
    double train_seconds = 0.0;       ///< the SGD part alone (no evaluation)
    double examples_per_second = 0.0;  ///< of the examples actually trained on
    long long examples = 0;            ///< n, or fewer when the epoch was stopped part-way
    std::optional<Evaluation> evaluation;
    std::optional<Evaluation> training;
};

struct BatchProgress {
    int epoch = 0;
    long long examples_done = 0;
    long long examples_total = 0;
    double seconds = 0.0;  ///< since the epoch started
};

/// What run() is about to do, once it is set up.
struct TrainStart {
    int first_epoch = 0;     ///< 0-based
    int epochs = 0;          ///< config.epochs
    bool recording = false;  ///< Trainer::recording()
    int segment_steps = 0;   ///< steps in the epoch's first segment
    Launch launch = Launch::eager;  ///< Trainer::launch()
};

struct TrainCallbacks {
    std::function<void(const TrainStart&)> on_start;  ///< once, before the first epoch
    /// After each segment: each mini-batch when eager, each replayed chunk of steps when
    /// recording (may be empty).
    std::function<void(const BatchProgress&)> on_batch;
    std::function<bool(const EpochResult&)> on_epoch;     ///< return false to stop training
    const std::atomic<bool>* stop = nullptr;              ///< set (e.g. by SIGINT): stop after the current segment
    /// Once, if recording was asked for and failed: why, and that training goes on eager.
    std::function<void(const std::string&)> on_notice;
};

template <class T>
struct TrainerState;  ///< the device, data, settings, parameters and batch buffers every runner reads
template <class T>
class Runner;  ///< how the steps run (eager, graph, fused, data-parallel): src/engine/runners/

template <class T>
class BATCHPROP_API Trainer {
public:
    /// Validates the configuration against the data (batch <= n_train, eta > 0, ...) and
    /// chooses, once, how the steps run (launch()): config.launch as resolve_launch answers it
    /// for this device. With comm, data-parallel training as one rank of comm (distributed.hpp):
    /// each step takes this rank's slice of the global mini-batch, computes its gradient sum,
    /// all-reduces it through comm and applies the update for the global m; evaluation splits
    /// the examples across ranks and adds up the sums. Steps then run eagerly, one per segment
    /// (MPI's calls are host-side and cannot be recorded in a CUDA graph); Launch::fused asked
    /// for by name is a SettingError. run() checks that every rank has the same settings (and
    /// data_fingerprint, the caller's digest of its data) and parameters before the first
    /// epoch, and the parameters after every epoch, and throws ReplicasDiffer if not. comm must
    /// outlive the trainer's use.
    Trainer(Backend<T>& backend, const ParamLayout& layout, const DeviceData<T>& train,
            const DeviceData<T>* eval, const TrainConfig& config, Communicator* comm = nullptr,
            std::uint64_t data_fingerprint = 0);
    Trainer(Trainer&&) noexcept;
    ~Trainer();

    Backprop<T>& backprop();

    /// Trains epochs config.first_epoch .. config.epochs - 1 (fewer if a callback or the stop
    /// flag says so). Returns the number of the last epoch run, 1-based (an epoch the stop
    /// flag cut short counts), or first_epoch when none was.
    /// Throws batchprop::Error ("training diverged in epoch N ...") after an epoch that left a
    /// parameter infinite or NaN, before evaluating it.
    int run(const TrainCallbacks& callbacks = {});

    /// One epoch of SGD; returns seconds spent. epoch is 0-based (it seeds the shuffle).
    /// examples_done, when given, receives how many examples were trained on (fewer than n
    /// when callbacks.stop ended the epoch early, at a segment boundary).
    double train_epoch(int epoch, const TrainCallbacks& callbacks = {}, long long* examples_done = nullptr);

    /// Accuracy and mean cost (plus the L2 term when lambda > 0) over a data set, fed forward
    /// in chunks converted from its bytes.
    Evaluation evaluate(const DeviceData<T>& data);

    /// The launch in use (resolve_launch's answer; eager when data-parallel or once a recording
    /// has failed), whether steps are being recorded and replayed (Launch::graph), and the
    /// segments of an epoch.
    Launch launch() const;
    bool recording() const { return launch() == Launch::graph; }
    const std::vector<Segment>& plan() const { return plan_; }

    /// Deprecated: pass comm to the constructor. Chooses how the steps run again, as the
    /// constructor would have with comm (null: alone); call before training.
    [[deprecated("pass the communicator to Trainer's constructor")]] void set_communicator(
        Communicator* comm, std::uint64_t data_fingerprint = 0);
    /// Seconds the host spent in the gradient all-reduce so far (MPI: the sum itself, including
    /// waiting for slower ranks; NCCL: only queueing it on the stream); 0 without a communicator.
    double allreduce_seconds() const;
    /// The part of allreduce_seconds that CPU ranks spent waiting for the slowest rank to reach
    /// the sum (0 on GPUs).
    double allreduce_wait_seconds() const;

private:
    /// plan_ from the configuration's segment_steps, or when that is 0 the runner's: grouped
    /// steps when recording or fused, one step a segment otherwise.
    void plan_segments();

    std::unique_ptr<TrainerState<T>> state_;  ///< on the heap: the runner refers to it, and a Trainer moves
    std::unique_ptr<Runner<T>> runner_;
    std::vector<Segment> plan_;
};

}  // namespace batchprop
