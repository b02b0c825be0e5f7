// End-to-end training on the CPU: learning happens, seeds behave, float agrees with double,
// partial batches and configuration errors are handled.
#include <gtest/gtest.h>

#include <atomic>

#include "batchprop/trainer.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

using bptest::TrainRun;

// network.py's N(0, 1) initialisation unless init says otherwise, on the CPU.
template <class T>
TrainRun<T> train(const Dataset& tr, const Dataset& ev, std::vector<int> sizes, TrainConfig cfg,
                  std::uint64_t init_seed, Init init = Init::gaussian) {
    return bptest::run_training<T>(tr, ev, sizes, cfg, init_seed, nullptr, nullptr, init);
}

TrainConfig small_config() {
    TrainConfig c;
    c.epochs = 30;
    c.batch = 10;
    c.eta = 3.0;
    c.cost = Cost::cross_entropy;
    c.seed = 1;
    return c;
}

// A problem that needs the hidden layer: the cost falls and accuracy passes 90%
// (chance is 25%).
TEST(Training, LearnsQuadrants) {
    const Dataset tr = bptest::quadrants(2000, 1), ev = bptest::quadrants(500, 2);
    for (Mode mode : {Mode::matrix, Mode::per_example}) {
        TrainConfig c = small_config();
        c.mode = mode;
        const TrainRun<double> r = train<double>(tr, ev, {2, 16, 4}, c, 5);
        ASSERT_EQ(r.evals.size(), 30u);
        EXPECT_LT(r.evals.back().cost, 0.6 * r.evals.front().cost);
        EXPECT_GT(r.evals.back().accuracy(), 0.90) << "mode " << int(mode);
    }
}

TEST(Training, SameSeedSameParametersDifferentSeedDifferent) {
    const Dataset tr = bptest::quadrants(300, 3), ev = bptest::quadrants(50, 4);
    TrainConfig c = small_config();
    c.epochs = 2;
    c.batch = 7;  // 300 = 42 * 7 + 6: a partial last batch
    const TrainRun<float> a = train<float>(tr, ev, {2, 5, 4}, c, 9);
    const TrainRun<float> b = train<float>(tr, ev, {2, 5, 4}, c, 9);
    EXPECT_EQ(a.params, b.params);  // bitwise
    TrainConfig c2 = c;
    c2.seed = 2;  // another shuffle order, same initial parameters
    EXPECT_NE(a.params, train<float>(tr, ev, {2, 5, 4}, c2, 9).params);
    EXPECT_NE(a.params, train<float>(tr, ev, {2, 5, 4}, c, 10).params);  // another init
}

// float and double follow the same trajectory: after two epochs the parameters differ by
// rounding only (stated tolerance: 1e-3 relative, normwise).
TEST(Training, FloatAgreesWithDouble) {
    const Dataset tr = bptest::quadrants(500, 5), ev = bptest::quadrants(100, 6);
    TrainConfig c = small_config();
    c.epochs = 2;
    c.eta = 0.5;
    c.cost = Cost::quadratic;
    const TrainRun<float> f = train<float>(tr, ev, {2, 8, 4}, c, 3, Init::scaled);
    const TrainRun<double> d = train<double>(tr, ev, {2, 8, 4}, c, 3, Init::scaled);
    EXPECT_TRUE(bptest::close_normwise(f.params, d.params, 1e-3));
    EXPECT_EQ(f.evals.back().correct, d.evals.back().correct);
}

