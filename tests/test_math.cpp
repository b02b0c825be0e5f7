// The scalar math both backends share (math.hpp), checked on the CPU against values worked out
// by hand or computed in another precision (long double, or Python's big integers for the
// hash). GPU-vs-CPU comparisons cannot see a mistake here, because both sides call the same
// functions; these tests can.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/math.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

using LD = long double;

// sigma in long double, written the naive way: fine away from overflow, which is all we ask of
// a reference (|z| <= 700 here; long double's exp reaches 1e4932).
LD sigmoid_ld(LD z) { return 1.0L / (1.0L + std::exp(-z)); }

// |got - want| / |want|, in long double.
LD rel_err(LD got, LD want) { return std::fabs(got - want) / std::fabs(want); }

// ---- sigmoid ---------------------------------------------------------------------------------

// Both precisions against long double over the range that matters, on both branches of the
// branch-free formula (z >= 0: 1 / (1 + e^-z); z < 0: e^z / (1 + e^z)), down to the values just
// above the flush threshold. A few ulp of each type.
TEST(MathSigmoid, MatchesLongDoubleOnBothBranches) {
    std::vector<double> zs{-708.38, -700.0, -500.0, -100.0, -87.32, -50.0, -30.0, -10.0, -3.5, -1.0, -0.25,
                           -1e-3, 0.0, 1e-3, 0.25, 1.0, 3.5, 10.0, 30.0};
    for (double z : bptest::random_vector<double>(200, 1, -40.0, 40.0)) zs.push_back(z);
    for (double z : zs) {
        const LD want = sigmoid_ld(LD(z));
        EXPECT_LE(rel_err(sigmoid(z), want), 1e-15L) << "double, z = " << z;
        EXPECT_EQ(std::fpclassify(sigmoid(z)), FP_NORMAL) << "double, z = " << z;
        if (z >= -87.32) {
            const float zf = float(z);
            EXPECT_LE(rel_err(sigmoid(zf), sigmoid_ld(LD(zf))), 1e-6L) << "float, z = " << z;
            EXPECT_EQ(std::fpclassify(sigmoid(zf)), FP_NORMAL) << "float, z = " << z;
        }
    }
    EXPECT_EQ(sigmoid(0.0), 0.5);
    EXPECT_EQ(sigmoid(0.0f), 0.5f);
    // sigma(-z) = 1 - sigma(z): the two branches meet.
    for (double z : {0.5, 2.0, 7.0}) EXPECT_NEAR(sigmoid(-z), 1.0 - sigmoid(z), 2e-16) << z;
}

// Saturation: exactly 1 once e^-z is below half an ulp of 1, never inf/inf = NaN.
TEST(MathSigmoid, SaturatesToExactlyOne) {
    for (double z : {40.0, 100.0, 1000.0, 1e300}) EXPECT_EQ(sigmoid(z), 1.0) << z;
    for (float z : {20.0f, 100.0f, 1000.0f, 1e30f}) EXPECT_EQ(sigmoid(z), 1.0f) << z;
    EXPECT_EQ(sigmoid(std::numeric_limits<double>::infinity()), 1.0);
    EXPECT_EQ(sigmoid(std::numeric_limits<float>::infinity()), 1.0f);
    EXPECT_EQ(sigmoid(-std::numeric_limits<double>::infinity()), 0.0);
    EXPECT_EQ(sigmoid(-std::numeric_limits<float>::infinity()), 0.0f);
}

