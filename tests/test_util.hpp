// Helpers shared by the CPU tests: seeded non-zero random data and a comparison that names
// the worst element.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "batchprop/dataset.hpp"
#include "batchprop/math.hpp"

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

// A small, learnable classification problem: n points in [0,1]^2 whose class (0..3) is the
// quadrant around (0.5, 0.5). Classes 0 and 3 need a hidden layer to separate cleanly from
// the rest, so reaching high accuracy shows backprop through the hidden layer works.
inline batchprop::Dataset quadrants(int n, std::uint64_t seed) {
    batchprop::Dataset d;
    d.n_inputs = 2;
    d.n = n;
    d.source = "quadrants";
    d.x = random_vector<float>(std::size_t(2) * std::size_t(n), seed, 0.0, 1.0);
    for (int j = 0; j < n; ++j) {
        const float u = d.x[std::size_t(2 * j)], v = d.x[std::size_t(2 * j + 1)];
        d.labels.push_back((u > 0.5f ? 1 : 0) + (v > 0.5f ? 2 : 0));
    }
    return d;
}

}  // namespace bptest
