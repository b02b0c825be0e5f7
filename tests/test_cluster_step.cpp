// The cluster step (issue 20, items 2-3), checked on the CPU: its plan (pure functions, over
// random layouts), the decision between it and the one-block fused step with its notices, and
// its program run by the host driver on N = 1..8 emulated blocks, in both orders, inside a
// whole Trainer against the library path and against itself across N (bitwise: the exchange
// only copies).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batchprop/trainer.hpp"
#include "doubles/fusing_backend.hpp"
#include "fused/cluster_plan.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

constexpr std::size_t kH200Shared = 232448;  // cudaDevAttrMaxSharedMemoryPerBlockOptin on an H200

// BATCHPROP_FUSED_CLUSTER for the scope of one test.
class ClusterSwitch {
public:
    explicit ClusterSwitch(const char* value) {
        if (value) setenv("BATCHPROP_FUSED_CLUSTER", value, 1);
        else unsetenv("BATCHPROP_FUSED_CLUSTER");
    }
    ~ClusterSwitch() { unsetenv("BATCHPROP_FUSED_CLUSTER"); }
};

// ---- the plan ------------------------------------------------------------------------------

TEST(ClusterPlan, BookNetwork) {
    const ParamLayout layout({784, 30, 10});
    const ClusterShape f = plan_cluster_step(layout, 10, sizeof(float), 1, kH200Shared);
    EXPECT_EQ(f.K, 25);            // ceil(784 / 32) weights a lane holds per row
    EXPECT_TRUE(f.bulk);           // 784 bytes a column: whole 16-byte pieces
    EXPECT_EQ(f.col_bytes, 784);
    EXPECT_EQ(cluster_min_size(f), 1);               // 30 rows fit 15 warps of 2
    EXPECT_EQ(choose_cluster_size(f, 8), 8);         // 4 rows a block: ceil(30 / 4) = 8
    EXPECT_EQ(choose_cluster_size(f, 3), 3);         // as many as the device schedules
    EXPECT_EQ(with_cluster_size(f, 8).R, 1);         // 4 rows a block, one a warp
    EXPECT_EQ(with_cluster_size(f, 1).R, 2);         // 30 rows on 15 warps
    const ClusterShape d = plan_cluster_step(layout, 10, sizeof(double), 1, kH200Shared);
    EXPECT_EQ(cluster_min_size(d), 2);               // a lane holds one row of doubles: 15 a block
    EXPECT_EQ(choose_cluster_size(d, 1), 0);
    EXPECT_THROW(with_cluster_size(d, 1), Error);
    EXPECT_EQ(with_cluster_size(d, 2).R, 1);
    // Float inputs of 30 values (120 bytes) are not whole 16-byte pieces: plain loads.
    EXPECT_FALSE(plan_cluster_step(ParamLayout({30, 4}), 3, sizeof(double), 4, kH200Shared).bulk);
}

TEST(ClusterPlan, RefusesWhatItCannotRun) {
    const auto refused = [](const std::vector<int>& sizes, int m, std::size_t elem, std::size_t limit, const char* why) {
        try {
            plan_cluster_step(ParamLayout(sizes), m, elem, 1, limit);
            ADD_FAILURE() << sizes_to_string(sizes) << " m " << m << " planned";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
        }
    };
    refused({784, 30, 10}, 0, 4, kH200Shared, "mini-batches of 1..32");
    refused({784, 30, 10}, kClusterMaxBatch + 1, 4, kH200Shared, "mini-batches of 1..32");
    refused({1025, 30, 10}, 10, 4, kH200Shared, "up to 1024 inputs");
    refused({784, 8 * 30 + 1, 10}, 10, 4, kH200Shared, "up to 240 units of layer 1");
    refused({784, 8 * 15 + 1, 10}, 10, 8, kH200Shared, "up to 120 units of layer 1");
    refused({784, 30, 10}, 10, 4, 1000, "bytes of shared memory");
    refused({4, 3, 3, 3, 3, 3, 3, 3, 3, 3}, 2, 4, kH200Shared, "weight layers");
    EXPECT_NO_THROW(plan_cluster_step(ParamLayout({1024, 240, 10}), 8, 4, 1, kH200Shared));
}

