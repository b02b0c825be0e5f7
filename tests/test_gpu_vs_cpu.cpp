// The CUDA backend checked against the CPU reference: every primitive on awkward shapes, then a
// full mini-batch gradient (both costs, both modes), then one training epoch. The CPU backend
// is the oracle (it is itself checked by finite differences in test_cpu_reference.cpp).
//
// Without a usable GPU every GPU test skips with the reason (no driver, no device, built
// without CUDA); the tests of the comparison helpers and of device selection run anyway.
//
// Tolerances (Tol<T> below), |got - want| <= rel * max(|want_i|, floor * max|want|):
//   double: 1e-12 (elementwise, GEMM, gradient), 1e-10 after an epoch of SGD.
//   float:  1e-5 elementwise (expf may differ by an ulp or two between libm and CUDA);
//           1e-5 * sqrt(k) normwise for a GEMM of inner dimension k (float rounding of a sum
//           of k products grows like sqrt(k), and the two BLAS sum in different orders);
//           1e-4 normwise for the gradient, 1e-3 after an epoch (rounding differences feed
//           back through 26 SGD steps).
//   exact:  gather, one-hot, row sums (same summation order on both), argmax counts, the
//           permutation.
// Set BATCHPROP_GPU_TEST_QUICK=1 for a reduced sweep (m in {1, 33}), e.g. under
// compute-sanitizer, which slows every kernel down by one or two orders of magnitude.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/backprop.hpp"
#include "cuda_backend.hpp"
#include "batchprop/network.hpp"
#include "batchprop/trainer.hpp"
#include "fused/fused_device.hpp"
#include "fused/fused_plan.hpp"
#ifdef BATCHPROP_WITH_CUDA
#include "cublas_loader.cuh"
#include "fused_kernel.cuh"
#endif
#include "support/gpu_compare.hpp"
#include "support/test_util.hpp"

using namespace batchprop;
using gpucmp::compare;
using gpucmp::DeviceMatrix;
using gpucmp::Layout;
using gpucmp::Tolerance;

namespace {

bool quick() {
    const char* q = std::getenv("BATCHPROP_GPU_TEST_QUICK");
    return q && *q && std::strcmp(q, "0") != 0;
}

// m: examples in a mini-batch. 1 is the per-example shape; 7 and 33 are odd; 128 spans
// several warps per column of a 30-neuron layer.
std::vector<int> batch_sizes() {
    return quick() ? std::vector<int>{1, 33} : std::vector<int>{1, 7, 10, 33, 128};
}

const std::vector<std::vector<int>>& nets() {
    static const std::vector<std::vector<int>> n = {{784, 30, 10}, {3, 5, 2}, {1, 1}};
    return n;
}

// (n_out, n_in) of every layer of every net: the shapes of w[l].
std::vector<std::pair<int, int>> layer_shapes() {
    std::vector<std::pair<int, int>> s;
    for (const auto& sizes : nets())
        for (std::size_t l = 1; l < sizes.size(); ++l) s.emplace_back(sizes[l], sizes[l - 1]);
    return s;
}

// Row counts of the layers l >= 1 (activations, deltas, biases): 30, 10, 5, 2, 1.
const std::vector<int> kLayerRows = {30, 10, 5, 2, 1};
// Extra rows in the leading dimension: 0 (contiguous) and 3 (a sub-view with ld > rows).
const std::vector<int> kPads = {0, 3};

template <class T>
struct Tol;
template <>
struct Tol<float> {
    static Tolerance elementwise() { return {1e-5, 1e-6}; }
    static Tolerance gemm(int k) { return {1e-5 * std::sqrt(double(std::max(k, 1))), 1.0}; }
    static Tolerance gradient() { return {1e-4, 1.0}; }
    static Tolerance epoch() { return {1e-3, 1.0}; }
};
template <>
struct Tol<double> {
    static Tolerance elementwise() { return {1e-12, 1e-6}; }
    static Tolerance gemm(int) { return {1e-12, 1.0}; }
    static Tolerance gradient() { return {1e-12, 1.0}; }
    static Tolerance epoch() { return {1e-10, 1.0}; }
};

std::size_t count(const Layout& l) { return std::size_t(l.rows) * std::size_t(l.cols); }

const char* op_name(Op op) { return op == Op::N ? "N" : "T"; }

// Pre-activations with some saturating extremes mixed in (|z| up to 700, where a naive
// 1/(1+exp(-z)) would overflow): sigmoid must stay finite and agree there too.
template <class T>
std::vector<T> preactivations(std::size_t n, std::uint64_t seed) {
    std::vector<T> z = gpucmp::random_values<T>(n, seed, -8.0, 8.0);
    for (std::size_t i = 0; i < n; i += 11) z[i] = T((i % 2 ? 1.0 : -1.0) * (100.0 + 150.0 * double(i % 5)));
    return z;
}

// The host downloads a device view (contiguous) into a vector.
template <class T>
std::vector<T> download_view(Backend<T>& be, ConstView<T> v) {
    EXPECT_TRUE(v.contiguous());
    std::vector<T> h(v.size());
    if (!h.empty()) be.copy(h.data(), v.data, h.size() * sizeof(T), CopyKind::device_to_host);
    return h;
}

// Compares two flat parameter (or gradient) buffers layer by layer, w[l] and b[l] separately:
// normwise over the whole buffer would let a small layer hide behind a large one.
template <class T>
void expect_close_by_layer(const ParamLayout& layout, const std::vector<T>& got,
                           const std::vector<T>& want, Tolerance tol, const std::string& what) {
    ASSERT_EQ(got.size(), layout.n_params()) << what;
    ASSERT_EQ(want.size(), layout.n_params()) << what;
    auto segment = [](const std::vector<T>& v, std::size_t off, std::size_t n) {
        return std::vector<T>(v.begin() + std::ptrdiff_t(off), v.begin() + std::ptrdiff_t(off + n));
    };
    for (int l = 1; l <= layout.n_layers(); ++l) {
        const std::size_t nw = std::size_t(layout.n(l)) * std::size_t(layout.n(l - 1));
        EXPECT_TRUE(compare(segment(got, layout.w_offset(l), nw), segment(want, layout.w_offset(l), nw),
                            tol, layout.n(l)))
            << what << ": w[" << l << "] (" << layout.n(l) << "x" << layout.n(l - 1) << ")";
        EXPECT_TRUE(compare(segment(got, layout.b_offset(l), std::size_t(layout.n(l))),
                            segment(want, layout.b_offset(l), std::size_t(layout.n(l))), tol))
            << what << ": b[" << l << "]";
    }
}

// ---- the fixture: one CPU and one GPU backend per test ---------------------------------------

template <class T>
class GpuVsCpu : public ::testing::Test {
public:
    void SetUp() override {
        REQUIRE_GPU();  // every test of this fixture starts here
        cpu_ = make_cpu_backend<T>();
        gpu_ = make_cuda_backend<T>(0);
    }

    struct GemmCase {
        Op op_a, op_b;
        int m, n, k;  // C: (m x n), k: the inner dimension
        double alpha, beta;
    };

