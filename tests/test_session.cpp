// batchprop::Session (batchprop.hpp), the one-header API: training learns, resuming at an
// epoch gives the uninterrupted run's parameters bit for bit, predict agrees with evaluate,
// save/load round-trips, and bad input is a batchprop::Error. CPU only, small problems.
#include <gtest/gtest.h>

#include "batchprop/batchprop.hpp"
#include "test_util.hpp"

namespace {

using namespace batchprop;

TrainConfig small_config(int epochs) {
    TrainConfig cfg;
    cfg.epochs = epochs;
    cfg.batch = 10;
    cfg.eta = 3.0;
    return cfg;
}

class SessionTest : public bptest::TempDirTest {
protected:
    SessionTest() : TempDirTest("bp_session") {}
};

TEST_F(SessionTest, TrainsEvaluatesPredictsSavesAndLoads) {
    const Dataset train = bptest::quadrants(400, 1), test = bptest::quadrants(200, 2);
    for (DType dt : {DType::f32, DType::f64}) {
        Session s = Session::create({2, 8, 4}, Cost::cross_entropy, Init::scaled, 3, {"cpu", dt});
        EXPECT_EQ(s.dtype(), dt);
        EXPECT_EQ(s.device(), "cpu (OpenBLAS)");
        int epochs_seen = 0;
        TrainCallbacks cb;
        cb.on_epoch = [&](const EpochResult& r) {
            epochs_seen = r.epoch;
            return true;
        };
        EXPECT_EQ(s.train(train, &test, small_config(30), cb), 30);
        EXPECT_EQ(epochs_seen, 30);
        const Evaluation e = s.evaluate(test);
        EXPECT_GT(e.accuracy(), 0.85) << dtype_name(dt);
        const std::vector<int> p = s.predict(test);
        long long correct = 0;
        for (int j = 0; j < test.n; ++j) correct += p[std::size_t(j)] == test.labels[std::size_t(j)];
        EXPECT_EQ(correct, e.correct);
        s.save(path("m.json"));
        Session back = Session::load(path("m.json"), {"cpu", dt});
        EXPECT_EQ(back.network().params(), s.network().params());
        EXPECT_EQ(back.cost(), Cost::cross_entropy);
        EXPECT_EQ(back.predict(test), p);
    }
}

TEST_F(SessionTest, ResumingAtAnEpochIsBitwiseTheUninterruptedRun) {
    const Dataset train = bptest::quadrants(203, 5);  // 203: a partial last mini-batch
    for (DType dt : {DType::f32, DType::f64}) {
        Session whole = Session::create({2, 5, 4}, Cost::quadratic, Init::gaussian, 7, {"cpu", dt});
        whole.train(train, nullptr, small_config(4));
        Session part = Session::create({2, 5, 4}, Cost::quadratic, Init::gaussian, 7, {"cpu", dt});
        part.train(train, nullptr, small_config(2));
        TrainConfig rest = small_config(4);
        rest.first_epoch = 2;
        int first_seen = 0;
        TrainCallbacks cb;
        cb.on_epoch = [&](const EpochResult& r) {
            if (!first_seen) first_seen = r.epoch;
            return true;
        };
        EXPECT_EQ(part.train(train, nullptr, rest, cb), 4);
        EXPECT_EQ(first_seen, 3);
        EXPECT_EQ(part.network().params(), whole.network().params()) << dtype_name(dt);
    }
}

TEST_F(SessionTest, DataInMemoryAndErrors) {
    const Dataset d = make_dataset(2, {0, 255, 255, 0, 10, 20}, {1, 2, 0});
    EXPECT_EQ(d.n, 3);
    EXPECT_THROW(make_dataset(2, {1, 2, 3}, {}), Error);
    EXPECT_THROW(make_dataset(2, {1, 2, 3, 4}, {1}), Error);
    EXPECT_THROW(parse_dtype("f16"), Error);
    Session s = Session::create({3, 2}, Cost::quadratic, Init::gaussian, 1, {"cpu", DType::f32});
    EXPECT_THROW(s.predict(d), Error);  // 2-pixel images for 3 inputs
    EXPECT_THROW(Session::create({2, 2}, Cost::quadratic, Init::gaussian, 1, {"gpu9", DType::f32}), Error);
    EXPECT_THROW(Session::load(path("missing.json")), Error);
    Session two = Session::create({2, 2}, Cost::quadratic, Init::gaussian, 1, {"cpu", DType::f64});
    EXPECT_THROW(two.evaluate(d), Error);  // label 2 beyond 2 outputs
}

}  // namespace
