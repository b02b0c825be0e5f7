// The pieces of `batchprop sweep` that need no training, linked as the CLI links them
// (batchprop_cli_core): the list flags, the table's order and text, the spread over seeds, the
// progress line and the plot.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "sweep_lists.hpp"
#include "sweep_plot.hpp"
#include "sweep_report.hpp"

using namespace batchprop;
using namespace batchprop::cli;

namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "accepted";
}

SweepRow row(int id, int setting, double eta, double lambda, long long correct, double cost,
             SweepStatus status = SweepStatus::done) {
    SweepRow r;
    r.id = id;
    r.setting = setting;
    r.sizes = {784, 30, 10};
    r.eta = eta;
    r.lambda = lambda;
    r.batch = 10;
    r.seed = std::uint64_t(id);
    r.epochs = r.epochs_done = 30;
    r.best_epoch = correct >= 0 ? 12 : 0;
    r.best_correct = correct;
    r.eval_total = 1000;
    r.best_cost = cost;
    r.status = status;
    r.saved_epoch = 30;
    return r;
}

}  // namespace

TEST(SweepLists, ReadsEachAxis) {
    EXPECT_EQ(parse_numbers("0.025,0.25,2.5", "--eta"), (std::vector<double>{0.025, 0.25, 2.5}));
    EXPECT_EQ(parse_numbers("1e-3", "--eta"), (std::vector<double>{0.001}));
    EXPECT_EQ(parse_whole_numbers("10,32", "--batch"), (std::vector<int>{10, 32}));
    EXPECT_EQ(parse_seeds("1-4,10"), (std::vector<std::uint64_t>{1, 2, 3, 4, 10}));
    EXPECT_EQ(parse_seeds("7"), (std::vector<std::uint64_t>{7}));
    EXPECT_EQ(parse_networks("784,30,10:784,100,10"), (std::vector<std::vector<int>>{{784, 30, 10}, {784, 100, 10}}));
    SweepFlags f;
    f.eta = "0.5,3";
    f.seeds = "1-2";
    const SweepGrid g = parse_grid(f);
    EXPECT_EQ(g.eta.size(), 2u);
    EXPECT_EQ(g.seeds, (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(g.sizes, (std::vector<std::vector<int>>{{784, 30, 10}}));
}

TEST(SweepLists, NamesTheBadElement) {
    EXPECT_EQ(error_of([] { parse_numbers("0.1,x,3", "--eta"); }),
              "--eta: 'x' (value 2 of 3) is not a number (the values are comma-separated, e.g. --eta 0.1,0.5,2.5)");
    EXPECT_EQ(error_of([] { parse_numbers("0.1,", "--lambda"); }).substr(0, 40), "--lambda: '' (value 2 of 2) is not a num");
    EXPECT_EQ(error_of([] { parse_numbers("1, 2", "--eta"); }).substr(0, 34), "--eta: ' 2' (value 2 of 2) is not ");
    EXPECT_EQ(error_of([] { parse_whole_numbers("10,2.5", "--batch"); }),
              "--batch: '2.5' (value 2 of 2) is not a whole number");
    EXPECT_NE(error_of([] { parse_seeds("1,-3"); }).find("--seeds: '-3' (value 2 of 2) is neither a seed"),
              std::string::npos);
    EXPECT_NE(error_of([] { parse_seeds("5-2"); }).find("ends before it starts"), std::string::npos);
    EXPECT_NE(error_of([] { parse_seeds("1-1000000"); }).find("holds more than 100000 seeds"), std::string::npos);
    EXPECT_EQ(error_of([] { parse_seeds("1-3,3"); }),
              "--seeds: seed 3 comes twice ('1-3' and '3'): each value makes its models once");
    EXPECT_EQ(error_of([] { parse_numbers("0.5,0.50", "--eta"); }),
              "--eta: '0.50' (value 2 of 2) repeats '0.5' (value 1 of 2): each value makes its models once");
    EXPECT_NE(error_of([] { parse_networks("784,30,10:784;10"); }).find("--sizes: '784;10' (network 2 of 2)"),
              std::string::npos);
}

TEST(SweepLists, CanonicalTextComparesValuesNotSpellings) {
    EXPECT_EQ(grid_text(parse_seeds("1-3")), grid_text(parse_seeds("1,2,3")));
    EXPECT_EQ(grid_text(parse_numbers("0.10,5e-1", "--eta")), "0.1,0.5");
    EXPECT_EQ(grid_text(parse_networks("784, 30,10")), "784,30,10");
}

TEST(SweepReport, RanksByBestValidationAccuracyThenCostThenRun) {
    std::vector<SweepRow> rows{row(0, 0, 0.5, 0, 800, 0.3), row(1, 0, 0.5, 0, 900, 0.4), row(2, 1, 3, 0, 900, 0.2),
                               row(3, 1, 3, 0, 950, 0.5, SweepStatus::diverged), row(4, 2, 3, 5, -1, 0),
                               row(5, 2, 3, 5, 900, 0.2), row(6, 3, 1, 0, 990, 0.1, SweepStatus::pending)};
    rows[4].status = SweepStatus::pending;
    rows[4].epochs_done = 0;
    rows[6].epochs_done = 0;
    // 2 and 5 tie on accuracy and cost: the lower run id first; the unusable after, by run id.
    EXPECT_EQ(ranking(rows), (std::vector<int>{2, 5, 1, 0, 3, 4, 6}));
}

TEST(SweepReport, StatusTableAndSpread) {
    SweepRow r = row(7, 0, 0.5, 5, 843, 0.45);
    EXPECT_EQ(status_text(r), "done");
    r.early_stopped = true;
    r.saved_epoch = 12;
    EXPECT_EQ(status_text(r), "early stop (kept 12)");
    r.status = SweepStatus::diverged;
    r.failed_epoch = 4;
    EXPECT_EQ(status_text(r), "diverged in epoch 4");
    r.status = SweepStatus::stopped;
    r.epochs_done = 3;
    EXPECT_EQ(status_text(r), "stopped in epoch 4");

    std::vector<SweepRow> rows{row(0, 0, 0.5, 0, 800, 0.3), row(1, 0, 0.5, 0, 900, 0.4),
                               row(2, 0, 0.5, 0, 850, 0.4, SweepStatus::diverged), row(3, 1, 3, 0, 700, 0.2)};
    rows[1].test_accuracy = 0.8765;
    const std::string t = table_text(rows, ranking(rows), true);
    EXPECT_NE(t.find("rank  run  sizes"), std::string::npos) << t;
    EXPECT_NE(t.find("test accuracy  status"), std::string::npos) << t;
    EXPECT_LT(t.find("\n   1    1  "), t.find("\n   2    0  ")) << t;
    EXPECT_NE(t.find("90.00%"), std::string::npos);
    EXPECT_NE(t.find("87.65%"), std::string::npos);
    EXPECT_NE(t.find("diverged in epoch 0"), std::string::npos) << t;
    EXPECT_EQ(table_text(rows, ranking(rows), false).find("test accuracy"), std::string::npos);

    const std::vector<SettingSpread> s = spreads(rows);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].seeds, 3);
    EXPECT_EQ(s[0].counted, 2);  // the diverged seed is not in the figures
    EXPECT_DOUBLE_EQ(s[0].mean, 0.85);
    EXPECT_NEAR(s[0].sd, 0.0707106781, 1e-9);  // sample sd of 0.8, 0.9
    EXPECT_DOUBLE_EQ(s[0].min, 0.8);
    EXPECT_DOUBLE_EQ(s[0].max, 0.9);
    EXPECT_EQ(s[1].sd, 0.0);  // one seed
    const std::string st = spread_text(s);
    EXPECT_NE(st.find("2 of 3"), std::string::npos) << st;
    EXPECT_NE(st.find("85.00%"), std::string::npos) << st;
}

