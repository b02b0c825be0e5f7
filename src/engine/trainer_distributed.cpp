// Trainer's data-parallel mode (Trainer::set_communicator, distributed.hpp): the step that
// splits a global mini-batch across ranks, the agreed stop, the replica check. Kept apart from
// trainer.cpp, which calls in here only when a communicator is set.
#include <chrono>
#include <cstring>
#include <vector>

#include "batchprop/distributed.hpp"
#include "batchprop/trainer.hpp"

namespace batchprop {

template <class T>
void Trainer<T>::set_communicator(Communicator* comm, std::uint64_t data_fingerprint) {
    comm_ = comm;
    if (!comm_) return;
    // Eager, one step per segment: the MPI calls of a step are host-side, so a CUDA graph
    // could not hold them (NCCL's could, but the replica check and the agreed stop are MPI).
    if (launch_ == Launch::fused && cfg_.launch == Launch::fused)
        throw SettingError(Setting::launch, "fused",
                           " runs in one process; distributed steps are launched one call at a time");
    launch_ = Launch::eager;
    plan_segments();
    const std::size_t n_params = bp_.layout().n_params();
    zero_nabla_ = Buffer<T>(be_, n_params);
    zero_nabla_.upload(std::vector<T>(n_params, T(0)));
    // Everything that must be the same on every rank for the runs to be one run.
    const std::vector<int>& sizes = bp_.layout().sizes();
    std::uint64_t h = fingerprint(sizes.data(), sizes.size() * sizeof(int));
    const long long ints[] = {train_.n,          eval_ ? eval_->n : -1, cfg_.epochs, cfg_.batch,
                              int(cfg_.cost),    int(cfg_.mode),        cfg_.shuffle, (long long)sizeof(T),
                              (long long)cfg_.seed, cfg_.first_epoch};
    h = fingerprint(ints, sizeof ints, h);
    const double reals[] = {cfg_.eta, cfg_.lambda};
    h = fingerprint(reals, sizeof reals, h);
    settings_fingerprint_ = fingerprint(&data_fingerprint, sizeof data_fingerprint, h);
}

template <class T>
void Trainer<T>::distributed_step(int m, int offset) {
    // m is the global mini-batch; this rank takes columns [first, first + count) of it.
    const BatchSlice part = batch_slice(m, comm_->rank(), comm_->size());
    const std::size_t n_params = bp_.layout().n_params();
    if (part.count > 0) {
        const int n0 = train_.n_inputs, nL = bp_.layout().n(bp_.layout().n_layers());
        MatrixView<T> x(x_.data(), n0, part.count), y(y_.data(), nL, part.count);
        train_.with_images([&](auto images) {
            be_.gather_batch(x, y, images, train_.labels(), order_.data(), cursor_.data(), offset + part.first);
        });
        // nabla = sum over this slice's columns of grad C_x (materialised, beta = 0).
        bp_.backprop(x, y, cfg_.mode, cfg_.cost);
    } else {
        // P > m (or a small last batch): nothing to compute, zeros to contribute.
        be_.copy(bp_.nabla_device(), zero_nabla_.data(), n_params * sizeof(T), CopyKind::device_to_device);
    }
    // nabla = the sum over all ranks: the gradient sum of the whole global mini-batch.
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    if (be_.kind() == DeviceKind::cpu) {
        // CPU ranks block in the sum anyway; an 8-byte all-reduce first separates the wait for
        // the slowest rank (load imbalance) from the transfer in the figures. (GPU ranks skip
        // it: NCCL's sum is queued on the stream, and the host must not wait there.)
        std::uint64_t ready = 0;
        comm_->allreduce_host(&ready, 1, ReduceOp::max);
        allreduce_wait_seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
    }
    comm_->allreduce_sum(bp_.nabla_device(), n_params, be_);
    allreduce_seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
    // The same update on every rank, averaged by the global m.
    bp_.update(cfg_.eta, cfg_.lambda, train_.n, m);
}

template <class T>
bool Trainer<T>::any_rank_stops(const TrainCallbacks& cb) {
    std::uint64_t stop = cb.stop && cb.stop->load(std::memory_order_relaxed) ? 1 : 0;
    comm_->allreduce_host(&stop, 1, ReduceOp::max);
    return stop != 0;
}

template <class T>
void Trainer<T>::check_replicas(int epochs_done) {
    // Fingerprints of the settings and of the parameters' bytes, reduced with MIN and MAX:
    // equal on every rank exactly when min == max (one download and two tiny all-reduces).
    const std::vector<T> p = bp_.params();
    std::uint64_t lo[2] = {settings_fingerprint_, fingerprint(p.data(), p.size() * sizeof(T))};
    std::uint64_t hi[2] = {lo[0], lo[1]};
    comm_->allreduce_host(lo, 2, ReduceOp::min);
    comm_->allreduce_host(hi, 2, ReduceOp::max);
    if (lo[0] != hi[0])
        throw ReplicasDiffer("the " + std::to_string(comm_->size()) +
                             " ranks were started with different settings or data (every rank must be given the "
                             "same command line and files)");
    if (lo[1] != hi[1])
        throw ReplicasDiffer(epochs_done == 0
                                 ? "the ranks start from different parameters (is --init-model the same file everywhere?)"
                                 : "the ranks' parameters differ after epoch " + std::to_string(epochs_done) +
                                       ": the replicas have drifted apart (a non-deterministic all-reduce?)");
}

template void Trainer<float>::set_communicator(Communicator*, std::uint64_t);
template void Trainer<double>::set_communicator(Communicator*, std::uint64_t);
template void Trainer<float>::distributed_step(int, int);
template void Trainer<double>::distributed_step(int, int);
template bool Trainer<float>::any_rank_stops(const TrainCallbacks&);
template bool Trainer<double>::any_rank_stops(const TrainCallbacks&);
template void Trainer<float>::check_replicas(int);
template void Trainer<double>::check_replicas(int);

}  // namespace batchprop
