// The MPI communicator: MPI_COMM_WORLD, host collectives with MPI_Allreduce(MPI_IN_PLACE, ...),
// the node-local rank from MPI_Comm_split_type(SHARED). Compiled only when CMake found MPI.
// MPI calls are host-side and blocking: a GPU buffer handed to allreduce_sum goes through the
// host here (GPU ranks normally use NCCL instead, src/distributed/nccl_comm.cu).
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/check.hpp"
#include "batchprop/distributed.hpp"

namespace batchprop {

bool mpi_compiled() { return true; }
std::string mpi_missing_hint() { return ""; }

namespace {

// MPI is initialised by the first communicator made here and finalised with the last.
int g_live = 0;
bool g_we_initialised = false;

MPI_Op mpi_op(ReduceOp op) {
    switch (op) {
        case ReduceOp::sum: return MPI_SUM;
        case ReduceOp::min: return MPI_MIN;
        case ReduceOp::max: return MPI_MAX;
    }
    return MPI_SUM;
}

template <class E> MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
template <> MPI_Datatype mpi_type<std::uint64_t>() { return MPI_UINT64_T; }

class MpiCommunicator final : public Communicator {
public:
    MpiCommunicator() {
        int ready = 0;
        MPI_Initialized(&ready);
        if (!ready) {
            // Funneled: only the main thread calls MPI (OpenBLAS's threads never do).
            int provided = 0;
            if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
                BP_THROW("MPI_Init_thread failed");
            g_we_initialised = true;
        }
        ++g_live;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        // The ranks that share this machine's memory: their order picks the GPU.
        MPI_Comm node;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
        MPI_Comm_rank(node, &local_rank_);
        MPI_Comm_size(node, &local_size_);
        MPI_Comm_free(&node);
    }
    ~MpiCommunicator() override {
        if (--g_live == 0 && g_we_initialised) {
            int done = 0;
            MPI_Finalized(&done);
            if (!done) MPI_Finalize();
        }
    }
    MpiCommunicator(const MpiCommunicator&) = delete;
    MpiCommunicator& operator=(const MpiCommunicator&) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    int local_rank() const override { return local_rank_; }
    int local_size() const override { return local_size_; }
    std::string name() const override { return "MPI"; }

    void allreduce_sum(float* data, std::size_t n, Memory& mem) override { device_sum(data, n, mem); }
    void allreduce_sum(double* data, std::size_t n, Memory& mem) override { device_sum(data, n, mem); }
    void allreduce_host(double* data, std::size_t n, ReduceOp op) override { host(data, n, op); }
    void allreduce_host(std::uint64_t* data, std::size_t n, ReduceOp op) override { host(data, n, op); }

    void broadcast_host(void* data, std::size_t bytes, int root) override {
        BP_REQUIRE(bytes <= std::size_t(INT_MAX), "broadcast of " << bytes << " bytes");
        MPI_Bcast(data, int(bytes), MPI_BYTE, root, MPI_COMM_WORLD);
    }

    [[noreturn]] void abort(int code) override {
        std::fflush(stdout);
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
        std::_Exit(code);  // MPI_Abort does not return; should an implementation, still end
    }

private:
    template <class E>
    void host(E* data, std::size_t n, ReduceOp op) {
        // In place, in pieces that fit MPI's int counts.
        for (std::size_t done = 0; done < n;) {
            const int count = int(std::min<std::size_t>(n - done, std::size_t(1) << 30));
            MPI_Allreduce(MPI_IN_PLACE, data + done, count, mpi_type<E>(), mpi_op(op), MPI_COMM_WORLD);
            done += std::size_t(count);
        }
    }

    template <class T>
    void device_sum(T* data, std::size_t n, Memory& mem) {
        if (mem.kind() == DeviceKind::cpu) {
            host(data, n, ReduceOp::sum);
            return;
        }
        // A GPU buffer without NCCL: through the host (copies wait for the stream's work).
        staging_.resize(n * sizeof(T));
        T* h = reinterpret_cast<T*>(staging_.data());
        mem.copy(h, data, n * sizeof(T), CopyKind::device_to_host);
        host(h, n, ReduceOp::sum);
        mem.copy(data, h, n * sizeof(T), CopyKind::host_to_device);
    }

    int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
    std::vector<unsigned char> staging_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace batchprop
