// A device that runs the fused step: the CUDA backend (kernels/cuda_backend.cu) and the CPU
// tests' fusing double (tests/doubles/fusing_backend.hpp). An interface of its own beside
// Backend<T>, not a part of it: every backend has the primitives, only a GPU has a whole
// step in one launch. The trainer finds it with fused_device() and plans for its limit.
// Two programs: the one-block step (fused_program.hpp) on any such device, and the cluster
// step (cluster_program.hpp) where the device has thread-block clusters (sm_90). The one-block
// step also runs several models in one launch, a block each (a sweep: shared_launch.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "batchprop/backend.hpp"
#include "batchprop/check.hpp"
#include "fused/cluster_program.hpp"
#include "fused/fused_program.hpp"
#include "fused/shared_launch.hpp"

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
    // Checks on the host that the plan fits this device and the launch, then runs it; where the
    // launches are shared (share_launches), waits for the other seated models' and runs them
    // all in one launch.
    template <class S>
    void fused_train_steps(const FusedShape& shape, const fused::Args<T, S>& args) {
        check_fused_launch(shape, args);
        if (args.steps <= 0) return;
        if (share_) {
            // The launch runs on another model's device and reads what this one queued (its
            // shuffle, its cursor): that must be done first.
            fused_synchronize();
            share_->run(seat_, *this, fused::ModelLaunch<T, S>{shape, args});
        } else {
            fused_train_steps_impl(shape, args);
        }
    }

    // ---- shared launches: a sweep's models, a block each ----
    // models[0 .. count) in ONE launch, block b running models[b] as fused_train_steps would
    // run it alone; returns when the launch has finished (the models' other work is queued on
    // their own devices, which wait for nothing here). Checks each model as fused_train_steps
    // does, and that no two share parameters, scratch or a cursor: their blocks run at once.
    template <class S>
    void fused_train_models(const fused::ModelLaunch<T, S>* models, int count) {
        BP_REQUIRE(models && count >= 1, "shared fused launch: no models (" << count << ")");
        long long shared_bytes = 0;
        for (int b = 0; b < count; ++b) {
            check_fused_launch(models[b].shape, models[b].args);
            shared_bytes = std::max(shared_bytes, models[b].shape.shared_bytes);
            for (int c = 0; c < b; ++c) {
                const fused::Args<T, S>&x = models[b].args, &y = models[c].args;
                BP_REQUIRE(!overlap(x.params, models[b].shape.n_params, y.params, models[c].shape.n_params) &&
                               x.cursor != y.cursor &&
                               (models[b].shape.scratch_shared || models[c].shape.scratch_shared ||
                                !overlap(x.scratch, models[b].shape.scratch_elems, y.scratch, models[c].shape.scratch_elems)),
                           "shared fused launch: models " << c << " and " << b
                                                           << " share parameters, scratch or a cursor");
            }
        }
        fused_train_models_impl(models, count, std::size_t(shared_bytes));
    }

    // From now on this device's one-block launches are shared: each waits at `seat` of `share`
    // for the other seated models' and runs with them (null: alone again). Not while a launch
    // runs. The cluster step is not shared: a trainer on a shared device plans the one-block step.
    // The blocks of a shared launch that run at once: a GPU's SMs (a block of kFusedThreads
    // threads fills one). More models than this in one launch would run in waves.
    virtual int fused_parallel_blocks() = 0;

    void share_launches(SharedLaunch<T>* share, int seat) {
        share_ = share;
        seat_ = seat;
    }
    bool launches_shared() const { return share_ != nullptr; }

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
    // Waits until the work queued on this device is done (a GPU: its stream).
    virtual void fused_synchronize() = 0;
    // One launch of `count` blocks, `shared_bytes` of dynamic shared memory each (the most any
    // model's plan asks for); returns when it has finished. Called with checked arguments only.
    virtual void fused_train_models_impl(const fused::ModelLaunch<T, std::uint8_t>* models, int count,
                                         std::size_t shared_bytes) = 0;
    virtual void fused_train_models_impl(const fused::ModelLaunch<T, float>* models, int count,
                                         std::size_t shared_bytes) = 0;
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

private:
    template <class S>
    void check_fused_launch(const FusedShape& shape, const fused::Args<T, S>& args) const {
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
    }
    static bool overlap(const T* a, long long na, const T* b, long long nb) {
        return std::less<const T*>()(a, b + nb) && std::less<const T*>()(b, a + na);
    }

    SharedLaunch<T>* share_ = nullptr;  // share_launches
    int seat_ = 0;
};

// The fused step of `backend`, or null where it has none (the CPU backend: its calls run as
// they are made, there are no launches to save).
template <class T>
FusedDevice<T>* fused_device(Backend<T>& backend) {
    return dynamic_cast<FusedDevice<T>*>(&backend);
}

}  // namespace batchprop
