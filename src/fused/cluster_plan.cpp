// The cluster step's plan (cluster_plan.hpp): the shared-memory layout of each block, how
// layer 1 is cut over the blocks and their warps, the choice of N and of the fused step.
#include "fused/cluster_plan.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "batchprop/check.hpp"

namespace batchprop {

namespace {
int ceil_div(long long a, long long b) { return int((a + b - 1) / b); }
// Rows of layer 1 one block can hold: its F1 warps (all but the fetch warp) times the rows a lane holds.
int block_rows(std::size_t elem_size) { return (kClusterWarps - 1) * cluster_max_rows(elem_size); }
}  // namespace

ClusterShape plan_cluster_step(const ParamLayout& layout, int m, std::size_t elem_size, std::size_t image_bytes,
                               std::size_t shared_limit) {
    const int L = layout.n_layers();
    if (!(L >= 1 && L <= kFusedMaxLayers)) BP_THROW("the cluster step handles networks of 1.." << kFusedMaxLayers << " weight layers, not " << L);
    if (!(elem_size == 4 || elem_size == 8)) BP_THROW("the cluster step computes in float or double");
    if (!(image_bytes == 1 || image_bytes == 4)) BP_THROW("the cluster step reads byte or float images");
    if (!(m >= 1 && m <= kClusterMaxBatch)) BP_THROW("the cluster step takes mini-batches of 1.." << kClusterMaxBatch << " columns, not " << m);
    ClusterShape s;
    s.L = L;
    s.m = m;
    for (int l = 0; l <= L; ++l) s.n[l] = layout.n(l);
    for (int l = 1; l <= L; ++l) {
        s.w_off[l] = static_cast<long long>(layout.w_offset(l));
        s.b_off[l] = static_cast<long long>(layout.b_offset(l));
    }
    s.n_params = static_cast<long long>(layout.n_params());
    if (!(s.n[0] <= kClusterLanes * kClusterMaxK)) BP_THROW("the cluster step holds up to " << kClusterLanes * kClusterMaxK << " inputs in registers, not " << s.n[0]);
    if (!(s.n[1] <= kClusterMaxSize * block_rows(elem_size))) BP_THROW("the cluster step holds up to " << kClusterMaxSize * block_rows(elem_size) << " units of layer 1 in "
                                               << kClusterMaxSize << " blocks' registers, not " << s.n[1]);
    if (!(s.n[L] < (1 << 24))) BP_THROW("the cluster step handles up to 2^24 - 1 output neurons, not " << s.n[L]);
    if (!(s.n_params < INT_MAX)) BP_THROW("network " << sizes_to_string(layout.sizes()) << " is too large for the cluster step");
    s.K = ceil_div(s.n[0], kClusterLanes);
    s.elem_bytes = int(elem_size);
    s.image_bytes = int(image_bytes);
    const long long col = static_cast<long long>(s.n[0]) * static_cast<long long>(image_bytes);
    s.col_bytes = int((col + 15) / 16 * 16);
    s.bulk = col % 16 == 0;

    // Regions of T, each rounded up to 16 bytes.
    const long long es = static_cast<long long>(elem_size), align = 16 / es;
    long long at = 0;
    const auto region = [&](long long elems) {
        const long long start = at;
        at += (elems + align - 1) / align * align;
        return start;
    };
    const long long mm = m;
    s.bar_off = region(1);  // 8 bytes of mbarrier in 16
    for (int l = 2; l <= L; ++l) {
        s.head_w_off[l] = region(static_cast<long long>(s.n[l]) * s.n[l - 1]);
        s.head_b_off[l] = region(s.n[l]);
    }
    s.b1_off = region(s.n[1]);
    for (int b = 0; b < 2; ++b) s.x_off[b] = region(static_cast<long long>(s.n[0]) * mm);
    for (int b = 0; b < 2; ++b) s.y_off[b] = region(mm);
    s.e_off = region((mm * 4 + es - 1) / es);  // m ints
    for (int b = 0; b < 2; ++b) s.a1_off[b] = region(static_cast<long long>(s.n[1]) * mm);
    for (int l = 2; l <= L; ++l) s.a_off[l] = region(static_cast<long long>(s.n[l]) * mm);
    for (int l = 1; l <= L; ++l) s.d_off[l] = region(static_cast<long long>(s.n[l]) * mm);
    s.stage_off = region(mm * s.col_bytes / es);  // col_bytes is a multiple of 16, so of es
    s.shared_elems = at;
    s.shared_bytes = at * es;
    if (!(s.shared_bytes <= static_cast<long long>(shared_limit))) BP_THROW("the cluster step needs " << s.shared_bytes << " bytes of shared memory a block for "
                                         << sizes_to_string(layout.sizes()) << " at m = " << m << ", the device allows "
                                         << shared_limit);
    return s;
}

int cluster_min_size(const ClusterShape& shape) {
    return std::max(1, ceil_div(shape.n[1], block_rows(std::size_t(shape.elem_bytes))));
}

int choose_cluster_size(const ClusterShape& shape, int max_schedulable) {
    const int lo = cluster_min_size(shape);
    const int hi = std::min({max_schedulable, kClusterMaxSize, shape.n[1]});
    if (lo > hi) return 0;
    return std::clamp(ceil_div(shape.n[1], kClusterRowsPerBlock), lo, hi);
}

ClusterShape with_cluster_size(ClusterShape shape, int N) {
    const int lo = cluster_min_size(shape), hi = std::min(kClusterMaxSize, shape.n[1]);
    BP_REQUIRE(N >= lo && N <= hi, "the cluster step runs " << sizes_to_string(std::vector<int>(shape.n, shape.n + shape.L + 1))
                                                            << " on " << lo << ".." << hi << " blocks, not " << N);
    shape.N = N;
    // The fullest block's rows in as many warps as there are (but the fetch warp), each lane
    // holding as few rows as that allows: fewer rows a lane, more warps at once, a shorter step.
    const int rows = ceil_div(shape.n[1], N);
    shape.R = 1;
    while (ceil_div(rows, shape.R) > kClusterWarps - 1) ++shape.R;
    return shape;
}

int largest_cluster(int cc_major, int cc_minor, bool cluster_launch, const std::function<int(int)>& active,
                    std::size_t shared_bytes, std::string* why) {
    if (cc_major < 9) {
        if (why)
            *why = "thread-block clusters need compute capability 9.0, this GPU has " + std::to_string(cc_major) + "." +
                   std::to_string(cc_minor);
        return 0;
    }
    if (!cluster_launch) {
        if (why) *why = "this GPU does not launch thread-block clusters";
        return 0;
    }
    for (int n = kClusterMaxSize; n >= 1; --n)
        if (active(n) >= 1) return n;
    if (why)
        *why = "no cluster of " + std::to_string(kClusterThreads) + "-thread blocks with " + std::to_string(shared_bytes) +
               " bytes of shared memory each can be scheduled";
    return 0;
}

ClusterEpochPlan plan_cluster_epoch(const ParamLayout& layout, int n, int m, std::size_t elem_size,
                                    std::size_t image_bytes, std::size_t shared_limit) {
    BP_REQUIRE(n >= 1 && m >= 1, "the cluster step's epoch: n = " << n << ", m = " << m);
    ClusterEpochPlan p;
    p.full = plan_cluster_step(layout, m, elem_size, image_bytes, shared_limit);
    // Fewer columns need less of every region: the partial batch fits wherever the full one does.
    if (const int rest = n % m; rest > 0) p.partial = plan_cluster_step(layout, rest, elem_size, image_bytes, shared_limit);
    return p;
}

int parse_cluster_override(const char* text) {
    if (!text || !*text) return 0;
    if (std::strcmp(text, "auto") == 0) return -1;
    if (std::strlen(text) == 1 && text[0] >= '0' && text[0] <= '0' + kClusterMaxSize) return text[0] - '0';
    BP_THROW("BATCHPROP_FUSED_CLUSTER must be 0 (the one-block fused step), auto (the cluster step, N chosen) or 1.."
             << kClusterMaxSize << " (the cluster step on that many blocks), not '" << text << "'");
}

ClusterDecision decide_cluster(const std::string& plan_error, const ClusterShape& shape, int max_schedulable,
                               const std::string& device_why, int asked) {
    const std::string one_block = "the fused step runs on one block: ";
    if (asked == 0) return {};
    const std::string by_override =
        "BATCHPROP_FUSED_CLUSTER=" + (asked > 0 ? std::to_string(asked) : std::string("auto")) + ": ";
    if (!plan_error.empty()) return {0, by_override + one_block + plan_error};
    if (max_schedulable <= 0) return {0, by_override + one_block + device_why};
    const int lo = cluster_min_size(shape), hi = std::min({max_schedulable, kClusterMaxSize, shape.n[1]});
    const int chosen = choose_cluster_size(shape, max_schedulable);
    if (chosen == 0)
        return {0, by_override + one_block + "layer 1 of " + std::to_string(shape.n[1]) + " units needs a cluster of " +
                       std::to_string(lo) + " blocks, this device schedules " + std::to_string(max_schedulable) +
                       " with the shared memory it needs"};
    if (asked > 0 && (asked < lo || asked > hi))
        return {chosen, by_override + "not possible here (" + std::to_string(lo) + ".." + std::to_string(hi) +
                            " blocks); the cluster step runs on " + std::to_string(chosen)};
    return {asked > 0 ? asked : chosen, ""};
}

bool cluster_step_preferred(const ClusterShape& shape) {
    return shape.N > 0 && shape.m <= kClusterAutoMaxBatch;
}

int fused_segment_steps(int m) {
    return std::max(kFusedSegmentSteps, (kFusedSegmentExamples + std::max(1, m) - 1) / std::max(1, m));
}

}  // namespace batchprop
