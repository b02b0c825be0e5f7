// Shared launches: the one-block fused segments of several trainers, a sweep's models, run
// in one launch with a block per model (FusedDevice::fused_train_models). One fused step of
// [784,30,10] keeps one SM of a GPU's hundred and more busy; a launch of many models keeps them
// all busy for about the time of one.
//
// Each model trains on its own thread with its own device object (its own backend and stream)
// as it would alone, and is seated here (FusedDevice::share_launches). When its trainer launches
// a segment, the device hands the segment to run() instead, which waits until every seated model
// has handed in one; then one launch runs them all, and every model goes on. A model that
// trains no more leaves its seat and the others stop waiting for it. The models advance in
// lockstep, a segment each per launch, and a launch lasts as long as its longest block: models
// of one shape and batch size share best (schedule_sweep groups them). Each model's shuffle,
// evaluation, divergence check and early stop stay its own trainer's, as alone.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <vector>

#include "fused/fused_program.hpp"

namespace batchprop {

template <class T>
class FusedDevice;

template <class T>
class SharedLaunch {
public:
    // seats: the models that will share, seat 0 .. seats - 1, each of which must eventually
    // leave (the others wait for a seated model's segment until it does).
    explicit SharedLaunch(int seats);
    SharedLaunch(const SharedLaunch&) = delete;
    SharedLaunch& operator=(const SharedLaunch&) = delete;

    int seats() const { return int(seated_.size()); }

    // The segment of the model at `seat`, whose device is `device`; called by that device
    // (FusedDevice::fused_train_steps). Returns when the launch that ran it has finished, or
    // throws what that launch threw (every model of the launch gets the error).
    void run(int seat, FusedDevice<T>& device, const fused::ModelLaunch<T, std::uint8_t>& model);
    void run(int seat, FusedDevice<T>& device, const fused::ModelLaunch<T, float>& model);

    // The model at `seat` trains no more (it finished, stopped, diverged, failed or never
    // started): launches no longer wait for it. Leaving twice is leaving once.
    void leave(int seat);

    // Launches made so far, and the blocks (models' segments) they ran together.
    long long launches() const;
    long long blocks() const;

private:
    template <class S>
    void run_seat(int seat, FusedDevice<T>& device, const fused::ModelLaunch<T, S>& model,
                  std::vector<fused::ModelLaunch<T, S>>& slots);
    void launch_if_all_ready();  // with mutex_ held
    template <class S>
    void launch_ready(const std::vector<fused::ModelLaunch<T, S>>& slots);

    mutable std::mutex mutex_;
    std::condition_variable launched_;
    std::vector<char> seated_;  // per seat: still training
    std::vector<char> ready_;   // per seat: a segment handed in for the next launch
    std::vector<char> floats_;  // per seat: that segment's images are float inputs (else bytes)
    std::vector<FusedDevice<T>*> device_;
    std::vector<fused::ModelLaunch<T, std::uint8_t>> bytes_slots_;
    std::vector<fused::ModelLaunch<T, float>> float_slots_;
    int n_seated_ = 0, n_ready_ = 0;
    long long generation_ = 0;  // launches made; a model waits for it to pass its own
    long long failed_generation_ = -1;
    std::exception_ptr failure_;  // what launch failed_generation_ threw
    long long blocks_ = 0;
};

// Keeps `seat` of `share` while it lives, and leaves it when it goes: whatever becomes of the
// model on the way (an exception included), the others never wait for it in vain.
template <class T>
class SharedSeat {
public:
    SharedSeat(SharedLaunch<T>* share, int seat) : share_(share), seat_(seat) {}
    SharedSeat(const SharedSeat&) = delete;
    SharedSeat& operator=(const SharedSeat&) = delete;
    ~SharedSeat() {
        if (share_) share_->leave(seat_);
    }

private:
    SharedLaunch<T>* share_;
    int seat_;
};

}  // namespace batchprop
