// Host-side launcher of the fused step kernel (fused_kernel.cu; the plan in
// src/fused/fused_plan.hpp, the program in src/fused/fused_program.hpp).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "fused/fused_plan.hpp"
#include "fused/fused_program.hpp"

namespace batchprop {
namespace kernels {

// Opts every instantiation of the kernel in to the most dynamic shared memory a block may
// have on `device`, once per device (later calls only return it), and returns that limit:
// what every plan for the device is made with. `device` must be the current device (the
// attributes are set for it).
std::size_t prepare_fused_kernel(int device);
// The maximum dynamic shared memory attribute of one instantiation on the current device
// (tests: it stays prepare_fused_kernel's limit, whatever is launched).
template <class T, class S>
int fused_kernel_shared_attribute();

// The launch `a` (args.steps fused SGD steps) as one block of kFusedThreads threads on `stream`.
// args.params and args.scratch are device memory (args.scratch may be null when shape.scratch_shared);
// the kernel moves the parameters into shared memory and back when shape.params_shared.
template <class T, class S>
void fused_train_steps(cudaStream_t stream, const FusedShape& shape, const fused::Args<T, S>& args);

// A shared launch: `count` blocks of kFusedThreads threads on `stream`, block b running
// models[b] (device memory: the array of plans and arguments), each with shared_bytes of dynamic
// shared memory (the most any of the plans asks for).
template <class T, class S>
void fused_train_models(cudaStream_t stream, const fused::ModelLaunch<T, S>* models, int count, std::size_t shared_bytes);

}  // namespace kernels
}  // namespace batchprop
