// Mini-batch SGD over a data set that lives on the backend's device: shuffles each epoch,
// walks the mini-batches (the last, partial one included) in segments that a GPU records once
// and replays, evaluates after each epoch, and reports through callbacks. The numerical work
// is Backprop's; this is the loop around it.
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
#include "batchprop/fused_step.hpp"
#include "batchprop/settings.hpp"

namespace batchprop {

class Communicator;  // distributed.hpp

// A data set on a backend, as it is on the host: the images (n_inputs x n) as bytes or float
// inputs (Dataset::pixel_type), the labels as int. Batches are converted to T when gathered
// (Backend::gather_batch). Where the backend's memory is host memory (the CPU) the images are
// the Dataset's own, used in place, not copied: the Dataset must then outlive this (borrowed
// images are also kept alive here, through their keepalive). A GPU gets a copy, uploaded once.
template <class T>
struct BATCHPROP_API DeviceData {
    DeviceData(Backend<T>& be, const Dataset& host);
    DeviceData(Backend<T>& be, const Dataset&& host) = delete;  // the images may be used in place: no temporaries

    PixelType pixel_type() const { return pixel_type_; }
    // The images on the backend's device: the Dataset's image_data() on the CPU, else the copy.
    const void* image_data() const { return images_; }
    ConstView<std::uint8_t> pixels() const;  // the images, when bytes
    ConstView<float> inputs() const;         // the images, when float inputs
    // f(images) with the images as the view of their type: ConstView<std::uint8_t> or
    // ConstView<float>. What gathers or loads them calls the backend inside f.
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
    const void* images_ = nullptr;           // (n_inputs x n) of pixel_type_, on the device
    Buffer<std::uint8_t> uploaded_pixels_;   // a GPU's copy of byte images (else empty)
    Buffer<float> uploaded_inputs_;          // a GPU's copy of float inputs (else empty)
    std::shared_ptr<const void> keepalive_;  // the borrowed images', while they are used in place
    Buffer<int> labels_;
};

// The launch a trainer uses when `asked` for one: device_fuses = the device has a fused step
// (Backend::fused_shared_limit() > 0), plan_error = why plan_fused_step refused this network
// (empty when it did not), preferred = fused_step_preferred of the plan, can_record = the
// device records (Memory::can_record). Throws batchprop::Error when fused is asked for and
// cannot be had (per-example mode, a plan refused) on a device that has a fused step.
BATCHPROP_API Launch resolve_launch(Launch asked, Mode mode, bool device_fuses, const std::string& plan_error,
                                    bool preferred, bool can_record);

struct Evaluation {
    long long correct = 0;
    long long total = 0;
    double cost = 0.0;  // mean cost per example, plus the L2 term when lambda > 0
    double accuracy() const { return total ? double(correct) / double(total) : 0.0; }
};

struct EpochResult {
    int epoch = 0;                    // 1-based
    double train_seconds = 0.0;       // the SGD part alone (no evaluation)
    double examples_per_second = 0.0;  // of the examples actually trained on
    long long examples = 0;            // n, or fewer when the epoch was stopped part-way
    std::optional<Evaluation> evaluation;
    std::optional<Evaluation> training;
};

struct BatchProgress {
    int epoch = 0;
    long long examples_done = 0;
    long long examples_total = 0;
    double seconds = 0.0;  // since the epoch started
};

// What run() is about to do, once it is set up.
struct TrainStart {
    int first_epoch = 0;     // 0-based
    int epochs = 0;          // config.epochs
    bool recording = false;  // Trainer::recording()
    int segment_steps = 0;   // steps in the epoch's first segment
    Launch launch = Launch::eager;  // Trainer::launch()
};

struct TrainCallbacks {
    std::function<void(const TrainStart&)> on_start;  // once, before the first epoch
    // After each segment: each mini-batch when eager, each replayed chunk of steps when
    // recording (may be empty).
    std::function<void(const BatchProgress&)> on_batch;
    std::function<bool(const EpochResult&)> on_epoch;     // return false to stop training
    const std::atomic<bool>* stop = nullptr;              // set (e.g. by SIGINT): stop after the current segment
    // Once, if recording was asked for and failed: why, and that training goes on eager.
    std::function<void(const std::string&)> on_notice;
};

template <class T>
class BATCHPROP_API Trainer {
public:
    // Validates the configuration against the data (batch <= n_train, eta > 0, ...).
    Trainer(Backend<T>& backend, const ParamLayout& layout, const DeviceData<T>& train,
            const DeviceData<T>* eval, const TrainConfig& config);

    Backprop<T>& backprop() { return bp_; }

