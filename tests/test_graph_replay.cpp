// The recorded (CUDA-graph) training path, checked on the CPU: how an epoch is cut into
// segments, when a segment is run, recorded or replayed, and that replaying recorded steps
// trains bitwise as running them does. The recording double (recording_backend.hpp) freezes
// every call's arguments as a stream capture does, so what a GPU replay would compute is
// what these tests compute.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "batchprop/epoch_plan.hpp"
#include "batchprop/trainer.hpp"
#include "doubles/recording_backend.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

// ---- the plan ------------------------------------------------------------------------------

TEST(EpochPlan, CoversEveryExampleOnceInOrder) {
    for (int n : {1, 7, 10, 11, 100, 253, 50000})
        for (int m : {1, 3, 10, 100})
            for (int k : {1, 2, 7, 200}) {
                if (m > n) continue;
                const std::vector<Segment> plan = plan_epoch(n, m, k);
                int next = 0, chunks = 0, tails = 0, partials = 0;
                for (std::size_t i = 0; i < plan.size(); ++i) {
                    const Segment& s = plan[i];
                    SCOPED_TRACE("n " + std::to_string(n) + ", m " + std::to_string(m) + ", k " +
                                 std::to_string(k) + ", segment " + std::to_string(i));
                    EXPECT_EQ(s.first, next);
                    EXPECT_GE(s.steps, 1);
                    next += s.examples();
                    switch (s.kind) {
                        case SegmentKind::full:
                            ++chunks;
                            EXPECT_EQ(s.steps, k);
                            EXPECT_EQ(s.m, m);
                            EXPECT_EQ(tails + partials, 0) << "a chunk after the tail or the partial batch";
                            break;
                        case SegmentKind::tail:
                            ++tails;
                            EXPECT_LT(s.steps, k);
                            EXPECT_EQ(s.m, m);
                            EXPECT_EQ(partials, 0);
                            break;
                        case SegmentKind::partial:
                            ++partials;
                            EXPECT_EQ(s.steps, 1);
                            EXPECT_EQ(s.m, n % m);
                            EXPECT_EQ(i + 1, plan.size()) << "the partial batch comes last";
                            break;
                    }
                }
                EXPECT_EQ(next, n);
                EXPECT_EQ(chunks, n / m / k);
                EXPECT_EQ(tails, (n / m) % k ? 1 : 0);
                EXPECT_EQ(partials, n % m ? 1 : 0);
            }
}

TEST(EpochPlan, AWorkedExample) {
    // 253 examples, m = 10, 7 steps a chunk: 25 full batches = 3 chunks (210 examples) + a
    // tail of 4 batches (40), then a partial batch of 3.
    const std::vector<Segment> plan = plan_epoch(253, 10, 7);
    ASSERT_EQ(plan.size(), 5u);
    EXPECT_EQ(plan[2].first, 140);
    EXPECT_EQ(plan[3].kind, SegmentKind::tail);
    EXPECT_EQ(plan[3].first, 210);
    EXPECT_EQ(plan[3].steps, 4);
    EXPECT_EQ(plan[4].kind, SegmentKind::partial);
    EXPECT_EQ(plan[4].first, 250);
    EXPECT_EQ(plan[4].m, 3);
}

TEST(EpochPlan, RejectsImpossibleArguments) {
    EXPECT_THROW(plan_epoch(0, 1, 1), Error);
    EXPECT_THROW(plan_epoch(10, 0, 1), Error);
    EXPECT_THROW(plan_epoch(10, 11, 1), Error);
    EXPECT_THROW(plan_epoch(10, 2, 0), Error);
}

TEST(EpochPlan, RecordedChunkSizes) {
    // [784,30,10] at m = 10: 10 launches a step, 200 steps (2,000 examples) a replay: 25
    // progress points in a 50,000-example epoch.
    EXPECT_EQ(recorded_segment_steps(10, Mode::matrix, 2), 200);
    EXPECT_EQ(recorded_segment_steps(100, Mode::matrix, 2), 20);
    EXPECT_EQ(recorded_segment_steps(1024, Mode::matrix, 3), 1);
    // Per-example mode launches per column: (5L - 1) m + 2 = 92 a step at m = 10.
    EXPECT_EQ(recorded_segment_steps(10, Mode::per_example, 2), 2000 / 92);
    EXPECT_EQ(recorded_segment_steps(1000, Mode::per_example, 3), 1);
}

