// The CPU reference checked against mathematics: finite differences, per-example vs matrix
// gradients, and one SGD step worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "batchprop/backprop.hpp"
#include "cpu/subnormals.hpp"
#include "batchprop/gradcheck.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

struct GradcheckCase {
    std::vector<int> sizes;
    Cost cost;
    double lambda;
};

class GradcheckTest : public ::testing::TestWithParam<GradcheckCase> {};

// Every parameter of small random networks of depth 2 to 4: backprop (BP1-BP4) against
// fourth-order central differences of the cost, in double.
TEST_P(GradcheckTest, BackpropMatchesFiniteDifferences) {
    const GradcheckCase& c = GetParam();
    Network<double> net(c.sizes);
    net.init(Init::gaussian, 42);
    const GradcheckProblem p = random_problem(c.sizes, 5, c.cost, c.lambda, 7);
    const GradcheckResult r = gradcheck(net, p);
    EXPECT_EQ(r.n_checked, net.params().size());
    // Gradients must not be trivially zero, or the check proves nothing.
    double largest = 0.0;
    for (double g : r.analytic) largest = std::max(largest, std::abs(g));
    EXPECT_GT(largest, 1e-3);
    EXPECT_LT(r.worst, 1e-6) << "sizes " << sizes_to_string(c.sizes);
    RecordProperty("worst_relative_error", std::to_string(r.worst));
}

INSTANTIATE_TEST_SUITE_P(
    SmallNets, GradcheckTest,
    ::testing::Values(GradcheckCase{{3, 2}, Cost::quadratic, 0.0},
                      GradcheckCase{{3, 2}, Cost::cross_entropy, 0.5},
                      GradcheckCase{{4, 5, 3}, Cost::quadratic, 0.0},
                      GradcheckCase{{4, 5, 3}, Cost::quadratic, 1.0},
                      GradcheckCase{{4, 5, 3}, Cost::cross_entropy, 0.0},
                      GradcheckCase{{4, 5, 3}, Cost::cross_entropy, 1.0},
                      GradcheckCase{{5, 4, 6, 3}, Cost::quadratic, 0.3},
                      GradcheckCase{{5, 4, 6, 3}, Cost::cross_entropy, 0.0},
                      GradcheckCase{{3, 7, 5, 4, 2}, Cost::quadratic, 0.0},
                      GradcheckCase{{3, 7, 5, 4, 2}, Cost::cross_entropy, 2.0}),
    [](const ::testing::TestParamInfo<GradcheckCase>& info) {
        std::string name = "n";
        for (int s : info.param.sizes) name += "_" + std::to_string(s);
        name += info.param.cost == Cost::quadratic ? "_quadratic" : "_crossentropy";
        name += info.param.lambda > 0 ? "_lambda" : "_nolambda";
        return name;
    });

// The checker itself must fail when the gradient is wrong: perturb one entry of an otherwise
// correct gradient by 1e-4 relative and expect that entry to be flagged.
TEST(Gradcheck, CatchesAPerturbedGradient) {
    const std::vector<int> sizes{4, 5, 3};
    Network<double> net(sizes);
    net.init(Init::gaussian, 3);
    const GradcheckProblem p = random_problem(sizes, 4, Cost::quadratic, 0.0, 9);
    std::vector<double> g = backprop_gradient(net, p);
    const std::size_t i = net.layout().w_offset(2) + 4;
    ASSERT_GT(std::abs(g[i]), 1e-6);
    g[i] *= 1.0 + 1e-4;
    const GradcheckResult r = gradcheck(net, p, 1e-3, &g);
    EXPECT_GT(r.worst, 5e-5);
    EXPECT_EQ(r.layers[2].worst_w_index, 4u);
    EXPECT_LT(r.layers[1].worst_w, 1e-6);  // the untouched layer still passes
}

// `batchprop gradcheck`'s defaults (scaled init, m = 4, h = 1e-3, f64 tolerance 1e-6) must not
// fail correct backprop when only the seed changes (issue 22: one seed in five did, with the
// rounding of J against a fixed floor of 1e-6). The problem is built as the CLI builds it.
constexpr double kCliTolerance = 1e-6;

struct SeedSweep {
    double worst = 0.0;
    std::uint64_t worst_seed = 0;
};

