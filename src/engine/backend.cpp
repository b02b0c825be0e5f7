// Device selection: the cached GPU query and the backend factory (DeviceSpec: settings.hpp).
#include "batchprop/backend.hpp"

#include <glob.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "cuda_backend.hpp"

namespace batchprop {

namespace {

// Wall clock around synchronize(): what a caller waits, and on the CPU the right measure
// because OpenBLAS runs products on several threads (CPU time of one thread would miss them).
class WallTimer final : public DeviceTimer {
public:
    explicit WallTimer(Memory& mem) : mem_(mem) {}
    void start() override {
        mem_.synchronize();
        t0_ = Clock::now();
    }
    double stop_seconds() override {
        mem_.synchronize();
        return std::chrono::duration<double>(Clock::now() - t0_).count();
    }

private:
    using Clock = std::chrono::steady_clock;
    Memory& mem_;
    Clock::time_point t0_;
};

}  // namespace

std::unique_ptr<DeviceTimer> Memory::make_timer() { return std::make_unique<WallTimer>(*this); }

// The CPU executes each call when it is made: there is no queue to record, so callers run
// their steps directly (a replay would be the same calls again).
std::unique_ptr<Recording> Memory::record(const std::function<void()>&) { return nullptr; }

namespace {

constexpr const char* kNoNvidiaGpu = "no NVIDIA GPU found";

// Whether this machine shows any NVIDIA device node: /dev/nvidia0, ... (Linux), or /dev/dxg,
// through which WSL 2 reaches the Windows driver.
bool nvidia_device_nodes() {
    glob_t g{};
    const bool found = ::glob("/dev/nvidia[0-9]*", 0, nullptr, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return found || ::access("/dev/dxg", F_OK) == 0;
}

GpuStatus query_and_explain() {
    GpuStatus s = query_gpus();
    // Without a device node, the CUDA runtime's own words ("driver version is insufficient",
    // error 35, when no driver is installed at all) point at drivers; the truth is simpler.
    if (s.compiled && !s.usable && !nvidia_device_nodes()) s.reason = std::string(kNoNvidiaGpu) + " (no /dev/nvidia* device)";
    return s;
}

}  // namespace

const GpuStatus& gpu_status() {
    static const GpuStatus status = query_and_explain();  // thread-safe, once
    return status;
}

int gpu_index(const DeviceSpec& spec, int gpu_count) {
    if (spec.index >= 0) return spec.index;
    // A GPU the spec does not name is the process's own: one per rank on a machine.
    return gpu_count > 0 ? spec.local_rank % gpu_count : 0;
}

template <class T>
std::unique_ptr<Backend<T>> make_backend(const DeviceSpec& spec, std::string* notice) {
    if (spec.want == DeviceSpec::Want::cpu) return make_cpu_backend<T>();
    const GpuStatus& gpu = gpu_status();
    const int index = gpu_index(spec, gpu.count);
    if (spec.want == DeviceSpec::Want::cuda && !gpu.usable) {
        if (gpu.reason.rfind(kNoNvidiaGpu, 0) == 0) throw SettingUnavailable(Setting::device, to_string(spec), ": " + gpu.reason);
        throw SettingUnavailable(Setting::device, to_string(spec), ": no usable GPU: " + gpu.reason);
    }
    // An index past the last GPU is refused whether the spec says cuda or auto (the C++ API's
    // DeviceSpec(Want::automatic, N)): auto falls back to the CPU only when no GPU is usable.
    if (gpu.usable && index >= gpu.count)
        throw SettingUnavailable(Setting::device, to_string(spec),
                                 (spec.want == DeviceSpec::Want::cuda ? "" : " (GPU " + std::to_string(index) + ")") +
                                     ": only " + std::to_string(gpu.count) + " GPU(s) present");
    if (gpu.usable) return make_cuda_backend<T>(index);
    if (notice) {
        // The reason whole: "no NVIDIA GPU found (...)" says it all; others need the lead-in.
        const bool absent = gpu.reason.rfind(kNoNvidiaGpu, 0) == 0;
        *notice = (absent ? gpu.reason : "no usable GPU (" + gpu.reason + ")") +
                  "; running on the CPU";
    }
    return make_cpu_backend<T>();
}

template std::unique_ptr<Backend<float>> make_backend<float>(const DeviceSpec&, std::string*);
template std::unique_ptr<Backend<double>> make_backend<double>(const DeviceSpec&, std::string*);

}  // namespace batchprop
