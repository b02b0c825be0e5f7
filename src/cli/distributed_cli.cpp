// See distributed_cli.hpp.
#include "distributed_cli.hpp"

#include <cstdio>
#include <cstdlib>

namespace batchprop::cli {

void add_distributed_options(CLI::App& cmd, DistributedOptions& o) {
    cmd.add_flag("--distributed", o.requested,
                 "Data-parallel training over MPI (one process per GPU, or CPU processes): implied when started "
                 "by mpirun or srun");
}

std::string detected_launch() {
    // Open MPI's mpirun, MPICH/Hydra and Intel MPI (PMI), PMIx launchers, srun (a job step).
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE",
                             "SLURM_STEP_NUM_TASKS"}) {
        if (const char* v = std::getenv(name); v && *v) return std::string(name) + "=" + v;
    }
    return "";
}

int launcher_rank() {
    for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK"}) {
        if (const char* v = std::getenv(name); v && *v) return std::atoi(v);
    }
    if (const char* v = std::getenv("SLURM_PROCID"); v && *v && std::getenv("SLURM_STEP_NUM_TASKS")) return std::atoi(v);
    return 0;
}

std::unique_ptr<DistributedSession> start_distributed(const DistributedOptions& o) {
    const std::string launch = detected_launch();
    if (!o.requested && launch.empty()) return nullptr;
    if (!mpi_compiled()) {
        // Started by a launcher that asked for one process is a plain run anyway.
        const std::string value = launch.substr(launch.find('=') + 1);
        if (!o.requested && std::atoi(value.c_str()) <= 1) return nullptr;
        BP_THROW((o.requested ? std::string("--distributed") : "started by an MPI launcher (" + launch + ")")
                 << ", but " << mpi_missing_hint());
    }
    return std::make_unique<DistributedSession>(make_mpi_communicator());
}

Communicator& DistributedSession::connect(Memory& backend, std::unique_ptr<Communicator>& holder) {
    // Before any device collective: all ranks on GPUs, or all on CPUs (NCCL and MPI ranks
    // cannot sum with each other).
    std::uint64_t lo = backend.kind() == DeviceKind::cuda ? 1 : 0, hi = lo;
    host_->allreduce_host(&lo, 1, ReduceOp::min);
    host_->allreduce_host(&hi, 1, ReduceOp::max);
    if (lo != hi)
        throw ReplicasDiffer("some ranks run on a GPU and others on the CPU; give every rank the same --device "
                             "(or --device cpu)");
    if (backend.kind() == DeviceKind::cuda && nccl_compiled()) {
        holder = make_nccl_communicator(*host_, backend);
        return *holder;
    }
    return *host_;
}

std::string DistributedSession::describe(const Communicator& training) const {
    std::string s = std::to_string(size()) + (size() == 1 ? " process (" : " processes (") + training.name();
    if (&training != host_.get()) s += " over " + host_->name();
    return s + ")";
}

void DistributedSession::fail(const std::string& what) {
    std::fprintf(stderr, "batchprop: error: rank %d of %d: %s\n", rank(), size(), what.c_str());
    host_->abort(1);
    std::abort();  // not reached: abort() ends the process
}

std::uint64_t data_fingerprint(const Dataset& d, std::uint64_t seed) {
    // The images as their bytes, whatever their type; the type itself is hashed too, so bytes
    // and float inputs that happen to share bytes still differ.
    const std::size_t image_bytes = std::size_t(d.n_inputs) * std::size_t(d.n) * pixel_size(d.pixel_type());
    std::uint64_t h = fingerprint(d.image_data(), image_bytes, seed ^ 0xcbf29ce484222325ULL);
    h = fingerprint(d.labels.data(), d.labels.size() * sizeof(int), h);
    const int shape[] = {d.n_inputs, int(d.pixel_type())};
    return fingerprint(shape, sizeof shape, h);
}

}  // namespace batchprop::cli
