// The batchprop executable end to end, run as a separate process: every command's help, the
// happy paths (train -> save -> eval -> predict, CSV, --validation, --init-model, --monitor,
// --metrics, --early-stop, --quiet, Ctrl-C, the live display on a terminal), and each kind of
// bad input: exit code, one clear message naming the problem and the file or flag, and no
// output file created or changed. Data sets are tiny files written here, never the real one
// (except one short smoke test that skips when Fashion-MNIST is not installed).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "batchprop/backend.hpp"
#include "batchprop/dataset.hpp"
#include "batchprop/model_io.hpp"
#include "support/cli_process.hpp"
#include "support/test_util.hpp"

namespace fs = std::filesystem;
using batchprop::Cost;
using batchprop::load_model;
using batchprop::Model;

namespace {

using bptest::Args;
using bptest::contains;
using bptest::finish;
using bptest::Result;
using bptest::slurp;
using bptest::spawn;

class Cli : public bptest::TempDirTest {
protected:
    Cli() : TempDirTest("bp_cli") {}
    void SetUp() override {
        TempDirTest::SetUp();
        fs::create_directories(dir_ / "idx");
        fs::create_directories(dir_ / "csv");
        write_data();
    }

    Result run(const Args& args) const {
        const std::string out = path("stdout"), err = path("stderr");
        return finish(spawn(args, out, err), out, err);
    }

    static void write_bytes(const std::string& p, const std::vector<std::uint8_t>& b) {
        std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    }
    // A small learnable problem: 2x2 images, 3 classes; class c has pixel c bright.
    void make_set(int n, std::uint32_t seed, std::vector<std::uint8_t>& pixels, std::vector<std::uint8_t>& labels) {
        std::uint32_t s = seed;
        auto next = [&s] { return s = s * 1664525u + 1013904223u, s >> 24; };
        for (int j = 0; j < n; ++j) {
            const int c = int(next() % 3);
            labels.push_back(std::uint8_t(c));
            for (int i = 0; i < 4; ++i) pixels.push_back(std::uint8_t(i == c ? 180 + next() % 70 : next() % 60));
        }
    }
    void write_data() {
        std::vector<std::uint8_t> tp, tl, vp, vl;
        make_set(n_train_, 1, tp, tl);
        make_set(n_test_, 2, vp, vl);
        write_bytes(path("idx/train-images-idx3-ubyte"), bptest::idx_bytes({std::uint32_t(n_train_), 2, 2}, tp));
        write_bytes(path("idx/train-labels-idx1-ubyte"), bptest::idx_bytes({std::uint32_t(n_train_)}, tl));
        write_bytes(path("idx/t10k-images-idx3-ubyte"), bptest::idx_bytes({std::uint32_t(n_test_), 2, 2}, vp));
        write_bytes(path("idx/t10k-labels-idx1-ubyte"), bptest::idx_bytes({std::uint32_t(n_test_)}, vl));
        auto csv = [](const std::vector<std::uint8_t>& p, const std::vector<std::uint8_t>& l) {
            std::string t = "label,1x1,1x2,2x1,2x2\n";
            for (std::size_t j = 0; j < l.size(); ++j) {
                t += std::to_string(l[j]);
                for (int i = 0; i < 4; ++i) t += "," + std::to_string(p[j * 4 + std::size_t(i)]);
                t += "\n";
            }
            return t;
        };
        std::ofstream(path("csv/mnist_train.csv")) << csv(tp, tl);
        std::ofstream(path("csv/mnist_test.csv")) << csv(vp, vl);
    }

    // train on the small IDX set, on the CPU (fast and the same everywhere).
    Args train(const Args& extra = {}) const {
        Args a{"train", "--data", path("idx"), "--sizes", "4,6,3", "--epochs", "3", "--batch", "10",
               "--eta", "3", "--device", "cpu", "--cost", "cross-entropy"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
    // A trained model at path("model.json").
    std::string trained_model() {
        const Result r = run(train({"--save", path("model.json"), "--epochs", "20"}));
        EXPECT_EQ(r.code, 0) << r.err;
        return path("model.json");
    }

    // The command fails with a non-zero exit, one error line containing each needle, and
    // prints nothing on stdout.
    void expect_failure(const Args& args, const std::vector<std::string>& needles) const {
        const Result r = run(args);
        std::string cmd;
        for (const std::string& a : args) cmd += a + " ";
        EXPECT_NE(r.code, 0) << cmd;
        EXPECT_EQ(r.signal, 0) << cmd << ": crashed";
        EXPECT_TRUE(contains(r.err, "batchprop: error: ")) << cmd << "\n" << r.err;
        for (const std::string& n : needles) EXPECT_TRUE(contains(r.err, n)) << cmd << "\nmissing '" << n << "' in: " << r.err;
        EXPECT_TRUE(r.out.empty() || contains(r.out, "Usage") == false) << cmd << "\n" << r.out;
    }

    // A mistake in the command line: exit status 2, one error line with each needle.
    void expect_usage_error(const Args& args, const std::vector<std::string>& needles) const {
        expect_failure(args, needles);
        std::string cmd;
        for (const std::string& a : args) cmd += a + " ";
        EXPECT_EQ(run(args).code, 2) << cmd;
    }

    int n_train_ = 120, n_test_ = 30;
};

// Sets an environment variable for the lifetime of the object (the CLI inherits it).
struct ScopedEnv {
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old, had_ = true;
        setenv(name, value, 1);
    }
    ~ScopedEnv() {
        if (had_)
            setenv(name_, old_.c_str(), 1);
        else
            unsetenv(name_);
    }
    const char* name_;
    std::string old_;
    bool had_ = false;
};

// ---- help and usage --------------------------------------------------------------------------

TEST_F(Cli, EveryCommandHasHelp) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
        {"train", {"--data", "--train-images", "--train-csv", "--format", "--validation", "--monitor", "--save",
                   "--init-model", "--metrics", "--early-stop", "--early-stop-on-test", "--quiet", "--sizes", "--dtype",
                   "--device", "BATCHPROP_DEVICE"}},
        {"eval", {"--model", "--data", "--split", "--validation", "--json", "--format", "--test-images"}},
        {"predict", {"--model", "--images", "--outputs", "--format"}},
        {"gradcheck", {"--sizes", "--cost", "--dtype", "--seed", "--lambda", "--batch", "--tolerance"}},
        {"info", {}},
    };
    for (const auto& [cmd, flags] : commands) {
        const Result r = run({cmd, "--help"});
        EXPECT_EQ(r.code, 0) << cmd;
        EXPECT_TRUE(contains(r.out, "Usage: batchprop " + cmd)) << r.out;
        for (const std::string& f : flags) EXPECT_TRUE(contains(r.out, f)) << cmd << " --help lacks " << f;
    }
    const Result top = run({"--help"});
    EXPECT_EQ(top.code, 0);
    for (const char* cmd : {"train", "eval", "predict", "gradcheck", "info"}) EXPECT_TRUE(contains(top.out, cmd));
}

TEST_F(Cli, UnknownCommandsFlagsAndValues) {
    expect_usage_error({"trian"}, {"unknown command 'trian' (did you mean 'train'?)"});
    expect_usage_error({"frobnicate"}, {"unknown command 'frobnicate'", "the commands are train, sweep, eval, predict, gradcheck, info"});
    expect_usage_error({"train", "--bogus"}, {"--bogus"});
    expect_usage_error({"eval", "--model", "m.json", "--bogus", "1"}, {"--bogus"});
    expect_usage_error(train({"--cost", "hinge"}), {"--cost", "hinge"});
    expect_usage_error(train({"--mode", "fast"}), {"--mode", "fast"});
    expect_usage_error(train({"--dtype", "f16"}), {"--dtype", "f16"});
    expect_usage_error(train({"--device", "gpu"}), {"--device", "'gpu'"});
    expect_usage_error(train({"--init", "zeros"}), {"--init", "zeros"});
    expect_usage_error(train({"--monitor", "eval-acc,accuracy"}), {"--monitor", "accuracy"});
    expect_usage_error(train({"--monitor", "none,eval-acc"}), {"--monitor", "none"});
    expect_usage_error(train({"--format", "xml"}), {"--format", "xml"});
    expect_usage_error(train({"--epochs", "many"}), {"--epochs: 'many' is not a whole number"});
    expect_usage_error(train({"--sizes", "4,x,3"}), {"--sizes"});
    expect_usage_error(train({"--train-limit", "0"}), {"--train-limit"});
    expect_usage_error(train({"--validation", "-5"}), {"--validation"});
    expect_usage_error(train({"--early-stop", "0"}), {"--early-stop"});
    expect_usage_error(train({"--init", "scaled", "--init-model", path("m.json")}), {"--init", "--init-model"});
    expect_usage_error(train({"--train-images", path("idx/train-images-idx3-ubyte")}), {"--train-labels"});
    expect_usage_error({"eval", "--model", path("m.json"), "--split", "holdout"}, {"--split", "holdout"});
    expect_usage_error({"eval", "--data", path("idx")}, {"--model is required"});
    expect_usage_error({"predict", "--model", path("m.json")}, {"--images is required"});
    expect_usage_error(train({"--format", "idx", "--train-csv", path("csv/mnist_train.csv")}), {"--train-csv", "--format idx"});
}

