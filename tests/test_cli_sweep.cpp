// `batchprop sweep` end to end, run as a separate process on small IDX files written here: every
// model bit for bit `batchprop train` with its settings, the table, spread, metrics, saves and
// plot, each bad list element and a bad combination refused before anything is written, a
// diverging model kept to its row, Ctrl-C and SIGTERM (the table so far, exit 130/143), and a
// resumed sweep equal to one never interrupted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <cstring>
#include <algorithm>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "batchprop/model_io.hpp"
#include "support/cli_process.hpp"
#include "support/test_util.hpp"

namespace fs = std::filesystem;
using batchprop::load_model;
using batchprop::Model;
using bptest::Args;
using bptest::contains;
using bptest::Result;
using bptest::slurp;

namespace {

class CliSweep : public bptest::TempDirTest {
protected:
    CliSweep() : TempDirTest("bp_cli_sweep") {}
    void SetUp() override {
        TempDirTest::SetUp();
        fs::create_directories(dir_ / "idx");
        write_set("train", 600, 1);
        write_set("t10k", 200, 2);
    }

    // 8x8 images of 5 classes; class c brightens row c (something to learn, and products wide
    // enough for the BLAS and the small-product kernel alike).
    void write_set(const std::string& prefix, int n, std::uint32_t seed) {
        std::vector<std::uint8_t> pixels, labels;
        std::uint32_t s = seed;
        auto next = [&s] { return s = s * 1664525u + 1013904223u, s >> 24; };
        for (int j = 0; j < n; ++j) {
            const int c = int(next() % 5);
            labels.push_back(std::uint8_t(c));
            for (int i = 0; i < 64; ++i) pixels.push_back(std::uint8_t(i / 8 == c ? 150 + next() % 100 : next() % 90));
        }
        auto write = [](const std::string& p, const std::vector<std::uint8_t>& b) {
            std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
        };
        write(path("idx/" + prefix + "-images-idx3-ubyte"), bptest::idx_bytes({std::uint32_t(n), 8, 8}, pixels));
        write(path("idx/" + prefix + "-labels-idx1-ubyte"), bptest::idx_bytes({std::uint32_t(n)}, labels));
    }

    Result run(const Args& args) const {
        const std::string out = path("stdout"), err = path("stderr");
        return bptest::finish(bptest::spawn(args, out, err), out, err);
    }

    // The grid of the bitwise test: 2 networks x 2 eta x 2 lambda x 2 m x 2 seeds = 32 models.
    Args sweep(const Args& extra = {}) const {
        Args a{"sweep", "--data", path("idx"), "--validation", "100", "--device", "cpu", "--cost", "cross-entropy",
               "--init", "scaled", "--epochs", "2", "--sizes", "64,16,5:64,12,8,5", "--eta", "0.5,3",
               "--lambda", "0,2", "--batch", "7,20", "--seeds", "1-2", "--jobs", "2"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }

    // Fails with exit status 2, each needle in stderr, and none of `absent` created.
    void expect_usage_error(const Args& args, const std::vector<std::string>& needles,
                            const std::vector<std::string>& absent = {}) const {
        const Result r = run(args);
        EXPECT_EQ(r.code, 2) << r.err;
        EXPECT_EQ(r.signal, 0);
        EXPECT_TRUE(contains(r.err, "batchprop: error: ")) << r.err;
        for (const std::string& n : needles) EXPECT_TRUE(contains(r.err, n)) << "missing '" << n << "' in: " << r.err;
        for (const std::string& f : absent) EXPECT_FALSE(fs::exists(f)) << f << " was created";
    }

    static std::vector<double> params(const std::string& file) { return load_model(file).net.params(); }
};

// The promise, through the CLI: each model of a two-worker sweep is, parameter for
// parameter, the model `batchprop train` saves with the same settings and seed.
TEST_F(CliSweep, EveryModelEqualsTrainAlone) {
    const Result r = run(sweep({"--save-dir", path("all")}));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "batchprop sweep: 32 models: sizes 64,16,5:64,12,8,5 (2) x eta 0.5,3 (2) x lambda "
                                "0,2 (2) x m 7,20 (2) x seeds 1,2 (2)"))
        << r.out;
    int id = 0;
    for (const char* sizes : {"64,16,5", "64,12,8,5"})
        for (const char* eta : {"0.5", "3"})
            for (const char* lambda : {"0", "2"})
                for (const char* m : {"7", "20"})
                    for (const char* seed : {"1", "2"}) {
                        const Result t = run({"train", "--data", path("idx"), "--validation", "100", "--device", "cpu",
                                              "--cost", "cross-entropy", "--init", "scaled", "--epochs", "2", "--sizes",
                                              sizes, "--eta", eta, "--lambda", lambda, "--batch", m, "--seed", seed,
                                              "--save", path("alone.json"), "-q"});
                        ASSERT_EQ(t.code, 0) << t.err;
                        char name[32];
                        std::snprintf(name, sizeof name, "all/run-%03d.json", id);
                        const std::vector<double> got = params(path(name)), want = params(path("alone.json"));
                        ASSERT_EQ(got.size(), want.size()) << name;
                        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(double)), 0)
                            << name << ": " << sizes << " eta " << eta << " lambda " << lambda << " m " << m
                            << " seed " << seed;
                        ++id;
                    }
    EXPECT_EQ(load_model(path("all/run-005.json")).batchprop.at("sweep_run"), 5);
}