    // C = alpha op(A) op(B) + beta C on both backends; A, B and C each get their own ld.
    void check_gemm(const GemmCase& g, int pad, std::uint64_t seed) {
        const Layout la = g.op_a == Op::N ? Layout(g.m, g.k, pad) : Layout(g.k, g.m, pad);
        const Layout lb = g.op_b == Op::N ? Layout(g.k, g.n, pad ? pad + 2 : 0)
                                          : Layout(g.n, g.k, pad ? pad + 2 : 0);
        const Layout lc(g.m, g.n, pad ? pad + 1 : 0);
        const auto ha = gpucmp::random_values<T>(count(la), seed);
        const auto hb = gpucmp::random_values<T>(count(lb), seed + 1);
        const auto hc = gpucmp::random_values<T>(count(lc), seed + 2);
        auto run = [&](Backend<T>& be) {
            DeviceMatrix<T> a(be, la, ha), b(be, lb, hb), c(be, lc, hc);
            be.gemm(c.view(), g.op_a, a.view(), g.op_b, b.view(), T(g.alpha), T(g.beta));
            return c.result(be.name().c_str());
        };
        const auto want = run(*cpu_);
        const auto got = run(*gpu_);
        EXPECT_TRUE(compare(got, want, Tol<T>::gemm(g.k), g.m))
            << "C (" << g.m << "x" << g.n << ") = " << g.alpha << " op" << op_name(g.op_a)
            << "(A) op" << op_name(g.op_b) << "(B) + " << g.beta << " C, k = " << g.k
            << ", pad " << pad;
    }

