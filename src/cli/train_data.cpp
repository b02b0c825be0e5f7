// See train_data.hpp.
#include "train_data.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

#include "batchprop/check.hpp"

namespace batchprop::cli {

TrainData load_train_data(const TrainOptions& o) {
    // Locate every file first, so a missing test file is reported before the slow read.
    const DataFiles train_files = locate(o.data, Split::train);
    std::optional<DataFiles> test_files;
    if (o.validation == 0) test_files = locate(o.data, Split::test);
    TrainData d;
    Dataset all;
    if (test_files)
        std::tie(all, d.eval) = load_train_and_test(train_files, *test_files);
    else
        all = load(train_files);
    int available = all.n;
    if (o.validation > 0) {
        if (o.validation >= all.n)
            BP_THROW("--validation " << o.validation << " leaves no training examples: " << all.source << " has "
                                     << all.n);
        available = all.n - o.validation;
        d.eval = all.slice(available, o.validation);
        d.eval_name = "the last " + std::to_string(o.validation) + " training images (--validation)";
    } else {
        d.eval_name = d.eval.source;
    }
    const int n_train = std::min(o.train_limit, available);
    if (o.was_given("--train-limit") && o.train_limit > available)
        d.note = o.validation > 0
                     ? "--train-limit " + std::to_string(o.train_limit) + ": only " + std::to_string(available) +
                           " training images precede the last " + std::to_string(o.validation) +
                           " (held out by --validation); training on " + std::to_string(n_train)
                     : "--train-limit " + std::to_string(o.train_limit) + ": " + all.source + " has " +
                           std::to_string(all.n) + " images; training on all " + std::to_string(n_train);
    // The first n_train examples, kept where they are: a copy (slice) of the default 50,000 of
    // 60,000 images took longer than reading them and as much memory again. When that frees
    // most of the memory (a small --train-limit), what is kept moves to a buffer of its size.
    if (n_train < all.n) {
        BP_REQUIRE(!all.borrowed(), all.source << ": file data was expected here, not borrowed images");
        all.pixels.resize(std::size_t(n_train) * std::size_t(all.n_inputs));
        all.labels.resize(std::size_t(n_train));
        if (n_train <= all.n / 2) all.pixels.shrink_to_fit();
        all.n = n_train;
    }
    d.train = std::move(all);
    return d;
}

std::vector<std::string> train_data_files(const TrainOptions& o) {
    std::vector<std::string> files;
    for (Split split : {Split::train, Split::test}) {
        if (split == Split::test && o.validation > 0) break;
        const DataFiles f = locate(o.data, split);
        files.push_back(f.images);
        if (!f.csv) files.push_back(f.labels);
    }
    return files;
}

}  // namespace batchprop::cli
