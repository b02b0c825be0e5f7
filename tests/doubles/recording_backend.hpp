// A CPU backend that records like a GPU: the test double for CUDA graphs. Inside record() each
// primitive call is not run but stored with its arguments frozen, exactly what a stream
// capture freezes (pointers, shapes, scalars); replay() runs the stored calls again, reading
// whatever device memory (here: host memory) holds at that time. So a trainer that would bake
// a changing value into a recorded call (a batch position, a pointer into the permutation, a
// partial batch's size) trains differently here than eagerly, and the tests see it without a
// GPU. Calls that return a value to the host (evaluate, sum_squares) or sort (permutation)
// cannot be recorded on a GPU either: inside record() they fail the recording.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batchprop/backend.hpp"

namespace bptest {

template <class T>
class RecordingCpuBackend final : public batchprop::Backend<T> {
    using View = batchprop::MatrixView<T>;
    using CView = batchprop::ConstView<T>;
    using Bytes = batchprop::ConstView<std::uint8_t>;
    using Floats = batchprop::ConstView<float>;

public:
    // fail_recordings: every record() throws RecordingFailed (the fallback path).
    explicit RecordingCpuBackend(bool fail_recordings = false)
        : inner_(batchprop::make_cpu_backend<T>()), fail_(fail_recordings) {}

    int recordings = 0;  // made successfully
    int replays = 0;
    long long recorded_calls = 0;

    std::string name() const override { return "cpu (recording)"; }
    batchprop::DeviceKind kind() const override { return batchprop::DeviceKind::cpu; }
    void* allocate(std::size_t bytes) override { return inner_->allocate(bytes); }
    void deallocate(void* p) noexcept override { inner_->deallocate(p); }
    void copy(void* dst, const void* src, std::size_t bytes, batchprop::CopyKind k) override {
        refuse_while_recording("copy");
        inner_->copy(dst, src, bytes, k);
    }
    bool can_record() const override { return true; }

    std::unique_ptr<batchprop::Recording> record(const std::function<void()>& body) override {
        if (fail_) throw batchprop::RecordingFailed("recording refused (test)");
        tape_ = std::make_shared<std::vector<std::function<void()>>>();
        recording_ = true;
        try {
            body();
        } catch (...) {
            recording_ = false;
            throw;
        }
        recording_ = false;
        ++recordings;
        recorded_calls += static_cast<long long>(tape_->size());
        return std::make_unique<Tape>(std::move(tape_), replays);
    }

protected:
    void gemm_impl(View c, batchprop::Op op_a, CView a, batchprop::Op op_b, CView b, T alpha, T beta) override {
        run([=, be = inner_.get()] { be->gemm(c, op_a, a, op_b, b, alpha, beta); });
    }
    void bias_sigmoid_impl(View a, CView z, const T* b) override {
        run([=, be = inner_.get()] { be->bias_sigmoid(a, z, b); });
    }
    void output_delta_bias_impl(View d, CView a, CView y, batchprop::Cost cost, T* b, T alpha, T b_beta) override {
        run([=, be = inner_.get()] { be->output_delta_bias(d, a, y, cost, b, alpha, b_beta); });
    }
    void hidden_delta_bias_impl(View d, CView a, T* b, T alpha, T b_beta) override {
        run([=, be = inner_.get()] { be->hidden_delta_bias(d, a, b, alpha, b_beta); });
    }
    void sgd_step_impl(T* p, const T* g, std::size_t n, std::size_t nw, T decay, T scale) override {
        run([=, be = inner_.get()] { be->sgd_step(p, g, n, nw, decay, scale); });
    }
    void gather_batch_impl(View x, View y, Bytes px, const int* labels, const int* order, const int* cursor,
                           int offset) override {
        run([=, be = inner_.get()] { be->gather_batch(x, y, px, labels, order, cursor, offset); });
    }
    void gather_batch_impl(View x, View y, Floats in, const int* labels, const int* order, const int* cursor,
                           int offset) override {
        run([=, be = inner_.get()] { be->gather_batch(x, y, in, labels, order, cursor, offset); });
    }
    void advance_cursor_impl(int* cursor, int by) override {
        run([=, be = inner_.get()] { be->advance_cursor(cursor, by); });
    }
    void load_inputs_impl(View x, Bytes px) override {
        run([=, be = inner_.get()] { be->load_inputs(x, px); });
    }
    void load_inputs_impl(View x, Floats in) override {
        run([=, be = inner_.get()] { be->load_inputs(x, in); });
    }
    batchprop::EvalSums evaluate_impl(CView a, const int* labels, batchprop::Cost cost) override {
        refuse_while_recording("evaluate");
        return inner_->evaluate(a, labels, cost);
    }
    double sum_squares_impl(const T* x, std::size_t n) override {
        refuse_while_recording("sum_squares");
        return inner_->sum_squares(x, n);
    }
    void permutation_impl(int* idx, int n, std::uint64_t seed, std::uint64_t epoch) override {
        refuse_while_recording("permutation");
        inner_->permutation(idx, n, seed, epoch);
    }

private:
    class Tape final : public batchprop::Recording {
    public:
        Tape(std::shared_ptr<std::vector<std::function<void()>>> calls, int& replays)
            : calls_(std::move(calls)), replays_(replays) {}
        void replay() override {
            ++replays_;
            for (auto& call : *calls_) call();
        }

    private:
        std::shared_ptr<std::vector<std::function<void()>>> calls_;
        int& replays_;
    };

    void run(std::function<void()> call) {
        if (recording_)
            tape_->push_back(std::move(call));
        else
            call();
    }
    void refuse_while_recording(const char* what) {
        if (recording_) throw batchprop::RecordingFailed(std::string(what) + " inside a recording");
    }

    std::unique_ptr<batchprop::Backend<T>> inner_;
    bool fail_;
    bool recording_ = false;
    std::shared_ptr<std::vector<std::function<void()>>> tape_;
};

}  // namespace bptest
