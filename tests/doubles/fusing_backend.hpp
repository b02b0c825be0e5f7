// A CPU backend with a fused step, the test double for Launch::fused: it claims shared memory
// as a GPU does (so the trainer plans and picks the fused step) and runs each fused launch
// with the host driver of the very program the CUDA kernel runs (src/fused/fused_program.hpp),
// the phase items in increasing or decreasing order. Every other call goes to a CPU backend.
#pragma once

#include <string>
#include <vector>

#include "doubles/forwarding_backend.hpp"
#include "fused/fused_device.hpp"
#include "fused/fused_host.hpp"

namespace bptest {

template <class T>
class FusingCpuBackend final : public ForwardingBackend<T>, public batchprop::FusedDevice<T> {
public:
    // shared_limit: what fused_shared_limit() reports (an H200 allows 232,448 bytes).
    explicit FusingCpuBackend(std::size_t shared_limit = 232448, bool reverse_items = false)
        : limit_(shared_limit), reverse_(reverse_items) {}

    int launches = 0;          // fused launches so far
    long long fused_steps = 0;  // steps they ran

    std::string name() const override { return "cpu (fusing)"; }
    std::size_t fused_shared_limit() const override { return limit_; }

protected:
    void fused_train_steps_impl(const batchprop::FusedShape& s, const batchprop::fused::Args<T, std::uint8_t>& args) override {
        fused(s, args);
    }
    void fused_train_steps_impl(const batchprop::FusedShape& s, const batchprop::fused::Args<T, float>& args) override {
        fused(s, args);
    }

private:
    template <class S>
    void fused(const batchprop::FusedShape& s, batchprop::fused::Args<T, S> args) {
        // Shared memory is the host's memory here: a scratch the plan put "in shared memory"
        // gets a buffer of its own, as the kernel's shared array would be.
        std::vector<T> shared_scratch(s.scratch_shared ? std::size_t(s.scratch_elems) : 0);
        if (s.scratch_shared) args.scratch = shared_scratch.data();
        batchprop::fused_train_steps_host(s, args, reverse_);
        ++launches;
        fused_steps += args.steps;
    }

    std::size_t limit_;
    bool reverse_;
};

}  // namespace bptest
