// Data-parallel training on real MPI ranks (ctest runs this under mpirun -np 2): P ranks end
// where one process ends, within 1e-12 relative in double after 200+ steps, including uneven
// and empty slices; evaluation sums agree; a perturbed replica is caught. Every rank also runs
// the one-process reference itself, so no result has to travel for the comparison.
#include <gtest/gtest.h>

#include <cstdio>

#include "support/distributed_util.hpp"

using namespace batchprop;

namespace {

Communicator* g_comm = nullptr;  // MPI_COMM_WORLD, alive for the whole run (main below)

struct Case {
    Cost cost;
    double lambda;
    int batch, n;
    bool shuffle;
};

void expect_same_as_one_process(const Case& k, int epochs) {
    const Dataset tr = bptest::random_dataset(k.n, 12, 5, 11), ev = bptest::random_dataset(301, 12, 5, 12);
    TrainConfig c = bptest::config(epochs, k.batch, k.lambda);
    c.cost = k.cost;
    c.shuffle = k.shuffle;
    const auto want = bptest::run_training<double>(tr, ev, {12, 9, 5}, c, 4, nullptr);
    const auto got = bptest::run_training<double>(tr, ev, {12, 9, 5}, c, 4, g_comm);
    const long long steps = (long long)epochs * ((k.n + k.batch - 1) / k.batch);
    EXPECT_GE(steps, 200);
    EXPECT_TRUE(bptest::close_normwise(got.params, want.params, 1e-12))
        << "rank " << g_comm->rank() << " of " << g_comm->size() << ", m " << k.batch << ", cost " << int(k.cost);
    ASSERT_EQ(got.evals.size(), want.evals.size());
    for (std::size_t e = 0; e < got.evals.size(); ++e) {
        EXPECT_EQ(got.evals[e].correct, want.evals[e].correct);
        EXPECT_EQ(got.evals[e].total, want.evals[e].total);
        EXPECT_NEAR(got.evals[e].cost, want.evals[e].cost, 1e-12 * std::abs(want.evals[e].cost));
    }
    // For the record (ctest -V): the figure the README quotes.
    double worst = 0, scale = 0;
    for (std::size_t i = 0; i < got.params.size(); ++i) {
        worst = std::max(worst, std::abs(got.params[i] - want.params[i]));
        scale = std::max(scale, std::abs(want.params[i]));
    }
    if (g_comm->rank() == 0)
        std::printf("[ P = %d vs 1 ] %lld steps, m = %d, %s, lambda %g: max |diff| / max |param| = %.3g\n",
                    g_comm->size(), steps, k.batch, k.cost == Cost::quadratic ? "quadratic" : "cross-entropy",
                    k.lambda, worst / scale);
}

// A global m that 2 (and 3) do not divide, a partial last batch (1010 = 40 * 25 + 10), both
// costs, lambda > 0, shuffle on.
TEST(DistributedMpi, MatchesOneProcessQuadratic) {
    expect_same_as_one_process({Cost::quadratic, 0.0, 25, 1010, true}, 5);
}
TEST(DistributedMpi, MatchesOneProcessCrossEntropyL2) {
    expect_same_as_one_process({Cost::cross_entropy, 2.0, 25, 1010, true}, 5);
}
// m = 1: every rank but one has an empty slice at every step.
TEST(DistributedMpi, MatchesOneProcessWithEmptySlices) {
    expect_same_as_one_process({Cost::cross_entropy, 1.0, 1, 50, true}, 4);
}
// m = 3 with a last batch of 1, unshuffled.
TEST(DistributedMpi, MatchesOneProcessUnshuffled) {
    expect_same_as_one_process({Cost::quadratic, 0.5, 3, 301, false}, 2);
}

// Float: the same code path; the figure only has to be float-sized.
TEST(DistributedMpi, FloatTrains) {
    const Dataset tr = bptest::random_dataset(500, 12, 5, 21), ev = bptest::random_dataset(100, 12, 5, 22);
    const TrainConfig c = bptest::config(2, 16);
    const auto want = bptest::run_training<float>(tr, ev, {12, 9, 5}, c, 4, nullptr);
    const auto got = bptest::run_training<float>(tr, ev, {12, 9, 5}, c, 4, g_comm);
    EXPECT_TRUE(bptest::close_normwise(got.params, want.params, 1e-5));
}

// The replica check catches ranks that start apart (here: a different initialisation seed on
// each rank), and every rank throws at the same point, so none is left waiting.
TEST(DistributedMpi, CatchesReplicasThatDiffer) {
    const Dataset tr = bptest::random_dataset(100, 6, 3, 31), ev = bptest::random_dataset(20, 6, 3, 32);
    const TrainConfig c = bptest::config(1, 10);
    const std::uint64_t seed = 100 + std::uint64_t(g_comm->rank());
    if (g_comm->size() < 2) GTEST_SKIP() << "needs two ranks";
    EXPECT_THROW(bptest::run_training<double>(tr, ev, {6, 4, 3}, c, seed, g_comm), ReplicasDiffer);
    // And different settings: a different m on one rank.
    TrainConfig d = c;
    if (g_comm->rank() == 1) d.batch = 11;
    EXPECT_THROW(bptest::run_training<double>(tr, ev, {6, 4, 3}, d, 7, g_comm), ReplicasDiffer);
}

// GPU ranks over NCCL (where GPUs are; skipped here): each rank on cuda:<local rank mod
// GPUs>, P ranks vs plain training on the same GPU.
TEST(DistributedMpi, NcclRanksMatchOneGpu) {
    if (!nccl_compiled()) GTEST_SKIP() << "built without NCCL";
    const GpuStatus& gpus = gpu_status();
    if (!gpus.usable) GTEST_SKIP() << gpus.reason;
    const int device = g_comm->local_rank() % gpus.count;
    auto be = make_backend<double>(DeviceSpec{DeviceSpec::Want::cuda, device});
    auto nccl = make_nccl_communicator(*g_comm, *be);
    const Dataset tr = bptest::random_dataset(1010, 12, 5, 11), ev = bptest::random_dataset(301, 12, 5, 12);
    TrainConfig c = bptest::config(5, 25, 2.0);
    c.cost = Cost::cross_entropy;
    auto plain_be = make_backend<double>(DeviceSpec{DeviceSpec::Want::cuda, device});
    const auto want = bptest::run_training<double>(tr, ev, {12, 9, 5}, c, 4, nullptr, plain_be.get());
    const auto got = bptest::run_training<double>(tr, ev, {12, 9, 5}, c, 4, nccl.get(), be.get());
    EXPECT_TRUE(bptest::close_normwise(got.params, want.params, 1e-12)) << "rank " << g_comm->rank();
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    std::unique_ptr<Communicator> comm = make_mpi_communicator();
    g_comm = comm.get();
    // Only rank 0 reports; a failure on another rank still shows in the exit status.
    if (comm->rank() != 0) {
        auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
        delete listeners.Release(listeners.default_result_printer());
    }
    const int rc = RUN_ALL_TESTS();
    // The worst exit status of any rank, so that mpirun and ctest see every rank's failure.
    std::uint64_t worst = std::uint64_t(rc);
    comm->allreduce_host(&worst, 1, ReduceOp::max);
    if (worst != 0 && rc == 0) std::fprintf(stderr, "rank %d: passed; another rank failed\n", comm->rank());
    return int(worst);
}