// Over random layouts, m, scalar and image sizes and limits: every region of shared memory is
// 16-byte aligned, inside the block's bytes and disjoint from the others; the partial batch
// (fewer columns) never needs more than the full one (the lesson of issue 20's D1); every N the
// plan allows splits layer 1 into contiguous blocks that cover it once, each within its warps'
// registers.
TEST(ClusterPlan, PropertiesOverRandomLayouts) {
    std::uint64_t seed = 20;
    auto draw = [&](int lo, int hi) { return lo + int(splitmix64(seed++) % std::uint64_t(hi - lo + 1)); };
    int planned = 0, refused = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        const int L = draw(1, 4);
        std::vector<int> sizes{draw(1, 1100)};
        for (int l = 1; l <= L; ++l) sizes.push_back(draw(1, l == 1 ? 260 : 40));
        const int m = draw(1, kClusterMaxBatch);
        const std::size_t elem = draw(0, 1) ? 4 : 8, image = draw(0, 1) ? 1 : 4;
        const std::size_t limit = draw(0, 3) ? kH200Shared : std::size_t(draw(1000, 60000));
        const ParamLayout layout(sizes);
        SCOPED_TRACE(sizes_to_string(sizes) + " m " + std::to_string(m) + " elem " + std::to_string(elem) + " image " +
                     std::to_string(image) + " limit " + std::to_string(limit));
        ClusterShape s;
        try {
            s = plan_cluster_step(layout, m, elem, image, limit);
        } catch (const Error&) {
            ++refused;
            const int most_rows = kClusterMaxSize * (kClusterWarps - 1) * cluster_max_rows(elem);
            // Refused for a reason the plan states, never for a layout it can run.
            const bool too_big = sizes[0] > kClusterLanes * kClusterMaxK || sizes[1] > most_rows;
            if (!too_big) {
                // Then it is the shared memory: a larger limit would plan it.
                const ClusterShape big = plan_cluster_step(layout, m, elem, image, std::size_t(1) << 40);
                EXPECT_GT(big.shared_bytes, (long long)limit);
            }
            continue;
        }
        ++planned;
        const long long es = (long long)elem;
        EXPECT_EQ(s.shared_bytes, s.shared_elems * es);
        EXPECT_LE(s.shared_bytes, (long long)limit);
        EXPECT_EQ(s.K, (sizes[0] + 31) / 32);
        EXPECT_EQ(s.col_bytes % 16, 0);
        EXPECT_GE(s.col_bytes, sizes[0] * (int)image);
        EXPECT_EQ(s.bulk, sizes[0] * image % 16 == 0);
        // (offset, elements) of every region.
        std::vector<std::pair<long long, long long>> r{{s.bar_off, 8 / es > 0 ? 8 / es : 1},
                                                       {s.b1_off, sizes[1]},
                                                       {s.e_off, (m * 4 + es - 1) / es},
                                                       {s.stage_off, (long long)m * s.col_bytes / es}};
        for (int b = 0; b < 2; ++b) {
            r.push_back({s.x_off[b], (long long)sizes[0] * m});
            r.push_back({s.y_off[b], m});
            r.push_back({s.a1_off[b], (long long)sizes[1] * m});
        }
        for (int l = 1; l <= L; ++l) r.push_back({s.d_off[l], (long long)sizes[l] * m});
        for (int l = 2; l <= L; ++l) {
            r.push_back({s.head_w_off[l], (long long)sizes[l] * sizes[l - 1]});
            r.push_back({s.head_b_off[l], sizes[l]});
            r.push_back({s.a_off[l], (long long)sizes[l] * m});
        }
        std::sort(r.begin(), r.end());
        for (std::size_t i = 0; i < r.size(); ++i) {
            EXPECT_EQ(r[i].first * es % 16, 0) << "region at " << r[i].first;
            EXPECT_GE(r[i].first, i ? r[i - 1].first + r[i - 1].second : 0) << "region at " << r[i].first << " overlaps";
            EXPECT_LE(r[i].first + r[i].second, s.shared_elems);
        }
        // Every smaller batch (a partial one) fits in what the full one was given.
        for (int rest = 1; rest < m; rest += std::max(1, m / 5))
            EXPECT_LE(plan_cluster_step(layout, rest, elem, image, limit).shared_bytes, s.shared_bytes) << "rest " << rest;
        // Every N the plan allows.
        const int lo = cluster_min_size(s), hi = std::min(kClusterMaxSize, sizes[1]);
        for (int N = 1; N <= kClusterMaxSize; ++N) {
            if (N < lo || N > hi) {
                EXPECT_THROW(with_cluster_size(s, N), Error) << "N " << N;
                continue;
            }
            const ClusterShape c = with_cluster_size(s, N);
            EXPECT_GE(c.R, 1);
            EXPECT_LE(c.R, cluster_max_rows(elem));
            EXPECT_EQ(cluster_row_begin(c, 0), 0);
            EXPECT_EQ(cluster_row_begin(c, N), sizes[1]);
            for (int rank = 0; rank < N; ++rank) {
                const int rows = cluster_row_begin(c, rank + 1) - cluster_row_begin(c, rank);
                EXPECT_GE(rows, 1) << "N " << N << " rank " << rank;
                EXPECT_LE(rows, (kClusterWarps - 1) * c.R) << "N " << N << " rank " << rank;
            }
        }
        for (int most = 0; most <= kClusterMaxSize; ++most) {
            const int N = choose_cluster_size(s, most);
            if (lo > std::min(most, hi)) {
                EXPECT_EQ(N, 0);
            } else {
                EXPECT_GE(N, lo);
                EXPECT_LE(N, std::min(most, hi));
            }
        }
    }
    EXPECT_GT(planned, 1000);
    EXPECT_GT(refused, 100);
}