SeedSweep sweep_seeds(const std::vector<int>& sizes, Cost cost, double lambda, int n_seeds) {
    SeedSweep out;
    for (int seed = 1; seed <= n_seeds; ++seed) {
        Network<double> net(sizes);
        net.init(Init::scaled, std::uint64_t(seed));
        const GradcheckProblem p = random_problem(sizes, 4, cost, lambda, std::uint64_t(seed));
        const GradcheckResult r = gradcheck(net, p, 1e-3);
        EXPECT_FALSE(std::isnan(r.worst)) << "seed " << seed;
        if (std::isnan(r.worst) || r.worst > out.worst) out = {r.worst, std::uint64_t(seed)};
    }
    return out;
}

struct SweepCase {
    Cost cost;
    double lambda;
};

class GradcheckSeedSweep : public ::testing::TestWithParam<SweepCase> {};

// Seeds 1..50 with a 10x margin under the tolerance. [784,4,10] keeps the CLI network's 784-long
// input products and cost scale (what rounds in J) with an eighth of its parameters, so the 50
// seeds take about a second; DISABLED_CliSizes below is the same sweep on [784,30,10] itself.
TEST_P(GradcheckSeedSweep, FiftySeedsPassWithATenfoldMargin) {
    const SweepCase& c = GetParam();
    const SeedSweep s = sweep_seeds({784, 4, 10}, c.cost, c.lambda, 50);
    EXPECT_LE(s.worst, kCliTolerance / 10) << "worst at seed " << s.worst_seed;
    std::ostringstream worst;
    worst << s.worst << " at seed " << s.worst_seed;
    RecordProperty("worst_relative_error", worst.str());
}

INSTANTIATE_TEST_SUITE_P(CliDefaults, GradcheckSeedSweep,
                         ::testing::Values(SweepCase{Cost::quadratic, 0.0}, SweepCase{Cost::quadratic, 5.0},
                                           SweepCase{Cost::cross_entropy, 0.0}, SweepCase{Cost::cross_entropy, 5.0}),
                         [](const ::testing::TestParamInfo<SweepCase>& info) {
                             return std::string(info.param.cost == Cost::quadratic ? "quadratic" : "crossentropy") +
                                    (info.param.lambda > 0 ? "_lambda5" : "_lambda0");
                         });

// The full sweep on the CLI's default network: 200 checks, ~100 s on one busy core, so not in CI
// (worst 3.8e-8, cross-entropy lambda 5 seed 30, when it was added).
//   build/tests/test_cpu_reference --gtest_also_run_disabled_tests --gtest_filter='*CliSizes*'
TEST(GradcheckSeedSweepFull, DISABLED_CliSizes) {
    for (Cost cost : {Cost::quadratic, Cost::cross_entropy}) {
        for (double lambda : {0.0, 5.0}) {
            const SeedSweep s = sweep_seeds({784, 30, 10}, cost, lambda, 50);
            std::printf("[784,30,10] %s lambda %g: worst %.3e at seed %llu (margin %.0fx)\n",
                        cost == Cost::quadratic ? "quadratic" : "cross-entropy", lambda, s.worst,
                        static_cast<unsigned long long>(s.worst_seed), kCliTolerance / s.worst);
            EXPECT_LE(s.worst, kCliTolerance / 10);
        }
    }
}

// Two of the seeds issue 22 reported failing on the CLI's network (the third, cross-entropy
// lambda 5 seed 5, is the planted-error test's problem below).
TEST(Gradcheck, CliSeedsThatFailedCorrectCodePass) {
    const std::vector<int> sizes{784, 30, 10};
    for (std::uint64_t seed : {8u, 12u}) {
        Network<double> net(sizes);
        net.init(Init::scaled, seed);
        const GradcheckResult r = gradcheck(net, random_problem(sizes, 4, Cost::quadratic, 5.0, seed), 1e-3);
        EXPECT_LE(r.worst, kCliTolerance / 10) << "seed " << seed;
    }
}

