// The fused step (Launch::fused), checked on the CPU: the plan (placement, splits, scratch
// layout), the choice of launch, and the step program itself, run by the host driver inside a
// whole Trainer (segments, cursor, partial batch, stop flag) against the library path.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "batchprop/trainer.hpp"
#include "doubles/fusing_backend.hpp"
#include "fused/fused_plan.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

constexpr std::size_t kH200Shared = 232448;  // cudaDevAttrMaxSharedMemoryPerBlockOptin on an H200

// ---- the plan ------------------------------------------------------------------------------

TEST(FusedPlan, BookNetworkInFloatKeepsEverythingInSharedMemory) {
    const ParamLayout layout({784, 30, 10});
    const FusedShape s = plan_fused_step(layout, 10, sizeof(float), kH200Shared);
    EXPECT_EQ(s.L, 2);
    EXPECT_EQ(s.n_params, 23860);
    // 300 sums of 784 terms in 8 x 5 tiles of 4 x 2: 25 ranges keep 1000 of the 1024 threads
    // busy; 100 sums of 30 (15 tiles): one range, 30 terms are too few to cut.
    EXPECT_EQ(s.split[1], 25);
    EXPECT_EQ(s.split[2], 1);
    // x twice (785 x 10 each: an odd leading dimension), a and delta for 30 and 10 rows (800),
    // 300 x 25 partial sums, the labels of each x.
    EXPECT_EQ(s.xld, 785);
    EXPECT_EQ(s.scratch_elems, 2 * 7850 + 800 + 7500 + 2 * 10);
    EXPECT_TRUE(s.params_shared);
    EXPECT_TRUE(s.scratch_shared);
    EXPECT_EQ(s.shared_bytes, (23860 + s.scratch_elems) * 4);
    EXPECT_TRUE(fused_step_preferred(s));
}

TEST(FusedPlan, DoubleKeepsTheParametersSharedAndTheScratchGlobal) {
    const FusedShape s = plan_fused_step(ParamLayout({784, 30, 10}), 10, sizeof(double), kH200Shared);
    EXPECT_TRUE(s.params_shared);    // 190,880 bytes
    EXPECT_FALSE(s.scratch_shared);  // 192,160 more do not fit
    EXPECT_EQ(s.shared_bytes, 23860 * 8);
    EXPECT_TRUE(fused_step_preferred(s));
}

TEST(FusedPlan, WithoutSharedMemoryEverythingIsGlobalAndNotPreferred) {
    const FusedShape s = plan_fused_step(ParamLayout({784, 30, 10}), 10, sizeof(float), 0);
    EXPECT_FALSE(s.params_shared);
    EXPECT_FALSE(s.scratch_shared);
    EXPECT_EQ(s.shared_bytes, 0);
    EXPECT_FALSE(fused_step_preferred(s));
    // A wide network's parameters do not fit either; a wide batch is not preferred.
    EXPECT_FALSE(fused_step_preferred(plan_fused_step(ParamLayout({784, 100, 10}), 10, 4, kH200Shared)));
    EXPECT_FALSE(fused_step_preferred(plan_fused_step(ParamLayout({784, 30, 10}), kFusedAutoMaxBatch + 1, 4, kH200Shared)));
    EXPECT_TRUE(fused_step_preferred(plan_fused_step(ParamLayout({784, 30, 10}), kFusedAutoMaxBatch, 4, kH200Shared)));
}