// The mistakes a newcomer makes get a hint, not just a complaint; every usage error exits 2.
TEST_F(Cli, FlagMistakesSuggestTheFix) {
    expect_usage_error(train({"--epoch", "1"}), {"unknown option '--epoch' (did you mean '--epochs'?)"});
    expect_usage_error(train({"--lamda", "5"}), {"unknown option '--lamda' (did you mean '--lambda'?)"});
    expect_usage_error({"eval", "--modle", "m.json"}, {"unknown option '--modle' (did you mean '--model'?)"});
    expect_usage_error(train({"--sizes", "4", "6", "3"}),
                       {"unexpected argument '6' after --sizes", "comma-separated", "(--sizes 4,6,3)"});
    expect_usage_error(train({"--epochs", "1.5"}), {"--epochs: '1.5' is not a whole number"});
    expect_usage_error(train({"--eta", "fast"}), {"--eta: 'fast' is not a number"});
    expect_usage_error(train({"--seed", "-1"}), {"--seed: must be a whole number from 0 to 18446744073709551615 (got -1)"});
    // A mistyped value: the words the flag takes, and the nearest (the library's one table).
    expect_usage_error(train({"--cost", "crossentropy"}),
                       {"--cost: 'crossentropy' is not one of quadratic, cross-entropy (did you mean 'cross-entropy'?)"});
    expect_usage_error(train({"--launch", "fussed"}), {"--launch: 'fussed' is not one of auto, fused, graph, eager",
                                                       "did you mean 'fused'?"});
    expect_usage_error(train({"--device", "cdua"}), {"--device: 'cdua' is not one of auto, cpu, cuda, cuda:N",
                                                     "did you mean 'cuda'?"});
    // Settings that contradict each other are a usage error on the CPU too.
    expect_usage_error(train({"--launch", "fused", "--mode", "per-example"}),
                       {"--launch fused runs matrix mode only (not --mode per-example)"});
    // A setting that contradicts the data: named by its flag, a usage error.
    expect_usage_error(train({"--batch", "500"}), {"--batch 500 is larger than the training set"});
    expect_usage_error({"--epochs", "3"}, {"unknown option '--epochs'", "after the command"});
    const Result r = run(train({"--epoch", "1"}));
    EXPECT_TRUE(contains(r.err, "Run 'batchprop train --help' for the options.")) << r.err;
    // Errors that are not about the command line exit 1.
    const Result missing = run(train({"--data", path("nowhere")}));
    EXPECT_EQ(missing.code, 1) << missing.err;
}

// Plain `batchprop` shows what it can do; --version works after a command too; the help lists
// the exit statuses.
TEST_F(Cli, HelpVersionAndExitStatuses) {
    const Result plain = run({});
    EXPECT_EQ(plain.code, 0) << plain.err;
    EXPECT_TRUE(contains(plain.out, "Usage: batchprop")) << plain.out;
    EXPECT_TRUE(contains(plain.out, "train")) << plain.out;
    EXPECT_TRUE(contains(plain.out, "Exit status: 0 success, 1 failure, 2 usage error")) << plain.out;
    EXPECT_EQ(plain.err, "");
    for (const char* cmd : {"train", "eval", "predict", "gradcheck", "info"}) {
        const Result v = run({cmd, "--version"});
        EXPECT_EQ(v.code, 0) << cmd << ": " << v.err;
        EXPECT_TRUE(contains(v.out, "batchprop " BATCHPROP_VERSION)) << v.out;
    }
    EXPECT_EQ(run({"--version"}).code, 0);
}

// ---- the happy paths -------------------------------------------------------------------------

TEST_F(Cli, TrainSaveEvalPredict) {
    const Result t = run(train({"--epochs", "20", "--save", path("m.json"), "--metrics", path("metrics.jsonl")}));
    ASSERT_EQ(t.code, 0) << t.err;
    EXPECT_TRUE(contains(t.out, "sizes 4,6,3, 120 training examples, 30 evaluation examples")) << t.out;
    EXPECT_TRUE(contains(t.out, "Epoch 20/20: eval accuracy ")) << t.out;
    EXPECT_TRUE(contains(t.out, "Saved the model to " + path("m.json"))) << t.out;
    EXPECT_TRUE(t.err.empty()) << t.err;

    // The model file: network2.py's keys, plus what batchprop records.
    const Model m = load_model(path("m.json"));
    EXPECT_EQ(m.net.sizes(), (std::vector<int>{4, 6, 3}));
    EXPECT_EQ(m.cost, Cost::cross_entropy);
    EXPECT_EQ(m.batchprop.at("epochs"), 20);

    // Metrics: one line per epoch with exactly the documented keys.
    std::istringstream lines(slurp(path("metrics.jsonl")));
    std::string line;
    int n = 0;
    const std::vector<std::string> keys{"epoch", "seconds", "examples", "examples_per_s", "eval_accuracy", "eval_cost",
                                        "train_accuracy", "train_cost", "device", "mode", "dtype", "batch",
                                        "sizes", "eta", "lambda", "cost", "seed", "init", "init_model", "time"};
    while (std::getline(lines, line)) {
        const nlohmann::json j = nlohmann::json::parse(line);
        ++n;
        EXPECT_EQ(j.size(), keys.size()) << line;
        for (const std::string& k : keys) EXPECT_TRUE(j.contains(k)) << k << " missing: " << line;
        EXPECT_EQ(j["epoch"], n);
        EXPECT_TRUE(j["eval_accuracy"].is_number());
        EXPECT_TRUE(j["eval_cost"].is_number());
        EXPECT_TRUE(j["train_accuracy"].is_null());  // not monitored by default
        EXPECT_TRUE(j["train_cost"].is_null());
        EXPECT_EQ(j["sizes"], nlohmann::json::parse("[4,6,3]"));
        EXPECT_EQ(j["batch"], 10);
        EXPECT_EQ(j["cost"], "cross-entropy");
        EXPECT_EQ(j["mode"], "matrix");
        EXPECT_EQ(j["dtype"], "f32");
        EXPECT_EQ(j["seed"], 1);
        EXPECT_EQ(j["init"], "gaussian");
        EXPECT_TRUE(j["init_model"].is_null());
        const std::string time = j["time"];
        EXPECT_EQ(time.size(), 20u) << time;  // 2026-11-29T17:04:09Z
        EXPECT_EQ(time.back(), 'Z') << time;
    }
    EXPECT_EQ(n, 20);

    // eval: the same accuracy the last epoch reported, per class, and the confusion matrix.
    const Result e = run({"eval", "--model", path("m.json"), "--data", path("idx"), "--device", "cpu"});
    ASSERT_EQ(e.code, 0) << e.err;
    const std::size_t at = t.out.find("Epoch 20/20: eval accuracy ");
    const std::string acc = t.out.substr(at + 27, t.out.find(')', at) - at - 27 + 1);  // "27 / 30 (90.00%)"
    EXPECT_TRUE(contains(e.out, "accuracy " + acc)) << acc << "\n" << e.out;
    EXPECT_TRUE(contains(e.out, "per class")) << e.out;
    EXPECT_TRUE(contains(e.out, "confusion matrix (rows: true class, columns: predicted class)")) << e.out;
    const Result etrain = run({"eval", "--model", path("m.json"), "--data", path("idx"), "--split", "train", "--device", "cpu"});
    EXPECT_EQ(etrain.code, 0) << etrain.err;
    EXPECT_TRUE(contains(etrain.out, "/ 120 (")) << etrain.out;

    // predict: one label per image; with --outputs, a tab and n_L activations.
    const Result p = run({"predict", "--model", path("m.json"), "--images", path("idx/t10k-images-idx3-ubyte"), "--device", "cpu"});
    ASSERT_EQ(p.code, 0) << p.err;
    std::istringstream pl(p.out);
    int count = 0;
    while (std::getline(pl, line)) {
        ++count;
        EXPECT_TRUE(line == "0" || line == "1" || line == "2") << line;
    }
    EXPECT_EQ(count, n_test_);
    const Result po = run({"predict", "--model", path("m.json"), "--images", path("idx/t10k-images-idx3-ubyte"),
                           "--outputs", "--device", "cpu", "--dtype", "f64"});
    ASSERT_EQ(po.code, 0) << po.err;
    std::istringstream first(po.out.substr(0, po.out.find('\n')));
    int label = -1;
    double a[3];
    ASSERT_TRUE(first >> label >> a[0] >> a[1] >> a[2]) << po.out;
    EXPECT_EQ(label, int(std::max_element(a, a + 3) - a)) << po.out;
    for (double v : a) EXPECT_TRUE(v > 0 && v < 1) << po.out;
}

