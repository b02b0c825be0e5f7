// Subnormal floats on the CPU. Saturated sigmoids make deltas of 1e-14 and less, and their
// products in the backward GEMMs fall below FLT_MIN (1.2e-38): x86 CPUs compute on such
// subnormal numbers through a microcoded slow path, up to ~50x slower per operation. On
// [784,1024,1024,10] with the book's N(0,1) initialisation an epoch took 12.7 s instead of
// 0.59 s. The CPU backend therefore computes with flush-to-zero and denormals-are-zero
// (FTZ/DAZ): a result below FLT_MIN (DBL_MIN in double) becomes 0, and such an input reads as 0.
// Values that small change no activation, gradient or cost at the precision they are stored
// in, and the GPU comparisons are unaffected (their tolerances are relative to normal values).
//
// The mode is per thread and is switched on only inside the backend's arithmetic (the guard
// below), never left on: other code in the same thread (parsing or printing a model file with
// a subnormal weight, say) keeps IEEE behaviour.
#pragma once

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace batchprop {

// FTZ and DAZ on the calling thread for the guard's lifetime; the previous mode after.
class FlushSubnormals {
public:
#if defined(__x86_64__)
    static constexpr unsigned kFtzDaz = 0x8040;  // MXCSR: flush-to-zero (bit 15), denormals-are-zero (bit 6)
    FlushSubnormals() : saved_(_mm_getcsr()) {
        if ((saved_ & kFtzDaz) != kFtzDaz) _mm_setcsr(saved_ | kFtzDaz);
    }
    ~FlushSubnormals() {
        if ((saved_ & kFtzDaz) != kFtzDaz) _mm_setcsr(saved_);
    }

private:
    unsigned saved_;
#endif
public:
    FlushSubnormals(const FlushSubnormals&) = delete;
    FlushSubnormals& operator=(const FlushSubnormals&) = delete;
};

// OpenBLAS starts its worker threads when it loads, before main(), and a new thread inherits
// its creator's mode, so they run without FTZ/DAZ whatever the caller sets. This stops them
// (once per process; later calls do nothing); OpenBLAS starts them again at its next
// multi-threaded call, made by the CPU backend inside a FlushSubnormals guard, so the new
// workers compute with FTZ/DAZ for good (they only ever run BLAS). Call it while no other thread
// is inside a BLAS call: the CPU backend calls it when it is created.
void restart_blas_workers_for_flushing();

// Whether the calling thread computes with FTZ and DAZ now.
bool subnormals_flushed();

}  // namespace batchprop
