// The data of a `train` run as its flags describe it: the training set (--train-limit) and the
// evaluation set (the test set, or the last N training images with --validation).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "batchprop/dataset.hpp"
#include "data_options.hpp"
#include "output_paths.hpp"
#include "train_options.hpp"

namespace batchprop::cli {

struct TrainData {
    Dataset train, eval;
    Dataset test;           // with --validation, the test set when its files were located too (a sweep)
    std::string eval_name;  // for the header line
    std::string note;       // a setting the data cut short, said rather than done silently
};

// The files a run reads its data from, located (known to exist and be readable) before
// anything is read: the training set's, and the test set's unless --validation holds out the
// evaluation set.
struct TrainFiles {
    DataFiles train;
    std::optional<DataFiles> test;
};
TrainFiles locate_train_files(const TrainOptions& o);

// Reads them, as the flags cut them (--validation, --train-limit). With --validation and the
// test files located as well, the test set is kept as `test`.
TrainData load_train_data(const TrainOptions& o, const TrainFiles& files);

// Their paths (checkpoint.hpp's data_identity), and with the names messages call them by.
std::vector<std::string> paths_of(const TrainFiles& files);
std::vector<NamedFile> named_inputs(const TrainOptions& o, const TrainFiles& files);

// Throws a UsageError when two of the run's outputs (--save, --checkpoint, --metrics) are the
// same file or one is a file the run reads. --save may replace the --init-model (fine-tuning
// in place); a resumed run goes on checkpointing into its checkpoint.
void check_train_outputs(const TrainOptions& o, const TrainFiles& files);

}  // namespace batchprop::cli