// On the CLI's network, a planted error still fails the check: 1e-4 relative in a typical
// weight's gradient (the median |g| of layer 1) and 1e-4 absolute in the smallest one (below the
// floor, where the error is measured on the floor's scale). Every other parameter stays within
// a tenth of the tolerance.
TEST(Gradcheck, CatchesAPlantedErrorAtTheCliDefaults) {
    const std::vector<int> sizes{784, 30, 10};
    Network<double> net(sizes);
    net.init(Init::scaled, 5);
    const GradcheckProblem p = random_problem(sizes, 4, Cost::cross_entropy, 5.0, 5);
    std::vector<double> g = backprop_gradient(net, p);
    const std::size_t n1 = 784 * 30;  // layer 1's weights come first
    std::vector<std::size_t> order(n1);
    for (std::size_t i = 0; i < n1; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return std::abs(g[a]) < std::abs(g[b]); });
    const std::size_t median = order[n1 / 2], smallest = order[0];
    g[median] *= 1.0 + 1e-4;
    g[smallest] += 1e-4;
    const GradcheckResult r = gradcheck(net, p, 1e-3, &g);
    EXPECT_GT(r.worst, kCliTolerance);
    for (std::size_t i : {median, smallest}) {
        const double e = gradcheck_rel_error(r.analytic[i], r.numeric[i], r.floor);
        EXPECT_GT(e, 0.5e-4) << "planted at " << i << ": analytic " << r.analytic[i] << ", numeric " << r.numeric[i];
    }
    double others = 0.0;
    for (std::size_t i = 0; i < g.size(); ++i)
        if (i != median && i != smallest) others = std::max(others, gradcheck_rel_error(r.analytic[i], r.numeric[i], r.floor));
    EXPECT_LE(others, kCliTolerance / 10);
    EXPECT_LE(r.layers[2].worst_w, kCliTolerance / 10);
}

// The error's floor is 1e-8 C / h, C the cost without the L2 term at the checked point.
TEST(Gradcheck, FloorIsTheStepThatMovesTheCostBy1e8OfIt) {
    EXPECT_DOUBLE_EQ(gradcheck_floor(7.0, 1e-3), 7e-5);
    EXPECT_DOUBLE_EQ(gradcheck_floor(-2.0, 1e-2), 2e-6);
    EXPECT_GT(gradcheck_floor(0.0, 1e-3), 0.0);  // 0 checked against 0 is no error, not NaN
    EXPECT_EQ(gradcheck_rel_error(0.0, 0.0, gradcheck_floor(0.0, 1e-3)), 0.0);
    const std::vector<int> sizes{6, 5, 3};
    Network<double> net(sizes);
    net.init(Init::scaled, 2);
    GradcheckProblem p = random_problem(sizes, 4, Cost::cross_entropy, 3.0, 2);
    const GradcheckResult r = gradcheck(net, p, 2e-3);
    p.lambda = 0.0;
    EXPECT_DOUBLE_EQ(r.data_cost, objective(net, p));
    EXPECT_DOUBLE_EQ(r.floor, gradcheck_floor(r.data_cost, 2e-3));
}

// Moving w_i moves the L2 term only in w_i^2, and the checker differences that square alone:
// where an input is 0 in every example, the data cost does not depend on the weights it feeds
// (bit for bit), so their numeric derivative is the L2 share alone and must equal
// (lambda/n) w to rounding, not to the rounding of a sum over every weight.
TEST(Gradcheck, TheL2ShareOfEachDifferenceIsExact) {
    const std::vector<int> sizes{784, 4, 10};
    Network<double> net(sizes);
    net.init(Init::scaled, 3);
    GradcheckProblem p = random_problem(sizes, 4, Cost::quadratic, 5.0, 3);
    const int dead = 10;  // inputs 0..9 are 0 in every example
    for (int j = 0; j < p.m; ++j)
        for (int k = 0; k < dead; ++k) p.x[std::size_t(j) * 784 + std::size_t(k)] = 0.0;
    const GradcheckResult r = gradcheck(net, p, 1e-3);
    const ParamLayout& lay = net.layout();
    for (int k = 0; k < dead; ++k) {
        for (int row = 0; row < 4; ++row) {
            const std::size_t i = lay.w_offset(1) + std::size_t(k) * 4 + std::size_t(row);  // column-major w(row, k)
            const double l2 = 5.0 / double(p.n_train) * net.params()[i];
            ASSERT_EQ(r.analytic[i], l2);
            EXPECT_NEAR(r.numeric[i], l2, 1e-13 * std::abs(l2)) << "w(" << row << "," << k << ")";
        }
    }
}

