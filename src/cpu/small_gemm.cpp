// See cpu_small_gemm.hpp. This file picks the instruction set at run time and maps the GEMM's op
// flags onto the kernel (cpu_small_gemm_kernel.inc, compiled once per instruction set).
#include "cpu/small_gemm.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(BATCHPROP_SMALL_GEMM_X86)
// The kernel's entry points, one namespace per instruction set. A (M x K) is column-major;
// B's element (k, j) is at b[k * b_k + j * b_j].
namespace batchprop::small_gemm_kernels {
#define BP_DECLARE_KERNELS(isa)                                                                       \
    namespace isa {                                                                                   \
    void sgemm(int M, int N, int K, float alpha, const float* a, int lda, const float* b,              \
               std::ptrdiff_t b_k, std::ptrdiff_t b_j, float beta, float* c, int ldc);                \
    void dgemm(int M, int N, int K, double alpha, const double* a, int lda, const double* b,           \
               std::ptrdiff_t b_k, std::ptrdiff_t b_j, double beta, double* c, int ldc);              \
    void pixels_to_inputs(float* x, const std::uint8_t* p, int n);                                    \
    void pixels_to_inputs(double* x, const std::uint8_t* p, int n);                                   \
    }
BP_DECLARE_KERNELS(avx2)
BP_DECLARE_KERNELS(avx512)
#undef BP_DECLARE_KERNELS
}  // namespace batchprop::small_gemm_kernels
#endif

namespace batchprop {

const char* to_string(SimdLevel level) {
    switch (level) {
        case SimdLevel::avx512: return "avx512";
        case SimdLevel::avx2: return "avx2";
        case SimdLevel::none: break;
    }
    return "off";
}

bool small_gemm_supported(SimdLevel level) {
#if defined(BATCHPROP_SMALL_GEMM_X86)
    // __builtin_cpu_supports also asks the OS (XGETBV) whether it saves the wider registers.
    switch (level) {
        case SimdLevel::avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
        case SimdLevel::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case SimdLevel::none: break;
    }
#else
    (void)level;
#endif
    return false;
}

SimdLevel small_gemm_level() {
    static const SimdLevel level = [] {
        SimdLevel cap = SimdLevel::avx512;
        if (const char* e = std::getenv("BATCHPROP_SMALL_GEMM")) {
            if (std::strcmp(e, "off") == 0) cap = SimdLevel::none;
            if (std::strcmp(e, "avx2") == 0) cap = SimdLevel::avx2;
        }
        for (SimdLevel l : {SimdLevel::avx512, SimdLevel::avx2})
            if (int(l) <= int(cap) && small_gemm_supported(l)) return l;
        return SimdLevel::none;
    }();
    return level;
}

namespace {

#if defined(BATCHPROP_SMALL_GEMM_X86)
void kernel(SimdLevel level, int M, int N, int K, float alpha, const float* a, int lda, const float* b,
            std::ptrdiff_t b_k, std::ptrdiff_t b_j, float beta, float* c, int ldc) {
    (level == SimdLevel::avx512 ? small_gemm_kernels::avx512::sgemm : small_gemm_kernels::avx2::sgemm)(
        M, N, K, alpha, a, lda, b, b_k, b_j, beta, c, ldc);
}
void kernel(SimdLevel level, int M, int N, int K, double alpha, const double* a, int lda, const double* b,
            std::ptrdiff_t b_k, std::ptrdiff_t b_j, double beta, double* c, int ldc) {
    (level == SimdLevel::avx512 ? small_gemm_kernels::avx512::dgemm : small_gemm_kernels::avx2::dgemm)(
        M, N, K, alpha, a, lda, b, b_k, b_j, beta, c, ldc);
}
#endif

}  // namespace

template <class T>
bool small_gemm(SimdLevel level, Op op_a, Op op_b, int M, int N, int K, T alpha, const T* a, int lda,
                const T* b, int ldb, T beta, T* c, int ldc) {
#if defined(BATCHPROP_SMALL_GEMM_X86)
    if (level == SimdLevel::none || !small_gemm_supported(level)) return false;
    if (M <= 0 || N <= 0) return true;  // an empty C: nothing to write
    // The kernel walks A's columns (op(A) = A). For op(A) = Aᵀ (the backward Wᵀ·δ), Aᵀ is
    // copied once into a column-major (M x K) scratch: M·K copies against M·K·N multiply-adds.
    if (op_a == Op::T && K > 0) {
        static thread_local std::vector<T> a_t;
        a_t.resize(std::size_t(M) * std::size_t(K));
        for (int i = 0; i < M; ++i)  // row i of Aᵀ is column i of A
            for (int k = 0; k < K; ++k) a_t[std::size_t(i) + std::size_t(k) * M] = a[k + std::ptrdiff_t(i) * lda];
        a = a_t.data();
        lda = M;
    }
    // op(B)(k, j) is B(k, j) = b[k + j ldb], or B(j, k) = b[j + k ldb].
    const std::ptrdiff_t b_k = op_b == Op::N ? 1 : ldb, b_j = op_b == Op::N ? ldb : 1;
    kernel(level, M, N, K, alpha, a, lda, b, b_k, b_j, beta, c, ldc);
    return true;
#else
    (void)level, (void)op_a, (void)op_b, (void)M, (void)N, (void)K, (void)alpha, (void)a, (void)lda;
    (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
    return false;
#endif
}

template <class T>
bool pixels_to_inputs(SimdLevel level, T* x, const std::uint8_t* pixels, int n) {
#if defined(BATCHPROP_SMALL_GEMM_X86)
    if (level == SimdLevel::none || !small_gemm_supported(level)) return false;
    if (level == SimdLevel::avx512) small_gemm_kernels::avx512::pixels_to_inputs(x, pixels, n);
    else small_gemm_kernels::avx2::pixels_to_inputs(x, pixels, n);
    return true;
#else
    (void)level, (void)x, (void)pixels, (void)n;
    return false;
#endif
}

template bool pixels_to_inputs<float>(SimdLevel, float*, const std::uint8_t*, int);
template bool pixels_to_inputs<double>(SimdLevel, double*, const std::uint8_t*, int);
template bool small_gemm<float>(SimdLevel, Op, Op, int, int, int, float, const float*, int, const float*, int,
                                float, float*, int);
template bool small_gemm<double>(SimdLevel, Op, Op, int, int, int, double, const double*, int, const double*,
                                 int, double, double*, int);

}  // namespace batchprop