TEST(ClusterPlan, SegmentsAreLongAtEveryBatchSize) {
    for (int m = 1; m <= 64; ++m) {
        EXPECT_GE(fused_segment_steps(m), kFusedSegmentSteps);
        EXPECT_GE((long long)fused_segment_steps(m) * m, kFusedSegmentExamples);
    }
}

// ---- the decision --------------------------------------------------------------------------

TEST(ClusterDecision, TheSwitchIsSpelledOnce) {
    EXPECT_EQ(parse_cluster_override(nullptr), 0);
    EXPECT_EQ(parse_cluster_override(""), 0);
    EXPECT_EQ(parse_cluster_override("0"), 0);
    EXPECT_EQ(parse_cluster_override("auto"), -1);
    for (int n = 1; n <= kClusterMaxSize; ++n) EXPECT_EQ(parse_cluster_override(std::to_string(n).c_str()), n);
    for (const char* bad : {"9", "-1", "10", "yes", "Auto", " 1"}) {
        try {
            parse_cluster_override(bad);
            ADD_FAILURE() << bad << " accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("not '") + bad + "'"), std::string::npos) << e.what();
        }
    }
}

TEST(ClusterDecision, FallsBackToOneBlockWithOneReason) {
    const ClusterShape s = plan_cluster_step(ParamLayout({784, 30, 10}), 10, sizeof(double), 1, kH200Shared);  // 2..8 blocks
    // Not asked for: the one-block step, nothing to say, whatever the device offers.
    EXPECT_EQ(decide_cluster("", s, 8, "", 0).N, 0);
    EXPECT_EQ(decide_cluster("", s, 8, "", 0).notice, "");
    EXPECT_EQ(decide_cluster("a reason", s, 0, "none", 0).notice, "");
    // Asked for and possible: as asked, silently.
    EXPECT_EQ(decide_cluster("", s, 8, "", -1).N, 8);
    EXPECT_EQ(decide_cluster("", s, 8, "", -1).notice, "");
    EXPECT_EQ(decide_cluster("", s, 8, "", 3).N, 3);
    EXPECT_EQ(decide_cluster("", s, 5, "", -1).N, 5);
    EXPECT_EQ(decide_cluster("", s, 8, "", 3).notice, "");
    // Asked for, not possible: the one-block step and why (never an error).
    const auto falls = [](const ClusterDecision& d, int N, const std::string& why) {
        EXPECT_EQ(d.N, N);
        EXPECT_NE(d.notice.find(why), std::string::npos) << d.notice;
        EXPECT_EQ(d.notice.find('\n'), std::string::npos) << "one line";
    };
    falls(decide_cluster("too wide", s, 0, "", -1), 0, "BATCHPROP_FUSED_CLUSTER=auto: the fused step runs on one block: too wide");
    falls(decide_cluster("", s, 0, "no clusters before sm_90", 2), 0, "BATCHPROP_FUSED_CLUSTER=2: the fused step runs on one block: no clusters before sm_90");
    falls(decide_cluster("", s, 1, "", -1), 0, "needs a cluster of 2 blocks, this device schedules 1");
    // An N outside what fits: the plan's N instead, said.
    falls(decide_cluster("", s, 8, "", 1), 8, "BATCHPROP_FUSED_CLUSTER=1: not possible here (2..8 blocks); the cluster step runs on 8");
    falls(decide_cluster("", s, 4, "", 6), 4, "not possible here (2..4 blocks)");
}

