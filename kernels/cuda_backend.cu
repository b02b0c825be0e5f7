// The CUDA backend: device memory, cuBLAS for the products, the kernels of elementwise.cu and
// the Thrust reductions of reduce.cu for the rest; plus the GPU query (query_gpus) and the
// factory (make_cuda_backend) declared in cuda_backend.hpp. Mirrors src/cpu/cpu_backend.cpp
// function by function: CpuBackend::bias_sigmoid_impl <-> CudaBackend::bias_sigmoid_impl ->
// bias_sigmoid_kernel. Shapes were checked by Backend<T>'s public functions before any _impl.
//
// Everything runs on one stream per backend, in order: kernels and cuBLAS calls are queued and
// return at once; copies that involve host memory, the reductions that return a value to the
// host, and synchronize() wait. That single stream is also what makes cuBLAS bitwise
// reproducible from run to run (its guarantee holds for one active stream per handle).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "batchprop/backend.hpp"
#include "cuda_backend.hpp"
#include "cublas_loader.cuh"
#include "cuda_check.cuh"
#include "elementwise.cuh"
#include "fused/fused_device.hpp"
#include "fused_kernel.cuh"
#include "cluster_kernel.cuh"
#include "engine/runners/tensor_math.hpp"
#include "reduce.cuh"

namespace batchprop {
namespace {

// Two CUDA events on the backend's stream: elapsed time on the GPU's own timeline between
// the work queued before start() and the work queued before stop(). Gaps while the host
// launches kernels count (per-example mode really pays them); the host's wait after the last
// kernel does not.
class EventTimer final : public DeviceTimer {
public:
    EventTimer(int device, cudaStream_t stream) : device_(device), stream_(stream) {
        CUDA_CHECK(cudaSetDevice(device_));
        CUDA_CHECK(cudaEventCreate(&begin_));
        if (const cudaError_t e = cudaEventCreate(&end_); e != cudaSuccess) {
            CUDA_LOG_ON_ERROR(cudaEventDestroy(begin_));
            CUDA_CHECK(e);
        }
    }
    ~EventTimer() override {
        CUDA_LOG_ON_ERROR(cudaEventDestroy(begin_));
        CUDA_LOG_ON_ERROR(cudaEventDestroy(end_));
    }
    EventTimer(const EventTimer&) = delete;
    EventTimer& operator=(const EventTimer&) = delete;

    void start() override { CUDA_CHECK(cudaEventRecord(begin_, stream_)); }
    double stop_seconds() override {
        CUDA_CHECK(cudaEventRecord(end_, stream_));
        CUDA_CHECK(cudaEventSynchronize(end_));
        float ms = 0.0f;
        CUDA_CHECK(cudaEventElapsedTime(&ms, begin_, end_));
        return double(ms) / 1e3;
    }

private:
    int device_;
    cudaStream_t stream_;
    cudaEvent_t begin_ = nullptr, end_ = nullptr;
};

// An instantiated CUDA graph, replayed on the backend's stream.
class CudaGraph final : public Recording {
public:
    CudaGraph(int device, cudaStream_t stream, cudaGraphExec_t exec)
        : device_(device), stream_(stream), exec_(exec) {}
    ~CudaGraph() override {
        CUDA_LOG_ON_ERROR(cudaSetDevice(device_));
        CUDA_LOG_ON_ERROR(cudaGraphExecDestroy(exec_));
    }
    CudaGraph(const CudaGraph&) = delete;
    CudaGraph& operator=(const CudaGraph&) = delete;

