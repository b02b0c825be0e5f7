// Choosing OpenBLAS's kernels. OpenBLAS picks its kernel set ("core") once, when the library
// is loaded, from the CPU model number. OpenBLAS 0.3.21 (Debian 12) does not know recent
// Xeons (e.g. Sapphire Rapids, or any CPU a hypervisor reports as a generic model) and falls
// back to its SSE3 "Prescott" kernels: on the book's network that doubles the epoch time.
#pragma once

namespace batchprop {

// The kernel set OpenBLAS is using, e.g. "SkylakeX" or "Prescott".
const char* blas_core_name();

// When OpenBLAS fell back to Prescott on a CPU that has AVX-512 (or AVX2 + FMA), and the user
// has not chosen a core with OPENBLAS_CORETYPE, re-executes this program once with
// OPENBLAS_CORETYPE set to the matching kernel set (SkylakeX or Haswell). The choice can only
// take effect before OpenBLAS loads, hence the re-exec. Returns normally (changing nothing)
// in every other case, including when exec fails. Call it first thing in main().
void prefer_fast_blas_core(char** argv);

}  // namespace batchprop