// What a device reports decides the largest cluster, or why there is none.
TEST(ClusterDecision, TheLargestClusterFromWhatTheDeviceReports) {
    std::string why;
    const auto any = [](int) { return 4; };
    EXPECT_EQ(largest_cluster(8, 0, true, any, 1000, &why), 0);
    EXPECT_EQ(why, "thread-block clusters need compute capability 9.0, this GPU has 8.0");
    EXPECT_EQ(largest_cluster(9, 0, false, any, 1000, &why), 0);
    EXPECT_EQ(why, "this GPU does not launch thread-block clusters");
    why.clear();
    EXPECT_EQ(largest_cluster(9, 0, true, any, 1000, &why), kClusterMaxSize);
    EXPECT_EQ(largest_cluster(10, 0, true, [](int n) { return n <= 5 ? 1 : 0; }, 1000, &why), 5);
    EXPECT_EQ(why, "");
    EXPECT_EQ(largest_cluster(9, 0, true, [](int) { return 0; }, 123456, &why), 0);
    EXPECT_EQ(why, "no cluster of 512-thread blocks with 123456 bytes of shared memory each can be scheduled");
}

// ---- the step program, inside a Trainer ----------------------------------------------------

struct Case {
    std::vector<int> sizes;
    int m;
    Cost cost;
    double eta, lambda;
    int n = 253;  // training examples (a partial batch unless m divides it)
};

std::string describe(const Case& c) {
    return sizes_to_string(c.sizes) + " m " + std::to_string(c.m) + " n " + std::to_string(c.n) +
           (c.cost == Cost::quadratic ? " quadratic" : " cross-entropy");
}

struct Outcome {
    std::vector<double> params;  // as double, whatever T
    std::vector<std::string> notices;
    int cluster_launches = 0, launches = 0, last_cluster = 0;
};

// Two epochs of c on `be` (the fusing test double, or a CPU backend for the library path).
template <class T>
Outcome train(Backend<T>& be, const Case& c, Launch launch, const Dataset* images = nullptr) {
    const Dataset tr = images ? *images : bptest::random_dataset(c.n, c.sizes.front(), c.sizes.back(), 11, 12);
    TrainConfig cfg;
    cfg.epochs = 2;
    cfg.batch = c.m;
    cfg.eta = c.eta;
    cfg.lambda = c.lambda;
    cfg.cost = c.cost;
    cfg.launch = launch;
    Network<T> net(c.sizes);
    net.init(Init::scaled, 5);
    DeviceData<T> d(be, tr);
    Trainer<T> trainer(be, net.layout(), d, nullptr, cfg);
    trainer.backprop().set_params(net.params());
    Outcome r;
    TrainCallbacks cb;
    cb.on_notice = [&](const std::string& n) { r.notices.push_back(n); };
    trainer.run(cb);
    for (T p : trainer.backprop().params()) r.params.push_back(double(p));
    if (auto* f = dynamic_cast<bptest::FusingCpuBackend<T>*>(&be)) {
        r.cluster_launches = f->cluster_launches;
        r.launches = f->launches;
        r.last_cluster = f->last_cluster;
    }
    return r;
}

