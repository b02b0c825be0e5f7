// The SGD loop: shuffle, mini-batches, update, evaluate. See trainer.hpp. How a segment's
// steps run is the runner's (src/engine/runners/), chosen once in the constructor.
#include "batchprop/trainer.hpp"

#include "batchprop/distributed.hpp"
#include "engine/runners/runner.hpp"

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
TrainerState<T>::TrainerState(Backend<T>& backend, const ParamLayout& layout, const DeviceData<T>& train_data,
                              const DeviceData<T>* eval_data, const TrainConfig& config)
    : be(backend),
      train(train_data),
      eval(eval_data),
      cfg((validate(config, train_data.n), config)),  // before any allocation sized by it
      bp(backend, layout, std::max(config.batch, kEvalChunk)),
      order(backend, std::size_t(train_data.n)),
      cursor(backend, 1),
      x(backend, std::size_t(layout.n(0)) * std::size_t(std::max(config.batch, kEvalChunk))),
      y(backend, std::size_t(layout.n(layout.n_layers())) * std::size_t(config.batch)) {}

template <class T>
Trainer<T>::Trainer(Backend<T>& backend, const ParamLayout& layout, const DeviceData<T>& train,
                    const DeviceData<T>* eval, const TrainConfig& config, Communicator* comm,
                    std::uint64_t data_fingerprint)
    : state_(std::make_unique<TrainerState<T>>(backend, layout, train, eval, config)) {
    if (train.n_inputs != layout.n(0))
        BP_THROW("the network has " << layout.n(0) << " input neurons but the images have "
                                    << train.n_inputs << " pixels");
    if (eval && eval->n_inputs != layout.n(0))
        BP_THROW("the network has " << layout.n(0) << " input neurons but the evaluation images have "
                                    << eval->n_inputs << " pixels");
    if (!state_->cfg.shuffle) {
        // Unshuffled, the order is 0..n-1 for good; batches still go through the gather, which
        // converts the bytes to T.
        std::vector<int> identity(std::size_t(train.n));
        std::iota(identity.begin(), identity.end(), 0);
        state_->order.upload(identity);
    }
    runner_ = choose_runner(*state_, comm, data_fingerprint);
    plan_segments();
}

template <class T>
Trainer<T>::Trainer(Trainer&&) noexcept = default;
template <class T>
Trainer<T>::~Trainer() = default;

template <class T>
Backprop<T>& Trainer<T>::backprop() {
    return state_->bp;
}

template <class T>
Launch Trainer<T>::launch() const {
    return runner_->launch();
}

template <class T>
void Trainer<T>::set_communicator(Communicator* comm, std::uint64_t data_fingerprint) {
    // Deprecated (trainer.hpp): the choice the constructor would have made with comm.
    runner_ = choose_runner(*state_, comm, data_fingerprint);  // the constructor's, again
    plan_segments();
}

template <class T>
double Trainer<T>::allreduce_seconds() const {
    return runner_->allreduce_seconds();
}

template <class T>
double Trainer<T>::allreduce_wait_seconds() const {
    return runner_->allreduce_wait_seconds();
}

