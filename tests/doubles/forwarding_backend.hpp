// The base of the test doubles: a backend that hands every call to a real CPU backend, so each
// double overrides only what it is about (recording_backend.hpp: what a CUDA graph freezes;
// fusing_backend.hpp: a fused step). Every primitive that queues device work (returns nothing
// to the host) goes through queue(), which runs it at once; every call that returns a value
// to the host, sorts, or copies goes through host_call() first, which does nothing.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "batchprop/backend.hpp"

namespace bptest {

template <class T>
class ForwardingBackend : public batchprop::Backend<T> {
protected:
    using View = batchprop::MatrixView<T>;
    using CView = batchprop::ConstView<T>;
    using Bytes = batchprop::ConstView<std::uint8_t>;
    using Floats = batchprop::ConstView<float>;

public:
    ForwardingBackend() : inner_(batchprop::make_cpu_backend<T>()) {}

    batchprop::DeviceKind kind() const override { return batchprop::DeviceKind::cpu; }
    void* allocate(std::size_t bytes) override { return inner_->allocate(bytes); }
    void deallocate(void* p) noexcept override { inner_->deallocate(p); }
    void copy(void* dst, const void* src, std::size_t bytes, batchprop::CopyKind k) override {
        host_call("copy");
        inner_->copy(dst, src, bytes, k);
    }

protected:
    // A primitive call, its arguments bound: run here, recorded by the recording double.
    virtual void queue(std::function<void()> call) { call(); }
    // Before a call that the host waits for (`what`: its name).
    virtual void host_call(const char* /*what*/) {}

    void gemm_impl(View c, batchprop::Op op_a, CView a, batchprop::Op op_b, CView b, T alpha, T beta) override {
        queue([=, be = inner_.get()] { be->gemm(c, op_a, a, op_b, b, alpha, beta); });
    }
    void bias_sigmoid_impl(View a, CView z, const T* b) override {
        queue([=, be = inner_.get()] { be->bias_sigmoid(a, z, b); });
    }
    void output_delta_bias_impl(View d, CView a, CView y, batchprop::Cost cost, T* b, T alpha, T b_beta) override {
        queue([=, be = inner_.get()] { be->output_delta_bias(d, a, y, cost, b, alpha, b_beta); });
    }
    void hidden_delta_bias_impl(View d, CView a, T* b, T alpha, T b_beta) override {
        queue([=, be = inner_.get()] { be->hidden_delta_bias(d, a, b, alpha, b_beta); });
    }
    void sgd_step_impl(T* p, const T* g, std::size_t n, std::size_t nw, T decay, T scale) override {
        queue([=, be = inner_.get()] { be->sgd_step(p, g, n, nw, decay, scale); });
    }
    void gather_batch_impl(View x, View y, Bytes px, const int* labels, const int* order, const int* cursor,
                           int offset) override {
        queue([=, be = inner_.get()] { be->gather_batch(x, y, px, labels, order, cursor, offset); });
    }
    void gather_batch_impl(View x, View y, Floats in, const int* labels, const int* order, const int* cursor,
                           int offset) override {
        queue([=, be = inner_.get()] { be->gather_batch(x, y, in, labels, order, cursor, offset); });
    }
    void advance_cursor_impl(int* cursor, int by) override {
        queue([=, be = inner_.get()] { be->advance_cursor(cursor, by); });
    }
    void load_inputs_impl(View x, Bytes px) override {
        queue([=, be = inner_.get()] { be->load_inputs(x, px); });
    }
    void load_inputs_impl(View x, Floats in) override {
        queue([=, be = inner_.get()] { be->load_inputs(x, in); });
    }
    batchprop::EvalSums evaluate_impl(CView a, const int* labels, batchprop::Cost cost) override {
        host_call("evaluate");
        return inner_->evaluate(a, labels, cost);
    }
    double sum_squares_impl(const T* x, std::size_t n) override {
        host_call("sum_squares");
        return inner_->sum_squares(x, n);
    }
    void permutation_impl(int* idx, int n, std::uint64_t seed, std::uint64_t epoch) override {
        host_call("permutation");
        inner_->permutation(idx, n, seed, epoch);
    }

private:
    std::unique_ptr<batchprop::Backend<T>> inner_;
};

}  // namespace bptest