// The last partial batch is used: with n = 11 and m = 10, training without shuffling equals
// two explicit steps, the second with m = 1.
TEST(Training, PartialLastBatchIsUsedAndAveragedByItsSize) {
    const Dataset tr = bptest::quadrants(11, 7);
    TrainConfig c = small_config();
    c.epochs = 1;
    c.shuffle = false;
    c.lambda = 0.5;
    const TrainRun<double> r = train<double>(tr, tr, {2, 3, 4}, c, 4);

    auto be = make_cpu_backend<double>();
    Network<double> net({2, 3, 4});
    net.init(Init::gaussian, 4);
    Backprop<double> bp(*be, net.layout(), 10);
    bp.set_params(net.params());
    Buffer<double> x(*be, 20), y(*be, 40);
    auto load = [&](int first, int m) {
        const bptest::HostBatch<double> b = bptest::host_batch<double>(tr, first, m, 4);
        x.upload(b.x);
        y.upload(b.y);
        return std::pair{ConstView<double>(x.data(), 2, m), ConstView<double>(y.data(), 4, m)};
    };
    for (auto [first, m] : {std::pair{0, 10}, std::pair{10, 1}}) {
        const auto [xv, yv] = load(first, m);
        bp.backprop(xv, yv, Mode::matrix, c.cost);
        bp.update(c.eta, c.lambda, 11, m);
    }
    // The trainer's matrix-mode step folds the update into the products (train_step): equal up to rounding order.
    EXPECT_TRUE(bptest::close_normwise(r.params, bp.params(), 1e-13));
    // ... and dropping the partial batch would be visibly different.
    Backprop<double> dropped(*be, net.layout(), 10);
    dropped.set_params(net.params());
    const auto [x10, y10] = load(0, 10);
    dropped.backprop(x10, y10, Mode::matrix, c.cost);
    dropped.update(c.eta, c.lambda, 11, 10);
    EXPECT_FALSE(bptest::close_normwise(r.params, dropped.params(), 1e-6));
}

// The stop flag ends the epoch after the current mini-batch; the epoch's rate counts only
// the examples trained on, and no further epoch starts.
TEST(Training, StopFlagEndsTheEpochAfterTheCurrentBatch) {
    const Dataset tr = bptest::quadrants(200, 3);
    TrainConfig c = small_config();
    c.epochs = 5;
    auto be = make_cpu_backend<double>();
    Network<double> net({2, 5, 4});
    net.init(Init::gaussian, 9);
    DeviceData<double> d(*be, tr);
    Trainer<double> trainer(*be, net.layout(), d, &d, c);
    trainer.backprop().set_params(net.params());
    std::atomic<bool> stop{false};
    std::vector<EpochResult> epochs;
    TrainCallbacks cb;
    cb.stop = &stop;
    cb.on_batch = [&](const BatchProgress& p) {
        if (p.epoch == 2 && p.examples_done == 3 * c.batch) stop = true;
    };
    cb.on_epoch = [&](const EpochResult& r) {
        epochs.push_back(r);
        return true;
    };
    EXPECT_EQ(trainer.run(cb), 2);
    ASSERT_EQ(epochs.size(), 2u);
    EXPECT_EQ(epochs[0].examples, 200);
    EXPECT_EQ(epochs[1].examples, 3 * c.batch);
    EXPECT_NEAR(epochs[1].examples_per_second * epochs[1].train_seconds, 3.0 * c.batch, 1e-6);
    ASSERT_TRUE(epochs[1].evaluation.has_value());  // the stopped epoch is still evaluated
}