TEST(FusedPlan, ScratchRegionsAreDisjointAndCoverTheScratch) {
    for (const std::vector<int>& sizes : {std::vector<int>{5, 3}, {784, 30, 10}, {64, 6, 3}, {50, 12, 9, 4}})
        for (int m : {1, 3, 10, 33, 100}) {
            const FusedShape s = plan_fused_step(ParamLayout(sizes), m, 8, kH200Shared);
            SCOPED_TRACE(sizes_to_string(sizes) + " m " + std::to_string(m));
            EXPECT_GE(s.xld, s.n[0]);
            EXPECT_EQ(s.xld % 2, 1);
            std::vector<std::pair<long long, long long>> regions{{s.x_off[0], (long long)s.xld * m}, {s.x_off[1], (long long)s.xld * m}};
            long long partial = 0;
            for (int l = 1; l <= s.L; ++l) {
                regions.push_back({s.a_off[l], s.n[l] * m});
                regions.push_back({s.d_off[l], s.n[l] * m});
                EXPECT_GE(s.split[l], 1);
                EXPECT_LE(s.split[l], std::max(1, s.n[l - 1] / 16));  // ranges of 16 terms at least
                if (s.split[l] > 1) partial = std::max(partial, (long long)s.n[l] * m * s.split[l]);
            }
            regions.push_back({s.p_off, partial});
            regions.push_back({s.y_off[0], m});
            regions.push_back({s.y_off[1], m});
            std::sort(regions.begin(), regions.end());
            long long end = 0;
            for (const auto& r : regions) {
                EXPECT_GE(r.first, end);
                end = r.first + r.second;
            }
            EXPECT_EQ(end, s.scratch_elems);
        }
}

// A partial last batch has fewer column tiles than a full one, so more threads for each tile
// and its forward sums cut into more ranges: its scratch can be the larger (issue 20, D1).
// Whatever the layout, the batch, the partial size and the placement, the global scratch of an
// epoch covers the plan of every batch whose scratch is not in shared memory.
TEST(FusedPlan, TheEpochsGlobalScratchServesTheFullAndThePartialBatch) {
    const std::vector<std::vector<int>> layouts = {{784, 30, 10}, {128, 128, 20}, {8, 200, 200}, {100, 64, 64, 10}, {64, 6, 3}};
    long long partial_needs_more = 0, partial_only_global = 0;
    for (const std::vector<int>& sizes : layouts)
        for (std::size_t elem : {std::size_t(4), std::size_t(8)})
            for (std::size_t limit : {kH200Shared, std::size_t(100000), std::size_t(1)})
                for (int m = 2; m <= 64; ++m) {
                    const FusedEpochPlan whole = plan_fused_epoch(ParamLayout(sizes), 5 * m, m, elem, limit);
                    ASSERT_EQ(whole.partial.L, 0) << "m divides n: no partial batch";
                    ASSERT_EQ(whole.global_scratch_elems, whole.full.scratch_shared ? 0 : whole.full.scratch_elems);
                    for (int rest = 1; rest < m; ++rest) {
                        const FusedEpochPlan p = plan_fused_epoch(ParamLayout(sizes), 5 * m + rest, m, elem, limit);
                        const std::string what = sizes_to_string(sizes) + " elem " + std::to_string(elem) + " limit " +
                                                 std::to_string(limit) + " m " + std::to_string(m) + " partial " +
                                                 std::to_string(rest);
                        ASSERT_EQ(p.full.m, m) << what;
                        ASSERT_EQ(p.partial.m, rest) << what;
                        long long need = 0;
                        for (const FusedShape* s : {&p.full, &p.partial})
                            if (!s->scratch_shared) {
                                ASSERT_GE(p.global_scratch_elems, s->scratch_elems) << what << ", m = " << s->m;
                                need = std::max(need, s->scratch_elems);
                            }
                        EXPECT_EQ(p.global_scratch_elems, need) << what << ": no larger than the plans need";
                        partial_needs_more += p.partial.scratch_elems > p.full.scratch_elems;
                        partial_only_global += !p.partial.scratch_shared && p.full.scratch_shared;
                    }
                }
    // The sweep reaches both ways the full plan alone falls short.
    EXPECT_GT(partial_needs_more, 0);
    EXPECT_GT(partial_only_global, 0);
}

