// Training benchmarks: one SGD step (Backprop::train_step on a fixed mini-batch) and one
// epoch (Trainer::train_epoch), per-example vs matrix mode, on every usable device, over the
// batch sizes m and the networks below. Each configuration is validated (reference gradient
// in double, then the timed float path against it) before it is timed. Not a test: nothing
// here asserts a speed.
//
//   build/bench/bench_train                                   # the default sweep, ~2-3 min on 2 cores
//   build/bench/bench_train --benchmark_filter='step/cpu/784-30-10/'
//   build/bench/bench_train --benchmark_out=train.json --benchmark_out_format=json
//
// Names: {step|epoch}/{cpu|cuda}/{sizes}/m:{m}/{per-example|matrix}, and
// gemm-share/{cpu|cuda}/784-1024-1024-10/m:1024 (a matrix step against its GEMMs alone:
// counters gemm_FLOP/s and gemm_share, see bm_gemm_share). Counters:
//   items_per_second  examples per second (SetItemsProcessed)
//   FLOP/s            GEMM arithmetic per second (napkin count in step_flops; shown as e.g. 41G/s)
//   speedup           on matrix-mode rows: (per-example seconds) / (matrix seconds) for the same
//                     device, network and m, both measured in this process
// Labels say which data (Fashion-MNIST or random) and how far each configuration was checked.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "batchprop/backprop.hpp"
#include "batchprop/trainer.hpp"
#include "bench_common.hpp"

