// The fused step (Launch::fused): whole matrix-mode SGD steps of a small network run by ONE
// GPU thread block in ONE kernel launch per segment of steps, the parameters held in shared
// memory across the steps. For the book's [784,30,10] at m = 10 a step is ~0.5 M
// multiply-adds: a GPU spends longer starting the ten kernels of the library path (a GEMM
// of 30x784x10 is a few microseconds of launch and a fraction of one of work) than computing.
//
// This header is the plan: where the kernel keeps each array and how it cuts the work. It is
// plain data made by a pure function, so the decisions are tested on the CPU; the step itself
// is written once (fused_program.hpp) and run by the CUDA kernel and by a serial host driver
// that the CPU tests compare with the library path. Internal: the trainer's fused runner
// (src/engine/runners/fused_runner.cpp) is its only user outside src/fused/ and kernels/.
#pragma once

#include <cstddef>

#include "batchprop/math.hpp"
#include "batchprop/network.hpp"

namespace batchprop {

constexpr int kFusedMaxLayers = 8;   // L, layers with weights, that one plan can describe
constexpr int kFusedThreads = 1024;  // threads of the one block

// Register tiles of the two large products (fused_program.hpp). Each thread of the
// forward sum computes a kFusedFwdRows x kFusedFwdCols block of z = w a, each thread of the
// weight update a kFusedUpdRows x fused_upd_cols block of w: every value loaded from shared
// memory then feeds several multiply-adds instead of one (shared-memory loads, not arithmetic,
// bound a one-block step). Double uses narrower update tiles to stay within 64 registers.
constexpr int kFusedFwdRows = 4, kFusedFwdCols = 2, kFusedUpdRows = 4;
BP_HD constexpr int fused_upd_cols(std::size_t elem_size) { return elem_size == 4 ? 4 : 2; }
BP_HD constexpr int fused_tiles(int n, int tile) { return (n + tile - 1) / tile; }

// Where everything is and how the work is cut, for one network, one m and one scalar size.
// Trivially copyable: it is the kernel's first argument. Offsets count elements of T.
struct FusedShape {
    int L = 0;                            // layers with weights
    int m = 0;                            // columns (examples) per mini-batch
    int n[kFusedMaxLayers + 1] = {};      // n_0 .. n_L
    // The forward product of layer l is cut into split[l] ranges of its n_{l-1} terms, each
    // summed by its own thread (per tile), so that a layer of few outputs (30 x 10 = 300 sums
    // of 784, 40 tiles) still keeps the block's threads busy; a second pass adds the ranges in
    // order.
    int split[kFusedMaxLayers + 1] = {};
    // Leading dimension of x: n_0 made odd, so that the columns a warp reads at once fall in
    // different shared-memory banks (784 floats apart they would share one).
    int xld = 0;
    long long w_off[kFusedMaxLayers + 1] = {};  // w[l] (n_l x n_{l-1}), ParamLayout's offsets
    long long b_off[kFusedMaxLayers + 1] = {};  // b[l] (n_l)
    long long n_params = 0;
    // Scratch: two input buffers x (n_0 x m, leading dimension xld): step s reads x[s % 2] while its last phase
    // gathers step s + 1's batch into the other; a[l] and delta[l] (n_l x m); the forward's
    // partial sums (n_l x m x split[l], for the largest such layer); the labels of each x.
    long long x_off[2] = {};
    long long y_off[2] = {};  // the m labels of x[0], x[1] (as T)
    long long a_off[kFusedMaxLayers + 1] = {};
    long long d_off[kFusedMaxLayers + 1] = {};
    long long p_off = 0;
    long long scratch_elems = 0;
    // Placement: the parameters in shared memory when they fit (read twice and written once
    // per step), then the scratch too when what is left holds it; otherwise global memory
    // (the L2 cache, for arrays this small).
    bool params_shared = false;
    bool scratch_shared = false;
    long long shared_bytes = 0;  // dynamic shared memory the launch asks for
};

// The plan for `layout` at m columns, elem_size = sizeof(T), shared_limit = the bytes of
// shared memory one block may have (0: none). Throws batchprop::Error when the network has
// more than kFusedMaxLayers layers, m < 1, or an index would overflow an int.
FusedShape plan_fused_step(const ParamLayout& layout, int m, std::size_t elem_size, std::size_t shared_limit);

// The plans for an epoch of n examples in mini-batches of m: the full batches' and, when m
// does not divide n, the last, partial batch's (n mod m columns; its L is 0 when there is
// none), and the scratch in global memory that serves both.
struct FusedEpochPlan {
    FusedShape full;
    FusedShape partial;
    long long global_scratch_elems = 0;  // elements of T; 0 when neither plan needs global scratch
};
FusedEpochPlan plan_fused_epoch(const ParamLayout& layout, int n, int m, std::size_t elem_size, std::size_t shared_limit);

// Whether Launch::automatic picks the fused step for this plan: the parameters live in shared
// memory and the batch is narrow. One block's time grows with m while the library path's is
// mostly launches; the two lines cross near m = 12 (bench/RESULTS.md, "On a GPU: NVIDIA H200
// (2026-11-29)", the fused/graph epochs at m = 1, 10, 32).
constexpr int kFusedAutoMaxBatch = 12;
bool fused_step_preferred(const FusedShape& shape);

}  // namespace batchprop
