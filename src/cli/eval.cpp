// `batchprop eval`: a saved model's accuracy and cost on a data set (the test set, the
// training set, or the validation split train held out), per class, and its confusion matrix
// (rows: true class, columns: predicted class); as text, or as one JSON object (--json).
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchprop/batchprop.hpp"
#include "batchprop/math.hpp"
#include "commands.hpp"
#include "compute_options.hpp"
#include "data_options.hpp"
#include "flag_values.hpp"
#include "model_file.hpp"

namespace batchprop::cli {
namespace {

struct EvalOptions {
    std::string model;
    DataOptions data;
    std::string split = "test";
    int validation = 0;  // > 0: the last N training images are the validation split
    bool split_given = false, validation_given = false;
    bool json = false;
    ComputeOptions compute;
};

// The L2 term train adds to its costs, (lambda / 2n) sum w^2, when the model records a
// lambda > 0 and the n it was trained with; nullopt otherwise.
struct L2 {
    double lambda = 0.0;
    long long n = 0;
    double term = 0.0;
};
std::optional<L2> l2_of(const Model& model) {
    const nlohmann::json& b = model.batchprop;
    if (!b.is_object() || !b.contains("lambda") || !b.contains("training_examples")) return std::nullopt;
    if (!b["lambda"].is_number() || !b["training_examples"].is_number_integer()) return std::nullopt;
    L2 l;
    l.lambda = b["lambda"].get<double>();
    l.n = b["training_examples"].get<long long>();
    if (!(l.lambda > 0) || l.n <= 0) return std::nullopt;
    double sum = 0.0;
    const std::vector<double>& p = model.net.params();
    for (std::size_t i = 0; i < model.net.layout().n_weights(); ++i) sum += p[i] * p[i];
    l.term = l.lambda / (2.0 * double(l.n)) * sum;
    return l;
}

struct Tally {
    explicit Tally(int n_classes) : n(n_classes), confusion(std::size_t(n) * std::size_t(n), 0) {}
    int n;
    std::vector<long long> confusion;  // confusion[true * n + predicted]
    double cost = 0.0;                 // summed over examples
    long long& at(int truth, int predicted) { return confusion[std::size_t(truth) * std::size_t(n) + std::size_t(predicted)]; }
};

Tally evaluate(const EvalOptions& o, const Model& model, const Dataset& d) {
    Session session =
        make_session_for(o.compute, false, [&](const SessionOptions& where) { return Session::from_model(model, where); });
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
    fmt::print("accuracy {} / {} ({:.2f}%), mean cost {:.4f} (no regularisation term)\n", correct, d.n,
               100.0 * double(correct) / double(d.n), t.cost / double(d.n));
    if (const auto l2 = l2_of(model))
        fmt::print("cost with the L2 term (lambda / 2n) sum w^2, lambda = {}, n = {}, as train reports it: {:.4f}\n",
                   l2->lambda, l2->n, t.cost / double(d.n) + l2->term);
    fmt::print("\n");

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

void print_json(const EvalOptions& o, const Model& model, const Dataset& d, Tally& t) {
    nlohmann::ordered_json j;
    long long correct = 0;
    for (int c = 0; c < t.n; ++c) correct += t.at(c, c);
    j["model"] = o.model;
    j["sizes"] = model.net.sizes();
    j["cost_function"] = cost_class_name(model.cost);
    j["data"] = d.source;
    j["split"] = o.split;
    j["examples"] = d.n;
    j["correct"] = correct;
    j["accuracy"] = double(correct) / double(d.n);
    j["cost"] = t.cost / double(d.n);  // no regularisation term
    const auto l2 = l2_of(model);
    j["cost_with_l2"] = l2 ? nlohmann::ordered_json(t.cost / double(d.n) + l2->term) : nlohmann::ordered_json(nullptr);
    nlohmann::ordered_json per_class = nlohmann::ordered_json::array();
    for (int c = 0; c < t.n; ++c) {
        long long total = 0;
        for (int p = 0; p < t.n; ++p) total += t.at(c, p);
        per_class.push_back({{"class", c}, {"correct", t.at(c, c)}, {"examples", total},
                             {"accuracy", total ? nlohmann::ordered_json(double(t.at(c, c)) / double(total))
                                                : nlohmann::ordered_json(nullptr)}});
    }
    j["per_class"] = per_class;
    nlohmann::ordered_json confusion = nlohmann::ordered_json::array();
    for (int c = 0; c < t.n; ++c) {
        std::vector<long long> row(t.confusion.begin() + std::ptrdiff_t(c) * t.n, t.confusion.begin() + std::ptrdiff_t(c + 1) * t.n);
        confusion.push_back(row);
    }
    j["confusion"] = confusion;  // rows: true class, columns: predicted class
    std::printf("%s\n", j.dump().c_str());
    if (std::fflush(stdout) != 0) BP_THROW("writing to stdout failed");
}

// The examples --split (and --validation) select.
Dataset load_split(const EvalOptions& o, const Model& model) {
    if (o.split == "test") return load(locate(o.data, Split::test));
    Dataset all = load(locate(o.data, Split::train));
    if (o.split == "train" && o.validation == 0) return all;
    int n_val = o.validation;
    if (n_val == 0) {  // --split validation: the model's own split, else the book's 10,000
        const nlohmann::json& b = model.batchprop;
        n_val = b.is_object() && b.contains("validation") && b["validation"].is_number_integer() ? b["validation"].get<int>()
                                                                                              : 10000;
    }
    if (n_val >= all.n)
        BP_THROW("--validation " << n_val << " leaves no training examples: " << all.source << " has " << all.n);
    const int n_train = all.n - n_val;
    return o.split == "train" ? all.slice(0, n_train) : all.slice(n_train, n_val);
}

void run_eval(EvalOptions& o) {
    if (o.validation_given && !o.split_given) o.split = "validation";
    if (o.validation_given && o.split == "test")
        throw UsageError("--validation N selects part of the training images; it does not apply to --split test");
    const Model model = read_model(o.model, "--model");  // before the data: it is small
    const Dataset d = load_split(o, model);
    check_fits(d, model.net.sizes(), "the model " + o.model);
    Tally t = evaluate(o, model, d);
    if (o.json)
        print_json(o, model, d, t);
    else
        print_report(o, model, d, t);
}

}  // namespace

void register_eval(CLI::App& app) {
    auto o = std::make_shared<EvalOptions>();
    CLI::App* cmd = app.add_subcommand(
        "eval", "Accuracy, per-class accuracy and confusion matrix of a saved model on a data set");
    cmd->add_option("--model", o->model, "The model file (network2.py's JSON format)")->type_name("FILE")->required();
    add_data_options(*cmd, o->data);
    auto* split = cmd->add_option("--split", o->split,
                                  "Which set to evaluate: test, train, or validation (the last N training images, as "
                                  "train --validation N holds out; N from --validation, else the model's, else 10000)")
                      ->check(CLI::IsMember({"test", "train", "validation"}))
                      ->capture_default_str();
    auto* validation = cmd->add_option("--validation", o->validation,
                                       "N for the validation split (implies --split validation; with --split train, "
                                       "the training images before it)")
                           ->type_name("N")
                           ->check(at_least_one());
    cmd->add_flag("--json", o->json, "Print one JSON object (accuracy, costs, per class, confusion matrix) instead");
    add_compute_options(*cmd, o->compute);
    cmd->callback([o, split, validation] {
        o->split_given = split->count() > 0;
        o->validation_given = validation->count() > 0;
        run_eval(*o);
    });
}

}  // namespace batchprop::cli
