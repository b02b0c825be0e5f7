// A CPU backend that records like a GPU: the test double for CUDA graphs. Inside record() each
// primitive call is not run but stored with its arguments frozen, exactly what a stream
// capture freezes (pointers, shapes, scalars); replay() runs the stored calls again, reading
// whatever device memory (here: host memory) holds at that time. So a trainer that would bake
// a changing value into a recorded call (a batch position, a pointer into the permutation, a
// partial batch's size) trains differently here than eagerly, and the tests see it without a
// GPU. Calls that return a value to the host (evaluate, sum_squares), sort (permutation) or
// copy cannot be recorded on a GPU either: inside record() they fail the recording.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "doubles/forwarding_backend.hpp"

namespace bptest {

template <class T>
class RecordingCpuBackend final : public ForwardingBackend<T> {
public:
    // fail_recordings: every record() throws RecordingFailed (the fallback path).
    explicit RecordingCpuBackend(bool fail_recordings = false) : fail_(fail_recordings) {}

    int recordings = 0;  // made successfully
    int replays = 0;
    long long recorded_calls = 0;

    std::string name() const override { return "cpu (recording)"; }
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
    void queue(std::function<void()> call) override {
        if (recording_)
            tape_->push_back(std::move(call));
        else
            call();
    }
    void host_call(const char* what) override {
        if (recording_) throw batchprop::RecordingFailed(std::string(what) + " inside a recording");
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

    bool fail_;
    bool recording_ = false;
    std::shared_ptr<std::vector<std::function<void()>>> tape_;
};

}  // namespace bptest
