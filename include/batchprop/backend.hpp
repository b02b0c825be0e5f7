/// @file
/// The backend interface: device memory (allocation, copies, timers, recording) and the
/// primitives the backprop algorithm is written in: gemm, bias+sigmoid, the two delta+bias
/// passes, the SGD step, the batch gather, the evaluation sums and the shuffle. The algorithm
/// (src/engine/backprop.cpp) and the trainer call only these; CpuBackend and CudaBackend
/// implement them with mirrored names. Shapes are checked here, once, before the _impl call.
/// (A device that also runs the one-kernel fused step offers it separately: src/fused/fused_device.hpp.)
#pragma once

#include "batchprop/export.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batchprop/check.hpp"
#include "batchprop/math.hpp"
#include "batchprop/matrix.hpp"
#include "batchprop/settings.hpp"

namespace batchprop {

enum class DeviceKind { cpu, cuda };
enum class CopyKind { host_to_device, device_to_host, device_to_device };

/// Measures how long a device takes for the work queued between start() and stop(). The
/// default (the CPU's) is the wall clock around synchronize(); the GPU's records CUDA events on
/// its stream, so the figure is the GPU's own timeline, without the host's final wait.
class BATCHPROP_API DeviceTimer {
public:
    virtual ~DeviceTimer() = default;
    virtual void start() = 0;
    virtual double stop_seconds() = 0;  ///< waits for the work queued since start()
};

/// Device work recorded once and replayed (Memory::record).
class BATCHPROP_API Recording {
public:
    virtual ~Recording() = default;
    virtual void replay() = 0;  ///< queues the recorded work again, in the same order
};

/// Recording was possible in principle but failed (capture or instantiation refused).
class BATCHPROP_API RecordingFailed : public Error {
public:
    using Error::Error;
};

/// Raw memory on one device. Untyped so that one Buffer template serves T and int alike.
class BATCHPROP_API Memory {
public:
    virtual ~Memory() = default;
    virtual DeviceKind kind() const = 0;
    virtual void* allocate(std::size_t bytes) = 0;
    virtual void deallocate(void* p) noexcept = 0;
    virtual void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind) = 0;
    /// Waits until queued work is done (GPU); a no-op on the CPU. Timers call it.
    virtual void synchronize() {}
    virtual std::unique_ptr<DeviceTimer> make_timer();

    /// Records the device work that body() queues, without running it, as a Recording to
    /// replay later (CUDA: a stream capture instantiated as a CUDA graph, so a replay costs one
    /// launch instead of one per kernel). Returns null where there is nothing to record: the
    /// CPU runs each call at once. Throws RecordingFailed when the device could record but this
    /// recording failed (the caller then runs body() directly instead). body() must not
    /// allocate, copy to or from the host, or synchronize.
    virtual std::unique_ptr<Recording> record(const std::function<void()>& body);
    /// Whether record() can return anything at all on this device.
    virtual bool can_record() const { return false; }

    /// The device's queue of work as the vendor API knows it (CUDA: the backend's
    /// cudaStream_t), for a communicator that queues collectives behind the backend's own work
    /// (NCCL, distributed.hpp). Null on the CPU, which has none.
    virtual void* native_stream() { return nullptr; }

    /// Whether this device's pointers are host pointers (the CPU): host data, a Dataset's images
    /// say, can then be used in place instead of copied.
    bool is_host_memory() const { return kind() == DeviceKind::cpu; }
};

