// choose_runner (runner.hpp): the one place a trainer's way of running is decided, once.
// resolve_launch (trainer.cpp) is the pure rule; this gathers what it needs to know.
#include <string>

#include "engine/runners/runner.hpp"
#include "fused/fused_device.hpp"
#include "fused/fused_plan.hpp"

namespace batchprop {

template <class T>
std::unique_ptr<Runner<T>> choose_runner(TrainerState<T>& st, Communicator* comm, std::uint64_t data_fingerprint) {
    const TrainConfig& cfg = st.cfg;
    // What the device offers: a fused step (with shared memory to plan for), and recordings.
    FusedDevice<T>* const fused = fused_device(st.be);
    const bool device_fuses = fused && fused->fused_shared_limit() > 0;
    FusedEpochPlan plans;
    std::string plan_error;
    bool preferred = false;
    if (device_fuses && cfg.mode == Mode::matrix) {
        try {
            plans = plan_fused_epoch(st.bp.layout(), st.train.n, cfg.batch, sizeof(T), fused->fused_shared_limit());
            preferred = fused_step_preferred(plans.full);
        } catch (const Error& e) {
            plan_error = e.what();
        }
    }
    const Launch launch = resolve_launch(cfg.launch, cfg.mode, device_fuses, plan_error, preferred, st.be.can_record());
    if (comm) {
        // Data-parallel steps are eager (runner.hpp): a fused launch asked for by name is refused,
        // one that --launch auto would have chosen gives way.
        if (launch == Launch::fused && cfg.launch == Launch::fused)
            throw SettingError(Setting::launch, "fused",
                               " runs in one process; distributed steps are launched one call at a time");
        return make_data_parallel_runner(st, *comm, data_fingerprint);
    }
    switch (launch) {
        case Launch::fused: return make_fused_runner(st, *fused, plans);
        case Launch::graph: return make_graph_runner(st);
        case Launch::automatic:  // resolve_launch never answers automatic
        case Launch::eager: break;
    }
    return make_eager_runner(st);
}

template std::unique_ptr<Runner<float>> choose_runner(TrainerState<float>&, Communicator*, std::uint64_t);
template std::unique_ptr<Runner<double>> choose_runner(TrainerState<double>&, Communicator*, std::uint64_t);

}  // namespace batchprop
