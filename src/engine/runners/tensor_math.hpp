// TF32 (TrainConfig::math, an explicit float-only opt-in): the library path's products on
// tensor cores, each input rounded to 10 mantissa bits. A device that can is a TensorMathDevice
// (the CUDA backend: cuBLAS's math mode on its handle); the trainer sets it for every run, on or
// off, so a backend shared by runs never keeps another run's choice.
#pragma once

#include <string>

#include "batchprop/backend.hpp"
#include "batchprop/settings.hpp"

namespace batchprop {

class TensorMathDevice {
public:
    virtual ~TensorMathDevice() = default;
    // The products of every later call (and recording) with TF32 tensor cores, or in IEEE
    // float (cuBLAS's default math).
    virtual void set_tf32(bool on) = 0;
};

// Sets the math of `be` for a run in T. Throws SettingError for tf32 with doubles (TF32 is a
// float format), on every device; returns a notice when tf32 was asked of a device without it
// (the CPU: its products stay IEEE float, as they would on a GPU with --math ieee), else "".
template <class T>
std::string apply_math(Backend<T>& be, Math math) {
    if (math == Math::tf32 && sizeof(T) != sizeof(float))
        throw SettingError(Setting::math, "tf32", " computes in float only (not {dtype} f64)");
    if (auto* device = dynamic_cast<TensorMathDevice*>(&be)) {
        device->set_tf32(math == Math::tf32);
        return "";
    }
    return math == Math::tf32 ? "math tf32: " + be.name() + " has no tensor cores; its products stay IEEE float" : "";
}

}  // namespace batchprop
