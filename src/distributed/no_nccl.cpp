// Built without NCCL (no CUDA backend, or a toolkit without nccl.h): GPU ranks then sum
// through MPI with a copy to the host (see mpi_comm.cpp).
#include "batchprop/check.hpp"
#include "batchprop/distributed.hpp"

namespace batchprop {

bool nccl_compiled() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator&, Memory&) {
    BP_THROW("this batchprop was built without NCCL (it needs the CUDA backend and nccl.h)");
}

}  // namespace batchprop
