// The fused step run on the host (tests): the program of fused_program.hpp with its items run
// one after another, in increasing or in decreasing order. Not a backend: it exists so the CPU
// tests reach the arithmetic and the phase structure the CUDA kernel runs.
#pragma once

#include "fused/fused_program.hpp"

namespace batchprop {

// The launch `args` on the host: args.steps steps of shape.m examples from position *args.cursor +
// args.offset of args.order. Every pointer is a host pointer; args.scratch holds shape.scratch_elems.
template <class T, class S>
void fused_train_steps_host(const FusedShape& shape, const fused::Args<T, S>& args, bool reverse_items);

}  // namespace batchprop