Launch resolve_launch(Launch asked, Mode mode, bool device_fuses, const std::string& plan_error, bool preferred,
                      bool can_record) {
    // A contradiction in the settings is one on every device, the CPU included.
    if (asked == Launch::fused && mode != Mode::matrix)
        throw SettingError(Setting::launch, "fused", " runs matrix mode only (not {mode} per-example)");
    if (!device_fuses && !can_record) return Launch::eager;  // the CPU: calls run as they are made
    const Launch replayed = can_record ? Launch::graph : Launch::eager;
    switch (asked) {
        case Launch::fused:
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
void Trainer<T>::plan_segments() {
    const TrainConfig& cfg = state_->cfg;
    plan_ = plan_epoch(state_->train.n, cfg.batch, cfg.segment_steps > 0 ? cfg.segment_steps : runner_->segment_steps());
}

template <class T>
double Trainer<T>::train_epoch(int epoch, const TrainCallbacks& cb, long long* examples_done) {
    TrainerState<T>& st = *state_;
    const int n = st.train.n;
    const auto t0 = Clock::now();
    if (st.cfg.shuffle) st.be.permutation(st.order.data(), n, st.cfg.seed, std::uint64_t(epoch));
    const int start = 0;
    st.cursor.upload(&start, 1);
    long long done = 0;
    for (const Segment& s : plan_) {
        runner_->run_segment(s, cb);
        done = s.first + s.examples();
        if (cb.on_batch) cb.on_batch(BatchProgress{epoch + 1, done, n, seconds_since(t0)});
        // Distributed, every rank must leave at the same segment: the flag is agreed on.
        if (runner_->stop_requested(cb)) break;
    }
    st.be.synchronize();
    if (examples_done) *examples_done = done;
    return seconds_since(t0);
}

template <class T>
Evaluation Trainer<T>::evaluate(const DeviceData<T>& data) {
    TrainerState<T>& st = *state_;
    const int n0 = data.n_inputs;
    EvalSums s;
    // Distributed, each rank feeds forward its own contiguous share of the examples and the
    // sums are added up across ranks below.
    const BatchSlice part = runner_->evaluation_share(data.n);
    for (int first = part.first; first < part.first + part.count; first += kEvalChunk) {
        const int count = std::min(kEvalChunk, part.first + part.count - first);
        MatrixView<T> x(st.x.data(), n0, count);
        data.with_images([&](auto images) { st.be.load_inputs(x, images.col_range(first, count)); });
        const EvalSums c = st.be.evaluate(st.bp.feedforward(x), data.labels() + first, st.cfg.cost);
        s.correct += c.correct;
        s.cost += c.cost;
    }
    runner_->add_up(s);
    Evaluation e;
    e.correct = s.correct;
    e.total = data.n;
    // network2.py's total_cost: mean per-example cost plus (lambda / 2n) sum ||w||^2. By default n
    // is the training set's (the regularisation belongs to the training objective); network2.py
    // itself divides by len(data), the evaluated set's (L2Scale::evaluated_set; an empty set
    // keeps the training set's n rather than divide by zero).
    const int l2_n = st.cfg.l2_scale == L2Scale::evaluated_set && data.n > 0 ? data.n : st.train.n;
    e.cost = (data.n ? s.cost / data.n : 0.0) + st.bp.l2_term(st.cfg.lambda, l2_n);
    return e;
}

template <class T>
int Trainer<T>::run(const TrainCallbacks& cb) {
    TrainerState<T>& st = *state_;
    const TrainConfig& cfg = st.cfg;
    // Same settings and starting parameters on every rank (after first_epoch epochs on a resume).
    runner_->check_replicas(cfg.first_epoch);
    if (cb.on_start) cb.on_start(TrainStart{cfg.first_epoch, cfg.epochs, recording(), plan_.front().steps, launch()});
    for (int epoch = cfg.first_epoch; epoch < cfg.epochs; ++epoch) {
        EpochResult r;
        r.epoch = epoch + 1;
        r.train_seconds = train_epoch(epoch, cb, &r.examples);
        r.examples_per_second = r.train_seconds > 0 ? double(r.examples) / r.train_seconds : 0.0;
        // Diverged parameters never recover; evaluating or training on would only print
        // meaningless figures. (Identical on every rank: the replicas are checked below.)
        if (!st.bp.params_finite())
            BP_THROW("training diverged in epoch " << epoch + 1
                                                   << ": the parameters are no longer all finite numbers (infinity or "
                                                      "NaN); try a smaller learning rate eta");
        runner_->check_replicas(epoch + 1);
        if (cfg.monitor_evaluation && st.eval) r.evaluation = evaluate(*st.eval);
        if (cfg.monitor_training) r.training = evaluate(st.train);
        const bool go_on = cb.on_epoch ? cb.on_epoch(r) : true;
        // The stop flag is read after the evaluation and on_epoch (a checkpoint being written):
        // a signal that arrived during them ends the run here, never one mini-batch into the
        // next epoch. Distributed, every rank asks at the same point (stop_requested agrees).
        if (!go_on || runner_->stop_requested(cb)) return epoch + 1;
    }
    return std::max(cfg.epochs, cfg.first_epoch);
}

template struct DeviceData<float>;
template struct DeviceData<double>;
template struct TrainerState<float>;
template struct TrainerState<double>;
template class Trainer<float>;
template class Trainer<double>;

}  // namespace batchprop
