// The Trainer's loop and its evaluation checked against computations done here, by hand, from
// their definitions: a two-epoch run replayed step by step from permutation(seed, epoch), the
// regularised evaluation cost against its formula, and evaluation in workspaces of different
// widths against a plain host forward pass. Each catches a bug that leaves the run looking
// plausible (the same shuffle every epoch, the L2 term over the wrong n, labels misaligned
// past the first chunk).
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <vector>

#include "batchprop/trainer.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

TrainConfig replay_config(Mode mode) {
    TrainConfig c;
    c.epochs = 2;
    c.batch = 7;  // 40 = 5 * 7 + 5: a partial last batch in each epoch
    c.eta = 0.5;
    c.lambda = 0.3;
    c.cost = Cost::cross_entropy;
    c.mode = mode;
    c.seed = 17;
    c.monitor_evaluation = false;
    return c;
}

// SGD by hand from the definitions: epoch e visits the examples in the order
// permutation(seed, e); each mini-batch is assembled here on the host (columns and one-hot
// targets), then backprop() + update(), the unfused pair.
std::vector<double> replay(const Dataset& tr, const Network<double>& net, const TrainConfig& c,
                           const std::vector<std::uint64_t>& epochs) {
    auto be = make_cpu_backend<double>();
    Backprop<double> bp(*be, net.layout(), c.batch);
    bp.set_params(net.params());
    const int n = tr.n, n0 = tr.n_inputs, nL = net.sizes().back();
    Buffer<int> order(*be, std::size_t(n));
    Buffer<double> x(*be, std::size_t(n0) * std::size_t(c.batch)), y(*be, std::size_t(nL) * std::size_t(c.batch));
    for (std::uint64_t e : epochs) {
        be->permutation(order.data(), n, c.seed, e);
        const std::vector<int> idx = order.to_host();
        for (int first = 0; first < n; first += c.batch) {
            const int m = std::min(c.batch, n - first);
            std::vector<double> xs, ys(std::size_t(nL) * std::size_t(m), 0.0);
            for (int j = 0; j < m; ++j) {
                const int k = idx[std::size_t(first + j)];
                for (int i = 0; i < n0; ++i)
                    xs.push_back(double(tr.pixels[std::size_t(k) * std::size_t(n0) + std::size_t(i)]) / 255.0);
                ys[std::size_t(j) * std::size_t(nL) + std::size_t(tr.labels[std::size_t(k)])] = 1.0;
            }
            x.upload(xs);
            y.upload(ys);
            const ConstView<double> xv(x.data(), n0, m), yv(y.data(), nL, m);
            bp.backprop(xv, yv, c.mode, c.cost);
            bp.update(c.eta, c.lambda, n, m);
        }
    }
    return bp.params();
}

// Two epochs of Trainer::run land where the hand replay of epochs 0 and 1 does (double,
// 1e-13 normwise: the matrix step is fused, rounding in another order), and not where
// replaying epoch 0's order twice does: each epoch must draw its own shuffle.
TEST(TrainerReplay, TwoEpochsFollowPermutationOfEachEpoch) {
    const Dataset tr = bptest::quadrants(40, 11);
    for (Mode mode : {Mode::matrix, Mode::per_example}) {
        const TrainConfig c = replay_config(mode);
        Network<double> net({2, 5, 4});
        net.init(Init::gaussian, 12);

        auto be = make_cpu_backend<double>();
        DeviceData<double> d(*be, tr);
        Trainer<double> trainer(*be, net.layout(), d, nullptr, c);
        trainer.backprop().set_params(net.params());
        ASSERT_EQ(trainer.run(), 2);
        const std::vector<double> got = trainer.backprop().params();

        const std::vector<double> want = replay(tr, net, c, {0, 1});
        EXPECT_TRUE(bptest::close_normwise(got, want, 1e-13)) << "mode " << int(mode);
        // The check can tell: the same shuffle twice, or one epoch only, ends elsewhere.
        EXPECT_FALSE(bptest::close_normwise(got, replay(tr, net, c, {0, 0}), 1e-6)) << "mode " << int(mode);
        EXPECT_FALSE(bptest::close_normwise(got, replay(tr, net, c, {0}), 1e-6)) << "mode " << int(mode);
    }
}