    // Trains epochs config.first_epoch .. config.epochs - 1 (fewer if a callback or the stop
    // flag says so). Returns the number of the last epoch run, 1-based (an epoch the stop
    // flag cut short counts), or first_epoch when none was.
    // Throws batchprop::Error ("training diverged in epoch N ...") after an epoch that left a
    // parameter infinite or NaN, before evaluating it.
    int run(const TrainCallbacks& callbacks = {});

    // One epoch of SGD; returns seconds spent. epoch is 0-based (it seeds the shuffle).
    // examples_done, when given, receives how many examples were trained on (fewer than n
    // when callbacks.stop ended the epoch early, at a segment boundary).
    double train_epoch(int epoch, const TrainCallbacks& callbacks = {}, long long* examples_done = nullptr);

    // Accuracy and mean cost (plus the L2 term when lambda > 0) over a data set, fed forward
    // in chunks converted from its bytes.
    Evaluation evaluate(const DeviceData<T>& data);

    // Whether steps are being recorded and replayed (false on the CPU, with Launch::eager, or
    // after a recording failed), and the segments of an epoch.
    bool recording() const { return launch_ == Launch::graph; }
    // The launch in use (resolve_launch's answer; eager once distributed or a recording failed).
    Launch launch() const { return launch_; }
    const std::vector<Segment>& plan() const { return plan_; }

    // Data-parallel training (distributed.hpp; src/engine/trainer_distributed.cpp): from now on each
    // step takes this rank's slice of the global mini-batch, computes its gradient sum,
    // all-reduces it through comm and applies the update for the global m; evaluation splits
    // the examples across ranks and adds up the sums. Steps then run eagerly, one per segment
    // (MPI's calls are host-side and cannot be recorded in a CUDA graph). run() checks that
    // every rank has the same settings (and data_fingerprint, the caller's digest of its data)
    // and parameters before the first epoch, and the parameters after every epoch, and throws
    // ReplicasDiffer if not. Call before training; comm must outlive the trainer's use.
    void set_communicator(Communicator* comm, std::uint64_t data_fingerprint = 0);
    // Seconds the host spent in the gradient all-reduce so far (MPI: the sum itself, including
    // waiting for slower ranks; NCCL: only queueing it on the stream).
    double allreduce_seconds() const { return allreduce_seconds_; }
    // The part of allreduce_seconds that CPU ranks spent waiting for the slowest rank to reach
    // the sum (0 on GPUs).
    double allreduce_wait_seconds() const { return allreduce_wait_seconds_; }

private:
    // plan_ from cfg_ and launch_: cfg_.chunk_steps steps a segment when given, else
    // recorded_chunk_steps when recording or fused, else one step a segment (eager, distributed).
    void plan_segments();
    // One mini-batch of m examples at cursor + offset: gather, then the SGD step.
    void step(int m, int offset);
    // Launch::fused: chooses the launch (constructor), and runs a segment in one launch.
    void choose_launch();
    void run_fused_segment(const Segment& s);
    // The steps of a segment and the cursor's move past them: what a recording holds.
    void run_segment_body(const Segment& s);
    void run_segment(const Segment& s, const TrainCallbacks& cb);
    // Distributed mode (src/engine/trainer_distributed.cpp): the step; whether callbacks.stop is set
    // on any rank (every rank must stop at the same segment); the replica check.
    void distributed_step(int m, int offset);
    bool any_rank_stops(const TrainCallbacks& cb);
    void check_replicas(int epochs_done);

    Backend<T>& be_;
    const DeviceData<T>& train_;
    const DeviceData<T>* eval_;
    TrainConfig cfg_;
    Backprop<T> bp_;
    Buffer<int> order_;   // this epoch's order of 0..n-1 (the permutation, or 0..n-1 unshuffled)
    Buffer<int> cursor_;  // (1): position in order_ of the next batch's first example
    Buffer<T> x_;         // the gathered mini-batch X, (n_0 x m); also evaluation chunks, (n_0 x kEvalChunk)
    Buffer<T> y_;         // one-hot targets Y: (n_L x m)
    std::vector<Segment> plan_;
    Launch launch_ = Launch::eager;  // resolve_launch's answer; graph means recording
    // Launch::fused: the plans for the full batches and for the partial last one, and the
    // scratch in global memory that either needs when its own is not in shared memory.
    FusedEpochPlan fused_;
    Buffer<T> fused_scratch_;
    struct Slot {
        int seen = 0;                          // segments of this kind met so far in the run
        std::unique_ptr<Recording> recording;  // made at the second meeting
    };
    Slot slots_[kSegmentKinds];
    Communicator* comm_ = nullptr;   // distributed mode when set
    std::uint64_t settings_fingerprint_ = 0;
    Buffer<T> zero_nabla_;           // zeros in nabla's layout: a rank with an empty slice sends them
    double allreduce_seconds_ = 0.0;
    double allreduce_wait_seconds_ = 0.0;
};


}  // namespace batchprop