// The plan's properties over random layouts, many of them with several layers whose forward
// sums are cut into ranges (wide layers at m <= 12, as --launch auto picks): for full and
// partial batches and both placements, every array the program writes has a region of its
// own inside the scratch, the partial-sum region holds the sums of *every* splitting layer
// (not only the largest's or the last's), a layer's items never outnumber the block's threads
// by more than its tiles do, and the placement follows the limit.
TEST(FusedPlan, PropertiesOverRandomLayouts) {
    std::uint64_t rng = splitmix64(2026);
    const auto draw = [&](int lo, int hi) { return lo + int(splitmix64(rng++) % std::uint64_t(hi - lo + 1)); };
    int several_split = 0, checked = 0;
    for (int trial = 0; trial < 300; ++trial) {
        std::vector<int> sizes{draw(1, 800)};
        const int L = draw(1, 5);
        for (int l = 1; l <= L; ++l) sizes.push_back(draw(0, 1) ? draw(1, 24) : draw(40, 300));  // narrow or wide
        const ParamLayout layout(sizes);
        const int m = draw(1, 12), rest = draw(1, 12);
        for (std::size_t elem : {std::size_t(4), std::size_t(8)})
            for (std::size_t limit : {kH200Shared, std::size_t(1)})
                for (const int cols : {m, rest}) {  // a full batch, and a partial one of another width
                    const FusedShape s = plan_fused_step(layout, cols, elem, limit);
                    const std::string what = sizes_to_string(sizes) + " m " + std::to_string(cols) + " elem " +
                                             std::to_string(elem) + " limit " + std::to_string(limit);
                    ++checked;
                    // The regions the program writes besides the partial sums.
                    std::vector<std::pair<long long, long long>> own{{s.x_off[0], (long long)s.xld * cols},
                                                                    {s.x_off[1], (long long)s.xld * cols},
                                                                    {s.y_off[0], cols},
                                                                    {s.y_off[1], cols}};
                    int splitting = 0;
                    for (int l = 1; l <= s.L; ++l) {
                        own.push_back({s.a_off[l], (long long)s.n[l] * cols});
                        own.push_back({s.d_off[l], (long long)s.n[l] * cols});
                        const long long tiles = (long long)fused_tiles(s.n[l], kFusedFwdRows) * fused_tiles(cols, kFusedFwdCols);
                        ASSERT_GE(s.split[l], 1) << what;
                        ASSERT_LE(s.split[l], std::max(1, s.n[l - 1] / 16)) << what << ", layer " << l;
                        ASSERT_LE(tiles * s.split[l], std::max<long long>(tiles, kFusedThreads)) << what << ", layer " << l;
                        if (s.split[l] > 1) ++splitting;
                    }
                    std::sort(own.begin(), own.end());
                    for (std::size_t i = 0; i + 1 < own.size(); ++i)
                        ASSERT_LE(own[i].first + own[i].second, own[i + 1].first) << what << ": regions overlap";
                    ASSERT_GE(own.front().first, 0) << what;
                    ASSERT_LE(own.back().first + own.back().second, s.scratch_elems) << what;
                    // Each splitting layer's sums, (n_l x m) times split[l], from p_off: inside the
                    // scratch and clear of every other region.
                    for (int l = 1; l <= s.L; ++l) {
                        if (s.split[l] == 1) continue;
                        const long long begin = s.p_off, end = s.p_off + (long long)s.n[l] * cols * s.split[l];
                        ASSERT_LE(end, s.scratch_elems) << what << ", layer " << l;
                        for (const auto& r : own)
                            ASSERT_TRUE(end <= r.first || r.first + r.second <= begin)
                                << what << ": layer " << l << "'s partial sums overlap the region at " << r.first;
                    }
                    several_split += splitting >= 2;
                    // The placement: the parameters in shared memory when they fit, then the scratch
                    // when what is left holds it.
                    const long long es = (long long)elem, lim = (long long)limit;
                    ASSERT_EQ(s.params_shared, s.n_params * es <= lim) << what;
                    ASSERT_EQ(s.scratch_shared, s.scratch_elems * es <= lim - (s.params_shared ? s.n_params * es : 0)) << what;
                    ASSERT_EQ(s.shared_bytes,
                              (s.params_shared ? s.n_params * es : 0) + (s.scratch_shared ? s.scratch_elems * es : 0))
                        << what;
                    ASSERT_LE(s.shared_bytes, lim) << what;
                }
    }
    EXPECT_EQ(checked, 300 * 8);
    EXPECT_GT(several_split, 300) << "too few plans with more than one splitting layer to say much";
}

