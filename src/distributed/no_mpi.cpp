// Built without MPI (BATCHPROP_MPI=OFF, or no MPI found): what to install instead.
#include "batchprop/check.hpp"
#include "batchprop/distributed.hpp"

namespace batchprop {

bool mpi_compiled() { return false; }

std::string mpi_missing_hint() {
    return "this batchprop was built without MPI; install an MPI (Debian: apt-get install libopenmpi-dev "
           "openmpi-bin) and rebuild (cmake -DBATCHPROP_MPI=ON)";
}

std::unique_ptr<Communicator> make_mpi_communicator() { BP_THROW("distributed training: " << mpi_missing_hint()); }

}  // namespace batchprop
