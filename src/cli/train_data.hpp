// The data of a `train` run as its flags describe it: the training set (--train-limit) and the
// evaluation set (the test set, or the last N training images with --validation).
#pragma once

#include <string>
#include <vector>

#include "batchprop/dataset.hpp"
#include "train_options.hpp"

namespace batchprop::cli {

struct TrainData {
    Dataset train, eval;
    std::string eval_name;  // for the header line
    std::string note;       // a setting the data cut short, said rather than done silently
};

// Locates every file first (a missing test file is reported before the slow read), then
// reads them.
TrainData load_train_data(const TrainOptions& o);

// The files the run reads (checkpoint.hpp's data_identity).
std::vector<std::string> train_data_files(const TrainOptions& o);

}  // namespace batchprop::cli