    void replay() override {
        CUDA_CHECK(cudaSetDevice(device_));
        CUDA_CHECK(cudaGraphLaunch(exec_, stream_));
    }

private:
    int device_;
    cudaStream_t stream_;
    cudaGraphExec_t exec_;
};

cublasOperation_t to_cublas(Op op) { return op == Op::N ? CUBLAS_OP_N : CUBLAS_OP_T; }

// cuBLAS GEMM overloaded on the scalar type, so CudaBackend is written once for float and
// double. Column-major, exactly BLAS's argument list (see gemm_impl for the mapping).
cublasStatus_t cublas_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float* alpha, const float* a, int lda,
                           const float* b, int ldb, const float* beta, float* c, int ldc) {
    return cuda_detail::cublas_api().sgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
cublasStatus_t cublas_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const double* alpha, const double* a, int lda,
                           const double* b, int ldb, const double* beta, double* c, int ldc) {
    return cuda_detail::cublas_api().dgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// " (2.00 GiB free of 141.00 GiB)": added to out-of-memory errors; empty if even that fails.
std::string free_memory_note() {
    std::size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        return "";
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, " (%.2f GiB free of %.2f GiB)", double(free_b) / double(1ull << 30),
                  double(total_b) / double(1ull << 30));
    return buf;
}

const char* copy_kind_name(CopyKind kind) {
    switch (kind) {
        case CopyKind::host_to_device: return "host to device";
        case CopyKind::device_to_host: return "device to host";
        case CopyKind::device_to_device: return "device to device";
    }
    return "?";
}

// One line for a failed runtime query, e.g. "CUDA runtime: CUDA driver version is insufficient
// for CUDA runtime version (cudaErrorInsufficientDriver, 35)".
std::string runtime_reason(cudaError_t e) {
    std::ostringstream os;
    os << "CUDA runtime: " << cudaGetErrorString(e) << " (" << cudaGetErrorName(e) << ", "
       << int(e) << ")";
    return os.str();
}

// The primitives (Backend), the fused steps in one launch (FusedDevice) and the products'
// math (TensorMathDevice: TF32 on request).
template <class T>
class CudaBackend final : public Backend<T>, public FusedDevice<T>, public TensorMathDevice {
    using View = MatrixView<T>;
    using CView = ConstView<T>;

public:
    explicit CudaBackend(int device) : device_(device) {
        CUDA_CHECK(cudaSetDevice(device_));
        cudaDeviceProp prop{};
        CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
        name_ = "cuda:" + std::to_string(device_) + " (" + prop.name + ")";
        fused_shared_limit_ = kernels::prepare_fused_kernel(device_);
        kernels::prepare_cluster_kernel(device_, fused_shared_limit_);
        try {
            // Non-blocking: our stream never waits on work other code puts on the legacy
            // default stream, nor that code on ours.
            CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
            CUBLAS_CHECK(cuda_detail::cublas_api().create(&blas_));
            CUBLAS_CHECK(cuda_detail::cublas_api().set_stream(blas_, stream_));
            // alpha and beta are host scalars, passed by address per call.
            CUBLAS_CHECK(cuda_detail::cublas_api().set_pointer_mode(blas_, CUBLAS_POINTER_MODE_HOST));
            // Said explicitly: the default math mode, no TF32 tensor cores for SGEMM. TF32
            // keeps 10 mantissa bits, which would break agreement with the CPU's float
            // results at the tolerances the tests hold us to (and the book's numbers).
            CUBLAS_CHECK(cuda_detail::cublas_api().set_math_mode(blas_, CUBLAS_DEFAULT_MATH));
            // A workspace of our own, set after cublasSetStream (which resets it): cuBLAS then
            // never allocates inside a graph capture, and eager and recorded products see the
            // same workspace, hence choose the same kernels (bitwise equal results).
            CUDA_CHECK_CTX(cudaMalloc(&workspace_, kCublasWorkspace),
                           "while allocating the cuBLAS workspace" << free_memory_note());
            CUBLAS_CHECK(cuda_detail::cublas_api().set_workspace(blas_, workspace_, kCublasWorkspace));
        } catch (...) {
            release();
            throw;
        }
    }

    ~CudaBackend() override { release(); }

    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    std::string name() const override { return name_; }
    DeviceKind kind() const override { return DeviceKind::cuda; }
    // For NCCL (src/distributed/nccl_comm.cu): its all-reduce is queued on this stream, in order with
    // the backward pass before it and the update after it.
    void* native_stream() override { return stream_; }

    // ---- Memory -------------------------------------------------------------------------

    void* allocate(std::size_t bytes) override {
        if (bytes == 0) return nullptr;
        activate();
        void* p = nullptr;
        CUDA_CHECK_CTX(cudaMalloc(&p, bytes), "while allocating " << cuda_detail::describe_bytes(bytes)
                                                                  << " on " << name_
                                                                  << free_memory_note());
        return p;
    }

