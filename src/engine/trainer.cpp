// The SGD loop: shuffle, mini-batches, update, evaluate. See trainer.hpp.
#include "batchprop/trainer.hpp"

#include "batchprop/distributed.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

namespace batchprop {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}
// Evaluation feeds forward at least this many columns at a time (fewer GEMM calls).
constexpr int kEvalChunk = 1000;
}  // namespace

template <class T>
DeviceData<T>::DeviceData(Backend<T>& be, const Dataset& host)
    : n_inputs(host.n_inputs), n(host.n), pixel_type_(host.pixel_type()), labels_(be, host.labels.size()) {
    const std::size_t size = std::size_t(host.n_inputs) * std::size_t(host.n);
    BP_REQUIRE((host.borrowed() || host.pixels.size() == size) && host.labels.size() == std::size_t(host.n),
               "data set '" << host.source << "' is inconsistent");
    if (be.is_host_memory()) {
        images_ = host.image_data();  // in place: the CPU reads host memory
        keepalive_ = host.keepalive();
    } else if (pixel_type_ == PixelType::f32) {
        uploaded_inputs_ = Buffer<float>(be, size);
        uploaded_inputs_.upload(static_cast<const float*>(host.image_data()), size);
        images_ = uploaded_inputs_.data();
    } else {
        uploaded_pixels_ = Buffer<std::uint8_t>(be, size);
        uploaded_pixels_.upload(static_cast<const std::uint8_t*>(host.image_data()), size);
        images_ = uploaded_pixels_.data();
    }
    labels_.upload(host.labels);
}

template <class T>
ConstView<std::uint8_t> DeviceData<T>::pixels() const {
    BP_REQUIRE(pixel_type_ == PixelType::u8, "the images are float inputs, not bytes");
    return ConstView<std::uint8_t>(static_cast<const std::uint8_t*>(images_), n_inputs, n);
}

template <class T>
ConstView<float> DeviceData<T>::inputs() const {
    BP_REQUIRE(pixel_type_ == PixelType::f32, "the images are bytes, not float inputs");
    return ConstView<float>(static_cast<const float*>(images_), n_inputs, n);
}

template <class T>
Trainer<T>::Trainer(Backend<T>& backend, const ParamLayout& layout, const DeviceData<T>& train,
                    const DeviceData<T>* eval, const TrainConfig& config)
    : be_(backend),
      train_(train),
      eval_(eval),
      cfg_((validate(config, train.n), config)),  // before any allocation sized by it
      bp_(backend, layout, std::max(config.batch, kEvalChunk)),
      order_(backend, std::size_t(train.n)),
      cursor_(backend, 1),
      x_(backend, std::size_t(layout.n(0)) * std::size_t(std::max(config.batch, kEvalChunk))),
      y_(backend, std::size_t(layout.n(layout.n_layers())) * std::size_t(config.batch)) {
    if (train.n_inputs != layout.n(0))
        BP_THROW("the network has " << layout.n(0) << " input neurons but the images have "
                                    << train.n_inputs << " pixels");
    if (eval && eval->n_inputs != layout.n(0))
        BP_THROW("the network has " << layout.n(0) << " input neurons but the evaluation images have "
                                    << eval->n_inputs << " pixels");
    if (!cfg_.shuffle) {
        // Unshuffled, the order is 0..n-1 for good; batches still go through the gather, which
        // converts the bytes to T.
        std::vector<int> identity(std::size_t(train.n));
        std::iota(identity.begin(), identity.end(), 0);
        order_.upload(identity);
    }
    choose_launch();
    plan_segments();
}

Launch resolve_launch(Launch asked, Mode mode, bool device_fuses, const std::string& plan_error, bool preferred,
                      bool can_record) {
    if (!device_fuses && !can_record) return Launch::eager;  // the CPU: calls run as they are made
    const Launch replayed = can_record ? Launch::graph : Launch::eager;
    switch (asked) {
        case Launch::fused:
            if (mode != Mode::matrix)
                throw SettingError(Setting::launch, "fused", " runs matrix mode only (not {mode} per-example)");
            if (!device_fuses) throw SettingUnavailable(Setting::launch, "fused", ": this device has no fused step");
            if (!plan_error.empty()) throw SettingUnavailable(Setting::launch, "fused", ": " + plan_error);
            return Launch::fused;
        case Launch::automatic:
            return mode == Mode::matrix && device_fuses && plan_error.empty() && preferred ? Launch::fused : replayed;
        case Launch::graph: return replayed;
        case Launch::eager: return Launch::eager;
    }
    return Launch::eager;
}

