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

// Multiplication, subtraction and addition that are never fused into an FMA. The whole CUDA
// build already says -fmad=false (CMakeLists.txt), which keeps every kernel rounding as the
// CPU does (x86-64 baseline, no contraction under -std=c++17); these intrinsics make the
// places where it matters most say so themselves, and keep them right if the flag is lost.
// With -ftz=true float subnormals are flushed as the CPU backend flushes them; double
// subnormals (below 2.2e-308) are flushed by the CPU only, the one place results may differ.
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

// The two ways a layer's delta is produced, as functors for delta_bias_kernel: each returns
// the new delta(r, c) given the current one (d, in place).
// BP1: delta = (a - y) a (1 - a) (quadratic) or a - y (cross-entropy), output_delta in math.hpp
// deciding, so the CPU and the GPU share the formula.
template <class T>
struct OutputDeltaOp {
    const T* __restrict__ a;
    int lda;
    const T* __restrict__ y;
    int ldy;
    Cost cost;
    __device__ T operator()(std::size_t r, std::size_t c, T) const {
        return output_delta(cost, a[r + c * std::size_t(lda)], y[r + c * std::size_t(ldy)]);
    }
};
// BP2's Hadamard half: delta (already w^T delta', written by cuBLAS) times sigma'(z), taken
// from the stored activation as a (1 - a): no z buffer is ever kept.
template <class T>
struct HiddenDeltaOp {
    const T* __restrict__ a;
    int lda;
    __device__ T operator()(std::size_t r, std::size_t c, T d) const {
        return d * sigmoid_prime_from_a(a[r + c * std::size_t(lda)]);
    }
};

// b = b_beta * b + alpha * total, rounded as the CPU rounds (two products, one sum, unfused).
// With b_beta == 0 the old b is never read (it may be uninitialised, as BLAS's beta == 0).
template <class T>
__device__ __forceinline__ void update_bias(T* b, std::size_t r, T total, T alpha, T b_beta) {
    const T old = b_beta == T(0) ? T(0) : mul_rn(b_beta, b[r]);
    b[r] = add_rn(old, mul_rn(alpha, total));
}

// BP1 or BP2's Hadamard half in one pass with BP3: one thread per (row r, group k) of kRowSumGroup
// columns writes delta for those columns and sums them left to right. With one group (m <=
// kRowSumGroup, the usual mini-batch) that thread finishes the bias too: one kernel for the
// layer. With more, it leaves its group sum in partials(r, k) for finish_bias_kernel. The
// order is math.hpp's, which the CPU follows: no atomics, no tree, so the result does not
// depend on the launch and is bitwise the CPU's, in float and in double (but for the double
// subnormals noted at mul_rn). Threads of a warp take neighbouring
// rows of one column: coalesced. For a wide layer at a large m there are rows x groups
// threads, e.g. 1024 x 32 at m = 1024, which fills the GPU where one thread per row did not.
template <class T, class DeltaOp>
__global__ void delta_bias_kernel(std::size_t n, T* __restrict__ delta, int ldd, int rows,
                                  int cols, DeltaOp op, T* __restrict__ b, T alpha, T b_beta,
                                  T* __restrict__ partials) {
    BP_GRID_STRIDE_LOOP(i, n) {
        const std::size_t k = i / std::size_t(rows), r = i - k * std::size_t(rows);
        const int c0 = int(k) * kRowSumGroup;
        const int c1 = min(cols, c0 + kRowSumGroup);
        T s = T(0);
        for (int c = c0; c < c1; ++c) {
            T& d = delta[r + std::size_t(c) * std::size_t(ldd)];
            d = op(r, std::size_t(c), d);
            s = add_rn(s, d);
        }
        if (partials) {
            partials[i] = s;  // i == r + k * rows: column k of a (rows x groups) matrix
        } else {
            update_bias(b, r, add_rn(T(0), s), alpha, b_beta);  // 0 + s, as the CPU's group total
        }
    }
}

