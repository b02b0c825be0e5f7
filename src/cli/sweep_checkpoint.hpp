// `batchprop sweep --checkpoint DIR` and `--resume DIR`: a sweep's checkpoint is a directory
// holding sweep.json (the sweep's settings by flag, the data it reads, the number of models)
// and, per model, run-NNN.ckpt.json: a checkpoint of `train`'s own format (checkpoint.hpp),
// written when the model starts and after each of its completed epochs, with the model's row
// of the table under the record's "sweep" key. A resumed sweep goes on with each model from its
// file (a model without one starts afresh), which makes it end, model by model, with the
// parameters of a sweep never interrupted, as train's resume does for one run.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint.hpp"
#include "sweep_options.hpp"
#include "sweep_report.hpp"

namespace batchprop::cli {

// The settings that define a sweep, by flag, bound to the flags' values: the grid's lists (as
// their canonical text), the settings every model shares, the data flags and --device
// (adopted, never compared).
std::vector<RunSetting> sweep_settings(SweepFlags& f);

// DIR/sweep.json and DIR/run-NNN.ckpt.json (NNN: the run id, as wide as the largest).
std::string sweep_file(const std::string& dir);
std::string model_checkpoint_file(const std::string& dir, int id, int n_models);
// DIR/run-NNN.json: a model --save-dir saves.
std::string model_save_file(const std::string& dir, int id, int n_models);

// Reads DIR/sweep.json as a Checkpoint of the sweep (path, settings, data; no model), every
// problem one Error naming the file; n_models receives the number of models it was made for.
Checkpoint read_sweep_checkpoint(const std::string& dir, int& n_models);
void write_sweep_checkpoint(const std::string& dir, const std::vector<RunSetting>& settings,
                            const nlohmann::json& data, int n_models);

// A row's figures as the model's checkpoint records them ("sweep"), and read back into a row
// (which keeps its settings); an Error naming `path` when they are not there.
nlohmann::json row_record(const SweepRow& row);
void restore_row(SweepRow& row, const nlohmann::json& record, const std::string& path);

// The directory a flag names: with create, made if it is missing; without, only checked to be
// a directory, or creatable (its parent exists). Throws Error naming the flag when it cannot
// be, or names a file.
void make_output_dir(const std::string& dir, const std::string& flag, bool create);

// Writes text to path atomically (a temporary file renamed over it).
void write_text_file(const std::string& path, const std::string& text, const std::string& flag);

}  // namespace batchprop::cli