/// An owning array of n elements on a Memory's device. Move-only.
template <class E>
class Buffer {
public:
    Buffer() = default;
    Buffer(Memory& mem, std::size_t n)
        : mem_(&mem), n_(n), ptr_(n ? static_cast<E*>(mem.allocate(n * sizeof(E))) : nullptr) {}
    Buffer(Buffer&& o) noexcept { swap(o); }
    Buffer& operator=(Buffer&& o) noexcept {
        Buffer(std::move(o)).swap(*this);
        return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() {
        if (ptr_) mem_->deallocate(ptr_);
    }

    E* data() { return ptr_; }
    const E* data() const { return ptr_; }
    std::size_t size() const { return n_; }

    void upload(const E* host, std::size_t n, std::size_t offset = 0) {
        BP_REQUIRE(offset + n <= n_, "upload of " << n << " elements at " << offset
                                                  << " past a buffer of " << n_);
        if (n) mem_->copy(ptr_ + offset, host, n * sizeof(E), CopyKind::host_to_device);
    }
    void upload(const std::vector<E>& host) { upload(host.data(), host.size()); }
    void download(E* host, std::size_t n, std::size_t offset = 0) const {
        BP_REQUIRE(offset + n <= n_, "download of " << n << " elements at " << offset
                                                    << " past a buffer of " << n_);
        if (n) mem_->copy(host, ptr_ + offset, n * sizeof(E), CopyKind::device_to_host);
    }
    std::vector<E> to_host() const {
        std::vector<E> h(n_);
        download(h.data(), n_);
        return h;
    }

private:
    void swap(Buffer& o) noexcept {
        std::swap(mem_, o.mem_);
        std::swap(n_, o.n_);
        std::swap(ptr_, o.ptr_);
    }
    Memory* mem_ = nullptr;
    std::size_t n_ = 0;
    E* ptr_ = nullptr;
};

/// Sums that evaluation needs from the output activations of a set of examples.
struct EvalSums {
    long long correct = 0;  ///< columns whose argmax equals the label
    double cost = 0.0;      ///< sum over columns of C_x (no regularisation term)
};

/// The primitives, for one scalar type T (float or double). Public functions check shapes and
/// forward to the virtual _impl, so every backend gets the same checks for free.
/// Pointers (and view data) are device pointers of this backend. Outputs first, then inputs.
template <class T>
class BATCHPROP_API Backend : public Memory {
public:
    using View = MatrixView<T>;
    using CView = ConstView<T>;

    virtual std::string name() const = 0;

    /// C = alpha * op(A) * op(B) + beta * C, column-major, as BLAS defines it.
    /// op(A) is (C.rows x k) and op(B) is (k x C.cols). With beta = 0, C's old contents are
    /// never read (BLAS guarantees this), so C may hold garbage or NaN.
    void gemm(View c, Op op_a, CView a, Op op_b, CView b, T alpha, T beta) {
        const int a_rows = op_a == Op::N ? a.rows : a.cols, a_cols = op_a == Op::N ? a.cols : a.rows;
        const int b_rows = op_b == Op::N ? b.rows : b.cols, b_cols = op_b == Op::N ? b.cols : b.rows;
        BP_REQUIRE(a_rows == c.rows && b_cols == c.cols && a_cols == b_rows,
                   "gemm shapes: C (" << c.rows << "x" << c.cols << ") = op(A) (" << a_rows << "x"
                                      << a_cols << ") * op(B) (" << b_rows << "x" << b_cols << ")");
        if (c.size() == 0) return;
        gemm_impl(c, op_a, a, op_b, b, alpha, beta);
    }

    /// Forward activation, fused: a = sigma(z + b 1^T). b is (a.rows). a and z may alias (the
    /// forward pass computes z = w a_prev into a's buffer, then applies this in place).
    void bias_sigmoid(View a, CView z, const T* b) {
        same_shape(a, z, "bias_sigmoid");
        if (a.size()) bias_sigmoid_impl(a, z, b);
    }

    /// BP1 and BP3 of the output layer, fused into one pass over delta:
    ///   delta = output_delta(cost, a, y) elementwise (see math.hpp), and
    ///   b = b_beta * b + alpha * (sum over the columns of delta)
    /// with the sum taken in the fixed order of math.hpp's kRowSumGroup. b is (delta.rows).
    /// With b_beta == 0 the old b is never read. Uses: the bias gradient (alpha 1, b_beta 0, or
    /// 1 to accumulate) and the folded SGD step's b -= (eta/m) sum delta (alpha -eta/m, b_beta 1).
    void output_delta_bias(View delta, CView a, CView y, Cost cost, T* b, T alpha, T b_beta) {
        same_shape(delta, a, "output_delta_bias");
        same_shape(delta, y, "output_delta_bias");
        if (delta.size()) output_delta_bias_impl(delta, a, y, cost, b, alpha, b_beta);
    }