// The flush thresholds: sigma(z) ~ e^z leaves the normal range at z = ln(FLT_MIN) = -87.336
// (float) and ln(DBL_MIN) = -708.396 (double). Just above: kept, normal and accurate; just below:
// exactly 0, never a subnormal.
TEST(MathSigmoid, FlushesToZeroExactlyWhereTheNormalRangeEnds) {
    EXPECT_NEAR(double(std::log(LD(FLT_MIN))), -87.336544750553, 1e-9);
    EXPECT_NEAR(double(std::log(LD(DBL_MIN))), -708.39641853226408, 1e-9);

    const float kept_f = sigmoid(-87.32f);
    EXPECT_EQ(std::fpclassify(kept_f), FP_NORMAL);
    EXPECT_LE(rel_err(kept_f, sigmoid_ld(LD(-87.32f))), 1e-6L);
    EXPECT_EQ(sigmoid(-87.34f), 0.0f);
    EXPECT_EQ(sigmoid(-87.4f), 0.0f);
    EXPECT_EQ(sigmoid(-100.0f), 0.0f);

    const double kept_d = sigmoid(-708.38);
    EXPECT_EQ(std::fpclassify(kept_d), FP_NORMAL);
    EXPECT_LE(rel_err(kept_d, sigmoid_ld(LD(-708.38))), 1e-15L);
    EXPECT_EQ(sigmoid(-708.40), 0.0);
    EXPECT_EQ(sigmoid(-720.0), 0.0);
    EXPECT_EQ(sigmoid(-1e300), 0.0);

    // Never subnormal anywhere around either threshold.
    for (float z = -88.0f; z < -87.0f; z += 1e-3f) ASSERT_NE(std::fpclassify(sigmoid(z)), FP_SUBNORMAL) << z;
    for (double z = -709.0; z < -708.0; z += 1e-3) ASSERT_NE(std::fpclassify(sigmoid(z)), FP_SUBNORMAL) << z;
}

TEST(MathSigmoid, NanStaysNan) {
    EXPECT_TRUE(std::isnan(sigmoid(std::numeric_limits<double>::quiet_NaN())));
    EXPECT_TRUE(std::isnan(sigmoid(std::numeric_limits<float>::quiet_NaN())));
    EXPECT_TRUE(std::isnan(sigmoid(-std::numeric_limits<double>::quiet_NaN())));
    EXPECT_TRUE(std::isnan(sigmoid(-std::numeric_limits<float>::quiet_NaN())));
}

// ---- sigma', output errors, costs --------------------------------------------------------------

// a(1 - a) at activations whose products are exact in binary.
TEST(MathDerivative, SigmoidPrimeFromAByHand) {
    const double a[] = {0.0, 0.125, 0.25, 0.5, 0.75, 1.0};
    const double want[] = {0.0, 0.109375, 0.1875, 0.25, 0.1875, 0.0};
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(sigmoid_prime_from_a(a[i]), want[i]) << "a = " << a[i];
        EXPECT_EQ(sigmoid_prime_from_a(float(a[i])), float(want[i])) << "a = " << a[i];
    }
    // ... and the derivative of sigma itself, at random z (long double central difference of
    // sigma_ld would be noisier than the identity; use sigma'(z) = e^-z / (1 + e^-z)^2).
    for (double z : bptest::random_vector<double>(50, 2, -6.0, 6.0)) {
        const LD e = std::exp(-LD(z));
        EXPECT_LE(rel_err(sigmoid_prime_from_a(sigmoid(z)), e / ((1 + e) * (1 + e))), 1e-13L) << z;
    }
}

