// A CPU backend with a fused step, the test double for Launch::fused: it claims shared memory
// as a GPU does (so the trainer plans and picks the fused step) and runs each fused launch
// with the host driver of the very program the CUDA kernel runs (src/fused/fused_program.hpp),
// the phase items in increasing or decreasing order. Every other call goes to a CPU backend.
#pragma once

#include <memory>
#include <string>

#include "batchprop/backend.hpp"
#include "fused/fused_host.hpp"

namespace bptest {

template <class T>
class FusingCpuBackend final : public batchprop::Backend<T> {
    using View = batchprop::MatrixView<T>;
    using CView = batchprop::ConstView<T>;
    using Bytes = batchprop::ConstView<std::uint8_t>;
    using Floats = batchprop::ConstView<float>;

public:
    // shared_limit: what fused_shared_limit() reports (an H200 allows 232,448 bytes).
    explicit FusingCpuBackend(std::size_t shared_limit = 232448, bool reverse_items = false)
        : inner_(batchprop::make_cpu_backend<T>()), limit_(shared_limit), reverse_(reverse_items) {}

    int launches = 0;          // fused launches so far
    long long fused_steps = 0;  // steps they ran

    std::string name() const override { return "cpu (fusing)"; }
    batchprop::DeviceKind kind() const override { return batchprop::DeviceKind::cpu; }
    void* allocate(std::size_t bytes) override { return inner_->allocate(bytes); }
    void deallocate(void* p) noexcept override { inner_->deallocate(p); }
    void copy(void* dst, const void* src, std::size_t bytes, batchprop::CopyKind k) override {
        inner_->copy(dst, src, bytes, k);
    }
    std::size_t fused_shared_limit() const override { return limit_; }

protected:
    void fused_train_steps_impl(const batchprop::FusedShape& s, Bytes px, const batchprop::FusedStepArgs<T>& f) override {
        fused(s, px, f);
    }
    void fused_train_steps_impl(const batchprop::FusedShape& s, Floats in, const batchprop::FusedStepArgs<T>& f) override {
        fused(s, in, f);
    }
    void gemm_impl(View c, batchprop::Op oa, CView a, batchprop::Op ob, CView b, T alpha, T beta) override {
        inner_->gemm(c, oa, a, ob, b, alpha, beta);
    }
    void bias_sigmoid_impl(View a, CView z, const T* b) override { inner_->bias_sigmoid(a, z, b); }
    void output_delta_bias_impl(View d, CView a, CView y, batchprop::Cost cost, T* b, T alpha, T b_beta) override {
        inner_->output_delta_bias(d, a, y, cost, b, alpha, b_beta);
    }
    void hidden_delta_bias_impl(View d, CView a, T* b, T alpha, T b_beta) override {
        inner_->hidden_delta_bias(d, a, b, alpha, b_beta);
    }
    void sgd_step_impl(T* p, const T* g, std::size_t n, std::size_t nw, T decay, T scale) override {
        inner_->sgd_step(p, g, n, nw, decay, scale);
    }
    void gather_batch_impl(View x, View y, Bytes px, const int* labels, const int* order, const int* cursor,
                           int offset) override {
        inner_->gather_batch(x, y, px, labels, order, cursor, offset);
    }
    void gather_batch_impl(View x, View y, Floats in, const int* labels, const int* order, const int* cursor,
                           int offset) override {
        inner_->gather_batch(x, y, in, labels, order, cursor, offset);
    }
    void advance_cursor_impl(int* cursor, int by) override { inner_->advance_cursor(cursor, by); }
    void load_inputs_impl(View x, Bytes px) override { inner_->load_inputs(x, px); }
    void load_inputs_impl(View x, Floats in) override { inner_->load_inputs(x, in); }
    batchprop::EvalSums evaluate_impl(CView a, const int* labels, batchprop::Cost cost) override {
        return inner_->evaluate(a, labels, cost);
    }
    double sum_squares_impl(const T* x, std::size_t n) override { return inner_->sum_squares(x, n); }
    void permutation_impl(int* idx, int n, std::uint64_t seed, std::uint64_t epoch) override {
        inner_->permutation(idx, n, seed, epoch);
    }

private:
    template <class S>
    void fused(const batchprop::FusedShape& s, batchprop::ConstView<S> images, const batchprop::FusedStepArgs<T>& f) {
        // Shared memory is the host's memory here: a scratch the plan put "in shared memory"
        // gets a buffer of its own, as the kernel's shared array would be.
        std::vector<T> shared_scratch(s.scratch_shared ? std::size_t(s.scratch_elems) : 0);
        const batchprop::fused::Args<T, S> a{f.params, s.scratch_shared ? shared_scratch.data() : f.scratch,
                                             images.data, f.labels, f.order, f.cost, f.alpha, f.decay};
        batchprop::fused_train_steps_host(s, a, *f.cursor + f.offset, f.steps, reverse_);
        ++launches;
        fused_steps += f.steps;
    }

    std::unique_ptr<batchprop::Backend<T>> inner_;
    std::size_t limit_;
    bool reverse_;
};

}  // namespace bptest