TEST_F(Cli, CsvDataGivesTheSameRunAsIdx) {
    const Result idx = run(train({"--save", path("a.json"), "--no-shuffle"}));
    ASSERT_EQ(idx.code, 0) << idx.err;
    const Result csv = run({"train", "--format", "csv", "--data", path("csv"), "--sizes", "4,6,3", "--epochs", "3",
                            "--batch", "10", "--eta", "3", "--device", "cpu", "--cost", "cross-entropy",
                            "--save", path("b.json"), "--no-shuffle"});
    ASSERT_EQ(csv.code, 0) << csv.err;
    // Same pixels, same scaling, same seed: the same parameters, bit for bit.
    EXPECT_EQ(load_model(path("a.json")).net.params(), load_model(path("b.json")).net.params());
    const Result explicit_files = run({"train", "--format", "csv", "--train-csv", path("csv/mnist_train.csv"),
                                       "--test-csv", path("csv/mnist_test.csv"), "--sizes", "4,6,3", "--epochs", "1",
                                       "--device", "cpu"});
    EXPECT_EQ(explicit_files.code, 0) << explicit_files.err;
    const Result e = run({"eval", "--model", path("a.json"), "--format", "csv", "--data", path("csv"), "--device", "cpu"});
    EXPECT_EQ(e.code, 0) << e.err;
    const Result p = run({"predict", "--model", path("a.json"), "--format", "csv", "--images", path("csv/mnist_test.csv"),
                          "--device", "cpu"});
    EXPECT_EQ(p.code, 0) << p.err;
    EXPECT_EQ(std::count(p.out.begin(), p.out.end(), '\n'), n_test_);
}

TEST_F(Cli, ExplicitIdxFilesOverrideTheDirectory) {
    const Result r = run({"train", "--data", path("nowhere"), "--train-images", path("idx/train-images-idx3-ubyte"),
                          "--train-labels", path("idx/train-labels-idx1-ubyte"), "--test-images",
                          path("idx/t10k-images-idx3-ubyte"), "--test-labels", path("idx/t10k-labels-idx1-ubyte"),
                          "--sizes", "4,6,3", "--epochs", "1", "--device", "cpu"});
    EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(Cli, ValidationHoldsOutTheLastTrainingImages) {
    const Result r = run(train({"--validation", "20", "--train-limit", "1000"}));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "100 training examples, 20 evaluation examples (the last 20 training images")) << r.out;
    EXPECT_TRUE(contains(r.out, "eval accuracy ") && contains(r.out, " / 20 (")) << r.out;
    const Result limited = run(train({"--validation", "20", "--train-limit", "50"}));
    EXPECT_TRUE(contains(limited.out, "50 training examples, 20 evaluation examples")) << limited.out;
    // The test set is not even looked for.
    fs::remove(path("idx/t10k-images-idx3-ubyte"));
    EXPECT_EQ(run(train({"--validation", "20"})).code, 0);
}

TEST_F(Cli, MonitorChoosesWhatIsReported) {
    const Result r = run(train({"--monitor", "train-acc,train-cost", "--metrics", path("m.jsonl"), "--epochs", "1"}));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "Epoch 1/1: training accuracy ")) << r.out;  // the last --epochs counts
    EXPECT_TRUE(contains(r.out, "training cost ")) << r.out;
    EXPECT_FALSE(contains(r.out, "eval accuracy") || contains(r.out, "eval cost")) << r.out;
    const nlohmann::json j = nlohmann::json::parse(slurp(path("m.jsonl")));
    EXPECT_TRUE(j["eval_accuracy"].is_null());
    EXPECT_TRUE(j["eval_cost"].is_null());
    EXPECT_TRUE(j["train_accuracy"].is_number());
    EXPECT_TRUE(j["train_cost"].is_number());
    const Result all = run(train({"--monitor", "eval-acc,eval-cost,train-acc,train-cost", "--epochs", "1"}));
    EXPECT_TRUE(contains(all.out, "eval accuracy") && contains(all.out, "eval cost") &&
                contains(all.out, "training accuracy") && contains(all.out, "training cost"))
        << all.out;
    const Result none = run(train({"--monitor", "none", "--epochs", "1"}));
    EXPECT_TRUE(contains(none.out, "Epoch 1/1: SGD ")) << none.out;
}

TEST_F(Cli, QuietPrintsNothing) {
    const Result r = run(train({"--quiet", "--save", path("m.json")}));
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "");
    EXPECT_TRUE(fs::exists(path("m.json")));
}

TEST_F(Cli, InitModelContinuesTraining) {
    const std::string model = trained_model();
    const Result r = run({"train", "--data", path("idx"), "--init-model", model, "--epochs", "1", "--device", "cpu",
                          "--save", path("more.json")});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "sizes 4,6,3")) << r.out;  // taken from the model
    EXPECT_TRUE(contains(r.out, "cross-entropy cost")) << r.out;  // and its cost
    EXPECT_TRUE(contains(r.out, "starting from " + model)) << r.out;
    EXPECT_EQ(load_model(path("more.json")).batchprop.at("init_model"), model);
    // Starting from a trained model, the first epoch is already accurate.
    EXPECT_TRUE(contains(r.out, "(9") || contains(r.out, "(100.00%)")) << r.out;
    expect_failure({"train", "--data", path("idx"), "--init-model", model, "--sizes", "4,5,3", "--device", "cpu"},
                   {"--sizes 4,5,3 does not match the model " + model, "4,6,3"});
}

TEST_F(Cli, EarlyStopKeepsTheBestEpoch) {
    const Result r = run(train({"--early-stop", "2", "--epochs", "200", "--validation", "20", "--save", path("m.json"),
                                "--metrics", path("m.jsonl"), "--monitor", "eval-cost"}));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "Early stop: no better evaluation accuracy for 2 epochs; the best was epoch ")) << r.out;
    const Model m = load_model(path("m.json"));
    const int best = m.batchprop.at("best_epoch");
    const int epochs = m.batchprop.at("epochs");
    EXPECT_EQ(epochs, best + 2);
    EXPECT_LT(epochs, 200);
    EXPECT_EQ(m.batchprop.at("validation"), 20);
    EXPECT_TRUE(contains(r.out, "Done: " + std::to_string(epochs) + " epochs in ")) << r.out;
    // --early-stop needs the evaluation accuracy, so it is reported even if not asked for.
    EXPECT_TRUE(nlohmann::json::parse(slurp(path("m.jsonl")).substr(0, slurp(path("m.jsonl")).find('\n')))["eval_accuracy"].is_number());
    // The saved parameters are the best epoch's: eval on the same validation split reproduces
    // that epoch's accuracy (the split comes from the model's record).
    const std::string marker = "Epoch " + std::to_string(best) + "/200: eval accuracy ";
    const std::size_t at = r.out.find(marker);
    ASSERT_NE(at, std::string::npos) << r.out;
    const std::string acc = r.out.substr(at + marker.size(), r.out.find(')', at) - at - marker.size() + 1);
    const Result e = run({"eval", "--model", path("m.json"), "--data", path("idx"), "--device", "cpu", "--split", "validation"});
    EXPECT_TRUE(contains(e.out, "accuracy " + acc)) << acc << "\n" << e.out;
    EXPECT_TRUE(contains(e.out, "20 examples (validation set: the last 20 training images)")) << e.out;
}

// Early stopping on the test set is a choice made explicitly, never a silent default.
TEST_F(Cli, EarlyStopOnTheTestSetIsAChoice) {
    expect_usage_error(train({"--early-stop", "2"}), {"--early-stop without --validation", "--early-stop-on-test"});
    expect_usage_error(train({"--early-stop", "2", "--validation", "20", "--early-stop-on-test"}), {"contradict"});
    const Result r = run(train({"--early-stop", "2", "--early-stop-on-test", "--epochs", "5"}));
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.err, "note: --early-stop-on-test")) << r.err;
    EXPECT_TRUE(contains(r.out, "30 evaluation examples")) << r.out;
}

