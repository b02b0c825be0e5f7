// Checks for CUDA runtime and cuBLAS calls: every failure becomes a batchprop::Error naming the
// call, the library's own words for the status, optional context, and file:line. Included by
// the .cu files only; nothing outside kernels/ sees CUDA types.
//
//   CUDA_CHECK(cudaStreamSynchronize(stream_));
//   CUDA_CHECK_CTX(cudaMalloc(&p, bytes), "while allocating " << describe_bytes(bytes));
//   CUBLAS_CHECK(cublasSgemm(...));
//   kernel<<<grid, block, 0, stream>>>(...); CUDA_CHECK_LAUNCH("bias_sigmoid_kernel");
//
// give e.g.  "cudaMalloc(&p, bytes) failed: out of memory (cudaErrorMemoryAllocation) while
//             allocating 1610612736 bytes (1.50 GiB) (kernels/cuda_backend.cu:42)"
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>

#include "batchprop/check.hpp"

namespace batchprop {
namespace cuda_detail {

// cuBLAS's status as text: the enumerator's name and what it means. Written out rather than
// taken from cublasGetStatusString so the message is the same on every toolkit version.
inline std::string cublas_status_string(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_SUCCESS: return "success (CUBLAS_STATUS_SUCCESS)";
        case CUBLAS_STATUS_NOT_INITIALIZED:
            return "cuBLAS not initialized: no usable GPU or driver (CUBLAS_STATUS_NOT_INITIALIZED)";
        case CUBLAS_STATUS_ALLOC_FAILED:
            return "cuBLAS could not allocate GPU memory (CUBLAS_STATUS_ALLOC_FAILED)";
        case CUBLAS_STATUS_INVALID_VALUE:
            return "an argument is out of range (CUBLAS_STATUS_INVALID_VALUE)";
        case CUBLAS_STATUS_ARCH_MISMATCH:
            return "the GPU lacks a feature this call needs (CUBLAS_STATUS_ARCH_MISMATCH)";
        case CUBLAS_STATUS_MAPPING_ERROR:
            return "GPU memory could not be accessed (CUBLAS_STATUS_MAPPING_ERROR)";
        case CUBLAS_STATUS_EXECUTION_FAILED:
            return "a GPU kernel failed to launch or run (CUBLAS_STATUS_EXECUTION_FAILED)";
        case CUBLAS_STATUS_INTERNAL_ERROR:
            return "cuBLAS internal error (CUBLAS_STATUS_INTERNAL_ERROR)";
        case CUBLAS_STATUS_NOT_SUPPORTED:
            return "the requested operation is not supported (CUBLAS_STATUS_NOT_SUPPORTED)";
        case CUBLAS_STATUS_LICENSE_ERROR:
            return "cuBLAS license error (CUBLAS_STATUS_LICENSE_ERROR)";
    }
    return "unknown cuBLAS status " + std::to_string(int(s));
}

// The two status families, seen through one pair of overloads so that a single macro checks
// both: ok() says whether the call succeeded, describe() puts the failure into words.
inline bool ok(cudaError_t e) { return e == cudaSuccess; }
inline bool ok(cublasStatus_t s) { return s == CUBLAS_STATUS_SUCCESS; }

inline std::string describe(cudaError_t e) {
    // A failed runtime call also becomes the runtime's "last error"; clear it here, or the next
    // CUDA_CHECK_LAUNCH (which reads cudaGetLastError) would blame an innocent kernel for it.
    // Sticky errors (a crashed kernel) stay sticky regardless; this only drops the record.
    (void)cudaGetLastError();
    std::ostringstream os;
    os << cudaGetErrorString(e) << " (" << cudaGetErrorName(e) << ")";
    return os.str();
}
inline std::string describe(cublasStatus_t s) { return cublas_status_string(s); }

// "kernels/cuda_backend.cu" from "/abs/path/to/repo/kernels/cuda_backend.cu": messages name
// the file as the reader finds it in the repository, not the build machine's absolute path.
inline const char* short_file(const char* file) {
    const char* k = std::strstr(file, "kernels/");
    const char* last = nullptr;
    while (k) {
        last = k;
        k = std::strstr(k + 1, "kernels/");
    }
    return last ? last : file;
}

// "1610612736 bytes (1.50 GiB)": out-of-memory errors always say how much was asked for.
inline std::string describe_bytes(std::size_t bytes) {
    std::ostringstream os;
    os << bytes << " bytes";
    const double gib = double(bytes) / double(1ull << 30), mib = double(bytes) / double(1ull << 20);
    char buf[32];
    if (gib >= 1.0) {
        std::snprintf(buf, sizeof buf, "%.2f GiB", gib);
        os << " (" << buf << ")";
    } else if (mib >= 1.0) {
        std::snprintf(buf, sizeof buf, "%.2f MiB", mib);
        os << " (" << buf << ")";
    }
    return os.str();
}

[[noreturn]] inline void call_failed(const char* call, const std::string& why,
                                     const std::string& context, const char* file, int line) {
    std::ostringstream os;
    os << call << " failed: " << why;
    if (!context.empty()) os << ' ' << context;
    ::batchprop::detail::fail_at(os.str(), short_file(file), line);
}

}  // namespace cuda_detail
}  // namespace batchprop

// The one generic check. `context` is a stream expression (may be empty: "") evaluated only on
// failure, so describing the failure costs nothing on the success path.
#define BP_GPU_CHECK_CTX(call, context)                                                        \
    do {                                                                                       \
        const auto bp_status_ = (call);                                                        \
        if (!::batchprop::cuda_detail::ok(bp_status_)) {                                       \
            const std::string bp_why_ = ::batchprop::cuda_detail::describe(bp_status_);        \
            std::ostringstream bp_ctx_;                                                        \
            bp_ctx_ << context;                                                                \
            ::batchprop::cuda_detail::call_failed(#call, bp_why_, bp_ctx_.str(), __FILE__,     \
                                                  __LINE__);                                   \
        }                                                                                      \
    } while (0)

#define CUDA_CHECK(call) BP_GPU_CHECK_CTX(call, "")
#define CUDA_CHECK_CTX(call, context) BP_GPU_CHECK_CTX(call, context)
#define CUBLAS_CHECK(call) BP_GPU_CHECK_CTX(call, "")
#define CUBLAS_CHECK_CTX(call, context) BP_GPU_CHECK_CTX(call, context)

// After a <<<...>>> launch: a bad configuration (too many threads, too much shared memory, no
// kernel image for this GPU) is reported only through cudaGetLastError, not by the launch.
#define CUDA_CHECK_LAUNCH(kernel_name) \
    BP_GPU_CHECK_CTX(cudaGetLastError(), "after launching " << (kernel_name))

// For destructors and deallocate(), which must not throw: print one line to stderr instead.
#define CUDA_LOG_ON_ERROR(call)                                                                \
    do {                                                                                       \
        const cudaError_t bp_status_ = (call);                                                 \
        if (bp_status_ != cudaSuccess) {                                                       \
            std::fprintf(stderr, "batchprop: %s failed: %s (%s) (%s:%d)\n", #call,             \
                         cudaGetErrorString(bp_status_), cudaGetErrorName(bp_status_),         \
                         ::batchprop::cuda_detail::short_file(__FILE__), __LINE__);            \
            (void)cudaGetLastError();                                                          \
        }                                                                                      \
    } while (0)
