// `batchprop train`: check the settings, load the data (and optionally a model to start from),
// run mini-batch SGD with per-epoch reports, and save the model. Everything that can be
// checked without the data is checked before the data is read.
#include <fmt/core.h>

#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchprop/model_io.hpp"
#include "batchprop/output_file.hpp"
#include "batchprop/trainer.hpp"
#include "cli/commands.hpp"
#include "cli/compute_options.hpp"
#include "cli/data_options.hpp"
#include "cli/distributed_cli.hpp"
#include "cli/flag_values.hpp"
#include "cli/interrupt.hpp"
#include "cli/metrics.hpp"
#include "cli/model_file.hpp"
#include "cli/progress.hpp"

namespace batchprop::cli {
namespace {

struct TrainOptions {
    DataOptions data;
    ComputeOptions compute;
    std::string sizes_text = "784,30,10";
    std::vector<int> sizes;  // parsed from sizes_text
    TrainConfig cfg;
    std::string cost = "quadratic";
    std::string init = "gaussian";
    std::string mode = "matrix";
    std::string launch = "graph";
    int train_limit = 50000;  // the book's split: the first 50,000 training images
    int validation = 0;       // > 0: the last N training images are the evaluation set
    std::string monitor = "eval-acc,eval-cost";
    int early_stop = 0;
    std::string save, init_model, metrics;
    bool quiet = false;
    DistributedOptions dist;  // --distributed (distributed_cli.hpp)
    // Whether --sizes / --cost were given (not defaults): they must then agree with, or
    // override, what --init-model brings.
    bool sizes_given = false, cost_given = false;
};

const std::vector<std::string> kMonitorWords{"eval-acc", "eval-cost", "train-acc", "train-cost", "none"};

Monitor parse_monitor(const std::string& text) {
    const std::vector<std::string> words = parse_list(text, kMonitorWords, "--monitor");
    Monitor m{false, false, false, false};
    for (const std::string& w : words) {
        if (w == "none" && words.size() > 1) BP_THROW("--monitor: 'none' cannot be combined with other values");
        m.eval_acc |= w == "eval-acc";
        m.eval_cost |= w == "eval-cost";
        m.train_acc |= w == "train-acc";
        m.train_cost |= w == "train-cost";
    }
    return m;
}

// "5865 / 10000 (58.65%)"
std::string accuracy_text(const Evaluation& e) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%lld / %lld (%.2f%%)", e.correct, e.total, 100.0 * e.accuracy());
    return buf;
}

std::string epoch_line(const EpochResult& r, const Monitor& m, int epochs) {
    std::string s = "Epoch " + std::to_string(r.epoch) + "/" + std::to_string(epochs) + ":";
    char buf[96];
    auto add = [&](const std::string& part) { s += (s.back() == ':' ? " " : ", ") + part; };
    if (r.evaluation && m.eval_acc) add("eval accuracy " + accuracy_text(*r.evaluation));
    if (r.evaluation && m.eval_cost) {
        std::snprintf(buf, sizeof buf, "eval cost %.4f", r.evaluation->cost);
        add(buf);
    }
    if (r.training && m.train_acc) add("training accuracy " + accuracy_text(*r.training));
    if (r.training && m.train_cost) {
        std::snprintf(buf, sizeof buf, "training cost %.4f", r.training->cost);
        add(buf);
    }
    std::snprintf(buf, sizeof buf, "SGD %.3f s, %.0f examples/s", r.train_seconds, r.examples_per_second);
    add(buf);
    return s;
}

// The training and evaluation sets as the flags describe them (--validation, --train-limit).
struct Data {
    Dataset train, eval;
    std::string eval_name;  // for the header line
};

Data load_data(const TrainOptions& o) {
    // Locate every file first, so a missing test file is reported before the slow read.
    const DataFiles train_files = locate(o.data, Split::train);
    std::optional<DataFiles> test_files;
    if (o.validation == 0) test_files = locate(o.data, Split::test);
    Data d;
    Dataset all = load(train_files);
    int available = all.n;
    if (o.validation > 0) {
        if (o.validation >= all.n)
            BP_THROW("--validation " << o.validation << " leaves no training examples: " << all.source << " has "
                                     << all.n);
        available = all.n - o.validation;
        d.eval = all.slice(available, o.validation);
        d.eval_name = "the last " + std::to_string(o.validation) + " training images (--validation)";
    } else {
        d.eval = load(*test_files);
        d.eval_name = d.eval.source;
    }
    const int n_train = std::min(o.train_limit, available);
    d.train = n_train == all.n ? std::move(all) : all.slice(0, n_train);
    return d;
}

// What the "batchprop" key of the saved model records about the run.
nlohmann::json run_record(const TrainOptions& o, const TrainConfig& cfg, const Data& d, int epochs_done,
                          bool interrupted, int best_epoch) {
    nlohmann::json j;
    j["version"] = BATCHPROP_VERSION;
    j["epochs"] = epochs_done;
    if (best_epoch > 0) j["best_epoch"] = best_epoch;
    j["interrupted"] = interrupted;
    j["eta"] = cfg.eta;
    j["lambda"] = cfg.lambda;
    j["batch"] = cfg.batch;
    j["cost"] = cost_name(cfg.cost);
    j["mode"] = mode_name(cfg.mode);
    j["launch"] = cfg.launch == Launch::graph ? "graph" : "eager";
    j["dtype"] = o.compute.dtype;
    if (o.init_model.empty())
        j["init"] = o.init;
    else
        j["init_model"] = o.init_model;
    j["seed"] = cfg.seed;
    j["shuffle"] = cfg.shuffle;
    j["training_data"] = d.train.source;
    j["training_examples"] = d.train.n;
    return j;
}

template <class T>
void train_typed(const TrainOptions& o, const Monitor& monitor, DistributedSession* dist) {
    TrainConfig cfg = o.cfg;
    std::vector<int> sizes = o.sizes;
    std::string sizes_from = "--sizes";
    // Distributed: rank 0 alone prints, writes --metrics and --save; each rank its own GPU.
    const bool leader = !dist || dist->leader();
    const bool quiet = o.quiet || !leader;
    ComputeOptions compute = o.compute;
    if (dist) compute.device = dist->device_for(compute.device);

    // The device and the model to start from are checked before the (slow) data.
    auto backend = make_backend_for<T>(compute, quiet);
    std::unique_ptr<Communicator> gpu_comm;  // NCCL, when the ranks are on GPUs
    Communicator* comm = dist ? &dist->connect(*backend, gpu_comm) : nullptr;
    std::optional<Model> start;
    if (!o.init_model.empty()) {
        start = read_model(o.init_model, "--init-model");
        if (o.sizes_given)
            check_model_sizes(*start, o.init_model, sizes);
        else
            sizes_from = "the model " + o.init_model;
        sizes = start->net.sizes();
        if (!o.cost_given) cfg.cost = start->cost;  // continue with the cost it was trained with
    }

    Data data = load_data(o);
    check_fits(data.train, sizes, sizes_from);
    check_fits(data.eval, sizes, sizes_from);
    validate(cfg, data.train.n);

    Network<T> net(sizes);
    if (start)
        net = start->net.template cast<T>();
    else
        net.init(parse_init(o.init), cfg.seed);
    cfg.monitor_evaluation = monitor.evaluation() || o.early_stop > 0;
    cfg.monitor_training = monitor.training();
    DeviceData<T> dtrain(*backend, data.train);
    DeviceData<T> deval(*backend, data.eval);
    Trainer<T> trainer(*backend, net.layout(), dtrain, &deval, cfg);
    trainer.backprop().set_params(net.params());
    if (comm) trainer.set_communicator(comm, data_fingerprint(data.train, data_fingerprint(data.eval)));

    // Distributed, summary lines only: a launcher (Open MPI's mpirun) hands rank 0 a
    // pseudo-terminal even when its own output goes to a file, so a live line would end up there.
    Progress progress(dist && !quiet ? Progress::Style::lines : Progress::style_for(quiet), cfg.epochs);
    progress.line(fmt::format(
        "batchprop: sizes {}, {} training examples, {} evaluation examples ({}), m = {}, eta = {}, lambda = {}, "
        "{} cost, {} mode, {}, {}{}{}{}",
        sizes_to_string(sizes), data.train.n, data.eval.n, data.eval_name, cfg.batch, cfg.eta, cfg.lambda,
        cost_name(cfg.cost), mode_name(cfg.mode), o.compute.dtype, backend->name(),
        trainer.recording() ? fmt::format(", CUDA graphs of {} steps", trainer.plan().front().steps) : "",
        dist ? ", data-parallel over " + dist->describe(*comm) + ", eager" : "",
        start ? ", starting from " + o.init_model : ""));

    // Created only now that the run is known to start: bad input never leaves a file behind.
    std::optional<MetricsLog> metrics;
    if (!o.metrics.empty() && leader) {
        RunSettings rs;
        rs.monitor = monitor;
        if (o.early_stop > 0) rs.monitor.eval_acc = true;
        rs.device = backend->name();
        rs.mode = mode_name(cfg.mode);
        rs.dtype = o.compute.dtype;
        rs.cost = cost_name(cfg.cost);
        rs.batch = cfg.batch;
        rs.sizes = sizes;
        rs.eta = cfg.eta;
        rs.lambda = cfg.lambda;
        metrics.emplace(o.metrics, std::move(rs));
    }

    // Early stopping keeps the parameters of the best epoch (by evaluation accuracy).
    long long best_correct = -1;
    int best_epoch = 0, since_best = 0, epochs_done = 0;
    std::vector<T> best_params;
    Monitor shown = monitor;
    if (o.early_stop > 0) shown.eval_acc = true;

    InterruptGuard interrupt;  // alive until the model is saved: one Ctrl-C cannot cut the save short
    TrainCallbacks cb;
    cb.stop = interrupt.flag();
    cb.on_notice = [](const std::string& why) { fmt::print(stderr, "batchprop: {}\n", why); };
    if (progress.live()) cb.on_batch = [&progress](const BatchProgress& p) { progress.batch(p); };
    double allreduce_before = 0.0, wait_before = 0.0;  // distributed: the all-reduce's share of the epoch
    cb.on_epoch = [&](const EpochResult& r) {
        epochs_done = r.epoch;
        std::string line = epoch_line(r, shown, cfg.epochs);
        if (dist) {
            const double s = trainer.allreduce_seconds() - allreduce_before;
            const double w = trainer.allreduce_wait_seconds() - wait_before;
            allreduce_before = trainer.allreduce_seconds();
            wait_before = trainer.allreduce_wait_seconds();
            const double pct = r.train_seconds > 0 ? 100.0 / r.train_seconds : 0.0;
            line += fmt::format(", all-reduce {:.3f} s ({:.1f}%", s, pct * s);
            line += backend->kind() == DeviceKind::cpu ? fmt::format(", waiting for other ranks {:.1f}%)", pct * w) : ")";
        }
        progress.line(line);
        if (metrics) metrics->write(r);
        if (o.early_stop == 0) return true;
        if (r.evaluation->correct > best_correct) {
            best_correct = r.evaluation->correct;
            best_epoch = r.epoch;
            since_best = 0;
            if (!o.save.empty()) best_params = trainer.backprop().params();
            return true;
        }
        if (++since_best < o.early_stop) return true;
        progress.line("Early stop: no better evaluation accuracy for " + std::to_string(o.early_stop) +
                      " epochs; the best was epoch " + std::to_string(best_epoch));
        return false;
    };
    trainer.run(cb);
    progress.clear();
    bool interrupted = interrupt.interrupted();
    if (comm) {
        // Distributed, a Ctrl-C that reached any rank stopped them all (the trainer agrees on
        // it): every rank then reports the interruption, and rank 0's saved model records it.
        std::uint64_t any = interrupted ? 1 : 0;
        comm->allreduce_host(&any, 1, ReduceOp::max);
        interrupted = any != 0;
    }

    if (!o.save.empty() && leader) {
        net.params() = best_params.empty() ? trainer.backprop().params() : std::move(best_params);
        save_model(o.save, net, cfg.cost, run_record(o, cfg, data, epochs_done, interrupted, best_epoch));
        progress.line("Saved the model " + std::string(best_epoch > 0 ? "of epoch " + std::to_string(best_epoch) + " " : "") +
                      "to " + o.save);
    }
    if (interrupted) {
        if (leader) std::fprintf(stderr, "batchprop: interrupted during epoch %d; %s\n", epochs_done,
                     o.save.empty() ? "no model saved (no --save)" : ("model saved to " + o.save).c_str());
        if (comm) {
            // A rank's exit status 130 makes the launcher end the others: not before rank 0 has
            // saved and said so.
            std::uint64_t done = 0;
            comm->allreduce_host(&done, 1, ReduceOp::max);
        }
        throw Interrupted{};
    }
}

void run_train(TrainOptions& o) {
    // Everything that needs no data, first: a typo should not cost a minute of loading.
    o.sizes = parse_sizes(o.sizes_text);
    o.cfg.cost = parse_cost(o.cost);
    o.cfg.mode = parse_mode(o.mode);
    o.cfg.launch = o.launch == "eager" ? Launch::eager : Launch::graph;
    const Monitor monitor = parse_monitor(o.monitor);
    validate(o.cfg, std::numeric_limits<int>::max());  // epochs, batch, eta, lambda; batch vs n comes later
    if (o.sizes_given || o.init_model.empty()) ParamLayout check(o.sizes);
    if (!o.save.empty()) check_output_path(o.save, "--save");
    if (!o.metrics.empty()) check_output_path(o.metrics, "--metrics");
    if (!o.save.empty() && o.save == o.metrics) BP_THROW("--save and --metrics name the same file " << o.save);
    // Distributed (mpirun, srun, --distributed): MPI starts here, after the flags are checked;
    // an error on one rank then ends them all (distributed_cli.hpp).
    std::unique_ptr<DistributedSession> dist = start_distributed(o.dist);
    run_distributed(dist, [&] {
        with_dtype(o.compute.dtype, [&](auto s) { train_typed<typename decltype(s)::type>(o, monitor, dist.get()); });
    });
}

}  // namespace

