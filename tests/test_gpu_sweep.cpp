// A sweep on the GPU (issue 23): the models that would run the one-block fused step alone share
// launches, a block each (src/fused/shared_launch.hpp), and every model ends bit for bit where
// the same model trained alone on the GPU ends; a divergence stays with its model; the caller's
// data sets come back as they were, and the sessions handed back evaluate as the alone ones do.
// tests/test_shared_launch.cpp tests the same machinery on the CPU's fusing double; this runs
// the CUDA kernel. Skips without a GPU.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "batchprop/batchprop.hpp"
#include "batchprop/sweep.hpp"
#include "engine/sweep_pool.hpp"
#include "fused/fused_device.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

using bptest::dtype_of;

Dataset random_set(int n, std::uint64_t seed) { return bptest::random_dataset(n, 784, 10, seed, seed + 1000); }

// A fresh session of model m on the GPU, as run_sweep and `batchprop train --device cuda` make it.
template <class T>
Session gpu_session(const SweepModel& m) {
    Session s = Session::create(m.sizes, m.config.cost, m.init, m.config.seed, {"cuda", dtype_of<T>()});
    s.set_cost(m.config.cost);
    return s;
}

// The model trained alone on the GPU, and the launch it ran with there (TrainStart::launch).
struct Alone {
    Network<double> net;
    Launch launch = Launch::eager;
};
template <class T>
Alone alone(const SweepModel& m, const Dataset& tr, const Dataset& ev) {
    Session s = gpu_session<T>(m);
    Launch launch = Launch::eager;
    TrainCallbacks cb;
    cb.on_start = [&](const TrainStart& st) { launch = st.launch; };
    s.train(tr, &ev, m.config, cb);
    return {s.network(), launch};
}

using bptest::same_bits;

// A sweep on the GPU as run_sweep runs it (Session::create on cuda), that also remembers each
// model's fused device: there is no public counter of shared launches, but a device seated at
// one says so (launches_shared) while its model trains, i.e. in the model's on_epoch.
template <class T>
struct GpuSweep {
    std::vector<FusedDevice<T>*> device;  // by run id
    std::vector<int> shared_epochs;       // by run id: epochs at whose end its device was seated

    std::vector<SweepOutcome> run(const Dataset& tr, const Dataset* ev, const std::vector<SweepModel>& models) {
        device.assign(models.size(), nullptr);
        shared_epochs.assign(models.size(), 0);
        SweepOptions o;
        o.where = {"cuda", dtype_of<T>()};
        const SessionOpener opener = [&](const SweepModel& m) {
            Session s = gpu_session<T>(m);
            device[std::size_t(m.id)] = dynamic_cast<FusedDevice<T>*>(&s.memory());
            return s;
        };
        SweepCallbacks cb;
        cb.on_epoch = [&](const SweepModel& m, const EpochResult&, const Session&) {
            FusedDevice<T>* const d = device[std::size_t(m.id)];
            if (d && d->launches_shared()) ++shared_epochs[std::size_t(m.id)];
            return true;
        };
        return run_sweep_on(tr, ev, models, o, cb, {}, opener);
    }
};

// 16 models that differ in sizes, eta, lambda and m, and one at m = 33: alone it does not run
// the one-block step (auto's choice only up to m = 12), so it shares no launch and trains on a
// stream of its own after the shared launches.
std::vector<SweepModel> mixed_models(int epochs) {
    SweepGrid g;
    g.sizes = {{784, 30, 10}, {784, 20, 12, 10}};
    g.eta = {0.5, 3.0};
    g.lambda = {0.0, 5.0};
    g.batch = {7, 10};
    std::vector<SweepModel> models = expand_grid(g, bptest::sweep_config(epochs), Init::scaled);
    SweepModel wide = models[1];  // 784,30,10, eta 0.5, lambda 0, m 10
    wide.id = int(models.size());
    wide.setting = models.back().setting + 1;
    wide.config.batch = 33;
    models.push_back(wide);
    return models;
}

template <class T>
void every_model_equals_itself_alone() {
    const Dataset tr = random_set(500, 1), ev = random_set(150, 2);
    const std::vector<SweepModel> models = mixed_models(2);
    GpuSweep<T> sweep;
    const std::vector<SweepOutcome> out = sweep.run(tr, &ev, models);
    ASSERT_EQ(out.size(), models.size());
    int shared = 0;
    for (const SweepModel& m : models) {
        SCOPED_TRACE("run " + std::to_string(m.id) + ": " + sizes_to_string(m.sizes) + " eta " +
                     std::to_string(m.config.eta) + " lambda " + std::to_string(m.config.lambda) + " m " +
                     std::to_string(m.config.batch));
        const SweepOutcome& r = out[std::size_t(m.id)];
        ASSERT_EQ(r.status, SweepStatus::done) << r.error;
        EXPECT_EQ(r.epochs_done, 2);
        const Alone a = alone<T>(m, tr, ev);
        EXPECT_TRUE(same_bits(r.session->network(), a.net));
        // Shared exactly when alone it runs the one-block fused step, in every epoch.
        const bool fused = a.launch == Launch::fused;
        EXPECT_EQ(sweep.shared_epochs[std::size_t(m.id)], fused ? 2 : 0) << "alone: " << to_string(a.launch);
        shared += fused ? 1 : 0;
        // The case: [784,30,10] at m <= 12 in float is fused alone, so it shares.
        if (sizeof(T) == 4 && m.sizes == std::vector<int>{784, 30, 10} && m.config.batch <= 12) EXPECT_TRUE(fused);
        if (m.config.batch == 33) EXPECT_FALSE(fused);
    }
    EXPECT_GE(shared, 2) << "no launch was shared: the test would prove nothing about shared launches";
}

}  // namespace

