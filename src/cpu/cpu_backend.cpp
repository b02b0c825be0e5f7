// The CPU backend: CBLAS (OpenBLAS) for the products, plain loops for the elementwise work.
// It is the reference every GPU result is checked against, so clarity wins over cleverness
// everywhere except the GEMM dispatch, which decides the per-example vs matrix comparison.
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <numeric>
#include <utility>

#include "batchprop/backend.hpp"
#include "cpu/small_gemm.hpp"
#include "cpu/subnormals.hpp"

// glibc on x86-64 ships vector versions of exp and expf (libmvec, linked through libm) but its
// math.h only announces them under -ffast-math. Announcing them here lets the sigmoid loops
// below vectorise without fast-math's value-changing licences; CMakeLists.txt adds the two
// flags that allow it (-fno-math-errno, -fno-trapping-math), neither of which changes a result.
// libmvec's exp is within 4 ulp, like CUDA's expf: far inside the CPU-vs-GPU tolerances.
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
extern "C" float expf(float) noexcept __attribute__((__simd__("notinbranch")));
extern "C" double exp(double) noexcept __attribute__((__simd__("notinbranch")));
#endif

namespace batchprop {
namespace {

CBLAS_TRANSPOSE to_cblas(Op op) { return op == Op::N ? CblasNoTrans : CblasTrans; }

// The BLAS calls, overloaded on the scalar type so the class below is written once.
void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
               const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
    cblas_sgemm(CblasColMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha,
               const double* a, int lda, const double* b, int ldb, double beta, double* c, int ldc) {
    cblas_dgemm(CblasColMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blas_gemv(CBLAS_TRANSPOSE t, int m, int n, float alpha, const float* a, int lda,
               const float* x, int incx, float beta, float* y, int incy) {
    cblas_sgemv(CblasColMajor, t, m, n, alpha, a, lda, x, incx, beta, y, incy);
}
void blas_gemv(CBLAS_TRANSPOSE t, int m, int n, double alpha, const double* a, int lda,
               const double* x, int incx, double beta, double* y, int incy) {
    cblas_dgemv(CblasColMajor, t, m, n, alpha, a, lda, x, incx, beta, y, incy);
}
void blas_ger(int m, int n, float alpha, const float* x, int incx, const float* y, int incy,
              float* a, int lda) {
    cblas_sger(CblasColMajor, m, n, alpha, x, incx, y, incy, a, lda);
}
void blas_ger(int m, int n, double alpha, const double* x, int incx, const double* y, int incy,
              double* a, int lda) {
    cblas_dger(CblasColMajor, m, n, alpha, x, incx, y, incy, a, lda);
}

// OpenBLAS splits a product over all its threads once it passes a small size, and on a few
// cores the hand-off costs more than it saves until a product reaches tens of MFLOP: on two
// cores, [784,30,10] at m = 100 (4.7 MFLOP per forward GEMM) trains an epoch in 0.097 s on
// one thread and 0.13 s on two. So each product below kParallelFlops runs on one thread and
// bigger ones on all that OpenBLAS was given (OPENBLAS_NUM_THREADS, else every core). The
// count is process-wide in OpenBLAS, so it is tracked here and changed only when it differs.
constexpr double kParallelFlops = 32e6;

void use_blas_threads_for(double flops) {
    static const int all = openblas_get_num_threads();
    static int current = all;
    const int want = flops >= kParallelFlops ? all : 1;
    if (want != current) {
        openblas_set_num_threads(want);
        current = want;
    }
}

template <class T>
class CpuBackend final : public Backend<T> {
    using View = MatrixView<T>;
    using CView = ConstView<T>;

public:
    // The arithmetic below runs with subnormals flushed (each such method opens a
    // FlushSubnormals guard); saturated sigmoids would otherwise send the backward pass into
    // the CPU's slow path. See cpu_subnormals.hpp.
    CpuBackend() { restart_blas_workers_for_flushing(); }

    std::string name() const override { return "cpu (OpenBLAS)"; }
    DeviceKind kind() const override { return DeviceKind::cpu; }

    void* allocate(std::size_t bytes) override {
        // 64-byte alignment: whole cache lines, and what AVX-512 loads like.
        void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!p) BP_THROW("out of host memory allocating " << bytes << " bytes");
        return p;
    }
    void deallocate(void* p) noexcept override { std::free(p); }
    void copy(void* dst, const void* src, std::size_t bytes, CopyKind) override {
        std::memmove(dst, src, bytes);
    }

protected:
    // Column-major C(M x N) = alpha op(A) op(B) + beta C with K the shared dimension; lda/ldb/
    // ldc are the views' leading dimensions. Per-example mode reaches here with N == 1 (the
    // forward W a and the backward W^T delta: matrix-vector products) and with K == 1 (the
    // weight gradient delta a^T: an outer product). GEMM kernels pay for packing panels that
    // such shapes never reuse, so those go to GEMV and GER, the book's numpy doing the same.
    void gemm_impl(View c, Op op_a, CView a, Op op_b, CView b, T alpha, T beta) override {
        const FlushSubnormals ftz;
        const int M = c.rows, N = c.cols;
        const int K = op_a == Op::N ? a.cols : a.rows;
        use_blas_threads_for(2.0 * M * N * K);
        if (N == 1) {
            // c = alpha op(A) b + beta c, with b a column (op_b == N) or a row (op_b == T).
            const int incb = op_b == Op::N ? 1 : b.ld;
            blas_gemv(to_cblas(op_a), a.rows, a.cols, alpha, a.data, a.ld, b.data, incb, beta,
                      c.data, 1);
            return;
        }
        if (K == 1 && op_a == Op::N && op_b == Op::T) {
            // c = alpha a b^T + beta c with a (M x 1) and b (N x 1), both single contiguous
            // columns: scale, then rank-1 update.
            if (beta != T(1)) scale(c, beta);
            blas_ger(M, N, alpha, a.data, 1, b.data, 1, c.data, c.ld);
            return;
        }
        // A mini-batch's few columns (N = m forward and backward, K = m in the weight update):
        // a register-blocked kernel that packs nothing (cpu_small_gemm.hpp). Single-threaded,
        // so only below the size that gets BLAS threads.
        if (2.0 * M * N * K < kParallelFlops && small_gemm_suits(M, N, K) &&
            small_gemm(op_a, op_b, M, N, K, alpha, a.data, a.ld, b.data, b.ld, beta, c.data, c.ld))
            return;
        blas_gemm(to_cblas(op_a), to_cblas(op_b), M, N, K, alpha, a.data, a.ld, b.data, b.ld,
                  beta, c.data, c.ld);
    }

    void bias_sigmoid_impl(View a, CView z, const T* b) override {
        const FlushSubnormals ftz;
        for (int j = 0; j < a.cols; ++j) {
            T* aj = a.data + std::size_t(j) * a.ld;
            const T* zj = z.data + std::size_t(j) * z.ld;
            for (int i = 0; i < a.rows; ++i) aj[i] = sigmoid(zj[i] + b[i]);
        }
    }

    // BP1 + BP3 in one pass: each column's delta is written and added to the group's row
    // sums while it is in cache (see sum_rows for the order).
    void output_delta_bias_impl(View delta, CView a, CView y, Cost cost, T* b, T alpha,
                                T b_beta) override {
        const FlushSubnormals ftz;
        sum_rows(delta, b, alpha, b_beta, [&](int j, T* part) {
            T* dj = delta.data + std::size_t(j) * delta.ld;
            const T* aj = a.data + std::size_t(j) * a.ld;
            const T* yj = y.data + std::size_t(j) * y.ld;
            for (int i = 0; i < delta.rows; ++i) {
                dj[i] = output_delta(cost, aj[i], yj[i]);
                part[i] += dj[i];
            }
        });
    }

    // BP2's Hadamard half + BP3, in one pass, in place.
    void hidden_delta_bias_impl(View delta, CView a, T* b, T alpha, T b_beta) override {
        const FlushSubnormals ftz;
        sum_rows(delta, b, alpha, b_beta, [&](int j, T* part) {
            T* dj = delta.data + std::size_t(j) * delta.ld;
            const T* aj = a.data + std::size_t(j) * a.ld;
            for (int i = 0; i < delta.rows; ++i) {
                dj[i] *= sigmoid_prime_from_a(aj[i]);
                part[i] += dj[i];
            }
        });
    }

    void sgd_step_impl(T* params, const T* nabla, std::size_t n_params, std::size_t n_weights,
                       T decay, T scale) override {
        const FlushSubnormals ftz;
        for (std::size_t i = 0; i < n_weights; ++i) params[i] = decay * params[i] - scale * nabla[i];
        for (std::size_t i = n_weights; i < n_params; ++i) params[i] -= scale * nabla[i];
    }

    void gather_batch_impl(View x, View y, ConstView<std::uint8_t> pixels, const int* labels,
                           const int* order, const int* cursor, int offset) override {
        gather(x, y, pixels, labels, order, cursor, offset);
    }
    void gather_batch_impl(View x, View y, ConstView<float> inputs, const int* labels, const int* order,
                           const int* cursor, int offset) override {
        gather(x, y, inputs, labels, order, cursor, offset);
    }

    void advance_cursor_impl(int* cursor, int by) override { *cursor += by; }

    void load_inputs_impl(View x, ConstView<std::uint8_t> pixels) override { load(x, pixels); }
    void load_inputs_impl(View x, ConstView<float> inputs) override { load(x, inputs); }

    EvalSums evaluate_impl(CView a, const int* labels, Cost cost) override {
        EvalSums s;
        for (int j = 0; j < a.cols; ++j) {
            const T* aj = a.data + std::size_t(j) * a.ld;
            s.correct += argmax(aj, a.rows) == labels[j];
            s.cost += example_cost(cost, aj, a.rows, labels[j]);
        }
        return s;
    }

    double sum_squares_impl(const T* x, std::size_t n) override {
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
        return s;
    }

    void permutation_impl(int* idx, int n, std::uint64_t seed, std::uint64_t epoch) override {
        // Sorted by key, ties by index: a least-significant-digit radix sort, 8 bits a pass. Each
        // pass is stable and the pairs start in index order, so the order is std::sort's of the
        // (key, index) pairs, in a fraction of std::sort's time (bench/RESULTS.md, "The CPU epoch:
        // gather and shuffle (2026-11-29)").
        const std::size_t un = std::size_t(n);
        keys_.resize(un);  // both grow once, then are reused every epoch
        spare_.resize(un);
        std::size_t count[8][257] = {};
        for (int i = 0; i < n; ++i) {
            const std::uint64_t k = shuffle_key(seed, epoch, std::uint64_t(i));
            keys_[std::size_t(i)] = {k, i};
            for (int d = 0; d < 8; ++d) ++count[d][((k >> (8 * d)) & 0xff) + 1];
        }
        for (int d = 0; d < 8; ++d) {
            if (count[d][1 + ((keys_[0].first >> (8 * d)) & 0xff)] == un) continue;  // one digit: already in order
            for (int b = 0; b < 256; ++b) count[d][b + 1] += count[d][b];  // bucket starts
            for (const auto& kv : keys_) spare_[count[d][(kv.first >> (8 * d)) & 0xff]++] = kv;
            keys_.swap(spare_);
        }
        for (int i = 0; i < n; ++i) idx[i] = keys_[std::size_t(i)].second;
    }

private:
    // gather_batch and load_inputs for images of element type S (bytes or float inputs).
    template <class S>
    static void gather(View x, View y, ConstView<S> images, const int* labels, const int* order, const int* cursor,
                       int offset) {
        const int* e = order + *cursor + offset;  // the examples of this batch, in order
        // The batch's columns lie anywhere in the image set (39 MB for Fashion-MNIST's 50,000
        // as bytes, more than the L3 holds), so most of their lines come from memory. Asking for
        // all of them before converting any keeps the misses in flight together; column by
        // column, each column's first lines were waited for in turn. Into L2 (locality 2:
        // prefetcht1), not L1, which measured faster than prefetcht0, prefetchnta or none
        // (bench/RESULTS.md, "The CPU epoch: gather and shuffle (2026-11-29)"). (Prefetching the
        // next batch's columns as well gained nothing more.)
        constexpr int per_line = int(64 / sizeof(S));
        for (int j = 0; j < x.cols; ++j) {
            const S* pj = images.data + std::size_t(e[j]) * images.ld;
            for (int i = 0; i < x.rows; i += per_line) __builtin_prefetch(pj + i, 0, 2);
            __builtin_prefetch(pj + (x.rows - 1), 0, 2);  // the last line, when the column straddles one more
        }
        for (int j = 0; j < x.cols; ++j) {
            convert_column(x.data + std::size_t(j) * x.ld, images.data + std::size_t(e[j]) * images.ld, x.rows);
            T* yj = y.data + std::size_t(j) * y.ld;
            std::fill(yj, yj + y.rows, T(0));
            const int label = labels[e[j]];
            if (label >= 0 && label < y.rows) yj[label] = T(1);
        }
    }
    template <class S>
    static void load(View x, ConstView<S> images) {
        for (int j = 0; j < x.cols; ++j)
            convert_column(x.data + std::size_t(j) * x.ld, images.data + std::size_t(j) * images.ld, x.rows);
    }
    static void convert_column(T* x, const std::uint8_t* pixels, int rows) {
        if (pixels_to_inputs(small_gemm_level(), x, pixels, rows)) return;  // vectorised, same values
        for (int i = 0; i < rows; ++i) x[i] = to_input<T>(pixels[i]);
    }
    static void convert_column(T* x, const float* inputs, int rows) {
        for (int i = 0; i < rows; ++i) x[i] = to_input<T>(inputs[i]);
    }

    // b = b_beta b + alpha (row sums of delta), the sums in math.hpp's fixed order: columns in
    // groups of kRowSumGroup, each group summed from 0 into part_ (column(j, part) adds column
    // j, producing it first where the caller computes it in the same pass), then the group sums added into sums_ in
    // order. The CUDA kernels follow the same order, so double results agree bitwise. The
    // final multiply-add stays two roundings, as on the GPU.
    template <class AddColumn>
    void sum_rows(CView delta, T* b, T alpha, T b_beta, AddColumn column) {
        const std::size_t rows = std::size_t(delta.rows);
        sums_.assign(rows, T(0));
        part_.resize(rows);
        for (int c0 = 0; c0 < delta.cols; c0 += kRowSumGroup) {
            std::fill(part_.begin(), part_.end(), T(0));
            const int c1 = std::min(delta.cols, c0 + kRowSumGroup);
            for (int j = c0; j < c1; ++j) column(j, part_.data());
            for (std::size_t i = 0; i < rows; ++i) sums_[i] += part_[i];
        }
        for (std::size_t i = 0; i < rows; ++i) {
            const T old = b_beta == T(0) ? T(0) : b_beta * b[i];
            b[i] = old + alpha * sums_[i];
        }
    }

    static void scale(View c, T beta) {
        for (int j = 0; j < c.cols; ++j) {
            T* cj = c.data + std::size_t(j) * c.ld;
            for (int i = 0; i < c.rows; ++i) cj[i] = beta == T(0) ? T(0) : beta * cj[i];
        }
    }

    std::vector<std::pair<std::uint64_t, int>> keys_, spare_;  // permutation_impl's
    std::vector<T> sums_, part_;  // sum_rows' workspaces: grow to the widest layer once
};

}  // namespace

template <class T>
std::unique_ptr<Backend<T>> make_cpu_backend() {
    return std::make_unique<CpuBackend<T>>();
}

template std::unique_ptr<Backend<float>> make_cpu_backend<float>();
template std::unique_ptr<Backend<double>> make_cpu_backend<double>();

}  // namespace batchprop
