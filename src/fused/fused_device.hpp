// A device that runs the fused step: the CUDA backend (kernels/cuda_backend.cu) and the CPU
// tests' fusing double (tests/doubles/fusing_backend.hpp). An interface of its own beside
// Backend<T>, not a part of it: every backend has the primitives, only a GPU has a whole
// step in one launch. The trainer finds it with fused_device() and plans for its limit.
// Two programs: the one-block step (fused_program.hpp) on any such device, and the cluster
// step (cluster_program.hpp) where the device has thread-block clusters (sm_90).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "batchprop/backend.hpp"
#include "batchprop/check.hpp"
#include "fused/cluster_program.hpp"
#include "fused/fused_program.hpp"

namespace batchprop {

// A cluster launch the device turned down (it could not be scheduled after all): the fused
// runner then falls back to the one-block step, with a notice.
class ClusterUnavailable : public Error {
public:
    using Error::Error;
};

template <class T>
class FusedDevice {
public:
    virtual ~FusedDevice() = default;

    // Bytes of shared memory one launch may use: what plans for this device are made with
    // (plan_fused_step's shared_limit). Fixed for the device's lifetime.
    virtual std::size_t fused_shared_limit() const = 0;

    // The launch `args`: args.steps whole matrix-mode SGD steps in one launch, as `shape` plans them.
    // Checks on the host that the plan fits this device and the launch, then runs it.
    template <class S>
    void fused_train_steps(const FusedShape& shape, const fused::Args<T, S>& args) {
        BP_REQUIRE(shape.L >= 1 && shape.m >= 1, "fused step: no plan (L = " << shape.L << ", m = " << shape.m << ")");
        BP_REQUIRE(std::size_t(shape.shared_bytes) <= fused_shared_limit(),
                   "fused step: the plan asks for " << shape.shared_bytes
                                                    << " bytes of shared memory, the device allows " << fused_shared_limit());
        BP_REQUIRE(args.params && args.images && args.labels && args.order && args.cursor, "fused step: a device pointer is missing");
        // The scratch in global memory must hold what the plan lays out there: a launch that
        // wrote past it would corrupt memory without a word.
        BP_REQUIRE(shape.scratch_shared || (args.scratch && args.scratch_elems >= shape.scratch_elems),
                   "fused step: the plan needs " << shape.scratch_elems << " elements of scratch in global memory, the launch has "
                                                 << (args.scratch ? args.scratch_elems : 0));
        if (args.steps > 0) fused_train_steps_impl(shape, args);
    }

    // ---- the cluster step ----
    // The largest cluster (1..kClusterMaxSize blocks) this device can schedule for the cluster
    // step with `shared_bytes` of shared memory a block; 0 when none, with the reason in *why
    // (no clusters on this device, or none that fits).
    virtual int cluster_max_size(std::size_t shared_bytes, std::string* why) {
        (void)shared_bytes;
        if (why) *why = "this device has no cluster step";
        return 0;
    }
    // The launch `args` as the cluster step of shape.N blocks. Checks on the host that the plan
    // fits this device; throws ClusterUnavailable when the device turns the cluster down at launch.
    template <class S>
    void cluster_train_steps(const ClusterShape& shape, const fused::Args<T, S>& args) {
        BP_REQUIRE(shape.L >= 1 && shape.m >= 1 && shape.N >= 1, "cluster step: no plan (L = " << shape.L << ", m = "
                                                                   << shape.m << ", N = " << shape.N << ")");
        BP_REQUIRE(std::size_t(shape.shared_bytes) <= fused_shared_limit(),
                   "cluster step: the plan asks for " << shape.shared_bytes
                                                      << " bytes of shared memory a block, the device allows " << fused_shared_limit());
        BP_REQUIRE(std::size_t(sizeof(S)) == std::size_t(shape.image_bytes) && sizeof(T) == std::size_t(shape.elem_bytes),
                   "cluster step: a plan for " << shape.elem_bytes << "-byte scalars and " << shape.image_bytes
                                               << "-byte images launched with " << sizeof(T) << " and " << sizeof(S));
        BP_REQUIRE(args.params && args.images && args.labels && args.order && args.cursor,
                   "cluster step: a device pointer is missing");
        if (args.steps > 0) cluster_train_steps_impl(shape, args);
    }

protected:
    // One per image element type (bytes, float inputs). Called with checked arguments only.
    virtual void fused_train_steps_impl(const FusedShape& shape, const fused::Args<T, std::uint8_t>& args) = 0;
    virtual void fused_train_steps_impl(const FusedShape& shape, const fused::Args<T, float>& args) = 0;
    // The cluster step; a device whose cluster_max_size is 0 is never asked.
    virtual void cluster_train_steps_impl(const ClusterShape& shape, const fused::Args<T, std::uint8_t>& args) {
        (void)shape, (void)args;
        throw ClusterUnavailable("this device has no cluster step");
    }
    virtual void cluster_train_steps_impl(const ClusterShape& shape, const fused::Args<T, float>& args) {
        (void)shape, (void)args;
        throw ClusterUnavailable("this device has no cluster step");
    }
};

// The fused step of `backend`, or null where it has none (the CPU backend: its calls run as
// they are made, there are no launches to save).
template <class T>
FusedDevice<T>* fused_device(Backend<T>& backend) {
    return dynamic_cast<FusedDevice<T>*>(&backend);
}

}  // namespace batchprop