TEST(SweepReport, GridAndProgressLines) {
    SweepGrid g;
    g.eta = {0.025, 0.25, 2.5};
    g.lambda = {0, 1, 5};
    g.seeds = {1, 2, 3, 4};
    EXPECT_EQ(grid_line(g, 36),
              "36 models: sizes 784,30,10 x eta 0.025,0.25,2.5 (3) x lambda 0,1,5 (3) x m 10 x seeds 1-4 (4)");
    SweepTally t;
    t.models = 36;
    t.finished = 4;
    t.running = 2;
    t.epochs_total = 1080;
    t.epochs_done = 130;
    t.work_total = 1080;
    t.work_done = 270;
    t.seconds = 60;
    EXPECT_DOUBLE_EQ(t.eta_seconds(), 180);  // a quarter done in a minute: three more
    EXPECT_EQ(progress_text(t), "4/36 models done, 2 training, 130/1080 epochs, ETA 3 min 00 s");
    t.work_done = 0;
    EXPECT_EQ(progress_text(t).substr(progress_text(t).size() - 5), "ETA ?");
    SweepRow r = row(7, 0, 0.25, 1, 852, 0.45);
    r.seconds = 12.3;
    EXPECT_EQ(model_line(r), "run 7 (784,30,10 eta 0.25 lambda 1 m 10 seed 7): best validation accuracy 85.20% at "
                             "epoch 12, 30 epochs in 12.3 s");
}

TEST(SweepPlot, OneLinePerLambdaBarsForSeedsLogEta) {
    std::vector<SweepRow> rows;
    int id = 0, setting = 0;
    for (double eta : {0.025, 0.25, 2.5}) {
        for (double lambda : {0.0, 5.0}) {
            for (int seed = 0; seed < 2; ++seed) rows.push_back(row(id++, setting, eta, lambda, 800 + 10 * id, 0.3));
            ++setting;
        }
    }
    const std::string svg = sweep_svg(spreads(rows), "a sweep & its <title>");
    auto count = [&](const std::string& what) {
        int n = 0;
        for (std::size_t at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
        return n;
    };
    EXPECT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_EQ(count("<polyline"), 2);  // one line per lambda
    EXPECT_EQ(count("<circle"), 6);    // one point per setting
    EXPECT_EQ(count("stroke='#1f77b4' fill='none'/>"), 3);  // the first line's three bars
    EXPECT_NE(svg.find("lambda 0<"), std::string::npos);
    EXPECT_NE(svg.find("lambda 5<"), std::string::npos);
    EXPECT_NE(svg.find("(log scale)"), std::string::npos);
    EXPECT_NE(svg.find("a sweep &amp; its &lt;title&gt;"), std::string::npos);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
    // One seed: no bars; nothing usable: a valid, empty plot that says so.
    for (SweepRow& r : rows) r.seed = 0;
    std::vector<SweepRow> one(rows.begin(), rows.begin() + 1);
    const std::string single = sweep_svg(spreads(one), "one");
    EXPECT_EQ(single.find("V"), std::string::npos);
    EXPECT_EQ(single.find("(log scale)"), std::string::npos);
    one[0].status = SweepStatus::diverged;
    const std::string none = sweep_svg(spreads(one), "none");
    EXPECT_NE(none.find("1 setting with no usable model left out"), std::string::npos) << none;
    EXPECT_EQ(none.find("<circle"), std::string::npos);
}