    std::unique_ptr<Backend<T>> cpu_, gpu_;
};

// Each test is written once, as a function template over T, and registered twice as plain
// TEST_Fs, GpuVsCpuFloat.Name and GpuVsCpuDouble.Name: names that ctest shows as they are.
using GpuVsCpuFloat = GpuVsCpu<float>;
using GpuVsCpuDouble = GpuVsCpu<double>;
#define GPU_VS_CPU_TEST(name)                                      \
    template <class T>                                             \
    void name##_body(GpuVsCpu<T>& fx);                             \
    TEST_F(GpuVsCpuFloat, name) { name##_body<float>(*this); }     \
    TEST_F(GpuVsCpuDouble, name) { name##_body<double>(*this); }   \
    template <class T>                                             \
    void name##_body(GpuVsCpu<T>& fx)

// ---- primitives -------------------------------------------------------------------------------

// The three products of backprop for every layer shape and batch size (forward W A, the weight
// gradient delta A^T with beta 0 and 1, the backward W^T delta), plus a general T/T case with
// alpha and beta away from 0 and 1.
GPU_VS_CPU_TEST(Gemm) {
    using Case = typename GpuVsCpu<T>::GemmCase;
    std::uint64_t seed = 100;
    for (const auto& [n_out, n_in] : layer_shapes())
        for (int m : batch_sizes())
            for (int pad : kPads) {
                fx.check_gemm(Case{Op::N, Op::N, n_out, m, n_in, 1.0, 0.0}, pad, seed += 3);
                fx.check_gemm(Case{Op::N, Op::T, n_out, n_in, m, 1.0, 0.0}, pad, seed += 3);
                fx.check_gemm(Case{Op::N, Op::T, n_out, n_in, m, 1.0, 1.0}, pad, seed += 3);
                fx.check_gemm(Case{Op::T, Op::N, n_in, m, n_out, 1.0, 0.0}, pad, seed += 3);
                fx.check_gemm(Case{Op::T, Op::T, m, n_out, n_in, 0.5, -0.75}, pad, seed += 3);
            }
}

// With beta = 0, C's old contents must not be read: NaN there may not leak into the result.
GPU_VS_CPU_TEST(GemmBetaZeroIgnoresOldC) {
    const Layout la(30, 784), lb(784, 33, 2), lc(30, 33, 1);
    const auto ha = gpucmp::random_values<T>(count(la), 1), hb = gpucmp::random_values<T>(count(lb), 2);
    const auto run = [&](Backend<T>& be, T fill) {
        DeviceMatrix<T> a(be, la, ha), b(be, lb, hb), c(be, lc, std::vector<T>(count(lc), fill));
        be.gemm(c.view(), Op::N, a.view(), Op::N, b.view(), T(1), T(0));
        return c.result(be.name().c_str());
    };
    EXPECT_TRUE(compare(run(*fx.gpu_, std::numeric_limits<T>::quiet_NaN()), run(*fx.cpu_, T(1)),
                        Tol<T>::gemm(784), 30));
}

GPU_VS_CPU_TEST(BiasSigmoid) {
    std::uint64_t seed = 200;
    for (int rows : kLayerRows)
        for (int m : batch_sizes())
            for (int pad : kPads) {
                const Layout la(rows, m, pad), lz(rows, m, pad ? pad + 1 : 0), lb(rows, 1);
                const auto hz = preactivations<T>(count(lz), ++seed);
                const auto ha = gpucmp::random_values<T>(count(la), ++seed);
                const auto hb = gpucmp::random_values<T>(std::size_t(rows), ++seed);
                // Separate input and output.
                auto separate = [&](Backend<T>& be) {
                    DeviceMatrix<T> a(be, la, ha), z(be, lz, hz), b(be, lb, hb);
                    be.bias_sigmoid(a.view(), z.view(), b.data());
                    b.result("b");
                    return a.result(be.name().c_str());
                };
                // In place, as the forward pass calls it: a = sigma(a + b 1^T).
                auto in_place = [&](Backend<T>& be) {
                    DeviceMatrix<T> a(be, la, hz), b(be, lb, hb);
                    be.bias_sigmoid(a.view(), a.view(), b.data());
                    return a.result(be.name().c_str());
                };
                const auto want = separate(*fx.cpu_), got = separate(*fx.gpu_);
                EXPECT_TRUE(compare(got, want, Tol<T>::elementwise(), rows))
                    << rows << "x" << m << " pad " << pad;
                const auto want_ip = in_place(*fx.cpu_), got_ip = in_place(*fx.gpu_);
                EXPECT_TRUE(compare(got_ip, want_ip, Tol<T>::elementwise(), rows))
                    << "in place, " << rows << "x" << m << " pad " << pad;
            }
}

// The (alpha, b_beta) pairs the algorithm uses for the bias: the gradient written (1, 0),
// accumulated (1, 1), and the folded SGD step's update (-eta/m, 1). With b_beta = 0 the old b
// (NaN here) must never be read.
template <class T>
const std::vector<std::pair<T, T>>& bias_scalars() {
    static const std::vector<std::pair<T, T>> s = {{T(1), T(0)}, {T(1), T(1)}, {T(-0.3), T(1)}};
    return s;
}
template <class T>
std::vector<T> initial_bias(int rows, T b_beta, std::uint64_t seed) {
    return b_beta == T(0) ? std::vector<T>(std::size_t(rows), std::numeric_limits<T>::quiet_NaN())
                          : gpucmp::random_values<T>(std::size_t(rows), seed);
}
// Batch sizes for the one-pass delta kernels: also more than one kRowSumGroup of columns (33,
// 128) and a wide one, where the GPU sums groups in parallel and then adds them in order.
std::vector<int> delta_batch_sizes() {
    std::vector<int> m = batch_sizes();
    m.push_back(kRowSumGroup);
    m.push_back(kRowSumGroup * 5 + 3);
    return m;
}

// BP1 + BP3 in one pass. Both backends compute each delta with math.hpp's formula (no FMA on either
// side) and sum the rows in math.hpp's group order, so delta and b agree exactly, in float too.
GPU_VS_CPU_TEST(OutputDeltaBias) {
    std::uint64_t seed = 300;
    for (Cost cost : {Cost::quadratic, Cost::cross_entropy})
        for (auto [alpha, b_beta] : bias_scalars<T>())
            for (int rows : {10, 2, 1, 30})
                for (int m : delta_batch_sizes())
                    for (int pad : kPads) {
                        const Layout ld(rows, m, pad), la(rows, m, pad ? pad + 1 : 0), ly(rows, m, 2 * pad), lb(rows, 1);
                        const auto ha = gpucmp::random_values<T>(count(la), ++seed, 0.001, 0.999);
                        std::vector<T> hy(count(ly));
                        for (std::size_t i = 0; i < hy.size(); ++i) hy[i] = i % 5 == 0 ? T(1) : i % 7 == 0 ? T(0.25) : T(0);
                        const auto hd = gpucmp::random_values<T>(count(ld), ++seed);
                        const auto hb = initial_bias<T>(rows, b_beta, ++seed);
                        auto run = [&](Backend<T>& be) {
                            DeviceMatrix<T> d(be, ld, hd), a(be, la, ha), y(be, ly, hy), b(be, lb, hb);
                            be.output_delta_bias(d.view(), a.view(), y.view(), cost, b.data(), alpha, b_beta);
                            return std::pair{d.result(be.name().c_str()), b.result(be.name().c_str())};
                        };
                        const auto want = run(*fx.cpu_), got = run(*fx.gpu_);
                        EXPECT_TRUE(compare(got.first, want.first, gpucmp::exact(), rows))
                            << to_string(cost) << ", delta, " << rows << "x" << m << " pad " << pad;
                        EXPECT_TRUE(compare(got.second, want.second, gpucmp::exact()))
                            << to_string(cost) << ", b, alpha " << alpha << ", b_beta " << b_beta << ", " << rows
                            << "x" << m << " pad " << pad;
                    }
}

// BP2's Hadamard half + BP3 fused, in place: exact on both, as above.
GPU_VS_CPU_TEST(HiddenDeltaBias) {
    std::uint64_t seed = 400;
    for (auto [alpha, b_beta] : bias_scalars<T>())
        for (int rows : kLayerRows)
            for (int m : delta_batch_sizes())
                for (int pad : kPads) {
                    const Layout ld(rows, m, pad), la(rows, m, pad ? pad + 1 : 0), lb(rows, 1);
                    const auto hd = gpucmp::random_values<T>(count(ld), ++seed);
                    const auto ha = gpucmp::random_values<T>(count(la), ++seed, 0.0, 1.0);
                    const auto hb = initial_bias<T>(rows, b_beta, ++seed);
                    auto run = [&](Backend<T>& be) {
                        DeviceMatrix<T> d(be, ld, hd), a(be, la, ha), b(be, lb, hb);
                        be.hidden_delta_bias(d.view(), a.view(), b.data(), alpha, b_beta);
                        return std::pair{d.result(be.name().c_str()), b.result(be.name().c_str())};
                    };
                    const auto want = run(*fx.cpu_), got = run(*fx.gpu_);
                    EXPECT_TRUE(compare(got.first, want.first, gpucmp::exact(), rows))
                        << "delta, " << rows << "x" << m << " pad " << pad;
                    EXPECT_TRUE(compare(got.second, want.second, gpucmp::exact()))
                        << "b, alpha " << alpha << ", b_beta " << b_beta << ", " << rows << "x" << m << " pad " << pad;
                }
}

GPU_VS_CPU_TEST(SgdStep) {
    std::uint64_t seed = 600;
    for (const auto& sizes : nets()) {
        const ParamLayout layout(sizes);
        const std::size_t n = layout.n_params();
        // The real split, and the two edge cases: nothing decayed, everything decayed.
        for (std::size_t n_weights : {layout.n_weights(), std::size_t(0), n}) {
            const Layout lp(int(n), 1);
            const auto hp = gpucmp::random_values<T>(n, ++seed), hg = gpucmp::random_values<T>(n, ++seed);
            const T decay = T(1.0 - 0.5 * 5.0 / 1000.0), scale = T(0.5 / 10.0);
            auto run = [&](Backend<T>& be) {
                DeviceMatrix<T> p(be, lp, hp), g(be, lp, hg);
                be.sgd_step(p.data(), g.data(), n, n_weights, decay, scale);
                g.result("nabla");
                return p.result(be.name().c_str());
            };
            const auto want = run(*fx.cpu_), got = run(*fx.gpu_);
            EXPECT_TRUE(compare(got, want, Tol<T>::elementwise()))
                << sizes_to_string(sizes) << ", n_weights " << n_weights << " of " << n;
        }
    }
}

// A mini-batch gathered from bytes at a cursor plus an offset, with its one-hot targets. The
// conversion k/255 is one IEEE division in T on both: exact. Labels -1 and n_out are out of
// range: such a column's targets come out all zero on both.
GPU_VS_CPU_TEST(GatherBatch) {
    std::uint64_t seed = 700;
    const int n_data = 50;
    for (int rows : {784, 30, 3, 1})
        for (int m : batch_sizes())
            for (int pad : kPads) {
                const int n_out = rows == 1 ? 1 : 10;
                const Layout lx(rows, m, pad), ly(n_out, m, pad ? pad + 2 : 0), lo(n_data + m, 1);
                // All 256 byte values occur among the pixels.
                Layout lp(rows, n_data, pad + 1);
                std::vector<std::uint8_t> hp(count(lp));
                for (std::size_t i = 0; i < hp.size(); ++i) hp[i] = std::uint8_t((i * 37 + seed) % 256);
                const auto hx = gpucmp::random_values<T>(count(lx), ++seed);
                const auto hy = gpucmp::random_values<T>(count(ly), ++seed);
                const auto hlabels = gpucmp::random_ints(std::size_t(n_data), ++seed, -1, n_out);
                const auto horder = gpucmp::random_ints(std::size_t(n_data + m), ++seed, 0, n_data - 1);  // repeats allowed
                const int cursor = int(seed % 7), offset = std::min(n_data - cursor, m / 2);
                auto run = [&](Backend<T>& be) {
                    DeviceMatrix<T> x(be, lx, hx), y(be, ly, hy);
                    DeviceMatrix<std::uint8_t> pixels(be, lp, hp);
                    DeviceMatrix<int> labels(be, Layout(n_data, 1), hlabels), order(be, lo, horder);
                    DeviceMatrix<int> cur(be, Layout(1, 1), std::vector<int>{cursor});
                    be.gather_batch(x.view(), y.view(), pixels.view(), labels.data(), order.data(), cur.data(), offset);
                    return std::pair{x.result(be.name().c_str()), y.result(be.name().c_str())};
                };
                const auto want = run(*fx.cpu_), got = run(*fx.gpu_);
                EXPECT_TRUE(compare(got.first, want.first, gpucmp::exact(), rows)) << "x, " << rows << "x" << m << " pad " << pad;
                EXPECT_TRUE(compare(got.second, want.second, gpucmp::exact(), n_out)) << "y, " << rows << "x" << m << " pad " << pad;
            }
}

GPU_VS_CPU_TEST(LoadInputsAndAdvanceCursor) {
    std::uint64_t seed = 800;
    for (int rows : {784, 3})
        for (int m : batch_sizes())
            for (int pad : kPads) {
                const Layout lx(rows, m, pad), lp(rows, m, pad + 1);
                std::vector<std::uint8_t> hp(count(lp));
                for (std::size_t i = 0; i < hp.size(); ++i) hp[i] = std::uint8_t((i * 101 + seed) % 256);
                const auto hx = gpucmp::random_values<T>(count(lx), ++seed);
                auto run = [&](Backend<T>& be) {
                    DeviceMatrix<T> x(be, lx, hx);
                    DeviceMatrix<std::uint8_t> pixels(be, lp, hp);
                    be.load_inputs(x.view(), pixels.view());
                    return x.result(be.name().c_str());
                };
                const auto want = run(*fx.cpu_), got = run(*fx.gpu_);
                EXPECT_TRUE(compare(got, want, gpucmp::exact(), rows)) << rows << "x" << m << " pad " << pad;
            }
    DeviceMatrix<int> cur(*fx.gpu_, Layout(1, 1), std::vector<int>{5});
    fx.gpu_->advance_cursor(cur.data(), 10);
    fx.gpu_->advance_cursor(cur.data(), 3);
    EXPECT_EQ(cur.result("cursor"), std::vector<int>{18});
}

// Float inputs (a borrowed numpy array, say) used as they are: x = T(v), exact on both, for values
// no byte gives (multiples of 1/256, negatives, past 1), with targets as for bytes.
GPU_VS_CPU_TEST(GatherBatchFloatInputs) {
    std::uint64_t seed = 750;
    const int n_data = 50;
    for (int rows : {784, 3, 1})
        for (int m : batch_sizes())
            for (int pad : kPads) {
                const int n_out = rows == 1 ? 1 : 10;
                const Layout lx(rows, m, pad), ly(n_out, m, pad ? pad + 2 : 0), lo(n_data + m, 1);
                const Layout lp(rows, n_data, pad + 1);
                std::vector<float> hp(count(lp));
                for (std::size_t i = 0; i < hp.size(); ++i) hp[i] = float(int((i * 37 + seed) % 300) - 20) / 256.0f;
                const auto hx = gpucmp::random_values<T>(count(lx), ++seed);
                const auto hy = gpucmp::random_values<T>(count(ly), ++seed);
                const auto hlabels = gpucmp::random_ints(std::size_t(n_data), ++seed, -1, n_out);
                const auto horder = gpucmp::random_ints(std::size_t(n_data + m), ++seed, 0, n_data - 1);
                const int cursor = int(seed % 7), offset = std::min(n_data - cursor, m / 2);
                auto run = [&](Backend<T>& be) {
                    DeviceMatrix<T> x(be, lx, hx), y(be, ly, hy);
                    DeviceMatrix<float> inputs(be, lp, hp);
                    DeviceMatrix<int> labels(be, Layout(n_data, 1), hlabels), order(be, lo, horder);
                    DeviceMatrix<int> cur(be, Layout(1, 1), std::vector<int>{cursor});
                    be.gather_batch(x.view(), y.view(), inputs.view(), labels.data(), order.data(), cur.data(), offset);
                    return std::pair{x.result(be.name().c_str()), y.result(be.name().c_str())};
                };
                const auto want = run(*fx.cpu_), got = run(*fx.gpu_);
                EXPECT_TRUE(compare(got.first, want.first, gpucmp::exact(), rows)) << "x, " << rows << "x" << m << " pad " << pad;
                EXPECT_TRUE(compare(got.second, want.second, gpucmp::exact(), n_out)) << "y, " << rows << "x" << m << " pad " << pad;
            }
}

GPU_VS_CPU_TEST(LoadInputsFloatInputs) {
    std::uint64_t seed = 850;
    for (int rows : {784, 3})
        for (int m : batch_sizes())
            for (int pad : kPads) {
                const Layout lx(rows, m, pad), lp(rows, m, pad + 1);
                std::vector<float> hp(count(lp));
                for (std::size_t i = 0; i < hp.size(); ++i) hp[i] = float(int((i * 101 + seed) % 300) - 20) / 256.0f;
                const auto hx = gpucmp::random_values<T>(count(lx), ++seed);
                auto run = [&](Backend<T>& be) {
                    DeviceMatrix<T> x(be, lx, hx);
                    DeviceMatrix<float> inputs(be, lp, hp);
                    be.load_inputs(x.view(), inputs.view());
                    return x.result(be.name().c_str());
                };
                const auto want = run(*fx.cpu_), got = run(*fx.gpu_);
                EXPECT_TRUE(compare(got, want, gpucmp::exact(), rows)) << rows << "x" << m << " pad " << pad;
            }
}

// Argmax ties (lowest index wins), exact 0 and 1 activations (cross-entropy's log clamp), and
// labels that match the argmax often enough that the count is not trivially 0.
GPU_VS_CPU_TEST(Evaluate) {
    std::uint64_t seed = 900;
    std::vector<int> col_counts = batch_sizes();
    col_counts.push_back(1000);
    for (Cost cost : {Cost::quadratic, Cost::cross_entropy})
        for (int rows : {10, 2, 1, 30})
            for (int cols : col_counts)
                for (int pad : kPads) {
                    const Layout la(rows, cols, pad), ll(cols, 1);
                    std::vector<T> ha = gpucmp::random_values<T>(count(la), ++seed, 0.0, 0.8);
                    auto at = [&](int i, int j) -> T& { return ha[std::size_t(i) + std::size_t(j) * std::size_t(rows)]; };
                    std::vector<int> hl = gpucmp::random_ints(std::size_t(cols), ++seed, 0, rows - 1);
                    for (int j = 0; j < cols; ++j) {
                        if (j % 4 == 0 && rows > 2) at(1, j) = at(rows - 1, j) = T(0.9);  // tie: row 1 wins
                        if (j % 4 == 1) for (int i = 0; i < rows; ++i) at(i, j) = T(0.5);  // all tied: row 0
                        if (j % 5 == 2) { at(0, j) = T(0); at(rows - 1, j) = T(1); }
                        if (j % 3 == 0) {  // label = the argmax: a "correct" column
                            int best = 0;
                            for (int i = 1; i < rows; ++i) if (at(i, j) > at(best, j)) best = i;
                            hl[std::size_t(j)] = best;
                        }
                    }
                    auto run = [&](Backend<T>& be) {
                        DeviceMatrix<T> a(be, la, ha);
                        DeviceMatrix<int> labels(be, ll, hl);
                        const EvalSums s = be.evaluate(a.view(), labels.data(), cost);
                        a.result("a");
                        return s;
                    };
                    const EvalSums want = run(*fx.cpu_), got = run(*fx.gpu_);
                    std::ostringstream what;
                    what << to_string(cost) << ", " << rows << "x" << cols << " pad " << pad;
                    EXPECT_EQ(got.correct, want.correct) << what.str();
                    EXPECT_GT(want.correct, 0) << what.str();
                    // The cost is summed in double from the same activations on both; only the
                    // order of the sum and log/exp's last bits differ.
                    EXPECT_TRUE(compare(std::vector<double>{got.cost}, std::vector<double>{want.cost},
                                        Tolerance{1e-12, 0.0}))
                        << what.str();
                }
}

GPU_VS_CPU_TEST(SumSquares) {
    std::uint64_t seed = 1000;
    for (std::size_t n : {std::size_t(1), std::size_t(7), std::size_t(1000), std::size_t(23860), std::size_t(100003)}) {
        const Layout lx(int(n), 1);
        const auto hx = gpucmp::random_values<T>(n, ++seed, -2.0, 2.0);
        auto run = [&](Backend<T>& be) {
            DeviceMatrix<T> x(be, lx, hx);
            return be.sum_squares(x.data(), n);
        };
        const double want = run(*fx.cpu_), got = run(*fx.gpu_);
        EXPECT_TRUE(compare(std::vector<double>{got}, std::vector<double>{want}, Tolerance{1e-12, 0.0}))
            << "n = " << n;
    }
}

// The shuffle must be the same permutation on both devices: that is what makes a seed train
// in the same order everywhere.
GPU_VS_CPU_TEST(Permutation) {
    struct SeedEpoch {
        std::uint64_t seed, epoch;
    };
    for (int n : {1, 2, 3, 10, 1000, 60000})
        for (const SeedEpoch se : {SeedEpoch{1, 0}, SeedEpoch{1, 1}, SeedEpoch{42, 7}}) {
            const std::uint64_t seed = se.seed, epoch = se.epoch;
            const Layout li(n, 1);
            const auto hinit = gpucmp::random_ints(std::size_t(n), seed, -5, 5);
            auto run = [&](Backend<T>& be) {
                DeviceMatrix<int> idx(be, li, hinit);
                be.permutation(idx.data(), n, seed, epoch);
                return idx.result(be.name().c_str());
            };
            const auto want = run(*fx.cpu_), got = run(*fx.gpu_);
            EXPECT_TRUE(compare(got, want, gpucmp::exact())) << "n " << n << ", seed " << seed << ", epoch " << epoch;
            std::vector<int> sorted = got, ids(static_cast<std::size_t>(n), 0);
            std::sort(sorted.begin(), sorted.end());
            std::iota(ids.begin(), ids.end(), 0);
            EXPECT_EQ(sorted, ids) << "not a permutation of 0.." << n - 1;
        }
}

// ---- the algorithm on top of the primitives ----------------------------------------------------

// The full mini-batch gradient of Backprop, GPU vs CPU: every net, batch size, cost and mode.
// x is a column range of a larger matrix with ld > rows (as an unshuffled trainer passes it),
// and the workspace capacity is exactly m (no spare columns to hide a stray write in).
GPU_VS_CPU_TEST(MiniBatchGradient) {
    std::uint64_t seed = 1100;
    for (const auto& sizes : nets())
        for (int m : batch_sizes())
            for (Cost cost : {Cost::quadratic, Cost::cross_entropy})
                for (Mode mode : {Mode::matrix, Mode::per_example}) {
                    const ParamLayout layout(sizes);
                    const int n0 = sizes.front(), nL = sizes.back();
                    Network<T> net(sizes);
                    net.init(Init::scaled, ++seed);
                    const Layout lx(n0, m + 2, 1), ly(nL, m);
                    const auto hx = gpucmp::random_values<T>(count(lx), ++seed, 0.0, 1.0);
                    const auto labels = gpucmp::random_ints(std::size_t(m), ++seed, 0, nL - 1);
                    std::vector<T> hy(count(ly), T(0));
                    for (int j = 0; j < m; ++j) hy[std::size_t(labels[std::size_t(j)]) + std::size_t(j) * std::size_t(nL)] = T(1);
                    struct Result {
                        std::vector<T> nabla, out;
                    };
                    auto run = [&](Backend<T>& be) {
                        Backprop<T> bp(be, layout, m);
                        bp.set_params(net.params());
                        DeviceMatrix<T> x(be, lx, hx), y(be, ly, hy);
                        const ConstView<T> xm = ConstView<T>(x.view()).col_range(1, m);
                        bp.backprop(xm, y.view(), mode, cost);
                        Result r;
                        r.nabla = bp.nabla();
                        r.out = download_view(be, bp.feedforward(xm));
                        x.result("x");
                        return r;
                    };
                    const Result want = run(*fx.cpu_), got = run(*fx.gpu_);
                    std::ostringstream what;
                    what << sizes_to_string(sizes) << ", m " << m << ", " << to_string(cost) << ", "
                         << to_string(mode);
                    EXPECT_TRUE(compare(got.out, want.out, Tol<T>::elementwise(), nL)) << what.str() << ": a[L]";
                    expect_close_by_layer(layout, got.nabla, want.nabla, Tol<T>::gradient(), what.str() + ": nabla");
                }
}

// Same seed, same device: bitwise the same gradient and evaluation, run after run (no atomics).
GPU_VS_CPU_TEST(GpuIsDeterministic) {
    const std::vector<int> sizes = {784, 30, 10};
    const int m = 128;
    const ParamLayout layout(sizes);
    Network<T> net(sizes);
    net.init(Init::gaussian, 5);
    const auto hx = gpucmp::random_values<T>(std::size_t(784) * m, 6, 0.0, 1.0);
    const auto hl = gpucmp::random_ints(std::size_t(m), 7, 0, 9);
    auto run = [&] {
        Backprop<T> bp(*fx.gpu_, layout, m);
        bp.set_params(net.params());
        std::vector<T> hy(std::size_t(10) * m, T(0));
        for (int j = 0; j < m; ++j) hy[std::size_t(j) * 10 + std::size_t(hl[std::size_t(j)])] = T(1);
        DeviceMatrix<T> x(*fx.gpu_, Layout(784, m), hx), y(*fx.gpu_, Layout(10, m), hy);
        DeviceMatrix<int> labels(*fx.gpu_, Layout(m, 1), hl);
        bp.backprop(x.view(), y.view(), Mode::matrix, Cost::cross_entropy);
        const EvalSums s = bp.evaluate(x.view(), labels.data(), Cost::cross_entropy);
        return std::make_tuple(bp.nabla(), s.correct, s.cost);
    };
    const auto [g1, c1, cost1] = run();
    const auto [g2, c2, cost2] = run();
    EXPECT_TRUE(std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(T)) == 0) << "nabla differs between runs";
    EXPECT_EQ(c1, c2);
    EXPECT_TRUE(std::memcmp(&cost1, &cost2, sizeof(double)) == 0) << cost1 << " vs " << cost2;
}

// One epoch of SGD (shuffled, 253 examples: the last mini-batch is partial) from the same
// initial parameters ends at the same parameters on both devices, and evaluates the same.
GPU_VS_CPU_TEST(OneEpochSameParameters) {
    const std::vector<int> sizes = {784, 30, 10};
    auto dataset = [](int n, std::uint64_t seed) {
        Dataset d;
        d.n_inputs = 784;
        d.n = n;
        d.source = "random";
        d.pixels = bptest::random_pixels(std::size_t(784) * std::size_t(n), seed);
        d.labels = gpucmp::random_ints(std::size_t(n), seed + 1, 0, 9);
        return d;
    };
    const Dataset train = dataset(253, 1), eval = dataset(101, 3);
    Network<T> net(sizes);
    net.init(Init::scaled, 3);
    struct Variant {
        Mode mode;
        Cost cost;
        bool shuffle;
    };
    for (const Variant& v : {Variant{Mode::matrix, Cost::quadratic, true}, Variant{Mode::matrix, Cost::cross_entropy, true},
                             Variant{Mode::per_example, Cost::quadratic, true},
                             Variant{Mode::per_example, Cost::cross_entropy, true},
                             Variant{Mode::matrix, Cost::cross_entropy, false}}) {
        TrainConfig c;
        c.epochs = 1;
        c.batch = 10;
        c.eta = 0.5;
        c.lambda = 2.0;
        c.cost = v.cost;
        c.mode = v.mode;
        c.shuffle = v.shuffle;
        c.seed = 11;
        struct Result {
            std::vector<T> params;
            Evaluation eval;
        };
        auto run = [&](Backend<T>& be) {
            DeviceData<T> tr(be, train), ev(be, eval);
            Trainer<T> trainer(be, net.layout(), tr, &ev, c);
            trainer.backprop().set_params(net.params());
            trainer.train_epoch(0);
            return Result{trainer.backprop().params(), trainer.evaluate(ev)};
        };
        const Result want = run(*fx.cpu_), got = run(*fx.gpu_);
        std::ostringstream what;
        what << to_string(v.mode) << ", " << to_string(v.cost) << (v.shuffle ? ", shuffled" : ", in order");
        expect_close_by_layer(net.layout(), got.params, want.params, Tol<T>::epoch(), what.str() + ": params");
        EXPECT_FALSE(compare(got.params, net.params(), gpucmp::exact()))
            << what.str() << ": the epoch changed no parameter";
        if (std::is_same<T, double>::value)
            EXPECT_EQ(got.eval.correct, want.eval.correct) << what.str();
        else
            EXPECT_LE(std::abs(got.eval.correct - want.eval.correct), 1) << what.str();  // a near-tie may flip
        EXPECT_TRUE(compare(std::vector<double>{got.eval.cost}, std::vector<double>{want.eval.cost},
                            Tolerance{Tol<T>::epoch().rel, 0.0}))
            << what.str() << ": evaluation cost";
    }
}

// Float inputs through the whole path: DeviceData uploads them to the GPU as floats (the CPU
// uses them in place), one epoch ends near the CPU's parameters and evaluates alike.
GPU_VS_CPU_TEST(OneEpochFloatInputsSameParameters) {
    const std::vector<int> sizes = {784, 30, 10};
    auto lend = [](int n, std::uint64_t seed) {
        const std::vector<std::uint8_t> k = bptest::random_pixels(std::size_t(784) * std::size_t(n), seed);
        auto v = std::make_shared<std::vector<float>>();
        for (std::uint8_t b : k) v->push_back(float(b) / 256.0f);  // no byte's k/255
        return borrow_images(784, n, v->data(), v, gpucmp::random_ints(std::size_t(n), seed + 1, 0, 9), "floats");
    };
    const Dataset train = lend(253, 5), eval = lend(101, 7);
    Network<T> net(sizes);
    net.init(Init::scaled, 3);
    TrainConfig c;
    c.epochs = 1;
    c.batch = 10;
    c.eta = 0.5;
    c.cost = Cost::cross_entropy;
    c.seed = 11;
    struct Result {
        std::vector<T> params;
        Evaluation eval;
        const void* images;
    };
    auto run = [&](Backend<T>& be) {
        DeviceData<T> tr(be, train), ev(be, eval);
        Trainer<T> trainer(be, net.layout(), tr, &ev, c);
        trainer.backprop().set_params(net.params());
        trainer.train_epoch(0);
        return Result{trainer.backprop().params(), trainer.evaluate(ev), tr.image_data()};
    };
    const Result want = run(*fx.cpu_), got = run(*fx.gpu_);
    EXPECT_EQ(want.images, train.image_data()) << "the CPU reads the images in place";
    EXPECT_NE(got.images, train.image_data()) << "the GPU has its own copy";
    expect_close_by_layer(net.layout(), got.params, want.params, Tol<T>::epoch(), "float inputs: params");
    EXPECT_FALSE(compare(got.params, net.params(), gpucmp::exact())) << "the epoch changed no parameter";
    const long long flips = std::is_same<T, double>::value ? 0 : 1;  // in float a near-tie may flip
    EXPECT_LE(std::abs(got.eval.correct - want.eval.correct), flips);
    EXPECT_TRUE(compare(std::vector<double>{got.eval.cost}, std::vector<double>{want.eval.cost},
                        Tolerance{Tol<T>::epoch().rel, 0.0}));
}

// Training with the steps recorded as CUDA graphs and replayed ends at bitwise the parameters
// of eager launches on the same GPU (the same kernels in the same order), over three epochs
// in which every segment kind (chunks of 7 steps, a tail, the partial batch) is run, recorded
// and replayed; and near the CPU's, as eager training is.
GPU_VS_CPU_TEST(GraphReplayEqualsEager) {
    Dataset train;
    train.n_inputs = 784;
    train.n = 253;
    train.source = "random";
    train.pixels = bptest::random_pixels(std::size_t(784) * 253, 41);
    train.labels = gpucmp::random_ints(253, 42, 0, 9);
    Network<T> net({784, 30, 10});
    net.init(Init::scaled, 43);
    for (Mode mode : {Mode::matrix, Mode::per_example})
        for (int m : {10, 40}) {  // 40: more than one row-sum group, so the partial sums run too
            TrainConfig c;
            c.epochs = 3;
            c.batch = m;
            c.eta = 0.5;
            c.lambda = 1.0;
            c.mode = mode;
            c.seed = 44;
            c.segment_steps = 7;
            auto run = [&](Backend<T>& be, Launch launch, bool* recorded) {
                c.launch = launch;
                DeviceData<T> d(be, train);
                Trainer<T> trainer(be, net.layout(), d, nullptr, c);
                trainer.backprop().set_params(net.params());
                std::vector<std::string> notices;
                TrainCallbacks cb;
                cb.on_notice = [&](const std::string& why) { notices.push_back(why); };
                trainer.run(cb);
                EXPECT_TRUE(notices.empty()) << notices.front();
                if (recorded) *recorded = trainer.recording();
                return trainer.backprop().params();
            };
            const std::string what = std::string(to_string(mode)) + ", m = " + std::to_string(m);
            bool recorded = false;
            const std::vector<T> graph = run(*fx.gpu_, Launch::graph, &recorded);
            const std::vector<T> eager = run(*fx.gpu_, Launch::eager, nullptr);
            EXPECT_TRUE(recorded) << what << ": the GPU trainer did not record";
            EXPECT_TRUE(compare(graph, eager, gpucmp::exact())) << what << ": graph vs eager";
            const std::vector<T> cpu = run(*fx.cpu_, Launch::eager, nullptr);
            expect_close_by_layer(net.layout(), graph, cpu, Tol<T>::epoch(), what + ": graph vs CPU");
        }
}

// The fused step (Launch::fused, one kernel per segment) trains as the CPU's library path
// does: networks of one to three layers, a batch that leaves a partial one, m = 1 and m = 33
// (two row-sum groups), forward sums cut into ranges and not, both costs, lambda. The book's
// network in float keeps everything in shared memory; in double its scratch is global.
GPU_VS_CPU_TEST(FusedStepTrainsAsTheCpu) {
    struct Case {
        std::vector<int> sizes;
        int m;
        Cost cost;
        double lambda;
    };
    const std::vector<Case> cases = {{{784, 30, 10}, 10, Cost::quadratic, 0.0}, {{784, 30, 10}, 33, Cost::cross_entropy, 1.0},
                                     {{64, 6, 3}, 4, Cost::quadratic, 0.0},     {{30, 4}, 11, Cost::cross_entropy, 2.0},
                                     {{50, 12, 9, 4}, 1, Cost::quadratic, 1.0},  {{784, 100, 10}, 10, Cost::quadratic, 0.0}};
    for (const Case& k : cases) {
        const int n0 = k.sizes.front(), classes = k.sizes.back();
        Dataset train;
        train.n_inputs = n0;
        train.n = 253;
        train.source = "random";
        train.pixels = bptest::random_pixels(std::size_t(n0) * 253, 51);
        train.labels = gpucmp::random_ints(253, 52, 0, classes - 1);
        Network<T> net(k.sizes);
        net.init(Init::scaled, 53);
        TrainConfig c;
        c.epochs = 2;
        c.batch = k.m;
        c.eta = 0.5;
        c.lambda = k.lambda;
        c.cost = k.cost;
        c.seed = 54;
        auto run = [&](Backend<T>& be, Launch launch, Launch* used) {
            c.launch = launch;
            DeviceData<T> d(be, train);
            Trainer<T> trainer(be, net.layout(), d, nullptr, c);
            trainer.backprop().set_params(net.params());
            if (used) *used = trainer.launch();
            trainer.run();
            return trainer.backprop().params();
        };
        const std::string what = sizes_to_string(k.sizes) + ", m = " + std::to_string(k.m);
        Launch used = Launch::eager;
        const std::vector<T> fused = run(*fx.gpu_, Launch::fused, &used);
        EXPECT_EQ(used, Launch::fused) << what;
        const std::vector<T> again = run(*fx.gpu_, Launch::fused, nullptr);
        EXPECT_TRUE(compare(fused, again, gpucmp::exact())) << what << ": fused twice";
        const std::vector<T> cpu = run(*fx.cpu_, Launch::eager, nullptr);
        expect_close_by_layer(net.layout(), fused, cpu, Tol<T>::epoch(), what + ": fused vs CPU");
    }
}

// The book's default run picks the fused step by itself; where the plan keeps the parameters
// and the scratch (shared or global memory) does not change a bit of the result.
GPU_VS_CPU_TEST(FusedStepPlacementAndAutomaticChoice) {
    const ParamLayout layout({784, 30, 10});
    Dataset train;
    train.n_inputs = 784;
    train.n = 200;
    train.source = "random";
    train.pixels = bptest::random_pixels(std::size_t(784) * 200, 61);
    train.labels = gpucmp::random_ints(200, 62, 0, 9);
    {
        DeviceData<T> d(*fx.gpu_, train);
        EXPECT_EQ(Trainer<T>(*fx.gpu_, layout, d, nullptr, TrainConfig{}).launch(), Launch::fused);
    }
    Network<T> net({784, 30, 10});
    net.init(Init::scaled, 63);
    DeviceData<T> d(*fx.gpu_, train);
    Buffer<int> order(*fx.gpu_, 200), cursor(*fx.gpu_, 1);
    std::vector<int> identity(200);
    std::iota(identity.begin(), identity.end(), 0);
    order.upload(identity);
    const int zero = 0;
    cursor.upload(&zero, 1);
    FusedDevice<T>* const device = fused_device(*fx.gpu_);
    ASSERT_NE(device, nullptr);
    const std::size_t limit = device->fused_shared_limit();
    ASSERT_GT(limit, 0u);
    std::vector<std::vector<T>> results;
    for (std::size_t shared : {limit, sizeof(T) * layout.n_params(), std::size_t(1)}) {  // all, the parameters, none
        const FusedShape shape = plan_fused_step(layout, 10, sizeof(T), shared);
        Buffer<T> params(*fx.gpu_, layout.n_params()), scratch(*fx.gpu_, std::size_t(shape.scratch_elems));
        params.upload(net.params());
        fused::Args<T, std::uint8_t> a;
        a.params = params.data();
        a.scratch = scratch.data();
        a.scratch_elems = shape.scratch_elems;
        a.images = d.pixels().data;
        a.labels = d.labels();
        a.order = order.data();
        a.cursor = cursor.data();
        a.steps = 20;
        a.alpha = T(-3.0 / 10);
        a.decay = T(1);
        device->fused_train_steps(shape, a);
        results.push_back(params.to_host());
    }
    EXPECT_TRUE(compare(results[1], results[0], gpucmp::exact())) << "parameters shared, scratch global";
    EXPECT_TRUE(compare(results[2], results[0], gpucmp::exact())) << "everything global";
}

// ---- the fused kernel's shared memory: set once, never per launch (issue 20, D2) --------------

// A fused run of `sizes` at m on a fresh GPU backend of its own: 2 epochs of 253 random
// examples, the parameters after them.
template <class T>
std::vector<T> train_fused_on_a_gpu(const std::vector<int>& sizes, int m) {
    const auto be = make_cuda_backend<T>(0);
    Dataset train;
    train.n_inputs = sizes.front();
    train.n = 253;
    train.source = "random";
    train.pixels = bptest::random_pixels(std::size_t(train.n_inputs) * 253, 71);
    train.labels = gpucmp::random_ints(253, 72, 0, sizes.back() - 1);
    Network<T> net(sizes);
    net.init(Init::scaled, 73);
    TrainConfig c;
    c.epochs = 2;
    c.batch = m;
    c.eta = 0.5;
    c.launch = Launch::fused;
    DeviceData<T> d(*be, train);
    Trainer<T> trainer(*be, net.layout(), d, nullptr, c);
    EXPECT_EQ(trainer.launch(), Launch::fused);
    trainer.backprop().set_params(net.params());
    trainer.run();
    return trainer.backprop().params();
}

#ifdef BATCHPROP_WITH_CUDA
// The kernel's maximum dynamic shared memory is the function's, process-wide: it is set once,
// to the device's limit, when a backend is made, and launches of any size leave it there.
TEST(FusedKernel, LaunchesLeaveTheSharedMemoryAttributeAlone) {
    REQUIRE_GPU();
    const auto be = make_cuda_backend<float>(0);
    const int limit = int(fused_device(*be)->fused_shared_limit());
    ASSERT_GT(limit, 48 * 1024);
    const auto attributes = [] {
        return std::vector<int>{kernels::fused_kernel_shared_attribute<float, std::uint8_t>(),
                                kernels::fused_kernel_shared_attribute<double, std::uint8_t>(),
                                kernels::fused_kernel_shared_attribute<float, float>(),
                                kernels::fused_kernel_shared_attribute<double, float>()};
    };
    EXPECT_EQ(attributes(), std::vector<int>(4, limit)) << "every instantiation opted in when the backend was made";
    train_fused_on_a_gpu<float>({64, 6, 3}, 4);  // launches of a few KiB
    EXPECT_EQ(attributes(), std::vector<int>(4, limit)) << "a launch changed the kernel's attribute";
}
#endif

// Two host threads training different shapes at once, each on its backend: a launch of the
// one never runs under the other's shared-memory setting. The book's network in float asks for
// ~190 KB a launch, [64,6,3] at m = 4 for a few KB; each thread's runs equal a run alone, bitwise.
TEST(FusedKernel, TwoThreadsTrainTwoShapesAsEachDoesAlone) {
    REQUIRE_GPU();
    const std::vector<float> want_big = train_fused_on_a_gpu<float>({784, 30, 10}, 10);
    const std::vector<float> want_small = train_fused_on_a_gpu<float>({64, 6, 3}, 4);
    constexpr int kRuns = 4;
    std::vector<std::vector<float>> big(kRuns), small(kRuns);
    std::exception_ptr failed[2];
    std::thread a([&] {
        try {
            for (auto& p : big) p = train_fused_on_a_gpu<float>({784, 30, 10}, 10);
        } catch (...) {
            failed[0] = std::current_exception();
        }
    });
    std::thread b([&] {
        try {
            for (auto& p : small) p = train_fused_on_a_gpu<float>({64, 6, 3}, 4);
        } catch (...) {
            failed[1] = std::current_exception();
        }
    });
    a.join();
    b.join();
    for (const std::exception_ptr& e : failed)
        if (e) std::rethrow_exception(e);
    for (int r = 0; r < kRuns; ++r) {
        EXPECT_TRUE(compare(big[std::size_t(r)], want_big, gpucmp::exact())) << "[784,30,10], run " << r;
        EXPECT_TRUE(compare(small[std::size_t(r)], want_small, gpucmp::exact())) << "[64,6,3], run " << r;
    }
}

// ---- the CUDA backend's own behaviour ------------------------------------------------------------

TEST(CudaBackend, NameAndKind) {
    REQUIRE_GPU();
    const auto be = make_cuda_backend<float>(0);
    EXPECT_EQ(be->kind(), DeviceKind::cuda);
    EXPECT_EQ(be->name().rfind("cuda:0 (", 0), 0u) << be->name();
    EXPECT_NE(be->name().find(gpu_status().names.at(0)), std::string::npos) << be->name();
}

// The event timer measures the GPU's work: a 2048^3 DGEMM (17 GFLOP) takes well over a
// microsecond and, on any GPU this runs on, under ten seconds; an empty interval is ~0.
TEST(CudaBackend, EventTimerMeasuresQueuedWork) {
    REQUIRE_GPU();
    auto be = make_cuda_backend<double>(0);
    const int n = 2048;
    Buffer<double> a(*be, std::size_t(n) * n), c(*be, std::size_t(n) * n);
    a.upload(gpucmp::random_values<double>(std::size_t(n) * n, 5));
    const ConstView<double> av(a.data(), n, n);
    const auto timer = be->make_timer();
    timer->start();
    be->gemm(MatrixView<double>(c.data(), n, n), Op::N, av, Op::T, av, 1.0, 0.0);
    const double s = timer->stop_seconds();
    EXPECT_GT(s, 1e-6);
    EXPECT_LT(s, 10.0);
    timer->start();
    const double empty = timer->stop_seconds();
    EXPECT_GE(empty, 0.0);
    EXPECT_LT(empty, s);
}

// An impossible allocation fails with an Error that names the call and the bytes asked for,
// and leaves the backend usable (the runtime's last-error record is cleared, so the next
// kernel launch is not blamed for it).
TEST(CudaBackend, OutOfMemorySaysHowMuch) {
    REQUIRE_GPU();
    auto be = make_cuda_backend<double>(0);
    const std::size_t huge = std::size_t(1) << 50;  // 1 PiB
    try {
        be->allocate(huge);
        FAIL() << "allocating 1 PiB succeeded";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("cudaMalloc"), std::string::npos) << msg;
        EXPECT_NE(msg.find("1125899906842624 bytes"), std::string::npos) << msg;
        EXPECT_NE(msg.find("cuda_backend.cu:"), std::string::npos) << msg;
    }
    DeviceMatrix<double> a(*be, Layout(3, 4), gpucmp::random_values<double>(12, 1));
    DeviceMatrix<double> b(*be, Layout(3, 1), gpucmp::random_values<double>(3, 2));
    EXPECT_NO_THROW(be->bias_sigmoid(a.view(), a.view(), b.data()));
    EXPECT_NO_THROW(be->synchronize());
}

TEST(CudaBackend, BadDeviceIndexThrows) {
    REQUIRE_GPU();
    EXPECT_THROW(make_cuda_backend<float>(gpu_status().count), Error);
    EXPECT_THROW(make_cuda_backend<float>(-1), Error);
}

// ---- runs without a GPU: device selection -------------------------------------------------------

TEST(DeviceSelection, StatusIsConsistent) {
    const GpuStatus& s = gpu_status();
#ifdef BATCHPROP_WITH_CUDA
    EXPECT_TRUE(s.compiled);
#endif
    if (s.usable) {
        EXPECT_GE(s.count, 1);
        EXPECT_EQ(s.names.size(), std::size_t(s.count));
    } else {
        EXPECT_FALSE(s.reason.empty());
        EXPECT_EQ(s.reason.find('\n'), std::string::npos) << "reason should be one line: " << s.reason;
    }
}

// --device cuda without a usable GPU is an error that says why; with one, it is a GPU backend.
TEST(DeviceSelection, CudaWithoutGpuThrowsWithTheReason) {
    const GpuStatus& s = gpu_status();
    if (s.usable) {
        const auto be = make_backend<float>(parse_device("cuda"));
        EXPECT_EQ(be->kind(), DeviceKind::cuda);
        return;
    }
    try {
        make_backend<float>(parse_device("cuda"));
        FAIL() << "--device cuda succeeded without a usable GPU";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(s.reason), std::string::npos)
            << "message: " << e.what() << "\nreason: " << s.reason;
    }
}

