// The order in which a sweep's models run, and on a GPU which would share a launch
// (sweep.hpp): pure functions of the models and the device, so the CPU tests pin them down.
#include "batchprop/sweep.hpp"

#include <algorithm>
#include <numeric>

namespace batchprop {

namespace {
// A step's fixed cost beyond its arithmetic (the calls, the gather, the update's loop heads),
// in multiply-adds: a few microseconds of a CPU core (an estimate). Only the order depends on
// it, never a result.
constexpr double kStepOverhead = 2e4;
}  // namespace

double model_work(const SweepModel& model, int n_train) {
    double weights = 0.0;
    for (std::size_t l = 1; l < model.sizes.size(); ++l) weights += double(model.sizes[l]) * double(model.sizes[l - 1]);
    const TrainConfig& c = model.config;
    const int m = c.mode == Mode::per_example ? 1 : std::max(1, c.batch);  // per example: a step per example
    const double steps = double((n_train + m - 1) / m);
    const int epochs = std::max(0, c.epochs - c.first_epoch);
    return double(epochs) * (3.0 * weights * double(n_train) + kStepOverhead * steps);
}

SweepSchedule schedule_sweep(const std::vector<SweepModel>& models, const std::vector<double>& work,
                             const std::vector<bool>& fusable, const SweepDevice& device) {
    BP_REQUIRE(work.size() == models.size() && (fusable.empty() || fusable.size() == models.size()),
               "schedule_sweep: one work figure (and fusable flag) per model");
    std::vector<int> order(models.size());
    std::iota(order.begin(), order.end(), 0);
    // Longest first; equal work in run-id order (stable), so the schedule is reproducible.
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return work[std::size_t(a)] > work[std::size_t(b)]; });
    SweepSchedule s;
    s.workers = std::max(1, device.workers);
    const bool launches = device.gpu && device.models_per_launch > 0 && !fusable.empty();
    SweepGroup rest;
    for (int i : order) {
        const int id = models[std::size_t(i)].id;
        if (!launches || !fusable[std::size_t(i)]) {
            rest.models.push_back(id);
            continue;
        }
        // In longest-first order, consecutive fusable models have similar work: a launch's
        // blocks then finish at about the same time.
        if (s.groups.empty() || int(s.groups.back().models.size()) == device.models_per_launch)
            s.groups.push_back(SweepGroup{{}, true});
        s.groups.back().models.push_back(id);
    }
    if (!rest.models.empty()) s.groups.push_back(std::move(rest));
    return s;
}

}  // namespace batchprop
