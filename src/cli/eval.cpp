// `batchprop eval`: a saved model's accuracy on a data set, per class, and its confusion
// matrix (rows: true class, columns: predicted class).
#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "batchprop/batchprop.hpp"
#include "batchprop/math.hpp"
#include "cli/commands.hpp"
#include "cli/compute_options.hpp"
#include "cli/data_options.hpp"
#include "cli/model_file.hpp"

namespace batchprop::cli {
namespace {

struct EvalOptions {
    std::string model;
    DataOptions data;
    std::string split = "test";
    ComputeOptions compute;
};

struct Tally {
    explicit Tally(int n_classes) : n(n_classes), confusion(std::size_t(n) * std::size_t(n), 0) {}
    int n;
    std::vector<long long> confusion;  // confusion[true * n + predicted]
    double cost = 0.0;                 // summed over examples
    long long& at(int truth, int predicted) { return confusion[std::size_t(truth) * std::size_t(n) + std::size_t(predicted)]; }
};

Tally evaluate(const EvalOptions& o, const Model& model, const Dataset& d) {
    Session session = Session::from_model(model, {o.compute.device, parse_dtype(o.compute.dtype)});
    if (!session.device_notice().empty()) std::fprintf(stderr, "batchprop: %s\n", session.device_notice().c_str());
    // a^L in double: exact for f32, and example_cost works in double either way.
    const std::vector<double> a = session.outputs(d);
    const int nL = model.net.sizes().back();
    Tally t(nL);
    for (int j = 0; j < d.n; ++j) {
        const double* col = a.data() + std::size_t(j) * std::size_t(nL);
        const int truth = d.labels[std::size_t(j)];
        ++t.at(truth, argmax(col, nL));
        t.cost += example_cost(model.cost, col, nL, truth);
    }
    return t;
}

void print_report(const EvalOptions& o, const Model& model, const Dataset& d, Tally& t) {
    long long correct = 0;
    for (int c = 0; c < t.n; ++c) correct += t.at(c, c);
    fmt::print("model {}: sizes {}, {}\n", o.model, sizes_to_string(model.net.sizes()), cost_class_name(model.cost));
    fmt::print("data  {}: {} examples ({} set)\n", d.source, d.n, o.split);
    fmt::print("accuracy {} / {} ({:.2f}%), mean cost {:.4f} (no regularisation term)\n\n", correct, d.n,
               100.0 * double(correct) / double(d.n), t.cost / double(d.n));

    fmt::print("per class (accuracy = correct / examples of that class):\n  class  correct  examples  accuracy\n");
    for (int c = 0; c < t.n; ++c) {
        long long total = 0;
        for (int p = 0; p < t.n; ++p) total += t.at(c, p);
        if (total == 0)
            fmt::print("  {:5}  {:7}  {:8}         -\n", c, 0, 0);
        else
            fmt::print("  {:5}  {:7}  {:8}  {:7.2f}%\n", c, t.at(c, c), total, 100.0 * double(t.at(c, c)) / double(total));
    }

    long long widest = 1;
    for (long long v : t.confusion) widest = std::max(widest, v);
    const int w = std::max(3, int(std::to_string(widest).size()));
    fmt::print("\nconfusion matrix (rows: true class, columns: predicted class):\n{:>5}", "");
    for (int p = 0; p < t.n; ++p) fmt::print(" {:>{}}", p, w);
    fmt::print("\n");
    for (int c = 0; c < t.n; ++c) {
        fmt::print("{:>5}", c);
        for (int p = 0; p < t.n; ++p) fmt::print(" {:>{}}", t.at(c, p), w);
        fmt::print("\n");
    }
}

void run_eval(const EvalOptions& o) {
    const Model model = read_model(o.model, "--model");  // before the data: it is small
    const Dataset d = load(locate(o.data, o.split == "train" ? Split::train : Split::test));
    check_fits(d, model.net.sizes(), "the model " + o.model);
    Tally t = evaluate(o, model, d);
    print_report(o, model, d, t);
}

}  // namespace

void register_eval(CLI::App& app) {
    auto o = std::make_shared<EvalOptions>();
    CLI::App* cmd = app.add_subcommand(
        "eval", "Accuracy, per-class accuracy and confusion matrix of a saved model on a data set");
    cmd->add_option("--model", o->model, "The model file (network2.py's JSON format)")->type_name("FILE")->required();
    add_data_options(*cmd, o->data);
    cmd->add_option("--split", o->split, "Which set to evaluate: test or train")
        ->check(CLI::IsMember({"test", "train"}))
        ->capture_default_str();
    add_compute_options(*cmd, o->compute);
    cmd->callback([o] { run_eval(*o); });
}

}  // namespace batchprop::cli
