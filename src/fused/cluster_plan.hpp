// The cluster step's plan (sm_90 thread-block clusters; issue 20, items 2 and 3): whole
// matrix-mode SGD steps of a small network on a cluster of N blocks, one per SM, in one launch
// per segment. Layer 1's weights are split by rows (hidden units) over the blocks and held in
// registers across the steps; everything above layer 1 (the "head") is small and replicated on
// every block, so one exchange per step suffices: each block sends its rows of a[1] to every
// peer's shared memory. N = 1 is the one-block case of the same program.
//
// Why the result is the same bit for bit for every N: every z[1](i, j) is summed on the one
// block that owns row i, in a fixed tree (32 chunks of inputs, one per lane, each summed in
// order, then the chunks pairwise: a warp's butterfly) that depends on n_0 only; the exchange
// only copies; the head runs the same code on the same data on every block. N changes which
// block computes a row, never how.
//
// Plain data made by pure functions, tested on the CPU; the program is cluster_program.hpp,
// run by the CUDA kernel (kernels/cluster_kernel.cu) and by the host driver (cluster_host.*),
// which emulates the N blocks. Internal, like fused_plan.hpp.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "fused/fused_plan.hpp"

namespace batchprop {

constexpr int kClusterMaxSize = 8;    // blocks in a cluster: the portable limit
constexpr int kClusterThreads = 512;  // threads of each block: 16 warps, up to 128 registers each
constexpr int kClusterWarps = kClusterThreads / 32;
// Layer 1's sums are cut into 32 chunks, chunk c holding inputs k = c, c + 32, c + 64, ...:
// lane c of a warp sums chunk c, so a warp's loads of x are 32 consecutive values (no bank
// conflict), and a warp's butterfly adds the chunks pairwise.
constexpr int kClusterLanes = 32;
// Inputs a lane holds per row, in registers: ceil(n_0 / 32) <= 32, so n_0 <= 1024.
constexpr int kClusterMaxK = 32;
// Rows of layer 1 a lane holds: 2 x 32 floats or 1 x 32 doubles, 64 registers of weights.
BP_HD constexpr int cluster_max_rows(std::size_t elem_size) { return elem_size == 4 ? 2 : 1; }
// Columns of a batch: one lane of the fetch warp (the block's last) fetches each column.
constexpr int kClusterMaxBatch = 32;
// The rows of layer 1 the plan gives each block where the device allows (it then picks the
// smallest N that gets there): few enough that a block's layer-1 work is a few warps, not so few
// that the replicated head and the cluster barrier dominate. A first guess, for the GPU run's
// N sweep to confirm or correct (scripts/gpu-check.sh, cluster-sweep).
constexpr int kClusterRowsPerBlock = 4;

// Where everything is and how the work is cut, for one network, one m, one scalar size and one
// image element size. Trivially copyable: the kernel's first argument. Offsets count
// elements of T; every region of shared memory starts 16 bytes aligned.
struct ClusterShape {
    int L = 0;                        // layers with weights
    int m = 0;                        // columns (examples) per mini-batch
    int n[kFusedMaxLayers + 1] = {};  // n_0 .. n_L
    long long w_off[kFusedMaxLayers + 1] = {};  // w[l] in the flat parameters (ParamLayout's offsets)
    long long b_off[kFusedMaxLayers + 1] = {};  // b[l]
    long long n_params = 0;
    int N = 0;  // blocks in the cluster (with_cluster_size); 0 until chosen
    int K = 0;  // ceil(n_0 / 32): the terms of a chunk of layer 1's sums, the weights a lane holds per row
    int R = 0;  // rows of layer 1 per lane (a warp's rows), 1 .. cluster_max_rows
    int elem_bytes = 0;   // sizeof(T) the plan is for
    int image_bytes = 0;  // sizeof(S) of the images the plan is for (1: bytes, 4: float inputs)
    int col_bytes = 0;    // one staged column: n_0 image_bytes rounded up to 16
    // The columns arrive by bulk asynchronous copies (n_0 image_bytes is a multiple of 16, as
    // the copies need; the launch also needs the images 16-byte aligned, else plain loads).
    bool bulk = false;
    // Shared memory of every block:
    long long bar_off = 0;  // the fetch's mbarrier (8 bytes)
    long long head_w_off[kFusedMaxLayers + 1] = {};  // w[l], l >= 2 (n_l x n_{l-1}): the replicated head
    long long head_b_off[kFusedMaxLayers + 1] = {};  // b[l], l >= 2
    long long b1_off = 0;                            // b[1] (n_1; a block uses its own rows)
    long long x_off[2] = {};  // the inputs of step s in x[s % 2] (n_0 x m, leading dimension n_0)
    long long y_off[2] = {};  // the m labels of x[0], x[1] (as T)
    long long e_off = 0;      // the m examples being fetched (int)
    long long a1_off[2] = {};  // a[1] of step s in a1[s % 2] (n_1 x m): the rows every block sends
    long long a_off[kFusedMaxLayers + 1] = {};  // a[l], l >= 2 (n_l x m)
    long long d_off[kFusedMaxLayers + 1] = {};  // delta[l], l >= 1 (n_l x m; a block's own rows of delta[1])
    long long stage_off = 0;  // the fetched columns, col_bytes each, before conversion
    long long shared_elems = 0;
    long long shared_bytes = 0;  // dynamic shared memory of each block
};

// The rows of layer 1 block `rank` owns: [cluster_row_begin(s, rank), cluster_row_begin(s, rank + 1)),
// n_1 split as evenly as N allows.
BP_HD int cluster_row_begin(const ClusterShape& s, int rank) {
    return int((long long)rank * s.n[1] / s.N);
}

// The plan of everything but N for `layout` at m columns, elem_size = sizeof(T), image_bytes =
// sizeof(S), shared_limit = the bytes of shared memory one block may have. Throws
// batchprop::Error saying why when the cluster step cannot run it: more than kFusedMaxLayers
// layers, m outside 1..kClusterMaxBatch, n_0 > 32 kClusterMaxK, layer 1 too wide for the
// registers of kClusterMaxSize blocks, or more shared memory than the limit.
ClusterShape plan_cluster_step(const ParamLayout& layout, int m, std::size_t elem_size, std::size_t image_bytes,
                               std::size_t shared_limit);

// The fewest blocks whose registers hold layer 1: ceil(n_1 / N) rows fit (kClusterWarps - 1)
// warps of cluster_max_rows rows (the last warp fetches the next batch).
int cluster_min_size(const ClusterShape& shape);
// N for this plan on a device that can schedule clusters of up to max_schedulable blocks with
// its shared memory (0: none): kClusterRowsPerBlock rows a block where possible, at least
// cluster_min_size, at most max_schedulable and n_1. 0 when no N fits.
int choose_cluster_size(const ClusterShape& shape, int max_schedulable);
// The plan run on N blocks: R, the rows a lane holds, as few as fit. Throws batchprop::Error
// when N is outside cluster_min_size .. min(n_1, kClusterMaxSize).
ClusterShape with_cluster_size(ClusterShape shape, int N);

// The largest cluster a device schedules for the cluster step, from what it reports: its
// compute capability (clusters need 9.0), whether it launches clusters at all, and
// active(N), the clusters of N blocks that can be resident at once (cudaOccupancyMaxActiveClusters
// for a block's shared_bytes; 0 where it refuses the size). 0 where none, the reason in *why.
// The CUDA backend's cluster_max_size is this with the device's answers (kernels/cluster_kernel.cu).
int largest_cluster(int cc_major, int cc_minor, bool cluster_launch, const std::function<int(int)>& active,
                    std::size_t shared_bytes, std::string* why);

// The plans for an epoch of n examples in mini-batches of m, as plan_fused_epoch: the full
// batches' and the partial batch's (L = 0 when there is none); both without N.
struct ClusterEpochPlan {
    ClusterShape full;
    ClusterShape partial;
};
ClusterEpochPlan plan_cluster_epoch(const ParamLayout& layout, int n, int m, std::size_t elem_size,
                                    std::size_t image_bytes, std::size_t shared_limit);

// BATCHPROP_FUSED_CLUSTER, the switch of the cluster step: unset, "" or "0" -> 0 (the one-block
// fused step: the default until a GPU run has checked the cluster kernel against the CPU and
// timed it, scripts/gpu-check.sh), "auto" -> -1 (the plan chooses N), "1".."8" -> that N.
// Throws batchprop::Error for anything else.
int parse_cluster_override(const char* text);

// Which fused step a fused launch runs. N > 0: the cluster step on N blocks; N = 0: the one-block
// step. `notice` (one line, said once when the run starts) says why when the cluster step was
// asked for but cannot be had as asked (the plan refuses the network, the device cannot run or
// schedule the cluster, or the N asked for is outside what fits); empty when it was not asked
// for or runs as asked. Never an error: the one-block step trains the same network.
struct ClusterDecision {
    int N = 0;
    std::string notice;
};
// plan_error: plan_cluster_step's refusal ("" when planned); max_schedulable and device_why: the
// device's answer for the plan's shared memory (0 and its reason when it has no clusters);
// asked: parse_cluster_override's answer.
ClusterDecision decide_cluster(const std::string& plan_error, const ClusterShape& shape, int max_schedulable,
                               const std::string& device_why, int asked);

// Whether Launch::automatic picks the cluster step of N blocks for batches of m: up to this m
// (the one-block step's crossing with graph was m = 12; the cluster step spreads layer 1 over N
// SMs, so its time grows with m N times slower). Pending the GPU run's m sweep.
constexpr int kClusterAutoMaxBatch = kClusterMaxBatch;
bool cluster_step_preferred(const ClusterShape& shape);

// Steps per fused segment (one launch, then a wait): at least kFusedSegmentExamples examples
// and kFusedSegmentSteps steps, so that the launch, the cursor's kernel and the wait (~10-20 us)
// stay under 1% of a segment at ~2-4 us a step; still a few milliseconds, so progress and
// Ctrl-C stay prompt.
constexpr int kFusedSegmentExamples = 10000;
constexpr int kFusedSegmentSteps = 1000;
int fused_segment_steps(int m);

}  // namespace batchprop
