// settings.hpp: the choices' one table of spellings, the device spec, SettingError's spelling of
// settings in a front end's words, validation with and without data, and the SGD scalars.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "batchprop/backend.hpp"
#include "batchprop/settings.hpp"

using namespace batchprop;

namespace {

std::string cli_word(Setting s) { return "--" + std::string(setting_name(s)); }

// The SettingError that f throws (a failure when it throws none).
template <class F>
SettingError setting_error(F&& f) {
    try {
        f();
    } catch (const SettingError& e) {
        return e;
    }
    ADD_FAILURE() << "no SettingError";
    return SettingError(Setting::sizes, "", "");
}

template <class E>
void expect_round_trip() {
    ASSERT_FALSE(names<E>().empty());
    for (const std::string& w : names<E>()) EXPECT_EQ(to_string(parse<E>(w)), w);
}

}  // namespace

TEST(Settings, EveryWordRoundTrips) {
    expect_round_trip<Cost>();
    expect_round_trip<Mode>();
    expect_round_trip<Init>();
    expect_round_trip<Launch>();
    expect_round_trip<DType>();
    EXPECT_EQ(names<Cost>(), (std::vector<std::string>{"quadratic", "cross-entropy"}));
    EXPECT_EQ(names<Launch>(), (std::vector<std::string>{"auto", "fused", "graph", "eager"}));
    EXPECT_EQ(parse<Mode>("per-example"), Mode::per_example);
    EXPECT_EQ(parse<DType>("f64"), DType::f64);
}

// A word is taken whole: no prefix, no other case; the error names the setting, lists the
// words and suggests the nearest.
TEST(Settings, AWordNotInTheTableNamesTheSettingAndTheNearestWord) {
    const SettingError e = setting_error([] { parse<Cost>("crossentropy"); });
    EXPECT_EQ(e.setting(), Setting::cost);
    EXPECT_STREQ(e.what(), "cost: 'crossentropy' is not one of quadratic, cross-entropy (did you mean 'cross-entropy'?)");
    EXPECT_EQ(e.message(cli_word),
              "--cost: 'crossentropy' is not one of quadratic, cross-entropy (did you mean 'cross-entropy'?)");
    EXPECT_THROW(parse<Cost>("cross"), SettingError);
    EXPECT_THROW(parse<Mode>("Matrix"), SettingError);
    EXPECT_THROW(parse<Launch>(""), SettingError);
    EXPECT_EQ(setting_error([] { parse<Launch>("fast"); }).setting(), Setting::launch);
    EXPECT_EQ(setting_error([] { parse<DType>("f16"); }).setting(), Setting::dtype);
    // Nothing close: no suggestion.
    EXPECT_STREQ(setting_error([] { parse<Mode>("batch"); }).what(), "mode: 'batch' is not one of matrix, per-example");
}

TEST(Settings, NearestWord) {
    EXPECT_EQ(nearest_word("--epoch", {"--epochs", "--eta"}), "--epochs");  // a prefix
    EXPECT_EQ(nearest_word("trian", {"train", "eval"}), "train");           // a transposition
    EXPECT_EQ(nearest_word("xyz", {"train", "eval"}), "");
}

TEST(Settings, DeviceSpecIsParsedOnceAndPrintsAsWritten) {
    EXPECT_EQ(DeviceSpec("auto").want, DeviceSpec::Want::automatic);
    EXPECT_EQ(DeviceSpec("cpu").want, DeviceSpec::Want::cpu);
    const DeviceSpec cuda("cuda"), third("cuda:3");
    EXPECT_EQ(cuda.want, DeviceSpec::Want::cuda);
    EXPECT_EQ(cuda.index, -1);
    EXPECT_EQ(third.index, 3);
    for (const char* text : {"auto", "cpu", "cuda", "cuda:3"}) EXPECT_EQ(to_string(DeviceSpec(text)), text);
    for (const char* bad : {"cuda:", "cuda:x", "cuda:-1", "cuda:1x", "gpu", "CPU", ""}) {
        const SettingError e = setting_error([&] { DeviceSpec spec(bad); });
        EXPECT_EQ(e.setting(), Setting::device) << bad;
    }
    EXPECT_STREQ(setting_error([] { DeviceSpec spec("cdua"); }).what(),
                 "device: 'cdua' is not one of auto, cpu, cuda, cuda:N (did you mean 'cuda'?)");
}