// Continuing from a model keeps the settings it was trained with unless flags override them.
TEST_F(Cli, InitModelKeepsItsSettings) {
    const Result first = run(train({"--eta", "0.5", "--lambda", "0.25", "--batch", "5", "--mode", "per-example",
                                    "--dtype", "f64", "--epochs", "2", "--save", path("m.json")}));
    ASSERT_EQ(first.code, 0) << first.err;
    const Args more{"train", "--data", path("idx"), "--init-model", path("m.json"), "--epochs", "1", "--device", "cpu",
                    "--save", path("more.json")};
    const Result r = run(more);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "m = 5, eta = 0.5, lambda = 0.25, cross-entropy cost, per-example mode, f64")) << r.out;
    EXPECT_TRUE(contains(r.out, "continuing with the settings " + path("m.json") + " was trained with")) << r.out;
    const Model m = load_model(path("more.json"));
    EXPECT_EQ(m.batchprop.at("eta"), 0.5);
    EXPECT_EQ(m.batchprop.at("lambda"), 0.25);
    EXPECT_EQ(m.batchprop.at("batch"), 5);
    EXPECT_EQ(m.batchprop.at("dtype"), "f64");
    Args overridden = more;
    overridden.insert(overridden.end(), {"--eta", "2", "--lambda", "0", "--batch", "10", "--mode", "matrix", "--dtype", "f32"});
    const Result o = run(overridden);
    ASSERT_EQ(o.code, 0) << o.err;
    EXPECT_TRUE(contains(o.out, "m = 10, eta = 2, lambda = 0, cross-entropy cost, matrix mode, f32")) << o.out;
    // A network2.py model (no "batchprop" record): the flags' defaults, said so.
    std::ofstream(path("n2.json")) << R"({"sizes": [4, 3], "weights": [[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]], )"
                                   << R"("biases": [[[0], [0], [0]]], "cost": "QuadraticCost"})";
    const Result n2 = run({"train", "--data", path("idx"), "--init-model", path("n2.json"), "--epochs", "1", "--device", "cpu"});
    EXPECT_EQ(n2.code, 0) << n2.err;
    EXPECT_TRUE(contains(n2.out, "records no training settings")) << n2.out;
}

// With --early-stop, the model continued from is the baseline: no epoch that is worse on the
// validation data is ever saved as "the best".
TEST_F(Cli, EarlyStopNeverSavesWorseThanTheStart) {
    const Result first = run(train({"--epochs", "30", "--validation", "20", "--save", path("start.json")}));
    ASSERT_EQ(first.code, 0) << first.err;
    // A learning rate that wrecks the network: every epoch is worse than the start.
    const Result r = run({"train", "--data", path("idx"), "--init-model", path("start.json"), "--epochs", "10",
                          "--early-stop", "2", "--validation", "20", "--eta", "5000", "--device", "cpu", "--save",
                          path("better.json")});
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string marker = "Epoch 0 (the starting model): eval accuracy ";
    ASSERT_TRUE(contains(r.out, marker)) << r.out;
    const Model start = load_model(path("start.json")), saved = load_model(path("better.json"));
    const int best = saved.batchprop.at("best_epoch");
    if (best == 0) {
        EXPECT_EQ(saved.net.params(), start.net.params());
        EXPECT_TRUE(contains(r.out, "the best was epoch 0 (the starting model)")) << r.out;
        EXPECT_TRUE(contains(r.out, "Saved the starting model, unchanged, to " + path("better.json"))) << r.out;
        // The summary's best is the starting model's accuracy, at epoch 0.
        const std::size_t a0 = r.out.find(marker) + marker.size();
        const std::string start_acc = r.out.substr(a0, r.out.find(')', a0) - a0 + 1);
        EXPECT_TRUE(contains(r.out, "; best eval accuracy " + start_acc + " at epoch 0; no epoch beat the starting model"))
            << r.out;
    } else {  // an epoch did beat it: its accuracy must be higher than the start's
        const std::size_t a0 = r.out.find(marker) + marker.size();
        const std::string eb = "Epoch " + std::to_string(best) + "/10: eval accuracy ";
        const std::size_t ab = r.out.find(eb) + eb.size();
        EXPECT_GT(std::stoi(r.out.substr(ab)), std::stoi(r.out.substr(a0))) << r.out;
    }
}

// eval can evaluate the validation split train held out, says how its cost relates to train's
// (which includes the L2 term), and has a machine-readable form.
TEST_F(Cli, EvalSplitsCostsAndJson) {
    const Result t = run(train({"--epochs", "3", "--lambda", "0.5", "--validation", "20", "--save", path("m.json")}));
    ASSERT_EQ(t.code, 0) << t.err;
    const Result e = run({"eval", "--model", path("m.json"), "--data", path("idx"), "--device", "cpu", "--validation", "20"});
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_TRUE(contains(e.out, "20 examples (validation set: the last 20 training images)")) << e.out;
    // --split train: what the model trained on, never its validation split; the report says so.
    const Result fit = run({"eval", "--model", path("m.json"), "--data", path("idx"), "--device", "cpu", "--split", "train"});
    ASSERT_EQ(fit.code, 0) << fit.err;
    const std::string n_fit = std::to_string(n_train_ - 20);
    EXPECT_TRUE(contains(fit.out, n_fit + " examples (training set: the first " + n_fit +
                                     " training images (the last 20 are the validation set))"))
        << fit.out;
    // A validation split the data cannot hold: the flag against the data, a usage error.
    expect_usage_error({"eval", "--model", path("m.json"), "--data", path("idx"), "--device", "cpu", "--validation", "100000"},
                       {"--validation 100000: ", "has only " + std::to_string(n_train_) + " training images"});
    expect_usage_error(train({"--validation", "100000"}), {"--validation 100000 leaves no training examples"});
    EXPECT_TRUE(contains(e.out, "(no regularisation term)")) << e.out;
    EXPECT_TRUE(contains(e.out, "cost with the L2 term")) << e.out;
    // train's last "eval cost" is eval's cost with the L2 term.
    const std::size_t at = t.out.rfind("eval cost ");
    ASSERT_NE(at, std::string::npos) << t.out;
    const std::string cost = t.out.substr(at + 10, 6);
    EXPECT_TRUE(contains(e.out, "as train reports it: " + cost)) << cost << "\n" << e.out;

    const Result j = run({"eval", "--model", path("m.json"), "--data", path("idx"), "--device", "cpu", "--json"});
    ASSERT_EQ(j.code, 0) << j.err;
    const nlohmann::json o = nlohmann::json::parse(j.out);
    EXPECT_EQ(o["split"], "test");
    EXPECT_EQ(o["examples"], n_test_);
    EXPECT_TRUE(o["accuracy"].is_number() && o["cost"].is_number() && o["cost_with_l2"].is_number()) << j.out;
    EXPECT_EQ(o["confusion"].size(), 3u);
    EXPECT_EQ(o["per_class"].size(), 3u);
    long long sum = 0;
    for (const auto& row : o["confusion"])
        for (const auto& v : row) sum += v.get<long long>();
    EXPECT_EQ(sum, n_test_);
    const Result tr = run({"eval", "--model", path("m.json"), "--data", path("idx"), "--device", "cpu", "--split", "train",
                           "--validation", "20", "--json"});
    EXPECT_EQ(nlohmann::json::parse(tr.out)["examples"], n_train_ - 20) << tr.out << tr.err;
    expect_usage_error({"eval", "--model", path("m.json"), "--data", path("idx"), "--split", "test", "--validation", "20"},
                       {"--validation"});
}

// CSV data given without --format csv gets a hint; the CSV flags imply the format; a labels
// file passed as images is named as such.
TEST_F(Cli, CsvAndIdxMistakesGetAHint) {
    expect_failure(train({"--data", path("csv")}),
                   {"has no train-images-idx3-ubyte", "it has mnist_train.csv: for MNIST-CSV files add --format csv"});
    EXPECT_FALSE(contains(run(train({"--data", path("csv")})).err, "apt-get"));
    const std::string model = trained_model();
    expect_failure({"predict", "--model", model, "--images", path("csv/mnist_test.csv"), "--device", "cpu"},
                   {"bad IDX magic", "it looks like a CSV file: add --format csv"});
    expect_failure({"predict", "--model", model, "--images", path("idx/t10k-labels-idx1-ubyte"), "--device", "cpu"},
                   {"this is an IDX labels file, not images"});
    const Result e = run({"eval", "--model", model, "--test-csv", path("csv/mnist_test.csv"), "--device", "cpu"});
    EXPECT_EQ(e.code, 0) << e.err;
    EXPECT_TRUE(contains(e.out, "30 examples")) << e.out;
}