// The promise on the GPU: each model of a sweep bit for bit the model trained alone with
// the same settings on the same device, whether its segments ran in a shared launch or not.
TEST(GpuSweep, EveryModelEqualsItselfAloneInFloat) {
    REQUIRE_GPU();
    every_model_equals_itself_alone<float>();
}

TEST(GpuSweep, EveryModelEqualsItselfAloneInDouble) {
    REQUIRE_GPU();
    every_model_equals_itself_alone<double>();
}

// Two models whose parameters overflow in their first epoch (float, eta = 3e38) are reported
// diverged and leave their launch; the four others go on sharing it, each equal to itself alone.
TEST(GpuSweep, DivergenceStaysWithItsModel) {
    REQUIRE_GPU();
    const Dataset tr = random_set(400, 3), ev = random_set(100, 4);
    SweepGrid g;
    g.sizes = {{784, 30, 10}};
    g.eta = {3.0, 3e38, 0.5};
    g.seeds = {1, 2};
    const std::vector<SweepModel> models = expand_grid(g, bptest::sweep_config(2), Init::scaled);
    GpuSweep<float> sweep;
    const std::vector<SweepOutcome> out = sweep.run(tr, &ev, models);
    for (int i : {2, 3}) {
        const SweepOutcome& r = out[std::size_t(i)];
        EXPECT_EQ(r.status, SweepStatus::diverged) << i << ": " << to_string(r.status) << " " << r.error;
        EXPECT_EQ(r.failed_epoch, 1) << i;
        EXPECT_EQ(r.epochs_done, 0) << i;
        EXPECT_NE(r.error.find("training diverged in epoch 1"), std::string::npos) << r.error;
    }
    for (int i : {0, 1, 4, 5}) {
        const SweepOutcome& r = out[std::size_t(i)];
        ASSERT_EQ(r.status, SweepStatus::done) << i << ": " << r.error;
        EXPECT_TRUE(same_bits(r.session->network(), alone<float>(models[std::size_t(i)], tr, ev).net)) << "run " << i;
        EXPECT_EQ(sweep.shared_epochs[std::size_t(i)], 2) << "run " << i << " did not share its launches";
    }
}

// The sweep puts one copy of the data on the GPU for every model and drops it at the end: the
// caller's data sets are unchanged, and the sessions handed back, which no longer hold that
// copy, evaluate exactly as the alone ones do (on the evaluation set and the training set).
TEST(GpuSweep, DataSetsUnchangedAndSessionsEvaluateAsAlone) {
    REQUIRE_GPU();
    const Dataset tr = random_set(300, 5), ev = random_set(120, 6);
    const Dataset tr_before = tr, ev_before = ev;
    SweepGrid g;
    g.sizes = {{784, 30, 10}};
    g.eta = {0.5, 3.0};
    g.batch = {10, 33};  // shared launches and a model on a stream of its own both read the copy
    const std::vector<SweepModel> models = expand_grid(g, bptest::sweep_config(1), Init::scaled);
    GpuSweep<float> sweep;
    std::vector<SweepOutcome> out = sweep.run(tr, &ev, models);
    for (const auto& [got, want] : {std::make_pair(&tr, &tr_before), std::make_pair(&ev, &ev_before)}) {
        EXPECT_EQ(got->n, want->n);
        EXPECT_EQ(got->n_inputs, want->n_inputs);
        EXPECT_TRUE(got->pixels == want->pixels) << "the sweep changed the caller's images";
        EXPECT_EQ(got->labels, want->labels);
        EXPECT_EQ(got->image_data(), static_cast<const void*>(got->pixels.data()));
    }
    for (const SweepModel& m : models) {
        SweepOutcome& r = out[std::size_t(m.id)];
        ASSERT_EQ(r.status, SweepStatus::done) << m.id << ": " << r.error;
        Session s = gpu_session<float>(m);
        s.train(tr, &ev, m.config);
        for (const Dataset* d : {&ev, &tr}) {
            const Evaluation got = r.session->evaluate(*d), want = s.evaluate(*d);
            EXPECT_EQ(got.correct, want.correct) << "run " << m.id << " on " << d->n << " examples";
            EXPECT_EQ(got.total, d->n);
            EXPECT_EQ(std::memcmp(&got.cost, &want.cost, sizeof(double)), 0)
                << "run " << m.id << ": cost " << got.cost << " vs " << want.cost;
        }
    }
    EXPECT_GT(sweep.shared_epochs[0], 0);
}
