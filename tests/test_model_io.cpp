// Model files: exact round trips (double and float), the network2.py layout (row i of a file's
// weight matrix is w(i, :); checked on a hand-made file), compatibility with network2.py's own
// load() and save() through Python when numpy is present, every malformed file rejected with a
// message naming the file, and saves that never destroy an existing file.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "batchprop/backprop.hpp"
#include "batchprop/check.hpp"
#include "batchprop/model_io.hpp"
#include "support/test_util.hpp"

using namespace batchprop;
namespace fs = std::filesystem;

namespace {

class ModelIo : public bptest::TempDirTest {
protected:
    ModelIo() : TempDirTest("bp_model") {}
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path(name), std::ios::binary) << text;
        return path(name);
    }
    static std::string read(const std::string& p) {
        std::ifstream f(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    }
    // Files in the directory other than the given ones (left-over temporary files).
    std::vector<std::string> others(const std::vector<std::string>& expected) const {
        std::vector<std::string> extra;
        for (const auto& e : fs::directory_iterator(dir_)) {
            const std::string n = e.path().filename().string();
            if (std::find(expected.begin(), expected.end(), n) == expected.end()) extra.push_back(n);
        }
        return extra;
    }
};

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

TEST_F(ModelIo, DoubleRoundTripIsExact) {
    Network<double> net({5, 4, 3});
    net.init(Init::gaussian, 11);
    // Values whose decimal form needs all 17 digits, and the extremes of the range.
    std::vector<double>& p = net.params();
    p[0] = 1.0 / 3.0;
    p[1] = 0.1;
    p[2] = 5e-324;  // the smallest subnormal
    p[3] = -1.7976931348623157e308;
    p[4] = -0.0;
    p[5] = 1e-300;
    p[p.size() - 1] = 123456789.123456789;
    nlohmann::json settings = {{"eta", 0.5}, {"note", "kept"}};
    save_model(path("m.json"), net, Cost::cross_entropy, settings);
    const Model m = load_model(path("m.json"));
    EXPECT_EQ(m.net.sizes(), net.sizes());
    EXPECT_TRUE(bitwise_equal(m.net.params(), net.params()));
    EXPECT_EQ(m.cost, Cost::cross_entropy);
    EXPECT_EQ(m.batchprop.at("note"), "kept");
    // network2.py's key order, and its cost class names.
    const std::string text = read(path("m.json"));
    EXPECT_EQ(text.rfind("{\"sizes\":[5,4,3],\"weights\":[[[", 0), 0u) << text.substr(0, 60);
    EXPECT_NE(text.find("\"cost\":\"CrossEntropyCost\""), std::string::npos);
    EXPECT_TRUE(others({"m.json"}).empty());
}

TEST_F(ModelIo, FloatRoundTripIsExact) {
    Network<float> net({7, 5, 2});
    net.init(Init::scaled, 12);
    net.params()[3] = 1e-45f;  // the smallest float subnormal
    net.params()[4] = 3.4028235e38f;
    save_model(path("f.json"), net, Cost::quadratic);
    const Model m = load_model(path("f.json"));
    EXPECT_TRUE(bitwise_equal(m.net.cast<float>().params(), net.params()));
    EXPECT_EQ(m.cost, Cost::quadratic);
    EXPECT_TRUE(m.batchprop.is_null());
}

