// Entry points of the CUDA backend. Defined in kernels/cuda_backend.cu when the project is
// built with CUDA, and in kernels/no_cuda.cpp (reporting "built without CUDA") otherwise, so the
// rest of the code never needs an #ifdef.
#pragma once

#include <memory>

#include "batchprop/backend.hpp"

namespace batchprop {

// Asks the CUDA runtime which GPUs exist. Never throws: "driver insufficient" (error 35) and
// "no device" (100) are normal answers that come back as usable == false plus a reason.
GpuStatus query_gpus();

// A backend on GPU `device`; throws batchprop::Error when it cannot be created.
template <class T>
std::unique_ptr<Backend<T>> make_cuda_backend(int device);

}  // namespace batchprop