// What the run cut short or chose is said, not done silently.
TEST_F(Cli, ClampedSettingsAreSaid) {
    const Result big = run(train({"--train-limit", "1000", "--epochs", "1"}));
    EXPECT_EQ(big.code, 0) << big.err;
    EXPECT_TRUE(contains(big.err, "note: --train-limit 1000: ")) << big.err;
    EXPECT_TRUE(contains(big.err, "has 120 images; training on all 120")) << big.err;
    const Result val = run(train({"--train-limit", "110", "--validation", "20", "--epochs", "1"}));
    EXPECT_EQ(val.code, 0) << val.err;
    EXPECT_TRUE(contains(val.err, "only 100 training images precede the last 20")) << val.err;
    const Result fits = run(train({"--train-limit", "100", "--validation", "20", "--epochs", "1"}));
    EXPECT_FALSE(contains(fits.err, "note:")) << fits.err;
}

// --metrics - writes the JSON Lines to stdout, and nothing else goes there.
// --math tf32 (issue 20, item 5): float only, refused with f64 and with --launch fused, each
// in one line naming both settings; on the CPU it trains as ieee does, with one notice.
TEST_F(Cli, MathTf32IsAFloatOnlyOptIn) {
    expect_usage_error(train({"--math", "tf33"}), {"--math: 'tf33' is not one of ieee, tf32", "did you mean 'tf32'?"});
    expect_failure(train({"--math", "tf32", "--dtype", "f64"}), {"--math tf32 computes in float only (not --dtype f64)"});
    expect_failure(train({"--math", "tf32", "--launch", "fused"}), {"--math tf32", "not --launch fused"});
    const Result ieee = run(train({"--save", path("ieee.json")}));
    ASSERT_EQ(ieee.code, 0) << ieee.err;
    const Result tf32 = run(train({"--math", "tf32", "--save", path("tf32.json")}));
    ASSERT_EQ(tf32.code, 0) << tf32.err;
    EXPECT_TRUE(contains(tf32.err, "batchprop: math tf32: cpu")) << tf32.err;
    EXPECT_TRUE(contains(tf32.err, "has no tensor cores; its products stay IEEE float\n")) << tf32.err;
    EXPECT_EQ(std::count(tf32.err.begin(), tf32.err.end(), '\n'), 1) << "one notice: " << tf32.err;
    EXPECT_EQ(ieee.err, "");
    EXPECT_EQ(slurp(path("tf32.json")), slurp(path("ieee.json")));
}

TEST_F(Cli, MetricsToStdout) {
    const Result r = run(train({"--metrics", "-", "--epochs", "2"}));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_FALSE(fs::exists(path("-")));
    EXPECT_FALSE(fs::exists("-"));
    std::istringstream lines(r.out);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) EXPECT_EQ(nlohmann::json::parse(line)["epoch"], ++n) << line;
    EXPECT_EQ(n, 2);
    EXPECT_TRUE(contains(r.err, "Epoch 2/2: eval accuracy")) << r.err;
}

// --launch on the CPU is said to have no effect (every call runs as it is made); unasked, nothing.
TEST_F(Cli, LaunchOnTheCpuIsNoted) {
    const Result r = run(train({"--launch", "graph", "--epochs", "1"}));
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.err, "note: --launch has no effect on the CPU")) << r.err;
    const Result plain = run(train({"--epochs", "1"}));
    EXPECT_FALSE(contains(plain.err, "--launch")) << plain.err;
}

// BATCHPROP_DEVICE chooses the device without --device on every call; --device still wins.
TEST_F(Cli, DeviceFromTheEnvironment) {
    {
        ScopedEnv env("BATCHPROP_DEVICE", "cpu");
        const Result r = run({"train", "--data", path("idx"), "--sizes", "4,6,3", "--epochs", "1"});
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.err, "");  // no "no usable GPU" notice
        EXPECT_TRUE(contains(r.out, "cpu (OpenBLAS)")) << r.out;
    }
    {
        ScopedEnv env("BATCHPROP_DEVICE", "gpu");
        expect_usage_error({"train", "--data", path("idx"), "--sizes", "4,6,3", "--epochs", "1"},
                           {"BATCHPROP_DEVICE=gpu (the default --device): 'gpu' is not one of auto, cpu, cuda"});
        EXPECT_EQ(run({"train", "--data", path("idx"), "--sizes", "4,6,3", "--epochs", "1", "--device", "cpu"}).code, 0);
    }
    if (!batchprop::gpu_status().usable) {
        // A device that is not there: a failure (exit 1), said in the words that asked for it.
        ScopedEnv env("BATCHPROP_DEVICE", "cuda:1");
        expect_failure({"train", "--data", path("idx"), "--sizes", "4,6,3", "--epochs", "1"},
                       {"BATCHPROP_DEVICE=cuda:1 (the default --device): ", batchprop::gpu_status().reason});
        EXPECT_EQ(run({"train", "--data", path("idx"), "--sizes", "4,6,3", "--epochs", "1"}).code, 1);
    }
}

// On a machine without NVIDIA hardware the notice says so, not something about drivers.
TEST_F(Cli, NoGpuNoticeSaysWhatIsMissing) {
    const batchprop::GpuStatus& gpu = batchprop::gpu_status();
    if (gpu.usable) GTEST_SKIP() << "a GPU is usable here";
    const Result r = run({"train", "--data", path("idx"), "--sizes", "4,6,3", "--epochs", "1"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.err, "running on the CPU")) << r.err;
    EXPECT_TRUE(contains(r.err, "BATCHPROP_DEVICE=cpu")) << r.err;
    const bool nodes = fs::exists("/dev/nvidia0") || fs::exists("/dev/dxg");
    if (gpu.compiled && !nodes) {
        EXPECT_TRUE(contains(r.err, "no NVIDIA GPU found")) << r.err;
        EXPECT_FALSE(contains(r.err, "driver")) << r.err;
    }
}

TEST_F(Cli, GradcheckPassesAndFailsOnTolerance) {
    const Result ok = run({"gradcheck", "--sizes", "5,4,3", "--cost", "cross-entropy", "--lambda", "0.5", "--batch", "3",
                           "--device", "cpu"});
    EXPECT_EQ(ok.code, 0) << ok.err;
    EXPECT_TRUE(contains(ok.out, "layer 1 (4x5):")) << ok.out;
    EXPECT_TRUE(contains(ok.out, "layer 2 (3x4):")) << ok.out;
    EXPECT_TRUE(contains(ok.out, ": ok (tolerance 1e-06)")) << ok.out;
    EXPECT_TRUE(contains(ok.out, "max(|analytic|, |numeric|, s) per layer, s = 1e-8 C / h = ")) << ok.out;
    const Result f32 = run({"gradcheck", "--sizes", "5,4,3", "--dtype", "f32", "--device", "cpu", "--mode", "per-example"});
    EXPECT_EQ(f32.code, 0) << f32.out << f32.err;
    // A tolerance no floating-point gradient can meet: exit 1 with the reason.
    const Result bad = run({"gradcheck", "--sizes", "5,4,3", "--tolerance", "1e-300", "--device", "cpu"});
    EXPECT_EQ(bad.code, 1);
    EXPECT_TRUE(contains(bad.out, "FAILED")) << bad.out;
    EXPECT_TRUE(contains(bad.err, "batchprop: error: gradient check failed")) << bad.err;
    expect_usage_error({"gradcheck", "--sizes", "5"}, {"at least two layers"});
    expect_usage_error({"gradcheck", "--sizes", "5,0,3"}, {"at least one neuron"});
    expect_usage_error({"gradcheck", "--batch", "0"}, {"--batch must be at least 1"});
    expect_usage_error({"gradcheck", "--lambda", "-1", "--sizes", "3,2"}, {"--lambda"});
    expect_usage_error({"gradcheck", "--tolerance", "-1", "--sizes", "3,2"}, {"--tolerance"});
}

TEST_F(Cli, Info) {
    const Result r = run({"info"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "BLAS:") && contains(r.out, "kernels ") && contains(r.out, "thread(s)")) << r.out;
    EXPECT_TRUE(contains(r.out, "CUDA:")) << r.out;
    EXPECT_TRUE(contains(r.out, "products with a dimension <= ")) << r.out;  // the small-product kernel or why not
}

// ---- bad input ---------------------------------------------------------------------------------

