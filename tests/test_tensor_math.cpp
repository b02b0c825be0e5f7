// TF32 (TrainConfig::math, issue 20 item 5), checked on the CPU: a float-only, explicit opt-in.
// Refused with doubles and with the fused launch, each in one message naming both settings;
// never chosen by itself (auto does not pick the fused step under it); on a device without
// tensor cores (the CPU) it trains exactly as ieee does, with one notice; on a device with them
// the trainer sets the math for every run, on or off. The GPU side (cuBLAS's math mode, one step
// within 1e-2 of FP32, graph = eager bitwise) is tests/test_gpu_tf32.cpp.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "batchprop/trainer.hpp"
#include "doubles/forwarding_backend.hpp"
#include "doubles/fusing_backend.hpp"
#include "engine/runners/tensor_math.hpp"
#include "support/test_util.hpp"

using namespace batchprop;

namespace {

// A CPU backend that claims tensor cores: records every set_tf32 the trainer makes.
class TensorCpu final : public bptest::ForwardingBackend<float>, public TensorMathDevice {
public:
    std::string name() const override { return "cpu (tensor cores)"; }
    void set_tf32(bool on) override { calls.push_back(on); }
    std::vector<bool> calls;
};

struct Outcome {
    std::vector<double> params;
    std::vector<std::string> notices;
    Launch launch = Launch::eager;
};

template <class T>
Outcome train(Backend<T>& be, Math math, Launch launch = Launch::automatic) {
    const Dataset tr = bptest::random_dataset(53, 20, 3, 11, 12);
    TrainConfig cfg = bptest::config(2, 5);
    cfg.math = math;
    cfg.launch = launch;
    Network<T> net({20, 7, 3});
    net.init(Init::scaled, 5);
    DeviceData<T> d(be, tr);
    Trainer<T> trainer(be, net.layout(), d, nullptr, cfg);
    trainer.backprop().set_params(net.params());
    Outcome r;
    r.launch = trainer.launch();
    TrainCallbacks cb;
    cb.on_notice = [&](const std::string& n) { r.notices.push_back(n); };
    trainer.run(cb);
    for (T p : trainer.backprop().params()) r.params.push_back(double(p));
    return r;
}

TEST(TensorMath, SpelledOnce) {
    EXPECT_STREQ(to_string(Math::ieee), "ieee");
    EXPECT_STREQ(to_string(Math::tf32), "tf32");
    EXPECT_EQ(parse<Math>("tf32"), Math::tf32);
    EXPECT_EQ(parse<Math>("ieee"), Math::ieee);
    EXPECT_THROW(parse<Math>("fp16"), SettingError);
    EXPECT_EQ(TrainConfig{}.math, Math::ieee) << "never chosen by itself";
}

TEST(TensorMath, RefusedWithDoublesNamingBoth) {
    const auto cpu = make_cpu_backend<double>();
    try {
        train<double>(*cpu, Math::tf32);
        ADD_FAILURE() << "tf32 with doubles trained";
    } catch (const SettingError& e) {
        EXPECT_EQ(e.setting(), Setting::math);
        EXPECT_EQ(std::string(e.what()), "math tf32 computes in float only (not dtype f64)");
    }
    EXPECT_NO_THROW(train<double>(*cpu, Math::ieee));
}

TEST(TensorMath, RefusedWithTheFusedLaunchNamingBoth) {
    TrainConfig cfg;
    cfg.math = Math::tf32;
    cfg.launch = Launch::fused;
    try {
        validate(cfg);
        ADD_FAILURE() << "tf32 with launch fused validated";
    } catch (const SettingError& e) {
        EXPECT_EQ(e.setting(), Setting::math);
        EXPECT_NE(std::string(e.what()).find("math tf32 runs the products on cuBLAS (graph or eager), not launch fused"),
                  std::string::npos)
            << e.what();
    }
    for (Launch l : {Launch::automatic, Launch::graph, Launch::eager}) {
        cfg.launch = l;
        EXPECT_NO_THROW(validate(cfg)) << to_string(l);
    }
}

// The CPU has no tensor cores: the same parameters bit for bit as ieee, and one notice.
TEST(TensorMath, NoEffectOnTheCpuButOneNotice) {
    const auto cpu = make_cpu_backend<float>();
    const Outcome ieee = train<float>(*cpu, Math::ieee), tf32 = train<float>(*cpu, Math::tf32);
    EXPECT_EQ(tf32.params, ieee.params);
    EXPECT_TRUE(ieee.notices.empty());
    ASSERT_EQ(tf32.notices.size(), 1u) << "said once, not per segment or epoch";
    EXPECT_NE(tf32.notices[0].find("math tf32: cpu"), std::string::npos) << tf32.notices[0];
    EXPECT_NE(tf32.notices[0].find("has no tensor cores; its products stay IEEE float"), std::string::npos) << tf32.notices[0];
}

// Where a fused step is there and preferred, tf32 keeps auto off it (the fused steps compute in
// the scalar type's own arithmetic).
TEST(TensorMath, AutoLeavesTheFusedStepUnderTf32) {
    bptest::FusingCpuBackend<float> fusing;
    EXPECT_EQ(train<float>(fusing, Math::ieee).launch, Launch::fused);
    EXPECT_NE(train<float>(fusing, Math::tf32).launch, Launch::fused);
}

// A device with tensor cores is told the run's math, on or off, every run: a backend shared by
// runs never keeps another run's choice. No notice there.
TEST(TensorMath, ADeviceWithTensorCoresIsToldEveryRun) {
    TensorCpu be;
    const Outcome on = train<float>(be, Math::tf32);
    EXPECT_TRUE(on.notices.empty());
    train<float>(be, Math::ieee);
    EXPECT_EQ(be.calls, (std::vector<bool>{true, false}));
}

}  // namespace