// The table, the spread over seeds, the chosen model and what was asked to be written.
TEST_F(CliSweep, TableSpreadMetricsSavesAndPlot) {
    const Result r = run(sweep({"--sizes", "64,16,5", "--batch", "10", "--save-best", path("best.json"), "--save-dir",
                                path("all"), "--metrics", path("m.jsonl"), "--plot", path("sweep.svg")}));
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char* want : {"By best validation accuracy:", "rank  run  sizes", "Spread over seeds", "Chosen: run ",
                             "test accuracy", "Done: 8 models (8 done); 16 epochs trained", "Saved 8 models to "})
        EXPECT_TRUE(contains(r.out, want)) << want << " in:\n" << r.out;
    // The chosen model is the table's first row, saved as --save-best.
    const std::size_t at = r.out.find("Chosen: run ");
    const int chosen = std::stoi(r.out.substr(at + 12));
    const std::size_t row = r.out.find("\n   1  ");
    ASSERT_NE(row, std::string::npos) << r.out;
    EXPECT_EQ(std::stoi(r.out.substr(row + 7)), chosen) << r.out;
    char name[32];
    std::snprintf(name, sizeof name, "all/run-%03d.json", chosen);
    EXPECT_EQ(params(path("best.json")), params(path(name)));
    // The test set is measured for the chosen model alone (choosing on it would overstate it),
    // for every model with --test-all: a row with a test accuracy has two percentages.
    auto rows_with_test = [](const std::string& out) {
        const std::size_t table = out.find("By best validation accuracy:");
        std::istringstream in(out.substr(table, out.find("\n\n", table) - table));  // the table alone
        int n = 0;
        for (std::string line; std::getline(in, line);)
            n += std::count(line.begin(), line.end(), '%') == 2;
        return n;
    };
    EXPECT_EQ(rows_with_test(r.out), 1) << r.out;
    const Result all = run(sweep({"--sizes", "64,16,5", "--batch", "10", "--test-all"}));
    ASSERT_EQ(all.code, 0) << all.err;
    EXPECT_EQ(rows_with_test(all.out), 8) << all.out;
    // With --early-stop the chosen model is tested as its best epoch left it (as train
    // --early-stop keeps it), saved or not: every model stops an epoch after its best here.
    const Result early = run(sweep({"--sizes", "64,16,5", "--batch", "10", "--epochs", "5", "--early-stop", "1"}));
    ASSERT_EQ(early.code, 0) << early.err;
    const std::size_t chosen_at = early.out.find("\nChosen: run ");
    ASSERT_NE(chosen_at, std::string::npos) << early.out;
    const std::string chosen_line = early.out.substr(chosen_at, early.out.find('\n', chosen_at + 1) - chosen_at);
    const std::size_t best_at = chosen_line.find(" at epoch "), kept_at = chosen_line.find("(the model of epoch ");
    ASSERT_TRUE(best_at != std::string::npos && kept_at != std::string::npos) << chosen_line;
    EXPECT_EQ(std::stoi(chosen_line.substr(best_at + 10)), std::stoi(chosen_line.substr(kept_at + 20))) << chosen_line;
    EXPECT_TRUE(contains(chosen_line, "early stop")) << chosen_line;
    // One metrics line per model and epoch, each with its run id and settings.
    std::ifstream in(path("m.jsonl"));
    std::string line;
    int lines = 0;
    std::set<int> runs;
    while (std::getline(in, line)) {
        const nlohmann::json j = nlohmann::json::parse(line);
        ++lines;
        runs.insert(j.at("run").get<int>());
        for (const char* key : {"epoch", "eval_accuracy", "eval_cost", "eta", "lambda", "batch", "seed", "sizes"})
            EXPECT_TRUE(j.contains(key)) << key << " in " << line;
    }
    EXPECT_EQ(lines, 16);
    EXPECT_EQ(runs.size(), 8u);
    const std::string svg = slurp(path("sweep.svg"));
    EXPECT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_TRUE(contains(svg, "lambda 0") && contains(svg, "lambda 2")) << svg;
    EXPECT_TRUE(contains(svg, "</svg>"));
}