TEST(FusedPlan, RefusesWhatItCannotDescribe) {
    EXPECT_THROW(plan_fused_step(ParamLayout({4, 4, 4, 4, 4, 4, 4, 4, 4, 4}), 10, 4, kH200Shared), Error);  // L = 9
    EXPECT_THROW(plan_fused_step(ParamLayout({4, 3}), 0, 4, kH200Shared), Error);
    EXPECT_THROW(plan_fused_step(ParamLayout({4, 3}), 1, 2, kH200Shared), Error);
    EXPECT_NO_THROW(plan_fused_step(ParamLayout({4, 4, 4, 4, 4, 4, 4, 4, 4}), 10, 4, kH200Shared));  // L = 8
}

// ---- the choice of launch ------------------------------------------------------------------

// Every choice that is not a contradiction (fused in per-example mode: FusedThatCannotBeHadIsAnError).
TEST(ResolveLaunch, TheCpuRunsEveryChoiceEagerly) {
    for (Launch asked : {Launch::automatic, Launch::fused, Launch::graph, Launch::eager})
        for (Mode mode : {Mode::matrix, Mode::per_example})
            if (!(asked == Launch::fused && mode == Mode::per_example))
                EXPECT_EQ(resolve_launch(asked, mode, false, "", false, false), Launch::eager);
}

TEST(ResolveLaunch, OnAGpuAutoIsFusedWhereItFitsElseGraph) {
    EXPECT_EQ(resolve_launch(Launch::automatic, Mode::matrix, true, "", true, true), Launch::fused);
    EXPECT_EQ(resolve_launch(Launch::automatic, Mode::matrix, true, "", false, true), Launch::graph);
    EXPECT_EQ(resolve_launch(Launch::automatic, Mode::matrix, true, "too many layers", false, true), Launch::graph);
    EXPECT_EQ(resolve_launch(Launch::automatic, Mode::per_example, true, "", true, true), Launch::graph);
    EXPECT_EQ(resolve_launch(Launch::graph, Mode::matrix, true, "", true, true), Launch::graph);
    EXPECT_EQ(resolve_launch(Launch::eager, Mode::matrix, true, "", true, true), Launch::eager);
    // Asked for explicitly, fused is used even where auto would not choose it.
    EXPECT_EQ(resolve_launch(Launch::fused, Mode::matrix, true, "", false, true), Launch::fused);
}

TEST(ResolveLaunch, FusedThatCannotBeHadIsAnError) {
    try {
        resolve_launch(Launch::fused, Mode::per_example, true, "", true, true);
        FAIL() << "per-example mode was fused";
    } catch (const SettingError& e) {  // a contradiction in the settings, named in a front end's words
        EXPECT_EQ(e.setting(), Setting::launch);
        EXPECT_EQ(std::string(e.what()), "launch fused runs matrix mode only (not mode per-example)");
        EXPECT_EQ(e.message([](Setting s) { return "--" + std::string(setting_name(s)); }),
                  "--launch fused runs matrix mode only (not --mode per-example)");
    }
    try {
        resolve_launch(Launch::fused, Mode::matrix, true, "the fused step handles networks of 1..8 weight layers", false, true);
        FAIL() << "a refused plan was fused";
    } catch (const SettingUnavailable& e) {  // possible in principle, not for this network here
        EXPECT_EQ(std::string(e.what()), "launch fused: the fused step handles networks of 1..8 weight layers");
    }
    EXPECT_THROW(resolve_launch(Launch::fused, Mode::matrix, false, "", false, true), SettingUnavailable);
    // The contradiction is one on the CPU too (no fused step, no recording), not passed over.
    EXPECT_THROW(resolve_launch(Launch::fused, Mode::per_example, false, "", false, false), SettingError);
    EXPECT_EQ(resolve_launch(Launch::fused, Mode::matrix, false, "", false, false), Launch::eager);
}

