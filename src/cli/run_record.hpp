// What a `train` run is, written down: the settings that define it, by flag (a checkpoint keeps
// them and --resume restores them), and the record of the run that a saved model carries under
// its "batchprop" key (the metrics lines repeat part of it). Read back: a model's record
// supplies the defaults when training continues from it (--init-model).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "batchprop/model_io.hpp"
#include "checkpoint.hpp"
#include "train_options.hpp"

namespace batchprop::cli {

// The settings that define the run, bound to the options they are read from and written to.
// They are the values the run really uses: those --init-model brought included.
std::vector<RunSetting> run_settings(TrainOptions& o);

// Settings a sweep records as train does: --no-shuffle (as whether the run shuffles), and the
// data flags, appended to `s` (taken from a checkpoint when not given, never an error
// themselves: the data they locate is compared with the checkpoint's afterwards).
RunSetting no_shuffle_setting(TrainOptions& o);
void add_data_settings(std::vector<RunSetting>& s, DataOptions& d);

// The "batchprop" object of a saved model (and of a checkpoint): the settings the run used,
// the data it trained on, the epochs done, whether a signal cut it short, and the epoch early
// stopping kept (best_epoch -1: not early stopping; 0: the starting model).
nlohmann::json run_record(const TrainOptions& o, const std::string& training_data, int training_examples,
                          int epochs_done, bool interrupted, int best_epoch);

// The part of a run record that every metrics line repeats, in the documented order (metrics.hpp):
// device (the backend's name), mode, dtype, batch, sizes, eta, lambda, cost, seed, init ("model"
// with --init-model), init_model.
nlohmann::ordered_json metrics_fields(const nlohmann::json& record, const std::string& device,
                                      const std::vector<int>& sizes);

// The settings a model's record holds become the options' values where no flag was given
// (cost, eta, lambda, batch, mode, dtype; a recorded value no run can use is passed over).
// Returns the line that says what was taken.
std::string apply_model_settings(TrainOptions& o, const Model& model);

}  // namespace batchprop::cli
