// The small-product kernel (src/cpu/small_gemm.hpp) against the BLAS: every instruction set
// this CPU runs, float and double, the products of the algorithm at every m up to past the
// dispatch limit, all four op combinations on odd shapes, sub-views (ld > rows), alpha/beta
// variants, beta = 0 over a NaN-filled C, and guard values around C that must come back as they
// were. Without AVX2 there is nothing to test here: the BLAS does every product.
#include <cblas.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "batchprop/backend.hpp"
#include "cpu/small_gemm.hpp"
#include "support/test_util.hpp"

namespace {

using batchprop::Op;
using batchprop::SimdLevel;

void blas_gemm(Op oa, Op ob, int M, int N, int K, float alpha, const float* a, int lda, const float* b, int ldb,
               float beta, float* c, int ldc) {
    cblas_sgemm(CblasColMajor, oa == Op::N ? CblasNoTrans : CblasTrans, ob == Op::N ? CblasNoTrans : CblasTrans, M,
                N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blas_gemm(Op oa, Op ob, int M, int N, int K, double alpha, const double* a, int lda, const double* b,
               int ldb, double beta, double* c, int ldc) {
    cblas_dgemm(CblasColMajor, oa == Op::N ? CblasNoTrans : CblasTrans, ob == Op::N ? CblasNoTrans : CblasTrans, M,
                N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

std::vector<SimdLevel> levels_here() {
    std::vector<SimdLevel> out;
    for (SimdLevel l : {SimdLevel::avx2, SimdLevel::avx512})
        if (batchprop::small_gemm_supported(l)) out.push_back(l);
    return out;
}

struct Case {
    Op op_a = Op::N, op_b = Op::N;
    int M = 1, N = 1, K = 1;
    int pad = 0;  // every leading dimension is its matrix's rows + pad
    double alpha = 1.0, beta = 0.0;
    std::string str() const {
        std::ostringstream os;
        os << "C(" << M << "x" << N << ") = " << alpha << " op" << (op_a == Op::N ? "N" : "T") << "(A) op"
           << (op_b == Op::N ? "N" : "T") << "(B) + " << beta << " C, K = " << K << ", ld pad " << pad;
        return os.str();
    }
};

// Stored C: (M + pad) x N, with the pad rows and kGuard elements after the last column as
// guards. C's own elements start as NaN when beta == 0 (they must not be read).
constexpr int kGuard = 16;
template <class T>
constexpr T kGuardValue = T(-1234.5);

// "" when the kernel at `level` agrees with the BLAS on `cs`, else what differs. Agreement:
// |got - want| <= 4 (sqrt(K) + 2) eps (|alpha| (|op(A)| |op(B)|)(i, j) + |beta C(i, j)|). Two
// summations of the same K products (in other orders, with or without FMAs)
// differ by rounding that grows like sqrt(K) eps times the partial sums, which cancel to far
// below the sum of |terms| here: the bound is ~100x the differences seen, while a wrong index
// or a missed product is a whole term, ~K / sqrt(K) times larger than the bound.
// `tamper`, when given, changes the kernel's output before the comparison (the test of the
// check itself).
template <class T>
std::string check(SimdLevel level, const Case& cs, std::uint64_t seed,
                  const std::function<void(std::vector<T>&)>& tamper = nullptr) {
    const int a_rows = cs.op_a == Op::N ? cs.M : cs.K, a_cols = cs.op_a == Op::N ? cs.K : cs.M;
    const int b_rows = cs.op_b == Op::N ? cs.K : cs.N, b_cols = cs.op_b == Op::N ? cs.N : cs.K;
    const int lda = a_rows + cs.pad, ldb = b_rows + cs.pad, ldc = cs.M + cs.pad;
    const std::vector<T> a = bptest::random_vector<T>(std::size_t(lda) * a_cols, seed, -1.0, 1.0);
    const std::vector<T> b = bptest::random_vector<T>(std::size_t(ldb) * b_cols, seed + 1, -1.0, 1.0);
    const std::vector<T> c0 = bptest::random_vector<T>(std::size_t(ldc) * cs.N, seed + 2, -1.0, 1.0);
    const T alpha = T(cs.alpha), beta = T(cs.beta);

    std::vector<T> got(std::size_t(ldc) * cs.N + kGuard, kGuardValue<T>);
    for (int j = 0; j < cs.N; ++j)
        for (int i = 0; i < cs.M; ++i)
            got[std::size_t(i) + std::size_t(j) * ldc] =
                beta == T(0) ? std::numeric_limits<T>::quiet_NaN() : c0[std::size_t(i) + std::size_t(j) * ldc];
    if (!batchprop::small_gemm(level, cs.op_a, cs.op_b, cs.M, cs.N, cs.K, alpha, a.data(), lda, b.data(), ldb,
                               beta, got.data(), ldc))
        return "small_gemm declined a level this CPU supports";
    if (tamper) tamper(got);

    std::vector<T> want(c0), bound(std::size_t(ldc) * cs.N, T(0));
    blas_gemm(cs.op_a, cs.op_b, cs.M, cs.N, cs.K, alpha, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
    std::vector<T> abs_a(a), abs_b(b);
    for (T& x : abs_a) x = std::abs(x);
    for (T& x : abs_b) x = std::abs(x);
    blas_gemm(cs.op_a, cs.op_b, cs.M, cs.N, cs.K, std::abs(alpha), abs_a.data(), lda, abs_b.data(), ldb, T(0),
              bound.data(), ldc);

    const double eps = std::numeric_limits<T>::epsilon();
    std::ostringstream os;
    os.precision(17);
    for (std::size_t p = 0; p < got.size(); ++p) {
        const bool in_c = p < std::size_t(ldc) * cs.N && int(p % std::size_t(ldc)) < cs.M;
        if (!in_c) {
            if (got[p] != kGuardValue<T>) {
                os << cs.str() << ": guard at offset " << p << " changed to " << got[p];
                return os.str();
            }
            continue;
        }
        const double tol = 4.0 * (std::sqrt(double(cs.K)) + 2.0) * eps * (double(bound[p]) + std::abs(double(beta) * double(c0[p])));
        const double g = got[p], w = want[p];
        if (!std::isfinite(g) || !(std::abs(g - w) <= tol)) {
            os << cs.str() << ": C(" << p % ldc << ", " << p / ldc << ") is " << g << ", the BLAS gives " << w
               << " (allowed difference " << tol << ")";
            return os.str();
        }
    }
    return "";
}

template <class T>
class SmallGemm : public ::testing::Test {
protected:
    void SetUp() override {
        levels_ = levels_here();
        if (levels_.empty()) GTEST_SKIP() << "this CPU has neither AVX2 + FMA nor AVX-512: the BLAS does every product";
    }
    // Runs `cs` on every level; stops at the first difference.
    void expect(const Case& cs, std::uint64_t seed) {
        for (SimdLevel l : levels_) {
            const std::string err = check<T>(l, cs, seed);
            ASSERT_EQ(err, "") << "level " << batchprop::to_string(l);
        }
    }
    std::vector<SimdLevel> levels_;
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SmallGemm, Scalars);

// The three products of a matrix-mode step, as src/engine/backprop.cpp makes them, for every layer of
// the networks the other tests use and every m from 1 to past kSmallGemmMaxDim:
//   forward   Z = W A_prev             (n x m) = (n x k)(k x m)         alpha 1, beta 0
//   backward  W^T delta                (k x m) = (n x k)^T (n x m)      alpha 1, beta 0
//   update    W = beta W + alpha delta A_prev^T   (n x k) = (n x m)(k x m)^T  the folded SGD step
// with sub-views (pad 3) on every other m.
TYPED_TEST(SmallGemm, StepProductsOfEveryLayerAndM) {
    const std::vector<std::vector<int>> nets = {{784, 30, 10}, {3, 5, 2}, {1, 1}, {784, 100, 10}};
    std::uint64_t seed = 100;
    for (const auto& sizes : nets)
        for (std::size_t l = 1; l < sizes.size(); ++l) {
            const int n = sizes[l], k = sizes[l - 1];
            for (int m = 1; m <= batchprop::kSmallGemmMaxDim + 3; ++m) {
                if (n == 100 && m % 5 != 0 && m != 1) continue;  // the wide layer: every fifth m
                const int pad = m % 2 ? 3 : 0;
                this->expect({Op::N, Op::N, n, m, k, pad, 1.0, 0.0}, seed++);
                this->expect({Op::T, Op::N, k, m, n, pad, 1.0, 0.0}, seed++);
                this->expect({Op::N, Op::T, n, k, m, pad, -3.0 / m, 1.0 - 3.0 * 5.0 / 50000.0}, seed++);
                if (this->HasFatalFailure()) return;
            }
        }
}

// All four op combinations on shapes around the vector widths (4, 8, 16 elements) and the
// register tile (up to 32 rows, 6 or 12 columns), each with beta 0, 1 and another value and
// with and without padding.
TYPED_TEST(SmallGemm, EveryOpCombinationOnAwkwardShapes) {
    const int dims[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 15, 16, 17, 24, 25, 31, 32, 33, 47, 64, 65};
    const Op ops[] = {Op::N, Op::T};
    std::uint64_t seed = 5000;
    for (Op oa : ops)
        for (Op ob : ops)
            for (int M : dims)
                for (int N : {1, 2, 5, 6, 7, 10, 12, 13, 25, 33})
                    for (int K : {1, 3, 10, 17}) {
                        const int pad = (M + N + K) % 3;  // 0, 1 or 2
                        const double beta = seed % 3 == 0 ? 0.0 : seed % 3 == 1 ? 1.0 : -0.75;
                        const double alpha = seed % 2 ? 1.0 : 0.3;
                        this->expect({oa, ob, M, N, K, pad, alpha, beta}, seed++);
                        if (this->HasFatalFailure()) return;
                    }
}

// Long sums and wide results: K in the thousands (a first layer of a big image), N and K past
// the limit (the kernel is correct at any size; only the dispatch keeps it to small ones).
TYPED_TEST(SmallGemm, LargeDimensions) {
    this->expect({Op::N, Op::N, 30, 10, 3072, 0, 1.0, 0.0}, 1);
    this->expect({Op::N, Op::T, 100, 1000, 10, 2, -0.3, 0.9999}, 2);
    this->expect({Op::T, Op::N, 784, 10, 100, 1, 1.0, 0.0}, 3);
    this->expect({Op::N, Op::N, 70, 130, 90, 1, 0.5, 2.0}, 4);
    this->expect({Op::T, Op::T, 33, 129, 65, 0, 1.0, 1.0}, 5);
}

// K = 0: C = beta C, as the BLAS defines it (and C = 0 for beta = 0, NaN or not).
TYPED_TEST(SmallGemm, EmptySumScalesC) {
    this->expect({Op::N, Op::N, 17, 3, 0, 1, 1.0, 0.5}, 7);
    this->expect({Op::N, Op::T, 17, 3, 0, 0, 1.0, 0.0}, 8);
}

// The check above catches one element off by 0.01, a twenty-fifth of the average term of its
// sum (784 products of values in [-1, 1]), and a changed guard.
TEST(SmallGemmCheck, CatchesAPerturbedResult) {
    const std::vector<SimdLevel> levels = levels_here();
    if (levels.empty()) GTEST_SKIP() << "no kernel on this CPU";
    const Case cs{Op::N, Op::N, 30, 10, 784, 2, 1.0, 0.0};
    ASSERT_EQ(check<float>(levels[0], cs, 9), "");
    const std::size_t at = 7 + 3 * std::size_t(cs.M + cs.pad);  // C(7, 3)
    const std::string err = check<float>(levels[0], cs, 9, [&](std::vector<float>& c) { c[at] += 0.01f; });
    EXPECT_NE(err.find("C(7, 3)"), std::string::npos) << err;
    const std::string guard = check<float>(levels[0], cs, 9, [&](std::vector<float>& c) { c[30] = 0.0f; });
    EXPECT_NE(guard.find("guard at offset 30"), std::string::npos) << guard;
}

// `none` (or a level the CPU lacks) computes nothing, so the caller falls back to the BLAS.
TEST(SmallGemmDispatch, DeclinesWithoutAKernel) {
    std::vector<float> a(6, 1.0f), b(6, 1.0f), c(4, 7.0f);
    EXPECT_FALSE(batchprop::small_gemm(SimdLevel::none, Op::N, Op::N, 2, 2, 3, 1.0f, a.data(), 2, b.data(), 3, 0.0f,
                                       c.data(), 2));
    EXPECT_EQ(c, std::vector<float>(4, 7.0f));
    if (!batchprop::small_gemm_supported(SimdLevel::avx512))
        EXPECT_FALSE(batchprop::small_gemm(SimdLevel::avx512, Op::N, Op::N, 2, 2, 3, 1.0f, a.data(), 2, b.data(), 3,
                                           0.0f, c.data(), 2));
}

// What the CPU backend sends to the kernel: one small dimension, mini-batch sized.
TEST(SmallGemmDispatch, SuitsTheStepProductsOnly) {
    const int lim = batchprop::kSmallGemmMaxDim;
    EXPECT_TRUE(batchprop::small_gemm_suits(30, 10, 784));   // forward W A, m = 10
    EXPECT_TRUE(batchprop::small_gemm_suits(30, 784, 10));   // update delta A^T, K = m
    EXPECT_TRUE(batchprop::small_gemm_suits(30, lim, 784));
    EXPECT_FALSE(batchprop::small_gemm_suits(30, lim + 1, 784));
    EXPECT_FALSE(batchprop::small_gemm_suits(1024, 1024, 1024));
    EXPECT_FALSE(batchprop::small_gemm_suits(0, 10, 10));
}

// The gather's vectorised conversion equals pixel_to_input (k / 255 in T) bit for bit, for every
// byte value, at every level this CPU runs: the 256 values in every lane position (a run of
// 256 + 255 bytes read at each start offset 0..16, so lengths with and without a scalar tail),
// and writes nothing past x[n).
template <class T>
void expect_exact_pixels(SimdLevel level) {
    std::vector<std::uint8_t> bytes(256 + 255);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::uint8_t(i * 7 % 256);  // all 256, shuffled
    for (int start = 0; start <= 16; ++start) {
        const int n = int(bytes.size()) - start;
        std::vector<T> x(std::size_t(n) + 1, kGuardValue<T>);
        ASSERT_TRUE(batchprop::pixels_to_inputs(level, x.data(), bytes.data() + start, n));
        for (int i = 0; i < n; ++i) {
            const std::uint8_t k = bytes[std::size_t(start + i)];
            ASSERT_EQ(x[std::size_t(i)], batchprop::pixel_to_input<T>(k))
                << to_string(level) << ", byte " << int(k) << " at " << i << " of " << n;
        }
        EXPECT_EQ(x[std::size_t(n)], kGuardValue<T>) << to_string(level) << ", guard after " << n;
    }
}

TEST(PixelsToInputs, ExactlyKOver255AtEveryLevel) {
    const std::vector<SimdLevel> levels = levels_here();
    if (levels.empty()) GTEST_SKIP() << "no kernel on this CPU";
    for (SimdLevel level : levels) {
        expect_exact_pixels<float>(level);
        expect_exact_pixels<double>(level);
    }
}

TEST(PixelsToInputs, DeclinesWithoutAKernel) {
    const std::uint8_t k[2] = {1, 2};
    float x[2] = {7.0f, 7.0f};
    EXPECT_FALSE(batchprop::pixels_to_inputs(SimdLevel::none, x, k, 2));
    EXPECT_EQ(x[0], 7.0f);
}

}  // namespace