// The group sums of delta_bias_kernel added left to right from 0, then the bias update.
template <class T>
__global__ void finish_bias_kernel(std::size_t rows, T* __restrict__ b,
                                   const T* __restrict__ partials, int groups, T alpha,
                                   T b_beta) {
    BP_GRID_STRIDE_LOOP(r, rows) {
        T total = T(0);
        for (int k = 0; k < groups; ++k) total = add_rn(total, partials[r + std::size_t(k) * rows]);
        update_bias(b, r, total, alpha, b_beta);
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

// A mini-batch, gathered and converted in one pass: for column c, e = order[*cursor + offset +
// c], x(:, c) = to_input(images(:, e)) (bytes: k / 255; float inputs: as they are) and y(:, c) =
// the one-hot column of labels[e] (zero when the label is outside [0, ny), as on the CPU). S is
// the image element type, so both pixel types share this body. The flat index runs over (nx +
// ny) x cols, column by column, so a warp reads consecutive pixels of one image (coalesced) and
// the targets come along. The position is read from device memory, so a recorded graph of
// steps replays at whatever place the cursor has reached.
template <class T, class S>
__global__ void gather_batch_kernel(std::size_t n, T* __restrict__ x, int ldx, int nx,
                                    T* __restrict__ y, int ldy, int ny,
                                    const S* __restrict__ images, int ldp,
                                    const int* __restrict__ labels, const int* __restrict__ order,
                                    const int* __restrict__ cursor, int offset) {
    const int first = *cursor + offset;
    const std::size_t height = std::size_t(nx) + std::size_t(ny);
    BP_GRID_STRIDE_LOOP(i, n) {
        const std::size_t c = i / height, r = i - c * height;
        const std::size_t e = std::size_t(order[std::size_t(first) + c]);
        if (r < std::size_t(nx)) {
            x[r + c * std::size_t(ldx)] = to_input<T>(images[r + e * std::size_t(ldp)]);
        } else {
            const std::size_t ry = r - std::size_t(nx);
            y[ry + c * std::size_t(ldy)] = int(ry) == labels[e] ? T(1) : T(0);
        }
    }
}

// *cursor += by, after the steps of a recorded sequence (one thread: a single int).
__global__ void advance_cursor_kernel(std::size_t n, int* __restrict__ cursor, int by) {
    BP_GRID_STRIDE_LOOP(i, n) *cursor += by;
}

// x = to_input(images) for the columns of an evaluation chunk; S as in gather_batch_kernel.
template <class T, class S>
__global__ void load_inputs_kernel(std::size_t n, T* __restrict__ x, int ldx,
                                   const S* __restrict__ images, int ldp, int rows) {
    BP_GRID_STRIDE_LOOP(i, n) {
        const std::size_t c = i / std::size_t(rows), r = i - c * std::size_t(rows);
        x[r + c * std::size_t(ldx)] = to_input<T>(images[r + c * std::size_t(ldp)]);
    }
}

}  // namespace

// ---- launchers (elementwise.cuh) ------------------------------------------------------------

template <class T>
void bias_sigmoid(cudaStream_t stream, MatrixView<T> a, ConstView<T> z, const T* b) {
    launch("bias_sigmoid_kernel", bias_sigmoid_kernel<T>, stream, a.size(), a.data, a.ld, z.data,
           z.ld, b, a.rows);
}

namespace {
// The one-pass delta + bias launch shared by BP1 and BP2 (see delta_bias_kernel).
template <class T, class DeltaOp>
void delta_bias(cudaStream_t stream, MatrixView<T> delta, DeltaOp op, T* b, T alpha, T b_beta,
                T* partials) {
    const int groups = row_sum_groups(delta.cols);
    const std::size_t rows = std::size_t(delta.rows);
    if (groups == 1) {
        launch("delta_bias_kernel", delta_bias_kernel<T, DeltaOp>, stream, rows, delta.data,
               delta.ld, delta.rows, delta.cols, op, b, alpha, b_beta, static_cast<T*>(nullptr));
        return;
    }
    BP_REQUIRE(partials, "delta_bias: " << groups << " groups need a partial-sum workspace");
    launch("delta_bias_kernel", delta_bias_kernel<T, DeltaOp>, stream, rows * std::size_t(groups),
           delta.data, delta.ld, delta.rows, delta.cols, op, b, alpha, b_beta, partials);
    launch("finish_bias_kernel", finish_bias_kernel<T>, stream, rows, b,
           static_cast<const T*>(partials), groups, alpha, b_beta);
}
}  // namespace

template <class T>
void output_delta_bias(cudaStream_t stream, MatrixView<T> delta, ConstView<T> a, ConstView<T> y,
                       Cost cost, T* b, T alpha, T b_beta, T* partials) {
    delta_bias(stream, delta, OutputDeltaOp<T>{a.data, a.ld, y.data, y.ld, cost}, b, alpha, b_beta,
               partials);
}

template <class T>
void hidden_delta_bias(cudaStream_t stream, MatrixView<T> delta, ConstView<T> a, T* b, T alpha,
                       T b_beta, T* partials) {
    delta_bias(stream, delta, HiddenDeltaOp<T>{a.data, a.ld}, b, alpha, b_beta, partials);
}

template <class T>
void sgd_step(cudaStream_t stream, T* params, const T* nabla, std::size_t n_params,
              std::size_t n_weights, T decay, T scale) {
    launch("sgd_step_kernel", sgd_step_kernel<T>, stream, n_params, params, nabla, n_weights,
           decay, scale);
}

template <class T, class S>
void gather_batch(cudaStream_t stream, MatrixView<T> x, MatrixView<T> y, ConstView<S> images,
                  const int* labels, const int* order, const int* cursor, int offset) {
    const std::size_t n = (std::size_t(x.rows) + std::size_t(y.rows)) * std::size_t(x.cols);
    launch("gather_batch_kernel", gather_batch_kernel<T, S>, stream, n, x.data, x.ld, x.rows, y.data,
           y.ld > 0 ? y.ld : 1, y.rows, images.data, images.ld, labels, order, cursor, offset);
}

void advance_cursor(cudaStream_t stream, int* cursor, int by) {
    launch("advance_cursor_kernel", advance_cursor_kernel, stream, 1, cursor, by);
}

template <class T, class S>
void load_inputs(cudaStream_t stream, MatrixView<T> x, ConstView<S> images) {
    launch("load_inputs_kernel", load_inputs_kernel<T, S>, stream, x.size(), x.data, x.ld,
           images.data, images.ld, x.rows);
}

#define BP_INSTANTIATE_ELEMENTWISE(T)                                                               \
    template void bias_sigmoid<T>(cudaStream_t, MatrixView<T>, ConstView<T>, const T*);             \
    template void output_delta_bias<T>(cudaStream_t, MatrixView<T>, ConstView<T>, ConstView<T>, Cost, \
                                       T*, T, T, T*);                                                \
    template void hidden_delta_bias<T>(cudaStream_t, MatrixView<T>, ConstView<T>, T*, T, T, T*);   \
    template void sgd_step<T>(cudaStream_t, T*, const T*, std::size_t, std::size_t, T, T);          \
    template void gather_batch<T, std::uint8_t>(cudaStream_t, MatrixView<T>, MatrixView<T>,            \
                                                ConstView<std::uint8_t>, const int*, const int*,       \
                                                const int*, int);                                      \
    template void gather_batch<T, float>(cudaStream_t, MatrixView<T>, MatrixView<T>, ConstView<float>, \
                                         const int*, const int*, const int*, int);                     \
    template void load_inputs<T, std::uint8_t>(cudaStream_t, MatrixView<T>, ConstView<std::uint8_t>);  \
    template void load_inputs<T, float>(cudaStream_t, MatrixView<T>, ConstView<float>);

BP_INSTANTIATE_ELEMENTWISE(float)
BP_INSTANTIATE_ELEMENTWISE(double)
#undef BP_INSTANTIATE_ELEMENTWISE

}  // namespace kernels
}  // namespace batchprop
