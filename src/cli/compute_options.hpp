// --device and --dtype, shared by every command that computes: the flags, making the backend,
// and dispatching on the scalar type (one template instantiation per dtype).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "batchprop/backend.hpp"
#include "batchprop/batchprop.hpp"

namespace batchprop::cli {

struct ComputeOptions {
    DeviceSpec device;  // --device, else $BATCHPROP_DEVICE, else auto
    DType dtype = DType::f32;
    // $BATCHPROP_DEVICE when it is the default (no --device given): read when a device is
    // needed, so a bad value is only an error for the commands that compute.
    std::string device_env;
    const CLI::Option* device_flag = nullptr;  // --device, to tell whether it was given
    const CLI::Option* dtype_flag = nullptr;   // --dtype, likewise
};

// Adds --device (its default is $BATCHPROP_DEVICE when set, else auto) and --dtype with the
// given default.
void add_compute_options(CLI::App& cmd, ComputeOptions& o, DType default_dtype = DType::f32);

// The device to compute on: --device, or $BATCHPROP_DEVICE when that is the default (a value
// there that is not a device is a UsageError naming it).
DeviceSpec device_of(const ComputeOptions& o);

// The backend the device asks for. The "no usable GPU, running on the CPU" notice of auto goes
// to stderr unless quiet. A device that is not there is an Error naming the flag (or
// BATCHPROP_DEVICE) that asked for it.
template <class T>
std::unique_ptr<Backend<T>> make_backend_for(const ComputeOptions& o, bool quiet);

// The same for a Session: make(options) with the device (device_of, or `device` when given)
// and --dtype, the same errors, and the session's device notice on stderr unless quiet.
Session make_session_for(const ComputeOptions& o, bool quiet, const std::function<Session(const SessionOptions&)>& make,
                         const DeviceSpec* device = nullptr);

// Calls f(Scalar<float>{}) or f(Scalar<double>{}) for --dtype f32 / f64, so a command writes
// its body once as a generic lambda: [&](auto s) { using T = typename decltype(s)::type; ... }.
template <class T>
struct Scalar {
    using type = T;
};
template <class F>
void with_dtype(DType dtype, F&& f) {
    if (dtype == DType::f64)
        f(Scalar<double>{});
    else
        f(Scalar<float>{});
}

}  // namespace batchprop::cli