// ---- evaluation against a host forward pass ----------------------------------------------------

struct HandEval {
    std::vector<int> predicted;  // argmax of each column's output
    std::vector<double> cost;    // each column's cost against its label
};

// The forward pass written out with plain loops and std::exp, in double:
// a^l_i = 1 / (1 + exp(-(sum_k w^l(i, k) a^{l-1}_k + b^l_i))), w^l column-major (n_l x n_{l-1}).
HandEval hand_eval(const Network<double>& net, const Dataset& data, Cost cost) {
    HandEval h;
    const int L = net.n_layers();
    for (int j = 0; j < data.n; ++j) {
        std::vector<double> a;
        for (int i = 0; i < data.n_inputs; ++i)
            a.push_back(double(data.pixels[std::size_t(j) * std::size_t(data.n_inputs) + std::size_t(i)]) / 255.0);
        for (int l = 1; l <= L; ++l) {
            const ConstView<double> w = net.w(l);
            std::vector<double> next(std::size_t(w.rows));
            for (int i = 0; i < w.rows; ++i) {
                double z = net.b(l)[i];
                for (int k = 0; k < w.cols; ++k) z += w.data[std::size_t(i) + std::size_t(k) * std::size_t(w.ld)] * a[std::size_t(k)];
                next[std::size_t(i)] = 1.0 / (1.0 + std::exp(-z));
            }
            a = std::move(next);
        }
        int best = 0;
        for (int i = 1; i < int(a.size()); ++i)
            if (a[std::size_t(i)] > a[std::size_t(best)]) best = i;
        h.predicted.push_back(best);
        double c = 0.0;
        for (int i = 0; i < int(a.size()); ++i) {
            const double y = i == data.labels[std::size_t(j)] ? 1.0 : 0.0, ai = a[std::size_t(i)];
            c += cost == Cost::quadratic ? 0.5 * (ai - y) * (ai - y) : -(y * std::log(ai) + (1 - y) * std::log(1 - ai));
        }
        h.cost.push_back(c);
    }
    return h;
}

double sum(const std::vector<double>& v) {
    double s = 0.0;
    for (double x : v) s += x;
    return s;
}

// The evaluation cost with lambda > 0 is network2.py's total_cost: the mean cost over the
// evaluated set plus (lambda / 2n) sum ||w||^2 with n the size of the *training* set, here 40,
// while the evaluated set has 23 examples.
TEST(TrainerEvaluation, RegularisedCostMatchesTheFormula) {
    const Dataset tr = bptest::quadrants(40, 21), ev = bptest::quadrants(23, 22);
    for (Cost cost : {Cost::quadratic, Cost::cross_entropy}) {
        Network<double> net({2, 5, 4});
        net.init(Init::gaussian, 23);
        TrainConfig c = replay_config(Mode::matrix);
        c.cost = cost;
        c.lambda = 0.8;
        auto be = make_cpu_backend<double>();
        DeviceData<double> dtr(*be, tr), dev(*be, ev);
        Trainer<double> trainer(*be, net.layout(), dtr, &dev, c);
        trainer.backprop().set_params(net.params());

        double sum_w2 = 0.0;
        for (std::size_t i = 0; i < net.layout().n_weights(); ++i) sum_w2 += net.params()[i] * net.params()[i];
        const double l2 = 0.8 / (2.0 * 40.0) * sum_w2;
        ASSERT_GT(l2, 0.1);  // large enough that dividing by another n shows

        const HandEval he = hand_eval(net, ev, cost);
        const Evaluation e = trainer.evaluate(dev);
        EXPECT_EQ(e.total, 23);
        EXPECT_NEAR(e.cost, sum(he.cost) / 23.0 + l2, 1e-12 * (sum(he.cost) / 23.0 + l2));
        // On the training set itself: its own mean, the same L2 term.
        const HandEval ht = hand_eval(net, tr, cost);
        EXPECT_NEAR(trainer.evaluate(dtr).cost, sum(ht.cost) / 40.0 + l2, 1e-12 * (sum(ht.cost) / 40.0 + l2));

        // Without lambda: no L2 term at all.
        c.lambda = 0.0;
        Trainer<double> plain(*be, net.layout(), dtr, &dev, c);
        plain.backprop().set_params(net.params());
        EXPECT_NEAR(plain.evaluate(dev).cost, sum(he.cost) / 23.0, 1e-12 * sum(he.cost) / 23.0);
    }
}