// cuda:N names GPU N; one past the last is refused by the device selection itself, with the
// number of GPUs present, before any CUDA call (make_cuda_backend's own check would word it
// differently). The last one is accepted.
TEST(DeviceSelection, CudaIndexPastTheLastGpuNamesTheCount) {
    const GpuStatus& s = gpu_status();
    if (!s.usable) GTEST_SKIP() << "no usable GPU: " << s.reason;
    const std::string past = "cuda:" + std::to_string(s.count);
    try {
        make_backend<float>(parse_device(past));
        FAIL() << "--device " << past << " succeeded with " << s.count << " GPU(s)";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("device " + past + ": only " + std::to_string(s.count) + " GPU(s) present"),
                  std::string::npos)
            << msg;
    }
    const auto last = make_backend<float>(parse_device("cuda:" + std::to_string(s.count - 1)));
    EXPECT_EQ(last->kind(), DeviceKind::cuda);
    // auto with an index (the C++ API's) is held to the same count, not handed to CUDA.
    try {
        make_backend<float>(DeviceSpec(DeviceSpec::Want::automatic, s.count));
        FAIL() << "auto with GPU " << s.count << " succeeded with " << s.count << " GPU(s)";
    } catch (const SettingUnavailable& e) {
        EXPECT_NE(std::string(e.what()).find("(GPU " + std::to_string(s.count) + "): only"), std::string::npos) << e.what();
    }
}