// The fully matrix-based gradient of a mini-batch equals the sum of the per-example
// gradients (the book's loop): same maths, different shapes and summation order.
class MatrixVsPerExample : public ::testing::TestWithParam<int> {};

TEST_P(MatrixVsPerExample, SameGradientInDouble) {
    const int m = GetParam();
    const std::vector<int> sizes{20, 12, 7, 4};
    for (Cost cost : {Cost::quadratic, Cost::cross_entropy}) {
        auto be = make_cpu_backend<double>();
        Network<double> net(sizes);
        net.init(Init::scaled, 11);
        Backprop<double> bp(*be, net.layout(), m);
        bp.set_params(net.params());
        Buffer<double> x(*be, std::size_t(20) * std::size_t(m)), y(*be, std::size_t(4) * std::size_t(m));
        x.upload(bptest::random_vector<double>(x.size(), 100 + std::uint64_t(m), 0.0, 1.0));
        y.upload(bptest::random_vector<double>(y.size(), 200 + std::uint64_t(m), 0.0, 1.0));
        const ConstView<double> xv(x.data(), 20, m), yv(y.data(), 4, m);
        bp.backprop(xv, yv, Mode::matrix, cost);
        const std::vector<double> matrix = bp.nabla();
        bp.backprop(xv, yv, Mode::per_example, cost);
        const std::vector<double> per_example = bp.nabla();
        // A third way, independent of the per-example code path: one backprop call per column
        // as a batch of one, summed here.
        std::vector<double> summed(matrix.size(), 0.0);
        for (int j = 0; j < m; ++j) {
            bp.backprop(xv.col(j), yv.col(j), Mode::matrix, cost);
            const std::vector<double> g = bp.nabla();
            for (std::size_t i = 0; i < g.size(); ++i) summed[i] += g[i];
        }
        EXPECT_TRUE(bptest::close_normwise(matrix, per_example, 1e-12)) << "m = " << m;
        EXPECT_TRUE(bptest::close_normwise(matrix, summed, 1e-12)) << "m = " << m;
    }
}

INSTANTIATE_TEST_SUITE_P(BatchSizes, MatrixVsPerExample, ::testing::Values(1, 7, 10, 64));

// One SGD step on a [2, 1] network, computed by hand from the book's formulas:
//   z = w1 x1 + w2 x2 + b, a = sigma(z), quadratic delta = (a - y) a (1 - a),
//   nabla_w_k = sum_x delta x_k, nabla_b = sum_x delta,
//   w <- (1 - eta lambda / n) w - (eta / m) nabla_w, b <- b - (eta / m) nabla_b.
TEST(Sgd, OneStepByHand) {
    auto be = make_cpu_backend<double>();
    Network<double> net({2, 1});
    net.w(1).data[0] = 0.5;  // w1
    net.w(1).data[1] = -0.25;  // w2
    net.b(1)[0] = 0.1;
    Backprop<double> bp(*be, net.layout(), 2);
    bp.set_params(net.params());
    const std::vector<double> xs{1.0, 2.0, 0.5, -1.0};  // x^(1) = (1, 2), x^(2) = (0.5, -1)
    const std::vector<double> ys{1.0, 0.0};
    Buffer<double> x(*be, 4), y(*be, 2);
    x.upload(xs);
    y.upload(ys);
    bp.backprop(ConstView<double>(x.data(), 2, 2), ConstView<double>(y.data(), 1, 2), Mode::matrix,
                Cost::quadratic);
    const double eta = 0.7, lambda = 0.3;
    const long long n = 10;
    bp.update(eta, lambda, n, 2);
    const std::vector<double> got = bp.params();

    double nw1 = 0, nw2 = 0, nb = 0;
    for (int j = 0; j < 2; ++j) {
        const double x1 = xs[std::size_t(2 * j)], x2 = xs[std::size_t(2 * j + 1)];
        const double z = 0.5 * x1 - 0.25 * x2 + 0.1;
        const double a = 1.0 / (1.0 + std::exp(-z));
        const double d = (a - ys[std::size_t(j)]) * a * (1.0 - a);
        nw1 += d * x1;
        nw2 += d * x2;
        nb += d;
    }
    const double decay = 1.0 - eta * lambda / double(n);
    EXPECT_NEAR(got[0], decay * 0.5 - eta / 2 * nw1, 1e-15);
    EXPECT_NEAR(got[1], decay * -0.25 - eta / 2 * nw2, 1e-15);
    EXPECT_NEAR(got[2], 0.1 - eta / 2 * nb, 1e-15);  // biases are not decayed
    EXPECT_NE(got[0], 0.5);
}

