// The library's sweep (sweep.hpp) on the CPU: the grid and its checks, the scheduler (a pure
// function), and the runner — every model bit for bit the model trained alone, faults kept to
// their model, the stop flag, callbacks one at a time, a callback's error, resumed models.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>

#include "batchprop/batchprop.hpp"
#include "batchprop/sweep.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

// Random images of 64 pixels and random labels of 5 classes: what is learnt does not matter
// here, only that every model computes exactly what it computes alone.
Dataset random_set(int n, int n_inputs, std::uint64_t seed) {
    std::vector<int> labels(static_cast<std::size_t>(n));
    std::uint64_t s = splitmix64(seed + 1000);
    for (int& l : labels) l = int(splitmix64(s++) % 5);
    return make_dataset(n_inputs, bptest::random_pixels(std::size_t(n_inputs) * std::size_t(n), seed), labels,
                        "random");
}

// The grid of the bitwise test: two networks, two etas, two lambdas, two m, two seeds.
SweepGrid test_grid() {
    SweepGrid g;
    g.sizes = {{64, 16, 5}, {64, 24, 12, 5}};
    g.eta = {0.5, 3.0};
    g.lambda = {0.0, 5.0};
    g.batch = {7, 33};
    g.seeds = {1, 9};
    return g;
}

// The model trained alone, as `batchprop train` trains it: a Session of its own.
Network<double> alone(const SweepModel& m, const Dataset& tr, const Dataset& ev, DType dtype) {
    Session s = Session::create(m.sizes, m.config.cost, m.init, m.config.seed, {"cpu", dtype});
    s.set_cost(m.config.cost);
    s.train(tr, &ev, m.config);
    return s.network();
}

using bptest::same_bits;

}  // namespace

// ---- the grid -------------------------------------------------------------------------------

TEST(SweepGridTest, ExpandsInOrderSeedFastest) {
    SweepGrid g = test_grid();
    EXPECT_EQ(grid_size(g), 32);
    const std::vector<SweepModel> m = expand_grid(g, bptest::sweep_config(2), Init::scaled);
    ASSERT_EQ(m.size(), 32u);
    for (std::size_t i = 0; i < m.size(); ++i) {
        EXPECT_EQ(m[i].id, int(i));
        EXPECT_EQ(m[i].setting, int(i / 2));  // two seeds per setting
        EXPECT_EQ(m[i].init, Init::scaled);
        EXPECT_EQ(m[i].config.epochs, 2);
        EXPECT_EQ(m[i].config.cost, Cost::cross_entropy);
    }
    EXPECT_EQ(m[0].config.seed, 1u);
    EXPECT_EQ(m[1].config.seed, 9u);
    EXPECT_EQ(m[2].config.batch, 33);    // m next
    EXPECT_EQ(m[4].config.lambda, 5.0);  // then lambda
    EXPECT_EQ(m[8].config.eta, 3.0);     // then eta
    EXPECT_EQ(m[16].sizes, (std::vector<int>{64, 24, 12, 5}));  // sizes outermost
    EXPECT_EQ(m[31].config.eta, 3.0);
    EXPECT_EQ(m[31].config.seed, 9u);
}

TEST(SweepGridTest, RefusesEmptyAxesAndHugeGrids) {
    SweepGrid g;
    g.eta.clear();
    EXPECT_THROW(grid_size(g), SettingError);
    g = SweepGrid{};
    g.seeds.resize(1000);
    g.eta.assign(200, 1.0);
    try {
        grid_size(g);
        FAIL() << "a grid of 200000 models";
    } catch (const SettingError& e) {
        EXPECT_NE(std::string(e.what()).find("more than 100000 models"), std::string::npos) << e.what();
    }
}