TEST_F(CliSweep, BadListElementsAreNamed) {
    const std::string m = path("m.jsonl");
    expect_usage_error(sweep({"--eta", "0.5,abc", "--metrics", m}), {"--eta: 'abc' (value 2 of 2) is not a number"}, {m});
    expect_usage_error(sweep({"--seeds", "1,4-2"}), {"--seeds: '4-2' (value 2 of 2)", "ends before it starts"});
    expect_usage_error(sweep({"--seeds", "1-3,2"}), {"--seeds: seed 2 comes twice"});
    expect_usage_error(sweep({"--sizes", "64,16,5:64,x,5"}), {"--sizes: '64,x,5' (network 2 of 2)"});
    expect_usage_error(sweep({"--batch", "10,0"}), {"--batch 0 must be at least 1"});
    expect_usage_error(sweep({"--sizes", "64,16,5:64,0,5"}),
                       {"batchprop: error: --sizes 64,0,5: every layer needs at least one neuron\n"});
    expect_usage_error(sweep({"--lambda", "1,1"}), {"--lambda: '1' (value 2 of 2) repeats '1' (value 1 of 2)"});
    expect_usage_error(sweep({"--eta", "0.5,-2"}), {"--eta -2 must be a finite number > 0"});
    expect_usage_error(sweep({"--plot", path("p.png")}), {"--plot", "ending in .svg"});
    Args no_validation = sweep();
    no_validation.erase(no_validation.begin() + 3, no_validation.begin() + 5);
    expect_usage_error(no_validation, {"add --validation N"});
    expect_usage_error({"sweeep"}, {"did you mean 'sweep'?"});
}

// eta lambda / n >= 1 for one combination: refused, naming it, before anything is written.
TEST_F(CliSweep, BadCombinationIsRefusedBeforeAnythingTrains) {
    const std::string m = path("m.jsonl"), d = path("all"), c = path("ck");
    expect_usage_error(sweep({"--eta", "0.5,300", "--lambda", "0,2", "--metrics", m, "--save-dir", d, "--checkpoint", c}),
                       {"--eta * --lambda / n = 300 * 2 / 500 = 1.2 >= 1",
                        "in the combination --sizes 64,16,5 --eta 300 --lambda 2 --batch 7 (run 12)"},
                       {m, d, c});
    expect_usage_error(sweep({"--batch", "10,501"}), {"--batch 501 is larger than the training set (500 examples)",
                                                      "in the combination"});
    // An output that is an input.
    expect_usage_error(sweep({"--save-best", path("idx/train-images-idx3-ubyte")}), {"--save-best", "which the run reads"});
}

// A diverging model is reported in its row; the others train, are chosen and saved.
TEST_F(CliSweep, DivergenceStaysInItsRow) {
    const Result r = run(sweep({"--sizes", "64,16,5", "--lambda", "0", "--batch", "10", "--seeds", "1", "--eta",
                                "0.5,3e38", "--save-dir", path("all"), "--checkpoint", path("ck")}));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "diverged in epoch 1")) << r.out;
    EXPECT_TRUE(contains(r.out, "Done: 2 models (1 diverged, 1 done)")) << r.out;
    EXPECT_TRUE(fs::exists(path("all/run-000.json")));
    EXPECT_FALSE(fs::exists(path("all/run-001.json")));  // no network worth saving
    // Resumed, the diverged model is reported again, not trained into its fault again.
    const Result again = run({"sweep", "--resume", path("ck")});
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_TRUE(contains(again.out, "diverged in epoch 1")) << again.out;
    EXPECT_TRUE(contains(again.out, "2 of 2 models finished, 0 epochs left")) << again.out;
    // The chosen model, not trained again, is still the one of its last epoch.
    EXPECT_TRUE(contains(again.out, "(the model of epoch 2, as saved)")) << again.out;
    // The checkpoint being resumed is an input: checkpointing elsewhere, no output may replace it.
    const std::string kept = slurp(path("ck/run-000.ckpt.json")), sweep_json = slurp(path("ck/sweep.json"));
    expect_usage_error({"sweep", "--resume", path("ck"), "--checkpoint", path("ck2"), "--save-best",
                        path("ck/run-000.ckpt.json")},
                       {"--save-best", "is --resume's run 0, which the run reads"}, {path("ck2")});
    expect_usage_error({"sweep", "--resume", path("ck"), "--checkpoint", path("ck2"), "--metrics", path("ck/sweep.json")},
                       {"--metrics", "is --resume's sweep.json, which the run reads"}, {path("ck2")});
    EXPECT_EQ(slurp(path("ck/run-000.ckpt.json")), kept);
    EXPECT_EQ(slurp(path("ck/sweep.json")), sweep_json);
}

