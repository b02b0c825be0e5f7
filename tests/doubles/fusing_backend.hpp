// A CPU backend with a fused step, the test double for Launch::fused: it claims shared memory
// as a GPU does (so the trainer plans and picks the fused step) and runs each fused launch
// with the host driver of the very program the CUDA kernel runs (src/fused/fused_program.hpp),
// the phase items in increasing or decreasing order. Given a largest cluster, it also claims
// thread-block clusters as an sm_90 GPU does and runs the cluster step's launches with its host
// driver (src/fused/cluster_program.hpp, the blocks emulated in either order). Every other call
// goes to a CPU backend.
#pragma once

#include <string>
#include <vector>

#include "doubles/forwarding_backend.hpp"
#include "fused/fused_device.hpp"
#include "fused/cluster_host.hpp"
#include "fused/fused_host.hpp"

namespace bptest {

template <class T>
class FusingCpuBackend final : public ForwardingBackend<T>, public batchprop::FusedDevice<T> {
public:
    // shared_limit: what fused_shared_limit() reports (an H200's opt-in maximum is 232,448 bytes;
    // the CUDA backend reports that less the fused kernels' static shared memory).
    // max_cluster: the largest cluster the device schedules (0: none, as before sm_90).
    explicit FusingCpuBackend(std::size_t shared_limit = 232448, bool reverse_items = false, int max_cluster = 0)
        : limit_(shared_limit), reverse_(reverse_items), max_cluster_(max_cluster) {}

    int launches = 0;          // fused launches so far (both steps, and shared ones made here)
    long long fused_steps = 0;  // steps they ran
    int cluster_launches = 0;  // of the launches, the cluster step's
    int last_cluster = 0;      // N of the last cluster launch
    int shared_launches = 0;   // of the launches, shared ones this device made (a block per model)
    int last_blocks = 0;       // models in the last of them
    long long shared_blocks = 0;  // models' segments run in them, all together
    // The next cluster launches are turned down (ClusterUnavailable), as a GPU may at launch.
    bool refuse_clusters = false;

    // The blocks a shared launch runs at once (a GPU's SMs; the H200 has 132).
    int parallel_blocks = 4;

    std::string name() const override { return "cpu (fusing)"; }
    int fused_parallel_blocks() override { return parallel_blocks; }
    std::size_t fused_shared_limit() const override { return limit_; }
    int cluster_max_size(std::size_t shared_bytes, std::string* why) override {
        if (max_cluster_ == 0 && why) *why = "no clusters on this (emulated) device";
        if (max_cluster_ > 0 && shared_bytes > limit_) {
            if (why) *why = "a block's shared memory does not fit";
            return 0;
        }
        return max_cluster_;
    }

protected:
    void fused_train_steps_impl(const batchprop::FusedShape& s, const batchprop::fused::Args<T, std::uint8_t>& args) override {
        fused(s, args);
    }
    void fused_train_steps_impl(const batchprop::FusedShape& s, const batchprop::fused::Args<T, float>& args) override {
        fused(s, args);
    }

    void fused_synchronize() override {}  // every call has run when it returns
    // A shared launch: each block's model run by the host driver, blocks in seat order or
    // (reverse_items) the other way round: they must not depend on each other.
    void fused_train_models_impl(const batchprop::fused::ModelLaunch<T, std::uint8_t>* models, int count,
                                 std::size_t shared_bytes) override {
        run_models(models, count, shared_bytes);
    }
    void fused_train_models_impl(const batchprop::fused::ModelLaunch<T, float>* models, int count,
                                 std::size_t shared_bytes) override {
        run_models(models, count, shared_bytes);
    }

    void cluster_train_steps_impl(const batchprop::ClusterShape& s, const batchprop::fused::Args<T, std::uint8_t>& args) override {
        cluster(s, args);
    }
    void cluster_train_steps_impl(const batchprop::ClusterShape& s, const batchprop::fused::Args<T, float>& args) override {
        cluster(s, args);
    }

private:
    template <class S>
    void cluster(const batchprop::ClusterShape& s, const batchprop::fused::Args<T, S>& args) {
        if (refuse_clusters || s.N > max_cluster_) throw batchprop::ClusterUnavailable("the cluster was turned down");
        batchprop::cluster_train_steps_host(s, args, reverse_);
        ++launches;
        ++cluster_launches;
        last_cluster = s.N;
        fused_steps += args.steps;
    }

    template <class S>
    void run_models(const batchprop::fused::ModelLaunch<T, S>* models, int count, std::size_t shared_bytes) {
        if (shared_bytes > limit_) throw batchprop::Error("a shared launch past the shared-memory limit");
        for (int k = 0; k < count; ++k) {
            const auto& mine = models[reverse_ ? count - 1 - k : k];
            // As a GPU block's dynamic shared memory would be too small for its plan.
            if (std::size_t(mine.shape.shared_bytes) > shared_bytes)
                throw batchprop::Error("a shared launch with less shared memory than a model's plan needs");
            run_block(mine.shape, mine.args);
        }
        ++launches;
        ++shared_launches;
        last_blocks = count;
        shared_blocks += count;
    }

    template <class S>
    void fused(const batchprop::FusedShape& s, const batchprop::fused::Args<T, S>& args) {
        run_block(s, args);
        ++launches;
    }

    template <class S>
    void run_block(const batchprop::FusedShape& s, batchprop::fused::Args<T, S> args) {
        // Shared memory is the host's memory here: a scratch the plan put "in shared memory"
        // gets a buffer of its own, as the kernel's shared array would be.
        std::vector<T> shared_scratch(s.scratch_shared ? std::size_t(s.scratch_elems) : 0);
        if (s.scratch_shared) args.scratch = shared_scratch.data();
        batchprop::fused_train_steps_host(s, args, reverse_);
        fused_steps += args.steps;
    }

    std::size_t limit_;
    bool reverse_;
    int max_cluster_;
};

}  // namespace bptest
