// Data-parallel training (distributed.hpp): each step takes this rank's slice of the global
// mini-batch, computes its gradient sum, all-reduces it through the communicator and applies
// the update for the global m; evaluation splits the examples across ranks and adds up the
// sums; the stop flag and the replicas' settings and parameters are agreed on. Steps run
// eagerly, one per segment: MPI's calls are host-side and cannot be recorded in a CUDA graph
// (NCCL's could, but the replica check and the agreed stop are MPI).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "engine/runners/eager_runner.hpp"

namespace batchprop {

namespace {

template <class T>
class DataParallelRunner final : public EagerRunner<T> {
public:
    DataParallelRunner(TrainerState<T>& state, Communicator& comm, std::uint64_t data_fingerprint)
        : EagerRunner<T>(state), comm_(comm), zero_nabla_(state.be, state.bp.layout().n_params()) {
        zero_nabla_.upload(std::vector<T>(zero_nabla_.size(), T(0)));
        // Everything that must be the same on every rank for the runs to be one run.
        const TrainConfig& c = state.cfg;
        const std::vector<int>& sizes = state.bp.layout().sizes();
        std::uint64_t h = fingerprint(sizes.data(), sizes.size() * sizeof(int));
        const long long ints[] = {state.train.n,       state.eval ? state.eval->n : -1, c.epochs,    c.batch,
                                  int(c.cost),         int(c.mode),                     c.shuffle,   (long long)sizeof(T),
                                  (long long)c.seed,   c.first_epoch};
        h = fingerprint(ints, sizeof ints, h);
        const double reals[] = {c.eta, c.lambda};
        h = fingerprint(reals, sizeof reals, h);
        settings_fingerprint_ = fingerprint(&data_fingerprint, sizeof data_fingerprint, h);
    }

    bool stop_requested(const TrainCallbacks& cb) override {
        std::uint64_t stop = cb.stop && cb.stop->load(std::memory_order_relaxed) ? 1 : 0;
        comm_.allreduce_host(&stop, 1, ReduceOp::max);
        return stop != 0;
    }

    void check_replicas(int epochs_done) override {
        // Fingerprints of the settings and of the parameters' bytes, reduced with MIN and MAX:
        // equal on every rank exactly when min == max (one download and two tiny all-reduces).
        const std::vector<T> p = this->st_.bp.params();
        std::uint64_t lo[2] = {settings_fingerprint_, fingerprint(p.data(), p.size() * sizeof(T))};
        std::uint64_t hi[2] = {lo[0], lo[1]};
        comm_.allreduce_host(lo, 2, ReduceOp::min);
        comm_.allreduce_host(hi, 2, ReduceOp::max);
        if (lo[0] != hi[0])
            throw ReplicasDiffer("the " + std::to_string(comm_.size()) +
                                 " ranks were started with different settings or data (every rank must be given the "
                                 "same command line and files)");
        if (lo[1] != hi[1])
            throw ReplicasDiffer(epochs_done == 0
                                     ? "the ranks start from different parameters (is --init-model the same file everywhere?)"
                                     : "the ranks' parameters differ after epoch " + std::to_string(epochs_done) +
                                           ": the replicas have drifted apart (a non-deterministic all-reduce?)");
    }

    // Each rank feeds forward its own contiguous share of the examples; the sums are added up.
    BatchSlice evaluation_share(int n) const override {
        return n > 0 ? batch_slice(n, comm_.rank(), comm_.size()) : BatchSlice{0, n};
    }
    void add_up(EvalSums& s) override {
        double sums[2] = {double(s.correct), s.cost};  // counts below 2^53 are exact in double
        comm_.allreduce_host(sums, 2, ReduceOp::sum);
        s.correct = static_cast<long long>(sums[0]);
        s.cost = sums[1];
    }

    double allreduce_seconds() const override { return allreduce_seconds_; }
    double allreduce_wait_seconds() const override { return allreduce_wait_seconds_; }

private:
    void step(int m, int offset) override {
        TrainerState<T>& st = this->st_;
        // m is the global mini-batch; this rank takes columns [first, first + count) of it.
        const BatchSlice part = batch_slice(m, comm_.rank(), comm_.size());
        const std::size_t n_params = st.bp.layout().n_params();
        if (part.count > 0) {
            const int n0 = st.train.n_inputs, nL = st.bp.layout().n(st.bp.layout().n_layers());
            MatrixView<T> x(st.x.data(), n0, part.count), y(st.y.data(), nL, part.count);
            st.train.with_images([&](auto images) {
                st.be.gather_batch(x, y, images, st.train.labels(), st.order.data(), st.cursor.data(), offset + part.first);
            });
            // nabla = sum over this slice's columns of grad C_x (materialised, beta = 0).
            st.bp.backprop(x, y, st.cfg.mode, st.cfg.cost);
        } else {
            // P > m (or a small last batch): nothing to compute, zeros to contribute.
            st.be.copy(st.bp.nabla_device(), zero_nabla_.data(), n_params * sizeof(T), CopyKind::device_to_device);
        }
        // nabla = the sum over all ranks: the gradient sum of the whole global mini-batch.
        using Clock = std::chrono::steady_clock;
        const auto t0 = Clock::now();
        if (st.be.kind() == DeviceKind::cpu) {
            // CPU ranks block in the sum anyway; an 8-byte all-reduce first separates the wait for
            // the slowest rank (load imbalance) from the transfer in the figures. (GPU ranks skip
            // it: NCCL's sum is queued on the stream, and the host must not wait there.)
            std::uint64_t ready = 0;
            comm_.allreduce_host(&ready, 1, ReduceOp::max);
            allreduce_wait_seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
        }
        comm_.allreduce_sum(st.bp.nabla_device(), n_params, st.be);
        allreduce_seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
        // The same update on every rank, averaged by the global m.
        st.bp.update(st.cfg.eta, st.cfg.lambda, st.train.n, m);
    }

    Communicator& comm_;
    std::uint64_t settings_fingerprint_ = 0;
    Buffer<T> zero_nabla_;  // zeros in nabla's layout: a rank with an empty slice sends them
    double allreduce_seconds_ = 0.0;
    double allreduce_wait_seconds_ = 0.0;
};

}  // namespace

template <class T>
std::unique_ptr<Runner<T>> make_data_parallel_runner(TrainerState<T>& state, Communicator& comm,
                                                     std::uint64_t data_fingerprint) {
    return std::make_unique<DataParallelRunner<T>>(state, comm, data_fingerprint);
}

template std::unique_ptr<Runner<float>> make_data_parallel_runner(TrainerState<float>&, Communicator&, std::uint64_t);
template std::unique_ptr<Runner<double>> make_data_parallel_runner(TrainerState<double>&, Communicator&, std::uint64_t);

}  // namespace batchprop