namespace {
// Starts the CLI, waits until `file` has `lines` lines, sends `sig`, and returns the result.
Result interrupt_after(const Args& args, const std::string& out, const std::string& err, const std::string& file,
                       int lines, int sig) {
    const pid_t pid = bptest::spawn(args, out, err);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    auto count = [&] {
        const std::string s = slurp(file);
        return int(std::count(s.begin(), s.end(), '\n'));
    };
    int status = 0;
    while (count() < lines) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            ADD_FAILURE() << "the sweep ended before it could be stopped:\n" << slurp(err);
            return Result{};
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            ADD_FAILURE() << "no progress within 30 s:\n" << slurp(err);
            return Result{};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid, sig);
    return bptest::finish(pid, out, err);
}
}  // namespace

// Ctrl-C: every model stops after its current mini-batch, the table so far is printed, what was
// asked is saved, exit 130; resumed, the sweep ends with the models of a sweep never stopped.
TEST_F(CliSweep, CtrlCThenResumeEqualsUninterrupted) {
    const Args grid{"--sizes", "64,16,5", "--lambda", "0", "--batch", "10", "--epochs", "200", "--eta", "0.5,1,3",
                    "--early-stop", "30"};
    Args first = sweep(grid);
    first.insert(first.end(), {"--checkpoint", path("ck"), "--metrics", path("m.jsonl"), "--save-dir", path("cut")});
    const Result r = interrupt_after(first, path("out"), path("err"), path("m.jsonl"), 8, SIGINT);
    ASSERT_EQ(r.code, 130) << r.err << r.out;
    EXPECT_TRUE(contains(r.out, "The models so far, by best validation accuracy:")) << r.out;
    EXPECT_TRUE(contains(r.out, "Stopped: 6 models")) << r.out;
    EXPECT_TRUE(contains(r.err, "interrupted; continue the sweep with --resume " + path("ck"))) << r.err;
    const Result resumed = run({"sweep", "--resume", path("ck"), "--save-dir", path("resumed"), "--metrics", path("m.jsonl")});
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_TRUE(contains(resumed.out, "resuming " + path("ck"))) << resumed.out;
    Args straight = sweep(grid);
    straight.insert(straight.end(), {"--save-dir", path("straight"), "-q"});
    ASSERT_EQ(run(straight).code, 0);
    for (int id = 0; id < 6; ++id) {
        char name[32];
        std::snprintf(name, sizeof name, "/run-%03d.json", id);
        EXPECT_EQ(params(path("resumed") + name), params(path("straight") + name)) << name;
        EXPECT_EQ(load_model(path("resumed") + name).batchprop.at("epochs"),
                  load_model(path("straight") + name).batchprop.at("epochs"));
    }
    // A flag that contradicts the sweep being resumed is refused (exit 1, as train's --resume).
    const Result bad = run({"sweep", "--resume", path("ck"), "--eta", "9"});
    EXPECT_EQ(bad.code, 1);
    EXPECT_TRUE(contains(bad.err, "these flags contradict the run being resumed: --eta 9 (the run's: 0.5,1,3)")) << bad.err;
}

TEST_F(CliSweep, SigtermStopsWith143) {
    Args a = sweep({"--sizes", "64,16,5", "--batch", "10", "--epochs", "400", "--metrics", path("m.jsonl"), "--save-best",
                    path("best.json")});
    const Result r = interrupt_after(a, path("out"), path("err"), path("m.jsonl"), 2, SIGTERM);
    EXPECT_EQ(r.code, 143) << r.err;
    EXPECT_TRUE(contains(r.err, "terminated; no --checkpoint: a new sweep starts over")) << r.err;
    EXPECT_TRUE(fs::exists(path("best.json")));  // the best so far
}

}  // namespace