TEST(DeviceSelection, AutoFallsBackToTheCpuWithANotice) {
    std::string notice;
    const auto be = make_backend<double>(parse_device("auto"), &notice);
    if (gpu_status().usable) {
        EXPECT_EQ(be->kind(), DeviceKind::cuda);
    } else {
        EXPECT_EQ(be->kind(), DeviceKind::cpu);
        EXPECT_NE(notice.find(gpu_status().reason), std::string::npos) << notice;
    }
}

// ---- runs without a GPU: cuBLAS opened on demand ----------------------------------------------------

#ifdef BATCHPROP_WITH_CUDA
// The loader needs the library, not a GPU: wherever the toolkit's cuBLAS is installed (as on
// every machine that builds this), every entry point the backend calls resolves.
TEST(CublasLoader, OpensTheToolkitsCublasWithoutAGpu) {
    const batchprop::cuda_detail::CublasApi& api = batchprop::cuda_detail::cublas_api();
    EXPECT_NE(api.create, nullptr);
    EXPECT_NE(api.destroy, nullptr);
    EXPECT_NE(api.set_stream, nullptr);
    EXPECT_NE(api.set_pointer_mode, nullptr);
    EXPECT_NE(api.set_math_mode, nullptr);
    EXPECT_NE(api.set_workspace, nullptr);
    EXPECT_NE(api.sgemm, nullptr);
    EXPECT_NE(api.dgemm, nullptr);
    EXPECT_EQ(&api, &batchprop::cuda_detail::cublas_api()) << "opened once";
}
#endif

