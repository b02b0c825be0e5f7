// The CPU backend's one-pass primitives against plain formulas written here: the delta kernels
// with their bias row sums (in math.hpp's group order), the gather of bytes or float inputs with
// its targets, and the pixel conversion. The GPU is checked against these same CPU results (test_gpu_vs_cpu), so
// a mistake shared by both backends must be caught here, by an independent computation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "batchprop/backend.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

// BP3 written out: the groups of kRowSumGroup columns summed left to right, then the group
// sums left to right, then b = b_beta b + alpha total, all in double.
std::vector<double> grouped_bias(const std::vector<double>& delta, int rows, int m, const std::vector<double>& b,
                                 double alpha, double b_beta) {
    std::vector<double> out(std::size_t(rows), 0.0);
    for (int i = 0; i < rows; ++i) {
        double total = 0.0;
        for (int c0 = 0; c0 < m; c0 += kRowSumGroup) {
            double part = 0.0;
            for (int j = c0; j < std::min(m, c0 + kRowSumGroup); ++j) part += delta[std::size_t(i + j * rows)];
            total += part;
        }
        const double old = b_beta == 0.0 ? 0.0 : b_beta * b[std::size_t(i)];
        out[std::size_t(i)] = old + alpha * total;
    }
    return out;
}

TEST(CpuPrimitives, OutputDeltaBiasIsBp1AndBp3) {
    auto be = make_cpu_backend<double>();
    for (Cost cost : {Cost::quadratic, Cost::cross_entropy})
        for (int m : {1, 7, kRowSumGroup, kRowSumGroup + 1, 100})
            for (double b_beta : {0.0, 1.0}) {
                const int rows = 10;
                const std::size_t n = std::size_t(rows) * std::size_t(m);
                const std::vector<double> a = bptest::random_vector<double>(n, 3 + m, 0.01, 0.99);
                std::vector<double> y(n, 0.0);
                for (int j = 0; j < m; ++j) y[std::size_t(j * rows + j % rows)] = 1.0;
                const std::vector<double> b0 = b_beta == 0.0 ? std::vector<double>(rows, std::numeric_limits<double>::quiet_NaN())
                                                             : bptest::random_vector<double>(rows, 5);
                std::vector<double> delta(n, -7.0), b = b0;
                be->output_delta_bias(MatrixView<double>(delta.data(), rows, m), ConstView<double>(a.data(), rows, m),
                                      ConstView<double>(y.data(), rows, m), cost, b.data(), -0.25, b_beta);
                for (std::size_t i = 0; i < n; ++i) {
                    const double want = cost == Cost::quadratic ? (a[i] - y[i]) * (a[i] * (1.0 - a[i])) : a[i] - y[i];
                    ASSERT_EQ(delta[i], want) << i;
                }
                const std::vector<double> want_b = grouped_bias(delta, rows, m, b0, -0.25, b_beta);
                for (int i = 0; i < rows; ++i) {
                    EXPECT_EQ(b[std::size_t(i)], want_b[std::size_t(i)]) << "m " << m << ", row " << i;
                    // ... which is the plain sum up to rounding.
                    long double plain = 0;
                    for (int j = 0; j < m; ++j) plain += delta[std::size_t(i + j * rows)];
                    const double old = b_beta == 0.0 ? 0.0 : b_beta * b0[std::size_t(i)];
                    EXPECT_NEAR(b[std::size_t(i)], old - 0.25 * double(plain), 1e-14 * (1 + std::abs(double(plain))));
                }
            }
}

TEST(CpuPrimitives, HiddenDeltaBiasIsBp2AndBp3InPlace) {
    auto be = make_cpu_backend<double>();
    for (int m : {1, 10, 3 * kRowSumGroup + 5}) {
        const int rows = 30, pad = 3, ld = rows + pad;
        const std::size_t n = std::size_t(ld) * std::size_t(m);
        const std::vector<double> a = bptest::random_vector<double>(n, 11, 0.0, 1.0);
        const std::vector<double> d0 = bptest::random_vector<double>(n, 12);
        const std::vector<double> b0 = bptest::random_vector<double>(rows, 13);
        std::vector<double> d = d0, b = b0;
        be->hidden_delta_bias(MatrixView<double>(d.data(), rows, m, ld), ConstView<double>(a.data(), rows, m, ld),
                              b.data(), 1.0, 1.0);
        std::vector<double> compact(std::size_t(rows) * std::size_t(m));
        for (int j = 0; j < m; ++j)
            for (int i = 0; i < rows; ++i) {
                const std::size_t at = std::size_t(i + j * ld);
                const double want = d0[at] * (a[at] * (1.0 - a[at]));
                ASSERT_EQ(d[at], want);
                compact[std::size_t(i + j * rows)] = want;
            }
        for (int i = rows; i < ld; ++i) EXPECT_EQ(d[std::size_t(i)], d0[std::size_t(i)]) << "padding row written";
        EXPECT_EQ(b, grouped_bias(compact, rows, m, b0, 1.0, 1.0)) << "m " << m;
    }
}

