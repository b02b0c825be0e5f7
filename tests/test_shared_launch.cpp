// Shared launches (src/fused/shared_launch.hpp) on the CPU: the fusing double runs a shared
// launch's blocks with the host driver of the very program the CUDA kernel runs, so what the
// GPU's sweep decides and does around the kernel is tested here: a launch of several models
// equals each launched alone; the launch refuses models that would race; the barrier launches
// when every seated model has handed in a segment and lets a model leave; and a sweep on a
// device with shared launches trains each model bit for bit as alone, keeps a divergence, an
// early stop and the stop flag to what they concern, and resumes as it would run straight.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>

#include "batchprop/batchprop.hpp"
#include "batchprop/sweep.hpp"
#include "doubles/fusing_backend.hpp"
#include "engine/session_access.hpp"
#include "engine/sweep_pool.hpp"
#include "fused/fused_plan.hpp"
#include "support/test_util.hpp"

using namespace batchprop;
using bptest::FusingCpuBackend;

namespace {

// ---- one launch, several models, at the device ------------------------------------------------

// What one model of a launch needs on the device (host memory here): its parameters, scratch,
// order and cursor, over shared images.
template <class T>
struct ModelOnDevice {
    ModelOnDevice(Backend<T>& be, const std::vector<int>& sizes, int m, int n, std::uint64_t seed,
                  std::size_t shared_limit = 232448)
        : layout(sizes),
          shape(plan_fused_step(layout, m, sizeof(T), shared_limit)),
          params(be, layout.n_params()),
          scratch(be, std::size_t(shape.scratch_elems)),
          order(be, std::size_t(n)),
          cursor(be, 1) {
        params.upload(bptest::random_vector<T>(layout.n_params(), seed, -0.5, 0.5));
        std::vector<int> o(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) o[std::size_t(i)] = int((std::uint64_t(i) * 7919 + seed) % std::uint64_t(n));
        order.upload(o);
        const int first = int(seed % 3);
        cursor.upload(&first, 1);
    }
    fused::ModelLaunch<T, std::uint8_t> launch(const DeviceData<T>& d, int steps, double eta) {
        fused::ModelLaunch<T, std::uint8_t> ml;
        ml.shape = shape;
        ml.args.params = params.data();
        ml.args.scratch = scratch.data();
        ml.args.scratch_elems = shape.scratch_elems;
        ml.args.images = d.pixels().data;
        ml.args.labels = d.labels();
        ml.args.order = order.data();
        ml.args.cursor = cursor.data();
        ml.args.steps = steps;
        ml.args.cost = Cost::cross_entropy;
        ml.args.alpha = T(-eta / shape.m);
        ml.args.decay = T(1.0 - eta * 0.5 / d.n);
        return ml;
    }
    ParamLayout layout;
    FusedShape shape;
    Buffer<T> params, scratch;
    Buffer<int> order, cursor;
};

template <class T>
void models_equal_alone() {
    const Dataset tr = bptest::random_dataset(200, 48, 6, 21, 22);
    for (bool reverse : {false, true}) {
        FusingCpuBackend<T> together(232448, reverse), alone(232448, reverse);
        const DeviceData<T> d_together(together, tr), d_alone(alone, tr);
        // Three models unlike each other: sizes, m, steps and eta differ.
        const std::vector<std::vector<int>> sizes{{48, 16, 6}, {48, 20, 9, 6}, {48, 6}};
        const std::vector<int> m{10, 3, 7}, steps{12, 30, 5};
        std::vector<std::unique_ptr<ModelOnDevice<T>>> a, b;
        std::vector<fused::ModelLaunch<T, std::uint8_t>> launches;
        for (std::size_t k = 0; k < sizes.size(); ++k) {
            a.push_back(std::make_unique<ModelOnDevice<T>>(together, sizes[k], m[k], tr.n, 5 + k));
            b.push_back(std::make_unique<ModelOnDevice<T>>(alone, sizes[k], m[k], tr.n, 5 + k));
            launches.push_back(a.back()->launch(d_together, steps[k], 0.5 + 0.25 * double(k)));
        }
        together.fused_train_models(launches.data(), int(launches.size()));
        EXPECT_EQ(together.shared_launches, 1);
        EXPECT_EQ(together.last_blocks, 3);
        for (std::size_t k = 0; k < sizes.size(); ++k) {
            const auto one = b[k]->launch(d_alone, steps[k], 0.5 + 0.25 * double(k));
            alone.fused_train_steps(one.shape, one.args);
            const std::vector<T> got = a[k]->params.to_host(), want = b[k]->params.to_host();
            ASSERT_EQ(got.size(), want.size());
            EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(T)), 0) << "model " << k;
            EXPECT_NE(got, bptest::random_vector<T>(got.size(), 5 + k, -0.5, 0.5)) << "model " << k << " never trained";
        }
    }
}

}  // namespace

