// cpu_small_gemm's kernel compiled for AVX2 + FMA (CMakeLists.txt gives this file -mavx2 -mfma).
// Called only after a run-time check that the CPU has both; see cpu_small_gemm.cpp.
#define BP_SMALL_GEMM_ISA avx2
#include "cpu/small_gemm_kernel.inc"