// ---- runs without a GPU: the checker itself -------------------------------------------------------

// The comparison must fail on a single perturbed element and name it, with both values.
TEST(GpuCompare, CatchesAPerturbedValue) {
    const auto want = gpucmp::random_values<double>(1000, 1);
    auto got = want;
    EXPECT_TRUE(compare(got, want, Tolerance{1e-12, 0.0}, 10));
    got[437] *= 1.0 + 1e-9;  // far below what a print shows, far above the tolerance
    const ::testing::AssertionResult r = compare(got, want, Tolerance{1e-12, 0.0}, 10);
    ASSERT_FALSE(r);
    const std::string msg = r.message();
    EXPECT_NE(msg.find("1 of 1000"), std::string::npos) << msg;
    EXPECT_NE(msg.find("index 437 (row 7, col 43)"), std::string::npos) << msg;
    std::ostringstream g, w;
    g.precision(17);
    w.precision(17);
    g << got[437];
    w << want[437];
    EXPECT_NE(msg.find(g.str()), std::string::npos) << msg;
    EXPECT_NE(msg.find(w.str()), std::string::npos) << msg;
    // Within a looser tolerance the same perturbation passes; exact comparison catches 1 ulp.
    EXPECT_TRUE(compare(got, want, Tolerance{1e-8, 0.0}));
    auto ulp = want;
    ulp[3] = std::nextafter(ulp[3], 2.0);
    EXPECT_FALSE(compare(ulp, want, gpucmp::exact()));
}

