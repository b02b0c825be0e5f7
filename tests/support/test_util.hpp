// Helpers shared by the CPU tests: seeded non-zero random data and a comparison that names
// the worst element.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/dataset.hpp"
#include "batchprop/math.hpp"
#include "batchprop/network.hpp"
#include "batchprop/trainer.hpp"

// The guard every GPU test starts with: no usable GPU is a normal state, reported as a skip
// that says why (e.g. "CUDA runtime: CUDA driver version is insufficient ... (35)").
#define REQUIRE_GPU()                                                     \
    do {                                                                  \
        const batchprop::GpuStatus& gpu_ = batchprop::gpu_status();       \
        if (!gpu_.usable) GTEST_SKIP() << "no usable GPU: " << gpu_.reason; \
    } while (0)

namespace bptest {

// The bytes of an IDX file of unsigned bytes (type 0x08) with the given dimensions.
inline std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> b{0, 0, 0x08, std::uint8_t(dims.size())};
    for (std::uint32_t d : dims)
        for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(d >> s));  // big-endian
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

// A fixture with a fresh directory per test, removed afterwards. Named after the process and
// the test, so tests that ctest runs in parallel never share one.
class TempDirTest : public ::testing::Test {
protected:
    explicit TempDirTest(std::string prefix) : prefix_(std::move(prefix)) {}
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               (prefix_ + "_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    std::filesystem::path dir_;

private:
    std::string prefix_;
};

// Uniform values in [lo, hi) from a seed; never all zero for lo < hi.
template <class T>
std::vector<T> random_vector(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
    std::vector<T> v(n);
    std::uint64_t s = batchprop::splitmix64(seed);
    for (T& x : v) x = T(lo + (hi - lo) * double(batchprop::splitmix64(s++) >> 11) * 0x1.0p-53);
    return v;
}

// max_i |got_i - want_i| / max_i |want_i| <= tol (normwise: sums in different orders may
// cancel differently element by element). NaN or Inf in either fails on its own.
template <class A, class B>
::testing::AssertionResult close_normwise(const std::vector<A>& got, const std::vector<B>& want, double tol) {
    if (got.size() != want.size())
        return ::testing::AssertionFailure() << "sizes differ: " << got.size() << " vs " << want.size();
    double scale = 0.0, worst = 0.0;
    std::size_t at = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (!std::isfinite(double(got[i])) || !std::isfinite(double(want[i])))
            return ::testing::AssertionFailure() << "non-finite value at " << i << ": got " << got[i]
                                                 << ", want " << want[i];
        scale = std::max(scale, std::abs(double(want[i])));
        const double d = std::abs(double(got[i]) - double(want[i]));
        if (d > worst) { worst = d; at = i; }
    }
    const double rel = scale > 0 ? worst / scale : worst;
    if (rel <= tol) return ::testing::AssertionSuccess();
    std::ostringstream os;
    os.precision(17);
    os << "relative error " << rel << " > " << tol << "; worst element " << at << ": got " << got[at]
       << ", want " << want[at];
    return ::testing::AssertionFailure() << os.str();
}

// Pixel bytes uniform in 0..255 from a seed (all 256 values occur in any long run).
inline std::vector<std::uint8_t> random_pixels(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint8_t> p(n);
    std::uint64_t s = batchprop::splitmix64(seed);
    for (std::uint8_t& k : p) k = std::uint8_t(batchprop::splitmix64(s++) >> 56);
    return p;
}

// n examples of n_inputs random pixels (from `seed`; never all zero) and random labels in
// 0..n_out-1 (from `label_seed`): data for comparing two ways of training the same network.
inline batchprop::Dataset random_dataset(int n, int n_inputs, int n_out, std::uint64_t seed, std::uint64_t label_seed) {
    batchprop::Dataset d;
    d.n_inputs = n_inputs;
    d.n = n;
    d.source = "random";
    d.pixels = random_pixels(std::size_t(n) * std::size_t(n_inputs), seed);
    std::uint64_t s = batchprop::splitmix64(label_seed);
    for (int j = 0; j < n; ++j) d.labels.push_back(int(batchprop::splitmix64(s++) % std::uint64_t(n_out)));
    return d;
}