TEST(SweepGridTest, NamesTheBadValueOfAnAxis) {
    auto error_of = [](SweepGrid g) -> std::string {
        try {
            expand_grid(g, bptest::sweep_config(2), Init::gaussian);
        } catch (const SettingError& e) {
            return e.what();
        }
        return "accepted";
    };
    SweepGrid g;
    g.eta = {0.5, -1};
    EXPECT_EQ(error_of(g), "eta -1 must be a finite number > 0 (got -1)");
    g = SweepGrid{};
    g.lambda = {0, NAN};
    EXPECT_NE(error_of(g).find("lambda nan must be a finite number >= 0"), std::string::npos) << error_of(g);
    g = SweepGrid{};
    g.batch = {10, 0};
    EXPECT_NE(error_of(g).find("batch 0 must be at least 1"), std::string::npos) << error_of(g);
    g = SweepGrid{};
    g.sizes = {{784, 30, 10}, {784}};
    EXPECT_NE(error_of(g).find("sizes 784: "), std::string::npos) << error_of(g);
    // A value given twice would train its models twice (and count them twice in the spread).
    g = SweepGrid{};
    g.eta = {0.5, 3, 0.5};
    EXPECT_EQ(error_of(g), "eta 0.5 is given twice: each value makes its models once");
    g = SweepGrid{};
    g.seeds = {1, 2, 3, 2};
    EXPECT_EQ(error_of(g), "seed 2 is given twice: each value makes its models once");
    g = SweepGrid{};
    g.sizes = {{784, 30, 10}, {784, 100, 10}, {784, 30, 10}};
    EXPECT_EQ(error_of(g), "sizes 784,30,10 is given twice: each value makes its models once");
    // A large lambda alone is fine: eta lambda is the combination's to check.
    g = SweepGrid{};
    g.lambda = {1e12};
    EXPECT_EQ(error_of(g), "accepted");
}

TEST(SweepGridTest, RefusesABadCombinationNamingIt) {
    SweepGrid g;
    g.eta = {0.5, 3.0};
    g.lambda = {0, 100};
    g.seeds = {1, 2};
    const std::vector<SweepModel> m = expand_grid(g, bptest::sweep_config(2), Init::gaussian);
    validate_sweep(m, 1000);  // 3 * 100 / 1000 < 1
    try {
        validate_sweep(m, 250);  // 3 * 100 / 250 >= 1: runs 6 and 7, the first named
        FAIL() << "eta lambda / n >= 1 accepted";
    } catch (const SettingError& e) {
        EXPECT_EQ(e.setting(), Setting::eta);
        const std::string msg = e.message([](Setting s) { return "--" + std::string(setting_name(s)); });
        EXPECT_NE(msg.find("3 * 100 / 250 = 1.2 >= 1"), std::string::npos) << msg;
        EXPECT_NE(msg.find("in the combination --sizes 784,30,10 --eta 3 --lambda 100 --batch 10 (run 6)"),
                  std::string::npos)
            << msg;
    }
    g.batch = {10, 300};
    try {
        validate_sweep(expand_grid(g, bptest::sweep_config(2), Init::gaussian), 250);
        FAIL() << "m > n accepted";
    } catch (const SettingError& e) {
        EXPECT_EQ(e.setting(), Setting::batch);
        EXPECT_NE(std::string(e.what()).find("batch 300 is larger than the training set (250 examples), in the "
                                             "combination sizes 784,30,10 eta 0.5 lambda 0 batch 300 (run 2)"),
                  std::string::npos)
            << e.what();
    }
}

// ---- the schedule ---------------------------------------------------------------------------

TEST(SweepSchedule, ModelWorkGrowsWithWhatTheModelDoes) {
    SweepModel a;
    a.sizes = {784, 30, 10};
    a.config.epochs = 10;
    SweepModel wide = a, longer = a, small_m = a, per_example = a;
    wide.sizes = {784, 100, 10};
    longer.config.epochs = 20;
    small_m.config.batch = 1;
    per_example.config.mode = Mode::per_example;
    const double w = model_work(a, 1000);
    EXPECT_GT(model_work(wide, 1000), 3 * w);
    EXPECT_DOUBLE_EQ(model_work(longer, 1000), 2 * w);
    EXPECT_GT(model_work(small_m, 1000), w);
    EXPECT_DOUBLE_EQ(model_work(per_example, 1000), model_work(small_m, 1000));
    a.config.first_epoch = 4;  // resumed: only what is left
    EXPECT_DOUBLE_EQ(model_work(a, 1000), 0.6 * w);
}

TEST(SweepSchedule, LongestFirstTiesByRunId) {
    const std::vector<SweepModel> m = expand_grid(test_grid(), bptest::sweep_config(2), Init::gaussian);
    std::vector<double> work(m.size(), 1.0);
    work[5] = 3.0;
    work[2] = 2.0;
    work[30] = 2.0;
    SweepDevice cpu;
    cpu.workers = 2;
    const SweepSchedule s = schedule_sweep(m, work, {}, cpu);
    ASSERT_EQ(s.groups.size(), 1u);
    EXPECT_EQ(s.workers, 2);
    EXPECT_FALSE(s.groups[0].one_launch);
    const std::vector<int>& o = s.groups[0].models;
    ASSERT_EQ(o.size(), m.size());
    EXPECT_EQ((std::vector<int>{o[0], o[1], o[2], o[3], o[4]}), (std::vector<int>{5, 2, 30, 0, 1}));
    EXPECT_EQ(std::set<int>(o.begin(), o.end()).size(), m.size());  // each once
    EXPECT_EQ(schedule_sweep(m, work, {}, cpu).groups[0].models, o);  // deterministic
}

