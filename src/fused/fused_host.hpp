// The fused step run on the host (tests): the program of fused_step_program.hpp with its items
// run one after another, in increasing or in decreasing order. Not a backend: it exists so the
// CPU tests reach the arithmetic and the phase structure the CUDA kernel runs.
#pragma once

#include "fused/fused_program.hpp"

namespace batchprop {

// `steps` steps of shape.m examples from position `first` of a.order; a.params and a.scratch
// are host arrays (the parameters, and shape.scratch_elems of scratch).
template <class T, class S>
void fused_train_steps_host(const FusedShape& shape, const fused::Args<T, S>& a, int first, int steps,
                            bool reverse_items);

}  // namespace batchprop
