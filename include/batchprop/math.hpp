/// @file
/// Scalar math shared by the CPU loops and the CUDA kernels, so the two backends cannot drift
/// apart: sigmoid, sigmoid' from the stored activation, the two costs and their output errors,
/// and the counter-based shuffle key. Nothing here allocates or touches memory.
#pragma once

#include <cmath>
#include <cstdint>

#include "batchprop/settings.hpp"  // Cost

/// Marks the shared scalar functions: host and device, inlined, under nvcc; plain inline for
/// the C++ compiler (so these headers build without CUDA).
#ifdef __CUDACC__
#define BP_HD __host__ __device__ __forceinline__
#else
#define BP_HD inline
#endif

namespace batchprop {

/// sigma(z) = 1 / (1 + e^-z), written so that exp never overflows: with e = e^-|z| (in (0, 1]),
/// sigma = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0. It saturates to exactly 0 or 1 at
/// |z| = 100+ instead of producing inf/inf = NaN, and NaN stays NaN. Below the point where
/// sigma(z) ~ e^z leaves the normal range (float: z < -87.3, double: z < -708.3) the result is
/// flushed to exactly 0: a subnormal activation is ~1e-38 of nothing to the cost, but every
/// product it enters afterwards (a(1-a), the GEMMs) runs on the CPU's slow microcoded
/// subnormal path, which made saturated wide networks train up to 20x slower.
/// Branch-free on purpose: the selects become blends, so the CPU loops vectorise (with glibc's
/// vector exp, see cpu_backend.cpp) and GPU warps never diverge. Both backends share this.
BP_HD float sigmoid(float z) {
    const float e = expf(-fabsf(z));
    const float s = 1.0f / (1.0f + e);
    const float a = z >= 0.0f ? s : e * s;
    return z < -87.33f ? 0.0f : a;  // e^z < FLT_MIN (1.18e-38)
}
/// sigmoid in double: the same form, flushed to 0 below z = -708.39.
BP_HD double sigmoid(double z) {
    const double e = exp(-fabs(z));
    const double s = 1.0 / (1.0 + e);
    const double a = z >= 0.0 ? s : e * s;
    return z < -708.39 ? 0.0 : a;  // e^z < DBL_MIN (2.2e-308)
}

/// sigma'(z) = sigma(z)(1 - sigma(z)) = a(1 - a): computed from the stored activation, so the
/// backward pass needs no separate z buffer.
template <class T>
BP_HD T sigmoid_prime_from_a(T a) {
    return a * (T(1) - a);
}

/// BP1, the output error delta^L_j for one output neuron with activation a and target y.
/// quadratic:     C = 1/2 (a - y)^2                 -> delta = (a - y) sigma'(z) = (a - y) a (1 - a)
/// cross-entropy: C = -[y ln a + (1 - y) ln(1 - a)] -> delta = a - y   (sigma' cancels)
template <class T>
BP_HD T output_delta(Cost cost, T a, T y) {
    return cost == Cost::quadratic ? (a - y) * sigmoid_prime_from_a(a) : a - y;
}

/// The cost of one output neuron, in double whatever T is, because evaluation sums it over
/// tens of thousands of terms. Cross-entropy: terms with y = 0 or y = 1 drop out exactly (as
/// numpy's nan_to_num makes them in the book), and log(0) is clamped to the smallest normal
/// so a saturated wrong answer costs ~708 instead of inf.
BP_HD double cost_term(Cost cost, double a, double y) {
    if (cost == Cost::quadratic) {
        const double d = a - y;
        return 0.5 * d * d;
    }
    const double tiny = 2.2250738585072014e-308;
    double c = 0.0;
    if (y > 0.0) c -= y * log(a > tiny ? a : tiny);
    if (y < 1.0) c -= (1.0 - y) * log((1.0 - a) > tiny ? (1.0 - a) : tiny);
    return c;
}

/// An input neuron's activation from a stored pixel k in 0..255: x = k / 255, computed in T.
/// Images stay bytes (as the IDX file stores them) on the host and on the device and become T
/// only here, when a mini-batch or an evaluation chunk is gathered. In double the input is
/// therefore the exact double nearest k/255 (the book's value), never a widened float.
template <class T>
BP_HD T pixel_to_input(std::uint8_t k) {
    return T(k) / T(255);
}

/// An input neuron's activation from an image element of either pixel type (dataset.hpp's
/// PixelType): a byte k is pixel_to_input(k) = k / 255; a float input is used as it is, only
/// converted to T (never quantised to a byte). Both backends' gather and load code is written
/// once, templated on the element type, and calls this.
template <class T>
BP_HD T to_input(std::uint8_t k) {
    return pixel_to_input<T>(k);
}
/// A float input: used as it is, converted to T.
template <class T>
BP_HD T to_input(float v) {
    return T(v);
}

/// BP3's sum over the m columns of a batch, in one fixed order that every backend follows, so
/// that double results agree to the last bit and float results to rounding of the same sums:
/// the columns are cut into groups of kRowSumGroup (the last may be shorter), each group is
/// summed left to right from 0, then the group sums are added left to right from 0. For
/// m <= kRowSumGroup that is the plain left-to-right sum. The groups are what let a GPU spread a
/// wide layer's sums over (rows x groups) threads instead of one thread per row.
constexpr int kRowSumGroup = 32;
/// The groups a sum over m columns is cut into: ceil(m / kRowSumGroup).
inline constexpr int row_sum_groups(int m) { return (m + kRowSumGroup - 1) / kRowSumGroup; }
/// Row i of a column-major (rows x m) matrix d summed in that order: the one-block and the
/// cluster step's BP3 on a thread that owns the row.
template <class T>
BP_HD T row_sum(const T* d, int i, int rows, int m) {
    T total = T(0);
    for (int c0 = 0; c0 < m; c0 += kRowSumGroup) {
        const int c1 = c0 + kRowSumGroup < m ? c0 + kRowSumGroup : m;
        T part = T(0);
        for (int j = c0; j < c1; ++j) part += d[i + std::size_t(j) * std::size_t(rows)];
        total += part;
    }
    return total;
}

/// One example's evaluation, shared by both backends' evaluate and by `batchprop eval`/`predict`:
/// a is its output column a^L[0..n), label its class.
/// The predicted class: the index of the largest activation, ties to the lowest (strict >),
/// as numpy's argmax.
template <class T>
BP_HD int argmax(const T* a, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (a[i] > a[best]) best = i;
    return best;
}
/// Its cost against the one-hot target of `label`: cost_term summed over i = 0, 1, ... n-1.
template <class T>
BP_HD double example_cost(Cost cost, const T* a, int n, int label) {
    double c = 0.0;
    for (int i = 0; i < n; ++i) c += cost_term(cost, double(a[i]), i == label ? 1.0 : 0.0);
    return c;
}

/// splitmix64: a fast, well-mixed 64-bit hash. shuffle_key(seed, epoch, i) is the sort key of
/// example i in epoch `epoch`; sorting by it gives the epoch's permutation. Being counter-based
/// (no sequential RNG state) it yields the same permutation on the CPU (a radix sort of the
/// keys) and on the GPU (thrust sort), so a given seed trains in the same order on either device.
BP_HD std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
/// The sort key of example i in epoch `epoch` of a run seeded `seed` (see splitmix64).
BP_HD std::uint64_t shuffle_key(std::uint64_t seed, std::uint64_t epoch, std::uint64_t i) {
    return splitmix64(splitmix64(seed ^ splitmix64(epoch)) + i);
}

}  // namespace batchprop
