// `batchprop train`: load data, build a network, run SGD, print one line per epoch.
#include <cstdio>
#include <string>
#include <vector>

#include "batchprop/trainer.hpp"
#include "cli/commands.hpp"

namespace batchprop::cli {
namespace {

struct TrainOptions {
    std::string data_dir = default_data_dir();
    std::vector<int> sizes{784, 30, 10};
    TrainConfig cfg;
    std::string cost = "quadratic";
    std::string init = "gaussian";
    std::string mode = "matrix";
    std::string dtype = "f32";
    std::string device = "auto";
    int train_limit = 50000;  // the book's split: the first 50,000 training images
};

template <class T>
void run(const TrainOptions& o, const Dataset& train, const Dataset& test) {
    std::string notice;
    auto backend = make_backend<T>(parse_device(o.device), &notice);
    if (!notice.empty()) std::fprintf(stderr, "batchprop: %s\n", notice.c_str());

    Network<T> net(o.sizes);
    net.init(o.init == "scaled" ? Init::scaled : Init::gaussian, o.cfg.seed);

    DeviceData<T> dtrain(*backend, train);
    DeviceData<T> dtest(*backend, test);
    Trainer<T> trainer(*backend, net.layout(), dtrain, &dtest, o.cfg);
    trainer.backprop().set_params(net.params());

    std::printf("batchprop: sizes %s, %d training / %d evaluation examples, m = %d, eta = %g, "
                "lambda = %g, %s cost, %s mode, %s, %s\n",
                sizes_to_string(o.sizes).c_str(), train.n, test.n, o.cfg.batch, o.cfg.eta,
                o.cfg.lambda, o.cost.c_str(), o.mode.c_str(), o.dtype.c_str(), backend->name().c_str());
    std::fflush(stdout);
    TrainCallbacks cb;
    cb.on_epoch = [](const EpochResult& r) {
        const Evaluation& e = *r.evaluation;
        std::printf("Epoch %d: %lld / %lld (%.2f%%)  cost %.4f  train %.3f s  %.0f examples/s\n",
                    r.epoch, e.correct, e.total, 100.0 * e.accuracy(), e.cost, r.train_seconds,
                    r.examples_per_second);
        std::fflush(stdout);
        return true;
    };
    trainer.run(cb);
}

}  // namespace

void register_train(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* cmd = app.add_subcommand("train", "Train a sigmoid network with mini-batch SGD");
    cmd->add_option("--data", o->data_dir, "Directory with the four MNIST-format IDX files (raw or .gz)")
        ->capture_default_str();
    cmd->add_option("--sizes", o->sizes, "Neurons per layer, input first, comma-separated")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--epochs", o->cfg.epochs, "Epochs to train")->capture_default_str();
    cmd->add_option("--batch,-m", o->cfg.batch, "Mini-batch size m")->capture_default_str();
    cmd->add_option("--eta", o->cfg.eta, "Learning rate eta")->capture_default_str();
    cmd->add_option("--lambda", o->cfg.lambda, "L2 regularisation lambda")->capture_default_str();
    cmd->add_option("--cost", o->cost, "Cost function")
        ->check(CLI::IsMember({"quadratic", "cross-entropy"}))
        ->capture_default_str();
    cmd->add_option("--init", o->init, "Initialisation: gaussian N(0,1) or scaled N(0,1/n_in)")
        ->check(CLI::IsMember({"gaussian", "scaled"}))
        ->capture_default_str();
    cmd->add_option("--seed", o->cfg.seed, "Random seed (initialisation and shuffling)")->capture_default_str();
    cmd->add_option("--mode", o->mode, "Backprop per example (the book's loop) or per mini-batch matrix")
        ->check(CLI::IsMember({"matrix", "per-example"}))
        ->capture_default_str();
    cmd->add_option("--dtype", o->dtype, "Scalar type")->check(CLI::IsMember({"f32", "f64"}))->capture_default_str();
    cmd->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--train-limit", o->train_limit, "Use the first N training images")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_flag("--no-shuffle", [o](std::int64_t) { o->cfg.shuffle = false; },
                  "Keep the training order fixed (no per-epoch shuffle)");

    cmd->callback([o] {
        o->cfg.cost = o->cost == "cross-entropy" ? Cost::cross_entropy : Cost::quadratic;
        o->cfg.mode = o->mode == "per-example" ? Mode::per_example : Mode::matrix;
        // Check everything cheap before the slow part (loading data).
        ParamLayout layout(o->sizes);
        parse_device(o->device);
        const IdxFiles files = find_idx_files(o->data_dir);
        Dataset train = load_idx(files.train_images, files.train_labels);
        Dataset test = load_idx(files.test_images, files.test_labels);
        if (o->train_limit < train.n) train = train.slice(0, o->train_limit);
        validate(o->cfg, train.n);
        const int n_in = o->sizes.front(), n_out = o->sizes.back();
        for (const Dataset* d : {&train, &test}) {
            if (d->n_inputs != n_in)
                BP_THROW("--sizes starts with " << n_in << " input neurons but the images in "
                                                << d->source << " have " << d->n_inputs << " pixels");
            if (d->max_label() >= n_out)
                BP_THROW("labels in " << d->source << " go up to " << d->max_label() << " but --sizes ends with "
                                      << n_out << " output neurons");
        }
        if (o->dtype == "f64")
            run<double>(*o, train, test);
        else
            run<float>(*o, train, test);
    });
}

}  // namespace batchprop::cli
