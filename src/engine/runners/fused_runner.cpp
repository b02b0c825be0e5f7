// Launch::fused: each segment of steps in one launch of the device's fused step (src/fused/):
// the cluster step (cluster_program.hpp) where it was chosen, else the one-block step
// (fused_program.hpp); the plans of the epoch's full and partial batches, made once, and the
// scratch in global memory the one-block step needs. A cluster the device turns down at launch
// gives way to the one-block step for the rest of the run, with a notice.
#include <memory>
#include <string>

#include "engine/runners/runner.hpp"
#include "fused/cluster_plan.hpp"
#include "fused/fused_device.hpp"

namespace batchprop {

namespace {

template <class T>
class FusedRunner final : public Runner<T> {
public:
    FusedRunner(TrainerState<T>& state, FusedDevice<T>& device, const FusedEpochPlan& plans, const ClusterEpochPlan& cluster)
        : st_(state),
          device_(device),
          plans_(plans),
          cluster_(cluster),
          scratch_(state.be, std::size_t(plans.global_scratch_elems)) {}

    Launch launch() const override { return Launch::fused; }
    int segment_steps() const override { return fused_segment_steps(st_.cfg.batch); }

    void run_segment(const Segment& s, const TrainCallbacks& cb) override {
        st_.train.with_images([&](auto images) { launch_steps(s, images, cb); });
        st_.be.advance_cursor(st_.cursor.data(), s.examples());
        // As after a replay: the host stays one segment ahead at most, so progress and the stop
        // flag are honest.
        st_.be.synchronize();
    }

private:
    template <class S>
    void launch_steps(const Segment& s, ConstView<S> images, const TrainCallbacks& cb) {
        fused::Args<T, S> a;
        a.params = st_.bp.params_device();
        a.scratch = scratch_.data();
        a.scratch_elems = static_cast<long long>(scratch_.size());
        a.images = images.data;
        a.labels = st_.train.labels();
        a.order = st_.order.data();
        a.cursor = st_.cursor.data();
        a.steps = s.steps;
        a.cost = st_.cfg.cost;
        const SgdScalars sgd = sgd_scalars(st_.cfg.eta, st_.cfg.lambda, st_.train.n, s.m);  // as Backprop::train_step
        a.alpha = T(sgd.alpha);
        a.decay = T(sgd.decay);
        const bool partial = s.kind == SegmentKind::partial;
        if (cluster_.full.N > 0) {
            try {
                device_.cluster_train_steps(partial ? cluster_.partial : cluster_.full, a);
                return;
            } catch (const ClusterUnavailable& e) {
                // Turned down before anything ran: the same steps on one block, from here on.
                cluster_.full.N = 0;
                if (cb.on_notice)
                    cb.on_notice(std::string("the cluster step could not be launched (") + e.what() +
                                 "); the fused step runs on one block");
            }
        }
        device_.fused_train_steps(partial ? plans_.partial : plans_.full, a);
    }

    TrainerState<T>& st_;
    FusedDevice<T>& device_;
    const FusedEpochPlan plans_;
    ClusterEpochPlan cluster_;  // full.N = 0: the one-block step
    Buffer<T> scratch_;  // plans_.global_scratch_elems (none when both plans keep it in shared memory)
};

}  // namespace

template <class T>
std::unique_ptr<Runner<T>> make_fused_runner(TrainerState<T>& state, FusedDevice<T>& device, const FusedEpochPlan& plans,
                                             const ClusterEpochPlan& cluster) {
    return std::make_unique<FusedRunner<T>>(state, device, plans, cluster);
}

template std::unique_ptr<Runner<float>> make_fused_runner(TrainerState<float>&, FusedDevice<float>&, const FusedEpochPlan&,
                                                          const ClusterEpochPlan&);
template std::unique_ptr<Runner<double>> make_fused_runner(TrainerState<double>&, FusedDevice<double>&,
                                                           const FusedEpochPlan&, const ClusterEpochPlan&);

}  // namespace batchprop