// SGD that overflows to infinity and then NaN stops at the end of that epoch with one clear
// error instead of evaluating (and reporting) a network of NaNs for the epochs left.
TEST(Training, DivergenceStopsWithAnError) {
    const Dataset tr = bptest::quadrants(300, 3), ev = bptest::quadrants(50, 4);
    TrainConfig c = small_config();
    c.epochs = 5;
    c.eta = 3e38;  // float: the first updates overflow
    int epochs_reported = 0;
    auto be = make_cpu_backend<float>();
    Network<float> net({2, 5, 4});
    net.init(Init::gaussian, 9);
    DeviceData<float> dtr(*be, tr), dev(*be, ev);
    Trainer<float> trainer(*be, net.layout(), dtr, &dev, c);
    trainer.backprop().set_params(net.params());
    TrainCallbacks cb;
    cb.on_epoch = [&](const EpochResult&) { return ++epochs_reported, true; };
    try {
        trainer.run(cb);
        FAIL() << "training with eta = 3e38 did not diverge";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("training diverged in epoch 1: the parameters are no longer all finite"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(epochs_reported, 0);
    // A healthy run is not stopped.
    c.eta = 3.0;
    EXPECT_EQ(train<float>(tr, ev, {2, 5, 4}, c, 9).evals.size(), 5u);
}

// A stop that arrives while an epoch is evaluated or reported (a signal during the
// evaluation, or during on_epoch's checkpoint write) ends the run after that epoch: not one
// mini-batch of the next is trained, and the parameters are the epoch's.
TEST(Training, AStopDuringTheEpochsReportEndsTheRunThere) {
    const Dataset tr = bptest::quadrants(300, 3), ev = bptest::quadrants(50, 4);
    TrainConfig c = small_config();
    c.epochs = 5;
    auto run = [&](bool stop_in_epoch_2, std::vector<float>* params) {
        auto be = make_cpu_backend<float>();
        Network<float> net({2, 5, 4});
        net.init(Init::gaussian, 9);
        DeviceData<float> dtr(*be, tr), dev(*be, ev);
        Trainer<float> trainer(*be, net.layout(), dtr, &dev, c);
        trainer.backprop().set_params(net.params());
        std::atomic<bool> stop{false};
        int batches_after_stop = 0;
        TrainCallbacks cb;
        cb.stop = &stop;
        cb.on_batch = [&](const BatchProgress&) { batches_after_stop += stop.load() ? 1 : 0; };
        cb.on_epoch = [&](const EpochResult& r) {
            if (stop_in_epoch_2 && r.epoch == 2) stop = true;  // as a signal would, mid-report
            return true;
        };
        const int last = trainer.run(cb);
        EXPECT_EQ(batches_after_stop, 0);
        *params = trainer.backprop().params();
        return last;
    };
    std::vector<float> stopped, two;
    EXPECT_EQ(run(true, &stopped), 2);
    c.epochs = 2;
    EXPECT_EQ(run(false, &two), 2);
    EXPECT_EQ(stopped, two);  // the parameters after epoch 2, untouched by epoch 3
}

TEST(Training, RejectsImpossibleConfigurations) {
    const Dataset tr = bptest::quadrants(20, 8);
    auto be = make_cpu_backend<float>();
    DeviceData<float> d(*be, tr);
    ParamLayout layout({2, 3, 4});
    // Each is a SettingError naming the setting at fault, in the library's words.
    auto expect_error = [&](TrainConfig c, Setting setting, const char* needle) {
        try {
            Trainer<float> t(*be, layout, d, nullptr, c);
            ADD_FAILURE() << "no error for " << needle;
        } catch (const SettingError& e) {
            EXPECT_EQ(e.setting(), setting) << e.what();
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    TrainConfig c = small_config();
    c.batch = 21;
    expect_error(c, Setting::batch, "batch 21 is larger than the training set (20 examples)");
    c = small_config();
    c.batch = 0;
    expect_error(c, Setting::batch, "batch must be at least 1");
    c = small_config();
    c.epochs = 0;
    expect_error(c, Setting::epochs, "epochs must be at least 1");
    c = small_config();
    c.eta = -1;
    expect_error(c, Setting::eta, "eta must be a finite number > 0");
    c.eta = std::nan("");
    expect_error(c, Setting::eta, "eta must be a finite number > 0");
    c = small_config();
    c.lambda = -0.1;
    expect_error(c, Setting::lambda, "lambda must be a finite number >= 0");
    c = small_config();
    c.lambda = 10;
    expect_error(c, Setting::eta, "eta * lambda / n = 3 * 10 / 20 = 1.5 >= 1");
    EXPECT_THROW(ParamLayout({784}), Error);
    EXPECT_THROW(ParamLayout({784, 0, 10}), Error);
    EXPECT_THROW(Trainer<float>(*be, ParamLayout({3, 4}), d, nullptr, small_config()), Error);
}

// The L2 term of an evaluation's cost, (lambda / 2n) sum w^2: by default n is the training set's;
// with L2Scale::evaluated_set it is the evaluated set's, as network2.py's total_cost(data, lmbda)
// has it. The mean cost without the term is the same either way. Expected values in double.
TEST(Training, L2ScaleChoosesTheNOfTheRegularisationTerm) {
    const Dataset tr = bptest::quadrants(300, 21), ev = bptest::quadrants(40, 22);
    const double lambda = 5.0;
    for (bool f64 : {false, true}) {
        auto evaluate_with = [&](auto zero, L2Scale scale, double* sum_w2) {
            using T = decltype(zero);
            auto be = make_cpu_backend<T>();
            Network<T> net({2, 7, 4});
            net.init(Init::gaussian, 3);
            DeviceData<T> dtr(*be, tr), dev(*be, ev);
            TrainConfig c = small_config();
            c.lambda = lambda;
            c.l2_scale = scale;
            Trainer<T> trainer(*be, net.layout(), dtr, &dev, c);
            trainer.backprop().set_params(net.params());
            *sum_w2 = 0.0;
            for (std::size_t i = 0; i < net.layout().n_weights(); ++i) *sum_w2 += double(net.params()[i]) * double(net.params()[i]);
            return std::pair{trainer.evaluate(dev), trainer.evaluate(dtr)};
        };
        double w2 = 0.0;
        const auto by_train = f64 ? evaluate_with(0.0, L2Scale::training_set, &w2) : evaluate_with(0.0f, L2Scale::training_set, &w2);
        const auto by_eval = f64 ? evaluate_with(0.0, L2Scale::evaluated_set, &w2) : evaluate_with(0.0f, L2Scale::evaluated_set, &w2);
        ASSERT_GT(w2, 1.0);
        const double term_train = 0.5 * lambda / tr.n * w2, term_eval = 0.5 * lambda / ev.n * w2;
        // On the evaluation set the two differ by exactly the two terms' difference ...
        EXPECT_NEAR(by_eval.first.cost - by_train.first.cost, term_eval - term_train, 1e-12 * term_eval) << f64;
        EXPECT_NEAR(by_eval.first.cost - term_eval, by_train.first.cost - term_train, 1e-12) << f64;
        EXPECT_GT(term_eval - term_train, 0.1 * term_eval) << "a difference a test can see";
        // ... and on the training set itself the evaluated set is the training set.
        EXPECT_EQ(by_eval.second.cost, by_train.second.cost) << f64;
        EXPECT_EQ(by_eval.first.correct, by_train.first.correct);
    }
}

TEST(Training, InitialisersHaveTheStatedSpread) {
    Network<double> g({400, 300, 10}), s({400, 300, 10});
    g.init(Init::gaussian, 1);
    s.init(Init::scaled, 1);
    auto sd = [](ConstView<double> w) {
        double ss = 0;
        for (std::size_t i = 0; i < w.size(); ++i) ss += w.data[i] * w.data[i];
        return std::sqrt(ss / double(w.size()));
    };
    EXPECT_NEAR(sd(g.w(1)), 1.0, 0.01);
    EXPECT_NEAR(sd(s.w(1)), 1.0 / 20.0, 0.0005);  // 1/sqrt(400)
    Network<double> g2({400, 300, 10});
    g2.init(Init::gaussian, 1);
    EXPECT_EQ(g.params(), g2.params());
    Network<float> f({400, 300, 10});
    f.init(Init::gaussian, 1);
    EXPECT_TRUE(bptest::close_normwise(f.params(), g.params(), 1e-7));
}

}  // namespace
