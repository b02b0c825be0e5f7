// The cluster step on the GPU (sm_90): one cluster of N blocks, one per SM, runs a whole segment
// of SGD steps, the program of src/fused/cluster_program.hpp. Each block keeps its rows of w[1]
// in its threads' registers for the whole launch; a[1] goes to every peer's shared memory
// (distributed shared memory) and cluster.sync() is the barrier that makes it visible; the next
// batch arrives by bulk asynchronous copies completing on an mbarrier. Compiled for other
// architectures the kernel is a trap: cluster_max_size says 0 there, so it is never launched.
#include <cooperative_groups.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "cluster_kernel.cuh"
#include "cuda_check.cuh"
#include "fused/cluster_program.hpp"
#include "fused/fused_device.hpp"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define BP_CLUSTER_ARCH 1
#else
#define BP_CLUSTER_ARCH 0
#endif

namespace batchprop {
namespace kernels {
namespace {

namespace cg = cooperative_groups;

// One dynamic shared array, 16-byte aligned (bulk copies and the mbarrier need it).
extern __shared__ __align__(16) unsigned char cluster_shared[];

#if BP_CLUSTER_ARCH
__device__ __forceinline__ unsigned shared_address(const void* p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// A warp's view for cluster_program.hpp: each thread holds its own lane (kWidth = 1).
template <class T>
struct DeviceLanes {
    static constexpr int kWidth = 1;
    fused::ClusterTile<T>& held;  // this thread's registers of w[1], kept across calls
    T* shared;                    // this block's shared memory
    int lane_;
    int n_blocks;

    __device__ int lane(int) const { return lane_; }
    __device__ fused::ClusterTile<T>& tile(int) const { return held; }
    __device__ bool first(int) const { return lane_ == 0; }
    // The butterfly: each lane adds its partner's value to its own, offsets 16 .. 1, as the host
    // driver does (lane c: a[c] + a[c ^ off]); every lane ends with the same sum.
    __device__ T sum(const T (&v)[1]) const {
        T a = v[0];
#pragma unroll
        for (int off = kClusterLanes / 2; off >= 1; off /= 2) a = a + __shfl_xor_sync(0xffffffffu, a, off);
        return a;
    }
    // Every lane holds v: lane r stores it into block r's shared memory (at most 8 blocks).
    __device__ void to_all(long long offset, T v, int) const {
        if (lane_ < n_blocks) *cg::this_cluster().map_shared_rank(shared + offset, lane_) = v;
    }
};

// The executor of one block (cluster_program.hpp's Cx).
template <class T>
class ClusterExec {
public:
    __device__ explicit ClusterExec(int n_blocks)
        : shared_(reinterpret_cast<T*>(cluster_shared)),
          n_blocks_(n_blocks),
          rank_(int(cg::this_cluster().block_rank())),
          warp_(int(threadIdx.x) / kClusterLanes),
          lane_(int(threadIdx.x) % kClusterLanes) {}

    __device__ int rank() const { return rank_; }
    __device__ T* shared() const { return shared_; }

    template <class F>
    __device__ void items(int count, F&& f) const {
        for (int t = int(threadIdx.x); t < count; t += kClusterThreads) f(t);
    }
    __device__ void barrier() const { __syncthreads(); }

    template <class F>
    __device__ void warps(int count, F&& f) {
        if (warp_ >= count) return;
        DeviceLanes<T> lanes{tile_, shared_, lane_, n_blocks_};
        f(warp_, lanes);
    }

    // The fetch warp (the block's last): lane 0 tells the mbarrier how many bytes this phase
    // brings (its one arrival), then lane j handles column j.
    template <class F>
    __device__ void fetch(int count, unsigned expect, F&& f) {
        if (warp_ != kClusterWarps - 1) return;
        if (expect > 0 && lane_ == 0)
            asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar()), "r"(expect) : "memory");
        __syncwarp();
        for (int j = lane_; j < count; j += kClusterLanes) f(j);
    }
    __device__ void copy_async(void* dst, const void* src, std::size_t bytes) {
        // The stage was last read through the generic proxy (convert); the copy writes it
        // through the async proxy: ordered by this fence.
        asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
        asm volatile(
            "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                shared_address(dst)),
            "l"(src), "r"(unsigned(bytes)), "r"(bar())
            : "memory");
    }
    __device__ void fetch_wait(int parity) const {
        unsigned done = 0;
        do {
            asm volatile(
                "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}"
                : "=r"(done)
                : "r"(bar()), "r"(unsigned(parity))
                : "memory");
        } while (!done);
    }
    __device__ void cluster_barrier() const { cg::this_cluster().sync(); }

