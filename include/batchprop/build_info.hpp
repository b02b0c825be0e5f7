/// @file
/// What this build of batchprop is and what it runs on: the version, how it was built, the BLAS
/// (its kernel set and threads), the CPU backend's own kernel for mini-batch-sized products, and
/// whether CUDA, MPI and NCCL are built in (gpu_status() in backend.hpp says which GPUs are
/// there). And the one call a program makes at start-up so that OpenBLAS uses fast kernels.
#pragma once

#include "batchprop/export.hpp"

#include <string>

namespace batchprop {

struct BuildInfo {
    std::string version;             ///< "0.2.0"
    bool debug = false;              ///< built without NDEBUG
    bool address_sanitizer = false;  ///< built with -fsanitize=address
    std::string blas;                ///< the BLAS's own description (OpenBLAS's build options)
    std::string blas_kernels;        ///< the kernel set OpenBLAS uses, e.g. "SkylakeX"
    int blas_threads = 1;
    std::string blas_threading;      ///< "sequential", "pthreads", "OpenMP"
    /// The CPU backend's kernel for products with a dimension of at most small_gemm_max_dim (the
    /// mini-batch): "avx512" or "avx2", chosen at run time, or "" when the BLAS takes them all (no
    /// AVX2, or BATCHPROP_SMALL_GEMM=off).
    std::string small_gemm;
    int small_gemm_max_dim = 0;
    bool cuda = false, mpi = false, nccl = false;  ///< compiled in
};
BATCHPROP_API BuildInfo build_info();

/// OpenBLAS picks its kernel set once, when it is loaded, from the CPU model number; OpenBLAS
/// 0.3.21 (Debian 12) does not know recent CPUs (or a model a hypervisor reports) and falls back
/// to its SSE3 "Prescott" kernels, which doubles the book's epoch. When that happened on a CPU
/// with AVX-512 (or AVX2 + FMA) and OPENBLAS_CORETYPE is not set, this re-executes the program
/// (argv as main got it) with OPENBLAS_CORETYPE naming the matching set; in every other case,
/// and when exec fails, it returns having changed nothing. Call it first thing in main().
BATCHPROP_API void prefer_fast_blas_kernels(char** argv);

}  // namespace batchprop