TEST(SharedLaunchDevice, EachModelOfALaunchEqualsItsOwnLaunchInFloat) { models_equal_alone<float>(); }
TEST(SharedLaunchDevice, EachModelOfALaunchEqualsItsOwnLaunchInDouble) { models_equal_alone<double>(); }

// Blocks run at once on a GPU: two models writing the same parameters, scratch or cursor would
// race without a word. The launch refuses them, naming the pair, before anything runs.
TEST(SharedLaunchDevice, RefusesModelsThatWouldShareWhatTheyWrite) {
    const Dataset tr = bptest::random_dataset(100, 48, 6, 3, 4);
    FusingCpuBackend<float> be(1);  // nothing in shared memory: the scratch is global and must not overlap
    const DeviceData<float> d(be, tr);
    ModelOnDevice<float> x(be, {48, 12, 6}, 4, tr.n, 1, 1), y(be, {48, 12, 6}, 4, tr.n, 2, 1);
    ASSERT_FALSE(x.shape.scratch_shared);
    const auto refused = [&](fused::ModelLaunch<float, std::uint8_t> second) {
        std::vector<fused::ModelLaunch<float, std::uint8_t>> two{x.launch(d, 1, 0.5), second};
        try {
            be.fused_train_models(two.data(), 2);
            ADD_FAILURE() << "launched";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("models 0 and 1 share parameters, scratch or a cursor"),
                      std::string::npos)
                << e.what();
        }
    };
    auto same_params = y.launch(d, 1, 0.5);
    same_params.args.params = x.params.data() + 5;  // inside x's parameters
    refused(same_params);
    auto same_scratch = y.launch(d, 1, 0.5);
    same_scratch.args.scratch = x.scratch.data() + x.shape.scratch_elems - 1;  // x's last element
    refused(same_scratch);
    auto same_cursor = y.launch(d, 1, 0.5);
    same_cursor.args.cursor = x.cursor.data();
    refused(same_cursor);
    EXPECT_EQ(be.launches, 0);
    // Side by side, just touching, they launch.
    std::vector<fused::ModelLaunch<float, std::uint8_t>> two{x.launch(d, 1, 0.5), y.launch(d, 1, 0.5)};
    be.fused_train_models(two.data(), 2);
    EXPECT_EQ(be.shared_launches, 1);
}

// ---- the barrier ----------------------------------------------------------------------------

