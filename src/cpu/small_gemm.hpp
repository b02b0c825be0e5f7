// Products with one small dimension on the CPU: the m columns of a mini-batch. The forward
// W·A (A: n_in x m) and the folded weight update δ·Aᵀ (K = m) are such products, and a BLAS
// GEMM spends most of their time packing panels it then uses only m times (OpenBLAS copies
// all of W¹, 94 KB for [784,30,10], on every call). This path packs nothing: a
// register-blocked kernel streams the large operand once past the small one. It is a helper
// of CpuBackend::gemm_impl, which sends it the shapes small_gemm_suits accepts; the BLAS does
// everything else. Not a general GEMM: single-threaded, and x86-64 with AVX2 + FMA or AVX-512.
#pragma once

#include <cstdint>

#include "batchprop/matrix.hpp"

namespace batchprop {

// The instruction sets the kernel is compiled for (one source, cpu_small_gemm_kernel.inc).
enum class SimdLevel { none, avx2, avx512 };
const char* to_string(SimdLevel level);

// The widest level this CPU (and OS) runs, capped by BATCHPROP_SMALL_GEMM=off|avx2|avx512 in
// the environment (read once; `off` sends every product to the BLAS, to compare the two, and
// converts pixels with the scalar division).
SimdLevel small_gemm_level();
// Whether `level` can run here (tests use it to try every level the CPU has).
bool small_gemm_supported(SimdLevel level);

// The largest small dimension sent to the kernel. Measured with bench_ops' small-gemm rows
// (bench/RESULTS.md, single-threaded, OpenBLAS 0.3.21): on the forward products of
// [784,30,10] and [784,100,10] the kernel is 1.0-2.7x the BLAS up to m = 64 with either
// instruction set; at m = 128 the BLAS catches up on the 100-neuron layer (AVX2, 0.87x on its
// update). The update of [784,30,10] at m = 10 is 1.12x OpenBLAS's AVX-512 kernels (the
// resident-A path of the kernel; 0.94x before it) and 1.19x its AVX2 ones.
constexpr int kSmallGemmMaxDim = 64;

// C (M x N) = alpha op(A) op(B) + beta C with one of N (the forward and backward products'
// m columns) or K (the weight update's sum over m examples) at most kSmallGemmMaxDim.
inline bool small_gemm_suits(int M, int N, int K) {
    return M > 0 && N > 0 && (N <= kSmallGemmMaxDim || K <= kSmallGemmMaxDim);
}

// C = alpha op(A) op(B) + beta C, column-major, the arguments of cblas_?gemm(CblasColMajor, ...)
// (C is M x N, op(A) M x K, op(B) K x N; lda, ldb, ldc >= the stored rows). beta == 0 never
// reads C. Any shape works; fast when one dimension is small. Returns false, computing
// nothing, when `level` is none or this CPU cannot run it. The first form uses
// small_gemm_level().
template <class T>
bool small_gemm(SimdLevel level, Op op_a, Op op_b, int M, int N, int K, T alpha, const T* a, int lda,
                const T* b, int ldb, T beta, T* c, int ldc);
template <class T>
bool small_gemm(Op op_a, Op op_b, int M, int N, int K, T alpha, const T* a, int lda, const T* b, int ldb,
                T beta, T* c, int ldc) {
    return small_gemm(small_gemm_level(), op_a, op_b, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

// The gather's conversion, vectorised with the same instruction sets: x[i] = pixel_to_input<T>(
// pixels[i]) (k / 255 in T, math.hpp) for i < n, bit for bit, without a division (see
// to_inputs in the kernel). Returns false, writing nothing, when `level` is none or this CPU
// cannot run it; the caller then converts with pixel_to_input.
template <class T>
bool pixels_to_inputs(SimdLevel level, T* x, const std::uint8_t* pixels, int n);

}  // namespace batchprop