TEST_F(Cli, MissingAndUnreadableFiles) {
    const std::string model = trained_model();
    expect_failure(train({"--data", path("nowhere")}), {"--data", "directory '" + path("nowhere") + "' does not exist"});
    fs::remove(path("idx/t10k-labels-idx1-ubyte"));
    expect_failure(train(), {"has no t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)"});
    expect_failure({"train", "--train-images", path("none"), "--train-labels", path("idx/train-labels-idx1-ubyte"),
                    "--device", "cpu"},
                   {"--train-images " + path("none") + ": No such file or directory"});
    expect_failure({"train", "--train-images", path("idx"), "--train-labels", path("idx/train-labels-idx1-ubyte"),
                    "--device", "cpu"},
                   {"--train-images " + path("idx") + ": is a directory"});
    expect_failure({"train", "--format", "csv", "--data", path("idx"), "--device", "cpu"},
                   {"has no mnist_train.csv", "--format csv reads mnist_train.csv and mnist_test.csv"});
    expect_failure({"eval", "--model", path("none.json"), "--data", path("idx")}, {"--model " + path("none.json") + ": No such file"});
    expect_failure({"train", "--init-model", path("none.json"), "--data", path("idx")}, {"--init-model " + path("none.json")});
    expect_failure({"predict", "--model", model, "--images", path("none")}, {"--images " + path("none")});
    // A file that never ends and is no IDX file: refused at its first bytes, naming it.
    const auto t0 = std::chrono::steady_clock::now();
    expect_failure({"predict", "--model", model, "--images", "/dev/zero", "--device", "cpu"},
                   {"/dev/zero: IDX element type 0x0 not supported"});
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
    if (geteuid() != 0) {  // root reads everything
        fs::permissions(path("idx/train-images-idx3-ubyte"), fs::perms::none);
        expect_failure(train(), {"train-images-idx3-ubyte", "cannot read"});
    }
}

TEST_F(Cli, MissingDataSaysHowToInstall) {
    // The package is the fix for its own directory only; a directory of the user's own is named
    // and left at that.
    const Result own = run({"train", "--device", "cpu", "--data", path("no-such-dir")});
    EXPECT_TRUE(contains(own.err, "directory '" + path("no-such-dir") + "' does not exist")) << own.err;
    EXPECT_FALSE(contains(own.err, "apt-get")) << own.err;
    fs::create_directories(path("empty"));
    const Result empty = run({"train", "--device", "cpu", "--data", path("empty")});
    EXPECT_TRUE(contains(empty.err, "has no train-images-idx3-ubyte")) << empty.err;
    EXPECT_FALSE(contains(empty.err, "apt-get")) << empty.err;
    if (!fs::exists(batchprop::default_data_dir()))
        expect_failure({"train", "--device", "cpu"}, {"apt-get install dataset-fashion-mnist"});
}

// --device cuda never falls back silently: without a usable GPU it is one clear error (this
// build machine has the CUDA toolkit but no driver: runtime error 35); with one, it trains.
TEST_F(Cli, DeviceCudaWithoutAGpuIsAClearError) {
    const batchprop::GpuStatus& gpu = batchprop::gpu_status();
    const Args args{"train", "--data", path("idx"), "--sizes", "4,6,3", "--epochs", "1", "--device", "cuda"};
    if (gpu.usable) {
        const Result r = run(args);
        EXPECT_EQ(r.code, 0) << r.err;
        return;
    }
    expect_failure(args, {"--device cuda: ", gpu.reason});
    expect_failure({"eval", "--model", trained_model(), "--data", path("idx"), "--device", "cuda:1"}, {"--device cuda:1: ", gpu.reason});
}

TEST_F(Cli, BadIdxFiles) {
    std::vector<std::uint8_t> pixels(3 * 4, 100);
    const std::string labels = path("lb");
    write_bytes(labels, bptest::idx_bytes({3}, {0, 1, 2}));
    auto train_on = [&](const std::string& images, const std::string& lbl) {
        return Args{"train", "--train-images", images, "--train-labels", lbl, "--test-images", images,
                    "--test-labels", lbl, "--sizes", "4,3", "--batch", "1", "--device", "cpu"};
    };
    std::vector<std::uint8_t> b = bptest::idx_bytes({3, 2, 2}, pixels);
    b[1] = 7;
    write_bytes(path("magic"), b);
    expect_failure(train_on(path("magic"), labels), {path("magic"), "bad IDX magic number"});
    b = bptest::idx_bytes({3, 2, 2}, pixels);
    b.pop_back();
    write_bytes(path("short"), b);
    expect_failure(train_on(path("short"), labels), {path("short"), "truncated"});
    write_bytes(path("hdr"), {0, 0, 8, 3, 0, 0, 0});
    expect_failure(train_on(path("hdr"), labels), {path("hdr"), "truncated IDX header"});
    write_bytes(path("im"), bptest::idx_bytes({3, 2, 2}, pixels));
    write_bytes(path("lb2"), bptest::idx_bytes({2}, {0, 1}));
    expect_failure(train_on(path("im"), path("lb2")), {"has 3 images but " + path("lb2") + " has 2 labels"});
    write_bytes(path("lb9"), bptest::idx_bytes({3}, {0, 9, 2}));
    expect_failure(train_on(path("im"), path("lb9")),
                   {path("lb9") + ": label 9 of example 1 is outside 0..2", "3 output neurons"});
    write_bytes(path("gz"), {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3});
    expect_failure(train_on(path("gz"), labels), {path("gz"), "gzip"});
    // Sanity: the same command with good files works.
    const Result good = run(train_on(path("im"), labels));
    EXPECT_EQ(good.code, 0) << good.err;
}

TEST_F(Cli, BadCsvFiles) {
    auto train_csv = [&](const std::string& text) {
        std::ofstream(path("bad.csv")) << text;
        return Args{"train", "--format", "csv", "--train-csv", path("bad.csv"), "--test-csv",
                    path("csv/mnist_test.csv"), "--sizes", "4,6,3", "--batch", "1", "--device", "cpu"};
    };
    expect_failure(train_csv("label,a,b,c,d\n1,0,0,0,0\n2,0,0,0\n"),
                   {path("bad.csv") + ": line 3 has 4 fields, expected 5"});
    expect_failure(train_csv("1,0,0,0,0\n1,0,zero,0,0\n"), {path("bad.csv") + ": line 2, field 3: 'zero' is not a number"});
    expect_failure(train_csv("1,0,0,0,0\n1,0,0,0,300\n"), {"line 2, field 5: pixel value '300' is outside 0..255"});
    expect_failure(train_csv("1,0,0,0,0\n7,0,0,0,0\n"), {path("bad.csv") + ": label 7 of example 1 is outside 0..2"});
    expect_failure(train_csv(""), {path("bad.csv") + ": no examples"});
    expect_failure(train_csv("1,0,0\n2,0,0\n"),
                   {"the number of input neurons (4, from --sizes) does not equal the image size of " + path("bad.csv") +
                    " (2 pixels)"});
}

TEST_F(Cli, BadModelFiles) {
    const std::string good = trained_model();
    auto eval = [&](const std::string& model) { return Args{"eval", "--model", model, "--data", path("idx"), "--device", "cpu"}; };
    std::ofstream(path("garbage.json")) << "{\"sizes\": [4, 6, 3], \"weights\": ";
    expect_failure(eval(path("garbage.json")), {path("garbage.json") + ": not valid JSON"});
    std::ofstream(path("nokey.json")) << R"({"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]]})";
    expect_failure(eval(path("nokey.json")), {path("nokey.json"), "\"cost\" is missing"});
    std::ofstream(path("shape.json")) << R"({"sizes": [2, 1], "weights": [[[1, 2, 3]]], "biases": [[[0]]], "cost": "QuadraticCost"})";
    expect_failure(eval(path("shape.json")), {path("shape.json"), "weights[0][0] has 3 entries, expected 2"});
    std::ofstream(path("nan.json")) << R"({"sizes": [2, 1], "weights": [[[1, NaN]]], "biases": [[[0]]], "cost": "QuadraticCost"})";
    expect_failure(eval(path("nan.json")), {path("nan.json"), "NaN"});
    std::ofstream(path("str.json")) << R"({"sizes": [2, 1], "weights": [[[1, "2"]]], "biases": [[[0]]], "cost": "QuadraticCost"})";
    expect_failure(eval(path("str.json")), {path("str.json"), "weights[0][0][1] should be a number"});
    // A valid model of the wrong size for the data.
    std::ofstream(path("small.json")) << R"({"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "cost": "QuadraticCost"})";
    expect_failure(eval(path("small.json")),
                   {"the number of input neurons (2, from the model " + path("small.json") + ") does not equal the image size"});
    expect_failure({"predict", "--model", path("small.json"), "--images", path("idx/t10k-images-idx3-ubyte")},
                   {"input neurons", "image size"});
    std::ofstream(path("two.json")) << R"({"sizes": [4, 2], "weights": [[[1, 2, 3, 4], [1, 2, 3, 4]]], "biases": [[[0], [0]]], "cost": "QuadraticCost"})";
    expect_failure(eval(path("two.json")), {"is outside 0..1", "2 output neurons, from the model " + path("two.json")});
    expect_failure({"train", "--data", path("idx"), "--init-model", path("nan.json"), "--device", "cpu"}, {path("nan.json"), "NaN"});
    expect_failure({"train", "--data", path("idx"), "--init-model", path("small.json"), "--device", "cpu"},
                   {"input neurons (2, from the model " + path("small.json")});
    const Result ok = run(eval(good));
    EXPECT_EQ(ok.code, 0) << ok.err;
}