    /// BP2's Hadamard half and BP3 of a hidden layer, fused: delta (already w^T delta' from a
    /// gemm) = delta (.) sigma'(z) in place, with sigma' = a (1 - a), and b as in
    /// output_delta_bias.
    void hidden_delta_bias(View delta, CView a, T* b, T alpha, T b_beta) {
        same_shape(delta, a, "hidden_delta_bias");
        if (delta.size()) hidden_delta_bias_impl(delta, a, b, alpha, b_beta);
    }

    /// SGD with L2 weight decay over the flat parameter buffer (weights first, then biases):
    ///   params[i] = (i < n_weights ? decay : 1) * params[i] - scale * nabla[i]
    /// with decay = 1 - eta*lambda/n and scale = eta/m.
    void sgd_step(T* params, const T* nabla, std::size_t n_params, std::size_t n_weights,
                  T decay, T scale) {
        BP_REQUIRE(n_weights <= n_params, "sgd_step: " << n_weights << " weights > " << n_params
                                                       << " parameters");
        if (n_params) sgd_step_impl(params, nabla, n_params, n_weights, decay, scale);
    }

    /// A mini-batch from a data set on the device, in one pass: for j < x.cols, with
    /// e = order[*cursor + offset + j],
    ///   x(:, j) = to_input(images(:, e))   (bytes: k / 255 in T; float inputs: as they are)
    ///   y(:, j) = the one-hot column of labels[e]
    /// The position comes from device memory (*cursor), so a recorded sequence of steps can be
    /// replayed at any place in the epoch; offset is the step's place within the sequence.
    /// images: (n_0 x n), bytes or float inputs.
    void gather_batch(View x, View y, ConstView<std::uint8_t> pixels, const int* labels, const int* order,
                      const int* cursor, int offset) {
        checked_gather(x, y, pixels, labels, order, cursor, offset);
    }
    void gather_batch(View x, View y, ConstView<float> inputs, const int* labels, const int* order,
                      const int* cursor, int offset) {
        checked_gather(x, y, inputs, labels, order, cursor, offset);
    }

    /// *cursor += by: moves the batch position of gather_batch on by a sequence's examples.
    void advance_cursor(int* cursor, int by) { advance_cursor_impl(cursor, by); }

    /// x = to_input(images) for the x.cols columns of an evaluation chunk (no shuffle, no
    /// targets). images: bytes or float inputs, as for gather_batch.
    void load_inputs(View x, ConstView<std::uint8_t> pixels) { checked_load(x, pixels); }
    void load_inputs(View x, ConstView<float> inputs) { checked_load(x, inputs); }

    /// Argmax-correct count and summed cost of the columns of a (outputs), labels[j] being
    /// column j's class. Ties in argmax go to the lowest index, as numpy's argmax does.
    EvalSums evaluate(CView a, const int* labels, Cost cost) {
        return a.size() ? evaluate_impl(a, labels, cost) : EvalSums{};
    }

    /// sum of x[i]^2 in double (the L2 term of the regularised cost).
    double sum_squares(const T* x, std::size_t n) { return n ? sum_squares_impl(x, n) : 0.0; }