// BP1 for one neuron: quadratic (a - y) a (1 - a), cross-entropy a - y.
TEST(MathDerivative, OutputDeltaBothCostsByHand) {
    EXPECT_EQ(output_delta(Cost::quadratic, 0.75, 1.0), -0.046875);  // -0.25 * 0.1875
    EXPECT_EQ(output_delta(Cost::quadratic, 0.25, 0.0), 0.046875);
    EXPECT_EQ(output_delta(Cost::quadratic, 0.5, 0.5), 0.0);
    EXPECT_EQ(output_delta(Cost::quadratic, 0.75f, 1.0f), -0.046875f);
    EXPECT_EQ(output_delta(Cost::cross_entropy, 0.75, 1.0), -0.25);
    EXPECT_EQ(output_delta(Cost::cross_entropy, 0.25, 0.0), 0.25);
    EXPECT_EQ(output_delta(Cost::cross_entropy, 0.75f, 1.0f), -0.25f);
    // Saturated and wrong: cross-entropy keeps learning, the quadratic cost stalls.
    EXPECT_EQ(output_delta(Cost::cross_entropy, 1.0, 0.0), 1.0);
    EXPECT_EQ(output_delta(Cost::quadratic, 1.0, 0.0), 0.0);
    // Fractional targets, against long double.
    for (int i = 0; i < 20; ++i) {
        const double a = 0.05 + 0.045 * i, y = 0.3;
        const LD qa = (LD(a) - LD(y)) * LD(a) * (1 - LD(a));
        EXPECT_NEAR(output_delta(Cost::quadratic, a, y), double(qa), 1e-16) << a;
        EXPECT_NEAR(output_delta(Cost::cross_entropy, a, y), double(LD(a) - LD(y)), 1e-16) << a;
    }
}

// One neuron's cost: 1/2 (a - y)^2, and -[y ln a + (1 - y) ln(1 - a)] against long double.
TEST(MathCost, CostTermBothCostsAgainstLongDouble) {
    EXPECT_EQ(cost_term(Cost::quadratic, 0.25, 1.0), 0.28125);
    EXPECT_EQ(cost_term(Cost::quadratic, 0.75, 0.0), 0.28125);
    EXPECT_EQ(cost_term(Cost::quadratic, 0.5, 0.5), 0.0);
    const auto as = bptest::random_vector<double>(40, 3, 1e-3, 1.0 - 1e-3);
    const auto ys = bptest::random_vector<double>(40, 4, 0.0, 1.0);
    for (std::size_t i = 0; i < as.size(); ++i) {
        const LD a = as[i], y = ys[i];
        const LD ce = -(y * std::log(a) + (1 - y) * std::log(1 - a));
        EXPECT_LE(rel_err(cost_term(Cost::cross_entropy, as[i], ys[i]), ce), 1e-14L) << as[i] << " " << ys[i];
        EXPECT_LE(rel_err(cost_term(Cost::quadratic, as[i], ys[i]), (a - y) * (a - y) / 2), 1e-15L);
    }
    // One-hot targets: the other term drops out exactly.
    EXPECT_EQ(cost_term(Cost::cross_entropy, 0.3, 0.0), -std::log(1.0 - 0.3));
    EXPECT_EQ(cost_term(Cost::cross_entropy, 0.3, 1.0), -std::log(0.3));
}

// log(0) is clamped to log(DBL_MIN), on either side: a saturated wrong answer costs
// -ln(DBL_MIN) = 708.396..., a saturated right one exactly 0, never inf or NaN.
TEST(MathCost, CrossEntropyClampsBothLogsAtTheSmallestNormal) {
    const double clamp = double(-std::log(LD(DBL_MIN)));  // 708.39641853226408
    EXPECT_NEAR(cost_term(Cost::cross_entropy, 0.0, 1.0), clamp, 1e-12);
    EXPECT_NEAR(cost_term(Cost::cross_entropy, 1.0, 0.0), clamp, 1e-12);
    EXPECT_EQ(cost_term(Cost::cross_entropy, 1.0, 1.0), 0.0);
    EXPECT_EQ(cost_term(Cost::cross_entropy, 0.0, 0.0), 0.0);
    // A fractional target on a saturated output: only the clamped side counts.
    EXPECT_NEAR(cost_term(Cost::cross_entropy, 1.0, 0.25), 0.75 * clamp, 1e-12);
    EXPECT_NEAR(cost_term(Cost::cross_entropy, 0.0, 0.25), 0.25 * clamp, 1e-12);
    // Just above the clamp, the log is taken as it is.
    EXPECT_NEAR(cost_term(Cost::cross_entropy, 1e-300, 1.0), 300 * std::log(10.0), 1e-9);
}