TEST(SweepSchedule, GpuLaunchesHoldFusableModelsOfSimilarLength) {
    const std::vector<SweepModel> m = expand_grid(test_grid(), bptest::sweep_config(2), Init::gaussian);
    std::vector<double> work;
    std::vector<bool> fusable;
    for (const SweepModel& x : m) {
        work.push_back(model_work(x, 1000));
        fusable.push_back(x.sizes.size() == 3);  // say the deeper network does not fit the fused step
    }
    SweepDevice gpu;
    gpu.gpu = true;
    gpu.workers = 4;
    gpu.models_per_launch = 6;
    const SweepSchedule s = schedule_sweep(m, work, fusable, gpu);
    // 16 fusable models in launches of 6, 6, 4; the 16 others on the streams.
    ASSERT_EQ(s.groups.size(), 4u);
    EXPECT_EQ(s.groups[0].models.size(), 6u);
    EXPECT_EQ(s.groups[2].models.size(), 4u);
    EXPECT_FALSE(s.groups[3].one_launch);
    EXPECT_EQ(s.groups[3].models.size(), 16u);
    for (int g = 0; g < 3; ++g) {
        EXPECT_TRUE(s.groups[std::size_t(g)].one_launch);
        for (int id : s.groups[std::size_t(g)].models) EXPECT_TRUE(fusable[std::size_t(id)]) << id;
    }
    // Longest first, so each launch's work is close to its longest model's.
    for (std::size_t g = 0; g + 1 < 3; ++g)
        EXPECT_GE(work[std::size_t(s.groups[g].models.back())], work[std::size_t(s.groups[g + 1].models.front())]);
    // Without a multi-model launch, the GPU's schedule is the CPU's order.
    gpu.models_per_launch = 0;
    EXPECT_EQ(schedule_sweep(m, work, fusable, gpu).groups.size(), 1u);
}

TEST(SweepSchedule, JobsAreCoresCappedByModels) {
    EXPECT_EQ(sweep_jobs(0, 100, false), std::max(1, int(std::thread::hardware_concurrency())));
    EXPECT_EQ(sweep_jobs(8, 3, false), 3);
    EXPECT_EQ(sweep_jobs(2, 10, false), 2);
    EXPECT_EQ(sweep_jobs(3, 10, true), 3);  // a GPU: streams, as asked
    EXPECT_EQ(sweep_jobs(0, 10, true), 4);  // a GPU's default: four streams
    EXPECT_EQ(sweep_jobs(0, 2, true), 2);
}

// ---- the runner -----------------------------------------------------------------------------

// The promise: each model of a concurrent sweep is bit for bit the model trained alone,
// for a grid of 32 models that differ in eta, lambda, m, sizes and seed, in float and double.
TEST(SweepRunner, EveryModelEqualsItselfTrainedAlone) {
    const Dataset tr = random_set(300, 64, 1), ev = random_set(100, 64, 2);
    for (DType dtype : {DType::f32, DType::f64}) {
        const std::vector<SweepModel> models = expand_grid(test_grid(), bptest::sweep_config(2), Init::scaled);
        SweepOptions o;
        o.where = {"cpu", dtype};
        o.jobs = 3;  // more workers than the two cores: threads interleave
        std::vector<SweepOutcome> out = run_sweep(tr, &ev, models, o);
        ASSERT_EQ(out.size(), models.size());
        for (const SweepModel& m : models) {
            const SweepOutcome& r = out[std::size_t(m.id)];
            ASSERT_EQ(r.status, SweepStatus::done) << m.id << ": " << r.error;
            EXPECT_EQ(r.epochs_done, 2);
            ASSERT_TRUE(r.session);
            EXPECT_TRUE(same_bits(r.session->network(), alone(m, tr, ev, dtype))) << "run " << m.id;
        }
    }
}

namespace {
// Two models whose products are >= 32 MFLOP, large enough for OpenBLAS to use its threads.
std::vector<SweepModel> big_product_models() {
    SweepGrid g;
    g.sizes = {{784, 100, 10}};
    g.batch = {256};
    g.eta = {0.5, 1.0};
    return expand_grid(g, bptest::sweep_config(2), Init::scaled);
}
}  // namespace