// The stable sigmoid saturates instead of overflowing, in both precisions.
TEST(Math, SigmoidIsStableAtLargeArguments) {
    for (double z : {-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0}) {
        const double s = sigmoid(z);
        const float sf = sigmoid(float(z));
        EXPECT_TRUE(std::isfinite(s) && std::isfinite(sf)) << z;
        EXPECT_NEAR(s, 1.0 / (1.0 + std::exp(-z)), 1e-15) << z;
        EXPECT_NEAR(sf, s, 1e-7) << z;
        EXPECT_NE(std::fpclassify(sf), FP_SUBNORMAL) << z;
        EXPECT_NE(std::fpclassify(s), FP_SUBNORMAL) << z;
    }
    EXPECT_EQ(sigmoid(0.0), 0.5);
    EXPECT_GT(sigmoid(-30.0), 0.0);    // small but normal: kept
    EXPECT_GT(sigmoid(-87.0f), 0.0f);  // smallest float range still normal
    // Results that would be subnormal are flushed to zero (they slow every later product).
    EXPECT_EQ(sigmoid(-90.0f), 0.0f);
    EXPECT_EQ(sigmoid(-710.0), 0.0);
    for (float z = -87.3f; z < -80.0f; z += 0.01f) ASSERT_TRUE(std::fpclassify(sigmoid(z)) == FP_NORMAL) << z;
}

// The CPU backend computes with flush-to-zero + denormals-are-zero, on the calling thread and
// on OpenBLAS's worker threads, and leaves the caller's mode as it was (see cpu_subnormals.hpp).
// Each product here is 1e-40, a subnormal: flushed, C is exactly 0; computed, it would be
// K * 1e-40 ~ 1e-37 (normal). The large product runs on every BLAS thread, so a worker still
// in the default mode shows up as nonzero columns.
TEST(CpuBackend, FlushesSubnormalsOnEveryBlasThread) {
    ASSERT_FALSE(subnormals_flushed());  // the test thread starts in IEEE mode
    auto be = make_cpu_backend<float>();
    for (const int n : {16, 1024}) {
        Buffer<float> a(*be, std::size_t(n) * n), c(*be, std::size_t(n) * n);
        a.upload(std::vector<float>(std::size_t(n) * n, 1e-20f));
        c.upload(std::vector<float>(std::size_t(n) * n, 1.0f));
        const ConstView<float> av(a.data(), n, n);
        be->gemm(MatrixView<float>(c.data(), n, n), Op::N, av, Op::T, av, 1.0f, 0.0f);
        std::vector<float> got(std::size_t(n) * n);
        c.download(got.data(), got.size());
        std::size_t nonzero = 0;
        for (float v : got) nonzero += v != 0.0f;
        EXPECT_EQ(nonzero, 0u) << n << " x " << n << ": products of subnormal size were not flushed";
    }
    EXPECT_FALSE(subnormals_flushed());  // ... and ends in it
    volatile float tiny = 1e-40f;        // IEEE arithmetic on subnormals outside the backend
    EXPECT_EQ(std::fpclassify(tiny * 2.0f), FP_SUBNORMAL);
}