TEST(GpuCompare, NonFiniteValuesFailOnTheirOwn) {
    const std::vector<float> want = {1.0f, 2.0f, 3.0f};
    const Tolerance anything{1e30, 1.0};
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
        std::vector<float> got = want;
        got[1] = bad;
        EXPECT_FALSE(compare(got, want, anything)) << bad;
        EXPECT_FALSE(compare(want, got, anything)) << bad << " in the reference";
        EXPECT_FALSE(compare(got, got, anything)) << bad << " in both";
    }
    EXPECT_FALSE(compare(std::vector<float>{1.0f}, want, anything)) << "sizes differ";
}

TEST(GpuCompare, GuardsCatchWritesIntoPaddingAndTail) {
    const Layout l(3, 4, 2);  // ld 5: rows 3 and 4 of each column are padding
    const auto values = gpucmp::random_values<float>(12, 1);
    auto full = gpucmp::guarded(l, values);
    EXPECT_TRUE(gpucmp::guards_intact(l, full));
    EXPECT_EQ(gpucmp::active_part(l, full), values);
    auto padded = full;
    padded[1 * 5 + 4] = 0.0f;  // column 1, padding row 4
    EXPECT_FALSE(gpucmp::guards_intact(l, padded));
    auto tail = full;
    tail[l.alloc() - 1] = 0.0f;  // the last guard past the end
    const ::testing::AssertionResult r = gpucmp::guards_intact(l, tail);
    EXPECT_FALSE(r);
    EXPECT_NE(std::string(r.message()).find("tail +15"), std::string::npos) << r.message();
}

}  // namespace
