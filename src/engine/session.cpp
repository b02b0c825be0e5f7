// batchprop::Session (batchprop.hpp): the network, backend and trainer behind one class, with
// the scalar type chosen at run time. Impl is the interface; ImplT<T> holds everything typed.
#include "batchprop/batchprop.hpp"

#include <algorithm>
#include <utility>

#include "batchprop/backend.hpp"
#include "batchprop/backprop.hpp"
#include "engine/data_fit.hpp"
#include "engine/session_access.hpp"

namespace batchprop {

Dataset make_dataset(int n_inputs, std::vector<std::uint8_t> pixels, std::vector<int> labels, std::string source) {
    if (n_inputs < 1) BP_THROW(source << ": images need at least one pixel (got " << n_inputs << ")");
    if (pixels.size() % std::size_t(n_inputs) != 0)
        BP_THROW(source << ": " << pixels.size() << " pixels is not a whole number of " << n_inputs << "-pixel images");
    Dataset d;
    d.n_inputs = n_inputs;
    d.n = int(pixels.size() / std::size_t(n_inputs));
    if (!labels.empty() && labels.size() != std::size_t(d.n))
        BP_THROW(source << ": " << d.n << " images but " << labels.size() << " labels");
    for (int l : labels)
        if (l < 0) BP_THROW(source << ": a label is negative (" << l << ")");
    d.pixels = std::move(pixels);
    d.labels = std::move(labels);
    d.source = std::move(source);
    return d;
}

struct Session::Impl {
    virtual ~Impl() = default;
    virtual DType dtype() const = 0;
    virtual std::string device() const = 0;
    virtual int train(const Dataset& train, const Dataset* eval, TrainConfig cfg, const TrainCallbacks& cb) = 0;
    virtual Evaluation evaluate(const Dataset& data) = 0;
    virtual std::vector<double> outputs(const Dataset& images) = 0;
    virtual Network<double> network() const = 0;
    virtual void set_network(const Network<double>& net) = 0;
    virtual Memory& memory() = 0;
    virtual double allreduce_seconds(bool wait_only) const = 0;

    std::vector<int> sizes;
    std::shared_ptr<const SharedData> shared;  // SessionAccess::share_data
    Communicator* comm = nullptr;  // data-parallel training when set (set_communicator)
    std::uint64_t data_fingerprint = 0;
    Cost cost = Cost::quadratic;
    std::string notice;
};

// See engine/data_fit.hpp.
void check_data_fits(const Dataset& d, const std::vector<int>& sizes, bool need_labels) {
    if (d.n_inputs != sizes.front())
        BP_THROW(d.source << ": images of " << d.n_inputs << " pixels, but the network has " << sizes.front()
                          << " input neurons");
    if (need_labels && d.labels.size() != std::size_t(d.n)) BP_THROW(d.source << ": the examples have no labels");
    if (need_labels && d.max_label() >= sizes.back())
        BP_THROW((d.labels_source.empty() ? d.source : d.labels_source)
                 << ": label " << d.max_label() << " is beyond the network's " << sizes.back() << " outputs");
}

namespace {

template <class T>
struct SharedDataT final : SharedData {
    std::unique_ptr<Backend<T>> be;  // first: the buffers below are its, freed before it goes
    std::optional<DeviceData<T>> train_d, eval_d;
};

template <class T>
struct ImplT final : Session::Impl {
    ImplT(std::unique_ptr<Backend<T>> backend, Network<T> network) : be(std::move(backend)), net(std::move(network)) {
        sizes = net.sizes();
    }

    DType dtype() const override { return sizeof(T) == sizeof(double) ? DType::f64 : DType::f32; }
    std::string device() const override { return be->name(); }

    int train(const Dataset& train, const Dataset* eval, TrainConfig cfg, const TrainCallbacks& cb) override {
        // A callback calling train() again would run a second trainer over the first one's buffers.
        if (active) BP_THROW("train: not while training (called from a training callback)");
        check_data_fits(train, sizes, true);
        if (eval) check_data_fits(*eval, sizes, true);
        cfg.cost = cost;  // the session's (config.cost is ignored: set_cost chooses)
        // The data on this device: shared with other sessions (a sweep's), or a copy of our own.
        const auto* on_device = dynamic_cast<const SharedDataT<T>*>(shared.get());
        std::optional<DeviceData<T>> own_train, own_eval;
        const DeviceData<T>* dtrain = nullptr;
        const DeviceData<T>* deval = nullptr;
        if (on_device && on_device->train == &train) dtrain = &*on_device->train_d;
        else dtrain = &own_train.emplace(*be, train);
        if (on_device && eval && on_device->eval == eval) deval = &*on_device->eval_d;
        else if (eval) deval = &own_eval.emplace(*be, *eval);
        Trainer<T> trainer(*be, net.layout(), *dtrain, deval, cfg, comm, data_fingerprint);
        trainer.backprop().set_params(net.params());
        // While it runs, network() reads the trainer's parameters; afterwards they are ours.
        struct Active {
            ImplT* self;
            ~Active() {
                self->keep_allreduce_seconds();
                self->active = nullptr;
                self->running = nullptr;
            }
        } guard{this};
        active = &trainer.backprop();
        running = &trainer;
        const int last = trainer.run(cb);
        net.params() = trainer.backprop().params();
        return last;
    }

