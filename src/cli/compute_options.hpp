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
    std::string device = "auto";  // or $BATCHPROP_DEVICE when set
    std::string dtype = "f32";
    bool device_from_env = false;             // the default came from BATCHPROP_DEVICE
    const CLI::Option* device_flag = nullptr;  // --device, to tell whether it was given
};

// Adds --device (checked as the option is parsed; its default is $BATCHPROP_DEVICE when set,
// else auto) and --dtype with the given default.
void add_compute_options(CLI::App& cmd, ComputeOptions& o, const std::string& default_dtype = "f32");

// The backend --device (or BATCHPROP_DEVICE) asks for. The "no usable GPU, running on the CPU"
// notice of auto goes to stderr unless quiet. A bad BATCHPROP_DEVICE is a UsageError.
template <class T>
std::unique_ptr<Backend<T>> make_backend_for(const ComputeOptions& o, bool quiet);

// The same for a Session: make(options) with --device (or BATCHPROP_DEVICE) and --dtype, the
// same errors, and the session's device notice on stderr unless quiet.
Session make_session_for(const ComputeOptions& o, bool quiet, const std::function<Session(const SessionOptions&)>& make);

// Calls f(Scalar<float>{}) or f(Scalar<double>{}) for --dtype f32 / f64, so a command writes
// its body once as a generic lambda: [&](auto s) { using T = typename decltype(s)::type; ... }.
template <class T>
struct Scalar {
    using type = T;
};
template <class F>
void with_dtype(const std::string& dtype, F&& f) {
    if (dtype == "f64")
        f(Scalar<double>{});
    else
        f(Scalar<float>{});
}

}  // namespace batchprop::cli
