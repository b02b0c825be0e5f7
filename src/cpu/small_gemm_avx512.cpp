// cpu_small_gemm's kernel compiled for AVX-512 (CMakeLists.txt gives this file -mavx512f
// -mavx512vl -mfma). Called only after a run-time check that the CPU has AVX-512F; see
// cpu_small_gemm.cpp.
#define BP_SMALL_GEMM_ISA avx512
#include "cpu/small_gemm_kernel.inc"