    void deallocate(void* p) noexcept override {
        if (!p) return;
        // cudaFree waits for queued work that may still use p, so freeing a Buffer whose
        // kernels are in flight is safe. Errors are logged: this runs in destructors.
        CUDA_LOG_ON_ERROR(cudaSetDevice(device_));
        CUDA_LOG_ON_ERROR(cudaFree(p));
    }

    void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind) override {
        if (bytes == 0) return;
        activate();
        const cudaMemcpyKind k = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                                 : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                                    : cudaMemcpyDeviceToDevice;
        // Queued behind the kernels that produce or consume the data, on the same stream.
        CUDA_CHECK_CTX(cudaMemcpyAsync(dst, src, bytes, k, stream_),
                       "copying " << cuda_detail::describe_bytes(bytes) << ' '
                                  << copy_kind_name(kind));
        // A host buffer must be safe to read (download) or to reuse and free (upload) once
        // copy() returns: the callers hand us plain std::vector memory. Device-to-device
        // copies stay asynchronous, ordered by the stream like everything else.
        if (kind != CopyKind::device_to_device) CUDA_CHECK(cudaStreamSynchronize(stream_));
    }

    void synchronize() override {
        activate();
        CUDA_CHECK(cudaStreamSynchronize(stream_));
    }

    std::unique_ptr<DeviceTimer> make_timer() override {
        return std::make_unique<EventTimer>(device_, stream_);
    }

    bool can_record() const override { return true; }

    // Stream capture: the kernels and cuBLAS calls body() queues on our stream are recorded
    // into a CUDA graph instead of running, then instantiated once; replay() launches the
    // whole graph with one call. ThreadLocal mode: only this thread's unsafe calls are
    // refused, so other threads' CUDA work is not disturbed. Any failure, in body() or in
    // capture or instantiation, ends the capture cleanly and throws RecordingFailed, so the
    // caller can run body() directly instead.
    std::unique_ptr<Recording> record(const std::function<void()>& body) override {
        activate();
        if (const cudaError_t e = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
            e != cudaSuccess) {
            (void)cudaGetLastError();
            throw RecordingFailed("cudaStreamBeginCapture: " + runtime_reason(e));
        }
        std::string failure;
        try {
            body();
        } catch (const std::exception& ex) {
            failure = ex.what();
        }
        cudaGraph_t graph = nullptr;
        const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
        if (failure.empty() && end != cudaSuccess) failure = "cudaStreamEndCapture: " + runtime_reason(end);
        cudaGraphExec_t exec = nullptr;
        if (failure.empty()) {
            if (const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0); e != cudaSuccess)
                failure = "cudaGraphInstantiate: " + runtime_reason(e);
        }
        if (graph) CUDA_LOG_ON_ERROR(cudaGraphDestroy(graph));
        if (!failure.empty()) {
            if (exec) CUDA_LOG_ON_ERROR(cudaGraphExecDestroy(exec));
            (void)cudaGetLastError();  // a failed capture leaves a sticky-free error record
            throw RecordingFailed(failure);
        }
        return std::make_unique<CudaGraph>(device_, stream_, exec);
    }

