// Host-side launchers of the elementwise CUDA kernels (elementwise.cu). Each one mirrors a
// CpuBackend loop of the same name and enqueues one kernel on `stream`; none of them
// synchronizes or allocates. Shapes were checked by Backend<T>'s public functions already.
// Pointers and views are device memory. Notation as in matrix.hpp: rows = neurons, columns =
// examples, m = columns of a mini-batch.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "batchprop/math.hpp"
#include "batchprop/matrix.hpp"

namespace batchprop {
namespace kernels {

// a = sigma(z + b 1^T).  a, z: (rows x m), may alias (same data and ld);  b: (rows).
template <class T>
void bias_sigmoid(cudaStream_t stream, MatrixView<T> a, ConstView<T> z, const T* b);

// BP1: delta = output_delta(cost, a, y).  delta, a, y: (n_L x m).
template <class T>
void output_delta(cudaStream_t stream, MatrixView<T> delta, ConstView<T> a, ConstView<T> y,
                  Cost cost);

// BP2's Hadamard half: delta = delta (.) a (1 - a), in place.  delta, a: (n_l x m).
template <class T>
void hidden_delta(cudaStream_t stream, MatrixView<T> delta, ConstView<T> a);

// BP3: out = beta * out + alpha * delta 1 (sum over columns).  out: (rows); delta: (rows x m).
template <class T>
void row_sums(cudaStream_t stream, T* out, ConstView<T> delta, T alpha, T beta);

// params[i] = (i < n_weights ? decay : 1) * params[i] - scale * nabla[i],  i < n_params.
template <class T>
void sgd_step(cudaStream_t stream, T* params, const T* nabla, std::size_t n_params,
              std::size_t n_weights, T decay, T scale);

// x(:, j) = data(:, idx[j]).  x: (rows x m); data: (rows x n); idx: (m).
template <class T>
void gather_columns(cudaStream_t stream, MatrixView<T> x, ConstView<T> data, const int* idx);

// y(:, j) = e_{labels[idx ? idx[j] : j]}; a label outside [0, rows) gives a zero column, as on
// the CPU.  y: (rows x m).
template <class T>
void one_hot(cudaStream_t stream, MatrixView<T> y, const int* labels, const int* idx);

}  // namespace kernels
}  // namespace batchprop
