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
    return random_dataset(n, n_inputs, n_out, seed, seed + 77);
}

}  // namespace bptest