// Products of >= 32 MFLOP run on every BLAS thread alone and on one in a sweep: the same bits
// (OpenBLAS splits rows and columns between threads, never the sum).
TEST(SweepRunner, BigProductsEqualThemselvesAlone) {
    const Dataset tr = random_set(512, 784, 3), ev = random_set(64, 784, 4);
    const std::vector<SweepModel> models = big_product_models();
    SweepOptions o;
    o.where = {"cpu", DType::f32};
    o.jobs = 2;
    std::vector<SweepOutcome> out = run_sweep(tr, &ev, models, o);
    for (const SweepModel& m : models)
        EXPECT_TRUE(same_bits(out[std::size_t(m.id)].session->network(), alone(m, tr, ev, DType::f32))) << m.id;
}

// Where the CPU backend was set up for more BLAS threads before the sweep (its first product
// came earlier), it would raise the count mid-sweep and make concurrent models depend on
// timing: the sweep then trains one at a time and says so. Either way, each model equals itself.
TEST(SweepRunner, OneAtATimeAfterMultiThreadedCpuWork) {
    const Dataset tr = random_set(512, 784, 3), ev = random_set(64, 784, 4);
    const std::vector<SweepModel> models = big_product_models();
    const Network<double> first = alone(models[0], tr, ev, DType::f32);  // this process's first CPU products
    std::string notice;
    SweepCallbacks cb;
    cb.on_notice = [&](const std::string& why) { notice = why; };
    SweepOptions o;
    o.where = {"cpu", DType::f32};
    o.jobs = 2;
    std::vector<SweepOutcome> out = run_sweep(tr, &ev, models, o, cb);
    EXPECT_TRUE(same_bits(out[0].session->network(), first));
    EXPECT_TRUE(same_bits(out[1].session->network(), alone(models[1], tr, ev, DType::f32)));
    // Alone in its process (as ctest runs it) on a machine of several cores, the backend
    // started with more than one thread: the notice must have come.
    const bool fresh = ::testing::UnitTest::GetInstance()->test_to_run_count() == 1;
    if (fresh && std::getenv("OPENBLAS_NUM_THREADS") == nullptr && std::thread::hardware_concurrency() > 1)
        EXPECT_NE(notice.find("training one model at a time"), std::string::npos) << notice;
}

// A model that diverges is reported in its outcome; the others train on, unchanged.
TEST(SweepRunner, DivergenceStaysWithItsModel) {
    const Dataset tr = bptest::quadrants(300, 3), ev = bptest::quadrants(50, 4);
    SweepGrid g;
    g.sizes = {{2, 5, 4}};
    g.eta = {3.0, 3e38, 0.5};  // float: eta = 3e38 overflows in its first updates
    TrainConfig c = bptest::sweep_config(3);
    const std::vector<SweepModel> models = expand_grid(g, c, Init::gaussian);
    SweepOptions o;
    o.where = {"cpu", DType::f32};
    o.jobs = 2;
    std::atomic<int> ended{0};
    SweepCallbacks cb;
    cb.on_model_end = [&](const SweepModel&, const SweepOutcome&) { ++ended; };
    std::vector<SweepOutcome> out = run_sweep(tr, &ev, models, o, cb);
    EXPECT_EQ(ended, 3);
    EXPECT_EQ(out[1].status, SweepStatus::diverged);
    EXPECT_EQ(out[1].failed_epoch, 1);
    EXPECT_EQ(out[1].epochs_done, 0);
    EXPECT_NE(out[1].error.find("training diverged in epoch 1"), std::string::npos) << out[1].error;
    for (int i : {0, 2}) {
        EXPECT_EQ(out[std::size_t(i)].status, SweepStatus::done);
        EXPECT_TRUE(same_bits(out[std::size_t(i)].session->network(), alone(models[std::size_t(i)], tr, ev, DType::f32)));
    }
}

// Data a network of the grid cannot use (images of another size, labels beyond its outputs) is
// one error naming the network, before any model starts: not a fault in each of its rows.
TEST(SweepRunner, DataThatFitsNoModelOfANetworkIsRefusedBeforeAnyTrains) {
    const Dataset tr = bptest::quadrants(300, 3), ev = bptest::quadrants(50, 4);  // 2 inputs, labels 0..3
    SweepOptions o;
    o.where = {"cpu", DType::f32};
    for (const auto& [bad, needle] : {std::pair<std::vector<int>, std::string>{{3, 5, 4}, "images of 2 pixels"},
                                      {{2, 5, 3}, "label 3 is beyond"}}) {
        SweepGrid g;
        g.sizes = {{2, 5, 4}, bad};
        g.seeds = {1, 2};
        const std::vector<SweepModel> models = expand_grid(g, bptest::sweep_config(1), Init::gaussian);
        int started = 0;
        SweepCallbacks cb;
        cb.on_model_start = [&](const SweepModel&, const Session&) { ++started; };
        try {
            run_sweep(tr, &ev, models, o, cb);
            ADD_FAILURE() << "a sweep with the network " << sizes_to_string(bad) << " trained";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("for the network " + sizes_to_string(bad) + " (run 2)"),
                      std::string::npos)
                << e.what();
        }
        EXPECT_EQ(started, 0);
    }
}

