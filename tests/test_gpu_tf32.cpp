// TF32 on the GPU (issue 20, item 5): cuBLAS's products on tensor cores when --math tf32 asks.
// One SGD step of a wide network stays within 1e-2 (normwise) of the FP32 step and differs from
// it (the math mode is in effect); a recorded run replays as the eager run computes, bit for
// bit. TF32 runs stay out of the 1e-12 and float-vs-double checks. Skips without a GPU.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/network.hpp"
#include "batchprop/trainer.hpp"
#include "cuda_backend.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

struct Outcome {
    std::vector<float> start, params;
    Launch launch = Launch::eager;
};

Outcome train(Backend<float>& be, const std::vector<int>& sizes, int n, int m, int epochs, Math math, Launch launch) {
    const Dataset tr = bptest::random_dataset(n, sizes.front(), sizes.back(), 81, 82);
    TrainConfig cfg = bptest::config(epochs, m);
    cfg.math = math;
    cfg.launch = launch;
    cfg.shuffle = false;
    Network<float> net(sizes);
    net.init(Init::scaled, 82);
    DeviceData<float> d(be, tr);
    Trainer<float> trainer(be, net.layout(), d, nullptr, cfg);
    trainer.backprop().set_params(net.params());
    Outcome r;
    r.start = net.params();
    r.launch = trainer.launch();
    trainer.run();
    r.params = trainer.backprop().params();
    return r;
}

std::vector<double> step_of(const Outcome& o) {
    std::vector<double> d(o.params.size());
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = double(o.params[i]) - double(o.start[i]);
    return d;
}

// [784,1024,1024,10], one step of m = 256: the update w(1) - w(0) under TF32 within 1e-2 of
// FP32's, normwise, and not equal to it.
TEST(GpuTf32, OneStepWithin1e2OfFp32) {
    REQUIRE_GPU();
    const auto gpu = make_cuda_backend<float>(0);
    const std::vector<int> sizes{784, 1024, 1024, 10};
    const Outcome fp32 = train(*gpu, sizes, 256, 256, 1, Math::ieee, Launch::eager);
    const Outcome tf32 = train(*gpu, sizes, 256, 256, 1, Math::tf32, Launch::eager);
    const std::vector<double> a = step_of(tf32), b = step_of(fp32);
    EXPECT_TRUE(bptest::close_normwise(a, b, 1e-2));
    EXPECT_NE(a, b) << "TF32 changed nothing: the math mode is not in effect";
}

// Graphs record the products with the math mode set: replayed, they compute as eager does.
TEST(GpuTf32, GraphEqualsEagerBitwise) {
    REQUIRE_GPU();
    const auto gpu = make_cuda_backend<float>(0);
    const std::vector<int> sizes{784, 256, 10};
    const Outcome eager = train(*gpu, sizes, 253, 32, 2, Math::tf32, Launch::eager);
    const Outcome graph = train(*gpu, sizes, 253, 32, 2, Math::tf32, Launch::graph);
    EXPECT_EQ(graph.launch, Launch::graph);
    EXPECT_EQ(graph.params, eager.params);
    // And auto never picks the fused step under TF32.
    EXPECT_NE(train(*gpu, {784, 30, 10}, 100, 10, 1, Math::tf32, Launch::automatic).launch, Launch::fused);
}

}  // namespace
