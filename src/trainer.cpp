// The SGD loop: shuffle, mini-batches, update, evaluate. See trainer.hpp.
#include "batchprop/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

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
    : n_inputs(host.n_inputs), n(host.n), x_(be, host.x.size()), labels_(be, host.labels.size()) {
    BP_REQUIRE(host.x.size() == std::size_t(host.n_inputs) * std::size_t(host.n) &&
                   host.labels.size() == std::size_t(host.n),
               "data set '" << host.source << "' is inconsistent");
    if constexpr (std::is_same_v<T, float>) {
        x_.upload(host.x);
    } else {
        // Converted in slices so a double copy of a large set never sits on the host whole.
        std::vector<T> tmp;
        const std::size_t slice = std::size_t(1) << 22;
        for (std::size_t off = 0; off < host.x.size(); off += slice) {
            const std::size_t cnt = std::min(slice, host.x.size() - off);
            tmp.assign(host.x.begin() + std::ptrdiff_t(off), host.x.begin() + std::ptrdiff_t(off + cnt));
            x_.upload(tmp.data(), cnt, off);
        }
    }
    labels_.upload(host.labels);
}

void validate(const TrainConfig& c, int n_train) {
    if (c.epochs < 1) BP_THROW("--epochs must be at least 1 (got " << c.epochs << ")");
    if (c.batch < 1) BP_THROW("--batch must be at least 1 (got " << c.batch << ")");
    if (n_train < 1) BP_THROW("the training set is empty");
    if (c.batch > n_train)
        BP_THROW("--batch " << c.batch << " is larger than the training set (" << n_train << " examples)");
    if (!(c.eta > 0.0) || !std::isfinite(c.eta))
        BP_THROW("--eta must be a finite number > 0 (got " << c.eta << ")");
    if (!(c.lambda >= 0.0) || !std::isfinite(c.lambda))
        BP_THROW("--lambda must be a finite number >= 0 (got " << c.lambda << ")");
    if (c.eta * c.lambda / n_train >= 1.0)
        BP_THROW("--eta * --lambda / n = " << c.eta * c.lambda / n_train
                                           << " >= 1: weight decay would flip or zero every weight");
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
      x_(backend, std::size_t(layout.n(0)) * std::size_t(config.batch)),
      y_(backend, std::size_t(layout.n(layout.n_layers())) * std::size_t(config.batch)) {
    if (train.n_inputs != layout.n(0))
        BP_THROW("the network has " << layout.n(0) << " input neurons but the images have "
                                    << train.n_inputs << " pixels");
    if (eval && eval->n_inputs != layout.n(0))
        BP_THROW("the network has " << layout.n(0) << " input neurons but the evaluation images have "
                                    << eval->n_inputs << " pixels");
}

template <class T>
double Trainer<T>::train_epoch(int epoch, const TrainCallbacks& cb, long long* examples_done) {
    const int n = train_.n, n0 = train_.n_inputs, nL = bp_.layout().n(bp_.layout().n_layers());
    const auto t0 = Clock::now();
    if (cfg_.shuffle) be_.permutation(order_.data(), n, cfg_.seed, std::uint64_t(epoch));
    long long done = 0;
    for (int first = 0; first < n; first += cfg_.batch) {
        // The last batch may be partial; it is used, and averaged by its own size m.
        const int m = std::min(cfg_.batch, n - first);
        ConstView<T> x;
        MatrixView<T> y(y_.data(), nL, m);
        if (cfg_.shuffle) {
            // Mini-batch = the columns order[first .. first+m) of the data, gathered on the device.
            MatrixView<T> xg(x_.data(), n0, m);
            be_.gather_columns(xg, train_.x(), order_.data() + first);
            be_.one_hot(y, train_.labels(), order_.data() + first);
            x = xg;
        } else {
            // Unshuffled, a mini-batch is simply a column range: no copy.
            x = train_.x().col_range(first, m);
            be_.one_hot(y, train_.labels() + first, nullptr);
        }
        bp_.train_step(x, y, cfg_.mode, cfg_.cost, cfg_.eta, cfg_.lambda, n);
        done = first + m;
        if (cb.on_batch) cb.on_batch(BatchProgress{epoch + 1, done, n, seconds_since(t0)});
        if (cb.stop && cb.stop->load(std::memory_order_relaxed)) break;
    }
    be_.synchronize();
    if (examples_done) *examples_done = done;
    return seconds_since(t0);
}

template <class T>
Evaluation Trainer<T>::evaluate(const DeviceData<T>& data) {
    const EvalSums s = bp_.evaluate(data.x(), data.labels(), cfg_.cost);
    Evaluation e;
    e.correct = s.correct;
    e.total = data.n;
    // network2.py's total_cost: mean per-example cost plus (lambda / 2n) sum ||w||^2, with n
    // the size of the training set (the regularisation belongs to the training objective).
    e.cost = (data.n ? s.cost / data.n : 0.0) + bp_.l2_term(cfg_.lambda, train_.n);
    return e;
}

template <class T>
int Trainer<T>::run(const TrainCallbacks& cb) {
    for (int epoch = 0; epoch < cfg_.epochs; ++epoch) {
        EpochResult r;
        r.epoch = epoch + 1;
        r.train_seconds = train_epoch(epoch, cb, &r.examples);
        r.examples_per_second = r.train_seconds > 0 ? double(r.examples) / r.train_seconds : 0.0;
        const bool stopped = cb.stop && cb.stop->load();
        if (cfg_.monitor_evaluation && eval_) r.evaluation = evaluate(*eval_);
        if (cfg_.monitor_training) r.training = evaluate(train_);
        const bool go_on = cb.on_epoch ? cb.on_epoch(r) : true;
        if (stopped || !go_on) return epoch + 1;
    }
    return cfg_.epochs;
}

template struct DeviceData<float>;
template struct DeviceData<double>;
template class Trainer<float>;
template class Trainer<double>;

}  // namespace batchprop
