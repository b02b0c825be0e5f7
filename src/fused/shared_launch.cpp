// SharedLaunch (shared_launch.hpp): a barrier of the seated models, whose last arrival launches
// every segment handed in, in seat order.
#include "fused/shared_launch.hpp"

#include <algorithm>
#include <type_traits>

#include "batchprop/check.hpp"
#include "fused/fused_device.hpp"

namespace batchprop {

template <class T>
SharedLaunch<T>::SharedLaunch(int seats)
    : seated_(std::size_t(seats > 0 ? seats : 0), 1),
      ready_(seated_.size(), 0),
      floats_(seated_.size(), 0),
      device_(seated_.size(), nullptr),
      bytes_slots_(seated_.size()),
      float_slots_(seated_.size()),
      n_seated_(seats) {
    BP_REQUIRE(seats >= 1, "a shared launch needs at least one seat, not " << seats);
}

template <class T>
void SharedLaunch<T>::run(int seat, FusedDevice<T>& device, const fused::ModelLaunch<T, std::uint8_t>& model) {
    run_seat(seat, device, model, bytes_slots_);
}

template <class T>
void SharedLaunch<T>::run(int seat, FusedDevice<T>& device, const fused::ModelLaunch<T, float>& model) {
    run_seat(seat, device, model, float_slots_);
}

template <class T>
template <class S>
void SharedLaunch<T>::run_seat(int seat, FusedDevice<T>& device, const fused::ModelLaunch<T, S>& model,
                               std::vector<fused::ModelLaunch<T, S>>& slots) {
    std::unique_lock<std::mutex> lock(mutex_);
    BP_REQUIRE(seat >= 0 && seat < seats(), "shared launch: seat " << seat << " of " << seats());
    BP_REQUIRE(seated_[std::size_t(seat)], "shared launch: seat " << seat << " has left");
    BP_REQUIRE(!ready_[std::size_t(seat)], "shared launch: seat " << seat << " handed in two segments at once");
    const std::size_t k = std::size_t(seat);
    slots[k] = model;
    device_[k] = &device;
    floats_[k] = std::is_same<S, float>::value;
    ready_[k] = 1;
    ++n_ready_;
    const long long mine = generation_;
    launch_if_all_ready();
    launched_.wait(lock, [&] { return generation_ != mine; });
    if (failed_generation_ == mine) std::rethrow_exception(failure_);
}

template <class T>
void SharedLaunch<T>::leave(int seat) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (seat < 0 || seat >= seats() || !seated_[std::size_t(seat)]) return;
    // A seat leaves from its own thread, never while its segment waits (run has returned).
    seated_[std::size_t(seat)] = 0;
    --n_seated_;
    launch_if_all_ready();  // the others may have been waiting only for this one
}

template <class T>
void SharedLaunch<T>::launch_if_all_ready() {
    if (n_ready_ == 0 || n_ready_ < n_seated_) return;
    const long long mine = generation_;
    try {
        bool bytes = false, floats = false;
        for (std::size_t k = 0; k < ready_.size(); ++k)
            if (ready_[k]) (floats_[k] ? floats : bytes) = true;
        BP_REQUIRE(!(bytes && floats), "shared launch: models with byte images and models with float inputs");
        if (floats) launch_ready(float_slots_);
        else launch_ready(bytes_slots_);
    } catch (...) {
        failed_generation_ = mine;
        failure_ = std::current_exception();
    }
    blocks_ += n_ready_;
    std::fill(ready_.begin(), ready_.end(), 0);
    n_ready_ = 0;
    ++generation_;
    launched_.notify_all();
}

template <class T>
template <class S>
void SharedLaunch<T>::launch_ready(const std::vector<fused::ModelLaunch<T, S>>& slots) {
    // In seat order, so a launch's blocks are the same whichever model arrived last; launched
    // by the first seat's device (its thread waits in run: it is alive).
    std::vector<fused::ModelLaunch<T, S>> models;
    FusedDevice<T>* device = nullptr;
    for (std::size_t k = 0; k < ready_.size(); ++k) {
        if (!ready_[k]) continue;
        if (!device) device = device_[k];
        models.push_back(slots[k]);
    }
    device->fused_train_models(models.data(), int(models.size()));
}

template <class T>
long long SharedLaunch<T>::launches() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return generation_;
}

template <class T>
long long SharedLaunch<T>::blocks() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return blocks_;
}

template class SharedLaunch<float>;
template class SharedLaunch<double>;

}  // namespace batchprop