TEST(EpochPlan, RunOnceThenRecordThenReplay) {
    EXPECT_EQ(segment_action(true, 0, false), SegmentAction::run);  // the warm-up
    EXPECT_EQ(segment_action(true, 1, false), SegmentAction::record_then_replay);
    EXPECT_EQ(segment_action(true, 5, true), SegmentAction::replay);
    EXPECT_EQ(segment_action(false, 5, false), SegmentAction::run);
    EXPECT_EQ(segment_action(false, 5, true), SegmentAction::replay);  // made before a later failure
}

// ---- the recording double itself -------------------------------------------------------------

TEST(RecordingBackend, FreezesArgumentsAndReadsMemoryAtReplay) {
    bptest::RecordingCpuBackend<double> be;
    Buffer<int> cursor(be, 1);
    cursor.upload(std::vector<int>{5});
    auto rec = be.record([&] { be.advance_cursor(cursor.data(), 3); });
    EXPECT_EQ(cursor.to_host(), std::vector<int>{5}) << "recording ran the call";
    rec->replay();
    rec->replay();
    EXPECT_EQ(cursor.to_host(), std::vector<int>{11});
    EXPECT_THROW(be.record([&] { be.sum_squares(nullptr, 1); }), RecordingFailed);
}

// ---- training: recorded and replayed equals eager, bitwise -----------------------------------

template <class T>
struct Outcome {
    std::vector<T> params;
    std::vector<long long> progress;  // examples done at each on_batch
    std::vector<std::string> notices;
    long long last_epoch_examples = 0;
};

Dataset random_images(int n, std::uint64_t seed) {
    Dataset d;
    d.n_inputs = 784;
    d.n = n;
    d.source = "random";
    d.pixels = bptest::random_pixels(std::size_t(784) * std::size_t(n), seed);
    std::uint64_t s = seed * 7 + 1;
    for (int j = 0; j < n; ++j) d.labels.push_back(int(splitmix64(s++) % 10));
    return d;
}

template <class T>
Outcome<T> train_on(Backend<T>& be, const Dataset& data, TrainConfig c, const std::atomic<bool>* stop = nullptr) {
    Network<T> net({784, 30, 10});
    net.init(Init::scaled, 21);
    DeviceData<T> d(be, data);
    Trainer<T> trainer(be, net.layout(), d, &d, c);
    trainer.backprop().set_params(net.params());
    Outcome<T> out;
    TrainCallbacks cb;
    cb.on_batch = [&](const BatchProgress& p) { out.progress.push_back(p.examples_done); };
    cb.on_epoch = [&](const EpochResult& r) {
        out.last_epoch_examples = r.examples;
        return true;
    };
    cb.on_notice = [&](const std::string& s) { out.notices.push_back(s); };
    cb.stop = stop;
    trainer.run(cb);
    out.params = trainer.backprop().params();
    return out;
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
class GraphReplay : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GraphReplay, Types);

// 3 epochs of 253 examples in batches of 10 with 7 steps a chunk: every segment kind, each
// met in every epoch, recorded in the first or second and replayed after. Shuffled or not,
// both modes, both costs: the replayed run ends bitwise where the eager one does.
TYPED_TEST(GraphReplay, BitwiseEqualToEager) {
    using T = TypeParam;
    const Dataset data = random_images(253, 3);
    for (Mode mode : {Mode::matrix, Mode::per_example})
        for (bool shuffle : {true, false})
            for (Cost cost : {Cost::quadratic, Cost::cross_entropy}) {
                TrainConfig c = bptest::config(3, 10, 1.0);
                c.mode = mode;
                c.cost = cost;
                c.shuffle = shuffle;
                c.seed = 9;
                c.segment_steps = 7;
                SCOPED_TRACE(std::string(mode == Mode::matrix ? "matrix" : "per-example") +
                             (shuffle ? ", shuffled, " : ", in order, ") +
                             (cost == Cost::quadratic ? "quadratic" : "cross-entropy"));
                auto cpu = make_cpu_backend<T>();
                c.launch = Launch::eager;
                const Outcome<T> eager = train_on(*cpu, data, c);
                bptest::RecordingCpuBackend<T> rec;
                c.launch = Launch::graph;
                const Outcome<T> graph = train_on(rec, data, c);
                EXPECT_TRUE(bitwise_equal(graph.params, eager.params));
                EXPECT_EQ(rec.recordings, 3) << "one recording per segment kind";
                // Per epoch 5 segments; the first of each kind runs, the rest replay: 15 - 3 runs.
                EXPECT_EQ(rec.replays, 15 - 3);
                EXPECT_TRUE(graph.notices.empty());
                // The same segments were reported, so progress is at the same places.
                EXPECT_EQ(graph.progress, eager.progress);
                // ... and the comparison can fail: two epochs instead of three differ.
                TrainConfig shorter = c;
                shorter.epochs = 2;
                EXPECT_FALSE(bitwise_equal(graph.params, train_on(*cpu, data, shorter).params));
            }
}

