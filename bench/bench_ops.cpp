// Primitive benchmarks: the Backend<float> calls the algorithm is made of, at the shapes the
// networks of bench_train use, each checked against a host reference and then timed against
// the machine's measured ceilings (a large device-to-device copy for bandwidth, a large square
// SGEMM for arithmetic). Not a test: nothing here asserts a speed.
//
//   build/bench/bench_ops                                   # the default sweep, ~1 min on 2 cores
//   build/bench/bench_ops --benchmark_filter='gemm/cpu/.*m:1$'
//
// Names: ceiling/{dev}/..., gemm/{dev}/{fwd W.A|bwd Wt.delta|grad delta.At}/n:../k:../m:..,
// {op}/{dev}/n:../m:..,  small-gemm/cpu/{fwd|bwd|upd}/n:../k:../m:.. (the CPU's small-product
// kernel against the BLAS on one product of a step, interleaved; see bm_small_gemm).  Counters:
//   GB/s, FLOP/s    the napkin bytes (each operand read once, each output written once) or
//                   FLOPs (2 M N K for a GEMM) of one call, per second
//   of_bw, of_flops fraction of the ceiling measured in this process on the same device
//                   (ceiling rows run first; a filtered run measures them on demand)
// Small calls are timed K at a time (K back-to-back calls between two synchronize()s, K
// chosen so a timed sample is ~0.2 ms, at most 256): Google Benchmark's Time column is that
// of one sample of K calls (K is in the label); the us/call counter is the time of one call.
#include <cmath>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <cblas.h>

#include "bench_common.hpp"
#include "cpu/small_gemm.hpp"