TEST_F(Cli, ImpossibleHyperParameters) {
    expect_usage_error(train({"--epochs", "0"}), {"--epochs must be at least 1 (got 0)"});
    expect_failure(train({"--epochs", "-3"}), {"--epochs must be at least 1 (got -3)"});
    expect_failure(train({"--batch", "0"}), {"--batch must be at least 1 (got 0)"});
    expect_usage_error(train({"--batch", "121"}), {"--batch 121 is larger than the training set (120 examples)"});
    expect_usage_error(train({"--batch", "60", "--train-limit", "50"}), {"--batch 60 is larger than the training set (50 examples)"});
    // Flags against the data are command-line mistakes too: 10 * 12.5 / 120 >= 1.
    expect_usage_error(train({"--eta", "10", "--lambda", "12.5"}), {"weight decay would flip or zero every weight"});
    expect_usage_error(train({"--eta", "0"}), {"--eta must be a finite number > 0 (got 0)"});
    expect_failure(train({"--eta", "-1"}), {"--eta must be a finite number > 0"});
    expect_failure(train({"--eta", "nan"}), {"--eta must be a finite number > 0 (got nan)"});
    expect_failure(train({"--eta", "inf"}), {"--eta must be a finite number > 0 (got inf)"});
    expect_failure(train({"--lambda", "-0.1"}), {"--lambda must be a finite number >= 0"});
    expect_failure(train({"--lambda", "inf"}), {"--lambda must be a finite number >= 0"});
    expect_failure(train({"--eta", "1", "--lambda", "200"}), {"weight decay"});
    expect_usage_error(train({"--sizes", "4"}), {"--sizes 4: need at least two layers"});
    expect_failure(train({"--sizes", "4,0,3"}), {"--sizes 4,0,3: every layer needs at least one neuron"});
    expect_failure(train({"--sizes", "4,-2,3"}), {"every layer needs at least one neuron"});
    expect_failure(train({"--sizes", "5,6,3"}),
                   {"the number of input neurons (5, from --sizes) does not equal the image size of " +
                    path("idx/train-images-idx3-ubyte") + " (4 pixels)"});
    expect_failure(train({"--sizes", "4,6,2"}), {"label 2 of example", "is outside 0..1", "2 output neurons, from --sizes"});
    expect_failure(train({"--validation", "120"}), {"--validation 120 leaves no training examples"});
}

// Bad input never creates or changes an output file: settings are checked before the run,
// files are created only once it starts, and the model is replaced atomically.
TEST_F(Cli, BadInputLeavesOutputFilesAlone) {
    expect_failure(train({"--save", path("no/dir/m.json")}), {"--save " + path("no/dir/m.json"), "does not exist"});
    expect_failure(train({"--metrics", path("no/dir/m.jsonl")}), {"--metrics " + path("no/dir/m.jsonl"), "does not exist"});
    expect_failure(train({"--save", path("idx")}), {"--save " + path("idx") + ": is a directory"});
    expect_failure(train({"--save", path("idx") + "/"}), {"--save " + path("idx") + "/: names a directory, not a file"});
    expect_failure(train({"--save", path("same"), "--metrics", path("same")}), {"same file"});
    EXPECT_FALSE(fs::exists(path("no")));

    std::ofstream(path("old.json")) << "precious";
    const std::vector<Args> failing = {
        train({"--batch", "500"}),                      // found after loading the data
        train({"--sizes", "4,6,2"}),                    // labels out of range
        train({"--eta", "-1"}),                         // found before
        train({"--data", path("nowhere")}),
        train({"--init-model", path("none.json")}),
    };
    for (Args a : failing) {
        a.insert(a.end(), {"--save", path("old.json"), "--metrics", path("new.jsonl")});
        const Result r = run(a);
        EXPECT_NE(r.code, 0);
        EXPECT_EQ(slurp(path("old.json")), "precious");
        EXPECT_FALSE(fs::exists(path("new.jsonl")));
    }
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file() ? 1 : 0;
    EXPECT_EQ(files, 3u);  // old.json, stdout, stderr: no temporary files left
}

// No output may be one of the run's inputs (the same path, or the same file through a link): it
// is a usage error before anything is read, and every file stays as it was. --save onto the
// --init-model is fine-tuning in place; a resumed run goes on checkpointing into its checkpoint.
TEST_F(Cli, OutputsNeverReplaceInputs) {
    const std::string model = trained_model();
    fs::create_symlink(path("idx/t10k-images-idx3-ubyte"), path("link-to-test-images"));
    const std::vector<std::string> inputs = {path("idx/train-images-idx3-ubyte"), path("idx/train-labels-idx1-ubyte"),
                                             path("idx/t10k-images-idx3-ubyte"), path("idx/t10k-labels-idx1-ubyte"),
                                             model};
    std::vector<std::string> before;
    for (const std::string& f : inputs) before.push_back(slurp(f));
    expect_usage_error(train({"--save", path("idx/train-images-idx3-ubyte")}),
                       {"--save " + path("idx/train-images-idx3-ubyte") + " is --data's training images, which the run reads"});
    expect_usage_error(train({"--metrics", path("idx/train-labels-idx1-ubyte")}), {"is --data's training labels"});
    expect_usage_error(train({"--checkpoint", path("link-to-test-images")}),
                       {"--checkpoint " + path("link-to-test-images") + " is --data's test images " +
                        path("idx/t10k-images-idx3-ubyte")});
    expect_usage_error(train({"--metrics", path("idx/./t10k-labels-idx1-ubyte")}), {"is --data's test labels"});
    expect_usage_error({"train", "--train-images", path("idx/train-images-idx3-ubyte"), "--train-labels",
                        path("idx/train-labels-idx1-ubyte"), "--data", path("idx"), "--sizes", "4,6,3", "--device",
                        "cpu", "--save", path("idx/train-labels-idx1-ubyte")},
                       {"is --train-labels"});
    expect_usage_error(train({"--init-model", model, "--sizes", "4,6,3", "--metrics", model}), {"is --init-model"});
    // CSV data: one file per split, found in --data or named by its flag.
    const std::string train_csv = path("csv/mnist_train.csv"), test_csv = path("csv/mnist_test.csv");
    const std::string csv_before[] = {slurp(train_csv), slurp(test_csv)};
    const Args csv_run = {"train", "--format", "csv", "--sizes", "4,6,3", "--epochs", "1", "--device", "cpu"};
    auto with = [](Args a, const Args& more) {
        a.insert(a.end(), more.begin(), more.end());
        return a;
    };
    expect_usage_error(with(csv_run, {"--data", path("csv"), "--save", test_csv}), {"is --data's test CSV"});
    expect_usage_error(with(csv_run, {"--data", path("csv"), "--checkpoint", train_csv}), {"is --data's training CSV"});
    expect_usage_error(with(csv_run, {"--train-csv", train_csv, "--test-csv", test_csv, "--metrics", test_csv}),
                       {"--metrics " + test_csv + " is --test-csv, which the run reads"});
    expect_usage_error(with(csv_run, {"--train-csv", train_csv, "--test-csv", test_csv, "--save", train_csv}),
                       {"is --train-csv"});
    EXPECT_EQ(slurp(train_csv), csv_before[0]);
    EXPECT_EQ(slurp(test_csv), csv_before[1]);
    expect_usage_error(train({"--save", path("a.json"), "--metrics", path("./a.json")}),
                       {"--save and --metrics name the same file"});
    for (std::size_t i = 0; i < inputs.size(); ++i) EXPECT_EQ(slurp(inputs[i]), before[i]) << inputs[i];
    // Fine-tuning in place.
    const Result tuned = run({"train", "--data", path("idx"), "--init-model", model, "--epochs", "1", "--device", "cpu",
                              "--save", model});
    EXPECT_EQ(tuned.code, 0) << tuned.err;
    EXPECT_NE(slurp(model), before.back());
    // --resume X goes on checkpointing into X; nothing else may write it.
    ASSERT_EQ(run(train({"--epochs", "1", "--checkpoint", path("ck.json")})).code, 0);
    EXPECT_EQ(run(train({"--epochs", "2", "--resume", path("ck.json")})).code, 0);
    expect_usage_error(train({"--epochs", "3", "--resume", path("ck.json"), "--metrics", path("ck.json")}),
                       {"--resume's checkpoint and --metrics name the same file"});
    expect_usage_error(train({"--epochs", "3", "--resume", path("ck.json"), "--save", path("ck.json")}),
                       {"--save " + path("ck.json") + " is --resume, which the run reads"});
}

