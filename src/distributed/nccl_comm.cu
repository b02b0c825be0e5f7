// The NCCL communicator for GPU ranks: ncclAllReduce in place on the backend's stream, with
// host collectives (and abort) delegated to an MPI communicator. libnccl.so.2 is opened with
// dlopen when the first such communicator is made, as cuBLAS is (cublas_loader.cuh): linking
// it would load ~200 MiB of library into every process, distributed or not, GPU or not.
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>
#include <exception>
#include <string>

#include "batchprop/backend.hpp"
#include "batchprop/check.hpp"
#include "batchprop/distributed.hpp"
#include "runtime_library.cuh"

namespace batchprop {

bool nccl_compiled() { return true; }

namespace {

const std::string kNcclSoname = "libnccl.so." + std::to_string(NCCL_MAJOR);

struct NcclApi {
    decltype(&ncclGetVersion) get_version = nullptr;
    decltype(&ncclGetUniqueId) get_unique_id = nullptr;
    decltype(&ncclCommInitRank) comm_init_rank = nullptr;
    decltype(&ncclCommDestroy) comm_destroy = nullptr;
    decltype(&ncclCommAbort) comm_abort = nullptr;
    decltype(&ncclAllReduce) all_reduce = nullptr;
    decltype(&ncclGetErrorString) get_error_string = nullptr;
};

NcclApi load() {
    const cuda_detail::RuntimeLibrary lib(kNcclSoname, "NCCL",
                                          "install NCCL (libnccl2) or put its directory on LD_LIBRARY_PATH");
    NcclApi api;
    lib.resolve("ncclGetVersion", api.get_version);
    lib.resolve("ncclGetUniqueId", api.get_unique_id);
    lib.resolve("ncclCommInitRank", api.comm_init_rank);
    lib.resolve("ncclCommDestroy", api.comm_destroy);
    lib.resolve("ncclCommAbort", api.comm_abort);
    lib.resolve("ncclAllReduce", api.all_reduce);
    lib.resolve("ncclGetErrorString", api.get_error_string);
    return api;
}

const NcclApi& nccl() {
    static const NcclApi api = load();
    return api;
}

#define NCCL_CHECK(call)                                                                        \
    do {                                                                                        \
        const ncclResult_t r_ = (call);                                                         \
        if (r_ != ncclSuccess)                                                                  \
            ::batchprop::detail::fail_at(std::string("NCCL: ") + nccl().get_error_string(r_) +  \
                                             " in " #call,                                      \
                                         __FILE__, __LINE__);                                   \
    } while (0)

class NcclCommunicator final : public Communicator {
public:
    NcclCommunicator(Communicator& host, Memory& gpu) : host_(host) {
        BP_REQUIRE(gpu.kind() == DeviceKind::cuda, "NCCL needs a GPU backend");
        stream_ = static_cast<cudaStream_t>(gpu.native_stream());
        // Every rank loads NCCL first and says whether it could, so that a rank without it
        // fails the run with a message instead of leaving the others in ncclCommInitRank.
        std::string why;
        try {
            nccl();
        } catch (const Error& e) {
            why = e.what();
        }
        std::uint64_t failed = why.empty() ? 0 : 1;
        host_.allreduce_host(&failed, 1, ReduceOp::max);
        if (!why.empty()) throw Error(why);
        if (failed) BP_THROW("another rank could not load NCCL (see its message)");

        ncclUniqueId id{};
        if (host_.rank() == 0) NCCL_CHECK(nccl().get_unique_id(&id));
        host_.broadcast_host(&id, sizeof id, 0);
        // The backend made its GPU current when it was created; NCCL binds to that device.
        if (cudaGetDevice(&device_) != cudaSuccess) BP_THROW("cudaGetDevice failed before ncclCommInitRank");
        NCCL_CHECK(nccl().comm_init_rank(&comm_, host_.size(), id, host_.rank()));
    }
    ~NcclCommunicator() override {
        if (!comm_) return;
        cudaSetDevice(device_);
        // Unwinding from an error, a peer may be gone with a collective unfinished, and
        // ncclCommDestroy would wait for it: abort instead. Errors ignored: a destructor.
        if (std::uncaught_exceptions() > 0)
            nccl().comm_abort(comm_);
        else
            nccl().comm_destroy(comm_);
    }
    NcclCommunicator(const NcclCommunicator&) = delete;
    NcclCommunicator& operator=(const NcclCommunicator&) = delete;

    int rank() const override { return host_.rank(); }
    int size() const override { return host_.size(); }
    int local_rank() const override { return host_.local_rank(); }
    int local_size() const override { return host_.local_size(); }
    std::string name() const override {
        int v = 0;
        nccl().get_version(&v);
        return "NCCL " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
               std::to_string(v % 100);
    }

    // Queued on the backend's stream: no host wait, and the update that follows on the same
    // stream reads the sum. (This call may also be captured in a CUDA graph.)
    void allreduce_sum(float* data, std::size_t n, Memory&) override {
        NCCL_CHECK(nccl().all_reduce(data, data, n, ncclFloat32, ncclSum, comm_, stream_));
    }
    void allreduce_sum(double* data, std::size_t n, Memory&) override {
        NCCL_CHECK(nccl().all_reduce(data, data, n, ncclFloat64, ncclSum, comm_, stream_));
    }
    void allreduce_host(double* data, std::size_t n, ReduceOp op) override { host_.allreduce_host(data, n, op); }
    void allreduce_host(std::uint64_t* data, std::size_t n, ReduceOp op) override {
        host_.allreduce_host(data, n, op);
    }
    void broadcast_host(void* data, std::size_t bytes, int root) override { host_.broadcast_host(data, bytes, root); }

    [[noreturn]] void abort(int code) override {
        // Stop NCCL's kernels and proxy threads first: a peer may be gone mid-collective.
        if (comm_) nccl().comm_abort(comm_);
        comm_ = nullptr;
        host_.abort(code);
        std::abort();  // not reached: the host communicator's abort ends the process
    }

private:
    Communicator& host_;
    cudaStream_t stream_ = nullptr;
    ncclComm_t comm_ = nullptr;
    int device_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host, Memory& gpu) {
    return std::make_unique<NcclCommunicator>(host, gpu);
}

}  // namespace batchprop