namespace bench {
namespace {

// ---- ceilings --------------------------------------------------------------------------------

struct Ceiling {
    double bytes_per_s = 0.0;  // best device-to-device copy, counting read + write
    double flops_per_s = 0.0;  // best large square SGEMM
};
std::map<std::string, Ceiling>& ceilings() {
    static std::map<std::string, Ceiling> c;
    return c;
}

// Sizes: a copy whose source plus destination (512 MiB) exceed every cache here (the CPU's
// L3 is 260 MiB; a GPU's L2 is tens of MiB); a GEMM long enough to reach the steady state of
// every core / SM.
std::size_t copy_floats(const Device&) { return std::size_t(1) << 26; }  // 256 MiB
int gemm_n(const Device& d) { return d.name == "cpu" ? 2048 : 8192; }

struct CopyFixture {
    Buffer<float> src, dst;
    explicit CopyFixture(Backend<float>& be, std::size_t n) : src(be, n), dst(be, n) {
        src.upload(std::vector<float>(n, 1.5f));
        dst.upload(std::vector<float>(n, 0.5f));  // touched: no first-touch page faults in the timing
    }
};
struct SquareGemm {
    Buffer<float> a, b, c;
    int n;
    SquareGemm(Backend<float>& be, int n_) : a(be, std::size_t(n_) * n_), b(be, std::size_t(n_) * n_), c(be, std::size_t(n_) * n_), n(n_) {
        a.upload(random_vector<float>(a.size(), 1, -1.0, 1.0));
        b.upload(random_vector<float>(b.size(), 2, -1.0, 1.0));
    }
    void run(Backend<float>& be) {
        be.gemm(MatrixView<float>(c.data(), n, n), Op::N, ConstView<float>(a.data(), n, n), Op::N,
                ConstView<float>(b.data(), n, n), 1.0f, 0.0f);
    }
};

// Allocated once per device (touching 512 MiB of fresh pages costs more than the copies).
CopyFixture& copy_fixture(const Device& d) {
    static std::map<std::string, std::unique_ptr<CopyFixture>> cache;
    auto& slot = cache[d.name];
    if (!slot) slot = std::make_unique<CopyFixture>(backend<float>(d), copy_floats(d));
    return *slot;
}
SquareGemm& gemm_fixture(const Device& d) {
    static std::map<std::string, std::unique_ptr<SquareGemm>> cache;
    auto& slot = cache[d.name];
    if (!slot) {
        slot = std::make_unique<SquareGemm>(backend<float>(d), gemm_n(d));
        slot->run(backend<float>(d));  // warm-up: BLAS threads, cuBLAS heuristics
    }
    return *slot;
}

// Best of a few calls, for op benchmarks run without their ceiling rows (a filtered run).
const Ceiling& ceiling(const Device& d) {
    Ceiling& c = ceilings()[d.name];
    Backend<float>& be = backend<float>(d);
    if (c.bytes_per_s == 0.0) {
        CopyFixture& f = copy_fixture(d);
        const std::size_t bytes = f.src.size() * sizeof(float);
        for (int i = 0; i < 4; ++i) {
            const double s = seconds(be, [&] { be.copy(f.dst.data(), f.src.data(), bytes, CopyKind::device_to_device); });
            c.bytes_per_s = std::max(c.bytes_per_s, 2.0 * double(bytes) / s);
        }
    }
    if (c.flops_per_s == 0.0) {
        SquareGemm& g = gemm_fixture(d);
        for (int i = 0; i < 3; ++i) {
            const double s = seconds(be, [&] { g.run(be); });
            c.flops_per_s = std::max(c.flops_per_s, 2.0 * std::pow(double(g.n), 3) / s);
        }
    }
    return c;
}

void bm_ceiling_copy(benchmark::State& st, const Device& d) {
    try {
        Backend<float>& be = backend<float>(d);
        CopyFixture& f = copy_fixture(d);
        const std::size_t bytes = f.src.size() * sizeof(float);
        double best = 0.0;
        for (auto _ : st) {
            const double s = seconds(be, [&] { be.copy(f.dst.data(), f.src.data(), bytes, CopyKind::device_to_device); });
            st.SetIterationTime(s);
            best = std::max(best, 2.0 * double(bytes) / s);
        }
        ceilings()[d.name].bytes_per_s = std::max(ceilings()[d.name].bytes_per_s, best);
        st.counters["GB/s"] = benchmark::Counter(2.0 * double(bytes), benchmark::Counter::kIsIterationInvariantRate);
        st.counters["best_GB/s"] = best * 1e-9;
        st.SetLabel(d.name == "cpu" ? "memmove, one thread (the elementwise loops are one thread too)"
                                    : "cudaMemcpy device to device");
    } catch (const std::exception& e) {
        st.SkipWithError(e.what());
    }
}

void bm_ceiling_gemm(benchmark::State& st, const Device& d) {
    try {
        Backend<float>& be = backend<float>(d);
        SquareGemm& g = gemm_fixture(d);
        double best = 0.0;
        const double flops = 2.0 * std::pow(double(g.n), 3);
        for (auto _ : st) {
            const double s = seconds(be, [&] { g.run(be); });
            st.SetIterationTime(s);
            best = std::max(best, flops / s);
        }
        ceilings()[d.name].flops_per_s = std::max(ceilings()[d.name].flops_per_s, best);
        st.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
        st.counters["best_GFLOP/s"] = best * 1e-9;
        st.SetLabel(be.name());
    } catch (const std::exception& e) {
        st.SkipWithError(e.what());
    }
}

// ---- the primitives --------------------------------------------------------------------------

// A prepared call: `run` performs it once on device buffers it owns; `check` (run once, after
// one call from fresh inputs, before any timing) compares the output with a host reference
// and returns "" or what is wrong.
struct Prepared {
    std::function<void()> run;
    std::function<std::string()> check;
    double bytes = 0.0;  // napkin memory traffic of one call
    double flops = 0.0;  // napkin arithmetic of one call (GEMMs only)
};

using Factory = std::function<Prepared(Backend<float>&)>;

std::string mismatch(const char* what, std::size_t i, double got, double want) {
    std::ostringstream os;
    os.precision(9);
    os << what << ": element " << i << " is " << got << ", the host reference " << want;
    return os.str();
}

// Host buffers kept next to their device copies (the check needs the inputs).
struct HostDev {
    std::vector<float> h;
    Buffer<float> d;
    HostDev(Backend<float>& be, std::vector<float> host) : h(std::move(host)), d(be, h.size()) { d.upload(h); }
};

// GEMM at a network layer's shape: w (n x k) = (n_l x n_{l-1}), a batch of m columns.
//   fwd   z = w a              (n x m) = (n x k)(k x m)
//   bwd   w^T delta            (k x m) = (k x n)(n x m)     BP2's product
//   grad  delta a^T            (n x k) = (n x m)(m x k)     BP4
// Bytes: each operand once and the output once (what a cache-perfect kernel would move);
// FLOPs: 2 n k m. Checked on 64 sampled output elements against a double dot product, with
// a bound relative to the sum of |terms| (float rounding grows with the length k of the sum).
Factory gemm_case(const std::string& kind, int n, int k, int m) {
    return [=](Backend<float>& be) {
        auto w = std::make_shared<HostDev>(be, random_vector<float>(std::size_t(n) * k, 11, -1.0, 1.0));
        const int in_rows = kind == "fwd" ? k : kind == "bwd" ? n : n;    // the m-column operand
        const int out_rows = kind == "fwd" ? n : kind == "bwd" ? k : n;
        const int out_cols = kind == "grad" ? k : m;
        auto x = std::make_shared<HostDev>(be, random_vector<float>(std::size_t(in_rows) * m, 12, -1.0, 1.0));
        auto a2 = std::make_shared<HostDev>(be, random_vector<float>(kind == "grad" ? std::size_t(k) * m : 1, 13, 0.01, 1.0));
        auto c = std::make_shared<HostDev>(be, std::vector<float>(std::size_t(out_rows) * out_cols, -7.0f));
        Prepared p;
        p.flops = 2.0 * n * k * m;
        p.bytes = 4.0 * (double(n) * k + double(in_rows) * m + (kind == "grad" ? double(k) * m : 0.0) +
                         double(out_rows) * out_cols);
        if (kind == "grad") p.bytes -= 4.0 * double(n) * k;  // w is not an operand of BP4
        p.run = [&be, kind, n, k, m, w, x, a2, c] {
            if (kind == "fwd")
                be.gemm(MatrixView<float>(c->d.data(), n, m), Op::N, ConstView<float>(w->d.data(), n, k), Op::N,
                        ConstView<float>(x->d.data(), k, m), 1.0f, 0.0f);
            else if (kind == "bwd")
                be.gemm(MatrixView<float>(c->d.data(), k, m), Op::T, ConstView<float>(w->d.data(), n, k), Op::N,
                        ConstView<float>(x->d.data(), n, m), 1.0f, 0.0f);
            else
                be.gemm(MatrixView<float>(c->d.data(), n, k), Op::N, ConstView<float>(x->d.data(), n, m), Op::T,
                        ConstView<float>(a2->d.data(), k, m), 1.0f, 0.0f);
        };
        p.check = [kind, n, k, m, w, x, a2, c, out_rows, out_cols] {
            const std::vector<float> got = c->d.to_host();
            std::uint64_t s = 99;
            for (int t = 0; t < 64; ++t) {
                const int i = int(splitmix64(s++) % std::uint64_t(out_rows));
                const int j = int(splitmix64(s++) % std::uint64_t(out_cols));
                double want = 0.0, mag = 0.0;
                const int len = kind == "grad" ? m : kind == "fwd" ? k : n;
                for (int p = 0; p < len; ++p) {
                    double term;
                    if (kind == "fwd") term = double(w->h[i + std::size_t(p) * n]) * x->h[p + std::size_t(j) * k];
                    else if (kind == "bwd") term = double(w->h[p + std::size_t(i) * n]) * x->h[p + std::size_t(j) * n];
                    else term = double(x->h[i + std::size_t(p) * n]) * a2->h[j + std::size_t(p) * k];
                    want += term;
                    mag += std::abs(term);
                }
                const std::size_t at = std::size_t(i) + std::size_t(j) * out_rows;
                if (!(std::abs(got[at] - want) <= 1e-5 * mag + 1e-30)) return mismatch("gemm", at, got[at], want);
            }
            return std::string();
        };
        return p;
    };
}

// b (n) against alpha * (row sums of delta (n x m)), in double, relative to the magnitude summed.
std::string check_bias(const std::string& op, const std::vector<float>& b, const std::vector<float>& delta, int n,
                       int m, double alpha) {
    for (int i = 0; i < n; ++i) {
        double want = 0.0, mag = 0.0;
        for (int j = 0; j < m; ++j) {
            want += alpha * delta[std::size_t(i) + std::size_t(j) * n];
            mag += std::abs(alpha * delta[std::size_t(i) + std::size_t(j) * n]);
        }
        if (!(std::abs(b[std::size_t(i)] - want) <= 1e-6 * mag + 1e-30))
            return mismatch((op + " (bias)").c_str(), std::size_t(i), b[std::size_t(i)], want);
    }
    return std::string();
}

// Elementwise and reduction primitives on an (n x m) block. Inputs are non-zero random values.
Factory elementwise_case(const std::string& op, int n, int m) {
    return [=](Backend<float>& be) {
        const std::size_t nm = std::size_t(n) * m;
        Prepared p;
        if (op == "bias_sigmoid") {
            // a = sigma(z + b 1^T): read z and b, write a.
            auto z = std::make_shared<HostDev>(be, random_vector<float>(nm, 21, -8.0, 8.0));
            auto b = std::make_shared<HostDev>(be, random_vector<float>(std::size_t(n), 22, -1.0, 1.0));
            auto a = std::make_shared<HostDev>(be, std::vector<float>(nm, -7.0f));
            p.bytes = 4.0 * (2.0 * double(nm) + n);
            p.run = [&be, n, m, z, b, a] {
                be.bias_sigmoid(MatrixView<float>(a->d.data(), n, m), ConstView<float>(z->d.data(), n, m), b->d.data());
            };
            p.check = [op, n, nm, z, b, a] {
                const std::vector<float> got = a->d.to_host();
                for (std::size_t i = 0; i < nm; ++i) {
                    const double want = 1.0 / (1.0 + std::exp(-(double(z->h[i]) + b->h[i % std::size_t(n)])));
                    if (!(std::abs(got[i] - want) <= 1e-6)) return mismatch(op.c_str(), i, got[i], want);
                }
                return std::string();
            };
        } else if (op == "output_delta_bias") {
            // BP1 + BP3, quadratic cost: delta = (a - y) a (1 - a) and b = -0.1 (row sums of
            // delta). Read a, y; write delta and b.
            auto a = std::make_shared<HostDev>(be, random_vector<float>(nm, 31, 0.01, 0.99));
            std::vector<float> yh(nm, 0.0f);
            for (int j = 0; j < m; ++j) yh[std::size_t(j) * n + std::size_t(j % n)] = 1.0f;
            auto y = std::make_shared<HostDev>(be, std::move(yh));
            auto d = std::make_shared<HostDev>(be, std::vector<float>(nm, -7.0f));
            auto b = std::make_shared<HostDev>(be, std::vector<float>(std::size_t(n), -7.0f));
            p.bytes = 4.0 * (3.0 * double(nm) + n);
            p.run = [&be, n, m, a, y, d, b] {
                be.output_delta_bias(MatrixView<float>(d->d.data(), n, m), ConstView<float>(a->d.data(), n, m),
                                     ConstView<float>(y->d.data(), n, m), Cost::quadratic, b->d.data(), -0.1f, 0.0f);
            };
            p.check = [op, n, m, nm, a, y, d, b] {
                const std::vector<float> got = d->d.to_host(), got_b = b->d.to_host();
                for (std::size_t i = 0; i < nm; ++i) {
                    const double av = a->h[i], want = (av - y->h[i]) * av * (1.0 - av);
                    if (!(std::abs(got[i] - want) <= 1e-6)) return mismatch(op.c_str(), i, got[i], want);
                }
                return check_bias(op, got_b, got, n, m, -0.1);
            };
        } else {  // hidden_delta_bias
            // BP2's Hadamard half + BP3, in place: delta *= a (1 - a), b = -0.1 (row sums).
            // Read delta, a; write delta and b. a is one of the two roots of a (1 - a) = -1,
            // (1 +- sqrt 5) / 2, element by element: repeated in-place calls then keep |delta|
            // constant, where realistic a in (0, 1) would shrink it by 4x or more per call into
            // denormal floats within ~60 calls and time the FPU's slow path instead.
            std::vector<float> ah(nm);
            std::uint64_t s = 41;
            for (float& v : ah) v = float(splitmix64(s++) & 1 ? (1.0 + std::sqrt(5.0)) / 2 : (1.0 - std::sqrt(5.0)) / 2);
            auto a = std::make_shared<HostDev>(be, std::move(ah));
            auto d = std::make_shared<HostDev>(be, random_vector<float>(nm, 42, 0.1, 1.0));
            auto b = std::make_shared<HostDev>(be, std::vector<float>(std::size_t(n), -7.0f));
            p.bytes = 4.0 * (3.0 * double(nm) + n);
            p.run = [&be, n, m, a, d, b] {
                be.hidden_delta_bias(MatrixView<float>(d->d.data(), n, m), ConstView<float>(a->d.data(), n, m),
                                     b->d.data(), -0.1f, 0.0f);
            };
            p.check = [op, n, m, nm, a, d, b] {
                const std::vector<float> got = d->d.to_host(), got_b = b->d.to_host();
                for (std::size_t i = 0; i < nm; ++i) {
                    const double av = a->h[i], want = double(d->h[i]) * av * (1.0 - av);
                    if (!(std::abs(got[i] - want) <= 1e-6 * std::abs(want) + 1e-7)) return mismatch(op.c_str(), i, got[i], want);
                }
                return check_bias(op, got_b, got, n, m, -0.1);
            };
        }
        return p;
    };
}

// SGD over a whole flat parameter buffer: params = decay params - scale nabla (weights),
// params -= scale nabla (biases). Read params and nabla, write params. decay = 1 (lambda = 0,
// the default): with decay < 1 a million repeated calls would decay the parameters into
// denormals; the memory traffic, which is what is timed, is the same.
Factory sgd_case(std::size_t n_params, std::size_t n_weights) {
    return [=](Backend<float>& be) {
        auto w = std::make_shared<HostDev>(be, random_vector<float>(n_params, 61, -1.0, 1.0));
        auto g = std::make_shared<HostDev>(be, random_vector<float>(n_params, 62, -1.0, 1.0));
        Prepared p;
        p.bytes = 4.0 * 3.0 * double(n_params);
        p.run = [&be, n_params, n_weights, w, g] { be.sgd_step(w->d.data(), g->d.data(), n_params, n_weights, 1.0f, 0.3f); };
        p.check = [n_params, w, g] {
            const std::vector<float> got = w->d.to_host();
            for (std::size_t i = 0; i < n_params; ++i) {
                const double want = double(w->h[i]) - 0.3 * double(g->h[i]);
                if (!(std::abs(got[i] - want) <= 1e-6)) return mismatch("sgd_step", i, got[i], want);
            }
            return std::string();
        };
        return p;
    };
}

// Mini-batch gather from bytes: x(:, j) = pixels(:, e_j) / 255 and y(:, j) one-hot, with e_j =
// order[cursor + j] for m random columns of a 784 x 50,000 byte set. Read m order entries, m
// labels and m byte columns; write m float columns of x and of y (10 rows).
Factory gather_case(int m) {
    return [=](Backend<float>& be) {
        const int rows = 784, cols = 50000, n_out = 10;
        std::vector<std::uint8_t> pixels_h(std::size_t(rows) * cols);
        std::uint64_t s = 71;
        for (std::uint8_t& k : pixels_h) k = std::uint8_t(splitmix64(s++) >> 56);
        auto pixels = std::make_shared<Buffer<std::uint8_t>>(be, pixels_h.size());
        pixels->upload(pixels_h);
        std::vector<int> order_h(static_cast<std::size_t>(m)), labels_h(static_cast<std::size_t>(cols));
        for (int& i : order_h) i = int(splitmix64(s++) % std::uint64_t(cols));
        for (int& l : labels_h) l = int(splitmix64(s++) % std::uint64_t(n_out));
        auto order = std::make_shared<Buffer<int>>(be, order_h.size());
        order->upload(order_h);
        auto labels = std::make_shared<Buffer<int>>(be, labels_h.size());
        labels->upload(labels_h);
        auto cursor = std::make_shared<Buffer<int>>(be, 1);
        cursor->upload(std::vector<int>{0});
        auto x = std::make_shared<HostDev>(be, std::vector<float>(std::size_t(rows) * m, -7.0f));
        auto y = std::make_shared<HostDev>(be, std::vector<float>(std::size_t(n_out) * m, -7.0f));
        Prepared p;
        p.bytes = 8.0 * m + double(rows) * m + 4.0 * double(rows + n_out) * m;
        p.run = [&be, rows, cols, n_out, m, pixels, order, labels, cursor, x, y] {
            be.gather_batch(MatrixView<float>(x->d.data(), rows, m), MatrixView<float>(y->d.data(), n_out, m),
                            ConstView<std::uint8_t>(pixels->data(), rows, cols), labels->data(), order->data(),
                            cursor->data(), 0);
        };
        p.check = [rows, n_out, m, pixels_h, order_h, labels_h, x, y] {
            const std::vector<float> got = x->d.to_host(), got_y = y->d.to_host();
            for (int j = 0; j < m; ++j) {
                const std::size_t e = std::size_t(order_h[std::size_t(j)]);
                for (int i = 0; i < rows; ++i) {
                    const std::size_t at = std::size_t(i) + std::size_t(j) * rows;
                    const float want = float(pixels_h[std::size_t(i) + e * rows]) / 255.0f;
                    if (got[at] != want) return mismatch("gather_batch", at, got[at], want);
                }
                for (int i = 0; i < n_out; ++i) {
                    const std::size_t at = std::size_t(i) + std::size_t(j) * n_out;
                    const float want = i == labels_h[e] ? 1.0f : 0.0f;
                    if (got_y[at] != want) return mismatch("gather_batch (y)", at, got_y[at], want);
                }
            }
            return std::string();
        };
        return p;
    };
}

void bm_op(benchmark::State& st, const Device& d, const Factory& make) {
    try {
        Backend<float>& be = backend<float>(d);
        const Ceiling& ceil = ceiling(d);
        Prepared p = make(be);
        p.run();
        be.synchronize();
        if (const std::string err = p.check(); !err.empty()) {
            st.SkipWithError(err.c_str());
            return;
        }
        // K calls per timed sample: calibrated on 4 calls so one sample is ~0.2 ms.
        const double one = seconds(be, [&] { for (int i = 0; i < 4; ++i) p.run(); }) / 4;
        const int k = int(std::clamp(2e-4 / std::max(one, 1e-9), 1.0, 256.0));
        double total = 0.0;
        for (auto _ : st) {
            const double s = seconds(be, [&] { for (int i = 0; i < k; ++i) p.run(); });
            st.SetIterationTime(s);  // the whole sample: Google Benchmark's min_time is then real time
            total += s;
        }
        const double calls = double(st.iterations()) * k;
        st.counters["us/call"] = total / calls * 1e6;
        const double bw = p.bytes * calls / total, fl = p.flops * calls / total;
        st.counters["GB/s"] = bw * 1e-9;
        st.counters["of_bw"] = bw / ceil.bytes_per_s;
        if (p.flops > 0) {
            st.counters["FLOP/s"] = benchmark::Counter(fl, benchmark::Counter::kDefaults, benchmark::Counter::kIs1000);
            st.counters["of_flops"] = fl / ceil.flops_per_s;
        }
        st.SetLabel("K=" + std::to_string(k));
    } catch (const std::exception& e) {
        st.SkipWithError(e.what());
    }
}

// ---- the CPU's small-product kernel against the BLAS ---------------------------------------

// One GEMM of a matrix-mode step, as src/engine/backprop.cpp makes it, for a layer w (n x k) and m
// columns:
//   fwd  Z = W A                   (n x m) = (n x k)(k x m)      alpha 1, beta 0
//   bwd  W^T delta                 (k x m) = (n x k)^T (n x m)   alpha 1, beta 0
//   upd  W = beta W + alpha delta A^T   (n x k) = (n x m)(k x m)^T   the fused SGD step
// timed through small_gemm (the kernel CpuBackend::gemm_impl sends such shapes to) and through
// cblas_sgemm (what it did before), K calls of one then K calls of the other in every
// iteration, so both see the same machine, in the thread's CPU time (both run on one thread). Checked first: the two must agree to 1e-4 of the
// largest |element|. Time column: the kernel. Counters: small_us and blas_us per call,
// blas/small (> 1: the kernel is faster), GFLOP/s of the kernel (2 n k m per call).
void bm_small_gemm(benchmark::State& st, const std::string& kind, int n, int k, int m) {
    const SimdLevel level = small_gemm_level();
    if (level == SimdLevel::none) {
        st.SkipWithError("no small-product kernel on this CPU (or BATCHPROP_SMALL_GEMM=off)");
        return;
    }
    const bool upd = kind == "upd", bwd = kind == "bwd";
    const int M = upd ? n : bwd ? k : n, N = upd ? k : m, K = upd ? m : bwd ? n : k;
    const Op op_a = bwd ? Op::T : Op::N, op_b = upd ? Op::T : Op::N;
    // a: w (n x k) for fwd and bwd, delta (n x m) for upd; b: the m-column operand.
    const int a_rows = upd ? n : n, a_cols = upd ? m : k;
    const int b_rows = upd ? k : bwd ? n : k, b_cols = m;
    const std::vector<float> a = random_vector<float>(std::size_t(a_rows) * a_cols, 41, -1.0, 1.0);
    const std::vector<float> b = random_vector<float>(std::size_t(b_rows) * b_cols, 42, 0.0, 1.0);
    const std::vector<float> c0 = random_vector<float>(std::size_t(M) * N, 43, -1.0, 1.0);
    std::vector<float> c_small(c0), c_blas(c0);
    const float alpha = upd ? -0.3f : 1.0f, beta = upd ? 1.0f : 0.0f;
    auto small = [&] {
        small_gemm(level, op_a, op_b, M, N, K, alpha, a.data(), a_rows, b.data(), b_rows, beta, c_small.data(), M);
    };
    auto blas = [&] {
        cblas_sgemm(CblasColMajor, op_a == Op::N ? CblasNoTrans : CblasTrans, op_b == Op::N ? CblasNoTrans : CblasTrans,
                    M, N, K, alpha, a.data(), a_rows, b.data(), b_rows, beta, c_blas.data(), M);
    };
    small();
    blas();
    double scale = 0.0, worst = 0.0;
    for (std::size_t i = 0; i < c0.size(); ++i) {
        scale = std::max(scale, std::abs(double(c_blas[i])));
        worst = std::max(worst, std::abs(double(c_small[i]) - c_blas[i]));
    }
    if (!(worst <= 1e-4 * scale)) {
        st.SkipWithError(("kernel and BLAS differ by " + std::to_string(worst) + " of " + std::to_string(scale)).c_str());
        return;
    }
    // The same number of threads the backend gives the BLAS at this size: one.
    const int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    // The calling thread's CPU time, not the wall clock: both sides run on this one thread, and
    // on a shared machine the time the thread spends descheduled is no property of either.
    auto time = [](int calls, auto&& f) {
        timespec t0{}, t1{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        for (int i = 0; i < calls; ++i) f();
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        return double(t1.tv_sec - t0.tv_sec) + 1e-9 * double(t1.tv_nsec - t0.tv_nsec);
    };
    const double one = time(8, blas) / 8;
    const int calls = int(std::clamp(1e-4 / std::max(one, 1e-9), 1.0, 256.0));
    double t_small = 0.0, t_blas = 0.0;
    for (auto _ : st) {
        const double s = time(calls, small);
        t_blas += time(calls, blas);
        t_small += s;
        st.SetIterationTime(s);
    }
    openblas_set_num_threads(threads);
    const double n_calls = double(st.iterations()) * calls;
    st.counters["small_us"] = t_small / n_calls * 1e6;
    st.counters["blas_us"] = t_blas / n_calls * 1e6;
    st.counters["blas/small"] = t_blas / t_small;
    st.counters["GFLOP/s"] = 2.0 * n * k * m * n_calls / t_small * 1e-9;
    st.SetLabel(std::string(to_string(level)) + ", K=" + std::to_string(calls));
}

}  // namespace

void register_benchmarks() {
    // Layer shapes (n_l, n_{l-1}) of [784,30,10], [784,100,10] and [784,1024,1024,10].
    const std::vector<std::pair<int, int>> layers = {{30, 784}, {10, 30}, {100, 784}, {1024, 784}, {1024, 1024}, {10, 1024}};
    const std::vector<int> batches = {1, 10, 100, 1000};
    // Elementwise blocks (n x m): a hidden layer of 30 or 1024 neurons, the output layer of 10.
    const std::vector<int> hidden = {30, 1024};
    // Flat parameter counts (weights, all) of the three networks.
    const std::vector<std::pair<std::size_t, std::size_t>> nets = {
        {784 * 30 + 30 * 10, 784 * 30 + 30 * 10 + 40},
        {784 * 100 + 100 * 10, 784 * 100 + 100 * 10 + 110},
        {784 * 1024 + 1024 * 1024 + 1024 * 10, 784 * 1024 + 1024 * 1024 + 1024 * 10 + 2058}};

    auto add = [](const std::string& name, std::function<void(benchmark::State&)> fn) {
        benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& st) { fn(st); })
            ->UseManualTime()
            ->MinTime(0.1)
            ->Unit(benchmark::kMicrosecond);
    };
    for (const Device& d : devices()) {
        const std::string dn = d.name;
        add("ceiling/" + dn + "/copy:256MiB", [d](benchmark::State& st) { bm_ceiling_copy(st, d); });
        add("ceiling/" + dn + "/sgemm:" + std::to_string(gemm_n(d)), [d](benchmark::State& st) { bm_ceiling_gemm(st, d); });
        for (const char* kind : {"fwd", "bwd", "grad"})
            for (auto [n, k] : layers)
                for (int m : batches) {
                    const std::string name = "gemm/" + dn + "/" + kind + "/n:" + std::to_string(n) + "/k:" + std::to_string(k) +
                                             "/m:" + std::to_string(m);
                    add(name, [d, f = gemm_case(kind, n, k, m)](benchmark::State& st) { bm_op(st, d, f); });
                }
        for (const char* op : {"bias_sigmoid", "hidden_delta_bias", "output_delta_bias"})
            for (int n : std::string(op) == "output_delta_bias" ? std::vector<int>{10} : hidden)
                for (int m : {1, 10, 1000})
                    add(std::string(op) + "/" + dn + "/n:" + std::to_string(n) + "/m:" + std::to_string(m),
                        [d, f = elementwise_case(op, n, m)](benchmark::State& st) { bm_op(st, d, f); });
        // The five products of a step of [784,30,10] and of [784,100,10] (no backward product
        // into the input layer), over m past the point where the kernel and the BLAS cross.
        if (dn == "cpu")
            for (int hidden_n : {30, 100})
                for (auto [kind, n, k] : std::vector<std::tuple<const char*, int, int>>{
                         {"fwd", hidden_n, 784}, {"fwd", 10, hidden_n}, {"bwd", 10, hidden_n}, {"upd", 10, hidden_n},
                         {"upd", hidden_n, 784}})
                    for (int m : {2, 4, 8, 10, 16, 32, 48, 64, 96, 128})
                        add(std::string("small-gemm/cpu/") + kind + "/n:" + std::to_string(n) + "/k:" + std::to_string(k) +
                                "/m:" + std::to_string(m),
                            [kind = std::string(kind), n = n, k = k, m](benchmark::State& st) { bm_small_gemm(st, kind, n, k, m); });
        for (auto [nw, np] : nets)
            add("sgd_step/" + dn + "/params:" + std::to_string(np),
                [d, f = sgd_case(np, nw)](benchmark::State& st) { bm_op(st, d, f); });
        for (int m : batches)
            add("gather_batch/" + dn + "/n:784/m:" + std::to_string(m),
                [d, f = gather_case(m)](benchmark::State& st) { bm_op(st, d, f); });
    }
    register_gpu_unavailable("ops");
}

}  // namespace bench

BENCH_MAIN()