protected:
    // ---- primitives -----------------------------------------------------------------------

    // C (M x N) = alpha op(A) op(B) + beta C, column-major, K the shared dimension. The views
    // map one to one onto cuBLAS's arguments: m = c.rows, n = c.cols, k = columns of op(A);
    // A, B, C are the views' data with lda/ldb/ldc their leading dimensions (ld > rows for
    // sub-views, so no copy is ever made); Op::T becomes CUBLAS_OP_T, i.e. a transpose is a
    // flag, never a transposed copy. Per-example mode arrives with N == 1 or K == 1; cuBLAS
    // picks its own kernels for such shapes, so unlike the CPU there is no GEMV/GER dispatch.
    void gemm_impl(View c, Op op_a, CView a, Op op_b, CView b, T alpha, T beta) override {
        activate();
        const int k = op_a == Op::N ? a.cols : a.rows;
        // cuBLAS wants ld >= max(1, rows); a view of 0 rows may carry ld 0.
        const int lda = a.ld > 0 ? a.ld : 1, ldb = b.ld > 0 ? b.ld : 1;
        CUBLAS_CHECK_CTX(cublas_gemm(blas_, to_cublas(op_a), to_cublas(op_b), c.rows, c.cols, k,
                                     &alpha, a.data, lda, b.data, ldb, &beta, c.data, c.ld),
                         "for C (" << c.rows << "x" << c.cols << ", ld " << c.ld << ") with k = " << k);
    }

    void bias_sigmoid_impl(View a, CView z, const T* b) override {
        activate();
        kernels::bias_sigmoid(stream_, a, z, b);
    }

    void output_delta_bias_impl(View delta, CView a, CView y, Cost cost, T* b, T alpha,
                                T b_beta) override {
        activate();
        kernels::output_delta_bias(stream_, delta, a, y, cost, b, alpha, b_beta, partials_for(delta));
    }

    void hidden_delta_bias_impl(View delta, CView a, T* b, T alpha, T b_beta) override {
        activate();
        kernels::hidden_delta_bias(stream_, delta, a, b, alpha, b_beta, partials_for(delta));
    }

    void sgd_step_impl(T* params, const T* nabla, std::size_t n_params, std::size_t n_weights,
                       T decay, T scale) override {
        activate();
        kernels::sgd_step(stream_, params, nabla, n_params, n_weights, decay, scale);
    }

    void gather_batch_impl(View x, View y, ConstView<std::uint8_t> pixels, const int* labels,
                           const int* order, const int* cursor, int offset) override {
        activate();
        kernels::gather_batch(stream_, x, y, pixels, labels, order, cursor, offset);
    }
    void gather_batch_impl(View x, View y, ConstView<float> inputs, const int* labels, const int* order,
                           const int* cursor, int offset) override {
        activate();
        kernels::gather_batch(stream_, x, y, inputs, labels, order, cursor, offset);
    }

    void advance_cursor_impl(int* cursor, int by) override {
        activate();
        kernels::advance_cursor(stream_, cursor, by);
    }

    void load_inputs_impl(View x, ConstView<std::uint8_t> pixels) override {
        activate();
        kernels::load_inputs(stream_, x, pixels);
    }
    void load_inputs_impl(View x, ConstView<float> inputs) override {
        activate();
        kernels::load_inputs(stream_, x, inputs);
    }

    EvalSums evaluate_impl(CView a, const int* labels, Cost cost) override {
        activate();
        return kernels::evaluate(stream_, scratch_, a, labels, cost);
    }

    double sum_squares_impl(const T* x, std::size_t n) override {
        activate();
        return kernels::sum_squares(stream_, scratch_, x, n);
    }

    void permutation_impl(int* idx, int n, std::uint64_t seed, std::uint64_t epoch) override {
        activate();
        kernels::permutation(stream_, scratch_, idx, n, seed, epoch);
    }

    // ---- the fused step (FusedDevice) ---------------------------------------------------

public:
    std::size_t fused_shared_limit() const override { return fused_shared_limit_; }

protected:
    void fused_train_steps_impl(const FusedShape& shape, const fused::Args<T, std::uint8_t>& args) override {
        activate();
        kernels::fused_train_steps(stream_, shape, args);
    }
    void fused_train_steps_impl(const FusedShape& shape, const fused::Args<T, float>& args) override {
        activate();
        kernels::fused_train_steps(stream_, shape, args);
    }

    void fused_synchronize() override { synchronize(); }
    int fused_parallel_blocks() override {
        activate();
        int sms = 0;
        CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device_));
        return sms;
    }
    void fused_train_models_impl(const fused::ModelLaunch<T, std::uint8_t>* models, int count,
                                 std::size_t shared_bytes) override {
        launch_models(models, count, shared_bytes);
    }
    void fused_train_models_impl(const fused::ModelLaunch<T, float>* models, int count,
                                 std::size_t shared_bytes) override {
        launch_models(models, count, shared_bytes);
    }