    Memory& memory() override { return *be; }
    double allreduce_seconds(bool wait_only) const override {
        if (!running) return wait_only ? allreduce_wait_s : allreduce_s;
        return wait_only ? running->allreduce_wait_seconds() : running->allreduce_seconds();
    }
    void keep_allreduce_seconds() {
        allreduce_s = running->allreduce_seconds();
        allreduce_wait_s = running->allreduce_wait_seconds();
    }

    // Feeds the images forward in chunks; f(first, count, a^L on the host).
    template <class F>
    void forward(const Dataset& d, F&& f) {
        check_data_fits(d, sizes, false);
        if (d.pixel_type() == PixelType::f32) forward(d, static_cast<const float*>(d.image_data()), f);
        else forward(d, static_cast<const std::uint8_t*>(d.image_data()), f);
    }

    // forward over images of element type S: read in place on the CPU, a chunk at a time
    // uploaded to a GPU (a chunk's worth of device memory, however large the set).
    template <class S, class F>
    void forward(const Dataset& d, const S* images, F& f) {
        const int n0 = sizes.front(), nL = sizes.back();
        const int chunk = std::max(1, std::min(1000, d.n));
        Backprop<T> bp(*be, net.layout(), chunk);
        // From a training callback: the parameters reached so far, as network() gives them.
        bp.set_params(active ? active->params() : net.params());
        Buffer<S> staging;  // (n0 x chunk) on a GPU; unused on the CPU
        if (!be->is_host_memory()) staging = Buffer<S>(*be, std::size_t(n0) * std::size_t(chunk));
        Buffer<T> x(*be, std::size_t(n0) * std::size_t(chunk));
        std::vector<T> a;
        for (int first = 0; first < d.n; first += chunk) {
            const int count = std::min(chunk, d.n - first);
            const S* chunk_images = images + std::size_t(first) * std::size_t(n0);
            if (staging.size()) {
                staging.upload(chunk_images, std::size_t(count) * std::size_t(n0));
                chunk_images = staging.data();
            }
            const MatrixView<T> xv(x.data(), n0, count);
            be->load_inputs(xv, ConstView<S>(chunk_images, n0, count));
            const ConstView<T> out = bp.feedforward(xv);  // contiguous: ld == n_L
            a.resize(std::size_t(nL) * std::size_t(count));
            be->copy(a.data(), out.data, a.size() * sizeof(T), CopyKind::device_to_host);
            f(first, count, a);
        }
    }

    Evaluation evaluate(const Dataset& d) override {
        check_data_fits(d, sizes, true);
        const int nL = sizes.back();
        Evaluation e;
        e.total = d.n;
        double cost_sum = 0.0;
        forward(d, [&](int first, int count, const std::vector<T>& a) {
            for (int j = 0; j < count; ++j) {
                const T* col = a.data() + std::size_t(j) * std::size_t(nL);
                const int truth = d.labels[std::size_t(first + j)];
                e.correct += argmax(col, nL) == truth ? 1 : 0;
                cost_sum += example_cost(cost, col, nL, truth);
            }
        });
        e.cost = d.n ? cost_sum / d.n : 0.0;
        return e;
    }

    std::vector<double> outputs(const Dataset& d) override {
        std::vector<double> out(std::size_t(sizes.back()) * std::size_t(d.n));
        forward(d, [&](int first, int, const std::vector<T>& a) {
            std::copy(a.begin(), a.end(), out.begin() + std::ptrdiff_t(first) * sizes.back());
        });
        return out;
    }

    Network<double> network() const override {
        if (!active) return net.template cast<double>();
        Network<T> now(sizes);
        now.params() = active->params();
        return now.template cast<double>();
    }

    void set_network(const Network<double>& n) override {
        if (n.sizes() != sizes)
            BP_THROW("set_network: sizes " << sizes_to_string(n.sizes()) << " for a network of "
                                           << sizes_to_string(sizes));
        if (active) BP_THROW("set_network: not while training");
        net = n.template cast<T>();
    }