// The CPU backend's gemm against a naive triple loop, for every path it dispatches to: GEMV
// (one column of C, B a column or, transposed, a row read with stride ld), GER (K == 1, a
// rank-1 update after scaling C) and GEMM, with every op pair, sub-views whose ld exceeds their
// rows, and beta = 0 over a C full of NaN (never read). The GPU-vs-CPU tests use this backend
// as their reference, so it needs an oracle of its own. Padding rows of C must come back
// untouched.
TEST(CpuBackend, GemmMatchesANaiveProductOnEveryPath) {
    auto be = make_cpu_backend<double>();
    struct Shape { int m, n, k; };
    const Shape shapes[] = {{5, 1, 7}, {1, 1, 4}, {5, 4, 1}, {3, 1, 1}, {4, 6, 5}, {1, 3, 6}};
    const double coef[][2] = {{1.0, 0.0}, {0.5, -0.75}, {-1.25, 1.0}};
    const double nan = std::numeric_limits<double>::quiet_NaN(), guard = 12345.0;
    std::uint64_t seed = 1000;
    for (const Shape& sh : shapes)
        for (Op op_a : {Op::N, Op::T})
            for (Op op_b : {Op::N, Op::T})
                for (const auto& ab : coef) {
                    const double alpha = ab[0], beta = ab[1];
                    // Stored shapes: op(A) is (m x k), op(B) is (k x n); every view padded by 2 rows.
                    const int ar = op_a == Op::N ? sh.m : sh.k, ac = op_a == Op::N ? sh.k : sh.m;
                    const int br = op_b == Op::N ? sh.k : sh.n, bc = op_b == Op::N ? sh.n : sh.k;
                    const int lda = ar + 2, ldb = br + 2, ldc = sh.m + 2;
                    const std::vector<double> ah = bptest::random_vector<double>(std::size_t(lda) * ac, ++seed);
                    const std::vector<double> bh = bptest::random_vector<double>(std::size_t(ldb) * bc, ++seed);
                    std::vector<double> ch = bptest::random_vector<double>(std::size_t(ldc) * sh.n, ++seed);
                    for (int j = 0; j < sh.n; ++j)
                        for (int i = 0; i < ldc; ++i)
                            ch[std::size_t(i + j * ldc)] = i >= sh.m ? guard : beta == 0.0 ? nan : ch[std::size_t(i + j * ldc)];
                    Buffer<double> a(*be, ah.size()), b(*be, bh.size()), c(*be, ch.size());
                    a.upload(ah);
                    b.upload(bh);
                    c.upload(ch);
                    be->gemm(MatrixView<double>(c.data(), sh.m, sh.n, ldc), op_a,
                             ConstView<double>(a.data(), ar, ac, lda), op_b, ConstView<double>(b.data(), br, bc, ldb),
                             alpha, beta);
                    const std::vector<double> got = c.to_host();
                    std::ostringstream what;
                    what << "m " << sh.m << " n " << sh.n << " k " << sh.k << " op_a " << int(op_a) << " op_b "
                         << int(op_b) << " alpha " << alpha << " beta " << beta;
                    std::vector<double> g, w;
                    for (int j = 0; j < sh.n; ++j)
                        for (int i = 0; i < ldc; ++i) {
                            const double cij = got[std::size_t(i + j * ldc)];
                            if (i >= sh.m) {
                                ASSERT_EQ(cij, guard) << what.str() << ": padding row " << i << " written";
                                continue;
                            }
                            long double s = 0;
                            for (int p = 0; p < sh.k; ++p) {
                                const double aip = op_a == Op::N ? ah[std::size_t(i + p * lda)] : ah[std::size_t(p + i * lda)];
                                const double bpj = op_b == Op::N ? bh[std::size_t(p + j * ldb)] : bh[std::size_t(j + p * ldb)];
                                s += (long double)aip * bpj;
                            }
                            g.push_back(cij);
                            w.push_back(double(alpha * s + (beta == 0.0 ? 0.0L : beta * (long double)ch[std::size_t(i + j * ldc)])));
                        }
                    EXPECT_TRUE(bptest::close_normwise(g, w, 1e-14)) << what.str();
                }
}

// The CPU's DeviceTimer is the wall clock: it sees a 30 ms sleep (and not ten times that).
TEST(CpuBackend, TimerIsTheWallClock) {
    auto be = make_cpu_backend<float>();
    const auto timer = be->make_timer();
    timer->start();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const double s = timer->stop_seconds();
    EXPECT_GE(s, 0.030);
    EXPECT_LT(s, 0.300);
}

TEST(Math, CrossEntropyOfSaturatedOutputsIsFinite) {
    EXPECT_EQ(cost_term(Cost::cross_entropy, 1.0, 1.0), 0.0);
    EXPECT_EQ(cost_term(Cost::cross_entropy, 0.0, 0.0), 0.0);
    const double c = cost_term(Cost::cross_entropy, 0.0, 1.0);
    EXPECT_TRUE(std::isfinite(c));
    EXPECT_GT(c, 700.0);
    EXPECT_NEAR(cost_term(Cost::cross_entropy, 0.25, 1.0), -std::log(0.25), 1e-15);
    EXPECT_NEAR(cost_term(Cost::quadratic, 0.25, 1.0), 0.5 * 0.75 * 0.75, 1e-15);
}

