// Host-side launcher of the fused step kernel (fused_step.cu; the plan in
// include/batchprop/fused_step.hpp, the program in src/fused/fused_program.hpp).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "batchprop/fused_step.hpp"
#include "fused/fused_program.hpp"

namespace batchprop {
namespace kernels {

// Bytes of dynamic shared memory one block may have on `device` (the opt-in maximum).
std::size_t fused_shared_limit(int device);

// `steps` fused SGD steps in one launch of one block of kFusedThreads threads, from position
// *cursor + offset of a.order. a.params and a.scratch are device memory (a.scratch may be null
// when shape.scratch_shared); the kernel moves the parameters into shared memory and back
// when shape.params_shared.
template <class T, class S>
void fused_train_steps(cudaStream_t stream, const FusedShape& shape, const fused::Args<T, S>& a,
                       const int* cursor, int offset, int steps);

}  // namespace kernels
}  // namespace batchprop