TEST(ResolveLaunch, NamesRoundTrip) {
    for (Launch l : {Launch::automatic, Launch::fused, Launch::graph, Launch::eager})
        EXPECT_EQ(parse_launch(launch_name(l)), l);
    EXPECT_THROW(parse_launch("fast"), Error);
}

// ---- the step program, inside a Trainer ----------------------------------------------------

struct Case {
    std::vector<int> sizes;
    int m;
    Cost cost;
    double eta, lambda;
};

std::string describe(const Case& c) {
    return sizes_to_string(c.sizes) + " m " + std::to_string(c.m) + (c.cost == Cost::quadratic ? " quadratic" : " cross-entropy") +
           " eta " + std::to_string(c.eta) + " lambda " + std::to_string(c.lambda);
}

// Networks with one to three weight layers; a batch that divides n and ones that leave a
// partial batch (n = 253); m = 1, and m = 33 (row sums in two chunks); forward sums cut into
// ranges ([64,6,3] at m = 4: 4 ranges of 16) and not; both costs, with and without lambda.
const std::vector<Case> kCases = {
    {{64, 6, 3}, 4, Cost::quadratic, 0.5, 0.0},   {{30, 4}, 11, Cost::cross_entropy, 0.5, 2.0},
    {{50, 12, 9, 4}, 10, Cost::quadratic, 1.0, 1.0}, {{64, 6, 3}, 1, Cost::cross_entropy, 0.3, 0.0},
    {{40, 20, 5}, 33, Cost::quadratic, 3.0, 5.0},  {{784, 30, 10}, 10, Cost::quadratic, 3.0, 0.0},
};

template <class T>
bptest::TrainRun<T> train(Backend<T>& be, const Case& c, Launch launch, int epochs = 2, int n = 253) {
    const Dataset tr = bptest::random_dataset(n, c.sizes.front(), c.sizes.back(), 11, 12),
                  ev = bptest::random_dataset(50, c.sizes.front(), c.sizes.back(), 12, 13);
    TrainConfig cfg;
    cfg.epochs = epochs;
    cfg.batch = c.m;
    cfg.eta = c.eta;
    cfg.lambda = c.lambda;
    cfg.cost = c.cost;
    cfg.launch = launch;
    return bptest::run_training<T>(tr, ev, c.sizes, cfg, 5, nullptr, &be);
}

TEST(FusedStep, TrainsAsTheLibraryPathDoesInDouble) {
    for (const Case& c : kCases) {
        SCOPED_TRACE(describe(c));
        bptest::FusingCpuBackend<double> fusing;
        const auto fused = train(fusing, c, Launch::fused);
        EXPECT_GT(fusing.launches, 0) << "the fused step was not used";
        const auto cpu = make_cpu_backend<double>();
        const auto eager = train(*cpu, c, Launch::eager);
        // Two epochs of shuffled SGD, the sums in another order: rounding only.
        EXPECT_TRUE(bptest::close_normwise(fused.params, eager.params, 1e-12));
        ASSERT_EQ(fused.evals.size(), eager.evals.size());
        for (std::size_t e = 0; e < fused.evals.size(); ++e) EXPECT_EQ(fused.evals[e].correct, eager.evals[e].correct);
    }
}