// ---- signals and terminals -------------------------------------------------------------------

// Ctrl-C stops after the current mini-batch; the model is still saved; exit status 130.
TEST_F(Cli, CtrlCStopsAndStillSaves) {
    const std::string out = path("out"), err = path("err");
    const pid_t pid = spawn(train({"--epochs", "1000000", "--save", path("m.json"), "--metrics", path("m.jsonl")}), out, err);
    // Wait until training is under way (the first epoch line is out), then interrupt. A child
    // that exits first (training failed) fails the test at once, with its status and stderr,
    // instead of after the whole timeout; one that never gets there is killed, not left behind.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int status = 0;
    while (!contains(slurp(out), "Epoch 2/")) {
        const pid_t done = waitpid(pid, &status, WNOHANG);
        ASSERT_NE(done, pid) << "training ended before it could be interrupted ("
                             << (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                                   : "signal " + std::to_string(WTERMSIG(status)))
                             << "); stderr:\n" << slurp(err) << "stdout:\n" << slurp(out);
        if (std::chrono::steady_clock::now() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            FAIL() << "no \"Epoch 2/\" line within 30 s; stderr:\n" << slurp(err) << "stdout:\n" << slurp(out);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGINT);
    const Result r = finish(pid, out, err);
    EXPECT_EQ(r.code, 130) << r.err;
    EXPECT_TRUE(contains(r.err, "interrupted; stopping after this mini-batch")) << r.err;
    EXPECT_TRUE(contains(r.err, "model saved to " + path("m.json"))) << r.err;
    const Model m = load_model(path("m.json"));
    EXPECT_EQ(m.batchprop.at("interrupted"), true);
    EXPECT_GE(int(m.batchprop.at("epochs")), 2);
}

// A pseudo-terminal of `cols` columns; the child gets its other end as stdout and/or stderr.
struct Pty {
    explicit Pty(int cols) {
        master = posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return;
        winsize ws{};
        ws.ws_row = 24;
        ws.ws_col = static_cast<unsigned short>(cols);
        ioctl(master, TIOCSWINSZ, &ws);
        slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    }
    bool ok() const { return master >= 0 && slave >= 0; }
    // Everything the child wrote, until it closes its end (read then fails with EIO).
    std::string read_all() {
        close(slave);
        std::string screen;
        char buf[4096];
        for (;;) {
            pollfd p{master, POLLIN, 0};
            if (poll(&p, 1, 20000) <= 0) break;
            const ssize_t n = read(master, buf, sizeof buf);
            if (n <= 0) break;
            screen.append(buf, std::size_t(n));
        }
        close(master);
        return screen;
    }
    int master = -1, slave = -1;
};

// The widest live-line draw on a screen transcript: each text after "\r\033[K" up to the next
// \r or \n, that is not a summary line (the live line has no ':').
std::size_t widest_live_line(const std::string& screen) {
    std::size_t widest = 0;
    for (std::size_t at = screen.find("\r\033[K"); at != std::string::npos; at = screen.find("\r\033[K", at + 1)) {
        const std::size_t begin = at + 4, end = screen.find_first_of("\r\n", begin);
        const std::string seg = screen.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
        if (seg.find(':') != std::string::npos) continue;
        std::size_t cols = 0;
        for (unsigned char c : seg) cols += (c & 0xC0) != 0x80;
        widest = std::max(widest, cols);
    }
    return widest;
}

// On a terminal the epoch's progress is redrawn in place (\r, erase line) on stderr, and each
// epoch ends with a clean summary line.
TEST_F(Cli, LiveProgressOnATerminal) {
    Pty tty(200);
    if (!tty.ok()) GTEST_SKIP() << "no pseudo-terminal";
    const pid_t pid = spawn(train({"--epochs", "2"}), "", "", tty.slave, tty.slave);
    const std::string screen = tty.read_all();
    const Result r = finish(pid, path("out-unused"), path("err-unused"));
    EXPECT_EQ(r.code, 0) << screen;
    EXPECT_TRUE(contains(screen, "\r\033[Kbatchprop: loading the data")) << ::testing::PrintToString(screen);
    EXPECT_TRUE(contains(screen, "\r\033[KEpoch 1/2 ")) << ::testing::PrintToString(screen);
    EXPECT_TRUE(contains(screen, "examples/s  ETA ")) << ::testing::PrintToString(screen);
    EXPECT_TRUE(contains(screen, ", run ")) << ::testing::PrintToString(screen);  // the run's time left too
    EXPECT_TRUE(contains(screen, "\r\033[KEpoch 2/2: eval accuracy ")) << ::testing::PrintToString(screen);
    EXPECT_TRUE(contains(screen, "Done: 2 epochs in ")) << ::testing::PrintToString(screen);
}

// `train | tee log`: stdout is a pipe, stderr still the terminal, so the live line is drawn
// there (as tqdm does) while the summary lines go to the pipe undisturbed.
TEST_F(Cli, LiveProgressWhenStdoutIsAPipe) {
    Pty tty(200);
    if (!tty.ok()) GTEST_SKIP() << "no pseudo-terminal";
    const pid_t pid = spawn(train({"--epochs", "2"}), path("out"), "", -1, tty.slave);
    const std::string screen = tty.read_all();
    const Result r = finish(pid, path("out"), path("err-unused"));
    EXPECT_EQ(r.code, 0) << screen;
    EXPECT_TRUE(contains(screen, "\r\033[KEpoch 1/2 ")) << ::testing::PrintToString(screen);
    EXPECT_FALSE(contains(r.out, "\033")) << ::testing::PrintToString(r.out);
    EXPECT_TRUE(contains(r.out, "Epoch 2/2: eval accuracy ")) << r.out;
}

// A narrow terminal: the live line is cut to fit (so a redraw never leaves a stale wrapped
// line) and the summary lines are wrapped at spaces, not mid-word.
TEST_F(Cli, ProgressFitsANarrowTerminal) {
    Pty tty(50);
    if (!tty.ok()) GTEST_SKIP() << "no pseudo-terminal";
    const pid_t pid = spawn(train({"--epochs", "3", "--batch", "1"}), "", "", tty.slave, tty.slave);
    const std::string screen = tty.read_all();
    const Result r = finish(pid, path("out-unused"), path("err-unused"));
    EXPECT_EQ(r.code, 0) << screen;
    EXPECT_TRUE(contains(screen, "\r\033[KEpoch 1/3 ")) << ::testing::PrintToString(screen);
    EXPECT_LE(widest_live_line(screen), 49u) << ::testing::PrintToString(screen);
    // "Epoch 3/3: eval accuracy 30 / 30 (100.00%), eval cost ..." is wider than 50 columns: it
    // continues on an indented line, broken at a space.
    const std::size_t at = screen.find("Epoch 3/3:");
    ASSERT_NE(at, std::string::npos) << ::testing::PrintToString(screen);
    const std::size_t eol = screen.find("\r\n", at);
    EXPECT_LE(eol - at, 49u) << ::testing::PrintToString(screen);
    EXPECT_EQ(screen.compare(eol, 4, "\r\n  "), 0) << ::testing::PrintToString(screen);
}

// ---- the real data, briefly ------------------------------------------------------------------

TEST_F(Cli, SmokeTestOnFashionMnist) {
    if (!fs::exists(std::string(batchprop::default_data_dir()) + "/train-images-idx3-ubyte.gz"))
        GTEST_SKIP() << "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)";
    const Result r = run({"train", "--train-limit", "1000", "--epochs", "1", "--device", "cpu"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "sizes 784,30,10, 1000 training examples, 10000 evaluation examples")) << r.out;
    EXPECT_TRUE(contains(r.out, "Epoch 1/1: eval accuracy ")) << r.out;
}

}  // namespace
