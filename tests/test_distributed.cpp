// Data-parallel training without MPI: the batch slices (pure logic), the fingerprint, and the
// trainer's distributed path on one process (backprop + all-reduce + update vs the fused step),
// also on a device that offers a fused step.
// The same on two MPI ranks: test_distributed_mpi.cpp.
#include <gtest/gtest.h>

#include <set>

#include "batchprop/batchprop.hpp"
#include "doubles/fusing_backend.hpp"
#include "support/distributed_util.hpp"

using namespace batchprop;

namespace {

// Every (m, P): slices in rank order, contiguous, covering 0..m-1 once, sizes differing by at
// most one with the larger first; ranks past m get empty slices.
TEST(BatchSlice, PartitionsEveryBatchContiguously) {
    for (int m = 1; m <= 40; ++m) {
        for (int p = 1; p <= 9; ++p) {
            int next = 0, min_count = m, max_count = 0;
            for (int r = 0; r < p; ++r) {
                const BatchSlice s = batch_slice(m, r, p);
                ASSERT_EQ(s.first, next) << "m " << m << ", rank " << r << " of " << p;
                ASSERT_GE(s.count, 0);
                if (r > 0) ASSERT_LE(s.count, batch_slice(m, r - 1, p).count) << "larger slices first";
                next += s.count;
                min_count = std::min(min_count, s.count);
                max_count = std::max(max_count, s.count);
                if (r >= m) EXPECT_EQ(s.count, 0) << "P > m: rank " << r << " has nothing";
            }
            EXPECT_EQ(next, m) << "m " << m << ", P " << p;
            EXPECT_LE(max_count - min_count, 1);
        }
    }
}

TEST(BatchSlice, ExamplesOfUnevenAndEmptySlices) {
    // m = 25 on 2 ranks: 13 + 12; the partial last batch of 10 on 3 ranks: 4 + 3 + 3.
    EXPECT_EQ(batch_slice(25, 0, 2).count, 13);
    EXPECT_EQ(batch_slice(25, 1, 2).first, 13);
    EXPECT_EQ(batch_slice(25, 1, 2).count, 12);
    EXPECT_EQ(batch_slice(10, 0, 3).count, 4);
    EXPECT_EQ(batch_slice(10, 2, 3).first, 7);
    // m = 1 on 2 ranks: rank 1 takes nothing (and contributes a zero gradient).
    EXPECT_EQ(batch_slice(1, 0, 2).count, 1);
    EXPECT_EQ(batch_slice(1, 1, 2).count, 0);
    EXPECT_EQ(batch_slice(1, 1, 2).first, 1);
}

TEST(BatchSlice, RejectsImpossibleArguments) {
    EXPECT_THROW(batch_slice(0, 0, 2), Error);
    EXPECT_THROW(batch_slice(10, 2, 2), Error);
    EXPECT_THROW(batch_slice(10, -1, 2), Error);
    EXPECT_THROW(batch_slice(10, 0, 0), Error);
}

TEST(Fingerprint, SeesEveryByteAndTheOrder) {
    std::vector<double> a = bptest::random_vector<double>(1001, 3);
    const std::uint64_t h = fingerprint(a.data(), a.size() * sizeof(double));
    std::set<std::uint64_t> seen{h};
    for (std::size_t i : {std::size_t(0), std::size_t(500), std::size_t(1000)}) {
        std::vector<double> b = a;
        b[i] = std::nextafter(b[i], 2.0);  // one bit of one number
        EXPECT_TRUE(seen.insert(fingerprint(b.data(), b.size() * sizeof(double))).second) << "element " << i;
    }
    std::vector<unsigned char> bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    const std::uint64_t f = fingerprint(bytes.data(), bytes.size());
    std::swap(bytes[9], bytes[10]);  // in the tail after the 8-byte words
    EXPECT_NE(fingerprint(bytes.data(), bytes.size()), f);
}

// One process through the distributed path (gradient materialised, identity all-reduce,
// separate update) against the fused step: the same mathematics, rounded differently. Both
// costs, lambda > 0, a partial last batch, shuffle on, 200+ steps, in double.
TEST(DistributedTrainer, OneRankMatchesTheFusedStep) {
    const Dataset tr = bptest::random_dataset(1010, 12, 5, 1), ev = bptest::random_dataset(300, 12, 5, 2);
    for (Cost cost : {Cost::quadratic, Cost::cross_entropy}) {
        // 41 steps each (40 of 25, one of 10)
        TrainConfig c = bptest::config(5, 25, cost == Cost::cross_entropy ? 1.5 : 0.0);
        c.cost = cost;
        auto single = make_single_process_communicator();
        const auto want = bptest::run_training<double>(tr, ev, {12, 9, 5}, c, 4, nullptr);
        const auto got = bptest::run_training<double>(tr, ev, {12, 9, 5}, c, 4, single.get());
        EXPECT_TRUE(bptest::close_normwise(got.params, want.params, 1e-12)) << "cost " << int(cost);
        ASSERT_EQ(got.evals.size(), want.evals.size());
        for (std::size_t e = 0; e < got.evals.size(); ++e) {
            EXPECT_EQ(got.evals[e].correct, want.evals[e].correct);
            EXPECT_NEAR(got.evals[e].cost, want.evals[e].cost, 1e-12 * std::abs(want.evals[e].cost));
        }
    }
}

// Per-example mode goes through the same slice, all-reduce and update.
TEST(DistributedTrainer, PerExampleModeToo) {
    const Dataset tr = bptest::random_dataset(200, 6, 3, 5), ev = bptest::random_dataset(50, 6, 3, 6);
    TrainConfig c = bptest::config(3, 7);
    c.mode = Mode::per_example;
    auto single = make_single_process_communicator();
    const auto want = bptest::run_training<double>(tr, ev, {6, 4, 3}, c, 8, nullptr);
    const auto got = bptest::run_training<double>(tr, ev, {6, 4, 3}, c, 8, single.get());
    EXPECT_TRUE(bptest::close_normwise(got.params, want.params, 1e-13));
}

// Data parallelism on a device that offers the fused step (issue 22): --launch auto, which
// alone would fuse here, gives way to the data-parallel path, eager, and trains exactly as
// that path does on a device without a fused step (and as the plain run, up to rounding); a
// fused launch asked for by name is refused.
TEST(DistributedTrainer, OnAFusingDeviceAutoRunsTheDataParallelPath) {
    const Dataset tr = bptest::random_dataset(253, 12, 5, 1), ev = bptest::random_dataset(60, 12, 5, 2);
    const std::vector<int> sizes{12, 9, 5};
    const ParamLayout layout(sizes);
    TrainConfig c = bptest::config(2, 10, 1.0);  // narrow: auto prefers the fused step
    c.launch = Launch::automatic;
    auto single = make_single_process_communicator();
    bptest::FusingCpuBackend<double> fusing;
    {
        DeviceData<double> d(fusing, tr);
        EXPECT_EQ(Trainer<double>(fusing, layout, d, nullptr, c).launch(), Launch::fused) << "alone, auto fuses";
        EXPECT_EQ(Trainer<double>(fusing, layout, d, nullptr, c, single.get()).launch(), Launch::eager);
    }
    const auto got = bptest::run_training<double>(tr, ev, sizes, c, 4, single.get(), &fusing);
    EXPECT_EQ(fusing.launches, 0) << "a fused launch skips the all-reduce";
    const auto want = bptest::run_training<double>(tr, ev, sizes, c, 4, single.get());  // a CPU backend
    EXPECT_EQ(got.params, want.params);
    ASSERT_EQ(got.evals.size(), want.evals.size());
    for (std::size_t e = 0; e < got.evals.size(); ++e) EXPECT_EQ(got.evals[e].cost, want.evals[e].cost);
    const auto plain = bptest::run_training<double>(tr, ev, sizes, c, 4, nullptr);
    EXPECT_TRUE(bptest::close_normwise(got.params, plain.params, 1e-12));

    c.launch = Launch::fused;
    DeviceData<double> d(fusing, tr);
    try {
        Trainer<double> refused(fusing, layout, d, nullptr, c, single.get());
        FAIL() << "a fused launch was accepted under data parallelism";
    } catch (const SettingError& e) {
        EXPECT_EQ(e.setting(), Setting::launch);
        EXPECT_EQ(std::string(e.what()), "launch fused runs in one process; distributed steps are launched one call at a time");
    }
}

// The earlier way, Trainer::set_communicator after construction (deprecated), still chooses
// the data-parallel path as a communicator given to the constructor does, and still refuses
// a fused launch asked for by name.
TEST(DistributedTrainer, TheDeprecatedSetCommunicatorChoosesAsTheConstructorDoes) {
    const Dataset tr = bptest::random_dataset(253, 12, 5, 1), ev = bptest::random_dataset(60, 12, 5, 2);
    const std::vector<int> sizes{12, 9, 5};
    TrainConfig c = bptest::config(2, 10);
    auto single = make_single_process_communicator();
    const auto want = bptest::run_training<double>(tr, ev, sizes, c, 4, single.get());
    bptest::FusingCpuBackend<double> fusing;
    Network<double> net(sizes);
    net.init(Init::scaled, 4);
    DeviceData<double> dtr(fusing, tr), dev(fusing, ev);
    Trainer<double> trainer(fusing, net.layout(), dtr, &dev, c);
    trainer.backprop().set_params(net.params());
    EXPECT_EQ(trainer.launch(), Launch::fused);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    trainer.set_communicator(single.get());
#pragma GCC diagnostic pop
    EXPECT_EQ(trainer.launch(), Launch::eager);
    EXPECT_EQ(trainer.plan().size(), 26u) << "one step a segment";
    trainer.run();
    EXPECT_EQ(trainer.backprop().params(), want.params);
    EXPECT_GT(trainer.allreduce_seconds(), 0.0);
    EXPECT_EQ(fusing.launches, 0);

    c.launch = Launch::fused;
    Trainer<double> fused(fusing, net.layout(), dtr, &dev, c);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    EXPECT_THROW(fused.set_communicator(single.get()), SettingError);
#pragma GCC diagnostic pop
}

// The Session facade (what `batchprop train` uses) in distributed mode: the same result as
// the Trainer's distributed path, the all-reduce timed, and a run continued at an epoch
// (first_epoch, as --resume does) checked and trained through the communicator too.
TEST(DistributedSession, SessionTrainsThroughTheCommunicator) {
    const Dataset tr = bptest::random_dataset(1010, 12, 5, 1), ev = bptest::random_dataset(300, 12, 5, 2);
    const TrainConfig c = bptest::config(3, 25);
    auto single = make_single_process_communicator();
    const SessionOptions where{"cpu", DType::f64};
    Session plain = Session::create({12, 9, 5}, Cost::quadratic, Init::scaled, 4, where);
    plain.train(tr, &ev, c);
    Session dist = Session::create({12, 9, 5}, Cost::quadratic, Init::scaled, 4, where);
    dist.set_communicator(single.get());
    dist.train(tr, &ev, c);
    EXPECT_GT(dist.allreduce_seconds(), 0.0);
    EXPECT_EQ(plain.allreduce_seconds(), 0.0);
    const std::vector<double> want = plain.network().params(), got = dist.network().params();
    EXPECT_TRUE(bptest::close_normwise(got, want, 1e-12));

    // Two epochs, then the third from there: bitwise the run straight through (both distributed).
    Session part = Session::create({12, 9, 5}, Cost::quadratic, Init::scaled, 4, where);
    part.set_communicator(single.get());
    TrainConfig first = c;
    first.epochs = 2;
    part.train(tr, &ev, first);
    TrainConfig rest = c;
    rest.first_epoch = 2;
    EXPECT_EQ(part.train(tr, &ev, rest), 3);
    EXPECT_EQ(part.network().params(), got);
}

// The NCCL communicator on one GPU (the ncclUniqueId "broadcast" is the single process's
// identity): compiled in every CUDA build, run where a GPU is. A sum over one rank is the
// identity, and training through it ends where plain GPU training ends.
TEST(DistributedGpu, NcclOneRankMatchesPlainGpuTraining) {
    if (!nccl_compiled()) GTEST_SKIP() << "built without NCCL (no CUDA backend, or no nccl.h)";
    const GpuStatus& gpus = gpu_status();
    if (!gpus.usable) GTEST_SKIP() << gpus.reason;
    auto single = make_single_process_communicator();
    auto be = make_backend<double>(DeviceSpec{DeviceSpec::Want::cuda, 0});
    auto nccl = make_nccl_communicator(*single, *be);
    EXPECT_EQ(nccl->size(), 1);

    const std::vector<double> host = bptest::random_vector<double>(1000, 9);
    Buffer<double> buf(*be, host.size());
    buf.upload(host);
    nccl->allreduce_sum(buf.data(), host.size(), *be);
    EXPECT_EQ(buf.to_host(), host);

    const Dataset tr = bptest::random_dataset(1010, 12, 5, 1), ev = bptest::random_dataset(300, 12, 5, 2);
    TrainConfig c = bptest::config(5, 25, 1.5);
    c.cost = Cost::cross_entropy;
    auto plain_be = make_backend<double>(DeviceSpec{DeviceSpec::Want::cuda, 0});
    const auto want = bptest::run_training<double>(tr, ev, {12, 9, 5}, c, 4, nullptr, plain_be.get());
    const auto got = bptest::run_training<double>(tr, ev, {12, 9, 5}, c, 4, nccl.get(), be.get());
    EXPECT_TRUE(bptest::close_normwise(got.params, want.params, 1e-12));
}

}  // namespace
