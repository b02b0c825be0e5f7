// See data_options.hpp.
#include "data_options.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

#include "batchprop/check.hpp"
#include "batchprop/csv.hpp"
#include "commands.hpp"

namespace batchprop::cli {

namespace {

const char* kInstallHint = "for the default Fashion-MNIST data: apt-get install dataset-fashion-mnist";

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// What a file that failed to read as IDX `want` ("images" or "labels") really is, when that
// can be told: "" otherwise.
std::string wrong_kind(const std::string& path, const std::string& want) {
    switch (sniff_data_file(path)) {
        case DataFileKind::idx_labels:
            return want == "images" ? "this is an IDX labels file, not images (the images are the *-images-idx3-ubyte file)" : "";
        case DataFileKind::idx_images:
            return want == "labels" ? "this is an IDX images file, not labels (the labels are the *-labels-idx1-ubyte file)" : "";
        case DataFileKind::csv: return "it looks like a CSV file: add --format csv";
        case DataFileKind::unknown: return "";
    }
    return "";
}

// Reads with f, adding what the file really is to the error when it is of the wrong kind.
template <class F>
Dataset explained(F&& f, const std::vector<std::pair<std::string, std::string>>& files) {
    try {
        return f();
    } catch (const Error& e) {
        for (const auto& [path, want] : files) {
            const std::string why = wrong_kind(path, want);
            if (why.empty()) continue;
            const std::string msg = e.what();
            // The path once is enough when the message names it already.
            BP_THROW(msg << "; " << (msg.rfind(path + ":", 0) == 0 ? "" : path + ": ") << why);
        }
        throw;
    }
}

// dir/base.gz or dir/base, whichever exists; a message that says what is missing otherwise.
std::string find_in_dir(const DataOptions& o, const std::string& base) {
    // Whatever directory was given, the likely fix for missing IDX files is the package.
    bool is_default = o.dir == default_data_dir() || o.format == "idx";
    struct stat st {};
    if (::stat(o.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        BP_THROW("--data: directory '" << o.dir << "' does not exist" << (is_default ? std::string("; ") + kInstallHint : ""));
    for (const std::string& cand : {o.dir + "/" + base + ".gz", o.dir + "/" + base})
        if (::stat(cand.c_str(), &st) == 0) {
            require_file(cand, "--data");
            return cand;
        }
    std::string expected = o.format == "csv"
        ? "--format csv reads mnist_train.csv and mnist_test.csv"
        : "expected the four MNIST-format IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
          "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)";
    // The other format's files, there instead, are the likely story.
    if (o.format != "csv") {
        for (const char* csv : {"mnist_train.csv", "mnist_test.csv"})
            for (const std::string& cand : {o.dir + "/" + csv, o.dir + "/" + csv + ".gz"})
                if (exists(cand) && is_default) {
                    expected = "it has " + cand.substr(o.dir.size() + 1) + ": for MNIST-CSV files add --format csv";
                    is_default = false;
                }
    } else {
        for (const char* idx : {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"})
            if (exists(o.dir + "/" + idx)) expected += "; it has " + std::string(idx) + ": IDX files need no --format (or --format idx)";
    }
    BP_THROW("--data: directory '" << o.dir << "' has no " << base << " (or " << base << ".gz); " << expected
                                   << (is_default ? std::string("; ") + kInstallHint : ""));
}

// An explicit file flag's value, or the standard file in --data.
std::string pick(const DataOptions& o, const std::string& given, const char* flag, const std::string& base) {
    if (given.empty()) return find_in_dir(o, base);
    require_file(given, flag);
    return given;
}

}  // namespace

void add_data_options(CLI::App& cmd, DataOptions& o) {
    o.format_flag = cmd.add_option("--format", o.format,
                                   "Data file format: idx (MNIST's, raw or .gz) or csv (label,pixel,...,pixel per "
                                   "line, pixels 0-255, optional header; implied by --train-csv/--test-csv)")
                        ->check(CLI::IsMember({"idx", "csv"}))
                        ->capture_default_str();
    cmd.add_option("--data", o.dir,
                   "Data directory: for idx the four MNIST file names (train-images-idx3-ubyte, ...; "
                   "raw or .gz), for csv mnist_train.csv and mnist_test.csv (or .csv.gz)")->type_name("DIR")
        ->capture_default_str();
    const char* group = "Data files (instead of --data)";
    auto* ti = cmd.add_option("--train-images", o.train_images, "IDX training images")->type_name("FILE")->group(group);
    auto* tl = cmd.add_option("--train-labels", o.train_labels, "IDX training labels")->type_name("FILE")->group(group);
    auto* vi = cmd.add_option("--test-images", o.test_images, "IDX test images")->type_name("FILE")->group(group);
    auto* vl = cmd.add_option("--test-labels", o.test_labels, "IDX test labels")->type_name("FILE")->group(group);
    ti->needs(tl);
    tl->needs(ti);
    vi->needs(vl);
    vl->needs(vi);
    cmd.add_option("--train-csv", o.train_csv, "CSV training set (implies --format csv)")->type_name("FILE")->group(group);
    cmd.add_option("--test-csv", o.test_csv, "CSV test set (implies --format csv)")->type_name("FILE")->group(group);
}

DataFiles locate(const DataOptions& given, Split split) {
    DataOptions o = given;
    const bool format_given = given.format_flag && given.format_flag->count() > 0;
    if (!format_given && !(o.train_csv.empty() && o.test_csv.empty())) o.format = "csv";  // the flags say CSV
    const bool train = split == Split::train;
    DataFiles f;
    f.csv = o.format == "csv";
    // A flag of the other format is a mistake worth saying, not something to ignore.
    if (f.csv && !(o.train_images.empty() && o.train_labels.empty() && o.test_images.empty() && o.test_labels.empty()))
        throw UsageError("--train-images/--train-labels/--test-images/--test-labels are IDX files; with --format csv "
                         "use --train-csv/--test-csv");
    if (!f.csv && !(o.train_csv.empty() && o.test_csv.empty()))
        throw UsageError("--train-csv/--test-csv are CSV files, but --format idx was given");
    if (f.csv) {
        f.images = train ? pick(o, o.train_csv, "--train-csv", "mnist_train.csv")
                         : pick(o, o.test_csv, "--test-csv", "mnist_test.csv");
    } else if (train) {
        f.images = pick(o, o.train_images, "--train-images", "train-images-idx3-ubyte");
        f.labels = pick(o, o.train_labels, "--train-labels", "train-labels-idx1-ubyte");
    } else {
        f.images = pick(o, o.test_images, "--test-images", "t10k-images-idx3-ubyte");
        f.labels = pick(o, o.test_labels, "--test-labels", "t10k-labels-idx1-ubyte");
    }
    return f;
}

Dataset load(const DataFiles& f) {
    if (f.csv) return load_csv(f.images);
    return explained([&] { return load_idx(f.images, f.labels); }, {{f.images, "images"}, {f.labels, "labels"}});
}

std::pair<Dataset, Dataset> load_train_and_test(const DataFiles& train, const DataFiles& test) {
    // If the training set fails, the future's destructor waits for the test set's thread and
    // drops what it did, so the training set's error is the one reported, as when read in turn.
    std::future<Dataset> test_set = std::async(std::launch::async, [&test] { return load(test); });
    Dataset train_set = load(train);
    return {std::move(train_set), test_set.get()};
}

Dataset load_images(const std::string& path, const std::string& format) {
    require_file(path, "--images");
    if (format == "csv") {
        Dataset d = load_csv(path);
        d.labels.clear();
        return d;
    }
    return explained([&] { return load_idx_images(path); }, {{path, "images"}});
}

void check_fits(const Dataset& d, const std::vector<int>& sizes, const std::string& sizes_from) {
    const int n_in = sizes.front(), n_out = sizes.back();
    if (d.n_inputs != n_in)
        BP_THROW("the number of input neurons (" << n_in << ", from " << sizes_from
                                                 << ") does not equal the image size of " << d.source << " ("
                                                 << d.n_inputs << " pixels)");
    for (std::size_t j = 0; j < d.labels.size(); ++j)
        if (d.labels[j] < 0 || d.labels[j] >= n_out)
            BP_THROW((d.labels_source.empty() ? d.source : d.labels_source) << ": label " << d.labels[j] << " of example " << j << " is outside 0.." << n_out - 1
                              << " (the network has " << n_out << " output neurons, from " << sizes_from << ")");
}

void require_file(const std::string& path, const std::string& flag) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) BP_THROW(flag << " " << path << ": " << std::strerror(errno));
    if (S_ISDIR(st.st_mode)) BP_THROW(flag << " " << path << ": is a directory, not a file");
    if (::access(path.c_str(), R_OK) != 0) BP_THROW(flag << " " << path << ": cannot read (" << std::strerror(errno) << ")");
}

}  // namespace batchprop::cli
