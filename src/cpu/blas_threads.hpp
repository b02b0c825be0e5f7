// OpenBLAS's thread count for a sweep, which trains one model per core: each model's products
// must run on its own thread alone. Two facts shape this:
//  - results depend on the count: a product of >= 32 MFLOP that OpenBLAS 0.3.21 splits over two
//    threads differs in the last bits from the same product on one (measured: [784,100,10] at
//    m = 256 trains other parameters with OPENBLAS_NUM_THREADS=1 than with 2), and
//  - the count is process-wide, and the CPU backend sets it before each product from the count
//    it read at its first product (cpu_backend.cpp: one thread under 32 MFLOP, all above).
// So concurrent models are deterministic only if that first count was 1: then the backend
// never raises it, and every product of every model runs on its caller's thread.
#pragma once

namespace batchprop {

// Sets OpenBLAS to one thread and checks that the CPU backend keeps it there (a small and a
// large product through a CPU backend: the backend lowers the count for the one and, if it
// started with more threads, raises it again for the other). True: from now on, for the rest
// of the process, every BLAS call runs on its caller's thread alone. False: the backend was
// set up for more threads before (this process computed on the CPU earlier); it is left as it
// was, and models must train one at a time to stay deterministic. Call it while no other
// thread computes on the CPU.
bool blas_one_thread_per_caller();

}  // namespace batchprop