// A file written by hand in network2.py's layout: weights[l][i][j] is w(i, j) of layer l+1,
// biases[l][i][0] is b(i). Our storage is column-major, so the flat order is transposed.
TEST_F(ModelIo, HandMadeFileHasRowsOfTheWeightMatrix) {
    const std::string file = write("hand.json", R"({
        "sizes": [3, 2, 1],
        "weights": [[[1, 2, 3], [4, 5, 6]], [[7, 8]]],
        "biases": [[[0.5], [-0.5]], [[2]]],
        "cost": "QuadraticCost",
        "comment": "unknown keys are ignored"})");
    const Model m = load_model(file);
    ASSERT_EQ(m.net.sizes(), (std::vector<int>{3, 2, 1}));
    const ConstView<double> w1 = m.net.w(1);
    ASSERT_EQ(w1.rows, 2);
    ASSERT_EQ(w1.cols, 3);
    EXPECT_EQ(w1.data[0 + 1 * 2], 2.0);  // w1(0, 1)
    EXPECT_EQ(w1.data[1 + 0 * 2], 4.0);  // w1(1, 0)
    EXPECT_EQ(w1.data[1 + 2 * 2], 6.0);  // w1(1, 2)
    const std::vector<double> flat(m.net.params().begin(), m.net.params().begin() + 6);
    EXPECT_EQ(flat, (std::vector<double>{1, 4, 2, 5, 3, 6}));
    EXPECT_EQ(m.net.w(2).data[0], 7.0);
    EXPECT_EQ(m.net.w(2).data[1], 8.0);
    EXPECT_EQ(m.net.b(1)[0], 0.5);
    EXPECT_EQ(m.net.b(1)[1], -0.5);
    EXPECT_EQ(m.net.b(2)[0], 2.0);
    // And back out in the same layout.
    const nlohmann::json j = nlohmann::json::parse(model_to_json(m.net, m.cost));
    EXPECT_EQ(j["weights"], nlohmann::json::parse("[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[7.0, 8.0]]]"));
    EXPECT_EQ(j["biases"], nlohmann::json::parse("[[[0.5], [-0.5]], [[2.0]]]"));
    EXPECT_EQ(j["sizes"], nlohmann::json::parse("[3, 2, 1]"));
}

struct BadModel {
    const char* name;
    std::string text;
    const char* expected;  // a substring of the message
};