// A named GPU is that one; an unnamed one is the rank's own, one per rank on a machine.
TEST(Settings, GpuIndex) {
    EXPECT_EQ(gpu_index(DeviceSpec("cuda:5"), 2), 5);  // make_backend then says only 2 are present
    DeviceSpec rank3("cuda");
    rank3.local_rank = 3;
    EXPECT_EQ(gpu_index(rank3, 2), 1);
    EXPECT_EQ(gpu_index(rank3, 4), 3);
    EXPECT_EQ(gpu_index(DeviceSpec("auto"), 8), 0);
    EXPECT_EQ(gpu_index(rank3, 0), 0);  // no GPU: nothing to spread over
}

// {name} in a message stands for a setting, spelled by whoever prints it; other braces stay.
TEST(Settings, SettingErrorSpellsSettingsInTheFrontEndsWords) {
    const SettingError e(Setting::eta, "", " * {lambda} / n >= 1 ({other})");
    EXPECT_STREQ(e.what(), "eta * lambda / n >= 1 ({other})");
    EXPECT_EQ(e.message(cli_word), "--eta * --lambda / n >= 1 ({other})");
    EXPECT_EQ(e.detail(cli_word), " * --lambda / n >= 1 ({other})");
    const SettingError b(Setting::batch, "500", " is larger");
    EXPECT_EQ(b.subject(), "500");
    EXPECT_EQ(b.message(cli_word), "--batch 500 is larger");
}

TEST(Settings, ValidateWithoutAndWithData) {
    TrainConfig c;
    EXPECT_NO_THROW(validate(c));
    EXPECT_NO_THROW(validate(c, 10));
    EXPECT_EQ(setting_error([&] { validate(c, 9); }).setting(), Setting::batch);  // m = 10 > n
    TrainConfig s = c;
    s.segment_steps = -1;
    EXPECT_EQ(setting_error([&] { validate(s); }).setting(), Setting::segment_steps);
    s.segment_steps = 0;  // 0 chooses
    EXPECT_NO_THROW(validate(s));
    TrainConfig f = c;
    f.first_epoch = 6;  // beyond epochs = 5
    EXPECT_EQ(setting_error([&] { validate(f); }).setting(), Setting::first_epoch);
    f.first_epoch = 5;  // a finished run: nothing left, not an error
    EXPECT_NO_THROW(validate(f));
    TrainConfig l = c;
    l.batch = 1;
    l.lambda = 1.0;
    EXPECT_NO_THROW(validate(l));
    EXPECT_EQ(setting_error([&] { validate(l, 3); }).setting(), Setting::eta);  // 3 * 1 / 3 >= 1
    EXPECT_NO_THROW(validate(l, 4));
    l.eta = 1.0;
    l.lambda = std::numeric_limits<int>::max();  // no data set is large enough: exactly at the bound
    EXPECT_EQ(setting_error([&] { validate(l); }).setting(), Setting::eta);
    l.lambda = std::numeric_limits<int>::max() - 1.0;  // one training set of 2^31 - 1 examples could
    EXPECT_NO_THROW(validate(l));
    TrainConfig inf = c;
    inf.eta = std::numeric_limits<double>::infinity();
    EXPECT_EQ(setting_error([&] { validate(inf); }).setting(), Setting::eta);
}

TEST(Settings, SgdScalars) {
    const SgdScalars s = sgd_scalars(3.0, 5.0, 50000, 10);
    EXPECT_EQ(s.alpha, -3.0 / 10.0);
    EXPECT_EQ(s.decay, 1.0 - 3.0 * 5.0 / 50000.0);
    EXPECT_EQ(sgd_scalars(0.5, 0.0, 7, 3).decay, 1.0);
}