// A recording that fails is said once, and training goes on eagerly to the same result.
TYPED_TEST(GraphReplay, FailedRecordingFallsBackToEager) {
    using T = TypeParam;
    const Dataset data = random_images(95, 5);
    TrainConfig c = bptest::config(2, 10);
    c.segment_steps = 3;
    auto cpu = make_cpu_backend<T>();
    c.launch = Launch::eager;
    const Outcome<T> eager = train_on(*cpu, data, c);
    bptest::RecordingCpuBackend<T> failing(true);
    c.launch = Launch::graph;
    const Outcome<T> got = train_on(failing, data, c);
    EXPECT_TRUE(bitwise_equal(got.params, eager.params));
    ASSERT_EQ(got.notices.size(), 1u);
    EXPECT_NE(got.notices[0].find("recording refused (test)"), std::string::npos) << got.notices[0];
    EXPECT_NE(got.notices[0].find("one call at a time"), std::string::npos) << got.notices[0];
}

// The stop flag is honoured at the end of the segment in progress: after a whole replayed
// chunk of steps, never inside one.
TYPED_TEST(GraphReplay, StopComesAtASegmentBoundary) {
    using T = TypeParam;
    const Dataset data = random_images(253, 7);
    TrainConfig c = bptest::config(3, 10);
    c.segment_steps = 7;
    std::atomic<bool> stop{false};
    bptest::RecordingCpuBackend<T> rec;
    Network<T> net({784, 30, 10});
    net.init(Init::scaled, 21);
    DeviceData<T> d(rec, data);
    Trainer<T> trainer(rec, net.layout(), d, nullptr, c);
    trainer.backprop().set_params(net.params());
    TrainCallbacks cb;
    int batches = 0;
    cb.on_batch = [&](const BatchProgress& p) {
        if (++batches == 2) stop = true;  // during the second chunk of the first epoch
        EXPECT_EQ(p.examples_done % 70, 0);
    };
    cb.stop = &stop;
    long long done = 0;
    trainer.train_epoch(0, cb, &done);
    EXPECT_EQ(done, 140);
    EXPECT_EQ(rec.replays, 1);  // chunk 1 ran (warm-up), chunk 2 was recorded and replayed
}

// Float inputs take the same recorded path: replayed equals eager, bitwise, and the recording
// backend freezes the float view like the byte one.
TYPED_TEST(GraphReplay, FloatInputsReplayBitwiseEqualToEager) {
    using T = TypeParam;
    const Dataset bytes = random_images(253, 4);
    auto inputs = std::make_shared<std::vector<float>>();
    for (std::uint8_t k : bytes.pixels) inputs->push_back(float(k) / 256.0f);
    const Dataset data = borrow_images(784, bytes.n, inputs->data(), inputs, bytes.labels, "k/256");
    TrainConfig c = bptest::config(2, 10);
    c.segment_steps = 7;
    auto cpu = make_cpu_backend<T>();
    c.launch = Launch::eager;
    const Outcome<T> eager = train_on(*cpu, data, c);
    bptest::RecordingCpuBackend<T> rec;
    c.launch = Launch::graph;
    const Outcome<T> graph = train_on(rec, data, c);
    EXPECT_TRUE(bitwise_equal(graph.params, eager.params));
    EXPECT_GT(rec.replays, 0);
    EXPECT_FALSE(bitwise_equal(eager.params, train_on(*cpu, bytes, c).params)) << "k/256 is not k/255";
}

// The trainer records only where asked and where the device can.
TEST(GraphReplay, RecordsOnlyWithGraphLaunchOnARecordingDevice) {
    const Dataset data = random_images(40, 1);
    Network<float> net({784, 30, 10});
    TrainConfig c;
    c.batch = 10;
    auto cpu = make_cpu_backend<float>();
    DeviceData<float> d(*cpu, data);
    EXPECT_FALSE(Trainer<float>(*cpu, net.layout(), d, nullptr, c).recording());
    EXPECT_EQ(Trainer<float>(*cpu, net.layout(), d, nullptr, c).plan().size(), 4u) << "eager: a segment per batch";
    bptest::RecordingCpuBackend<float> rec;
    DeviceData<float> dr(rec, data);
    EXPECT_TRUE(Trainer<float>(rec, net.layout(), dr, nullptr, c).recording());
    c.launch = Launch::eager;
    EXPECT_FALSE(Trainer<float>(rec, net.layout(), dr, nullptr, c).recording());
}

}  // namespace