    /// idx = the permutation of 0..n-1 that sorts shuffle_key(seed, epoch, i) (math.hpp), ties
    /// by i. Identical on every backend for the same (seed, epoch).
    void permutation(int* idx, int n, std::uint64_t seed, std::uint64_t epoch) {
        if (n > 0) permutation_impl(idx, n, seed, epoch);
    }

protected:
    virtual void gemm_impl(View c, Op op_a, CView a, Op op_b, CView b, T alpha, T beta) = 0;
    virtual void bias_sigmoid_impl(View a, CView z, const T* b) = 0;
    virtual void output_delta_bias_impl(View delta, CView a, CView y, Cost cost, T* b, T alpha,
                                        T b_beta) = 0;
    virtual void hidden_delta_bias_impl(View delta, CView a, T* b, T alpha, T b_beta) = 0;
    virtual void sgd_step_impl(T* params, const T* nabla, std::size_t n_params,
                               std::size_t n_weights, T decay, T scale) = 0;
    /// One overload per image element type (bytes, float inputs).
    virtual void gather_batch_impl(View x, View y, ConstView<std::uint8_t> pixels,
                                   const int* labels, const int* order, const int* cursor,
                                   int offset) = 0;
    virtual void gather_batch_impl(View x, View y, ConstView<float> inputs, const int* labels,
                                   const int* order, const int* cursor, int offset) = 0;
    virtual void advance_cursor_impl(int* cursor, int by) = 0;
    virtual void load_inputs_impl(View x, ConstView<std::uint8_t> pixels) = 0;
    virtual void load_inputs_impl(View x, ConstView<float> inputs) = 0;
    virtual EvalSums evaluate_impl(CView a, const int* labels, Cost cost) = 0;
    virtual double sum_squares_impl(const T* x, std::size_t n) = 0;
    virtual void permutation_impl(int* idx, int n, std::uint64_t seed, std::uint64_t epoch) = 0;

private:
    /// gather_batch and load_inputs for either image element type S: the checks, then the _impl.
    template <class S>
    void checked_gather(View x, View y, ConstView<S> images, const int* labels, const int* order, const int* cursor,
                        int offset) {
        BP_REQUIRE(x.rows == images.rows && x.cols == y.cols,
                   "gather_batch: x (" << x.rows << "x" << x.cols << ") from " << images.rows
                                       << "-pixel images, y (" << y.rows << "x" << y.cols << ")");
        if (x.size()) gather_batch_impl(x, y, images, labels, order, cursor, offset);
    }
    template <class S>
    void checked_load(View x, ConstView<S> images) {
        BP_REQUIRE(x.rows == images.rows && x.cols == images.cols,
                   "load_inputs: x (" << x.rows << "x" << x.cols << ") from images (" << images.rows
                                      << "x" << images.cols << ")");
        if (x.size()) load_inputs_impl(x, images);
    }

    template <class A, class B>
    static void same_shape(const A& x, const B& y, const char* what) {
        BP_REQUIRE(x.rows == y.rows && x.cols == y.cols,
                   what << ": shapes (" << x.rows << "x" << x.cols << ") and (" << y.rows << "x"
                        << y.cols << ") differ");
    }
};

// ---- choosing a device ---------------------------------------------------------------------

/// What the CUDA runtime says about GPUs. usable == false is a normal state (no driver, no
/// device, built without CUDA); reason then says why in one line.
struct GpuStatus {
    bool compiled = false;  ///< built with CUDA support
    bool usable = false;
    int count = 0;
    std::vector<std::string> names;  ///< one per device
    std::string reason;              ///< why not usable
};
BATCHPROP_API const GpuStatus& gpu_status();  ///< queried once, then cached

/// The GPU a spec names on a machine with gpu_count GPUs: its index N when it names one
/// (cuda:N), else local_rank mod gpu_count (one GPU per rank of a data-parallel run), else 0.
BATCHPROP_API int gpu_index(const DeviceSpec& spec, int gpu_count);

/// Makes the backend for spec (settings.hpp). automatic falls back to the CPU when no GPU is usable and
/// stores the one-line reason in *notice (when given); cuda without a usable GPU throws.
template <class T>
BATCHPROP_API std::unique_ptr<Backend<T>> make_backend(const DeviceSpec& spec, std::string* notice = nullptr);

template <class T>
BATCHPROP_API std::unique_ptr<Backend<T>> make_cpu_backend();

}  // namespace batchprop