// Networks of one to three weight layers; [784,30,10] for 200 steps at m = 10; byte columns
// that are whole 16-byte pieces (bulk copies) and ones that are not (plain loads); a lane
// holding one row and two (float, few blocks); m = 1 and m = 32 (the plan's most); a partial
// batch; both costs, with and without lambda.
const std::vector<Case> kCases = {
    {{784, 30, 10}, 10, Cost::quadratic, 3.0, 0.0, 1000},  {{30, 4}, 11, Cost::cross_entropy, 0.5, 2.0},
    {{48, 40, 9, 4}, 7, Cost::quadratic, 1.0, 1.0},        {{64, 6, 3}, 1, Cost::cross_entropy, 0.3, 0.0, 60},
    {{33, 20, 5}, 32, Cost::quadratic, 3.0, 5.0},
};

// For every N the plan allows (up to 8; with `every` false its smallest, middle and largest)
// and both orders of the emulated blocks: the same parameters bit for bit, the cluster step
// used on N blocks, and the library path's result within rounding (tol, normwise).
template <class T>
void check_every_n(const Case& c, double tol, bool every) {
    SCOPED_TRACE(describe(c));
    const auto cpu = make_cpu_backend<T>();
    const Outcome eager = train<T>(*cpu, c, Launch::eager);
    const ClusterShape s = plan_cluster_step(ParamLayout(c.sizes), c.m, sizeof(T), 1, kH200Shared);
    const int lo = cluster_min_size(s), hi = std::min(kClusterMaxSize, c.sizes[1]);
    std::vector<double> first;
    int runs = 0;
    for (int N = lo; N <= hi; ++N) {
        if (!every && N != lo && N != hi && N != (lo + hi) / 2) continue;
        for (bool reverse : {false, true}) {
            SCOPED_TRACE("N " + std::to_string(N) + (reverse ? " reverse" : " forward"));
            const ClusterSwitch on(std::to_string(N).c_str());
            bptest::FusingCpuBackend<T> be(kH200Shared, reverse, kClusterMaxSize);
            const Outcome r = train<T>(be, c, Launch::fused);
            EXPECT_GT(r.cluster_launches, 0);
            EXPECT_EQ(r.cluster_launches, r.launches) << "every launch the cluster step's";
            EXPECT_EQ(r.last_cluster, N);
            EXPECT_TRUE(r.notices.empty()) << r.notices.front();
            EXPECT_TRUE(bptest::close_normwise(r.params, eager.params, tol));
            if (first.empty()) first = r.params;
            else EXPECT_EQ(r.params, first) << "not bitwise the N = " << lo << " forward run";
            ++runs;
        }
    }
    EXPECT_GE(runs, 2);
}

TEST(ClusterStep, EveryNAndOrderIsBitwiseTheSameAndTheLibraryPathInDouble) {
    for (const Case& c : kCases) check_every_n<double>(c, 1e-12, true);
}

// Float: the smallest, middle and largest N (the double test covers every N).
TEST(ClusterStep, NAndOrderAreBitwiseTheSameInFloat) {
    for (const Case& c : kCases) check_every_n<float>(c, 2e-5, false);
}

// Images already scaled to floats (S = float): 64 of them are whole 16-byte pieces, 30 not.
TEST(ClusterStep, FloatInputsAsWell) {
    for (const Case& c : {Case{{64, 6, 3}, 5, Cost::quadratic, 0.5, 0.0}, Case{{30, 12, 4}, 4, Cost::cross_entropy, 0.5, 1.0}}) {
        SCOPED_TRACE(describe(c));
        const Dataset bytes = bptest::random_dataset(c.n, c.sizes.front(), c.sizes.back(), 11, 12);
        auto inputs = std::make_shared<std::vector<float>>(bytes.pixels.size());
        for (std::size_t i = 0; i < inputs->size(); ++i) (*inputs)[i] = float(bytes.pixels[i]) / 300.0f;  // not k/255
        const Dataset tr = borrow_images(bytes.n_inputs, bytes.n, inputs->data(), inputs, bytes.labels);
        const auto cpu = make_cpu_backend<double>();
        const Outcome eager = train<double>(*cpu, c, Launch::eager, &tr);
        std::vector<double> first;
        for (int N : {1, 3}) {
            const ClusterSwitch on(std::to_string(N).c_str());
            bptest::FusingCpuBackend<double> be(kH200Shared, N == 3, kClusterMaxSize);
            const Outcome r = train<double>(be, c, Launch::fused, &tr);
            EXPECT_EQ(r.last_cluster, N);
            EXPECT_TRUE(bptest::close_normwise(r.params, eager.params, 1e-12));
            if (first.empty()) first = r.params;
            else EXPECT_EQ(r.params, first);
        }
    }
}

