// The CLI's own pieces, one by one (tests/test_cli.cpp runs the whole executable): early
// stopping, the run's record and what the metrics lines take from it, a model's recorded
// settings as defaults, the report lines, and how a setting is named in a message.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "batchprop/model_io.hpp"
#include "early_stop.hpp"
#include "flag_values.hpp"
#include "run_record.hpp"
#include "train_options.hpp"
#include "train_report.hpp"

using namespace batchprop;
using namespace batchprop::cli;

namespace {

EpochResult epoch(int e, long long correct) {
    EpochResult r;
    r.epoch = e;
    r.examples = 100;
    Evaluation ev;
    ev.correct = correct;
    ev.total = 1000;
    r.evaluation = ev;
    return r;
}

Network<double> marked(double value) {
    Network<double> n({1, 1});
    n.params() = {value, value};
    return n;
}

}  // namespace

// A tie is not an improvement; patience counts the epochs since the best; the best epoch's
// parameters are kept when asked for.
TEST(EarlyStopper, StopsAfterPatienceEpochsWithoutABetterAccuracy) {
    EarlyStopper es(2, /*keep_best=*/true);
    double now = 0.0;
    auto net = [&] { return marked(now); };
    now = 1;
    EXPECT_TRUE(es.after_epoch(epoch(1, 500), net));
    now = 2;
    EXPECT_TRUE(es.after_epoch(epoch(2, 500), net));  // a tie: one epoch without a better one
    EXPECT_EQ(es.state().best_epoch, 1);
    EXPECT_EQ(es.state().best->params()[0], 1.0);
    now = 3;
    EXPECT_FALSE(es.after_epoch(epoch(3, 499), net));  // the second: stop
    EXPECT_EQ(es.stop_line(), "Early stop: no better evaluation accuracy for 2 epochs; the best was epoch 1");
    EXPECT_EQ(es.recorded_best_epoch(), 1);
    EXPECT_TRUE(es.exhausted());
}

TEST(EarlyStopper, TheStartingModelIsEpochZero) {
    EarlyStopper es(1, /*keep_best=*/false);
    es.baseline(700, [] { return marked(9); });
    EXPECT_EQ(es.state().best_epoch, 0);
    EXPECT_FALSE(es.state().best.has_value());  // not kept: nothing saves it
    EXPECT_FALSE(es.after_epoch(epoch(1, 650), [] { return marked(1); }));
    EXPECT_EQ(es.stop_line(),
              "Early stop: no better evaluation accuracy for 1 epochs; the best was epoch 0 (the starting model)");
}

TEST(EarlyStopper, OffGoesOnAndRecordsNoEpoch) {
    EarlyStopper es(0, true);
    for (int e = 1; e <= 5; ++e) EXPECT_TRUE(es.after_epoch(epoch(e, 100 - e), [] { return marked(0); }));
    EXPECT_EQ(es.recorded_best_epoch(), -1);
    EXPECT_FALSE(es.exhausted());
}

TEST(RunRecord, MetricsLinesRepeatTheRecord) {
    TrainOptions o;
    o.cfg.eta = 0.5;
    o.cfg.batch = 7;
    o.cfg.cost = Cost::cross_entropy;
    o.init = Init::scaled;
    const nlohmann::json rec = run_record(o, "train.gz", 3000, 2, false, -1);
    EXPECT_EQ(rec.at("eta"), 0.5);
    EXPECT_EQ(rec.at("init"), "scaled");
    EXPECT_FALSE(rec.contains("init_model"));
    EXPECT_FALSE(rec.contains("best_epoch"));
    const nlohmann::ordered_json m = metrics_fields(rec, "cpu (OpenBLAS)", {784, 30, 10});
    EXPECT_EQ(m.dump(),
              R"js({"device":"cpu (OpenBLAS)","mode":"matrix","dtype":"f32","batch":7,"sizes":[784,30,10],"eta":0.5,)js"
              R"js("lambda":0.0,"cost":"cross-entropy","seed":1,"init":"scaled","init_model":null})js");
    o.init_model = "start.json";
    const nlohmann::ordered_json from_model = metrics_fields(run_record(o, "t", 1, 1, false, 0), "cpu", {1, 1});
    EXPECT_EQ(from_model.at("init"), "model");
    EXPECT_EQ(from_model.at("init_model"), "start.json");
}

