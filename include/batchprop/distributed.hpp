/// @file
/// Data-parallel training across processes: which columns of a global mini-batch each rank
/// takes (pure logic), and the communicator the trainer all-reduces through (MPI on the host,
/// NCCL on GPUs, or a single process). It does not start processes; mpirun or srun does.
///
/// Synchronous data-parallel SGD, the same mathematics as one process: every rank holds the
/// same parameters and the same epoch permutation (a function of seed and epoch); a global
/// mini-batch of m examples is cut into P contiguous column slices, one per rank; each rank
/// computes the gradient sum of its slice, the ranks sum those in place (all-reduce), and every
/// rank applies the same update with eta/m for the global m. Only the order of the additions
/// differs from one process, so parameters agree to rounding (tests: 1e-12 in double).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "batchprop/check.hpp"
#include "batchprop/export.hpp"

namespace batchprop {

class Memory;  ///< backend.hpp

/// The columns [first, first + count) of a mini-batch of m that rank `rank` of n_ranks takes.
/// Contiguous, in rank order, covering 0..m-1 once; the first m mod P ranks take one column
/// more. count is 0 for ranks >= m (P > m): such a rank contributes a zero gradient.
struct BatchSlice {
    int first = 0;
    int count = 0;
};
BATCHPROP_API BatchSlice batch_slice(int m, int rank, int n_ranks);

enum class ReduceOp { sum, min, max };

/// An error that a collective check found, and so every rank throws at the same point (the
/// ranks' settings or parameters differ): one rank reporting it is enough, and no rank is left
/// waiting in a collective.
class BATCHPROP_API ReplicasDiffer : public Error {
public:
    using Error::Error;
};

/// Collectives among the ranks of one training run. Every rank must make the same calls in
/// the same order (as MPI and NCCL require); a rank that fails ends the run (abort) rather than
/// leave the others waiting in a collective. Part of the public API: a program hands one to
/// Session::set_communicator or Trainer::set_communicator, and may implement its own (over
/// another transport). The MPI and NCCL implementations stay inside the library; only the
/// factories below make them.
class BATCHPROP_API Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    /// Rank among the processes on this machine (picks the GPU), and how many there are.
    virtual int local_rank() const = 0;
    virtual int local_size() const = 0;
    virtual std::string name() const = 0;  ///< "MPI", "NCCL", "single process"

    /// data[0..n) = the sum over ranks, in place. data lives on mem's device (a backend's
    /// buffer); on a GPU the work is queued on mem's stream where the communicator can
    /// (NCCL), so what follows on that stream sees the sum.
    virtual void allreduce_sum(float* data, std::size_t n, Memory& mem) = 0;
    virtual void allreduce_sum(double* data, std::size_t n, Memory& mem) = 0;

    /// Host-side reductions, in place: evaluation sums, parameter checksums, agreement flags.
    virtual void allreduce_host(double* data, std::size_t n, ReduceOp op) = 0;
    virtual void allreduce_host(std::uint64_t* data, std::size_t n, ReduceOp op) = 0;
    /// bytes from root to every rank.
    virtual void broadcast_host(void* data, std::size_t bytes, int root) = 0;

    /// Ends every rank of the run at once with exit status code (MPI_Abort). Never returns.
    [[noreturn]] virtual void abort(int code) = 0;
};

/// One process alone: every collective is the identity.
BATCHPROP_API std::unique_ptr<Communicator> make_single_process_communicator();

// ---- MPI (src/distributed/mpi_comm.cpp, or src/distributed/no_mpi.cpp when built without MPI) -------------------------

/// Whether this build has MPI support, and what to install when it has not.
BATCHPROP_API bool mpi_compiled();
BATCHPROP_API std::string mpi_missing_hint();

/// Initialises MPI (MPI_Init_thread, funneled) unless it is already, and returns the
/// MPI_COMM_WORLD communicator; MPI is finalised when the last communicator made here goes.
/// Throws batchprop::Error without MPI support.
BATCHPROP_API std::unique_ptr<Communicator> make_mpi_communicator();

// ---- NCCL (src/distributed/nccl_comm.cu; absent without CUDA or without nccl.h) ---------------------

BATCHPROP_API bool nccl_compiled();

/// A communicator whose device all-reduce is ncclAllReduce (in place, sum) on gpu's stream,
/// and whose host collectives and abort go through host (an MPI communicator, which must
/// outlive it). Every rank calls this together: rank 0 makes the ncclUniqueId and host
/// broadcasts it, then each calls ncclCommInitRank on its backend's GPU. libnccl.so.2 is
/// opened here, not at start-up. Throws batchprop::Error when NCCL cannot be loaded or set up.
BATCHPROP_API std::unique_ptr<Communicator> make_nccl_communicator(Communicator& host, Memory& gpu);

/// FNV-1a over bytes: a cheap fingerprint to compare parameters (or settings) across ranks.
BATCHPROP_API std::uint64_t fingerprint(const void* data, std::size_t bytes, std::uint64_t seed = 0xcbf29ce484222325ULL);

}  // namespace batchprop
