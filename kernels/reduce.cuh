// The GPU operations that end on the host or need a sort: evaluation sums, the sum of squares
// of the L2 term, and the epoch's permutation, built on Thrust (reduce.cu). Also the caching
// allocator that gives Thrust its temporary memory, so that none of these calls cudaMalloc
// once the first epoch has warmed it up.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>

#include "batchprop/backend.hpp"

namespace batchprop {
namespace kernels {

// Device scratch memory handed to Thrust (as its allocator: value_type char, allocate,
// deallocate) and to our own temporaries. Blocks are cudaMalloc'ed on first need and kept:
// deallocate() only returns a block to the free list, so every later call of the same size
// reuses it. All users enqueue on one stream, so a block freed while kernels that used it are
// still queued is safe to hand out again: its next user runs after them, in stream order.
// Not thread-safe (neither is a Backend). The destructor frees everything and never throws.
class ScratchAllocator {
public:
    using value_type = char;

    ScratchAllocator() = default;
    ScratchAllocator(const ScratchAllocator&) = delete;
    ScratchAllocator& operator=(const ScratchAllocator&) = delete;
    ~ScratchAllocator();

    char* allocate(std::ptrdiff_t bytes);         // throws batchprop::Error (names the bytes)
    void deallocate(char* p, std::size_t bytes);  // never throws; p stays cached
    std::size_t bytes_held() const { return held_; }

private:
    std::multimap<std::size_t, char*> free_;  // size -> block, for best-fit reuse
    std::map<char*, std::size_t> in_use_;     // block -> size
    std::size_t held_ = 0;                    // total bytes cudaMalloc'ed
};

// Argmax-correct count and summed cost over the columns of a (n_L x cols), labels[j] on the
// device. Synchronizes `stream` (the sums are returned to the host).
template <class T>
EvalSums evaluate(cudaStream_t stream, ScratchAllocator& scratch, ConstView<T> a,
                  const int* labels, Cost cost);

// sum of x[i]^2, accumulated in double. Synchronizes `stream`.
template <class T>
double sum_squares(cudaStream_t stream, ScratchAllocator& scratch, const T* x, std::size_t n);

// idx[0..n) = the permutation that sorts shuffle_key(seed, epoch, i) ascending, ties by i.
// Asynchronous on `stream`.
void permutation(cudaStream_t stream, ScratchAllocator& scratch, int* idx, int n,
                 std::uint64_t seed, std::uint64_t epoch);

}  // namespace kernels
}  // namespace batchprop