// The trainer evaluates a data set in chunks of 1,000 examples converted from its bytes: over
// 2,503 examples (three chunks, the last partial), the count and the cost are those of a host
// forward pass, each chunk scored against its own examples' labels.
TEST(TrainerEvaluation, ThousandExampleChunksUseTheirOwnLabels) {
    const Dataset tr = bptest::quadrants(40, 51);
    Dataset ev = bptest::quadrants(2503, 52);
    Network<double> net({2, 6, 4});
    net.init(Init::gaussian, 57);  // a seed whose net predicts several classes (checked below)
    // Labels that make the count depend on every chunk: a column picked by a hash of its index
    // gets the predicted class, the others a wrong one, so no chunk's labels fit another's.
    const HandEval pred = hand_eval(net, ev, Cost::quadratic);
    long long right = 0;
    for (int j = 0; j < ev.n; ++j) {
        const int p = pred.predicted[std::size_t(j)];
        const bool hit = splitmix64(std::uint64_t(j)) & 1;
        right += hit;
        ev.labels[std::size_t(j)] = hit ? p : (p + 1 + j % 3) % 4;
    }
    ASSERT_NE(std::count(pred.predicted.begin(), pred.predicted.end(), pred.predicted[0]), 2503)
        << "the network predicts one class everywhere: the labels would not tell chunks apart";
    auto be = make_cpu_backend<double>();
    DeviceData<double> dtr(*be, tr), dev(*be, ev);
    TrainConfig c = replay_config(Mode::matrix);
    c.lambda = 0.0;  // the mean cost alone
    Trainer<double> trainer(*be, net.layout(), dtr, &dev, c);
    trainer.backprop().set_params(net.params());
    const HandEval he = hand_eval(net, ev, c.cost);
    const Evaluation e = trainer.evaluate(dev);
    EXPECT_EQ(e.correct, right);
    EXPECT_NEAR(e.cost, sum(he.cost) / 2503.0, 1e-12 * sum(he.cost) / 2503.0);
}

// Evaluation feeds forward in chunks of the workspace's width. Workspaces of 3 columns (eight
// chunks, the last of 2) and of 10 (three chunks, the last of 3) must give the counts and costs
// of a host forward pass over all 23 columns: each chunk's outputs scored against its own
// columns' labels.
TEST(TrainerEvaluation, ChunkedEvaluationMatchesAHostForwardPass) {
    Dataset ev = bptest::quadrants(23, 31);
    Network<double> net({2, 6, 4});
    net.init(Init::gaussian, 32);
    // Labels chosen so that the right answer is known: even columns get the network's own
    // prediction (correct), odd ones another class (wrong): 12 correct of 23.
    const HandEval pred = hand_eval(net, ev, Cost::quadratic);
    for (int j = 0; j < ev.n; ++j)
        ev.labels[std::size_t(j)] = j % 2 == 0 ? pred.predicted[std::size_t(j)] : (pred.predicted[std::size_t(j)] + 1 + j % 3) % 4;
    for (Cost cost : {Cost::quadratic, Cost::cross_entropy}) {
        const HandEval he = hand_eval(net, ev, cost);
        auto be = make_cpu_backend<double>();
        DeviceData<double> d(*be, ev);
        const bptest::HostBatch<double> host = bptest::host_batch<double>(ev, 0, ev.n, 4);
        Buffer<double> x(*be, host.x.size());
        x.upload(host.x);
        for (int capacity : {3, 10, 23}) {
            Backprop<double> bp(*be, net.layout(), capacity);
            bp.set_params(net.params());
            const EvalSums s = bp.evaluate(ConstView<double>(x.data(), ev.n_inputs, ev.n), d.labels(), cost);
            EXPECT_EQ(s.correct, 12) << "capacity " << capacity;
            EXPECT_NEAR(s.cost, sum(he.cost), 1e-12 * sum(he.cost)) << "capacity " << capacity;
        }
    }
}

}  // namespace