TEST(CpuPrimitives, PixelsBecomeExactInputs) {
    for (int k = 0; k < 256; ++k) {
        EXPECT_EQ(pixel_to_input<double>(std::uint8_t(k)), double(k) / 255.0);
        EXPECT_EQ(pixel_to_input<float>(std::uint8_t(k)), float(k) / 255.0f);
    }
    // 51/255 = 0.2 exactly in decimal: the double is the nearest double to 0.2, which a
    // float widened to double is not.
    EXPECT_EQ(pixel_to_input<double>(51), 0.2);
    EXPECT_NE(double(pixel_to_input<float>(51)), 0.2);
}

TEST(CpuPrimitives, GatherBatchReadsTheCursorAndTheOrder) {
    auto be = make_cpu_backend<float>();
    const int rows = 3, n = 6, n_out = 4, m = 2;
    const std::vector<std::uint8_t> pixels = bptest::random_pixels(std::size_t(rows) * n, 4);
    const std::vector<int> labels = {0, 3, 1, 2, 9, -1};  // 9 and -1: no target (zero column)
    const std::vector<int> order = {5, 4, 3, 2, 1, 0};
    const int cursor = 2, offset = 2;  // columns order[4], order[5] = examples 1 and 0
    std::vector<float> x(std::size_t(rows) * m, -7.0f), y(std::size_t(n_out) * m, -7.0f);
    be->gather_batch(MatrixView<float>(x.data(), rows, m), MatrixView<float>(y.data(), n_out, m),
                     ConstView<std::uint8_t>(pixels.data(), rows, n), labels.data(), order.data(), &cursor, offset);
    for (int j = 0; j < m; ++j) {
        const int e = order[std::size_t(cursor + offset + j)];
        for (int i = 0; i < rows; ++i)
            EXPECT_EQ(x[std::size_t(i + j * rows)], float(pixels[std::size_t(i + e * rows)]) / 255.0f);
        for (int i = 0; i < n_out; ++i) EXPECT_EQ(y[std::size_t(i + j * n_out)], i == labels[std::size_t(e)] ? 1.0f : 0.0f);
    }
    const std::vector<int> out_of_range = {5};  // label -1
    be->gather_batch(MatrixView<float>(x.data(), rows, 1), MatrixView<float>(y.data(), n_out, 1),
                     ConstView<std::uint8_t>(pixels.data(), rows, n), labels.data(), out_of_range.data(), &offset, -2);
    for (int i = 0; i < n_out; ++i) EXPECT_EQ(y[std::size_t(i)], 0.0f);
    int c = 7;
    be->advance_cursor(&c, 5);
    EXPECT_EQ(c, 12);
}

// Float inputs are used as they are, only converted to T: values like k/256 (which no byte k/255
// gives), negatives and values past 1 come through gather_batch and load_inputs unchanged.
template <class T>
void check_float_inputs_as_they_are() {
    auto be = make_cpu_backend<T>();
    const int rows = 5, n = 7, n_out = 3, m = 3;
    std::vector<float> inputs(std::size_t(rows) * n);
    for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] = float(int(i * 37 % 256) + 1) / 256.0f;
    inputs[3] = -0.75f;
    inputs[9] = 3.1f;  // not a multiple of 1/256: the exact float comes through, widened
    const std::vector<int> labels = {2, 0, 1, 1, 0, 2, 1};
    const std::vector<int> order = {6, 3, 0, 5, 1, 2, 4};
    const int cursor = 1, offset = 1;  // columns order[2..4] = examples 0, 5, 1
    std::vector<T> x(std::size_t(rows) * m, T(-7)), y(std::size_t(n_out) * m, T(-7));
    be->gather_batch(MatrixView<T>(x.data(), rows, m), MatrixView<T>(y.data(), n_out, m),
                     ConstView<float>(inputs.data(), rows, n), labels.data(), order.data(), &cursor, offset);
    for (int j = 0; j < m; ++j) {
        const int e = order[std::size_t(cursor + offset + j)];
        for (int i = 0; i < rows; ++i) EXPECT_EQ(x[std::size_t(i + j * rows)], T(inputs[std::size_t(i + e * rows)]));
        for (int i = 0; i < n_out; ++i) EXPECT_EQ(y[std::size_t(i + j * n_out)], i == labels[std::size_t(e)] ? T(1) : T(0));
    }
    EXPECT_EQ(x[std::size_t(4 + 2 * rows)], T(3.1f)) << "example 1, input 4: inputs[9]";
    EXPECT_EQ(x[0], T(1.0 / 256.0)) << "example 0, input 0: (0 + 1)/256, exact";
    std::vector<T> xl(std::size_t(rows) * 2, T(-7));
    be->load_inputs(MatrixView<T>(xl.data(), rows, 2), ConstView<float>(inputs.data() + rows, rows, 2));
    for (int i = 0; i < 2 * rows; ++i) EXPECT_EQ(xl[std::size_t(i)], T(inputs[std::size_t(rows + i)]));
    EXPECT_EQ(xl[4], T(3.1f)) << "example 1, input 4";
    EXPECT_EQ(to_input<T>(0.5f + 1.0f / 512), T(0.5 + 1.0 / 512));
}

TEST(CpuPrimitives, FloatInputsAreGatheredAsTheyAreInFloat) { check_float_inputs_as_they_are<float>(); }
TEST(CpuPrimitives, FloatInputsAreGatheredAsTheyAreInDouble) { check_float_inputs_as_they_are<double>(); }

}  // namespace
