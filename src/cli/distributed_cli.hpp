// Distributed `batchprop train`: noticing an MPI launch (or --distributed), starting MPI,
// picking each rank's GPU, choosing the communicator (NCCL for GPU ranks, MPI otherwise), and
// ending every rank with one message when one fails. The training itself: Trainer's
// data-parallel mode (distributed.hpp).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "batchprop/backend.hpp"
#include "batchprop/dataset.hpp"
#include "batchprop/distributed.hpp"
#include "flag_values.hpp"

namespace batchprop::cli {

struct DistributedOptions {
    bool requested = false;  // --distributed
};
void add_distributed_options(CLI::App& cmd, DistributedOptions& o);

// The launcher's environment variable that says how many processes it started (mpirun,
// srun, a PMI launcher), as "NAME=VALUE", or "" when none is set.
std::string detected_launch();
// This process's rank as its launcher numbered it (OMPI_COMM_WORLD_RANK, PMI_RANK, ...), or 0
// when no launcher says: usage errors, found before MPI starts, are then said by rank 0 alone.
int launcher_rank();

// One distributed run's MPI side. Null from start_distributed when the run is a plain one.
class DistributedSession {
public:
    explicit DistributedSession(std::unique_ptr<Communicator> host) : host_(std::move(host)) {}
    int rank() const { return host_->rank(); }
    int size() const { return host_->size(); }
    bool leader() const { return rank() == 0; }  // rank 0 alone prints and writes files
    Communicator& host() { return *host_; }

    // This process's rank on its machine: DeviceSpec::local_rank, so that "cuda" and "auto"
    // pick GPU local_rank mod the GPUs present (cpu and an explicit cuda:N stay as given).
    int local_rank() const { return host_->local_rank(); }

    // The communicator for training on backend: NCCL for GPU ranks when built with it (made
    // into holder), MPI otherwise. Collective: every rank calls it. Checks first that all
    // ranks run on the same kind of device.
    Communicator& connect(Memory& backend, std::unique_ptr<Communicator>& holder);
    std::string describe(const Communicator& training) const;  // "2 processes (MPI)"

    // Ends the run on every rank after one line on stderr: "batchprop: error: rank R of P:
    // what" and MPI_Abort. Never returns.
    [[noreturn]] void fail(const std::string& what);

private:
    std::unique_ptr<Communicator> host_;
};

// Starts MPI when the run was launched by MPI (detected_launch) or --distributed asks for it;
// null for a plain run. Throws, naming what to install, when MPI support is missing.
std::unique_ptr<DistributedSession> start_distributed(const DistributedOptions& o);

// Runs body; distributed, an error ends every rank: an error every rank found alike
// (ReplicasDiffer) is printed by rank 0 while the others exit quietly with status 1; any
// other error is printed by its rank, which then aborts the run (MPI_Abort), so no rank is
// left waiting in a collective. Anything else (Interrupted) passes through.
template <class F>
void run_distributed(std::unique_ptr<DistributedSession>& session, F&& body) {
    if (!session) return body();
    try {
        body();
    } catch (const ReplicasDiffer& e) {
        if (session->size() == 1) throw;
        // Printed before MPI_Finalize, whose fence keeps the other ranks from exiting (and
        // the launcher from killing this one) until rank 0 got here.
        if (session->leader()) std::fprintf(stderr, "batchprop: error: %s\n", e.what());
        session.reset();  // MPI_Finalize: every rank got here through the same check
        std::exit(1);
    } catch (const std::exception& e) {
        if (session->size() == 1) throw;
        const auto* setting = dynamic_cast<const SettingError*>(&e);
        session->fail(setting ? flag_message(*setting) : e.what());
    }
}

// A fingerprint of a data set's bytes and labels, for the ranks to compare.
std::uint64_t data_fingerprint(const Dataset& d, std::uint64_t seed = 0);

}  // namespace batchprop::cli
