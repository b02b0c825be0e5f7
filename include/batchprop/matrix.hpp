/// @file
/// Column-major matrix views: a pointer plus a shape. They own nothing and can point at host
/// or device memory alike; which one is the backend's business.
///
/// Notation used across the project:  rows = neurons, columns = examples.
///   n_l : number of neurons in layer l          m : examples in a mini-batch
///   w[l]: (n_l x n_{l-1})   b[l]: (n_l x 1)     a[l], delta[l]: (n_l x m)
/// Element (i, j) lives at data[i + j * ld]; ld >= rows (ld > rows only for sub-views).
#pragma once

#include <cstddef>

#include "batchprop/check.hpp"

namespace batchprop {

/// Whether a GEMM operand is used as stored or transposed. Transposes are op flags passed to
/// BLAS, never copies.
enum class Op { N, T };

template <class T>
struct MatrixView {
    T* data = nullptr;
    int rows = 0;
    int cols = 0;
    int ld = 0;  ///< leading dimension: distance between the starts of two columns

    MatrixView() = default;
    MatrixView(T* d, int r, int c) : data(d), rows(r), cols(c), ld(r > 0 ? r : 1) {}
    MatrixView(T* d, int r, int c, int l) : data(d), rows(r), cols(c), ld(l) {}

    /// Read-only views convert implicitly from writable ones.
    template <class U, class = decltype(static_cast<T*>(static_cast<U*>(nullptr)))>
    MatrixView(const MatrixView<U>& o) : data(o.data), rows(o.rows), cols(o.cols), ld(o.ld) {}

    std::size_t size() const { return std::size_t(rows) * std::size_t(cols); }
    bool contiguous() const { return ld == rows || cols <= 1; }

    /// Columns [first, first + count): a mini-batch of a data set, one example of a batch.
    MatrixView col_range(int first, int count) const {
        BP_REQUIRE(first >= 0 && count >= 0 && first + count <= cols,
                   "column range [" << first << ", " << first + count << ") outside " << cols
                                    << " columns");
        return MatrixView(data + std::size_t(first) * std::size_t(ld), rows, count, ld);
    }
    MatrixView col(int j) const { return col_range(j, 1); }
};

template <class T>
using ConstView = MatrixView<const T>;

}  // namespace batchprop