TEST(FusedStep, TrainsAsTheLibraryPathDoesInFloat) {
    for (const Case& c : kCases) {
        SCOPED_TRACE(describe(c));
        bptest::FusingCpuBackend<float> fusing;
        const auto fused = train(fusing, c, Launch::fused, 1);
        const auto cpu = make_cpu_backend<float>();
        const auto eager = train(*cpu, c, Launch::eager, 1);
        EXPECT_TRUE(bptest::close_normwise(fused.params, eager.params, 2e-5));
    }
}

// The last, partial batch has fewer columns, so fewer tiles, so more threads for each and its
// forward sums cut into more ranges: its scratch can outgrow the full batch's (issue 20, D1).
// [128,128,20] in double at m = 9 with a partial batch of 8: both scratches in global memory,
// the partial one 724 elements larger. [8,200,200] in float at m = 11, partial 10: the full
// plan's scratch fits in shared memory, the partial plan's does not. Both train as the library
// path does (under ASan, a scratch too small for the partial batch is a heap overflow).
TEST(FusedStep, APartialBatchThatNeedsMoreScratchThanAFullOne) {
    {
        const Case c{{128, 128, 20}, 9, Cost::quadratic, 0.5, 0.0};
        SCOPED_TRACE(describe(c));
        bptest::FusingCpuBackend<double> fusing;
        const auto fused = train(fusing, c, Launch::fused, 1, 9 * 5 + 8);
        const auto cpu = make_cpu_backend<double>();
        EXPECT_TRUE(bptest::close_normwise(fused.params, train(*cpu, c, Launch::eager, 1, 9 * 5 + 8).params, 1e-12));
        EXPECT_EQ(fusing.fused_steps, 6);
    }
    {
        const Case c{{8, 200, 200}, 11, Cost::cross_entropy, 0.5, 1.0};
        SCOPED_TRACE(describe(c));
        bptest::FusingCpuBackend<float> fusing;
        const auto fused = train(fusing, c, Launch::fused, 1, 11 * 4 + 10);
        const auto cpu = make_cpu_backend<float>();
        EXPECT_TRUE(bptest::close_normwise(fused.params, train(*cpu, c, Launch::eager, 1, 11 * 4 + 10).params, 2e-5));
        EXPECT_EQ(fusing.fused_steps, 5);
    }
}

// More than one layer cuts its forward sum into ranges: [100,64,64,10] at m = 10 cuts all
// three (6, 4 and 4 ranges), and --launch auto picks the fused step for it. The partial sums
// of each share one region, sized for the largest. The host driver (under ASan in the
// sanitizer build) trains it as the library path does, full and partial batches, with the
// scratch in shared and in global memory.
TEST(FusedStep, SeveralLayersCutTheirSumsIntoRanges) {
    const Case c{{100, 64, 64, 10}, 10, Cost::cross_entropy, 0.5, 1.0};
    for (int m : {10, 253 % 10}) {
        const FusedShape s = plan_fused_step(ParamLayout(c.sizes), m, sizeof(double), kH200Shared);
        EXPECT_EQ(std::count_if(s.split + 1, s.split + s.L + 1, [](int q) { return q > 1; }), 3) << "m " << m;
    }
    const auto cpu = make_cpu_backend<double>();
    const auto eager = train(*cpu, c, Launch::eager);
    for (std::size_t limit : {kH200Shared, std::size_t(1)}) {
        SCOPED_TRACE("shared memory " + std::to_string(limit));
        bptest::FusingCpuBackend<double> fusing(limit);
        const auto fused = train(fusing, c, limit == kH200Shared ? Launch::automatic : Launch::fused);
        EXPECT_EQ(fusing.fused_steps, 2 * 26) << "every step fused, the partial batch's too";
        EXPECT_TRUE(bptest::close_normwise(fused.params, eager.params, 1e-12));
    }
}

