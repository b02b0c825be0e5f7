// The fused step on the GPU: one block of kFusedThreads threads runs a whole segment of SGD
// steps, the program of src/fused/fused_program.hpp with each phase's items spread over the
// block's threads and __syncthreads() between phases. One launch per segment instead of ten
// per step: for a small network the step is bound by its own length of dependent phases,
// not by launches (fused_step.hpp says why).
#include <cstdint>

#include "cuda_check.cuh"
#include "fused_kernel.cuh"

namespace batchprop {
namespace kernels {
namespace {

// The block's threads share a phase's items: thread t takes items t, t + blockDim, ...
struct BlockExec {
    template <class F>
    __device__ void items(int count, F&& f) const {
        for (int t = int(threadIdx.x); t < count; t += int(blockDim.x)) f(t);
    }
    __device__ void barrier() const { __syncthreads(); }
};

// One dynamic shared array for every instantiation, aligned for double.
extern __shared__ __align__(16) unsigned char fused_shared[];

template <class T, class S>
__global__ void __launch_bounds__(kFusedThreads)
    fused_steps_kernel(FusedShape sh, fused::Args<T, S> a, const int* cursor, int offset, int steps) {
    T* const shared = reinterpret_cast<T*>(fused_shared);
    T* const global_params = a.params;
    if (sh.params_shared) {
        for (long long i = threadIdx.x; i < sh.n_params; i += blockDim.x) shared[i] = global_params[i];
        a.params = shared;
    }
    if (sh.scratch_shared) a.scratch = shared + (sh.params_shared ? sh.n_params : 0);
    const int first = *cursor + offset;
    __syncthreads();
    fused::run_steps(sh, a, first, steps, BlockExec{});  // ends with a barrier
    if (sh.params_shared)
        for (long long i = threadIdx.x; i < sh.n_params; i += blockDim.x) global_params[i] = shared[i];
}

}  // namespace

std::size_t fused_shared_limit(int device) {
    int bytes = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    return bytes > 0 ? std::size_t(bytes) : 0;
}

template <class T, class S>
void fused_train_steps(cudaStream_t stream, const FusedShape& shape, const fused::Args<T, S>& a,
                       const int* cursor, int offset, int steps) {
    if (steps <= 0) return;
    auto* kernel = &fused_steps_kernel<T, S>;
    // Above 48 KiB a kernel must opt in to its dynamic shared memory (per function, host-side).
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shape.shared_bytes)));
    kernel<<<1, kFusedThreads, std::size_t(shape.shared_bytes), stream>>>(shape, a, cursor, offset, steps);
    CUDA_CHECK_LAUNCH("fused_steps_kernel");
}

template void fused_train_steps(cudaStream_t, const FusedShape&, const fused::Args<float, std::uint8_t>&, const int*, int, int);
template void fused_train_steps(cudaStream_t, const FusedShape&, const fused::Args<double, std::uint8_t>&, const int*, int, int);
template void fused_train_steps(cudaStream_t, const FusedShape&, const fused::Args<float, float>&, const int*, int, int);
template void fused_train_steps(cudaStream_t, const FusedShape&, const fused::Args<double, float>&, const int*, int, int);

}  // namespace kernels
}  // namespace batchprop