public:
    int cluster_max_size(std::size_t shared_bytes, std::string* why) override {
        activate();
        return kernels::cluster_max_size<T>(device_, shared_bytes, why);
    }
    // TrainConfig::math: cuBLAS's products with TF32 tensor cores (inputs rounded to 10 mantissa
    // bits, sums in float) or in IEEE float, the default. Set by the trainer for every run;
    // graphs recorded afterwards capture the products as set.
    void set_tf32(bool on) override {
        activate();
        CUBLAS_CHECK(cuda_detail::cublas_api().set_math_mode(blas_, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    }

protected:
    void cluster_train_steps_impl(const ClusterShape& shape, const fused::Args<T, std::uint8_t>& args) override {
        activate();
        kernels::cluster_train_steps(stream_, shape, args);
    }
    void cluster_train_steps_impl(const ClusterShape& shape, const fused::Args<T, float>& args) override {
        activate();
        kernels::cluster_train_steps(stream_, shape, args);
    }

private:

    // Makes our GPU current for this thread. A no-op when it already is (the usual case: one
    // GPU); needed when backends of several GPUs are used from one thread.
    void activate() {
        int current = -1;
        CUDA_CHECK(cudaGetDevice(&current));
        if (current != device_) CUDA_CHECK(cudaSetDevice(device_));
    }

    // The partial-sum workspace of the delta kernels for a (rows x m) delta: null when
    // m fits one group (no workspace needed), else (rows x groups) values, grown on first need
    // and kept. It grows only outside a capture: the first, eager run of a step sizes it, and
    // a recording of the same step never needs more (checked: growing inside a capture would
    // be an allocation there).
    T* partials_for(CView delta) {
        const int groups = row_sum_groups(delta.cols);
        if (groups <= 1) return nullptr;
        const std::size_t need = std::size_t(delta.rows) * std::size_t(groups);
        if (need > partials_size_) {
            cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
            CUDA_CHECK(cudaStreamIsCapturing(stream_, &status));
            if (status != cudaStreamCaptureStatusNone)
                throw RecordingFailed("the row-sum workspace would have to grow during a capture");
            if (partials_) CUDA_CHECK(cudaFree(partials_));  // waits for queued users
            partials_ = nullptr;
            partials_size_ = 0;
            CUDA_CHECK_CTX(cudaMalloc(&partials_, need * sizeof(T)),
                           "while allocating " << cuda_detail::describe_bytes(need * sizeof(T))
                                               << " of row-sum workspace" << free_memory_note());
            partials_size_ = need;
        }
        return partials_;
    }

    // A shared launch (FusedDevice::fused_train_models): the models' plans and arguments copied
    // to a device array of ours (grown on first need and kept), one launch, and the wait for it:
    // the other models' next work is queued on their own streams, after this returns.
    template <class S>
    void launch_models(const fused::ModelLaunch<T, S>* models, int count, std::size_t shared_bytes) {
        activate();
        const std::size_t bytes = std::size_t(count) * sizeof(fused::ModelLaunch<T, S>);
        if (bytes > model_table_bytes_) {
            if (model_table_) CUDA_CHECK(cudaFree(model_table_));  // waits for queued users
            model_table_ = nullptr;
            model_table_bytes_ = 0;
            CUDA_CHECK_CTX(cudaMalloc(&model_table_, bytes), "while allocating the table of a shared launch"
                                                                 << free_memory_note());
            model_table_bytes_ = bytes;
        }
        CUDA_CHECK(cudaMemcpyAsync(model_table_, models, bytes, cudaMemcpyHostToDevice, stream_));
        kernels::fused_train_models(stream_, static_cast<const fused::ModelLaunch<T, S>*>(model_table_), count,
                                    shared_bytes);
        // Also keeps `models` (pageable host memory) alive until the copy has read it.
        CUDA_CHECK(cudaStreamSynchronize(stream_));
    }

    // Frees what the constructor made; never throws (destructor, failed constructor).
    void release() noexcept {
        CUDA_LOG_ON_ERROR(cudaSetDevice(device_));
        if (stream_) CUDA_LOG_ON_ERROR(cudaStreamSynchronize(stream_));
        if (blas_) {
            const cublasStatus_t s = cuda_detail::cublas_api().destroy(blas_);
            if (s != CUBLAS_STATUS_SUCCESS)
                std::fprintf(stderr, "batchprop: cublasDestroy failed: %s\n",
                             cuda_detail::cublas_status_string(s).c_str());
            blas_ = nullptr;
        }
        if (stream_) {
            CUDA_LOG_ON_ERROR(cudaStreamDestroy(stream_));
            stream_ = nullptr;
        }
        if (workspace_) {
            CUDA_LOG_ON_ERROR(cudaFree(workspace_));
            workspace_ = nullptr;
        }
        if (partials_) {
            CUDA_LOG_ON_ERROR(cudaFree(partials_));
            partials_ = nullptr;
        }
        if (model_table_) {
            CUDA_LOG_ON_ERROR(cudaFree(model_table_));
            model_table_ = nullptr;
        }
    }

    int device_;
    std::string name_;              // "cuda:0 (NVIDIA H200)"
    std::size_t fused_shared_limit_ = 0;  // bytes of shared memory the fused kernel was opted in to
    cudaStream_t stream_ = nullptr;  // every kernel, copy, cuBLAS and Thrust call goes here
    cublasHandle_t blas_ = nullptr;
    static constexpr std::size_t kCublasWorkspace = std::size_t(32) << 20;  // NVIDIA's advice for Hopper
    void* workspace_ = nullptr;     // cuBLAS's workspace (kCublasWorkspace bytes)
    T* partials_ = nullptr;         // the delta kernels' group sums (partials_for)
    std::size_t partials_size_ = 0;
    void* model_table_ = nullptr;  // a shared launch's models (launch_models), device memory
    std::size_t model_table_bytes_ = 0;
    // Thrust temporaries and the permutation's keys: (n) uint64 for the training set, the
    // reductions' partial sums. Allocated on first use, reused ever after.
    kernels::ScratchAllocator scratch_;
};

}  // namespace

