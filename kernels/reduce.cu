// Reductions to the host and the shuffle, on Thrust: evaluate (argmax accuracy and cost),
// sum_squares (the L2 term) and permutation (sorting the counter-based shuffle keys). The GPU
// twins of CpuBackend::evaluate_impl, sum_squares_impl and permutation_impl.
//
// Determinism: every sum here is a thrust::transform_reduce, i.e. a CUB device reduction, whose
// tree is fixed by the problem size and the GPU, with no atomics; the same inputs on the same
// device give bitwise the same result on every run. The summation order differs from the CPU's
// left-to-right loop, so CPU and GPU sums agree to rounding (tests allow 1e-12 relative), not
// bitwise. The permutation has no rounding at all and is identical on every device.
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system_error.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <exception>
#include <string>

#include "cuda_check.cuh"
#include "reduce.cuh"

namespace batchprop {
namespace kernels {

// ---- ScratchAllocator -----------------------------------------------------------------------

char* ScratchAllocator::allocate(std::ptrdiff_t signed_bytes) {
    const std::size_t bytes = signed_bytes > 0 ? std::size_t(signed_bytes) : 1;
    // Best fit among the cached blocks: the smallest one that is large enough, and not much
    // larger (a small request taking the 0.5 MB sort-key block would make the next sort
    // allocate again). The sizes asked for repeat every epoch, so after the first round of
    // each call this always hits and nothing more is allocated.
    auto it = free_.lower_bound(bytes);
    if (it != free_.end() && it->first <= 2 * bytes + 4096) {
        char* p = it->second;
        in_use_[p] = it->first;
        free_.erase(it);
        return p;
    }
    void* p = nullptr;
    CUDA_CHECK_CTX(cudaMalloc(&p, bytes),
                   "while allocating " << cuda_detail::describe_bytes(bytes)
                                       << " of scratch memory (already holding "
                                       << cuda_detail::describe_bytes(held_) << ")");
    held_ += bytes;
    in_use_[static_cast<char*>(p)] = bytes;
    return static_cast<char*>(p);
}

void ScratchAllocator::deallocate(char* p, std::size_t) {
    if (!p) return;
    auto it = in_use_.find(p);
    if (it == in_use_.end()) {
        std::fprintf(stderr, "batchprop: scratch block %p returned twice or never handed out\n",
                     static_cast<void*>(p));
        return;
    }
    free_.emplace(it->second, p);
    in_use_.erase(it);
}

ScratchAllocator::~ScratchAllocator() {
    for (auto& kv : free_) CUDA_LOG_ON_ERROR(cudaFree(kv.second));
    for (auto& kv : in_use_) CUDA_LOG_ON_ERROR(cudaFree(kv.first));
}

namespace {

// Thrust reports failures as thrust::system_error (or std::bad_alloc); the library promises
// batchprop::Error with the call and the place. Our own allocator already throws Error.
#define BP_THRUST(call)                                                                      \
    do {                                                                                     \
        try {                                                                                \
            call;                                                                            \
        } catch (const ::batchprop::Error&) {                                                \
            throw;                                                                           \
        } catch (const std::exception& bp_e_) {                                              \
            ::batchprop::cuda_detail::call_failed(#call, bp_e_.what(), "", __FILE__, __LINE__); \
        }                                                                                    \
    } while (0)

// A scratch block for our own temporaries, returned to the cache when the scope ends.
class ScratchBlock {
public:
    ScratchBlock(ScratchAllocator& s, std::size_t bytes)
        : s_(s), bytes_(bytes), p_(s.allocate(std::ptrdiff_t(bytes))) {}
    ~ScratchBlock() { s_.deallocate(p_, bytes_); }
    ScratchBlock(const ScratchBlock&) = delete;
    ScratchBlock& operator=(const ScratchBlock&) = delete;
    template <class E>
    E* as() const {
        return reinterpret_cast<E*>(p_);  // cudaMalloc blocks are 256-byte aligned
    }

private:
    ScratchAllocator& s_;
    std::size_t bytes_;
    char* p_;
};

// ---- evaluate -------------------------------------------------------------------------------

// What one column contributes; EvalSums itself is a host type (default member initializers),
// so the device works on this plain aggregate.
struct ColumnSums {
    long long correct;
    double cost;
};

struct AddColumnSums {
    __host__ __device__ ColumnSums operator()(const ColumnSums& x, const ColumnSums& y) const {
        return ColumnSums{x.correct + y.correct, x.cost + y.cost};
    }
};

// Column j of a: argmax and the cost against the one-hot target of labels[j], by the same
// functions the CPU uses (math.hpp). One thread per column: the output layer has few rows (10
// for MNIST), so the serial loops are short.
template <class T>
struct EvaluateColumn {
    const T* a;
    int rows;
    int ld;
    const int* labels;
    Cost cost;

    __host__ __device__ ColumnSums operator()(int j) const {
        const T* aj = a + std::size_t(j) * std::size_t(ld);
        return ColumnSums{argmax(aj, rows) == labels[j] ? 1 : 0, example_cost(cost, aj, rows, labels[j])};
    }
};

// ---- sum_squares, permutation ---------------------------------------------------------------

template <class T>
struct SquareInDouble {
    __host__ __device__ double operator()(T x) const { return double(x) * double(x); }
};

// keys[i] = shuffle_key(seed, epoch, i): the same function the CPU sorts by (math.hpp).
struct ShuffleKey {
    std::uint64_t seed, epoch;
    __host__ __device__ std::uint64_t operator()(std::uint64_t i) const {
        return shuffle_key(seed, epoch, i);
    }
};

}  // namespace

template <class T>
EvalSums evaluate(cudaStream_t stream, ScratchAllocator& scratch, ConstView<T> a,
                  const int* labels, Cost cost) {
    ColumnSums s{0, 0.0};
    // Returns a value, so this synchronizes the stream (par, not par_nosync).
    BP_THRUST(s = thrust::transform_reduce(thrust::cuda::par(scratch).on(stream),
                                           thrust::counting_iterator<int>(0),
                                           thrust::counting_iterator<int>(a.cols),
                                           EvaluateColumn<T>{a.data, a.rows, a.ld, labels, cost},
                                           ColumnSums{0, 0.0}, AddColumnSums{}));
    EvalSums out;
    out.correct = s.correct;
    out.cost = s.cost;
    return out;
}

template <class T>
double sum_squares(cudaStream_t stream, ScratchAllocator& scratch, const T* x, std::size_t n) {
    double s = 0.0;
    BP_THRUST(s = thrust::transform_reduce(thrust::cuda::par(scratch).on(stream), x, x + n,
                                           SquareInDouble<T>{}, 0.0, thrust::plus<double>()));
    return s;
}

void permutation(cudaStream_t stream, ScratchAllocator& scratch, int* idx, int n,
                 std::uint64_t seed, std::uint64_t epoch) {
    // keys: (n) 64-bit sort keys, scratch for the duration of the sort.
    ScratchBlock keys_block(scratch, std::size_t(n) * sizeof(std::uint64_t));
    std::uint64_t* keys = keys_block.as<std::uint64_t>();
    const auto policy = thrust::cuda::par_nosync(scratch).on(stream);
    BP_THRUST(thrust::transform(policy, thrust::counting_iterator<std::uint64_t>(0),
                                thrust::counting_iterator<std::uint64_t>(std::uint64_t(n)), keys,
                                ShuffleKey{seed, epoch}));
    BP_THRUST(thrust::sequence(policy, idx, idx + n));
    // Stable: equal keys keep their order in idx = 0..n-1, i.e. ties go to the lower index,
    // which is exactly the CPU's sort of (key, i) pairs. A 64-bit radix sort, no comparisons.
    BP_THRUST(thrust::stable_sort_by_key(policy, keys, keys + n, idx));
}

template EvalSums evaluate<float>(cudaStream_t, ScratchAllocator&, ConstView<float>, const int*, Cost);
template EvalSums evaluate<double>(cudaStream_t, ScratchAllocator&, ConstView<double>, const int*, Cost);
template double sum_squares<float>(cudaStream_t, ScratchAllocator&, const float*, std::size_t);
template double sum_squares<double>(cudaStream_t, ScratchAllocator&, const double*, std::size_t);

}  // namespace kernels
}  // namespace batchprop