// A launch is checked on the host before it reaches the device: it never asks for more shared
// memory than the device allows (the limit its kernel was opted in to once, when the backend
// was made: issue 20, D2), and its global scratch holds what the plan lays out there.
TEST(FusedDevice, RefusesALaunchThePlanDoesNotFit) {
    const ParamLayout layout({64, 200, 3});  // 13,603 parameters: 108,824 bytes in double
    bptest::FusingCpuBackend<double> be(50000);
    FusedDevice<double>* device = fused_device<double>(be);
    ASSERT_EQ(device, &be);
    const Dataset tr = bptest::random_dataset(40, 64, 3, 11, 12);
    DeviceData<double> d(be, tr);
    Buffer<double> params(be, layout.n_params());
    params.upload(std::vector<double>(layout.n_params(), 0.01));
    Buffer<int> order(be, 40), cursor(be, 1);
    order.upload(std::vector<int>(40, 0));
    cursor.upload(std::vector<int>{0});
    // One step of 4 examples as planned for `planned_for` bytes, with `spare` elements of
    // global scratch more than the plan lays out.
    auto launch = [&](std::size_t planned_for, long long spare) {
        const FusedShape shape = plan_fused_step(layout, 4, sizeof(double), planned_for);
        Buffer<double> scratch(be, std::size_t(shape.scratch_elems + std::max(spare, 0LL)));
        fused::Args<double, std::uint8_t> a;
        a.params = params.data();
        a.scratch = scratch.data();
        a.scratch_elems = shape.scratch_elems + spare;
        a.images = d.pixels().data;
        a.labels = d.labels();
        a.order = order.data();
        a.cursor = cursor.data();
        a.steps = 1;
        a.alpha = -0.1;
        device->fused_train_steps(shape, a);
    };
    const auto refused = [&](std::size_t planned_for, long long spare, const std::string& why) {
        try {
            launch(planned_for, spare);
            ADD_FAILURE() << "launched: " << why;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
        }
    };
    refused(kH200Shared, 0, "bytes of shared memory, the device allows 50000");
    const FusedShape global = plan_fused_step(layout, 4, sizeof(double), 1);  // nothing in shared memory
    ASSERT_FALSE(global.scratch_shared);
    refused(1, -1, "the plan needs " + std::to_string(global.scratch_elems) +
                       " elements of scratch in global memory, the launch has " + std::to_string(global.scratch_elems - 1));
    EXPECT_EQ(be.launches, 0);
    launch(1, 0);
    launch(50000, 0);  // the scratch in shared memory, the parameters not
    EXPECT_EQ(be.launches, 2);
}

// On a GPU a phase's items run at once: no item may read what another item of its phase
// writes. Run in the opposite order, such a dependency would change the result.
TEST(FusedStep, ThePhaseItemsAreIndependent) {
    for (const Case& c : kCases) {
        SCOPED_TRACE(describe(c));
        bptest::FusingCpuBackend<double> forward(kH200Shared, false), backward(kH200Shared, true);
        const auto a = train(forward, c, Launch::fused);
        const auto b = train(backward, c, Launch::fused);
        EXPECT_EQ(a.params, b.params);
    }
}

// Where the plan keeps things (shared or global memory) does not change what is computed.
TEST(FusedStep, PlacementDoesNotChangeTheResult) {
    const Case c = kCases[2];
    bptest::FusingCpuBackend<double> shared(kH200Shared), global(1);  // 1 byte: nothing fits
    EXPECT_EQ(train(shared, c, Launch::fused).params, train(global, c, Launch::fused).params);
    EXPECT_GT(global.launches, 0);
}