template <class T>
void Trainer<T>::choose_launch() {
    const std::size_t limit = be_.fused_shared_limit();
    std::string plan_error;
    bool preferred = false;
    if (limit > 0 && cfg_.mode == Mode::matrix) {
        try {
            fused_ = plan_fused_epoch(bp_.layout(), train_.n, cfg_.batch, sizeof(T), limit);
            preferred = fused_step_preferred(fused_.full);
        } catch (const Error& e) {
            plan_error = e.what();
        }
    }
    launch_ = resolve_launch(cfg_.launch, cfg_.mode, limit > 0, plan_error, preferred, be_.can_record());
    if (launch_ == Launch::fused && fused_.global_scratch_elems > 0)
        fused_scratch_ = Buffer<T>(be_, std::size_t(fused_.global_scratch_elems));
}

template <class T>
void Trainer<T>::run_fused_segment(const Segment& s) {
    const FusedShape& shape = s.m == cfg_.batch ? fused_.full : fused_.partial;
    FusedStepArgs<T> f;
    f.params = bp_.params_device();
    f.scratch = shape.scratch_shared ? nullptr : fused_scratch_.data();
    f.labels = train_.labels();
    f.order = order_.data();
    f.cursor = cursor_.data();
    f.steps = s.steps;
    f.cost = cfg_.cost;
    const SgdScalars sgd = sgd_scalars(cfg_.eta, cfg_.lambda, train_.n, s.m);  // as Backprop::train_step
    f.alpha = T(sgd.alpha);
    f.decay = T(sgd.decay);
    train_.with_images([&](auto images) { be_.fused_train_steps(shape, images, f); });
    be_.advance_cursor(cursor_.data(), s.examples());
    // As after a replay: the host stays one segment ahead at most, so progress and the stop
    // flag are honest.
    be_.synchronize();
}

template <class T>
void Trainer<T>::plan_segments() {
    const bool grouped = launch_ == Launch::graph || launch_ == Launch::fused;
    const int chunk = cfg_.segment_steps > 0 ? cfg_.segment_steps
                      : grouped           ? recorded_segment_steps(cfg_.batch, cfg_.mode, bp_.layout().n_layers())
                                          : 1;
    plan_ = plan_epoch(train_.n, cfg_.batch, chunk);
}

template <class T>
void Trainer<T>::step(int m, int offset) {
    if (comm_) return distributed_step(m, offset);  // data-parallel: trainer_distributed.cpp
    const int n0 = train_.n_inputs, nL = bp_.layout().n(bp_.layout().n_layers());
    MatrixView<T> x(x_.data(), n0, m), y(y_.data(), nL, m);
    // X = the columns order[cursor + offset ..][0, m) of the data as T, Y their one-hot targets.
    train_.with_images([&](auto images) {
        be_.gather_batch(x, y, images, train_.labels(), order_.data(), cursor_.data(), offset);
    });
    // The last batch may be partial; it is used, and averaged by its own size m.
    bp_.train_step(x, y, cfg_.mode, cfg_.cost, cfg_.eta, cfg_.lambda, train_.n);
}

template <class T>
void Trainer<T>::run_segment_body(const Segment& s) {
    for (int j = 0; j < s.steps; ++j) step(s.m, j * s.m);
    be_.advance_cursor(cursor_.data(), s.examples());
}

template <class T>
void Trainer<T>::run_segment(const Segment& s, const TrainCallbacks& cb) {
    if (launch_ == Launch::fused) return run_fused_segment(s);
    Slot& slot = slots_[int(s.kind)];
    const SegmentAction action = segment_action(recording(), slot.seen, slot.recording != nullptr);
    ++slot.seen;
    if (action == SegmentAction::record_then_replay) {
        try {
            // The body reads every position from the cursor, so this recording is valid for
            // every later segment of the same kind, wherever it falls in whichever epoch.
            slot.recording = be_.record([this, s] { run_segment_body(s); });
        } catch (const RecordingFailed& e) {
            launch_ = Launch::eager;
            if (cb.on_notice)
                cb.on_notice(std::string("recording the training steps as a CUDA graph failed (") + e.what() +
                             "); running them one call at a time");
        }
    }
    if (slot.recording) {
        slot.recording->replay();
        // Progress and the stop flag are per replay: waiting here keeps the host at most one
        // replay ahead of the device, so both are honest. One wait per few thousand kernels.
        be_.synchronize();
    } else {
        run_segment_body(s);
    }
}