TEST_F(ModelIo, MalformedFilesAreRejectedWithTheProblemAndTheFile) {
    const std::string w = R"("weights": [[[1, 2, 3], [4, 5, 6]]])";
    const std::string b = R"("biases": [[[0.5], [-0.5]]])";
    const std::string s = R"("sizes": [3, 2])";
    const std::string c = R"("cost": "QuadraticCost")";
    auto obj = [](std::initializer_list<std::string> parts) {
        std::string t = "{";
        for (const std::string& p : parts) t += (t.size() > 1 ? ", " : "") + p;
        return t + "}";
    };
    const std::vector<BadModel> cases = {
        {"empty", "", "not valid JSON"},
        {"truncated", obj({s, w}).substr(0, 30), "not valid JSON"},
        {"array", "[1, 2]", "expected a JSON object, found a list"},
        {"no_sizes", obj({w, b, c}), "\"sizes\" is missing"},
        {"no_weights", obj({s, b, c}), "\"weights\" is missing"},
        {"no_biases", obj({s, w, c}), "\"biases\" is missing"},
        {"no_cost", obj({s, w, b}), "\"cost\" is missing"},
        {"one_layer", obj({R"("sizes": [3])", w, b, c}), "at least two layer sizes"},
        {"zero_size", obj({R"("sizes": [3, 0])", w, b, c}), "sizes[1] should be a whole number of neurons >= 1"},
        {"fractional_size", obj({R"("sizes": [3, 2.5])", w, b, c}), "sizes[1] should be a whole number"},
        {"string_size", obj({R"("sizes": ["3", 2])", w, b, c}), "sizes[0] should be a whole number"},
        {"sizes_mismatch", obj({R"("sizes": [4, 2])", w, b, c}), "weights[0][0] has 3 entries, expected 4"},
        {"too_many_layers", obj({R"("sizes": [3, 2, 1])", w, b, c}), "\"weights\" has 1 entries, expected 2"},
        {"rows", obj({s, R"("weights": [[[1, 2, 3]]])", b, c}), "weights[0] has 1 entries, expected 2"},
        {"columns", obj({s, R"("weights": [[[1, 2, 3], [4, 5]]])", b, c}), "weights[0][1] has 2 entries, expected 3"},
        {"weights_not_list", obj({s, R"("weights": 5)", b, c}), "\"weights\" should be a list"},
        {"bias_two_numbers", obj({s, w, R"("biases": [[[0.5, 1], [-0.5]]])", c}), "biases[0][0] has 2 entries, expected 1"},
        {"bias_bare_number", obj({s, w, R"("biases": [[0.5, -0.5]])", c}), "biases[0][0] should be a list"},
        {"string_weight", obj({s, R"("weights": [[[1, 2, "x"], [4, 5, 6]]])", b, c}), "weights[0][0][2] should be a number, not a string"},
        {"null_weight", obj({s, R"("weights": [[[1, 2, 3], [4, null, 6]]])", b, c}), "weights[0][1][1] should be a number, not null"},
        {"bool_bias", obj({s, w, R"("biases": [[[true], [-0.5]]])", c}), "biases[0][0][0] should be a number"},
        {"nan", obj({s, R"("weights": [[[1, 2, NaN], [4, 5, 6]]])", b, c}), "NaN and Infinity are not numbers in JSON"},
        {"infinity", obj({s, R"("weights": [[[1, 2, Infinity], [4, 5, 6]]])", b, c}), "NaN and Infinity"},
        {"overflow", obj({s, R"("weights": [[[1, 2, 1e999], [4, 5, 6]]])", b, c}), "not valid JSON: number overflow parsing '1e999'"},
        {"unknown_cost", obj({s, w, b, R"("cost": "HingeCost")"}), "expected \"QuadraticCost\" or \"CrossEntropyCost\""},
        {"cost_number", obj({s, w, b, R"("cost": 1)"}), "\"cost\" is 1"},
    };
    for (const BadModel& bad : cases) {
        const std::string file = write(std::string(bad.name) + ".json", bad.text);
        try {
            load_model(file);
            ADD_FAILURE() << bad.name << ": loaded; expected: " << bad.expected;
        } catch (const Error& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find(bad.expected), std::string::npos) << bad.name << ": " << msg;
            EXPECT_EQ(msg.rfind(file + ": ", 0), 0u) << bad.name << ": the message should start with the file: " << msg;
            EXPECT_EQ(msg.find('\n'), std::string::npos) << bad.name << ": one line: " << msg;
        }
    }
    // A valid file assembled from the same parts loads: the cases above each break one thing.
    EXPECT_NO_THROW(load_model(write("good.json", obj({s, w, b, c}))));
}

TEST_F(ModelIo, MissingFileAndDirectory) {
    EXPECT_THROW(
        {
            try {
                load_model(path("nope.json"));
            } catch (const Error& e) {
                EXPECT_NE(std::string(e.what()).find("nope.json: No such file"), std::string::npos) << e.what();
                throw;
            }
        },
        Error);
    EXPECT_THROW(load_model(dir_.string()), Error);
}

TEST_F(ModelIo, SaveReplacesAtomicallyAndCleansUpOnFailure) {
    Network<double> net({3, 2});
    net.init(Init::gaussian, 1);
    const std::string target = path("model.json");
    std::ofstream(target) << "old contents";
    save_model(target, net, Cost::quadratic);
    EXPECT_TRUE(bitwise_equal(load_model(target).net.params(), net.params()));
    EXPECT_TRUE(others({"model.json"}).empty());

    // Into a missing directory: an error naming the path; nothing is created anywhere.
    EXPECT_THROW(save_model(path("missing/model.json"), net, Cost::quadratic), Error);
    EXPECT_FALSE(fs::exists(path("missing")));
    // Over a directory: the rename fails after the temporary file was written; it is removed.
    fs::create_directories(path("adir"));
    EXPECT_THROW(save_model(path("adir"), net, Cost::quadratic), Error);
    EXPECT_TRUE(fs::is_directory(path("adir")));
    EXPECT_TRUE(others({"model.json", "adir"}).empty());
}

