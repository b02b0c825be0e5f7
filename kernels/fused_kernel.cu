// The fused step on the GPU: one block of kFusedThreads threads runs a whole segment of SGD
// steps, the program of src/fused/fused_program.hpp with each phase's items spread over the
// block's threads and __syncthreads() between phases. One launch per segment instead of ten
// per step: for a small network the step is bound by its own length of dependent phases,
// not by launches (src/fused/fused_plan.hpp says why).
#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>

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

// One block's whole launch: the parameters into shared memory when the plan puts them there,
// the steps, the parameters back.
template <class T, class S>
__device__ __forceinline__ void run_block(const FusedShape& sh, fused::Args<T, S> args) {
    T* const shared = reinterpret_cast<T*>(fused_shared);
    T* const global_params = args.params;
    if (sh.params_shared) {
        for (long long i = threadIdx.x; i < sh.n_params; i += blockDim.x) shared[i] = global_params[i];
        args.params = shared;
    }
    if (sh.scratch_shared) args.scratch = shared + (sh.params_shared ? sh.n_params : 0);
    const int first = *args.cursor + args.offset;
    __syncthreads();
    fused::run_steps(sh, args, first, args.steps, BlockExec{});  // ends with a barrier
    if (sh.params_shared)
        for (long long i = threadIdx.x; i < sh.n_params; i += blockDim.x) global_params[i] = shared[i];
}

template <class T, class S>
__global__ void __launch_bounds__(kFusedThreads)
    fused_steps_kernel(FusedShape sh, fused::Args<T, S> args) {
    run_block(sh, args);
}

// A shared launch: block b runs models[b]. Its plan is copied once into a static shared array
// (sizeof(FusedShape), 448 bytes, which prepare_fused_kernel takes off every plan's limit): the
// program reads the plan's offsets throughout, and read from global memory they cost
// registers. ptxas for sm_90, float weights and byte images: 24 / 36 bytes of spill stores /
// loads this way, 60 / 128 read in place (and 528 bytes of stack for a copy in local memory);
// the one-model kernel, whose plan is a kernel parameter, 28 / 32.
template <class T, class S>
__global__ void __launch_bounds__(kFusedThreads)
    fused_models_kernel(const fused::ModelLaunch<T, S>* __restrict__ models) {
    __shared__ FusedShape plan;
    if (threadIdx.x == 0) plan = models[blockIdx.x].shape;
    __syncthreads();
    run_block(plan, models[blockIdx.x].args);
}

// Every instantiation of both kernels, as the runtime API names a kernel.
const void* const kFusedKernels[] = {
    reinterpret_cast<const void*>(&fused_steps_kernel<float, std::uint8_t>),
    reinterpret_cast<const void*>(&fused_steps_kernel<double, std::uint8_t>),
    reinterpret_cast<const void*>(&fused_steps_kernel<float, float>),
    reinterpret_cast<const void*>(&fused_steps_kernel<double, float>),
    reinterpret_cast<const void*>(&fused_models_kernel<float, std::uint8_t>),
    reinterpret_cast<const void*>(&fused_models_kernel<double, std::uint8_t>),
    reinterpret_cast<const void*>(&fused_models_kernel<float, float>),
    reinterpret_cast<const void*>(&fused_models_kernel<double, float>),
};

}  // namespace

std::size_t prepare_fused_kernel(int device) {
    // The maximum dynamic shared memory is an attribute of the function, for the whole process.
    // Set per launch to that launch's need, two threads training different shapes could race
    // on it (one's launch running under the other's smaller value). So it is set once per
    // device, to the most any plan may ask for, and never changed: launches only read it.
    static std::mutex mutex;
    static std::map<int, std::size_t> limits;  // per device, once its kernels are opted in
    const std::lock_guard<std::mutex> lock(mutex);
    if (const auto it = limits.find(device); it != limits.end()) return it->second;
    int current = -1;
    CUDA_CHECK(cudaGetDevice(&current));
    BP_REQUIRE(current == device, "prepare_fused_kernel(" << device << ") with device " << current << " current");
    int optin = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    // The opt-in maximum bounds a block's static and dynamic shared memory together.
    const std::size_t most = optin > 0 ? std::size_t(optin) : 0;
    std::size_t limit = most;
    for (const void* kernel : kFusedKernels) {
        cudaFuncAttributes attr{};
        CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
        limit = std::min(limit, most > attr.sharedSizeBytes ? most - attr.sharedSizeBytes : 0);
    }
    // Above 48 KiB a kernel must opt in to its dynamic shared memory (per function, host-side).
    for (const void* kernel : kFusedKernels)
        CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(limit)));
    limits[device] = limit;
    return limit;
}

template <class T, class S>
int fused_kernel_shared_attribute() {
    cudaFuncAttributes attr{};
    CUDA_CHECK(cudaFuncGetAttributes(&attr, reinterpret_cast<const void*>(&fused_steps_kernel<T, S>)));
    return attr.maxDynamicSharedSizeBytes;
}

template <class T, class S>
void fused_train_steps(cudaStream_t stream, const FusedShape& shape, const fused::Args<T, S>& args) {
    if (args.steps <= 0) return;
    // shape.shared_bytes is within the limit the kernel was opted in to once (FusedDevice
    // checks it): nothing process-wide changes here.
    fused_steps_kernel<T, S><<<1, kFusedThreads, std::size_t(shape.shared_bytes), stream>>>(shape, args);
    CUDA_CHECK_LAUNCH("fused_steps_kernel");
}

template <class T, class S>
void fused_train_models(cudaStream_t stream, const fused::ModelLaunch<T, S>* models, int count, std::size_t shared_bytes) {
    if (count <= 0) return;
    fused_models_kernel<T, S><<<count, kFusedThreads, shared_bytes, stream>>>(models);
    CUDA_CHECK_LAUNCH("fused_models_kernel");
}

template void fused_train_models(cudaStream_t, const fused::ModelLaunch<float, std::uint8_t>*, int, std::size_t);
template void fused_train_models(cudaStream_t, const fused::ModelLaunch<double, std::uint8_t>*, int, std::size_t);
template void fused_train_models(cudaStream_t, const fused::ModelLaunch<float, float>*, int, std::size_t);
template void fused_train_models(cudaStream_t, const fused::ModelLaunch<double, float>*, int, std::size_t);
template void fused_train_steps(cudaStream_t, const FusedShape&, const fused::Args<float, std::uint8_t>&);
template void fused_train_steps(cudaStream_t, const FusedShape&, const fused::Args<double, std::uint8_t>&);
template void fused_train_steps(cudaStream_t, const FusedShape&, const fused::Args<float, float>&);
template void fused_train_steps(cudaStream_t, const FusedShape&, const fused::Args<double, float>&);
template int fused_kernel_shared_attribute<float, std::uint8_t>();
template int fused_kernel_shared_attribute<double, std::uint8_t>();
template int fused_kernel_shared_attribute<float, float>();
template int fused_kernel_shared_attribute<double, float>();

}  // namespace kernels
}  // namespace batchprop