// Examples [first, first + m) of a data set as the trainer sees them: inputs x = k/255 in T
// (float inputs: as they are), (n_inputs x m), and one-hot targets y, (n_out x m), both
// column-major on the host.
template <class T>
struct HostBatch {
    std::vector<T> x, y;
};
template <class T>
HostBatch<T> host_batch(const batchprop::Dataset& d, int first, int m, int n_out) {
    HostBatch<T> b;
    const std::size_t n0 = std::size_t(d.n_inputs);
    const std::size_t begin = std::size_t(first) * n0;
    for (std::size_t i = begin; i < begin + n0 * std::size_t(m); ++i)
        b.x.push_back(d.pixel_type() == batchprop::PixelType::f32
                          ? batchprop::to_input<T>(static_cast<const float*>(d.image_data())[i])
                          : batchprop::to_input<T>(static_cast<const std::uint8_t*>(d.image_data())[i]));
    b.y.assign(std::size_t(n_out) * std::size_t(m), T(0));
    for (int j = 0; j < m; ++j) b.y[std::size_t(j) * std::size_t(n_out) + std::size_t(d.labels[std::size_t(first + j)])] = T(1);
    return b;
}

// A small, learnable classification problem: n points in [0,1]^2 (two pixels) whose class (0..3)
// is the quadrant around (0.5, 0.5). Classes 0 and 3 need a hidden layer to separate cleanly from
// the rest, so reaching high accuracy shows backprop through the hidden layer works.
inline batchprop::Dataset quadrants(int n, std::uint64_t seed) {
    batchprop::Dataset d;
    d.n_inputs = 2;
    d.n = n;
    d.source = "quadrants";
    d.pixels = random_pixels(std::size_t(2) * std::size_t(n), seed);
    for (int j = 0; j < n; ++j) {
        const int u = d.pixels[std::size_t(2 * j)], v = d.pixels[std::size_t(2 * j + 1)];
        d.labels.push_back((u > 127 ? 1 : 0) + (v > 127 ? 2 : 0));
    }
    return d;
}

// Whether two networks have the same sizes and every parameter the same bits (a sweep's model
// against itself trained alone); the first difference otherwise.
inline ::testing::AssertionResult same_bits(const batchprop::Network<double>& got, const batchprop::Network<double>& want) {
    if (got.sizes() != want.sizes()) return ::testing::AssertionFailure() << "sizes differ";
    for (std::size_t i = 0; i < want.params().size(); ++i)
        if (std::memcmp(&got.params()[i], &want.params()[i], sizeof(double)) != 0)
            return ::testing::AssertionFailure() << "parameter " << i << ": " << got.params()[i] << " vs "
                                                 << want.params()[i];
    return ::testing::AssertionSuccess();
}

// The TrainConfig most tests start from: `epochs` epochs in mini-batches of `batch`, at a
// learning rate (0.5) where float and double, and every summation order, stay close over a few
// epochs; each test then sets what it is about (cost, mode, launch, segment_steps, ...).
inline batchprop::TrainConfig config(int epochs, int batch, double lambda = 0.0, double eta = 0.5) {
    batchprop::TrainConfig c;
    c.epochs = epochs;
    c.batch = batch;
    c.eta = eta;
    c.lambda = lambda;
    return c;
}

// A sweep's base configuration in its tests: `epochs` epochs, cross-entropy; the grid gives
// the rest.
inline batchprop::TrainConfig sweep_config(int epochs) {
    batchprop::TrainConfig c;
    c.epochs = epochs;
    c.cost = batchprop::Cost::cross_entropy;
    return c;
}

// The DType of scalar type T.
template <class T>
constexpr batchprop::DType dtype_of() {
    return sizeof(T) == sizeof(double) ? batchprop::DType::f64 : batchprop::DType::f32;
}

template <class T>
struct TrainRun {
    std::vector<T> params;
    std::vector<batchprop::Evaluation> evals;  // after each epoch
};

// A whole Trainer::run from Network::init(init, init_seed), evaluating on ev after each epoch,
// on backend (default: a CPU one); with comm, in data-parallel mode (distributed.hpp).
template <class T>
TrainRun<T> run_training(const batchprop::Dataset& tr, const batchprop::Dataset& ev, const std::vector<int>& sizes,
                         const batchprop::TrainConfig& cfg, std::uint64_t init_seed,
                         batchprop::Communicator* comm = nullptr, batchprop::Backend<T>* backend = nullptr,
                         batchprop::Init init = batchprop::Init::scaled) {
    using namespace batchprop;
    std::unique_ptr<Backend<T>> cpu;
    if (!backend) cpu = make_cpu_backend<T>();
    Backend<T>* be = backend ? backend : cpu.get();
    Network<T> net(sizes);
    net.init(init, init_seed);
    DeviceData<T> dtr(*be, tr), dev(*be, ev);
    Trainer<T> trainer(*be, net.layout(), dtr, &dev, cfg, comm);
    trainer.backprop().set_params(net.params());
    TrainRun<T> r;
    TrainCallbacks cb;
    cb.on_epoch = [&](const EpochResult& e) {
        r.evals.push_back(*e.evaluation);
        return true;
    };
    trainer.run(cb);
    r.params = trainer.backprop().params();
    return r;
}

}  // namespace bptest
