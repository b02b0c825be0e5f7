// Shared by the distributed tests: a trainer run with or without a communicator, on a
// synthetic data set, on the CPU backend.
#pragma once

#include <vector>

#include "batchprop/distributed.hpp"
#include "batchprop/trainer.hpp"
#include "test_util.hpp"

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

template <class T>
struct DistRun {
    std::vector<T> params;
    std::vector<batchprop::Evaluation> evals;
};

// Trains from Network::init(scaled, init_seed) on backend (default: a CPU one); with comm, in
// data-parallel mode.
template <class T>
DistRun<T> run_training(const batchprop::Dataset& tr, const batchprop::Dataset& ev, const std::vector<int>& sizes,
                        const batchprop::TrainConfig& cfg, std::uint64_t init_seed, batchprop::Communicator* comm,
                        batchprop::Backend<T>* backend = nullptr) {
    using namespace batchprop;
    std::unique_ptr<Backend<T>> cpu;
    if (!backend) cpu = make_cpu_backend<T>();
    Backend<T>* be = backend ? backend : cpu.get();
    Network<T> net(sizes);
    net.init(Init::scaled, init_seed);
    DeviceData<T> dtr(*be, tr), dev(*be, ev);
    Trainer<T> trainer(*be, net.layout(), dtr, &dev, cfg);
    trainer.backprop().set_params(net.params());
    if (comm) trainer.set_communicator(comm);
    DistRun<T> r;
    TrainCallbacks cb;
    cb.on_epoch = [&](const EpochResult& e) {
        r.evals.push_back(*e.evaluation);
        return true;
    };
    trainer.run(cb);
    r.params = trainer.backprop().params();
    return r;
}

}  // namespace bptest
