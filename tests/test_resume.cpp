// `batchprop train --checkpoint` / `--resume`, through the real executable: a run stopped after
// any completed epoch (cleanly, by Ctrl-C, by SIGTERM, or by kill -9 at a random moment,
// possibly while a checkpoint is being written) and then resumed saves a model file byte for
// byte equal to the uninterrupted run's, in float and double, in both modes, with and without
// --early-stop. A corrupt or contradicted checkpoint is one clear error that changes no file.
// Tiny data (2x2 images, 3 classes) keeps the whole file to a few seconds.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/cli_process.hpp"
#include "support/test_util.hpp"

namespace {

namespace fs = std::filesystem;
using bptest::Args;
using bptest::contains;
using bptest::Result;
using bptest::slurp;

class Resume : public bptest::TempDirTest {
protected:
    Resume() : TempDirTest("bp_resume") {}

    void SetUp() override {
        TempDirTest::SetUp();
        fs::create_directories(dir_ / "idx");
        write_set("idx", "train", 121, 1);  // 121 = 17 batches of 7 and a partial one of 2
        write_set("idx", "t10k", 30, 2);
    }

    void write_set(const std::string& dir, const std::string& name, int n, std::uint32_t seed) {
        std::vector<std::uint8_t> pixels, labels;
        std::uint32_t s = seed;
        auto next = [&s] { return s = s * 1664525u + 1013904223u, s >> 24; };
        for (int j = 0; j < n; ++j) {
            const int c = int(next() % 3);
            labels.push_back(std::uint8_t(c));
            for (int i = 0; i < 4; ++i) pixels.push_back(std::uint8_t(i == c ? 180 + next() % 70 : next() % 60));
        }
        auto write = [](const std::string& p, const std::vector<std::uint8_t>& b) {
            std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
        };
        write(path(dir + "/" + name + "-images-idx3-ubyte"), bptest::idx_bytes({std::uint32_t(n), 2, 2}, pixels));
        write(path(dir + "/" + name + "-labels-idx1-ubyte"), bptest::idx_bytes({std::uint32_t(n)}, labels));
    }

    pid_t spawn(const Args& args) const { return bptest::spawn(args, path("stdout"), path("stderr")); }
    Result finish(pid_t pid) const { return bptest::finish(pid, path("stdout"), path("stderr")); }
    Result run(const Args& args) const { return finish(spawn(args)); }

