// The cluster step run on the host (tests): the program of cluster_program.hpp on N emulated
// blocks. Not a backend: it exists so the CPU tests reach the arithmetic, the phases, the
// exchange and the barriers the CUDA kernel runs, for every N.
#pragma once

#include "fused/cluster_program.hpp"

namespace batchprop {

// The launch `args` on the host as `shape` (with its N) plans it: args.steps steps of shape.m
// examples from position *args.cursor + args.offset of args.order; every pointer a host
// pointer. The N blocks take turns, one at a time, from one cluster barrier to the next, in
// increasing rank order, or with `reverse` in decreasing order, each block's items and warps
// then also in decreasing order and its bulk copies landing only when waited for (in increasing
// order, at once): a phase whose items depend on each other, a read of a peer's rows before the
// barrier that brings them, or of a batch before its copies are waited for changes the result
// between the two. Shared memory starts as NaN (and -1 for integers), as unwritten memory
// would be anything.
template <class T, class S>
void cluster_train_steps_host(const ClusterShape& shape, const fused::Args<T, S>& args, bool reverse);

}  // namespace batchprop
