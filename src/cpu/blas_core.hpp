// OpenBLAS's kernel set ("core"): the one it uses, and choosing a faster one at start-up
// (prefer_fast_blas_kernels, build_info.hpp).
#pragma once

namespace batchprop {

// The kernel set OpenBLAS is using, e.g. "SkylakeX" or "Prescott".
const char* blas_core_name();

}  // namespace batchprop
