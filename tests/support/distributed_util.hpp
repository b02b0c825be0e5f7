// Shared by the distributed tests: a synthetic data set (the trainer run itself is
// test_util.hpp's run_training, with or without a communicator).
#pragma once

#include <vector>

#include "batchprop/distributed.hpp"
#include "batchprop/trainer.hpp"
#include "support/test_util.hpp"

namespace bptest {

// n examples of n_inputs random pixels and labels below n_out: nothing to learn, which is
// fine: the tests compare trajectories, not accuracy.
inline batchprop::Dataset random_dataset(int n, int n_inputs, int n_out, std::uint64_t seed) {
    batchprop::Dataset d;
    d.n_inputs = n_inputs;
    d.n = n;
    d.source = "random";
    d.pixels = random_pixels(std::size_t(n) * std::size_t(n_inputs), seed);
    std::uint64_t s = batchprop::splitmix64(seed + 77);
    for (int j = 0; j < n; ++j) d.labels.push_back(int(batchprop::splitmix64(s++) % std::uint64_t(n_out)));
    return d;
}

}  // namespace bptest
