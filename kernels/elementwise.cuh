// Host-side launchers of the elementwise CUDA kernels (elementwise.cu). Each one mirrors a
// CpuBackend loop of the same name and enqueues one kernel on `stream`; none of them
// synchronizes or allocates. Shapes were checked by Backend<T>'s public functions already.
// Pointers and views are device memory. Notation as in matrix.hpp: rows = neurons, columns =
// examples, m = columns of a mini-batch.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "batchprop/math.hpp"
#include "batchprop/matrix.hpp"

namespace batchprop {
namespace kernels {

// a = sigma(z + b 1^T).  a, z: (rows x m), may alias (same data and ld);  b: (rows).
template <class T>
void bias_sigmoid(cudaStream_t stream, MatrixView<T> a, ConstView<T> z, const T* b);

// BP1 in one pass with BP3: delta = output_delta(cost, a, y);  b = b_beta b + alpha (delta's row
// sums, in math.hpp's group order).  delta, a, y: (n_L x m); b: (n_L). partials: device
// workspace of (n_L x row_sum_groups(m)), used (and required) only when m > kRowSumGroup.
template <class T>
void output_delta_bias(cudaStream_t stream, MatrixView<T> delta, ConstView<T> a, ConstView<T> y,
                       Cost cost, T* b, T alpha, T b_beta, T* partials);

// BP2's Hadamard half in one pass with BP3: delta = delta (.) a (1 - a) in place; b as above.
template <class T>
void hidden_delta_bias(cudaStream_t stream, MatrixView<T> delta, ConstView<T> a, T* b, T alpha,
                       T b_beta, T* partials);

// params[i] = (i < n_weights ? decay : 1) * params[i] - scale * nabla[i],  i < n_params.
template <class T>
void sgd_step(cudaStream_t stream, T* params, const T* nabla, std::size_t n_params,
              std::size_t n_weights, T decay, T scale);

// x(:, j) = to_input(images(:, e)) and y(:, j) = e_{labels[e]} with e = order[*cursor + offset + j].
// x: (n_0 x m); y: (n_L x m); images: (n_0 x n), S = bytes (k / 255) or float (as they are);
// order: (n); cursor: one int.
template <class T, class S>
void gather_batch(cudaStream_t stream, MatrixView<T> x, MatrixView<T> y, ConstView<S> images,
                  const int* labels, const int* order, const int* cursor, int offset);

// *cursor += by.
void advance_cursor(cudaStream_t stream, int* cursor, int by);

// x = to_input(images).  x, images: (n_0 x count); S as for gather_batch.
template <class T, class S>
void load_inputs(cudaStream_t stream, MatrixView<T> x, ConstView<S> images);

}  // namespace kernels
}  // namespace batchprop