GpuStatus query_gpus() {
    GpuStatus s;
    s.compiled = true;
    try {
        int count = 0;
        const cudaError_t e = cudaGetDeviceCount(&count);
        if (e != cudaSuccess) {
            // 35 (driver older than the runtime, or none), 100 (no device), 999 (unknown), ...:
            // all mean "no GPU here", a normal state. Clear the runtime's last-error record.
            (void)cudaGetLastError();
            s.reason = runtime_reason(e);
            return s;
        }
        if (count == 0) {
            s.reason = "no CUDA device";
            return s;
        }
        for (int i = 0; i < count; ++i) {
            cudaDeviceProp prop{};
            const cudaError_t pe = cudaGetDeviceProperties(&prop, i);
            if (pe != cudaSuccess) {
                (void)cudaGetLastError();
                s.names.clear();
                s.reason = "device " + std::to_string(i) + ": " + runtime_reason(pe);
                return s;
            }
            s.names.emplace_back(prop.name);
        }
        s.count = count;
        s.usable = true;
    } catch (const std::exception& ex) {  // std::string allocation; never escape
        s = GpuStatus{};
        s.compiled = true;
        s.reason = std::string("querying the CUDA runtime failed: ") + ex.what();
    }
    return s;
}

template <class T>
std::unique_ptr<Backend<T>> make_cuda_backend(int device) {
    const GpuStatus& gpu = gpu_status();
    if (!gpu.usable) BP_THROW("no usable GPU: " << gpu.reason);
    if (device < 0 || device >= gpu.count)
        BP_THROW("cuda:" << device << ": no such GPU (" << gpu.count << " present)");
    int major = 0, minor = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    // Built for sm_90 machine code plus compute_75 PTX (CMakeLists.txt): older GPUs have no
    // kernel image, and would fail at the first launch with a less helpful message.
    if (major * 10 + minor < 75)
        BP_THROW("cuda:" << device << " (" << gpu.names[std::size_t(device)]
                         << ") has compute capability " << major << "." << minor
                         << "; this build needs 7.5 or newer");
    return std::make_unique<CudaBackend<T>>(device);
}

template std::unique_ptr<Backend<float>> make_cuda_backend<float>(int);
template std::unique_ptr<Backend<double>> make_cuda_backend<double>(int);

}  // namespace batchprop
