// The elementwise CUDA kernels of the backend and their launchers: the GPU twins of
// CpuBackend's loops, same names without the _kernel suffix, same scalar math (math.hpp).
// Not here: GEMMs (cuBLAS, cuda_backend.cu) and reductions to the host (reduce.cu).
//
// Every matrix kernel walks the (rows x cols) elements of a column-major view through one flat
// index i in [0, n), n = rows * cols, as  col = i / rows,  row = i - col * rows,  and addresses
// element (row, col) at row + col * ld. Consecutive threads thus take consecutive rows of a
// column, i.e. consecutive addresses: coalesced loads and stores, also for sub-views whose
// ld > rows. The index arithmetic is a few integer ops per element of kernels that are bound
// by memory bandwidth, so it costs nothing measurable.
#include <algorithm>
#include <cstddef>
#include <utility>

#include "cuda_check.cuh"
#include "elementwise.cuh"

namespace batchprop {
namespace kernels {
namespace {

// ---- launching ------------------------------------------------------------------------------

constexpr int kBlock = 256;  // threads per block: a multiple of the warp, good occupancy everywhere
// Kernels use grid-stride loops, so the grid can be capped: 65535 blocks of 256 threads is
// ~16.7 M threads, more than any GPU holds at once (an H200 keeps 132 x 2048 = 270 k
// resident), so the cap never costs parallelism; it only bounds the block count for huge n.
constexpr std::size_t kMaxBlocks = 65535;

// The one launch helper: nothing to do for n == 0 (a grid of 0 blocks is a launch error), one
// thread per element up to the cap, and the launch checked at once so a failure names the
// kernel that caused it. Asynchronous: errors inside the kernel surface at the next sync.
template <class... KernelArgs, class... Args>
void launch(const char* name, void (*kernel)(std::size_t, KernelArgs...), cudaStream_t stream,
            std::size_t n, Args&&... args) {
    if (n == 0) return;
    const std::size_t blocks = std::min((n + kBlock - 1) / kBlock, kMaxBlocks);
    kernel<<<unsigned(blocks), kBlock, 0, stream>>>(n, std::forward<Args>(args)...);
    CUDA_CHECK_LAUNCH(name);
}

#define BP_GRID_STRIDE_LOOP(i, n)                                                  \
    for (std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
         i += std::size_t(blockDim.x) * gridDim.x)

// Multiplication and subtraction that nvcc may not fuse into an FMA. nvcc contracts a*b - c*d
// into fma(a, b, -(c*d)) by default, which rounds once where the CPU (x86-64 baseline, no
// contraction under -std=c++17) rounds twice; these keep sgd_step bitwise equal to the CPU's.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

// ---- kernels --------------------------------------------------------------------------------

// Forward activation: a(r, c) = sigma(z(r, c) + b(r)). a and z carry no __restrict__ because
// the forward pass runs this in place (a == z, same ld): each element is read and then written
// by the same thread, so aliasing is safe, but promising the compiler otherwise would not be.
template <class T>
__global__ void bias_sigmoid_kernel(std::size_t n, T* a, int lda, const T* z, int ldz,
                                    const T* __restrict__ b, int rows) {
    BP_GRID_STRIDE_LOOP(i, n) {
        const std::size_t c = i / std::size_t(rows), r = i - c * std::size_t(rows);
        a[r + c * std::size_t(lda)] = sigmoid(z[r + c * std::size_t(ldz)] + b[r]);
    }
}

// BP1, fused into one pass: delta = (a - y) a (1 - a) (quadratic) or a - y (cross-entropy),
// output_delta in math.hpp deciding, so the CPU and the GPU share the formula.
template <class T>
__global__ void output_delta_kernel(std::size_t n, T* __restrict__ delta, int ldd,
                                    const T* __restrict__ a, int lda, const T* __restrict__ y,
                                    int ldy, int rows, Cost cost) {
    BP_GRID_STRIDE_LOOP(i, n) {
        const std::size_t c = i / std::size_t(rows), r = i - c * std::size_t(rows);
        delta[r + c * std::size_t(ldd)] =
            output_delta(cost, a[r + c * std::size_t(lda)], y[r + c * std::size_t(ldy)]);
    }
}

// BP2's Hadamard half, in place: delta (already w^T delta', written by cuBLAS) *= sigma'(z),
// with sigma'(z) = a (1 - a) taken from the stored activation: no z buffer is ever kept.
template <class T>
__global__ void hidden_delta_kernel(std::size_t n, T* __restrict__ delta, int ldd,
                                    const T* __restrict__ a, int lda, int rows) {
    BP_GRID_STRIDE_LOOP(i, n) {
        const std::size_t c = i / std::size_t(rows), r = i - c * std::size_t(rows);
        delta[r + c * std::size_t(ldd)] *= sigmoid_prime_from_a(a[r + c * std::size_t(lda)]);
    }
}

// BP3 for a batch: out(r) = beta * out(r) + alpha * sum_c delta(r, c). One thread per row
// sums its row in the fixed order c = 0, 1, ..., cols-1, exactly as the CPU loop does: no
// atomics and no tree, so the result is deterministic and, in double, bitwise the CPU's. A row
// has at most a mini-batch of columns (tens to hundreds), so the serial loop is short; threads
// of a warp read neighbouring rows of the same column, i.e. coalesced. With beta == 0 the old
// out is never read (it may be uninitialised), matching BLAS's beta == 0 convention. The final
// multiply-add is kept unfused (mul_rn/add_rn) to round as the CPU does.
template <class T>
__global__ void row_sums_kernel(std::size_t n_rows, T* __restrict__ out,
                                const T* __restrict__ delta, int ld, int cols, T alpha, T beta) {
    BP_GRID_STRIDE_LOOP(r, n_rows) {
        T s = T(0);
        for (int c = 0; c < cols; ++c) s += delta[r + std::size_t(c) * std::size_t(ld)];
        const T old = beta == T(0) ? T(0) : mul_rn(beta, out[r]);
        out[r] = add_rn(old, mul_rn(alpha, s));
    }
}

// SGD with L2 weight decay over the flat parameter buffer: all weights first (decayed), then
// all biases (not decayed, as in network2.py). One kernel for every layer's w and b at once.
template <class T>
__global__ void sgd_step_kernel(std::size_t n_params, T* __restrict__ params,
                                const T* __restrict__ nabla, std::size_t n_weights, T decay,
                                T scale) {
    BP_GRID_STRIDE_LOOP(i, n_params) {
        const T p = i < n_weights ? mul_rn(decay, params[i]) : params[i];
        params[i] = sub_rn(p, mul_rn(scale, nabla[i]));
    }
}

// x(:, c) = data(:, idx[c]): assembles a shuffled mini-batch from the device-resident data set.
// Each column is a contiguous run of `rows` values, so reads are coalesced within a column.
template <class T>
__global__ void gather_columns_kernel(std::size_t n, T* __restrict__ x, int ldx,
                                      const T* __restrict__ data, int ldd,
                                      const int* __restrict__ idx, int rows) {
    BP_GRID_STRIDE_LOOP(i, n) {
        const std::size_t c = i / std::size_t(rows), r = i - c * std::size_t(rows);
        x[r + c * std::size_t(ldx)] = data[r + std::size_t(idx[c]) * std::size_t(ldd)];
    }
}

// y(:, c) = e_label, label = labels[idx[c]] (or labels[c] when idx is null). Written densely,
// zeros included, so the target buffer needs no separate clear.
template <class T>
__global__ void one_hot_kernel(std::size_t n, T* __restrict__ y, int ldy,
                               const int* __restrict__ labels, const int* __restrict__ idx,
                               int rows) {
    BP_GRID_STRIDE_LOOP(i, n) {
        const std::size_t c = i / std::size_t(rows), r = i - c * std::size_t(rows);
        const int label = labels[idx ? idx[c] : int(c)];
        y[r + c * std::size_t(ldy)] = int(r) == label ? T(1) : T(0);
    }
}

}  // namespace

// ---- launchers (elementwise.cuh) ------------------------------------------------------------

template <class T>
void bias_sigmoid(cudaStream_t stream, MatrixView<T> a, ConstView<T> z, const T* b) {
    launch("bias_sigmoid_kernel", bias_sigmoid_kernel<T>, stream, a.size(), a.data, a.ld, z.data,
           z.ld, b, a.rows);
}

template <class T>
void output_delta(cudaStream_t stream, MatrixView<T> delta, ConstView<T> a, ConstView<T> y,
                  Cost cost) {
    launch("output_delta_kernel", output_delta_kernel<T>, stream, delta.size(), delta.data,
           delta.ld, a.data, a.ld, y.data, y.ld, delta.rows, cost);
}

template <class T>
void hidden_delta(cudaStream_t stream, MatrixView<T> delta, ConstView<T> a) {
    launch("hidden_delta_kernel", hidden_delta_kernel<T>, stream, delta.size(), delta.data,
           delta.ld, a.data, a.ld, delta.rows);
}

template <class T>
void row_sums(cudaStream_t stream, T* out, ConstView<T> delta, T alpha, T beta) {
    launch("row_sums_kernel", row_sums_kernel<T>, stream, std::size_t(delta.rows), out,
           delta.data, delta.ld, delta.cols, alpha, beta);
}

template <class T>
void sgd_step(cudaStream_t stream, T* params, const T* nabla, std::size_t n_params,
              std::size_t n_weights, T decay, T scale) {
    launch("sgd_step_kernel", sgd_step_kernel<T>, stream, n_params, params, nabla, n_weights,
           decay, scale);
}

template <class T>
void gather_columns(cudaStream_t stream, MatrixView<T> x, ConstView<T> data, const int* idx) {
    launch("gather_columns_kernel", gather_columns_kernel<T>, stream, x.size(), x.data, x.ld,
           data.data, data.ld, idx, x.rows);
}

template <class T>
void one_hot(cudaStream_t stream, MatrixView<T> y, const int* labels, const int* idx) {
    launch("one_hot_kernel", one_hot_kernel<T>, stream, y.size(), y.data, y.ld, labels, idx,
           y.rows);
}

#define BP_INSTANTIATE_ELEMENTWISE(T)                                                           \
    template void bias_sigmoid<T>(cudaStream_t, MatrixView<T>, ConstView<T>, const T*);         \
    template void output_delta<T>(cudaStream_t, MatrixView<T>, ConstView<T>, ConstView<T>, Cost); \
    template void hidden_delta<T>(cudaStream_t, MatrixView<T>, ConstView<T>);                   \
    template void row_sums<T>(cudaStream_t, T*, ConstView<T>, T, T);                            \
    template void sgd_step<T>(cudaStream_t, T*, const T*, std::size_t, std::size_t, T, T);      \
    template void gather_columns<T>(cudaStream_t, MatrixView<T>, ConstView<T>, const int*);     \
    template void one_hot<T>(cudaStream_t, MatrixView<T>, const int*, const int*);

BP_INSTANTIATE_ELEMENTWISE(float)
BP_INSTANTIATE_ELEMENTWISE(double)
#undef BP_INSTANTIATE_ELEMENTWISE

}  // namespace kernels
}  // namespace batchprop
