// See compute_options.hpp.
#include "compute_options.hpp"

#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "flag_values.hpp"

namespace batchprop::cli {

void add_compute_options(CLI::App& cmd, ComputeOptions& o, DType default_dtype) {
    o.dtype = default_dtype;
    std::string shown = "auto";
    if (const char* env = std::getenv("BATCHPROP_DEVICE"); env && *env) shown = o.device_env = env;
    o.device_flag =
        cmd.add_option_function<std::string>(
               "--device", [&o](const std::string& s) { o.device = DeviceSpec(s); },
               "auto (a working GPU, else the CPU), cpu, cuda or cuda:N; the default is $BATCHPROP_DEVICE when set")
            ->check(CLI::Validator(
                [](std::string& s) {
                    try {
                        DeviceSpec check(s);
                        return std::string();
                    } catch (const SettingError& e) {
                        return without_separator(e.detail(flag_for));
                    }
                },
                "DEVICE"))
            ->type_name("TEXT")
            ->default_str(shown);
    o.dtype_flag = add_choice_option(cmd, "--dtype", o.dtype, "Scalar type: f32 (float) or f64 (double)");
}

namespace {

// The default came from BATCHPROP_DEVICE (no --device given): messages name the variable.
bool from_env(const ComputeOptions& o) { return !o.device_env.empty() && !(o.device_flag && o.device_flag->count() > 0); }

std::string env_phrase(const ComputeOptions& o) { return "BATCHPROP_DEVICE=" + o.device_env + " (the default --device)"; }

// Makes what make() makes; a device that cannot be had is said in the words that chose it.
template <class F>
auto with_device_errors(const ComputeOptions& o, F&& make) -> decltype(make()) {
    try {
        return make();
    } catch (const SettingError& e) {
        if (e.setting() != Setting::device || !from_env(o)) throw;
        throw Error(env_phrase(o) + e.detail(flag_for));
    }
}

// The library's "no usable GPU; running on the CPU" notice, with how to silence it here.
void print_device_notice(const std::string& notice) {
    std::fprintf(stderr, "batchprop: %s (--device cpu or BATCHPROP_DEVICE=cpu skips this notice)\n", notice.c_str());
}

}  // namespace

DeviceSpec device_of(const ComputeOptions& o) {
    if (!from_env(o)) return o.device;
    try {
        return DeviceSpec(o.device_env);
    } catch (const SettingError& e) {
        throw UsageError(env_phrase(o) + e.detail(flag_for));  // not a device name at all
    }
}

template <class T>
std::unique_ptr<Backend<T>> make_backend_for(const ComputeOptions& o, bool quiet) {
    std::string notice;
    const DeviceSpec device = device_of(o);
    auto backend = with_device_errors(o, [&] { return make_backend<T>(device, &notice); });
    if (!notice.empty() && !quiet) print_device_notice(notice);
    return backend;
}

Session make_session_for(const ComputeOptions& o, bool quiet, const std::function<Session(const SessionOptions&)>& make,
                         const DeviceSpec* device) {
    const SessionOptions where{device ? *device : device_of(o), o.dtype};
    Session session = with_device_errors(o, [&] { return make(where); });
    if (!session.device_notice().empty() && !quiet) print_device_notice(session.device_notice());
    return session;
}

template std::unique_ptr<Backend<float>> make_backend_for<float>(const ComputeOptions&, bool);
template std::unique_ptr<Backend<double>> make_backend_for<double>(const ComputeOptions&, bool);

}  // namespace batchprop::cli