template <class T>
double Trainer<T>::train_epoch(int epoch, const TrainCallbacks& cb, long long* examples_done) {
    const int n = train_.n;
    const auto t0 = Clock::now();
    if (cfg_.shuffle) be_.permutation(order_.data(), n, cfg_.seed, std::uint64_t(epoch));
    const int start = 0;
    cursor_.upload(&start, 1);
    long long done = 0;
    for (const Segment& s : plan_) {
        run_segment(s, cb);
        done = s.first + s.examples();
        if (cb.on_batch) cb.on_batch(BatchProgress{epoch + 1, done, n, seconds_since(t0)});
        // Distributed, every rank must leave at the same segment: the flag is agreed on.
        if (comm_ ? any_rank_stops(cb) : cb.stop && cb.stop->load(std::memory_order_relaxed)) break;
    }
    be_.synchronize();
    if (examples_done) *examples_done = done;
    return seconds_since(t0);
}

template <class T>
Evaluation Trainer<T>::evaluate(const DeviceData<T>& data) {
    const int n0 = data.n_inputs;
    EvalSums s;
    // Distributed, each rank feeds forward its own contiguous share of the examples and the
    // sums are added up across ranks below.
    const BatchSlice part = comm_ && data.n > 0 ? batch_slice(data.n, comm_->rank(), comm_->size())
                                                : BatchSlice{0, data.n};
    for (int first = part.first; first < part.first + part.count; first += kEvalChunk) {
        const int count = std::min(kEvalChunk, part.first + part.count - first);
        MatrixView<T> x(x_.data(), n0, count);
        data.with_images([&](auto images) { be_.load_inputs(x, images.col_range(first, count)); });
        const EvalSums c = be_.evaluate(bp_.feedforward(x), data.labels() + first, cfg_.cost);
        s.correct += c.correct;
        s.cost += c.cost;
    }
    if (comm_) {
        double sums[2] = {double(s.correct), s.cost};  // counts below 2^53 are exact in double
        comm_->allreduce_host(sums, 2, ReduceOp::sum);
        s.correct = static_cast<long long>(sums[0]);
        s.cost = sums[1];
    }
    Evaluation e;
    e.correct = s.correct;
    e.total = data.n;
    // network2.py's total_cost: mean per-example cost plus (lambda / 2n) sum ||w||^2. By default n
    // is the training set's (the regularisation belongs to the training objective); network2.py
    // itself divides by len(data), the evaluated set's (L2Scale::evaluated_set; an empty set
    // keeps the training set's n rather than divide by zero).
    const int l2_n = cfg_.l2_scale == L2Scale::evaluated_set && data.n > 0 ? data.n : train_.n;
    e.cost = (data.n ? s.cost / data.n : 0.0) + bp_.l2_term(cfg_.lambda, l2_n);
    return e;
}

template <class T>
int Trainer<T>::run(const TrainCallbacks& cb) {
    // Same settings and starting parameters on every rank (after first_epoch epochs on a resume).
    if (comm_) check_replicas(cfg_.first_epoch);
    if (cb.on_start) cb.on_start(TrainStart{cfg_.first_epoch, cfg_.epochs, recording(), plan_.front().steps, launch_});
    for (int epoch = cfg_.first_epoch; epoch < cfg_.epochs; ++epoch) {
        EpochResult r;
        r.epoch = epoch + 1;
        r.train_seconds = train_epoch(epoch, cb, &r.examples);
        r.examples_per_second = r.train_seconds > 0 ? double(r.examples) / r.train_seconds : 0.0;
        // Diverged parameters never recover; evaluating or training on would only print
        // meaningless figures. (Identical on every rank: the replicas are checked below.)
        if (!bp_.params_finite())
            BP_THROW("training diverged in epoch " << epoch + 1
                                                   << ": the parameters are no longer all finite numbers (infinity or "
                                                      "NaN); try a smaller learning rate eta");
        if (comm_) check_replicas(epoch + 1);
        const bool stopped = comm_ ? any_rank_stops(cb) : cb.stop && cb.stop->load();
        if (cfg_.monitor_evaluation && eval_) r.evaluation = evaluate(*eval_);
        if (cfg_.monitor_training) r.training = evaluate(train_);
        const bool go_on = cb.on_epoch ? cb.on_epoch(r) : true;
        if (stopped || !go_on) return epoch + 1;
    }
    return std::max(cfg_.epochs, cfg_.first_epoch);
}

template struct DeviceData<float>;
template struct DeviceData<double>;
template class Trainer<float>;
template class Trainer<double>;

}  // namespace batchprop
