// batchprop::Session (batchprop.hpp), the one-header API: training learns, resuming at an
// epoch gives the uninterrupted run's parameters bit for bit, predict agrees with evaluate,
// save/load round-trips, borrowed images (bytes or float inputs) train and predict like owned
// ones, and bad input is a batchprop::Error. CPU only, small problems.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchprop/batchprop.hpp"
#include "batchprop/trainer.hpp"
#include "doubles/recording_backend.hpp"
#include "support/test_util.hpp"

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

// ---- borrowed images (borrow_images) ---------------------------------------------------------

// f() throws a batchprop::Error whose message contains `needle`.
template <class F>
void expect_error(F&& f, const std::string& needle) {
    try {
        f();
        ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

// A copy of a data set's byte images, or of them as float inputs, in a shared buffer: what a
// caller lends to borrow_images, with the buffer as the keepalive.
std::shared_ptr<std::vector<std::uint8_t>> lent_bytes(const Dataset& d) {
    return std::make_shared<std::vector<std::uint8_t>>(d.pixels);
}
template <class F>
std::shared_ptr<std::vector<float>> lent_floats(const Dataset& d, F to_float) {
    auto v = std::make_shared<std::vector<float>>();
    for (std::uint8_t k : d.pixels) v->push_back(to_float(k));
    return v;
}

TrainConfig monitored_config(int epochs, double lambda) {
    TrainConfig cfg = small_config(epochs);
    cfg.eta = 0.5;
    cfg.lambda = lambda;
    return cfg;
}

// Parameters after training, and the evaluations reported on the way.
struct Trained {
    std::vector<double> params;
    std::vector<double> costs;
    std::vector<double> outputs;
};
Trained train_session(DType dt, const Dataset& train, const Dataset& eval) {
    Session s = Session::create({2, 6, 4}, Cost::cross_entropy, Init::scaled, 5, {"cpu", dt});
    Trained t;
    TrainCallbacks cb;
    cb.on_epoch = [&](const EpochResult& r) {
        t.costs.push_back(r.evaluation->cost);
        return true;
    };
    s.train(train, &eval, monitored_config(4, 0.5), cb);
    t.params = s.network().params();
    t.outputs = s.outputs(eval);
    return t;
}

TEST_F(SessionTest, BorrowImagesChecksItsArguments) {
    const std::uint8_t bytes[6] = {1, 2, 3, 4, 5, 6};
    const float floats[6] = {0.25f, 0.5f, 1.0f, -2.0f, 0.125f, 3.0f};
    expect_error([&] { borrow_images(0, 3, bytes, nullptr, {}, "b"); }, "b: images need at least one pixel (got 0)");
    expect_error([&] { borrow_images(2, -1, floats, nullptr, {}, "f"); }, "f: a negative number of images (-1)");
    expect_error([&] { borrow_images(2, 3, static_cast<const float*>(nullptr), nullptr, {}, "f"); },
                 "f: 3 images at a null pointer");
    expect_error([&] { borrow_images(2, 3, bytes, nullptr, {0, 1}, "b"); }, "b: 3 images but 2 labels");
    expect_error([&] { borrow_images(2, 3, floats, nullptr, {0, -4, 1}, "f"); }, "f: label 1 is negative (-4)");
    float bad[6] = {0.25f, 0.5f, 1.0f, -2.0f, 0.125f, 3.0f};
    bad[3] = std::numeric_limits<float>::quiet_NaN();
    bad[5] = std::numeric_limits<float>::infinity();
    expect_error([&] { borrow_images(2, 3, bad, nullptr, {}, "numpy"); }, "numpy: input 1 of image 1 is not finite (nan)");
    bad[3] = -2.0f;
    expect_error([&] { borrow_images(2, 3, bad, nullptr, {}, "numpy"); }, "numpy: input 1 of image 2 is not finite (inf)");
    alignas(float) unsigned char raw[sizeof floats + 1] = {};
    expect_error([&] { borrow_images(2, 3, reinterpret_cast<const float*>(raw + 1), nullptr, {}, "f"); },
                 "f: the float inputs are not aligned to 4 bytes");

    // Accepted: the images are the caller's, not copied; empty labels mean images to predict.
    const Dataset b = borrow_images(2, 3, bytes, nullptr, {2, 0, 1}, "b");
    EXPECT_TRUE(b.borrowed());
    EXPECT_EQ(b.pixel_type(), PixelType::u8);
    EXPECT_EQ(b.image_data(), static_cast<const void*>(bytes));
    EXPECT_TRUE(b.pixels.empty());
    const Dataset f = borrow_images(2, 3, floats, nullptr, {}, "f");
    EXPECT_EQ(f.pixel_type(), PixelType::f32);
    EXPECT_EQ(f.image_data(), static_cast<const void*>(floats));
    EXPECT_EQ(f.n, 3);
    const Dataset owned = make_dataset(2, {1, 2, 3, 4}, {});
    EXPECT_FALSE(owned.borrowed());
    EXPECT_EQ(owned.pixel_type(), PixelType::u8);
    EXPECT_EQ(owned.image_data(), static_cast<const void*>(owned.pixels.data()));
    // Slices of borrowed images point into them.
    const Dataset tail = f.slice(1, 2);
    EXPECT_EQ(tail.image_data(), static_cast<const void*>(floats + 2));
    EXPECT_EQ(tail.pixel_type(), PixelType::f32);
    EXPECT_TRUE(tail.labels.empty());
    EXPECT_EQ(b.slice(2, 1).image_data(), static_cast<const void*>(bytes + 4));
    EXPECT_EQ(b.slice(2, 1).labels, std::vector<int>{1});
}

// Borrowed bytes are the same data as owned bytes: the same parameters, costs and outputs, bit
// for bit, in float and in double.
TEST_F(SessionTest, BorrowedBytesTrainBitwiseLikeOwnedBytes) {
    const Dataset train = bptest::quadrants(203, 11), test = bptest::quadrants(60, 12);
    const auto train_px = lent_bytes(train), test_px = lent_bytes(test);
    const Dataset btrain = borrow_images(2, train.n, train_px->data(), train_px, train.labels, "lent");
    const Dataset btest = borrow_images(2, test.n, test_px->data(), test_px, test.labels, "lent test");
    for (DType dt : {DType::f32, DType::f64}) {
        const Trained owned = train_session(dt, train, test), borrowed = train_session(dt, btrain, btest);
        EXPECT_EQ(borrowed.params, owned.params) << dtype_name(dt);
        EXPECT_EQ(borrowed.costs, owned.costs) << dtype_name(dt);
        EXPECT_EQ(borrowed.outputs, owned.outputs) << dtype_name(dt);
        EXPECT_EQ(owned.costs.size(), 4u);
    }
}

// Float inputs float(k)/255.0f are exactly what the byte path computes in float: training in
// float gives the byte run's parameters bit for bit. (In double the byte path divides in double,
// so the two differ: the float inputs are used as they are, not re-derived from bytes.)
TEST_F(SessionTest, FloatInputsOfBytesOver255TrainBitwiseLikeBytesInFloat) {
    const Dataset train = bptest::quadrants(203, 13), test = bptest::quadrants(60, 14);
    const auto over255 = [](std::uint8_t k) { return float(k) / 255.0f; };
    const auto train_in = lent_floats(train, over255), test_in = lent_floats(test, over255);
    const Dataset ftrain = borrow_images(2, train.n, train_in->data(), train_in, train.labels, "floats");
    const Dataset ftest = borrow_images(2, test.n, test_in->data(), test_in, test.labels, "floats test");
    const Trained bytes = train_session(DType::f32, train, test), floats = train_session(DType::f32, ftrain, ftest);
    EXPECT_EQ(floats.params, bytes.params);
    EXPECT_EQ(floats.costs, bytes.costs);
    EXPECT_EQ(floats.outputs, bytes.outputs);
    EXPECT_NE(train_session(DType::f64, ftrain, ftest).params, train_session(DType::f64, train, test).params);
}

// The network's outputs, fed forward on the host in double: a^l = sigma(w^l a^{l-1} + b^l).
std::vector<double> host_outputs(const Network<double>& net, const std::vector<double>& x, int n) {
    const std::vector<int>& sizes = net.sizes();
    std::vector<double> out;
    for (int j = 0; j < n; ++j) {
        std::vector<double> a(x.begin() + std::ptrdiff_t(j) * sizes[0], x.begin() + std::ptrdiff_t(j + 1) * sizes[0]);
        for (int l = 1; l < int(sizes.size()); ++l) {
            const ConstView<double> w = net.w(l);
            std::vector<double> z(std::size_t(sizes[std::size_t(l)]));
            for (int i = 0; i < w.rows; ++i) {
                double zi = net.b(l)[i];
                for (int k = 0; k < w.cols; ++k) zi += w.data[std::size_t(i) + std::size_t(k) * std::size_t(w.ld)] * a[std::size_t(k)];
                z[std::size_t(i)] = sigmoid(zi);
            }
            a = z;
        }
        out.insert(out.end(), a.begin(), a.end());
    }
    return out;
}

// Float inputs that are no byte's k/255 (the book's data: multiples of 1/256) are used as they
// are: the outputs and predictions are those of the exact inputs, over several chunks of
// Session's chunked feed-forward, and they differ from those of the nearest bytes.
TEST_F(SessionTest, FloatInputsAreUsedAsTheyAre) {
    const int n = 2345, n0 = 3;  // three chunks of up to 1000
    auto inputs = std::make_shared<std::vector<float>>();
    std::vector<double> exact;
    std::vector<std::uint8_t> nearest;
    for (int i = 0; i < n * n0; ++i) {
        const int k = int(splitmix64(std::uint64_t(i) + 77) % 256);
        inputs->push_back(float(k) / 256.0f);  // exact in float
        exact.push_back(double(k) / 256.0);
        nearest.push_back(std::uint8_t(std::lround(double(k) / 256.0 * 255.0)));
    }
    const Dataset images = borrow_images(n0, n, inputs->data(), inputs, {}, "k/256");
    const Dataset bytes = make_dataset(n0, nearest, {});
    for (DType dt : {DType::f32, DType::f64}) {
        Session s = Session::create({n0, 5, 4}, Cost::quadratic, Init::gaussian, 9, {"cpu", dt});
        const std::vector<double> want = host_outputs(s.network(), exact, n), got = s.outputs(images);
        EXPECT_TRUE(bptest::close_normwise(got, want, dt == DType::f64 ? 1e-13 : 1e-5)) << dtype_name(dt);
        const std::vector<int> labels = s.predict(images);
        ASSERT_EQ(labels.size(), std::size_t(n));
        for (int j = 0; j < n; ++j)
            ASSERT_EQ(labels[std::size_t(j)], argmax(got.data() + std::size_t(j) * 4, 4)) << "example " << j;
        EXPECT_FALSE(bptest::close_normwise(s.outputs(bytes), want, 1e-6)) << "the nearest bytes give other outputs";
    }
}

// The keepalive lives as long as anything uses the images: the Dataset, its copies and slices,
// and a training run (DeviceData holds it while the images are used in place).
TEST_F(SessionTest, TheKeepaliveIsHeldWhileTheImagesAreUsed) {
    const Dataset src = bptest::quadrants(120, 15);
    bool freed = false;
    std::shared_ptr<std::vector<float>> in(new std::vector<float>(), [&freed](std::vector<float>* p) {
        freed = true;
        delete p;
    });
    for (std::uint8_t k : src.pixels) in->push_back(float(k) / 256.0f);
    const std::weak_ptr<std::vector<float>> watch = in;
    std::optional<Dataset> slice;
    {
        const Dataset d = borrow_images(2, src.n, in->data(), in, src.labels, "lent");
        EXPECT_EQ(watch.use_count(), 2);
        in.reset();  // the caller lets go: the Dataset keeps the images alive
        EXPECT_EQ(watch.use_count(), 1);
        {
            const Dataset copy = d;
            EXPECT_EQ(watch.use_count(), 2);
        }
        slice = d.slice(20, 100);
        EXPECT_EQ(watch.use_count(), 2);
        Session s = Session::create({2, 6, 4}, Cost::cross_entropy, Init::scaled, 5, {"cpu", DType::f32});
        long during = 0;
        TrainCallbacks cb;
        cb.on_epoch = [&](const EpochResult&) {
            during = watch.use_count();
            return true;
        };
        s.train(d, &*slice, small_config(1), cb);
        EXPECT_EQ(during, 4) << "the data set, the slice, and the two DeviceData of the run";
        EXPECT_EQ(watch.use_count(), 2);
    }
    EXPECT_FALSE(freed) << "the slice still uses the images";
    EXPECT_EQ(slice->image_data(), static_cast<const void*>(watch.lock()->data() + 40));
    slice.reset();
    EXPECT_TRUE(freed);
}

// On the CPU, DeviceData uses the host images in place, whoever owns them and whatever their type.
TEST_F(SessionTest, DeviceDataOnTheCpuUsesTheImagesInPlace) {
    const Dataset owned = bptest::quadrants(50, 16);
    const auto floats = lent_floats(owned, [](std::uint8_t k) { return float(k) / 256.0f; });
    const auto bytes = lent_bytes(owned);
    const Dataset bf = borrow_images(2, owned.n, floats->data(), floats, owned.labels);
    const Dataset bb = borrow_images(2, owned.n, bytes->data(), bytes, owned.labels);
    auto cpu = make_cpu_backend<double>();
    bptest::RecordingCpuBackend<float> rec;
    for (const Dataset* d : {&owned, &bf, &bb}) {
        const DeviceData<double> dd(*cpu, *d);
        EXPECT_EQ(dd.image_data(), d->image_data());
        EXPECT_EQ(dd.pixel_type(), d->pixel_type());
        const DeviceData<float> dr(rec, *d);
        EXPECT_EQ(dr.image_data(), d->image_data());
    }
    const DeviceData<double> df(*cpu, bf);
    EXPECT_EQ(static_cast<const void*>(df.inputs().data), bf.image_data());
    expect_error([&] { df.pixels(); }, "the images are float inputs, not bytes");
    const DeviceData<double> db(*cpu, owned);
    EXPECT_EQ(static_cast<const void*>(db.pixels().data), static_cast<const void*>(owned.pixels.data()));
    expect_error([&] { db.inputs(); }, "the images are bytes, not float inputs");
}

}  // namespace