namespace bench {
namespace {

const std::vector<std::vector<int>> kNets = {{784, 30, 10}, {784, 100, 10}, {784, 1024, 1024, 10}};
const std::vector<int> kBatches = {1, 10, 32, 100, 1000};
constexpr double kEta = 3.0;          // the book's chapter-1 learning rate
constexpr std::uint64_t kSeed = 1;    // initialisation and shuffling
constexpr long long kNTrain = 50000;  // n in the update (only matters with lambda > 0)

// Examples per timed epoch. On the GPU: the whole 50,000. On the CPU the wide network's
// epochs run over the first 1,000 examples only (set BENCH_CPU_WIDE_EPOCH_EXAMPLES to change
// it): its per-example epoch over 50,000 takes minutes here, and there are ten wide-network
// epoch rows. examples/s and the speedup stay comparable; the label says how many were used.
int epoch_examples(const Device& d, const std::vector<int>& sizes) {
    const int n = train_images().data.n;
    if (d.name != "cpu" || sizes.size() <= 3) return n;
    const char* env = std::getenv("BENCH_CPU_WIDE_EPOCH_EXAMPLES");
    const int want = env && std::atoi(env) > 0 ? std::atoi(env) : 1000;
    return std::min(n, std::max(want, 1000));  // at least one mini-batch of the largest m
}

std::string net_name(const std::vector<int>& sizes) {
    std::string s;
    for (int n : sizes) s += (s.empty() ? "" : "-") + std::to_string(n);
    return s;
}

// Napkin FLOP count of one SGD step on m examples, GEMMs only (the elementwise work is
// O(n_l m), not O(n_l n_{l-1} m)):
//   forward  z[l] = w[l] a[l-1]              2 n_l n_{l-1} m    l = 1..L
//   BP4      nabla_w[l] = delta[l] a[l-1]^T  2 n_l n_{l-1} m    l = 1..L
//   BP2      w[l]^T delta[l]                 2 n_l n_{l-1} m    l = 2..L (none into the input)
// so the backward pass is ~2x the forward. Per-example mode does the same arithmetic as m
// matrix-vector products and rank-1 updates, so the same count serves both modes.
double step_flops(const std::vector<int>& sizes, int m) {
    double f = 0.0;
    for (std::size_t l = 1; l < sizes.size(); ++l) {
        const double nn = double(sizes[l]) * double(sizes[l - 1]) * double(m);
        f += 2 * nn + 2 * nn + (l > 1 ? 2 * nn : 0.0);
    }
    return f;
}

// ---- validation: reference, then the timed path against it ------------------------------------

// The first m training images as doubles, one-hot targets, and a network initialised the
// same way for every device. Scaled init (N(0, 1/n_in) weights) keeps the wide network out
// of saturation, so its gradients are not all ~0 and the comparison means something.
struct Problem {
    Network<double> net;
    std::vector<double> x, y;  // x: (n_0 x m), y: (n_L x m)
    int m = 0;
};

Problem make_problem(const std::vector<int>& sizes, int m) {
    Problem p;
    p.net = Network<double>(sizes);
    p.net.init(Init::scaled, kSeed);
    p.m = m;
    const Dataset& d = train_images().data;
    p.x.resize(std::size_t(sizes.front()) * std::size_t(m));
    for (std::size_t i = 0; i < p.x.size(); ++i) p.x[i] = pixel_to_input<double>(d.pixels[i]);
    p.y.assign(std::size_t(sizes.back()) * std::size_t(m), 0.0);
    for (int j = 0; j < m; ++j) p.y[std::size_t(j) * std::size_t(sizes.back()) + std::size_t(d.labels[std::size_t(j)])] = 1.0;
    return p;
}

// A Problem's mini-batch uploaded to a device in type T: x (n_0 x m) and y (n_L x m).
template <class T>
struct DeviceBatch {
    DeviceBatch(Backend<T>& be, const Problem& p) : x_buf(be, p.x.size()), y_buf(be, p.y.size()) {
        x_buf.upload(std::vector<T>(p.x.begin(), p.x.end()));
        y_buf.upload(std::vector<T>(p.y.begin(), p.y.end()));
        x = ConstView<T>(x_buf.data(), p.net.sizes().front(), p.m);
        y = ConstView<T>(y_buf.data(), p.net.sizes().back(), p.m);
    }
    Buffer<T> x_buf, y_buf;
    ConstView<T> x, y;
};

// nabla (summed over the m columns) computed by `mode` on backend `be` in type T.
template <class T>
std::vector<T> gradient(Backend<T>& be, const Problem& p, Mode mode) {
    Backprop<T> bp(be, p.net.layout(), p.m);
    bp.set_params(p.net.cast<T>().params());
    const DeviceBatch<T> batch(be, p);
    bp.backprop(batch.x, batch.y, mode, Cost::quadratic);
    return bp.nabla();
}

// Tolerances, normwise (max |diff| / max |reference|):
//   double, per-example vs matrix on the CPU: the same sums in a different order, ~1e-15 seen;
//   double on another device: its own GEMM summation order;
//   float: rounding of inputs and parameters to float plus float sums of up to 1024 terms and
//          m columns; ~1e-6 seen, the bound leaves a wide margin while catching real bugs
//          (a wrong index or a missing term is an O(1) error).
constexpr double kTolF64Cpu = 1e-10, kTolF64Device = 1e-9, kTolF32 = 1e-4;

struct Validation {
    std::string error;  // empty: passed
    std::string note;   // for the label: the worst relative errors seen
};

// Cached per (device, network, m): both modes of one configuration share it.
const Validation& validate(const Device& d, const std::vector<int>& sizes, int m) {
    static std::map<std::string, Validation> done;
    static std::map<std::string, std::vector<double>> reference;  // per (network, m)
    const std::string key = d.name + "/" + net_name(sizes) + "/" + std::to_string(m);
    if (auto it = done.find(key); it != done.end()) return it->second;
    Validation& v = done[key];
    const Problem p = make_problem(sizes, m);
    CompareResult worst_f32;
    try {
        // The reference: the CPU, in double, matrix mode, checked against the book's
        // per-example loop on the same numbers.
        const std::string rkey = net_name(sizes) + "/" + std::to_string(m);
        if (!reference.count(rkey)) {
            Backend<double>& cpu = backend<double>(Device{"cpu", parse_device("cpu")});
            std::vector<double> ref = gradient(cpu, p, Mode::matrix);
            const CompareResult c = compare_normwise(gradient(cpu, p, Mode::per_example), ref,
                                                     kTolF64Cpu, "cpu f64 per-example vs matrix");
            if (!c.ok) {
                v.error = c.message;
                return v;
            }
            reference[rkey] = std::move(ref);
        }
        const std::vector<double>& ref = reference[rkey];
        for (Mode mode : {Mode::per_example, Mode::matrix}) {
            if (d.name != "cpu") {
                const CompareResult c = compare_normwise(gradient(backend<double>(d), p, mode), ref, kTolF64Device,
                                                         d.name + " f64 " + to_string(mode) + " vs cpu f64");
                if (!c.ok) {
                    v.error = c.message;
                    return v;
                }
            }
            const CompareResult c = compare_normwise(gradient(backend<float>(d), p, mode), ref, kTolF32,
                                                     d.name + " f32 " + to_string(mode) + " vs cpu f64");
            if (!c.ok) {
                v.error = c.message;
                return v;
            }
            if (c.rel >= worst_f32.rel) worst_f32 = c;
        }
    } catch (const std::exception& e) {
        v.error = std::string("validation threw: ") + e.what();
        return v;
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, "grad checked, f32 err %.1e", worst_f32.rel);
    v.note = buf;
    return v;
}

// ---- timing ----------------------------------------------------------------------------------

// Per-example seconds per iteration, by (kind/device/network/m), from the per-example run of
// the same configuration (registered just before the matrix one). Matrix rows divide by it.
std::map<std::string, double>& per_example_seconds() {
    static std::map<std::string, double> m;
    return m;
}

std::string config_key(const char* kind, const Device& d, const std::vector<int>& sizes, int m) {
    return std::string(kind) + "/" + d.name + "/" + net_name(sizes) + "/" + std::to_string(m);
}

// Mean seconds of f() over at least `min_seconds` and 2 calls (the speedup's denominator when
// the per-example benchmark was filtered out of this run).
template <class F>
double mean_seconds(Memory& mem, F&& f, double min_seconds) {
    double total = 0.0;
    int n = 0;
    while (n < 2 || total < min_seconds) {
        total += seconds(mem, f);
        ++n;
    }
    return total / n;
}

// Common reporting of a finished run: examples/s, FLOP/s, and the speedup or its cache entry.
template <class F>
void report(benchmark::State& st, const std::string& key, Mode mode, double seconds_per_iter,
            long long examples_per_iter, double flops_per_iter, F&& time_per_example_mode) {
    st.SetItemsProcessed(st.iterations() * examples_per_iter);
    st.counters["FLOP/s"] = benchmark::Counter(flops_per_iter, benchmark::Counter::kIsIterationInvariantRate);
    if (mode == Mode::per_example) {
        per_example_seconds()[key] = seconds_per_iter;
        return;
    }
    auto it = per_example_seconds().find(key);
    const double pe = it != per_example_seconds().end() ? it->second : time_per_example_mode();
    st.counters["speedup"] = pe / seconds_per_iter;
}

struct Config {
    Device dev;
    std::vector<int> sizes;
    int m;
    Mode mode;
    Launch launch = Launch::graph;  // epochs on a GPU run both ways; the CPU is always eager
};

// A network (scaled init, kSeed) and a fixed mini-batch (the first m training images) on a
// device, for timing single SGD steps. Every timed step starts from the same parameters,
// restored untimed from a device copy: η = 3 on one fixed mini-batch, thousands of times over,
// would otherwise drive the sigmoids into saturation and time a different computation.
struct StepFixture {
    StepFixture(Backend<float>& backend, const std::vector<int>& sizes, int m)
        : be(backend), net(sizes), bp(backend, net.layout(), m), batch(backend, make_problem(sizes, m)),
          initial(backend, net.layout().n_params()) {
        net.init(Init::scaled, kSeed);
        bp.set_params(net.params());
        initial.upload(net.params());
    }
    // What training runs: in matrix mode the update is fused into the backward pass.
    void step(Mode mode) { bp.train_step(batch.x, batch.y, mode, Cost::quadratic, kEta, 0.0, kNTrain); }
    void restore() {
        be.copy(bp.params_device(), initial.data(), sizeof(float) * initial.size(), CopyKind::device_to_device);
    }

