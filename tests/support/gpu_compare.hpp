// Comparison helpers for the GPU-vs-CPU tests: a tolerance check that names the worst element
// (index, row/column, both values), NaN/Inf that fail on their own, and guarded matrices whose
// padding (ld > rows) and tail past the end must come back untouched. Host-only: no CUDA here,
// so the file also builds, and its own tests run, without a GPU or a CUDA toolkit.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/math.hpp"

namespace gpucmp {

// Element i passes when |got_i - want_i| <= rel * max(|want_i|, floor * max_j |want_j|).
//   floor = 0: purely elementwise relative (elementwise kernels: no cancellation to excuse);
//   floor = 1: normwise, relative to the largest element (GEMMs and gradients: sums taken in a
//              different order cancel differently element by element, so an element much
//              smaller than the largest one may carry the rounding of the large terms).
struct Tolerance {
    double rel = 0.0;
    double floor = 0.0;
};

inline Tolerance exact() { return {0.0, 0.0}; }

// got vs want, element by element. `rows` (when > 0) lets the message give (row, column) of
// the worst element of a column-major matrix as well as its flat index.
template <class G, class W>
::testing::AssertionResult compare(const std::vector<G>& got, const std::vector<W>& want,
                                   Tolerance tol, int rows = 0) {
    std::ostringstream os;
    os.precision(17);
    if (got.size() != want.size()) {
        os << "sizes differ: got " << got.size() << " elements, want " << want.size();
        return ::testing::AssertionFailure() << os.str();
    }
    auto where = [&](std::size_t i) {
        std::ostringstream w;
        w << "index " << i;
        if (rows > 0) w << " (row " << i % std::size_t(rows) << ", col " << i / std::size_t(rows) << ")";
        return w.str();
    };
    double scale = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        // NaN and Inf fail whatever the tolerance: a NaN compares false with everything, and
        // inf - inf is NaN, so a plain difference test could let either through.
        if (!std::isfinite(double(got[i])) || !std::isfinite(double(want[i]))) {
            os << "non-finite value at " << where(i) << ": got " << got[i] << ", want " << want[i];
            return ::testing::AssertionFailure() << os.str();
        }
        scale = std::max(scale, std::abs(double(want[i])));
    }
    std::size_t worst = 0, n_bad = 0;
    double worst_ratio = -1.0;  // |diff| / allowed (inf when allowed is 0 and diff is not)
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double diff = std::abs(double(got[i]) - double(want[i]));
        const double allowed = tol.rel * std::max(std::abs(double(want[i])), tol.floor * scale);
        const double ratio = diff == 0.0 ? 0.0 : allowed > 0.0 ? diff / allowed : INFINITY;
        if (ratio > 1.0) ++n_bad;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            worst = i;
        }
    }
    if (n_bad == 0) return ::testing::AssertionSuccess();
    const double diff = std::abs(double(got[worst]) - double(want[worst]));
    os << n_bad << " of " << got.size() << " elements outside tolerance (rel " << tol.rel
       << ", floor " << tol.floor << " x max|want| = " << tol.floor * scale << "); worst at "
       << where(worst) << ": got " << got[worst] << ", want " << want[worst] << ", |diff| "
       << diff;
    if (std::isfinite(worst_ratio)) os << " = " << worst_ratio << " x allowed";
    return ::testing::AssertionFailure() << os.str();
}

// ---- seeded inputs --------------------------------------------------------------------------

// Uniform in [lo, hi) from a seed (splitmix64 from math.hpp: the same numbers everywhere),
// never exactly zero: an all-zero or zero-riddled input hides outputs that were never written.
template <class T>
std::vector<T> random_values(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
    std::vector<T> v(n);
    std::uint64_t s = batchprop::splitmix64(seed ^ 0x5EEDull);
    for (T& x : v) {
        x = T(lo + (hi - lo) * double(batchprop::splitmix64(s++) >> 11) * 0x1.0p-53);
        if (x == T(0)) x = T(lo + 0.5 * (hi - lo)) != T(0) ? T(lo + 0.5 * (hi - lo)) : T(hi * 0.25);
    }
    return v;
}

inline std::vector<int> random_ints(std::size_t n, std::uint64_t seed, int lo, int hi_inclusive) {
    std::vector<int> v(n);
    std::uint64_t s = batchprop::splitmix64(seed ^ 0x1D5ull);
    const std::uint64_t span = std::uint64_t(hi_inclusive - lo + 1);
    for (int& x : v) x = lo + int(batchprop::splitmix64(s++) % span);
    return v;
}

