// See compute_options.hpp.
#include "cli/compute_options.hpp"

#include <cstdio>
#include <cstdlib>

#include "cli/commands.hpp"

namespace batchprop::cli {

void add_compute_options(CLI::App& cmd, ComputeOptions& o, const std::string& default_dtype) {
    o.dtype = default_dtype;
    if (const char* env = std::getenv("BATCHPROP_DEVICE"); env && *env) {
        o.device = env;
        o.device_from_env = true;
    }
    o.device_flag = cmd.add_option("--device", o.device,
                                   "auto (a working GPU, else the CPU), cpu, cuda or cuda:N; the default is "
                                   "$BATCHPROP_DEVICE when set")
        ->check(CLI::Validator(
            [](std::string& s) {
                try {
                    parse_device(s);
                    return std::string();
                } catch (const Error&) {
                    return "'" + s + "' is not one of auto, cpu, cuda, cuda:N";
                }
            },
            "DEVICE"))
        ->capture_default_str();
    cmd.add_option("--dtype", o.dtype, "Scalar type: f32 (float) or f64 (double)")
        ->check(CLI::IsMember({"f32", "f64"}))
        ->capture_default_str();
}

namespace {

// Makes what make() makes. The library words a device failure "device cuda: ..."; here the
// device came from --device, whose name the message then takes, or from BATCHPROP_DEVICE (no
// --device given), which the message then names, and a value that is no device name at all is
// a UsageError.
template <class F>
auto with_device_errors(const ComputeOptions& o, F&& make) -> decltype(make()) {
    const bool from_env = o.device_from_env && !(o.device_flag && o.device_flag->count() > 0);
    try {
        return make();
    } catch (const Error& e) {
        std::string what = e.what();
        const bool about_device = what.rfind("device", 0) == 0;
        if (!from_env) {
            if (about_device) throw Error("--" + what);
            throw;
        }
        if (about_device) what = what.substr(what.find(':') + 1);
        const std::string msg = "BATCHPROP_DEVICE=" + o.device + " (the default --device):" + what;
        try {
            parse_device(o.device);
        } catch (const Error&) {
            throw UsageError(msg);  // not a device name at all
        }
        throw Error(msg);
    }
}

// The library's "no usable GPU; running on the CPU" notice, with how to silence it here.
void print_device_notice(const std::string& notice) {
    std::fprintf(stderr, "batchprop: %s (--device cpu or BATCHPROP_DEVICE=cpu skips this notice)\n", notice.c_str());
}

}  // namespace

template <class T>
std::unique_ptr<Backend<T>> make_backend_for(const ComputeOptions& o, bool quiet) {
    std::string notice;
    auto backend = with_device_errors(o, [&] { return make_backend<T>(parse_device(o.device), &notice); });
    if (!notice.empty() && !quiet) print_device_notice(notice);
    return backend;
}

Session make_session_for(const ComputeOptions& o, bool quiet, const std::function<Session(const SessionOptions&)>& make) {
    const SessionOptions where{o.device, parse_dtype(o.dtype)};
    Session session = with_device_errors(o, [&] { return make(where); });
    if (!session.device_notice().empty() && !quiet) print_device_notice(session.device_notice());
    return session;
}

template std::unique_ptr<Backend<float>> make_backend_for<float>(const ComputeOptions&, bool);
template std::unique_ptr<Backend<double>> make_backend_for<double>(const ComputeOptions&, bool);

}  // namespace batchprop::cli