// ---- argmax and one example's evaluation ---------------------------------------------------------

template <class T>
int argmax_of(std::vector<double> v) {
    const std::vector<T> t(v.begin(), v.end());
    return argmax(t.data(), int(t.size()));
}

// Ties go to the lowest index, as numpy's argmax (and std::max_element) do.
TEST(MathArgmax, TiesGoToTheLowestIndex) {
    for (int pass = 0; pass < 2; ++pass) {
        auto am = pass == 0 ? argmax_of<double> : argmax_of<float>;
        EXPECT_EQ(am({0.1, 0.9, 0.9, 0.2}), 1);
        EXPECT_EQ(am({0.5, 0.5, 0.5}), 0);
        EXPECT_EQ(am({0.9, 0.1, 0.9}), 0);
        EXPECT_EQ(am({0.3, 0.7, 0.2, 0.7, 0.7}), 1);
        EXPECT_EQ(am({-1.0, -0.5, -0.5}), 1);
        EXPECT_EQ(am({0.2, 0.3, 0.9}), 2);  // no tie: the last
        EXPECT_EQ(am({0.9, 0.3, 0.2}), 0);  // no tie: the first
        EXPECT_EQ(am({0.4}), 0);
        EXPECT_EQ(am({0.0, 0.0, 1.0, 1.0}), 2);
    }
    // Random columns with their maximum planted two or three times.
    const auto v = bptest::random_vector<double>(10 * 100, 5, 0.0, 1.0);
    for (int j = 0; j < 100; ++j) {
        std::vector<double> col(v.begin() + 10 * j, v.begin() + 10 * j + 10);
        const int first = j % 7, second = first + 1 + j % 3;
        col[std::size_t(first)] = col[std::size_t(second)] = 2.0;
        if (j % 2) col[9] = 2.0;
        EXPECT_EQ(argmax(col.data(), 10), first) << "column " << j;
        EXPECT_EQ(argmax(col.data(), 10), int(std::max_element(col.begin(), col.end()) - col.begin()));
    }
}

// One example's cost: cost_term summed over the outputs against the one-hot target.
TEST(MathCost, ExampleCostByHand) {
    const double a[] = {0.25, 0.5, 0.75};
    EXPECT_EQ(example_cost(Cost::quadratic, a, 3, 2), 0.1875);  // (0.0625 + 0.25 + 0.0625) / 2
    EXPECT_EQ(example_cost(Cost::quadratic, a, 3, 0), 0.6875);  // (0.5625 + 0.25 + 0.5625) / 2
    const LD ce2 = -std::log(0.75L) - std::log(0.5L) - std::log(0.75L);
    const LD ce0 = -std::log(0.25L) - std::log(0.5L) - std::log(0.25L);
    EXPECT_LE(rel_err(example_cost(Cost::cross_entropy, a, 3, 2), ce2), 1e-15L);
    EXPECT_LE(rel_err(example_cost(Cost::cross_entropy, a, 3, 0), ce0), 1e-15L);
    const float af[] = {0.25f, 0.5f, 0.75f};
    EXPECT_EQ(example_cost(Cost::quadratic, af, 3, 2), 0.1875);
    EXPECT_LE(rel_err(example_cost(Cost::cross_entropy, af, 3, 2), ce2), 1e-15L);
}