    // The mbarrier of the fetch: one arrival a phase (the fetch warp's lane 0) plus the bytes.
    __device__ void init_fetch_barrier(long long bar_off) {
        bar_off_ = bar_off;
        if (threadIdx.x == 0) {
            asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(bar()) : "memory");
            asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
        }
        __syncthreads();
    }

private:
    __device__ unsigned bar() const { return shared_address(shared_ + bar_off_); }

    T* shared_;
    int n_blocks_, rank_, warp_, lane_;
    long long bar_off_ = 0;
    fused::ClusterTile<T> tile_;  // registers when every index is a constant (the loops unroll)
};
#endif  // BP_CLUSTER_ARCH

template <class T, class S>
__global__ void __launch_bounds__(kClusterThreads, 1) cluster_steps_kernel(ClusterShape sh, fused::Args<T, S> args) {
#if BP_CLUSTER_ARCH
    ClusterExec<T> cx(sh.N);
    cx.init_fetch_barrier(sh.bar_off);
    const int first = *args.cursor + args.offset;
    fused::run_cluster_steps(sh, args, first, args.steps, cx);  // ends with a cluster barrier
#else
    __trap();  // never launched: cluster_max_size is 0 below sm_90
#endif
}

template <class T, class S>
const void* kernel_of() {
    return reinterpret_cast<const void*>(&cluster_steps_kernel<T, S>);
}

const void* const kClusterKernels[] = {kernel_of<float, std::uint8_t>(), kernel_of<double, std::uint8_t>(),
                                       kernel_of<float, float>(), kernel_of<double, float>()};

cudaLaunchConfig_t cluster_config(cudaLaunchAttribute& attr, int n, std::size_t shared_bytes, cudaStream_t stream) {
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = dim3(unsigned(n));
    cfg.blockDim = dim3(unsigned(kClusterThreads));
    cfg.dynamicSmemBytes = shared_bytes;
    cfg.stream = stream;
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = unsigned(n);
    attr.val.clusterDim.y = 1;
    attr.val.clusterDim.z = 1;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    return cfg;
}

}  // namespace

void prepare_cluster_kernel(int device, std::size_t shared_limit) {
    static std::mutex mutex;
    static std::map<int, bool> prepared;
    const std::lock_guard<std::mutex> lock(mutex);
    if (prepared.count(device)) return;
    int current = -1;
    CUDA_CHECK(cudaGetDevice(&current));
    BP_REQUIRE(current == device, "prepare_cluster_kernel(" << device << ") with device " << current << " current");
    for (const void* kernel : kClusterKernels)
        CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared_limit)));
    prepared[device] = true;
}

template <class T>
int cluster_max_size(int device, std::size_t shared_bytes, std::string* why) {
    int major = 0, minor = 0, launch = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    if (major >= 9) CUDA_CHECK(cudaDeviceGetAttribute(&launch, cudaDevAttrClusterLaunch, device));
    // The S = bytes instantiation stands for both: they differ only in the conversion.
    const auto active = [&](int n) {
        cudaLaunchAttribute attr{};
        const cudaLaunchConfig_t cfg = cluster_config(attr, n, shared_bytes, nullptr);
        int clusters = 0;
        if (cudaOccupancyMaxActiveClusters(&clusters, kernel_of<T, std::uint8_t>(), &cfg) != cudaSuccess) {
            (void)cudaGetLastError();  // a size it cannot take: none of that size
            return 0;
        }
        return clusters;
    };
    return largest_cluster(major, minor, launch != 0, active, shared_bytes, why);
}

template <class T, class S>
void cluster_train_steps(cudaStream_t stream, const ClusterShape& shape, const fused::Args<T, S>& args) {
    if (args.steps <= 0) return;
    cudaLaunchAttribute attr{};
    const cudaLaunchConfig_t cfg = cluster_config(attr, shape.N, std::size_t(shape.shared_bytes), stream);
    const cudaError_t e = cudaLaunchKernelEx(&cfg, cluster_steps_kernel<T, S>, shape, args);
    if (e == cudaErrorInvalidClusterSize || e == cudaErrorLaunchOutOfResources) {
        (void)cudaGetLastError();
        throw ClusterUnavailable(std::string(cudaGetErrorName(e)) + " for " + std::to_string(shape.N) + " blocks");
    }
    CUDA_CHECK(e);
    CUDA_CHECK_LAUNCH("cluster_steps_kernel");
}

template int cluster_max_size<float>(int, std::size_t, std::string*);
template int cluster_max_size<double>(int, std::size_t, std::string*);
template void cluster_train_steps(cudaStream_t, const ClusterShape&, const fused::Args<float, std::uint8_t>&);
template void cluster_train_steps(cudaStream_t, const ClusterShape&, const fused::Args<double, std::uint8_t>&);
template void cluster_train_steps(cudaStream_t, const ClusterShape&, const fused::Args<float, float>&);
template void cluster_train_steps(cudaStream_t, const ClusterShape&, const fused::Args<double, float>&);

}  // namespace kernels
}  // namespace batchprop
