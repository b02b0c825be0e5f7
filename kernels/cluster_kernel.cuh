// Host-side launcher of the cluster step kernel (cluster_kernel.cu; the plan in
// src/fused/cluster_plan.hpp, the program in src/fused/cluster_program.hpp).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "fused/cluster_plan.hpp"
#include "fused/fused_program.hpp"

namespace batchprop {
namespace kernels {

// Opts every instantiation of the cluster kernel in to `shared_limit` bytes of dynamic shared
// memory (prepare_fused_kernel's limit) on `device`, the current device, once per device: as
// for the one-block kernel, the attribute belongs to the function, process-wide, so it is set
// once and launches only read it (issue 20, D2).
void prepare_cluster_kernel(int device, std::size_t shared_limit);

// The largest cluster (1..kClusterMaxSize blocks of kClusterThreads threads, shared_bytes of
// dynamic shared memory each) the current device can schedule for the cluster step of T, by
// cudaOccupancyMaxActiveClusters; 0 with the reason in *why where none (a GPU before sm_90, a
// device without cluster launch, or a shape no SM can hold).
template <class T>
int cluster_max_size(int device, std::size_t shared_bytes, std::string* why);

// The launch `args` (args.steps steps) as one cluster of shape.N blocks on `stream`; device
// pointers. Throws ClusterUnavailable (fused_device.hpp) when the launch itself is turned
// down for the cluster's size or resources (nothing ran), batchprop::Error for anything else.
template <class T, class S>
void cluster_train_steps(cudaStream_t stream, const ClusterShape& shape, const fused::Args<T, S>& args);

}  // namespace kernels
}  // namespace batchprop
