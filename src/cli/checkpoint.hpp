// `batchprop train --checkpoint FILE` and `--resume FILE`: what a checkpoint holds, writing it
// after every completed epoch, and continuing a run from it.
//
// A checkpoint is a model file (network2.py's format, model_io.hpp: it loads anywhere a model
// loads) holding the parameters after the last *completed* epoch; its "batchprop" object is
// what --save records, plus a "checkpoint" object: the epochs done, the settings that define
// the run (by flag), the data it reads (file names, sizes, example counts) and the
// early-stopping state (with the best epoch's model when --save keeps it). An epoch cut short
// by Ctrl-C or SIGTERM is not in it: resuming redoes that epoch from its start, which is what
// makes a resumed run end with the uninterrupted run's parameters bit for bit.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "batchprop/model_io.hpp"
#include "batchprop/network.hpp"
#include "batchprop/settings.hpp"
#include "early_stop.hpp"

namespace batchprop::cli {

// One setting that defines a run, named by its flag, with how to read and set the option.
// check == false: adopted from the checkpoint when not given, never an error (--device,
// --monitor: where and what is shown, not what is computed).
struct RunSetting {
    std::string flag;  // "--eta"
    std::function<nlohmann::json()> get;
    std::function<void(const nlohmann::json&)> set;
    bool check = true;
};
// Choices (settings.hpp's enums) and the device are recorded as the words a user types.
template <class V>
RunSetting bind_setting(std::string flag, V& value, bool check = true) {
    if constexpr (std::is_enum_v<V> || std::is_same_v<V, DeviceSpec>) {
        return RunSetting{std::move(flag), [&value] { return nlohmann::json(to_string(value)); },
                          [&value](const nlohmann::json& j) {
                              if constexpr (std::is_enum_v<V>) value = parse<V>(j.get<std::string>());
                              else value = DeviceSpec(j.get<std::string>());
                          },
                          check};
    } else {
        return RunSetting{std::move(flag), [&value] { return nlohmann::json(value); },
                          [&value](const nlohmann::json& j) { value = j.get<V>(); }, check};
    }
}

// A checkpoint as read back.
struct Checkpoint {
    std::string path;
    Model model;             // the parameters after epochs_done epochs, and the cost
    int epochs_done = 0;
    bool finished = false;   // the run had ended (all its epochs, or early stopping)
    nlohmann::json settings; // flag -> value
    nlohmann::json data;     // data_identity() of the run
    EarlyStopState early_stop;
};

// Reads and checks a checkpoint: a model file whose "batchprop" object has a well-formed
// "checkpoint". Every problem is one Error naming the file.
Checkpoint read_checkpoint(const std::string& path);

// Applies a checkpoint's settings to the options: a flag the user did not give takes the
// checkpoint's value; one given with a different value is an error (all of them listed in
// one message). --epochs may be raised, not lowered below the epochs done.
void adopt_settings(const Checkpoint& c, std::vector<RunSetting>& settings, const std::set<std::string>& given);

// What identifies the data of a run: each file read (path and size in bytes) and the example
// counts. resume compares it with the checkpoint's.
nlohmann::json data_identity(const std::vector<std::string>& files, int n_train, int n_eval);
void check_same_data(const Checkpoint& c, const nlohmann::json& now);

// Writes the checkpoint after `epochs_done` epochs atomically (output_file.hpp): a crash or
// kill -9 at any moment leaves either the previous checkpoint or this one.
// `record` is the "batchprop" object --save would write.
void write_checkpoint(const std::string& path, const Network<double>& net, Cost cost, nlohmann::json record,
                      int epochs_done, bool finished, const std::vector<RunSetting>& settings,
                      const nlohmann::json& data, const EarlyStopState& early_stop);

}  // namespace batchprop::cli