// Without the switch the fused launch is the one-block step, silently, even where clusters exist.
TEST(ClusterStep, OffUnlessAskedFor) {
    const Case c = kCases[2];
    const ClusterSwitch off(nullptr);
    bptest::FusingCpuBackend<double> be(kH200Shared, false, kClusterMaxSize);
    const Outcome r = train<double>(be, c, Launch::fused);
    EXPECT_GT(r.launches, 0);
    EXPECT_EQ(r.cluster_launches, 0);
    EXPECT_TRUE(r.notices.empty());
}

// Asked for where the device has no clusters, or turns the cluster down at its first launch:
// the one-block fused step trains (the very result of a run that never asked), with exactly
// one notice saying why, never an error.
TEST(ClusterStep, WhereTheDeviceCannotTheOneBlockStepRunsWithOneNotice) {
    const Case c = kCases[2];
    bptest::FusingCpuBackend<double> plain(kH200Shared);
    const Outcome one_block = train<double>(plain, c, Launch::fused);
    {
        const ClusterSwitch on("auto");
        bptest::FusingCpuBackend<double> be(kH200Shared, false, 0);  // no clusters
        const Outcome r = train<double>(be, c, Launch::fused);
        EXPECT_EQ(r.cluster_launches, 0);
        EXPECT_EQ(r.params, one_block.params);
        ASSERT_EQ(r.notices.size(), 1u);
        EXPECT_NE(r.notices[0].find("runs on one block: no clusters on this (emulated) device"), std::string::npos) << r.notices[0];
    }
    {
        const ClusterSwitch on("3");
        bptest::FusingCpuBackend<double> be(kH200Shared, false, kClusterMaxSize);
        be.refuse_clusters = true;  // as a GPU may at launch
        const Outcome r = train<double>(be, c, Launch::fused);
        EXPECT_EQ(r.cluster_launches, 0);
        EXPECT_GT(r.launches, 2) << "later segments too";
        EXPECT_EQ(r.params, one_block.params);
        ASSERT_EQ(r.notices.size(), 1u) << r.notices[0] << " | " << r.notices.back();
        EXPECT_NE(r.notices[0].find("could not be launched (the cluster was turned down); the fused step runs on one block"),
                  std::string::npos)
            << r.notices[0];
    }
    {
        // The plan refuses the network (layer 1 too wide): the one-block step, said once.
        const Case wide{{20, 250, 3}, 4, Cost::quadratic, 0.5, 0.0, 40};
        const ClusterSwitch on("auto");
        bptest::FusingCpuBackend<float> be(kH200Shared, false, kClusterMaxSize);
        const Outcome r = train<float>(be, wide, Launch::fused);
        EXPECT_EQ(r.cluster_launches, 0);
        EXPECT_GT(r.launches, 0);
        ASSERT_EQ(r.notices.size(), 1u);
        EXPECT_NE(r.notices[0].find("up to 240 units of layer 1"), std::string::npos) << r.notices[0];
    }
    {
        // A misspelt switch is an error, named.
        const ClusterSwitch on("9");
        bptest::FusingCpuBackend<double> be(kH200Shared, false, kClusterMaxSize);
        EXPECT_THROW(train<double>(be, c, Launch::fused), Error);
    }
}

// --launch auto with the switch on picks the fused launch for a small batch, and the cluster step runs.
TEST(ClusterStep, AutoUsesItWhereAskedFor) {
    const Case c = kCases[1];
    const ClusterSwitch on("auto");
    bptest::FusingCpuBackend<double> be(kH200Shared, false, kClusterMaxSize);
    const Outcome r = train<double>(be, c, Launch::automatic);
    EXPECT_GT(r.cluster_launches, 0);
    EXPECT_EQ(r.last_cluster, choose_cluster_size(plan_cluster_step(ParamLayout(c.sizes), c.m, 8, 1, kH200Shared), 8));
}

}  // namespace
