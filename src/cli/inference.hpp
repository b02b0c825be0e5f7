// A model's network on a backend, fed forward over a data set chunk by chunk, with the
// output activations brought back to the host: what `eval` and `predict` share.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "batchprop/backprop.hpp"
#include "batchprop/dataset.hpp"

namespace batchprop::cli {

template <class T>
class Inference {
public:
    // Uploads the parameters (converted to T). Workspaces hold kChunk columns.
    Inference(Backend<T>& backend, const Network<double>& net);

    // Calls f(first, count, a) for consecutive chunks of d's examples, where a is the host
    // copy of the output activations a^L of examples [first, first + count): (n_L x count),
    // column-major. d's image size must equal the input layer (see check_fits).
    void run(const Dataset& d, const std::function<void(int first, int count, const std::vector<T>& a)>& f);

    static constexpr int kChunk = 1000;

private:
    Backend<T>& be_;
    Backprop<T> bp_;
    Buffer<std::uint8_t> pixels_;  // a chunk of the images as bytes: (n_0 x kChunk)
    Buffer<T> x_;                  // the same chunk as inputs: (n_0 x kChunk)
    std::vector<T> a_;             // a^L of the chunk, downloaded
};

}  // namespace batchprop::cli
