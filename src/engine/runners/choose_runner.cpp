// choose_runner (runner.hpp): the one place a trainer's way of running is decided, once.
// resolve_launch (trainer.cpp) is the pure rule; this gathers what it needs to know.
#include <cstdlib>
#include <string>

#include "engine/runners/runner.hpp"
#include "engine/runners/tensor_math.hpp"
#include "fused/cluster_plan.hpp"
#include "fused/fused_device.hpp"
#include "fused/fused_plan.hpp"

namespace batchprop {

namespace {

// The cluster step's plans for this run, with N chosen (ClusterDecision::N = 0: the one-block
// step, and why when the cluster step was possible for this network but not here). A device
// whose launches are shared runs the one-block step (shared_launch.hpp).
template <class T>
ClusterDecision plan_cluster(FusedDevice<T>& device, const ParamLayout& layout, int n, PixelType pixels, int m,
                             ClusterEpochPlan& plans) {
    const int asked = device.launches_shared() ? 0 : parse_cluster_override(std::getenv("BATCHPROP_FUSED_CLUSTER"));
    const std::size_t image_bytes = pixels == PixelType::f32 ? sizeof(float) : 1;
    std::string plan_error, device_why;
    try {
        plans = plan_cluster_epoch(layout, n, m, sizeof(T), image_bytes, device.fused_shared_limit());
    } catch (const Error& e) {
        plan_error = e.what();
    }
    int max_n = 0;
    if (plan_error.empty() && asked != 0) max_n = device.cluster_max_size(std::size_t(plans.full.shared_bytes), &device_why);
    const ClusterDecision d = decide_cluster(plan_error, plans.full, max_n, device_why, asked);
    if (d.N > 0) {
        plans.full = with_cluster_size(plans.full, d.N);
        if (plans.partial.L > 0) plans.partial = with_cluster_size(plans.partial, d.N);
    }
    return d;
}

}  // namespace

template <class T>
LaunchChoice choose_launch(FusedDevice<T>* fused, bool can_record, const ParamLayout& layout, int n, PixelType pixels,
                           const TrainConfig& cfg) {
    LaunchChoice c;
    // What the device offers: a fused step (with shared memory to plan for), and recordings.
    const bool device_fuses = fused && fused->fused_shared_limit() > 0;
    std::string plan_error;
    bool preferred = false;
    if (device_fuses && cfg.mode == Mode::matrix) {
        try {
            c.plans = plan_fused_epoch(layout, n, cfg.batch, sizeof(T), fused->fused_shared_limit());
        } catch (const Error& e) {
            plan_error = e.what();
        }
        if (plan_error.empty()) {
            c.cluster = plan_cluster(*fused, layout, n, pixels, cfg.batch, c.cluster_plans);
            preferred = c.cluster.N > 0 ? cluster_step_preferred(c.cluster_plans.full) : fused_step_preferred(c.plans.full);
        }
        // The fused steps compute in the scalar type's own arithmetic: with TF32 asked for, the
        // products go to cuBLAS's tensor cores instead (validate refuses it with launch fused).
        if (cfg.math == Math::tf32) preferred = false;
    }
    c.launch = resolve_launch(cfg.launch, cfg.mode, device_fuses, plan_error, preferred, can_record);
    return c;
}

template <class T>
std::unique_ptr<Runner<T>> choose_runner(TrainerState<T>& st, Communicator* comm, std::uint64_t data_fingerprint) {
    const TrainConfig& cfg = st.cfg;
    // TF32 first: a contradiction in the settings whatever the device (tensor_math.hpp).
    const std::string math_notice = apply_math(st.be, cfg.math);
    FusedDevice<T>* const fused = fused_device(st.be);
    LaunchChoice c = choose_launch(fused, st.be.can_record(), st.bp.layout(), st.train.n, st.train.pixel_type(), cfg);
    if (comm) {
        // Data-parallel steps are eager (runner.hpp): a fused launch asked for by name is refused,
        // one that --launch auto would have chosen gives way.
        if (c.launch == Launch::fused && cfg.launch == Launch::fused)
            throw SettingError(Setting::launch, "fused",
                               " runs in one process; distributed steps are launched one call at a time");
        return with_notice(make_data_parallel_runner(st, *comm, data_fingerprint), {math_notice});
    }
    switch (c.launch) {
        case Launch::fused:
            return with_notice(make_fused_runner(st, *fused, c.plans, c.cluster_plans), {math_notice, c.cluster.notice});
        case Launch::graph: return with_notice(make_graph_runner(st), {math_notice});
        case Launch::automatic:  // resolve_launch never answers automatic
        case Launch::eager: break;
    }
    return with_notice(make_eager_runner(st), {math_notice});
}

template LaunchChoice choose_launch(FusedDevice<float>*, bool, const ParamLayout&, int, PixelType, const TrainConfig&);
template LaunchChoice choose_launch(FusedDevice<double>*, bool, const ParamLayout&, int, PixelType, const TrainConfig&);
template std::unique_ptr<Runner<float>> choose_runner(TrainerState<float>&, Communicator*, std::uint64_t);
template std::unique_ptr<Runner<double>> choose_runner(TrainerState<double>&, Communicator*, std::uint64_t);

}  // namespace batchprop