    std::unique_ptr<Backend<T>> be;
    Network<T> net;
    Backprop<T>* active = nullptr;  // the running trainer's, during train()
    Trainer<T>* running = nullptr;  // the running trainer, during train()
    double allreduce_s = 0.0, allreduce_wait_s = 0.0;  // the last train()'s, once it is over
};

template <class T>
std::unique_ptr<ImplT<T>> impl_over(std::unique_ptr<Backend<T>> backend, const Network<double>& net, Cost cost) {
    auto impl = std::make_unique<ImplT<T>>(std::move(backend), net.template cast<T>());
    impl->cost = cost;
    return impl;
}

template <class T>
std::unique_ptr<Session::Impl> make_impl(const Network<double>& net, Cost cost, const SessionOptions& o) {
    std::string notice;
    auto impl = impl_over(make_backend<T>(o.device, &notice), net, cost);
    impl->notice = std::move(notice);
    return impl;
}

std::unique_ptr<Session::Impl> make_impl(const Network<double>& net, Cost cost, const SessionOptions& o) {
    return o.dtype == DType::f64 ? make_impl<double>(net, cost, o) : make_impl<float>(net, cost, o);
}

template <class T>
std::shared_ptr<SharedData> put_on_device(const SessionOptions& where, const Dataset& train, const Dataset* eval) {
    auto d = std::make_shared<SharedDataT<T>>();
    d->be = make_backend<T>(where.device, nullptr);
    if (d->be->is_host_memory()) return nullptr;
    d->train = &train;
    d->eval = eval;
    d->train_d.emplace(*d->be, train);  // uploads: done when the constructor returns
    if (eval) d->eval_d.emplace(*d->be, *eval);
    return d;
}

}  // namespace

template <class T>
Session SessionAccess::over(std::unique_ptr<Backend<T>> backend, const Network<double>& net, Cost cost) {
    return Session(impl_over(std::move(backend), net, cost));
}
template Session SessionAccess::over(std::unique_ptr<Backend<float>>, const Network<double>&, Cost);
template Session SessionAccess::over(std::unique_ptr<Backend<double>>, const Network<double>&, Cost);

std::shared_ptr<SharedData> SessionAccess::put_on_device(const SessionOptions& where, const Dataset& train,
                                                         const Dataset* eval) {
    return where.dtype == DType::f64 ? batchprop::put_on_device<double>(where, train, eval)
                                     : batchprop::put_on_device<float>(where, train, eval);
}

void SessionAccess::share_data(Session& s, std::shared_ptr<const SharedData> data) {
    s.impl_->shared = std::move(data);
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Session Session::create(const std::vector<int>& sizes, Cost cost, Init init, std::uint64_t seed,
                        const SessionOptions& options) {
    Network<double> net(sizes);
    net.init(init, seed);  // drawn in double: the same numbers for f32 and f64
    return Session(make_impl(net, cost, options));
}

Session Session::load(const std::string& path, const SessionOptions& options) {
    return from_model(load_model(path), options);
}

Session Session::from_model(const Model& model, const SessionOptions& options) {
    return Session(make_impl(model.net, model.cost, options));
}

const std::vector<int>& Session::sizes() const { return impl_->sizes; }
Cost Session::cost() const { return impl_->cost; }
void Session::set_cost(Cost cost) { impl_->cost = cost; }
DType Session::dtype() const { return impl_->dtype(); }
std::string Session::device() const { return impl_->device(); }
const std::string& Session::device_notice() const { return impl_->notice; }

int Session::train(const Dataset& train, const Dataset* eval, const TrainConfig& config,
                   const TrainCallbacks& callbacks) {
    return impl_->train(train, eval, config, callbacks);
}

Evaluation Session::evaluate(const Dataset& data) { return impl_->evaluate(data); }

void Session::set_communicator(Communicator* comm, std::uint64_t data_fingerprint) {
    impl_->comm = comm;
    impl_->data_fingerprint = data_fingerprint;
}
Memory& Session::memory() { return impl_->memory(); }
double Session::allreduce_seconds() const { return impl_->allreduce_seconds(false); }
double Session::allreduce_wait_seconds() const { return impl_->allreduce_seconds(true); }

std::vector<int> Session::predict(const Dataset& images) {
    const std::vector<double> a = impl_->outputs(images);
    const int nL = impl_->sizes.back();
    std::vector<int> labels(std::size_t(images.n));
    for (int j = 0; j < images.n; ++j) labels[std::size_t(j)] = argmax(a.data() + std::size_t(j) * std::size_t(nL), nL);
    return labels;
}

std::vector<double> Session::outputs(const Dataset& images) { return impl_->outputs(images); }
Network<double> Session::network() const { return impl_->network(); }
void Session::set_network(const Network<double>& net) { impl_->set_network(net); }

Model Session::model() const {
    Model m;
    m.net = network();
    m.cost = impl_->cost;
    return m;
}

void Session::save(const std::string& path, const nlohmann::json& settings) const {
    // network() is exact for float parameters, so this writes what a Network<float> would.
    save_model(path, network(), cost(), settings);
}

}  // namespace batchprop
