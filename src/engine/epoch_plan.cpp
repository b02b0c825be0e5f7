// See epoch_plan.hpp.
#include "batchprop/epoch_plan.hpp"

#include <algorithm>

#include "batchprop/backprop.hpp"
#include "batchprop/check.hpp"

namespace batchprop {

std::vector<Segment> plan_epoch(int n, int m, int segment_steps) {
    BP_REQUIRE(n >= 1 && m >= 1 && m <= n && segment_steps >= 1,
               "plan_epoch: n = " << n << ", m = " << m << ", segment_steps = " << segment_steps);
    std::vector<Segment> plan;
    const int full = n / m, rest = n % m;
    int first = 0;
    for (int left = full; left > 0;) {
        const int steps = std::min(left, segment_steps);
        plan.push_back({steps == segment_steps ? SegmentKind::full : SegmentKind::tail, first, steps, m});
        first += steps * m;
        left -= steps;
    }
    if (rest > 0) plan.push_back({SegmentKind::partial, first, 1, rest});
    return plan;
}

int recorded_segment_steps(int m, Mode mode, int n_layers) {
    // Kernel launches per step: matrix mode 5L (gather; per layer a product and bias+sigma;
    // the output delta; per layer the weight product; per hidden layer W^T delta and its
    // delta kernel); per-example mode does the per-column part m times, plus the update.
    constexpr long long kTargetNodes = 2000;    // per recording
    constexpr long long kTargetExamples = 2000;  // per replay: a progress/Ctrl-C point
    const long long L = std::max(1, n_layers);
    const long long per_step = mode == Mode::matrix ? 5 * L : (5 * L - 1) * m + 2;
    const long long by_nodes = std::max(1LL, kTargetNodes / per_step);
    const long long by_examples = std::max(1LL, kTargetExamples / std::max(1, m));
    return int(std::min(by_nodes, by_examples));
}

SegmentAction segment_action(bool recording_enabled, int seen, bool have_recording) {
    if (have_recording) return SegmentAction::replay;
    if (!recording_enabled || seen == 0) return SegmentAction::run;
    return SegmentAction::record_then_replay;
}

}  // namespace batchprop