// The stop flag: the running model stops after its current segment, none starts after it.
TEST(SweepRunner, StopFlagStopsTheRunningAndStartsNoMore) {
    const Dataset tr = random_set(300, 64, 1), ev = random_set(100, 64, 2);
    const std::vector<SweepModel> models = expand_grid(test_grid(), bptest::sweep_config(3), Init::scaled);
    std::atomic<bool> stop{false};
    SweepCallbacks cb;
    cb.stop = &stop;
    cb.on_epoch = [&](const SweepModel&, const EpochResult& r, const Session&) {
        if (r.epoch == 1) stop = true;
        return true;
    };
    SweepOptions o;
    o.where = {"cpu", DType::f32};
    o.jobs = 1;
    std::vector<SweepOutcome> out = run_sweep(tr, &ev, models, o, cb);
    int stopped = 0, pending = 0;
    for (const SweepOutcome& r : out) {
        if (r.status == SweepStatus::stopped) {
            ++stopped;
            EXPECT_EQ(r.epochs_done, 1);
            EXPECT_TRUE(r.session);
        }
        if (r.status == SweepStatus::pending) {
            ++pending;
            EXPECT_FALSE(r.session);  // never trained: no network to hand back
        }
    }
    EXPECT_EQ(stopped, 1);
    EXPECT_EQ(pending, int(models.size()) - 1);
}

// Callbacks never overlap, and a callback's exception ends the sweep and comes out of run_sweep.
TEST(SweepRunner, CallbacksOneAtATimeAndTheirErrorsEndTheSweep) {
    const Dataset tr = random_set(300, 64, 1), ev = random_set(100, 64, 2);
    const std::vector<SweepModel> models = expand_grid(test_grid(), bptest::sweep_config(2), Init::scaled);
    std::atomic<int> inside{0}, overlaps{0}, epochs{0};
    SweepCallbacks cb;
    auto enter = [&] {
        if (inside++ != 0) ++overlaps;
        std::this_thread::yield();
        --inside;
    };
    cb.on_batch = [&](const SweepModel&, const BatchProgress&) { enter(); };
    cb.on_epoch = [&](const SweepModel&, const EpochResult&, const Session&) { return enter(), ++epochs, true; };
    SweepOptions o;
    o.where = {"cpu", DType::f32};
    o.jobs = 3;
    run_sweep(tr, &ev, models, o, cb);
    EXPECT_EQ(overlaps, 0);
    EXPECT_EQ(epochs, 2 * int(models.size()));
    cb.on_epoch = [&](const SweepModel& m, const EpochResult&, const Session&) -> bool {
        if (m.id == 3) throw std::runtime_error("metrics file full");
        return true;
    };
    try {
        run_sweep(tr, &ev, models, o, cb);
        FAIL() << "a callback's error was swallowed";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "metrics file full");
    }
}

// Models resumed from their networks after some epochs end where the straight sweep ends.
TEST(SweepRunner, ResumedModelsEqualTheStraightSweep) {
    const Dataset tr = random_set(300, 64, 1), ev = random_set(100, 64, 2);
    const std::vector<SweepModel> four = expand_grid(test_grid(), bptest::sweep_config(4), Init::scaled);
    const std::vector<SweepModel> two = expand_grid(test_grid(), bptest::sweep_config(2), Init::scaled);
    SweepOptions o;
    o.where = {"cpu", DType::f32};
    o.jobs = 2;
    std::vector<SweepOutcome> straight = run_sweep(tr, &ev, four, o);
    std::vector<SweepOutcome> first = run_sweep(tr, &ev, two, o);
    std::vector<SweepStart> starts(four.size());
    for (std::size_t i = 0; i < four.size(); ++i) {
        starts[i].first_epoch = 2;
        starts[i].net = first[i].session->network();
    }
    starts[5].finished = true;  // nothing left to do for this one: it keeps its network
    std::vector<SweepOutcome> resumed = run_sweep(tr, &ev, four, o, {}, starts);
    for (std::size_t i = 0; i < four.size(); ++i) {
        EXPECT_EQ(resumed[i].status, SweepStatus::done);
        EXPECT_TRUE(same_bits(resumed[i].session->network(),
                              (i == 5 ? first : straight)[i].session->network()))
            << "run " << i;
    }
}