// JSON has no NaN or infinity: a network holding one is refused, and an existing file kept.
TEST_F(ModelIo, NonFiniteParametersAreNotSaved) {
    for (double bad : {std::nan(""), HUGE_VAL}) {
        Network<float> net({3, 2});
        net.init(Init::gaussian, 1);
        net.params()[4] = float(bad);
        const std::string target = path("model.json");
        std::ofstream(target) << "old contents";
        try {
            save_model(target, net, Cost::quadratic);
            FAIL() << "saved a network holding " << bad;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("not saved: the network's parameters include"), std::string::npos)
                << e.what();
        }
        std::ifstream in(target);
        EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "old contents");
    }
}

// A write that fails part-way (here: the file-size limit, as a full disk would) leaves the
// existing model untouched and no temporary file behind.
TEST_F(ModelIo, FailedWriteKeepsTheExistingFile) {
    const std::string target = path("model.json");
    std::ofstream(target) << "the old model";
    Network<double> net({200, 50, 10});  // ~250 kB of JSON
    net.init(Init::gaussian, 2);
    struct rlimit old {};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    struct rlimit small = old;
    small.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
    std::string error;
    try {
        save_model(target, net, Cost::quadratic);
    } catch (const Error& e) {
        error = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    EXPECT_NE(error.find(target + ": write failed"), std::string::npos) << error;
    EXPECT_NE(error.find("not changed"), std::string::npos) << error;
    EXPECT_EQ(read(target), "the old model");
    EXPECT_TRUE(others({"model.json"}).empty());
}

// ---- interoperability with network2.py (needs python3 with numpy) ----------------------------

// A python3 that can import numpy, or "" (BATCHPROP_PYTHON, then python3 on PATH, then
// /usr/bin/python3: a version manager's python3 may lack the system's numpy).
std::string python_with_numpy() {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("BATCHPROP_PYTHON")) candidates.push_back(env);
    candidates.push_back("python3");
    candidates.push_back("/usr/bin/python3");
    for (const std::string& py : candidates)
        if (std::system((py + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return py;
    return "";
}

std::string run_capture(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = pclose(p);
    EXPECT_EQ(status, 0) << cmd << "\n" << out;
    return out;
}

// network2.py's load() and feedforward, verbatim in substance (Python 3).
const char* kNetwork2 = R"PY(
import json, sys
import numpy as np

class QuadraticCost(object): pass
class CrossEntropyCost(object): pass

def sigmoid(z):
    return 1.0/(1.0+np.exp(-z))

class Network(object):
    def __init__(self, sizes, cost=CrossEntropyCost):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.cost = cost
    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a)+b)
        return a
    def save(self, filename):
        data = {"sizes": self.sizes,
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": str(self.cost.__name__)}
        f = open(filename, "w")
        json.dump(data, f)
        f.close()

def load(filename):
    f = open(filename, "r")
    data = json.load(f)
    f.close()
    cost = getattr(sys.modules[__name__], data["cost"])
    net = Network(data["sizes"], cost=cost)
    net.weights = [np.array(w) for w in data["weights"]]
    net.biases = [np.array(b) for b in data["biases"]]
    return net
)PY";

std::vector<double> parse_numbers(const std::string& text) {
    std::vector<double> v;
    std::istringstream in(text);
    std::string tok;
    while (in >> tok) v.push_back(std::strtod(tok.c_str(), nullptr));
    return v;
}

// a^L for each column of x (n_0 x m), by our CPU backend in double.
std::vector<double> feedforward(const Network<double>& net, const std::vector<double>& x, int m) {
    auto be = make_cpu_backend<double>();
    Backprop<double> bp(*be, net.layout(), m);
    bp.set_params(net.params());
    Buffer<double> xb(*be, x.size());
    xb.upload(x);
    const ConstView<double> a = bp.feedforward(ConstView<double>(xb.data(), net.sizes().front(), m));
    return std::vector<double>(a.data, a.data + a.size());
}

TEST_F(ModelIo, Network2LoadsOurFileAndComputesTheSameOutputs) {
    const std::string py = python_with_numpy();
    if (py.empty()) GTEST_SKIP() << "no python3 with numpy (install python3-numpy, or set BATCHPROP_PYTHON)";
    const int m = 6;
    for (const Cost cost : {Cost::quadratic, Cost::cross_entropy}) {
        Network<double> net({5, 7, 4, 3});
        net.init(Init::gaussian, cost == Cost::quadratic ? 21 : 22);
        save_model(path("ours.json"), net, cost, {{"epochs", 3}});
        const std::vector<double> x = bptest::random_vector<double>(5 * m, 5, 0.0, 1.0);
        std::ofstream(path("load.py")) << kNetwork2 << R"PY(
net = load(sys.argv[1])
x = np.array([float(t) for t in sys.argv[2].split(",")]).reshape(-1, 5).T   # column j = example j
print(net.cost.__name__)
for j in range(x.shape[1]):
    print(" ".join(repr(float(v)) for v in net.feedforward(x[:, j:j+1]).ravel()))
)PY";
        std::string xs;
        for (double v : x) xs += (xs.empty() ? "" : ",") + nlohmann::json(v).dump();
        const std::string out = run_capture(py + " " + path("load.py") + " " + path("ours.json") + " " + xs);
        const std::size_t nl = out.find('\n');
        ASSERT_NE(nl, std::string::npos) << out;
        EXPECT_EQ(out.substr(0, nl), cost_class_name(cost));
        const std::vector<double> theirs = parse_numbers(out.substr(nl + 1));
        const std::vector<double> ours = feedforward(net, x, m);
        EXPECT_TRUE(bptest::close_normwise(ours, theirs, 1e-13));
    }
}