// Three seats: a launch waits for every seated model's segment, runs them in seat order whoever
// arrives last, and a model that leaves is no longer waited for.
TEST(SharedLaunchBarrier, LaunchesWhenEverySeatedModelIsReadyAndNotBefore) {
    const Dataset tr = bptest::random_dataset(120, 48, 6, 8, 9);
    std::vector<std::unique_ptr<FusingCpuBackend<float>>> be;
    std::vector<std::unique_ptr<DeviceData<float>>> data;
    std::vector<std::unique_ptr<ModelOnDevice<float>>> model;
    for (int k = 0; k < 3; ++k) {
        be.push_back(std::make_unique<FusingCpuBackend<float>>());
        data.push_back(std::make_unique<DeviceData<float>>(*be.back(), tr));
        model.push_back(std::make_unique<ModelOnDevice<float>>(*be.back(), std::vector<int>{48, 10, 6}, 5, tr.n, 3 + k));
    }
    SharedLaunch<float> share(3);
    for (int k = 0; k < 3; ++k) be[std::size_t(k)]->share_launches(&share, k);
    std::atomic<int> returned{0};
    auto segment = [&](int k) {
        const auto ml = model[std::size_t(k)]->launch(*data[std::size_t(k)], 2, 0.5);
        be[std::size_t(k)]->fused_train_steps(ml.shape, ml.args);
        ++returned;
    };
    std::thread t2([&] { segment(2); });
    std::thread t0([&] { segment(0); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(returned.load(), 0);  // seat 1 has handed in nothing yet
    EXPECT_EQ(share.launches(), 0);
    segment(1);  // the last: launches all three, on seat 0's device
    t0.join();
    t2.join();
    EXPECT_EQ(returned.load(), 3);
    EXPECT_EQ(share.launches(), 1);
    EXPECT_EQ(share.blocks(), 3);
    EXPECT_EQ(be[0]->shared_launches, 1);
    EXPECT_EQ(be[0]->last_blocks, 3);
    EXPECT_EQ(be[1]->launches + be[2]->launches, 0);
    // Seat 1 leaves while seat 0 waits: the launch goes ahead with seats 0 and 2.
    std::thread u0([&] { segment(0); });
    std::thread u2([&] { segment(2); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(share.launches(), 1);
    share.leave(1);
    u0.join();
    u2.join();
    EXPECT_EQ(share.launches(), 2);
    EXPECT_EQ(be[0]->last_blocks, 2);
    share.leave(1);  // again: nothing
    // Alone at the end: a seat's segment launches at once.
    share.leave(2);
    segment(0);
    EXPECT_EQ(share.launches(), 3);
    EXPECT_EQ(be[0]->last_blocks, 1);
    for (auto& b : be) b->share_launches(nullptr, 0);
}

// A launch that fails fails in every model it held, and the barrier goes on for the next.
TEST(SharedLaunchBarrier, AFailedLaunchFailsInEveryModelOfIt) {
    const Dataset tr = bptest::random_dataset(120, 48, 6, 8, 9);
    FusingCpuBackend<float> a, b;
    const DeviceData<float> da(a, tr), db(b, tr);
    ModelOnDevice<float> x(a, {48, 10, 6}, 5, tr.n, 1), y(b, {48, 10, 6}, 5, tr.n, 2);
    SharedLaunch<float> share(2);
    a.share_launches(&share, 0);
    b.share_launches(&share, 1);
    auto bad = y.launch(db, 1, 0.5);
    bad.args.cursor = x.cursor.data();  // the launch refuses the pair
    std::string error_a, error_b;
    std::thread t([&] {
        try {
            const auto ml = x.launch(da, 1, 0.5);
            a.fused_train_steps(ml.shape, ml.args);
        } catch (const Error& e) {
            error_a = e.what();
        }
    });
    try {
        b.fused_train_steps(bad.shape, bad.args);
    } catch (const Error& e) {
        error_b = e.what();
    }
    t.join();
    EXPECT_NE(error_a.find("share parameters, scratch or a cursor"), std::string::npos) << error_a;
    EXPECT_EQ(error_a, error_b);
    EXPECT_EQ(share.launches(), 1);
    EXPECT_EQ(a.launches + b.launches, 0);
    a.share_launches(nullptr, 0);
    b.share_launches(nullptr, 0);
}

// A trainer on a device whose launches are shared runs the one-block step, even where clusters
// are asked for and the device has them: a cluster launch is not shared.
TEST(SharedLaunchBarrier, ASharedDeviceRunsTheOneBlockStep) {
    const Dataset tr = bptest::random_dataset(120, 48, 6, 8, 9);
    ASSERT_EQ(setenv("BATCHPROP_FUSED_CLUSTER", "2", 1), 0);
    for (bool shared : {false, true}) {
        FusingCpuBackend<float> be(232448, false, 4);
        SharedLaunch<float> share(1);
        if (shared) be.share_launches(&share, 0);
        const DeviceData<float> d(be, tr);
        Trainer<float> trainer(be, ParamLayout({48, 10, 6}), d, nullptr, bptest::config(1, 10));
        trainer.backprop().set_params(bptest::random_vector<float>(ParamLayout({48, 10, 6}).n_params(), 4));
        trainer.run();
        EXPECT_EQ(be.cluster_launches, shared ? 0 : 1) << shared;
        EXPECT_EQ(be.shared_launches, shared ? 1 : 0) << shared;
        be.share_launches(nullptr, 0);
    }
    ASSERT_EQ(unsetenv("BATCHPROP_FUSED_CLUSTER"), 0);
}

// ---- a sweep on a device with shared launches ---------------------------------------------------

namespace {

Dataset random_set(int n, std::uint64_t seed) { return bptest::random_dataset(n, 64, 5, seed, seed + 1000); }

Network<double> initial(const SweepModel& m) {
    Network<double> net(m.sizes);
    net.init(m.init, m.config.seed);  // as Session::create
    return net;
}

// A sweep's devices: each model's session over a fusing double of its own, as each of a GPU's
// models has a backend of its own.
template <class T>
struct FusingDevices {
    int parallel_blocks = 4;
    bool reverse = false;
    int max_cluster = 0;
    std::vector<FusingCpuBackend<T>*> made;

    SessionOpener opener() {
        return [this](const SweepModel& m) {
            auto be = std::make_unique<FusingCpuBackend<T>>(232448, reverse, max_cluster);
            be->parallel_blocks = parallel_blocks;
            made.push_back(be.get());
            return SessionAccess::over<T>(std::move(be), initial(m), m.config.cost);
        };
    }
    long long shared_blocks() const {
        long long b = 0;
        for (const auto* d : made) b += d->shared_blocks;
        return b;
    }
    int last_blocks() const {  // of the last shared launch made (the devices' launches in turn)
        int most_launches = 0, last = 0;
        for (const auto* d : made)
            if (d->shared_launches > most_launches) most_launches = d->shared_launches, last = d->last_blocks;
        return last;
    }
};

// The model trained alone on a device of its own, as `batchprop train` trains it there.
template <class T>
Network<double> alone(const SweepModel& m, const Dataset& tr, const Dataset& ev, int max_cluster = 0) {
    Session s = SessionAccess::over<T>(std::make_unique<FusingCpuBackend<T>>(232448, false, max_cluster), initial(m),
                                       m.config.cost);
    s.train(tr, &ev, m.config);
    return s.network();
}

using bptest::same_bits;

template <class T>
SweepOptions options(int jobs = 2) {
    SweepOptions o;
    o.where.dtype = bptest::dtype_of<T>();
    o.jobs = jobs;
    return o;
}

// The segments of one epoch of n examples at m in a fused run: the blocks a model adds to the
// launches per epoch.
int fused_segments(int n, int m) { return int(plan_epoch(n, m, fused_segment_steps(m)).size()); }

template <class T>
void every_model_equals_itself_alone(bool reverse) {
    const Dataset tr = random_set(300, 1), ev = random_set(100, 2);
    SweepGrid g;
    g.sizes = {{64, 16, 5}, {64, 24, 12, 5}};
    g.eta = {0.5, 3.0};
    g.lambda = {0.0, 5.0};
    g.batch = {7, 10, 33};  // 33: wider than the one-block step takes alone: not shared
    g.seeds = {1, 9};
    const std::vector<SweepModel> models = expand_grid(g, bptest::sweep_config(2), Init::scaled);
    FusingDevices<T> devices;
    devices.reverse = reverse;
    std::string notice;
    SweepCallbacks cb;
    cb.on_notice = [&](const std::string& why) { notice = why; };
    std::vector<SweepOutcome> out = run_sweep_on(tr, &ev, models, options<T>(), cb, {}, devices.opener());
    EXPECT_EQ(notice,
              "32 of the 48 models share fused launches, up to 4 a launch (a block each); the other 16 (another "
              "launch or step alone) train 2 at a time after them");
    long long blocks = 0;
    for (const SweepModel& m : models) {
        const SweepOutcome& r = out[std::size_t(m.id)];
        ASSERT_EQ(r.status, SweepStatus::done) << m.id << ": " << r.error;
        EXPECT_EQ(r.epochs_done, 2);
        EXPECT_TRUE(same_bits(r.session->network(), alone<T>(m, tr, ev))) << "run " << m.id;
        if (m.config.batch <= kFusedAutoMaxBatch) blocks += 2 * fused_segments(tr.n, m.config.batch);
    }
    // Every fused model's every segment ran in a shared launch; the others in none.
    EXPECT_EQ(devices.shared_blocks(), blocks);
    EXPECT_GT(blocks, 0);
    // The sessions handed back launch alone again.
    for (const auto* d : devices.made) EXPECT_FALSE(d->launches_shared());
}

}  // namespace

// The promise on a device with shared launches: 48 models that differ in eta, lambda,
// m, sizes and seed, 32 of them in launches of four, each bit for bit the model trained alone.
TEST(SharedSweep, EveryModelEqualsItselfAloneInFloat) { every_model_equals_itself_alone<float>(false); }
TEST(SharedSweep, EveryModelEqualsItselfAloneInDouble) { every_model_equals_itself_alone<double>(true); }

// Only models that would run the one-block step alone share a launch: not those asked for
// another launch, nor those that would run the cluster step alone. Each equals itself alone.
TEST(SharedSweep, OnlyModelsThatRunTheOneBlockStepAloneShare) {
    const Dataset tr = random_set(200, 3), ev = random_set(50, 4);
    SweepGrid g;
    g.sizes = {{64, 16, 5}};
    g.seeds = {1, 2, 3};
    TrainConfig graph = bptest::sweep_config(1);
    graph.launch = Launch::graph;  // eager on the double, as alone
    const std::vector<SweepModel> models = expand_grid(g, graph, Init::scaled);
    FusingDevices<float> devices;
    std::vector<SweepOutcome> out = run_sweep_on(tr, &ev, models, options<float>(), {}, {}, devices.opener());
    EXPECT_EQ(devices.shared_blocks(), 0);
    for (const SweepModel& m : models) EXPECT_TRUE(same_bits(out[std::size_t(m.id)].session->network(), alone<float>(m, tr, ev)));

    // Clusters asked for, on a device that has them: alone each would run the cluster step.
    const std::vector<SweepModel> fused = expand_grid(g, bptest::sweep_config(1), Init::scaled);
    ASSERT_EQ(setenv("BATCHPROP_FUSED_CLUSTER", "2", 1), 0);
    FusingDevices<float> clustered;
    clustered.max_cluster = 4;
    out = run_sweep_on(tr, &ev, fused, options<float>(), {}, {}, clustered.opener());
    EXPECT_EQ(clustered.shared_blocks(), 0);
    for (const SweepModel& m : fused) {
        EXPECT_TRUE(same_bits(out[std::size_t(m.id)].session->network(), alone<float>(m, tr, ev, 4)));
        EXPECT_GT(clustered.made[std::size_t(m.id)]->cluster_launches, 0);
    }
    ASSERT_EQ(unsetenv("BATCHPROP_FUSED_CLUSTER"), 0);
    FusingDevices<float> shared;
    out = run_sweep_on(tr, &ev, fused, options<float>(), {}, {}, shared.opener());
    EXPECT_EQ(shared.shared_blocks(), 3 * fused_segments(tr.n, 10));
}

// A model that diverges leaves its launch; the others go on in launches without it, unchanged.
// One that stops early (its on_epoch said so) leaves the same way.
TEST(SharedSweep, DivergenceAndEarlyStopLeaveTheLaunchToTheOthers) {
    const Dataset tr = bptest::quadrants(300, 3), ev = bptest::quadrants(50, 4);
    SweepGrid g;
    g.sizes = {{2, 5, 4}};
    g.eta = {3.0, 3e38, 0.5};  // float: eta = 3e38 overflows in its first updates
    g.seeds = {1, 2};
    TrainConfig c = bptest::sweep_config(3);
    c.segment_steps = 7;  // 30 steps an epoch: five segments, five launches
    const std::vector<SweepModel> models = expand_grid(g, c, Init::gaussian);
    FusingDevices<float> devices;
    devices.parallel_blocks = 8;  // one launch for all six
    SweepCallbacks cb;
    cb.on_epoch = [](const SweepModel& m, const EpochResult& r, const Session&) { return !(m.id == 5 && r.epoch == 1); };
    std::vector<SweepOutcome> out = run_sweep_on(tr, &ev, models, options<float>(), cb, {}, devices.opener());
    for (int i : {2, 3}) {
        EXPECT_EQ(out[std::size_t(i)].status, SweepStatus::diverged) << i;
        EXPECT_EQ(out[std::size_t(i)].failed_epoch, 1);
        EXPECT_EQ(out[std::size_t(i)].epochs_done, 0);
    }
    EXPECT_EQ(out[5].status, SweepStatus::done);
    EXPECT_EQ(out[5].epochs_done, 1);
    SweepModel five = models[5];
    five.config.epochs = 1;  // what it trained before its on_epoch said stop
    EXPECT_TRUE(same_bits(out[5].session->network(), alone<float>(five, tr, ev)));
    for (int i : {0, 1, 4}) {
        EXPECT_EQ(out[std::size_t(i)].status, SweepStatus::done) << i;
        EXPECT_TRUE(same_bits(out[std::size_t(i)].session->network(), alone<float>(models[std::size_t(i)], tr, ev))) << i;
    }
    // Epoch 1: 6 models x 5 segments; then the three that went on, 2 epochs x 5 segments.
    EXPECT_EQ(devices.shared_blocks(), 6 * 5 + 3 * 2 * 5);
    EXPECT_EQ(devices.last_blocks(), 3);
}

// The stop flag: every model of the running launch stops after its current segment (none waits
// for another in vain), the models of later launches never start.
TEST(SharedSweep, StopFlagStopsTheLaunchAndStartsNoMore) {
    const Dataset tr = random_set(300, 1), ev = random_set(100, 2);
    SweepGrid g;
    g.sizes = {{64, 16, 5}};
    g.seeds = {1, 2, 3, 4, 5, 6};
    TrainConfig c = bptest::sweep_config(3);
    c.segment_steps = 7;  // five segments an epoch: a model one segment into epoch 2 stops there
    const std::vector<SweepModel> models = expand_grid(g, c, Init::scaled);
    FusingDevices<float> devices;  // launches of four: two groups
    std::atomic<bool> stop{false};
    SweepCallbacks cb;
    cb.stop = &stop;
    cb.on_epoch = [&](const SweepModel&, const EpochResult& r, const Session&) {
        if (r.epoch == 1) stop = true;
        return true;
    };
    std::vector<SweepOutcome> out = run_sweep_on(tr, &ev, models, options<float>(), cb, {}, devices.opener());
    int stopped = 0, pending = 0;
    for (const SweepOutcome& r : out) {
        if (r.status == SweepStatus::stopped) {
            ++stopped;
            EXPECT_EQ(r.epochs_done, 1);
        }
        if (r.status == SweepStatus::pending) ++pending;
    }
    EXPECT_EQ(stopped, 4);
    EXPECT_EQ(pending, 2);
}

// Resumed from their networks after two epochs, a shared sweep's models end where the straight
// shared sweep ends.
TEST(SharedSweep, ResumedModelsEqualTheStraightSweep) {
    const Dataset tr = random_set(300, 1), ev = random_set(100, 2);
    SweepGrid g;
    g.sizes = {{64, 16, 5}};
    g.batch = {7, 10};
    g.seeds = {1, 2, 3};
    const std::vector<SweepModel> four = expand_grid(g, bptest::sweep_config(4), Init::scaled);
    const std::vector<SweepModel> two = expand_grid(g, bptest::sweep_config(2), Init::scaled);
    FusingDevices<float> a, b, c;
    std::vector<SweepOutcome> straight = run_sweep_on(tr, &ev, four, options<float>(), {}, {}, a.opener());
    std::vector<SweepOutcome> first = run_sweep_on(tr, &ev, two, options<float>(), {}, {}, b.opener());
    std::vector<SweepStart> starts(four.size());
    for (std::size_t i = 0; i < four.size(); ++i) {
        starts[i].first_epoch = 2;
        starts[i].net = first[i].session->network();
    }
    std::vector<SweepOutcome> resumed = run_sweep_on(tr, &ev, four, options<float>(), {}, starts, c.opener());
    EXPECT_GT(c.shared_blocks(), 0);
    for (std::size_t i = 0; i < four.size(); ++i) {
        EXPECT_EQ(resumed[i].status, SweepStatus::done);
        EXPECT_TRUE(same_bits(resumed[i].session->network(), straight[i].session->network())) << "run " << i;
    }

    // Models of one launch resumed at different epochs (0, 1 or 2 done; a sweep stopped while
    // models of different m were at different epochs): each goes on from its own.
    const std::vector<SweepModel> one = expand_grid(g, bptest::sweep_config(1), Init::scaled);
    FusingDevices<float> d, e;
    std::vector<SweepOutcome> after_one = run_sweep_on(tr, &ev, one, options<float>(), {}, {}, d.opener());
    std::vector<SweepStart> mixed(four.size());
    for (std::size_t i = 0; i < four.size(); ++i) {
        mixed[i].first_epoch = int(i % 3);
        if (i % 3 == 1) mixed[i].net = after_one[i].session->network();
        if (i % 3 == 2) mixed[i].net = first[i].session->network();
    }
    std::vector<SweepOutcome> uneven = run_sweep_on(tr, &ev, four, options<float>(), {}, mixed, e.opener());
    EXPECT_GT(e.shared_blocks(), 0);
    for (std::size_t i = 0; i < four.size(); ++i) {
        EXPECT_EQ(uneven[i].status, SweepStatus::done);
        EXPECT_TRUE(same_bits(uneven[i].session->network(), straight[i].session->network())) << "run " << i;
    }
}