// A model's record supplies the defaults; given flags win; a recorded value that no run can
// use is passed over, as validate() would refuse it.
TEST(RunRecord, AModelsSettingsBecomeTheDefaults) {
    Model model;
    model.net = marked(0);
    model.cost = Cost::cross_entropy;
    model.batchprop = {{"eta", 0.25}, {"lambda", -1.0}, {"batch", 32}, {"mode", "per-example"}, {"dtype", "f16"}};
    TrainOptions o;
    o.init_model = "m.json";
    o.given = {"--batch"};
    o.cfg.batch = 4;
    const std::string said = apply_model_settings(o, model);
    EXPECT_EQ(o.cfg.cost, Cost::cross_entropy);
    EXPECT_EQ(o.cfg.eta, 0.25);
    EXPECT_EQ(o.cfg.lambda, 0.0);  // -1 passed over
    EXPECT_EQ(o.cfg.batch, 4);     // --batch given
    EXPECT_EQ(o.cfg.mode, Mode::per_example);
    EXPECT_EQ(o.compute.dtype, DType::f32);  // f16 passed over
    EXPECT_EQ(said, "batchprop: continuing with the settings m.json was trained with: cross-entropy cost, eta 0.25, "
                    "mode per-example (flags given override them)");
    Model foreign = model;
    foreign.batchprop = nullptr;  // saved by network2.py itself
    TrainOptions p;
    p.init_model = "n.json";
    EXPECT_NE(apply_model_settings(p, foreign).find("records no training settings"), std::string::npos);
}

TEST(TrainReport, SummaryLine) {
    RunTally t;
    t.epochs_done = 3;
    EpochResult r = epoch(4, 800);
    r.train_seconds = 2.0;
    r.examples = 100;
    t.add(r, true);
    EpochResult cut = epoch(5, 700);
    cut.train_seconds = 1.0;
    cut.examples = 50;
    t.add(cut, true);
    EXPECT_EQ(summary_line(t, 3, /*resumed=*/true, /*cut_short=*/true, 100, 4.25, -1),
              "Done: 2 epochs (epochs 4-5 of the run), the last one partial, in 4.2 s (SGD 3.0 s, 50 examples/s); "
              "best eval accuracy 800 / 1000 (80.00%) at epoch 4");
    EXPECT_EQ(summary_line(t, 3, false, false, 100, 4.25, 0).substr(0, 30), "Done: 2 epochs in 4.2 s (SGD 3");
    EXPECT_NE(summary_line(t, 3, false, false, 100, 4.25, 0).find("; no epoch beat the starting model"),
              std::string::npos);
}

// An epoch a signal cut short says which signal, or just that it stopped (another rank's).
TEST(TrainReport, APartialEpochSaysWhatStoppedIt) {
    EpochResult r = epoch(3, 500);
    r.examples = 40;
    Monitor none{false, false, false, false};
    EXPECT_NE(epoch_line(r, none, 5, 100, "SIGTERM").find("(partial epoch: SIGTERM after 40 of 100 examples)"),
              std::string::npos);
    EXPECT_NE(epoch_line(r, none, 5, 100, "Ctrl-C").find("(partial epoch: Ctrl-C after 40 of 100 examples)"),
              std::string::npos);
    EXPECT_NE(epoch_line(r, none, 5, 100).find("(partial epoch: stopped after 40 of 100 examples)"), std::string::npos);
    r.examples = 100;
    EXPECT_EQ(epoch_line(r, none, 5, 100, "SIGTERM").find("partial"), std::string::npos);
}

// The CLI names every setting by its flag.
TEST(FlagValues, SettingsAreNamedByTheirFlags) {
    EXPECT_EQ(flag_for(Setting::batch), "--batch");
    EXPECT_EQ(flag_for(Setting::lambda), "--lambda");
    EXPECT_EQ(flag_message(SettingError(Setting::batch, "500", " is larger than the training set")),
              "--batch 500 is larger than the training set");
    EXPECT_EQ(without_separator(": 'x' is not one of a, b"), "'x' is not one of a, b");
}