TEST_F(ModelIo, WeLoadAFileNetwork2Saved) {
    const std::string py = python_with_numpy();
    if (py.empty()) GTEST_SKIP() << "no python3 with numpy (install python3-numpy, or set BATCHPROP_PYTHON)";
    std::ofstream(path("save.py")) << kNetwork2 << R"PY(
np.random.seed(7)
net = Network([4, 6, 3], cost=CrossEntropyCost)
net.biases = [np.random.randn(y, 1) for y in net.sizes[1:]]
net.weights = [np.random.randn(y, x)/np.sqrt(x) for x, y in zip(net.sizes[:-1], net.sizes[1:])]
net.save(sys.argv[1])
x = np.linspace(0.05, 0.95, 4).reshape(4, 1)
print(repr(float(net.weights[0][4, 1])), repr(float(net.weights[1][2, 5])), repr(float(net.biases[1][2, 0])))
print(" ".join(repr(float(v)) for v in net.feedforward(x).ravel()))
)PY";
    const std::string out = run_capture(py + " " + path("save.py") + " " + path("theirs.json"));
    std::istringstream lines(out);
    std::string picks, outputs;
    std::getline(lines, picks);
    std::getline(lines, outputs);
    const std::vector<double> p = parse_numbers(picks);
    ASSERT_EQ(p.size(), 3u) << out;

    const Model m = load_model(path("theirs.json"));
    EXPECT_EQ(m.cost, Cost::cross_entropy);
    ASSERT_EQ(m.net.sizes(), (std::vector<int>{4, 6, 3}));
    // Bit-exact values, at the transposed positions: w1(4, 1), w2(2, 5), b2(2).
    EXPECT_EQ(m.net.w(1).data[4 + 1 * 6], p[0]);
    EXPECT_EQ(m.net.w(2).data[2 + 5 * 3], p[1]);
    EXPECT_EQ(m.net.b(2)[2], p[2]);
    std::vector<double> x(4);
    for (int i = 0; i < 4; ++i) x[std::size_t(i)] = 0.05 + 0.3 * i;  // numpy's linspace(0.05, 0.95, 4)
    EXPECT_TRUE(bptest::close_normwise(feedforward(m.net, x, 1), parse_numbers(outputs), 1e-13));
}

}  // namespace