    Backend<float>& be;
    Network<float> net;
    Backprop<float> bp;
    DeviceBatch<float> batch;
    Buffer<float> initial;
};

// One SGD step on a fixed mini-batch: the first m training images.
void bm_step(benchmark::State& st, const Config& c) {
    try {
        const Validation& v = validate(c.dev, c.sizes, c.m);
        if (!v.error.empty()) {
            st.SkipWithError(v.error.c_str());
            return;
        }
        Backend<float>& be = backend<float>(c.dev);
        StepFixture f(be, c.sizes, c.m);
        f.step(c.mode);  // warm-up: first-touch of workspaces, BLAS thread start-up, cuBLAS init
        f.restore();

        double total = 0.0;
        for (auto _ : st) {
            const double s = seconds(be, [&] { f.step(c.mode); });
            st.SetIterationTime(s);
            total += s;
            f.restore();
        }
        report(st, config_key("step", c.dev, c.sizes, c.m), c.mode, total / double(st.iterations()), c.m,
               step_flops(c.sizes, c.m), [&] {
                   return mean_seconds(be, [&] { f.step(Mode::per_example); f.restore(); }, 0.2);
               });
        st.SetLabel(train_images().label + "; " + v.note);
    } catch (const std::exception& e) {
        st.SkipWithError(e.what());
    }
}

// A data set uploaded once per (device, number of examples), shared by the epoch benchmarks.
// The host data stays next to it: on the CPU, DeviceData reads the Dataset's images in place.
const DeviceData<float>& device_data(const Device& d, int n) {
    struct Entry {
        Dataset part;  // the first n examples when fewer than all (else unused)
        std::unique_ptr<DeviceData<float>> data;
    };
    static std::map<std::string, Entry> cache;  // map nodes do not move: `part` stays put
    Entry& slot = cache[d.name + "/" + std::to_string(n)];
    if (!slot.data) {
        const Dataset& all = train_images().data;
        if (n != all.n) slot.part = all.slice(0, n);
        slot.data = std::make_unique<DeviceData<float>>(backend<float>(d), n == all.n ? all : slot.part);
    }
    return *slot.data;
}

// One epoch of Trainer::train_epoch: shuffle, gather each mini-batch, backprop, update.
void bm_epoch(benchmark::State& st, const Config& c) {
    try {
        const Validation& v = validate(c.dev, c.sizes, c.m);
        if (!v.error.empty()) {
            st.SkipWithError(v.error.c_str());
            return;
        }
        Backend<float>& be = backend<float>(c.dev);
        const int n = epoch_examples(c.dev, c.sizes);
        const DeviceData<float>& data = device_data(c.dev, n);
        Network<float> net(c.sizes);
        net.init(Init::scaled, kSeed);

        auto make_trainer = [&](Mode mode) {
            TrainConfig cfg;
            // Fused steps are matrix mode only: the per-example denominator is recorded.
            cfg.launch = mode == Mode::per_example && c.launch == Launch::fused ? Launch::graph : c.launch;
            cfg.batch = c.m;
            cfg.eta = kEta;
            cfg.mode = mode;
            cfg.seed = kSeed;
            cfg.monitor_evaluation = false;
            auto t = std::make_unique<Trainer<float>>(be, net.layout(), data, nullptr, cfg);
            t->backprop().set_params(net.params());
            return t;
        };
        auto trainer = make_trainer(c.mode);
        int epoch = 0;
        // Warm-up on a GPU: one untimed epoch of the same trainer (shuffle, gather, every step),
        // so the timed epochs pay neither lazy module loading, the first scratch allocations,
        // nor the recording of the steps as graphs. Not on the CPU, where it would double the
        // run time and there is nothing to warm.
        if (be.kind() != DeviceKind::cpu) trainer->train_epoch(epoch++);
        double total = 0.0;
        for (auto _ : st) {
            const double s = seconds(be, [&] { trainer->train_epoch(epoch++); });
            st.SetIterationTime(s);
            total += s;
        }
        // Training must not have diverged into NaN (that would time a different computation).
        for (float w : trainer->backprop().params())
            if (!std::isfinite(w)) {
                st.SkipWithError("parameters are not finite after the timed epoch(s)");
                return;
            }
        // The speedup's denominator: the per-example epoch launched the same way (fused has no
        // per-example form: its rows compare with the recorded per-example epoch).
        report(st, config_key(c.launch == Launch::eager ? "epoch-eager" : "epoch", c.dev, c.sizes, c.m), c.mode,
               total / double(st.iterations()), n,
               step_flops(c.sizes, 1) * n, [&] {
                   auto pe = make_trainer(Mode::per_example);
                   if (be.kind() != DeviceKind::cpu) pe->train_epoch(0);  // warm-up, as above
                   return seconds(be, [&] { pe->train_epoch(1); });
               });
        std::string label = train_images().label;
        if (n < train_images().data.n) label += ", first " + std::to_string(n) + " examples (CPU limit)";
        st.SetLabel(label + "; " + v.note);
    } catch (const std::exception& e) {
        st.SkipWithError(e.what());
    }
}

// How close a matrix-mode step comes to the GEMMs it is made of: the wide network at m = 1024,
// one training step (Backprop::train_step) against the same GEMM calls alone, on buffers of
// the same shapes:
//   forward  z[l] = w[l] a[l-1]                       l = 1..L
//   BP2      w[l]^T delta[l]                          l = L..2
//   BP4+SGD  w[l] = decay w[l] - (eta/m) delta[l] a[l-1]^T   l = L..1
// counter gemm_share = (GEMMs alone) / (step) seconds: the fraction of the step that is
// product work, i.e. the step's throughput as a fraction of what the BLAS reaches on the same
// shapes. What is left is the elementwise kernels (bias + sigma, deltas, row sums).
void bm_gemm_share(benchmark::State& st, const Device& dev) {
    try {
        const std::vector<int> sizes{784, 1024, 1024, 10};
        const int m = 1024, L = int(sizes.size()) - 1;
        Backend<float>& be = backend<float>(dev);
        StepFixture f(be, sizes, m);
        auto step = [&f] { f.step(Mode::matrix); };

        // The GEMMs alone: per layer w (n_l x n_{l-1}), a (n_{l-1} x m), z/delta (n_l x m).
        std::vector<Buffer<float>> w, a, z;
        for (int l = 1; l <= L; ++l) {
            const std::size_t nl = std::size_t(sizes[l]), np = std::size_t(sizes[l - 1]);
            w.emplace_back(be, nl * np);
            a.emplace_back(be, np * std::size_t(m));
            z.emplace_back(be, nl * std::size_t(m));
            w.back().upload(random_vector<float>(nl * np, 10 + l, -0.05, 0.05));
            a.back().upload(random_vector<float>(np * std::size_t(m), 20 + l, 0.01, 1.0));
            z.back().upload(random_vector<float>(nl * std::size_t(m), 30 + l, -0.01, 0.01));
        }
        auto gemms = [&] {
            for (int l = 1; l <= L; ++l) {
                const int nl = sizes[l], np = sizes[l - 1], i = l - 1;
                be.gemm(MatrixView<float>(z[i].data(), nl, m), Op::N, ConstView<float>(w[i].data(), nl, np), Op::N,
                        ConstView<float>(a[i].data(), np, m), 1.0f, 0.0f);
            }
            for (int l = L; l >= 2; --l) {
                const int nl = sizes[l], np = sizes[l - 1], i = l - 1;
                be.gemm(MatrixView<float>(a[i].data(), np, m), Op::T, ConstView<float>(w[i].data(), nl, np), Op::N,
                        ConstView<float>(z[i].data(), nl, m), 1.0f, 0.0f);
            }
            for (int l = L; l >= 1; --l) {
                const int nl = sizes[l], np = sizes[l - 1], i = l - 1;
                be.gemm(MatrixView<float>(w[i].data(), nl, np), Op::N, ConstView<float>(z[i].data(), nl, m), Op::T,
                        ConstView<float>(a[i].data(), np, m), float(-kEta / m), 1.0f);
            }
        };
        step();  // warm-up
        f.restore();
        gemms();
        // Interleaved, step then GEMMs, so that drifts in the machine's speed hit both alike.
        double step_s = 0.0, gemm_s = 0.0;
        for (auto _ : st) {
            const double s = seconds(be, step);
            st.SetIterationTime(s);
            step_s += s;
            f.restore();  // untimed, as in bm_step
            gemm_s += seconds(be, gemms);
        }
        step_s /= double(st.iterations());
        gemm_s /= double(st.iterations());
        st.SetItemsProcessed(st.iterations() * m);
        st.counters["FLOP/s"] = benchmark::Counter(step_flops(sizes, m), benchmark::Counter::kIsIterationInvariantRate);
        st.counters["gemm_FLOP/s"] = step_flops(sizes, m) / gemm_s;
        st.counters["gemm_share"] = gemm_s / step_s;
    } catch (const std::exception& e) {
        st.SkipWithError(e.what());
    }
}

}  // namespace

void register_benchmarks() {
    // Per-example before matrix for each configuration, so the matrix row finds its
    // denominator already measured. Steps: Google Benchmark picks the iteration count (at
    // least 0.2 s of timed work). Epochs: one epoch per configuration on the CPU (seconds
    // each; repeating them would put the default run far past three minutes), three on a GPU
    // (one for the wide network, whose per-example GPU epoch is launch-bound and takes seconds).
    for (const char* kind : {"step", "epoch"}) {
        for (const Device& d : devices()) {
            for (const auto& sizes : kNets) {
                for (int m : kBatches) {
                    // On a GPU, epochs run with CUDA graphs, eagerly and (matrix mode) fused,
                    // so the rows show what replaying recorded steps and fusing them save.
                    const bool all = std::string(kind) == "epoch" && d.name != "cpu";
                    for (Launch launch : all ? std::vector<Launch>{Launch::graph, Launch::eager, Launch::fused}
                                             : std::vector<Launch>{Launch::graph})
                    for (Mode mode : {Mode::per_example, Mode::matrix}) {
                        // Fused rows for the book's network (the one whose parameters fit in
                        // shared memory), at every m, so they show where fusing stops paying.
                        if (launch == Launch::fused && (mode != Mode::matrix || sizes.size() != 3 || sizes[1] != 30))
                            continue;
                        const Config c{d, sizes, m, mode, launch};
                        const std::string name = std::string(kind) + "/" + d.name + "/" + net_name(sizes) +
                                                 "/m:" + std::to_string(m) + "/" + to_string(mode) +
                                                 (all ? std::string("/") + launch_name(launch) : "");
                        benchmark::internal::Benchmark* b =
                            std::string(kind) == "step"
                                ? benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& st) { bm_step(st, c); })
                                      ->MinTime(0.2)
                                : benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& st) { bm_epoch(st, c); })
                                      ->Iterations(d.name == "cpu" || sizes.size() > 3 ? 1 : 3);
                        b->UseManualTime()->Unit(std::string(kind) == "step" ? benchmark::kMicrosecond
                                                                            : benchmark::kMillisecond);
                    }
                }
            }
        }
        register_gpu_unavailable(kind);
    }
    for (const Device& d : devices())
        benchmark::RegisterBenchmark(("gemm-share/" + d.name + "/784-1024-1024-10/m:1024").c_str(),
                                     [d](benchmark::State& st) { bm_gemm_share(st, d); })
            ->MinTime(0.5)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
}

}  // namespace bench

BENCH_MAIN()