// The per-epoch permutation is a permutation, differs across epochs and seeds, and is the
// same for a given (seed, epoch).
TEST(Shuffle, PermutationIsDeterministicAndComplete) {
    auto be = make_cpu_backend<float>();
    const int n = 1000;
    std::vector<int> a(n), b(n), c(n), d(n);
    be->permutation(a.data(), n, 5, 0);
    be->permutation(b.data(), n, 5, 0);
    be->permutation(c.data(), n, 5, 1);
    be->permutation(d.data(), n, 6, 0);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    EXPECT_NE(a, d);
    std::vector<int> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < n; ++i) ASSERT_EQ(sorted[std::size_t(i)], i);
    int fixed = 0;
    for (int i = 0; i < n; ++i) fixed += a[std::size_t(i)] == i;
    EXPECT_LT(fixed, 10);  // a shuffle, not the identity (expected ~1 fixed point)
}

// The backend sorts with a radix sort; the order must be that of sorting the (key, index) pairs,
// as the GPU's sort and the reference in test_math do, at an epoch's size and at small ones.
TEST(Shuffle, PermutationIsTheOrderOfTheKeys) {
    auto be = make_cpu_backend<float>();
    for (int n : {1, 2, 255, 257, 50000})
        for (std::uint64_t seed : {1ull, 42ull})
            for (std::uint64_t epoch : {0ull, 9ull}) {
                std::vector<std::pair<std::uint64_t, int>> want(std::size_t(n), {0, 0});
                for (int i = 0; i < n; ++i) want[std::size_t(i)] = {batchprop::shuffle_key(seed, epoch, std::uint64_t(i)), i};
                std::sort(want.begin(), want.end());
                std::vector<int> got(std::size_t(n), -1);
                be->permutation(got.data(), n, seed, epoch);
                for (int i = 0; i < n; ++i)
                    ASSERT_EQ(got[std::size_t(i)], want[std::size_t(i)].second)
                        << "n " << n << ", seed " << seed << ", epoch " << epoch << ", position " << i;
            }
}

}  // namespace

namespace {

// train_step folds the update into the products in matrix mode. It must land where
// backprop() + update() do: the same maths, rounded in a different order (double: 1e-13
// relative, normwise); in per-example mode it is literally those two calls (bitwise).
TEST(TrainStep, FoldedMatrixStepEqualsBackpropThenUpdate) {
    const std::vector<int> sizes{12, 9, 5, 3};
    for (int m : {1, 7, 10}) {
        for (Cost cost : {Cost::quadratic, Cost::cross_entropy}) {
            for (Mode mode : {Mode::matrix, Mode::per_example}) {
                auto be = make_cpu_backend<double>();
                Network<double> net(sizes);
                net.init(Init::gaussian, 21);
                Buffer<double> x(*be, std::size_t(12) * std::size_t(m)), y(*be, std::size_t(3) * std::size_t(m));
                x.upload(bptest::random_vector<double>(x.size(), 300 + std::uint64_t(m), 0.0, 1.0));
                y.upload(bptest::random_vector<double>(y.size(), 400 + std::uint64_t(m), 0.0, 1.0));
                const ConstView<double> xv(x.data(), 12, m), yv(y.data(), 3, m);

                Backprop<double> folded(*be, net.layout(), m), plain(*be, net.layout(), m);
                folded.set_params(net.params());
                plain.set_params(net.params());
                for (int step = 0; step < 3; ++step) {  // several steps: the folded path re-reads updated w
                    folded.train_step(xv, yv, mode, cost, 0.9, 2.0, 50);
                    plain.backprop(xv, yv, mode, cost);
                    plain.update(0.9, 2.0, 50, m);
                }
                if (mode == Mode::per_example)
                    EXPECT_EQ(folded.params(), plain.params());
                else
                    EXPECT_TRUE(bptest::close_normwise(folded.params(), plain.params(), 1e-13)) << "m = " << m;
                EXPECT_FALSE(bptest::close_normwise(folded.params(), net.params(), 1e-3));  // it moved
            }
        }
    }
}

}  // namespace
