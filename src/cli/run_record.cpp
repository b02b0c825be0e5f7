// See run_record.hpp.
#include "run_record.hpp"

#include <fmt/core.h>

#include <utility>

#include "batchprop/network.hpp"
#include "batchprop/version.hpp"
#include "flag_values.hpp"

namespace batchprop::cli {

std::vector<RunSetting> run_settings(TrainOptions& o) {
    std::vector<RunSetting> s{
        RunSetting{"--sizes", [&o] { return nlohmann::json(sizes_to_string(parse_sizes(o.sizes_text))); },
                   [&o](const nlohmann::json& j) { o.sizes_text = j.get<std::string>(); }},
        bind_setting("--epochs", o.cfg.epochs),
        bind_setting("--batch", o.cfg.batch), bind_setting("--eta", o.cfg.eta), bind_setting("--lambda", o.cfg.lambda),
        bind_setting("--cost", o.cfg.cost), bind_setting("--init", o.init), bind_setting("--init-model", o.init_model),
        bind_setting("--seed", o.cfg.seed), bind_setting("--mode", o.cfg.mode), bind_setting("--launch", o.cfg.launch),
        bind_setting("--dtype", o.compute.dtype), bind_setting("--train-limit", o.train_limit),
        bind_setting("--validation", o.validation), bind_setting("--early-stop", o.early_stop),
        bind_setting("--early-stop-on-test", o.early_stop_on_test),
        no_shuffle_setting(o), bind_setting("--format", o.data.format),
        bind_setting("--device", o.compute.device, false), bind_setting("--monitor", o.monitor, false)};
    add_data_settings(s, o.data);
    return s;
}

RunSetting no_shuffle_setting(TrainOptions& o) {
    return RunSetting{"--no-shuffle", [&o] { return nlohmann::json(!o.cfg.shuffle); },
                      [&o](const nlohmann::json& j) { o.cfg.shuffle = !j.get<bool>(); }};
}

void add_data_settings(std::vector<RunSetting>& s, DataOptions& d) {
    // The data they locate is compared with the checkpoint's afterwards (data_identity).
    for (auto [flag, value] : {std::pair{"--data", &d.dir}, {"--train-images", &d.train_images},
                               {"--train-labels", &d.train_labels}, {"--test-images", &d.test_images},
                               {"--test-labels", &d.test_labels}, {"--train-csv", &d.train_csv},
                               {"--test-csv", &d.test_csv}})
        s.push_back(bind_setting(flag, *value, false));
}

nlohmann::json run_record(const TrainOptions& o, const std::string& training_data, int training_examples,
                          int epochs_done, bool interrupted, int best_epoch) {
    const TrainConfig& cfg = o.cfg;
    nlohmann::json j;
    j["version"] = BATCHPROP_VERSION_STRING;
    j["epochs"] = epochs_done;
    if (best_epoch >= 0) j["best_epoch"] = best_epoch;  // 0: no epoch beat the --init-model
    j["interrupted"] = interrupted;
    j["eta"] = cfg.eta;
    j["lambda"] = cfg.lambda;
    j["batch"] = cfg.batch;
    j["cost"] = to_string(cfg.cost);
    j["mode"] = to_string(cfg.mode);
    j["launch"] = to_string(cfg.launch);
    j["dtype"] = to_string(o.compute.dtype);
    if (o.init_model.empty())
        j["init"] = to_string(o.init);
    else
        j["init_model"] = o.init_model;
    j["seed"] = cfg.seed;
    j["shuffle"] = cfg.shuffle;
    j["training_data"] = training_data;
    j["training_examples"] = training_examples;
    if (o.validation > 0) j["validation"] = o.validation;
    return j;
}

nlohmann::ordered_json metrics_fields(const nlohmann::json& record, const std::string& device,
                                      const std::vector<int>& sizes) {
    nlohmann::ordered_json j;
    j["device"] = device;
    for (const char* key : {"mode", "dtype", "batch"}) j[key] = record.at(key);
    j["sizes"] = sizes;
    for (const char* key : {"eta", "lambda", "cost", "seed"}) j[key] = record.at(key);
    const bool from_model = record.contains("init_model");
    j["init"] = from_model ? nlohmann::json("model") : record.at("init");
    j["init_model"] = from_model ? record.at("init_model") : nlohmann::json(nullptr);
    return j;
}

namespace {

// A recorded number for a TrainConfig field, taken when no flag was given and validate()
// accepts it (the library's rules, not a copy of them).
template <class V>
void take_number(TrainOptions& o, const nlohmann::json& record, const char* key, V TrainConfig::*field,
                 std::vector<std::string>& taken) {
    const auto it = record.find(key);
    if (o.was_given(std::string("--") + key) || it == record.end() || !it->is_number()) return;
    TrainConfig trial = o.cfg;
    trial.*field = it->get<V>();
    try {
        validate(trial);
    } catch (const SettingError&) {
        return;
    }
    o.cfg.*field = trial.*field;
    taken.push_back(fmt::format("{} {}", key, trial.*field));
}

// A recorded choice (mode, dtype), taken when no flag was given and it is one of the words.
template <class E>
void take_word(TrainOptions& o, const nlohmann::json& record, const char* key, E& value,
               std::vector<std::string>& taken) {
    const auto it = record.find(key);
    if (o.was_given(std::string("--") + key) || it == record.end() || !it->is_string()) return;
    try {
        value = parse<E>(it->get<std::string>());
    } catch (const SettingError&) {
        return;
    }
    taken.push_back(std::string(key) + " " + to_string(value));
}

}  // namespace

std::string apply_model_settings(TrainOptions& o, const Model& model) {
    std::vector<std::string> taken;
    if (!o.was_given("--cost")) {
        o.cfg.cost = model.cost;  // network2.py's own "cost" key
        taken.push_back(std::string(to_string(model.cost)) + " cost");
    }
    const nlohmann::json& b = model.batchprop;
    if (!b.is_object()) {
        return "batchprop: " + o.init_model + " records no training settings (not saved by batchprop); " +
               "eta, lambda and m are the flags' (defaults: 3, 0, 10)";
    }
    take_number(o, b, "eta", &TrainConfig::eta, taken);
    take_number(o, b, "lambda", &TrainConfig::lambda, taken);
    take_number(o, b, "batch", &TrainConfig::batch, taken);
    take_word(o, b, "mode", o.cfg.mode, taken);
    take_word(o, b, "dtype", o.compute.dtype, taken);
    std::string list;
    for (const std::string& t : taken) list += (list.empty() ? "" : ", ") + t;
    return "batchprop: continuing with the settings " + o.init_model + " was trained with: " + list +
           " (flags given override them)";
}

}  // namespace batchprop::cli
