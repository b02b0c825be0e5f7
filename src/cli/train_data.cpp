// See train_data.hpp.
#include "train_data.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

#include "batchprop/check.hpp"
#include "commands.hpp"

namespace batchprop::cli {

TrainFiles locate_train_files(const TrainOptions& o) {
    TrainFiles f;
    f.train = locate(o.data, Split::train);
    if (o.validation == 0) f.test = locate(o.data, Split::test);
    return f;
}

TrainData load_train_data(const TrainOptions& o, const TrainFiles& files) {
    TrainData d;
    Dataset all;
    if (files.test)
        std::tie(all, d.eval) = load_train_and_test(files.train, *files.test);
    else
        all = load(files.train);
    int available = all.n;
    if (o.validation > 0) {
        if (o.validation >= all.n)  // the flag against the data: a mistake in the command line
            throw UsageError("--validation " + std::to_string(o.validation) + " leaves no training examples: " +
                             all.source + " has " + std::to_string(all.n));
        available = all.n - o.validation;
        d.test = std::move(d.eval);  // read only when located (a sweep reports its chosen model's test accuracy)
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

std::vector<std::string> paths_of(const TrainFiles& files) {
    std::vector<std::string> paths;
    for (const DataFiles* f : {&files.train, files.test ? &*files.test : nullptr}) {
        if (!f) continue;
        paths.push_back(f->images);
        if (!f->csv) paths.push_back(f->labels);
    }
    return paths;
}

std::vector<NamedFile> named_inputs(const TrainOptions& o, const TrainFiles& files) {
    std::vector<NamedFile> in;
    // A file named by its own flag is called by it; one found in --data, by what it holds.
    auto add = [&](const std::string& path, const std::string& flag_value, const char* flag, const char* what) {
        in.push_back({path, flag_value.empty() ? std::string("--data's ") + what : std::string(flag)});
    };
    const DataOptions& d = o.data;
    if (files.train.csv) {
        add(files.train.images, d.train_csv, "--train-csv", "training CSV");
        if (files.test) add(files.test->images, d.test_csv, "--test-csv", "test CSV");
    } else {
        add(files.train.images, d.train_images, "--train-images", "training images");
        add(files.train.labels, d.train_labels, "--train-labels", "training labels");
        if (files.test) {
            add(files.test->images, d.test_images, "--test-images", "test images");
            add(files.test->labels, d.test_labels, "--test-labels", "test labels");
        }
    }
    if (!o.init_model.empty()) in.push_back({o.init_model, "--init-model"});
    if (!o.resume.empty()) in.push_back({o.resume, "--resume"});
    return in;
}

void check_train_outputs(const TrainOptions& o, const TrainFiles& files) {
    std::vector<NamedFile> outputs;
    if (!o.save.empty()) outputs.push_back({o.save, "--save"});
    const std::string checkpoint = o.was_given("--checkpoint") ? "--checkpoint" : "--resume's checkpoint";
    if (!o.checkpoint.empty()) outputs.push_back({o.checkpoint, checkpoint});
    if (!o.metrics.empty() && o.metrics != "-") outputs.push_back({o.metrics, "--metrics"});
    as_usage_errors([&] {
        check_outputs_apart(outputs, named_inputs(o, files), {{"--save", "--init-model"}, {checkpoint, "--resume"}});
    });
}

}  // namespace batchprop::cli