// ---- guarded matrices -----------------------------------------------------------------------

// Elements allocated past the end of every output buffer, filled with a sentinel that must
// survive the operation: catches writes past the last column.
constexpr std::size_t kGuard = 16;

// An unusual finite value no computation here produces by accident.
template <class T>
T sentinel() {
    return T(-31415.25);
}

// A column-major (rows x cols) matrix with leading dimension ld >= rows stored in a buffer of
// ld * cols + kGuard elements: rows [rows, ld) of each column (the padding of a sub-view) and
// the kGuard tail are not part of the matrix and must never be written.
struct Layout {
    int rows = 0, cols = 0, ld = 0;
    Layout(int r, int c, int pad = 0) : rows(r), cols(c), ld(std::max(1, r + pad)) {}
    std::size_t alloc() const { return std::size_t(ld) * std::size_t(cols) + kGuard; }
    bool active(std::size_t i) const {
        return i < std::size_t(ld) * std::size_t(cols) && int(i % std::size_t(ld)) < rows;
    }
};

// A host image of a guarded matrix: active elements from `values` (rows*cols, column-major,
// compact), everything else the sentinel.
template <class T>
std::vector<T> guarded(const Layout& l, const std::vector<T>& values) {
    std::vector<T> full(l.alloc(), sentinel<T>());
    for (int j = 0; j < l.cols; ++j)
        for (int i = 0; i < l.rows; ++i)
            full[std::size_t(i) + std::size_t(j) * std::size_t(l.ld)] =
                values.at(std::size_t(i) + std::size_t(j) * std::size_t(l.rows));
    return full;
}

// The rows*cols active elements of a downloaded guarded buffer, compact column-major.
template <class T>
std::vector<T> active_part(const Layout& l, const std::vector<T>& full) {
    std::vector<T> out(std::size_t(l.rows) * std::size_t(l.cols));
    for (int j = 0; j < l.cols; ++j)
        for (int i = 0; i < l.rows; ++i)
            out[std::size_t(i) + std::size_t(j) * std::size_t(l.rows)] =
                full.at(std::size_t(i) + std::size_t(j) * std::size_t(l.ld));
    return out;
}

// Every padding and tail element still holds the sentinel, bit for bit.
template <class T>
::testing::AssertionResult guards_intact(const Layout& l, const std::vector<T>& full) {
    if (full.size() != l.alloc())
        return ::testing::AssertionFailure() << "buffer has " << full.size() << " elements, expected "
                                             << l.alloc();
    const T s = sentinel<T>();
    for (std::size_t i = 0; i < full.size(); ++i) {
        if (l.active(i) || std::memcmp(&full[i], &s, sizeof(T)) == 0) continue;
        std::ostringstream os;
        os.precision(17);
        os << "guard element " << i << " overwritten (";
        if (i >= std::size_t(l.ld) * std::size_t(l.cols))
            os << "tail +" << i - std::size_t(l.ld) * std::size_t(l.cols);
        else
            os << "padding row " << i % std::size_t(l.ld) << " of column " << i / std::size_t(l.ld);
        os << ", " << l.rows << "x" << l.cols << " ld " << l.ld << "): holds " << full[i]
           << ", sentinel " << s;
        return ::testing::AssertionFailure() << os.str();
    }
    return ::testing::AssertionSuccess();
}

// A guarded matrix (or, as rows x 1, a vector) on one backend's memory: upload once, a view
// for the call, download everything (guards included) afterwards. E is T, or int for indices.
template <class E>
struct DeviceMatrix {
    DeviceMatrix(batchprop::Memory& mem, const Layout& l, const std::vector<E>& values)
        : layout(l), buf(mem, l.alloc()) {
        buf.upload(guarded(l, values));
    }
    batchprop::MatrixView<E> view() {
        return batchprop::MatrixView<E>(buf.data(), layout.rows, layout.cols, layout.ld);
    }
    E* data() { return buf.data(); }
    std::vector<E> download() const { return buf.to_host(); }
    // The downloaded matrix, compact, after checking its guards (fails the test if broken).
    std::vector<E> result(const char* who) const {
        const std::vector<E> full = download();
        EXPECT_TRUE(guards_intact(layout, full)) << who;
        return active_part(layout, full);
    }

    Layout layout;
    batchprop::Buffer<E> buf;
};

}  // namespace gpucmp