void register_train(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* cmd = app.add_subcommand("train", "Train a sigmoid network with mini-batch SGD");
    add_data_options(*cmd, o->data);
    cmd->add_option("--train-limit", o->train_limit, "Train on the first N training images")->type_name("N")
        ->check(at_least_one())
        ->capture_default_str();
    cmd->add_option("--validation", o->validation,
                    "Hold out the last N training images as the evaluation set (the book's 50k/10k split: "
                    "--validation 10000); without it the test set is used")->type_name("N")
        ->check(at_least_one());

    auto* sizes = cmd->add_option("--sizes", o->sizes_text, "Neurons per layer, input first, comma-separated")
                      ->check(sizes_validator())
                      ->type_name("N,N,...")
                      ->capture_default_str();
    cmd->add_option("--epochs", o->cfg.epochs, "Epochs to train")->type_name("N")->capture_default_str();
    cmd->add_option("--batch,-m", o->cfg.batch, "Mini-batch size m")->type_name("M")->capture_default_str();
    cmd->add_option("--eta", o->cfg.eta, "Learning rate eta")->capture_default_str();
    cmd->add_option("--lambda", o->cfg.lambda, "L2 regularisation lambda")->capture_default_str();
    auto* cost = cmd->add_option("--cost", o->cost, "Cost function (with --init-model: the model's, unless given)")
                     ->check(CLI::IsMember(cost_names()))
                     ->capture_default_str();
    auto* init = cmd->add_option("--init", o->init, "Initialisation: gaussian N(0,1) or scaled N(0,1/n_in)")
                     ->check(CLI::IsMember(init_names()))
                     ->capture_default_str();
    cmd->add_option("--init-model", o->init_model,
                    "Start from this saved model instead of a random initialisation (its sizes must fit the "
                    "data, and --sizes if given)")->type_name("FILE")
        ->excludes(init);
    cmd->add_option("--seed", o->cfg.seed, "Random seed (initialisation and shuffling)")->capture_default_str();
    cmd->add_option("--mode", o->mode, "Backprop per example (the book's loop) or per mini-batch matrix")
        ->check(CLI::IsMember(mode_names()))
        ->capture_default_str();
    cmd->add_option("--launch", o->launch,
                    "On a GPU, graph records the training steps once as CUDA graphs and replays them; eager "
                    "launches every kernel every step. No effect on the CPU")
        ->check(CLI::IsMember({"graph", "eager"}))
        ->capture_default_str();
    add_compute_options(*cmd, o->compute);
    cmd->add_flag("--no-shuffle", [o](std::int64_t) { o->cfg.shuffle = false; },
                  "Keep the training order fixed (no per-epoch shuffle)");

    cmd->add_option("--monitor", o->monitor,
                    "What to report each epoch, comma-separated: eval-acc, eval-cost, train-acc, train-cost "
                    "(network2.py's monitor flags), or none")
        ->check(list_validator(kMonitorWords))
        ->type_name("LIST")
        ->capture_default_str();
    cmd->add_option("--early-stop", o->early_stop,
                    "Stop when the evaluation accuracy has not improved for N epochs; --save keeps the best epoch")->type_name("N")
        ->check(at_least_one());
    cmd->add_option("--save", o->save, "Save the trained model here (network2.py's JSON format)")->type_name("FILE");
    cmd->add_option("--metrics", o->metrics, "Write one JSON object per epoch to this file (JSON Lines)")->type_name("FILE");
    cmd->add_flag("--quiet,-q", o->quiet, "Print nothing but errors");
    add_distributed_options(*cmd, o->dist);

    cmd->callback([o, sizes, cost] {
        o->sizes_given = sizes->count() > 0;
        o->cost_given = cost->count() > 0;
        run_train(*o);
    });
}

}  // namespace batchprop::cli