    // The run's flags: a small network on the CPU; `extra` chooses dtype, mode, early stopping.
    Args train(const Args& extra) const {
        Args a{"train", "--data", path(data_), "--sizes", "4,5,3", "--batch", "7", "--eta", "2",
               "--device", "cpu", "--cost", "cross-entropy", "--seed", "5", "--monitor", "eval-acc"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
    // The model file of an uninterrupted run of `epochs` epochs.
    std::string uninterrupted(const Args& extra, int epochs) const {
        const std::string p = path("full-" + std::to_string(epochs) + ".json");
        Args a = train(extra);
        a.insert(a.end(), {"--epochs", std::to_string(epochs), "--save", p});
        const Result r = run(a);
        EXPECT_EQ(r.code, 0) << r.err;
        return slurp(p);
    }
    // Resumes the checkpoint to `epochs` epochs; the saved model's bytes.
    std::string resumed(const std::string& checkpoint, int epochs) const {
        const std::string p = path("resumed.json");
        const Result r = run({"train", "--resume", checkpoint, "--epochs", std::to_string(epochs), "--save", p});
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_TRUE(contains(r.out, "resuming " + checkpoint + " after epoch")) << r.out;
        return slurp(p);
    }
    std::string data_ = "idx";  // the data directory train() uses

    static int epochs_done(const std::string& checkpoint) {
        return nlohmann::json::parse(slurp(checkpoint)).at("batchprop").at("checkpoint").at("epochs_done").get<int>();
    }
};

const std::vector<Args> kVariants{
    {"--dtype", "f32", "--mode", "matrix"},
    {"--dtype", "f64", "--mode", "per-example"},
    {"--dtype", "f32", "--mode", "per-example", "--early-stop", "2", "--early-stop-on-test"},
    {"--dtype", "f64", "--mode", "matrix", "--early-stop", "3", "--lambda", "0.5", "--validation", "20"},
};

std::string describe(const Args& a) {
    std::string s;
    for (const std::string& w : a) s += w + " ";
    return s;
}

// Stopped cleanly after epoch 1 and after epoch N - 1 (the state a signal leaves once that
// epoch is checkpointed), then resumed to N.
TEST_F(Resume, AfterEpoch1AndEpochNMinus1IsBitwiseTheUninterruptedRun) {
    const int n = 6;
    for (const Args& v : kVariants) {
        const std::string full = uninterrupted(v, n);
        ASSERT_FALSE(full.empty());
        for (int k : {1, n - 1}) {
            const std::string ck = path("ck.json");
            Args a = train(v);
            a.insert(a.end(), {"--epochs", std::to_string(k), "--checkpoint", ck});
            const Result r = run(a);
            ASSERT_EQ(r.code, 0) << r.err;
            ASSERT_LE(epochs_done(ck), k);  // fewer when early stopping ended the run
            EXPECT_TRUE(resumed(ck, n) == full) << describe(v) << "stopped after epoch " << k;
        }
    }
}

// Ctrl-C, SIGTERM and kill -9 sent as soon as epoch 1, or epoch N - 1, has been reported: they
// land in the next epoch, or while the checkpoint is being written (then it holds the epoch
// before). Epochs of 20,000 examples take long enough for that; the resumed run must still
// end with the uninterrupted run's file.
TEST_F(Resume, AfterCtrlCSigtermAndKill9IsBitwiseTheUninterruptedRun) {
    fs::create_directories(dir_ / "big");
    write_set("big", "train", 20001, 3);
    write_set("big", "t10k", 30, 4);
    data_ = "big";
    const int n = 4;
    for (const Args& v : {kVariants[0], kVariants[1]}) {
        const std::string full = uninterrupted(v, n);
        for (int sig : {SIGINT, SIGTERM, SIGKILL}) {
            for (int k : {1, n - 1}) {
                const std::string ck = path("ck.json");
                fs::remove(ck);
                Args a = train(v);
                a.insert(a.end(), {"--epochs", std::to_string(n), "--checkpoint", ck, "--save", path("interrupted.json")});
                const pid_t pid = spawn(a);
                const std::string line = "Epoch " + std::to_string(k) + "/";
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
                while (!contains(slurp(path("stdout")), line) && std::chrono::steady_clock::now() < deadline)
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                kill(pid, sig);
                const Result r = finish(pid);
                if (sig == SIGKILL) {
                    EXPECT_TRUE(r.signal == SIGKILL || r.code == 0) << r.err;  // 0: it had finished
                } else if (r.code != 0) {
                    EXPECT_EQ(r.code, 128 + sig) << r.err;
                    EXPECT_TRUE(contains(r.err, "holds the run after epoch")) << r.err;
                    EXPECT_TRUE(contains(r.err, sig == SIGTERM ? "terminated (SIGTERM)" : "interrupted;")) << r.err;
                }
                const int done = epochs_done(ck);  // the checkpoint is whole, whenever the signal came
                EXPECT_GE(done, k - 1);
                EXPECT_TRUE(resumed(ck, n) == full) << describe(v) << "signal " << sig << " after epoch " << k
                                                    << ", checkpoint after epoch " << done;
            }
        }
    }
}

// A run started from a model (--init-model brings the sizes and the cost) resumes as well.
TEST_F(Resume, FromAnInitModel) {
    ASSERT_EQ(run(train({"--epochs", "1", "--save", path("start.json")})).code, 0);
    Args base{"train", "--data", path("idx"), "--batch", "7", "--device", "cpu", "--monitor", "eval-acc",
              "--init-model", path("start.json")};
    Args full = base, part = base;
    full.insert(full.end(), {"--epochs", "4", "--save", path("full.json")});
    part.insert(part.end(), {"--epochs", "2", "--checkpoint", path("ck.json")});
    ASSERT_EQ(run(full).code, 0);
    ASSERT_EQ(run(part).code, 0);
    EXPECT_TRUE(resumed(path("ck.json"), 4) == slurp(path("full.json")));
}

// Early stopping from an --init-model: the model is the baseline (epoch 0), and that state
// (its accuracy, and its parameters when no epoch beats it) travels in the checkpoint.
TEST_F(Resume, FromAnInitModelWithEarlyStopping) {
    ASSERT_EQ(run(train({"--epochs", "1", "--save", path("start.json")})).code, 0);
    for (const char* eta : {"2", "40"}) {  // 40: steps large enough to lose to the baseline
        Args base{"train", "--data", path("idx"), "--device", "cpu", "--monitor", "eval-acc", "--init-model",
                  path("start.json"), "--validation", "20", "--early-stop", "2", "--eta", eta};
        Args full = base;
        full.insert(full.end(), {"--epochs", "6", "--save", path("full.json")});
        const Result f = run(full);
        ASSERT_EQ(f.code, 0) << f.err;
        EXPECT_TRUE(contains(f.out, "Epoch 0 (the starting model)")) << f.out;
        for (int k : {1, 2}) {
            const std::string ck = path("ck.json");
            fs::remove(ck);
            Args part = base;
            part.insert(part.end(), {"--epochs", std::to_string(k), "--checkpoint", ck});
            ASSERT_EQ(run(part).code, 0);
            const nlohmann::json es =
                nlohmann::json::parse(slurp(ck)).at("batchprop").at("checkpoint").at("early_stop");
            EXPECT_GE(es.at("best_epoch").get<int>(), 0) << es.dump();  // the baseline counts
            EXPECT_TRUE(resumed(ck, 6) == slurp(path("full.json"))) << "eta " << eta << ", stopped after epoch " << k;
        }
    }
}

// A finished run's checkpoint resumed with --epochs equal to the epochs it has done (the bound
// from above; BadCheckpointsAreOneErrorAndChangeNoFile has it from below): accepted, nothing
// left to train, and said so; --save writes the finished run's model byte for byte; the
// checkpoint and the --metrics file stay as they were. Also for a run that early stopping
// ended before its --epochs.
TEST_F(Resume, AFinishedRunResumedToItsOwnEpochsTrainsNothing) {
    for (const Args& v : {kVariants[0], kVariants[3]}) {
        const std::string ck = path("ck.json"), m = path("m.jsonl");
        Args a = train(v);
        a.insert(a.end(), {"--epochs", "8", "--checkpoint", ck, "--save", path("full.json"), "--metrics", m});
        ASSERT_EQ(run(a).code, 0) << describe(v);
        const int done = epochs_done(ck);
        const std::string ck_before = slurp(ck), metrics_before = slurp(m);
        const Result r = run({"train", "--resume", ck, "--epochs", std::to_string(done), "--save", path("again.json"),
                              "--metrics", m});
        EXPECT_EQ(r.code, 0) << describe(v) << r.err;
        EXPECT_TRUE(contains(r.out, "after epoch " + std::to_string(done) + ": no epochs left to train"))
            << describe(v) << r.out;
        EXPECT_FALSE(contains(r.out, "Epoch ")) << r.out;
        EXPECT_TRUE(slurp(path("again.json")) == slurp(path("full.json"))) << describe(v);
        EXPECT_TRUE(slurp(ck) == ck_before) << describe(v);
        EXPECT_EQ(slurp(m), metrics_before) << describe(v);
    }
}

// A resumed run adds its epochs to --metrics instead of starting the file afresh.
TEST_F(Resume, MetricsAreAppended) {
    const std::string ck = path("ck.json"), m = path("m.jsonl");
    ASSERT_EQ(run(train({"--epochs", "2", "--checkpoint", ck, "--metrics", m})).code, 0);
    const Result r = run({"train", "--resume", ck, "--epochs", "3", "--metrics", m});
    ASSERT_EQ(r.code, 0) << r.err;
    std::istringstream lines(slurp(m));
    std::vector<int> epochs;
    for (std::string line; std::getline(lines, line);) epochs.push_back(nlohmann::json::parse(line).at("epoch").get<int>());
    EXPECT_EQ(epochs, (std::vector<int>{1, 2, 3}));
}

// The checkpoint is a model file: anything that loads a model loads it.
TEST_F(Resume, ACheckpointIsAModel) {
    const std::string ck = path("ck.json");
    Args a = train({"--epochs", "2", "--checkpoint", ck});
    ASSERT_EQ(run(a).code, 0);
    const Result r = run({"eval", "--model", ck, "--data", path("idx"), "--device", "cpu"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "accuracy ")) << r.out;
}

// A corrupt, foreign or contradicted checkpoint: one error line, and no file is created or
// changed (the checkpoint itself, --save's and --metrics' files).
TEST_F(Resume, BadCheckpointsAreOneErrorAndChangeNoFile) {
    const std::string ck = path("ck.json");
    ASSERT_EQ(run(train({"--epochs", "2", "--checkpoint", ck, "--save", path("model.json")})).code, 0);
    const std::string good = slurp(ck);
    std::ofstream(path("old.json")) << "precious";
    std::ofstream(path("old.jsonl")) << "precious";
    std::ofstream(path("truncated.json")) << good.substr(0, good.size() / 2);
    std::string tampered = good;
    tampered.replace(tampered.find("\"epochs_done\":2"), 15, "\"epochs_done\":-1");
    std::ofstream(path("tampered.json")) << tampered;
    struct Case {
        Args args;
        std::string needle;
    };
    const std::vector<Case> cases{
        {{"--resume", path("truncated.json")}, "truncated.json: not valid JSON"},
        {{"--resume", path("tampered.json")}, "a damaged checkpoint: \"epochs_done\""},
        {{"--resume", path("model.json")}, "not a checkpoint"},
        {{"--resume", path("missing.json")}, "missing.json"},
        {{"--resume", ck, "--eta", "0.5", "--sizes", "4,9,3"}, "--eta 0.5 (the run's: 2.0)"},
        {{"--resume", ck, "--dtype", "f64"}, "--dtype f64 (the run's: f32)"},
        {{"--resume", ck, "--epochs", "1"}, "--epochs 1 is fewer than the 2 epochs"},
        {{"--resume", ck, "--train-limit", "50"}, "--train-limit 50 (the run's: 50000)"},
        {{"--resume", ck, "--train-images", path("idx/t10k-images-idx3-ubyte"), "--train-labels",
          path("idx/t10k-labels-idx1-ubyte")}, "the data differs from the run being resumed"},
    };
    for (const Case& c : cases) {
        Args a{"train"};
        a.insert(a.end(), c.args.begin(), c.args.end());
        a.insert(a.end(), {"--save", path("old.json"), "--metrics", path("old.jsonl"), "--epochs", "4"});
        if (contains(describe(c.args), "--epochs")) a.resize(a.size() - 2);  // keep the case's own --epochs
        const Result r = run(a);
        EXPECT_EQ(r.code, 1) << describe(a);
        EXPECT_TRUE(contains(r.err, "batchprop: error: ")) << r.err;
        EXPECT_TRUE(contains(r.err, c.needle)) << describe(a) << "\nmissing '" << c.needle << "' in " << r.err;
        EXPECT_EQ(slurp(ck), good);
        EXPECT_EQ(slurp(path("old.json")), "precious");
        EXPECT_EQ(slurp(path("old.jsonl")), "precious");
    }
    for (const auto& e : fs::directory_iterator(dir_))
        EXPECT_FALSE(contains(e.path().filename().string(), ".tmp-")) << e.path();
}

}  // namespace