TEST(FusedStep, FloatInputsAsWell) {
    const Case c = kCases[0];
    const Dataset bytes = bptest::random_dataset(253, c.sizes.front(), c.sizes.back(), 11, 12);
    auto inputs = std::make_shared<std::vector<float>>(bytes.pixels.size());
    for (std::size_t i = 0; i < inputs->size(); ++i) (*inputs)[i] = float(bytes.pixels[i]) / 300.0f;  // not k/255
    const Dataset tr = borrow_images(bytes.n_inputs, bytes.n, inputs->data(), inputs, bytes.labels);
    TrainConfig cfg;
    cfg.epochs = 1;
    cfg.batch = c.m;
    cfg.eta = c.eta;
    bptest::FusingCpuBackend<double> fusing;
    cfg.launch = Launch::fused;
    const auto fused = bptest::run_training<double>(tr, tr, c.sizes, cfg, 5, nullptr, &fusing);
    const auto cpu = make_cpu_backend<double>();
    cfg.launch = Launch::eager;
    const auto eager = bptest::run_training<double>(tr, tr, c.sizes, cfg, 5, nullptr, cpu.get());
    EXPECT_GT(fusing.launches, 0);
    EXPECT_TRUE(bptest::close_normwise(fused.params, eager.params, 1e-12));
}

// A Trainer of [64,6,3] on 253 random examples on `be`, segments of 7 steps.
struct SegmentedRun {
    SegmentedRun(Backend<double>& be, TrainConfig cfg)
        : data(bptest::random_dataset(253, 64, 3, 11, 12)), net({64, 6, 3}), d(be, data),
          trainer(be, net.layout(), d, nullptr, (cfg.segment_steps = 7, cfg)) {
        net.init(Init::scaled, 5);
        trainer.backprop().set_params(net.params());
    }
    Dataset data;
    Network<double> net;
    DeviceData<double> d;
    Trainer<double> trainer;
};

// One launch per segment, covering every step of the epoch, the partial batch included.
TEST(FusedStep, OneLaunchPerSegment) {
    bptest::FusingCpuBackend<double> be;
    TrainConfig cfg;
    cfg.epochs = 1;
    cfg.batch = 10;
    SegmentedRun r(be, cfg);
    EXPECT_EQ(r.trainer.launch(), Launch::fused);
    EXPECT_FALSE(r.trainer.recording());
    std::vector<long long> progress;
    TrainCallbacks cb;
    cb.on_batch = [&](const BatchProgress& p) { progress.push_back(p.examples_done); };
    r.trainer.run(cb);
    // 25 full batches in chunks of 7 (3 chunks and a tail of 4), then the partial batch of 3.
    EXPECT_EQ(be.launches, 5);
    EXPECT_EQ(be.fused_steps, 26);
    EXPECT_EQ(progress, (std::vector<long long>{70, 140, 210, 250, 253}));
}

TEST(FusedStep, TheStopFlagEndsTheEpochAtASegment) {
    bptest::FusingCpuBackend<double> be;
    TrainConfig cfg;
    cfg.epochs = 3;
    SegmentedRun r(be, cfg);
    std::atomic<bool> stop{false};
    TrainCallbacks cb;
    cb.stop = &stop;
    cb.on_batch = [&](const BatchProgress& p) {
        if (p.examples_done >= 140) stop = true;
    };
    EXPECT_EQ(r.trainer.run(cb), 1);
    EXPECT_EQ(be.launches, 2);
}

TEST(FusedStep, AutoStaysOffForPerExampleModeAndWideBatches) {
    const Dataset tr = bptest::random_dataset(253, 64, 3, 11, 12);
    bptest::FusingCpuBackend<double> be;
    const ParamLayout layout({64, 6, 3});
    DeviceData<double> d(be, tr);
    TrainConfig cfg;
    cfg.mode = Mode::per_example;
    EXPECT_NE(Trainer<double>(be, layout, d, nullptr, cfg).launch(), Launch::fused);
    cfg.mode = Mode::matrix;
    cfg.batch = kFusedAutoMaxBatch + 1;
    EXPECT_NE(Trainer<double>(be, layout, d, nullptr, cfg).launch(), Launch::fused);
    cfg.launch = Launch::fused;  // asked for: used
    EXPECT_EQ(Trainer<double>(be, layout, d, nullptr, cfg).launch(), Launch::fused);
    cfg.mode = Mode::per_example;
    EXPECT_THROW(Trainer<double>(be, layout, d, nullptr, cfg), Error);
}

}  // namespace
