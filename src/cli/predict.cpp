// `batchprop predict`: one predicted class per image on stdout, optionally followed by the
// output activations, for use in pipelines (nothing else goes to stdout).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "batchprop/batchprop.hpp"
#include "batchprop/math.hpp"
#include "commands.hpp"
#include "compute_options.hpp"
#include "data_options.hpp"
#include "model_file.hpp"

namespace batchprop::cli {
namespace {

struct PredictOptions {
    std::string model;
    std::string images;
    std::string format = "idx";
    bool outputs = false;
    ComputeOptions compute;
};

void run_predict(const PredictOptions& o) {
    const Model model = read_model(o.model, "--model");
    const Dataset d = load_images(o.images, o.format);
    check_fits(d, model.net.sizes(), "the model " + o.model);
    Session session =
        make_session_for(o.compute, false, [&](const SessionOptions& where) { return Session::from_model(model, where); });
    // a^L in double: exact for f32, so the argmax and the printed digits are the float ones.
    const std::vector<double> a = session.outputs(d);
    const int nL = model.net.sizes().back();
    for (int j = 0; j < d.n; ++j) {
        const double* col = a.data() + std::size_t(j) * std::size_t(nL);
        std::printf("%d", argmax(col, nL));
        if (o.outputs)
            for (int i = 0; i < nL; ++i) std::printf("%c%.9g", i ? ' ' : '\t', col[i]);
        std::putchar('\n');
    }
    if (std::fflush(stdout) != 0) BP_THROW("writing the predictions to stdout failed");
}

}  // namespace

void register_predict(CLI::App& app) {
    auto o = std::make_shared<PredictOptions>();
    CLI::App* cmd = app.add_subcommand("predict", "Predict the class of each image: one label per line on stdout");
    cmd->add_option("--model", o->model, "The model file (network2.py's JSON format)")->type_name("FILE")->required();
    cmd->add_option("--images", o->images,
                    "Images to classify: an IDX images file (raw or .gz), or with --format csv a CSV file in "
                    "the MNIST-CSV layout (its label column is ignored)")->type_name("FILE")
        ->required();
    cmd->add_option("--format", o->format, "idx or csv")->check(CLI::IsMember({"idx", "csv"}))->capture_default_str();
    cmd->add_flag("--outputs", o->outputs, "After each label, a tab and the output activations a^L");
    add_compute_options(*cmd, o->compute);
    cmd->callback([o] { run_predict(*o); });
}

}  // namespace batchprop::cli