// The CPU backend's evaluation counts a tie as correct only for the lowest tied index, and
// sums each column's cost.
TEST(MathArgmax, EvaluateCountsTiesForTheLowestIndex) {
    // Columns of a (3 x 6), column-major, and their labels; correct: columns 0, 2, 4, 5.
    const std::vector<double> a{0.2, 0.7, 0.7,   // tie 1/2, label 1: correct
                                0.2, 0.7, 0.7,   // tie 1/2, label 2: wrong
                                0.6, 0.6, 0.6,   // three-way tie, label 0: correct
                                0.6, 0.6, 0.6,   // three-way tie, label 2: wrong
                                0.1, 0.3, 0.8,   // no tie, label 2: correct
                                0.9, 0.3, 0.9};  // tie 0/2, label 0: correct
    const std::vector<int> labels{1, 2, 0, 2, 2, 0};
    for (Cost cost : {Cost::quadratic, Cost::cross_entropy}) {
        LD want_cost = 0;
        for (int j = 0; j < 6; ++j)
            for (int i = 0; i < 3; ++i) {
                const LD ai = a[std::size_t(3 * j + i)], y = i == labels[std::size_t(j)] ? 1 : 0;
                want_cost += cost == Cost::quadratic ? (ai - y) * (ai - y) / 2
                                                     : -(y ? std::log(ai) : std::log(1 - ai));
            }
        auto check = [&](auto be, const auto& values) {
            using T = typename std::decay_t<decltype(values)>::value_type;
            Buffer<T> ab(*be, values.size());
            Buffer<int> lb(*be, labels.size());
            ab.upload(values);
            lb.upload(labels);
            const EvalSums s = be->evaluate(ConstView<T>(ab.data(), 3, 6), lb.data(), cost);
            EXPECT_EQ(s.correct, 4);
            const LD tol = std::is_same_v<T, double> ? 1e-15L : 1e-6L;
            EXPECT_LE(rel_err(s.cost, want_cost), tol);
        };
        check(make_cpu_backend<double>(), a);
        check(make_cpu_backend<float>(), std::vector<float>(a.begin(), a.end()));
    }
}

// ---- the shuffle's hash ------------------------------------------------------------------------

// splitmix64 and shuffle_key against constants computed independently (Python's unbounded
// integers, reduced mod 2^64). splitmix64(0) and splitmix64(0x9E3779B97F4A7C15) are also the
// first two outputs of Vigna's reference splitmix64.c seeded with 0.
TEST(MathShuffle, Splitmix64AndShuffleKeyKnownValues) {
    EXPECT_EQ(splitmix64(0), 0xE220A8397B1DCDAFull);
    EXPECT_EQ(splitmix64(0x9E3779B97F4A7C15ull), 0x6E789E6AA1B965F4ull);
    EXPECT_EQ(splitmix64(1), 0x910A2DEC89025CC1ull);
    EXPECT_EQ(splitmix64(12345), 0x22118258A9D111A0ull);
    EXPECT_EQ(splitmix64(~0ull), 0xE4D971771B652C20ull);

    EXPECT_EQ(shuffle_key(1, 0, 0), 0x44E5B98100C67FB0ull);
    EXPECT_EQ(shuffle_key(1, 1, 0), 0x5775264A9A7E1B09ull);
    EXPECT_EQ(shuffle_key(1, 0, 1), 0x465391958FC61F13ull);
    EXPECT_EQ(shuffle_key(5, 3, 7), 0xC31110685A3EF728ull);
    EXPECT_EQ(shuffle_key(0xDEADBEEF, 2, 999), 0x87CF47701DDB7CCCull);
}

// The CPU backend's permutation is the order of those keys (computed the same way in Python:
// sorted(range(8), key=lambda i: (shuffle_key(s, e, i), i))).
TEST(MathShuffle, PermutationKnownValues) {
    auto be = make_cpu_backend<double>();
    Buffer<int> idx(*be, 8);
    auto perm = [&](std::uint64_t seed, std::uint64_t epoch) {
        be->permutation(idx.data(), 8, seed, epoch);
        return idx.to_host();
    };
    EXPECT_EQ(perm(1, 0), (std::vector<int>{4, 0, 1, 5, 7, 3, 2, 6}));
    EXPECT_EQ(perm(1, 1), (std::vector<int>{3, 6, 0, 1, 5, 7, 4, 2}));
    EXPECT_EQ(perm(7, 0), (std::vector<int>{1, 2, 6, 0, 5, 3, 7, 4}));
}

}  // namespace
