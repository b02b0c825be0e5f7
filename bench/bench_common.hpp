// Helpers shared by the Google Benchmark suites (bench_train.cpp, bench_ops.cpp): the devices
// to sweep, seeded data, a timer on the backend's DeviceTimer (CUDA events on a GPU), a
// normwise comparison for validation, and main(). Not a library: nothing here is tested.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/build_info.hpp"
#include "batchprop/dataset.hpp"
#include "batchprop/math.hpp"

namespace bench {

using namespace batchprop;

// ---- devices ---------------------------------------------------------------------------------

struct Device {
    std::string name;  // "cpu" or "cuda"; the first component of every benchmark name
    DeviceSpec spec;
};

// The CPU always; the GPU only when the CUDA runtime says one is usable.
inline std::vector<Device> devices() {
    std::vector<Device> d{{"cpu", parse_device("cpu")}};
    if (gpu_status().usable) d.push_back({"cuda", parse_device("cuda")});
    return d;
}

// One backend per (device, scalar type) for the whole process: a CUDA backend owns a cuBLAS
// handle and a stream, which we create once rather than per benchmark.
template <class T>
Backend<T>& backend(const Device& d) {
    static std::map<std::string, std::unique_ptr<Backend<T>>> cache;
    auto& slot = cache[d.name];
    if (!slot) slot = make_backend<T>(d.spec);
    return *slot;
}

// Without a usable GPU, one benchmark stands for the whole GPU sweep and says why it is
// skipped (the reason shows in the output instead of the GPU rows silently missing).
inline void register_gpu_unavailable(const std::string& suite) {
    if (gpu_status().usable) return;
    benchmark::RegisterBenchmark((suite + "/cuda/unavailable").c_str(), [](benchmark::State& st) {
        st.SkipWithError(("no usable GPU: " + gpu_status().reason).c_str());
        for (auto _ : st) {
        }
    });
}

// ---- timing ----------------------------------------------------------------------------------

// Seconds of f() on the device, by the backend's DeviceTimer: CUDA events on the GPU's
// stream; on the CPU the wall clock (OpenBLAS runs its GEMMs on several threads, so Google
// Benchmark's default CPU time of the calling thread would undercount). Every benchmark
// therefore uses UseManualTime() and SetIterationTime(seconds(...)).
template <class F>
double seconds(Memory& mem, F&& f) {
    const std::unique_ptr<DeviceTimer> timer = mem.make_timer();
    timer->start();
    f();
    return timer->stop_seconds();
}

// ---- data ------------------------------------------------------------------------------------

// Uniform values in [lo, hi) from a seed (splitmix64, so the same numbers everywhere).
template <class T>
std::vector<T> random_vector(std::size_t n, std::uint64_t seed, double lo, double hi) {
    std::vector<T> v(n);
    std::uint64_t s = splitmix64(seed);
    for (T& x : v) x = T(lo + (hi - lo) * double(splitmix64(s++) >> 11) * 0x1.0p-53);
    return v;
}

// The training images the epoch benchmarks run on: the first 50,000 Fashion-MNIST training
// images when Debian's dataset-fashion-mnist is installed (or $BATCHPROP_DATA points at an
// MNIST-format directory), else seeded random non-zero data of the same shape. `label` says
// which, and every benchmark that uses it shows it.
struct TrainImages {
    Dataset data;
    std::string label;
};

inline const TrainImages& train_images() {
    static const TrainImages images = [] {
        TrainImages t;
        const char* env = std::getenv("BATCHPROP_DATA");
        const std::string dir = env && *env ? env : default_data_dir();
        try {
            const IdxFiles f = find_idx_files(dir);
            t.data = load_idx(f.train_images, f.train_labels);
            if (t.data.n > 50000) t.data = t.data.slice(0, 50000);
            t.label = "fashion-mnist";
            if (dir != default_data_dir()) t.label = "idx:" + dir;
        } catch (const Error& e) {
            std::fprintf(stderr, "bench: no IDX data in %s (%s); using random data\n", dir.c_str(),
                         e.what());
            t.data.n_inputs = 784;
            t.data.n = 50000;
            // Pixel bytes 1..255: like images, but with no zeros at all.
            t.data.pixels.resize(std::size_t(784) * 50000);
            std::uint64_t p = 7;
            for (std::uint8_t& k : t.data.pixels) k = std::uint8_t(1 + splitmix64(p++) % 255);
            t.data.labels.resize(50000);
            std::uint64_t s = 11;
            for (int& l : t.data.labels) l = int(splitmix64(s++) % 10);
            t.data.source = "random";
            t.label = "random data";
        }
        return t;
    }();
    return images;
}

// ---- validation ------------------------------------------------------------------------------

// Normwise comparison: max_i |got_i - want_i| / max_i |want_i| <= tol (sums in different
// orders cancel differently element by element, so element-wise relative error would flag
// noise). NaN/Inf fail on their own. On failure, message names the worst element and both values.
struct CompareResult {
    bool ok = true;
    double rel = 0.0;
    std::string message;
};

template <class A, class B>
CompareResult compare_normwise(const std::vector<A>& got, const std::vector<B>& want, double tol,
                               const std::string& what) {
    CompareResult r;
    std::ostringstream os;
    os.precision(10);
    if (got.size() != want.size()) {
        os << what << ": sizes differ (" << got.size() << " vs " << want.size() << ")";
        return {false, INFINITY, os.str()};
    }
    double scale = 0.0, worst = 0.0;
    std::size_t at = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (!std::isfinite(double(got[i])) || !std::isfinite(double(want[i]))) {
            os << what << ": non-finite value at " << i << " (got " << got[i] << ", want " << want[i] << ")";
            return {false, INFINITY, os.str()};
        }
        scale = std::max(scale, std::abs(double(want[i])));
        const double d = std::abs(double(got[i]) - double(want[i]));
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    r.rel = scale > 0 ? worst / scale : worst;
    if (r.rel <= tol) return r;
    r.ok = false;
    os << what << ": relative error " << r.rel << " > " << tol << " at element " << at << " (got "
       << got[at] << ", want " << want[at] << ")";
    r.message = os.str();
    return r;
}

// ---- main ------------------------------------------------------------------------------------

// Each suite defines register_benchmarks(); main picks OpenBLAS's kernels exactly as the CLI
// does (so benchmark and CLI figures are comparable), registers, and runs.
void register_benchmarks();

inline int run_main(int argc, char** argv) {
    prefer_fast_blas_kernels(argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("openblas_core", build_info().blas_kernels);
    const GpuStatus& gpu = gpu_status();
    benchmark::AddCustomContext("gpu", gpu.usable ? gpu.names.at(0) : "none (" + gpu.reason + ")");
    try {
        register_benchmarks();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

}  // namespace bench

#define BENCH_MAIN() \
    int main(int argc, char** argv) { return bench::run_main(argc, argv); }
