// The data flags shared by `train` and `eval` (--format, --data, explicit files): turning them
// into files to read (checked to exist before anything slow happens), reading them, and
// checking that a data set fits a network.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "batchprop/dataset.hpp"

namespace batchprop::cli {

struct DataOptions {
    std::string format = "idx";  // idx | csv; --train-csv/--test-csv imply csv unless --format is given
    const CLI::Option* format_flag = nullptr;  // to tell whether --format was given
    std::string dir = default_data_dir();
    std::string train_images, train_labels, test_images, test_labels;  // IDX, override dir
    std::string train_csv, test_csv;                                   // CSV, override dir
};

enum class Split { train, test };

// Adds the data flags to cmd.
void add_data_options(CLI::App& cmd, DataOptions& o);

// The files one split is read from, known to exist and be readable (nothing read yet).
struct DataFiles {
    bool csv = false;
    std::string images;  // the CSV file when csv
    std::string labels;  // IDX only
};
DataFiles locate(const DataOptions& o, Split split);

// Reads the files (IDX or CSV, gzipped or not).
Dataset load(const DataFiles& files);

// Reads the training and the test files at the same time, the test set on a second thread
// (each file inflates on one core). Errors as load() reports them, the training set's first.
std::pair<Dataset, Dataset> load_train_and_test(const DataFiles& train, const DataFiles& test);

// --images of `predict`: an IDX images file, or a CSV file (its labels are ignored). A file of
// the wrong kind (CSV without --format csv, an IDX labels file) is named as such.
Dataset load_images(const std::string& path, const std::string& format);

// Throws unless a network of these sizes can take the examples: the image size equals the
// number of input neurons and every label is below the number of output neurons.
// `sizes_from` names where the sizes came from ("--sizes", "the model m.json").
void check_fits(const Dataset& d, const std::vector<int>& sizes, const std::string& sizes_from);

// Throws unless path names an existing, readable file; `flag` names the option in the message.
void require_file(const std::string& path, const std::string& flag);

}  // namespace batchprop::cli
