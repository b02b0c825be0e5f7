// Device selection: parsing --device, the cached GPU query, and the backend factory.
#include "batchprop/backend.hpp"

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

const GpuStatus& gpu_status() {
    static const GpuStatus status = query_gpus();  // thread-safe, once
    return status;
}

DeviceSpec parse_device(const std::string& text) {
    DeviceSpec spec;
    if (text == "auto") return spec;
    if (text == "cpu") {
        spec.want = DeviceSpec::Want::cpu;
        return spec;
    }
    if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
        spec.want = DeviceSpec::Want::cuda;
        if (text.size() > 5) {
            const std::string num = text.substr(5);
            char* end = nullptr;
            const long v = std::strtol(num.c_str(), &end, 10);
            if (num.empty() || *end != '\0' || v < 0 || v > 1024)
                BP_THROW("--device: '" << text << "' is not cuda:N with N a GPU index");
            spec.index = int(v);
        }
        return spec;
    }
    BP_THROW("--device: '" << text << "' is not one of auto, cpu, cuda, cuda:N");
}

template <class T>
std::unique_ptr<Backend<T>> make_backend(const DeviceSpec& spec, std::string* notice) {
    if (spec.want == DeviceSpec::Want::cpu) return make_cpu_backend<T>();
    const GpuStatus& gpu = gpu_status();
    if (spec.want == DeviceSpec::Want::cuda) {
        if (!gpu.usable) BP_THROW("--device cuda: no usable GPU: " << gpu.reason);
        if (spec.index >= gpu.count)
            BP_THROW("--device cuda:" << spec.index << ": only " << gpu.count << " GPU(s) present");
        return make_cuda_backend<T>(spec.index);
    }
    if (gpu.usable) return make_cuda_backend<T>(spec.index);
    if (notice) *notice = "no usable GPU (" + gpu.reason + "); running on the CPU";
    return make_cpu_backend<T>();
}

template std::unique_ptr<Backend<float>> make_backend<float>(const DeviceSpec&, std::string*);
template std::unique_ptr<Backend<double>> make_backend<double>(const DeviceSpec&, std::string*);

}  // namespace batchprop
