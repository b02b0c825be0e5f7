// `batchprop train`: its flags, and what is settled before the run (train_run.hpp) — the
// flags checked on their own, a checkpoint's settings adopted (--resume), the model to start
// from read and its settings applied (--init-model), MPI started for a distributed run.
// Everything that needs no data is checked before the data is read.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchprop/network.hpp"
#include "commands.hpp"
#include "flag_values.hpp"
#include "model_file.hpp"
#include "output_paths.hpp"
#include "run_record.hpp"
#include "train_options.hpp"
#include "train_run.hpp"

namespace batchprop::cli {
namespace {

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

// The files the run writes: each can be created where it is named.
void check_output_paths(const TrainOptions& o) {
    if (o.save == "-") BP_THROW("--save -: a model is written to a file; name one");
    if (o.checkpoint == "-") BP_THROW("--checkpoint -: a checkpoint is written to a file; name one");
    if (!o.save.empty()) check_output_path(o.save, "--save");
    if (!o.metrics.empty() && o.metrics != "-") check_output_path(o.metrics, "--metrics");
    if (!o.checkpoint.empty()) check_output_path(o.checkpoint, "--checkpoint");
}

// The flags on their own: mistakes in them are usage errors (a SettingError is one already;
// main names its flags).
Monitor check_flags(TrainOptions& o) {
    return as_usage_errors([&] {
        o.sizes = parse_sizes(o.sizes_text);
        const Monitor monitor = parse_monitor(o.monitor);
        validate(o.cfg);  // the library checks them against the data where training starts
        if (o.was_given("--sizes") || o.init_model.empty()) ParamLayout check(o.sizes);
        if (o.early_stop > 0 && o.validation == 0 && !o.early_stop_on_test)
            BP_THROW("--early-stop without --validation would choose the epoch on the test set, which then no "
                     "longer measures the model fairly: add --validation 10000 (the book's split), or "
                     "--early-stop-on-test to accept that");
        if (o.early_stop_on_test && o.validation > 0)
            BP_THROW("--early-stop-on-test and --validation contradict each other (with --validation the "
                     "evaluation set is the validation set)");
        check_output_paths(o);
        return monitor;
    });
}

void run_train(TrainOptions& o) {
    // Everything that needs no data, first: a typo should not cost a minute of loading.
    // --resume: the checkpoint's settings replace the defaults (flags given must agree with
    // them). They are the settings the run used, those its --init-model brought included, so
    // the model's settings are not applied again.
    TrainStartingPoint from;
    if (!o.resume.empty()) {
        from.resume = read_checkpoint(o.resume);
        std::vector<RunSetting> settings = run_settings(o);
        adopt_settings(*from.resume, settings, o.given);
        if (o.checkpoint.empty()) o.checkpoint = o.resume;  // go on checkpointing into the same file
    }
    from.monitor = check_flags(o);
    // The model to start from: small, read before the data, and its settings become defaults.
    if (from.resume) {
        from.start = from.resume->model;  // its sizes and cost are the run's (adopt_settings)
    } else if (!o.init_model.empty()) {
        from.start = read_model(o.init_model, "--init-model");
        if (o.was_given("--sizes")) check_model_sizes(*from.start, o.init_model, o.sizes);
        from.from_model = apply_model_settings(o, *from.start);
    }
    // Distributed (mpirun, srun, --distributed): MPI starts here, after the flags, the
    // checkpoint and the model are checked (every rank reads the same files); an error on one
    // rank then ends them all (distributed_cli.hpp).
    std::unique_ptr<DistributedSession> dist = start_distributed(o.dist);
    run_distributed(dist, [&] { run_training(o, from, dist.get()); });
}

// ---- the flags ---------------------------------------------------------------------------

// The network and the SGD settings.
void add_model_flags(CLI::App& cmd, TrainOptions& o) {
    cmd.add_option("--sizes", o.sizes_text, "Neurons per layer, input first, comma-separated (with --init-model: the model's)")
        ->check(sizes_validator())
        ->type_name("N,N,...")
        ->capture_default_str();
    cmd.add_option("--epochs", o.cfg.epochs, "Epochs to train")->type_name("N")->capture_default_str();
    cmd.add_option("--batch,-m", o.cfg.batch, "Mini-batch size m (with --init-model: the model's)")
        ->type_name("M")
        ->capture_default_str();
    cmd.add_option("--eta", o.cfg.eta, "Learning rate eta (with --init-model: the model's)")
        ->type_name("FLOAT")
        ->capture_default_str();
    cmd.add_option("--lambda", o.cfg.lambda, "L2 regularisation lambda (with --init-model: the model's)")
        ->type_name("FLOAT")
        ->capture_default_str();
    add_choice_option(cmd, "--cost", o.cfg.cost, "Cost function (with --init-model: the model's)");
    auto* init = add_choice_option(cmd, "--init", o.init, "Initialisation: gaussian N(0,1) or scaled N(0,1/n_in)");
    cmd.add_option("--init-model", o.init_model,
                   "Start from this saved model instead of a random initialisation (its sizes must fit the "
                   "data, and --sizes if given); the settings it was trained with (eta, lambda, m, cost, mode, "
                   "dtype) are the defaults")
        ->type_name("FILE")
        ->excludes(init);
    cmd.add_option("--seed", o.cfg.seed, "Random seed (initialisation and shuffling)")
        ->check(seed_validator())
        ->capture_default_str();
    add_choice_option(cmd, "--mode", o.cfg.mode,
                      "Backprop per example (the book's loop) or per mini-batch matrix (with --init-model: the model's)");
    add_choice_option(cmd, "--launch", o.cfg.launch,
                      "On a GPU: fused runs each segment (at least 1,000 steps and 10,000 examples) in one kernel "
                      "(matrix mode, small networks: the parameters in shared memory); graph records the steps once "
                      "as CUDA graphs and replays them; eager launches every kernel every step; auto is fused where "
                      "it fits (m <= 12, parameters in shared memory), else graph. No effect on the CPU");
    add_choice_option(cmd, "--math", o.cfg.math,
                      "On a GPU, float only: tf32 runs cuBLAS's products on tensor cores, their inputs rounded to "
                      "TF32 (10 mantissa bits: ~1e-3 relative error a product instead of ~1e-7) for several times "
                      "the throughput of wide layers; graph or eager launch only; never chosen by itself. ieee (the "
                      "default) computes in the scalar type itself. No effect on the CPU");
    add_compute_options(cmd, o.compute, DType::f32, " (with --init-model: the model's)");
    cmd.add_flag("--no-shuffle", [&o](std::int64_t) { o.cfg.shuffle = false; },
                 "Keep the training order fixed (no per-epoch shuffle)");
}

// What is reported, when to stop, and what is written.
void add_run_flags(CLI::App& cmd, TrainOptions& o) {
    cmd.add_option("--monitor", o.monitor,
                   "What to report each epoch, comma-separated: eval-acc, eval-cost, train-acc, train-cost "
                   "(network2.py's monitor flags), or none")
        ->check(list_validator(kMonitorWords))
        ->type_name("LIST")
        ->capture_default_str();
    cmd.add_option("--early-stop", o.early_stop,
                   "Stop when the evaluation accuracy has not improved for N epochs; --save keeps the best epoch "
                   "(or the --init-model, when no epoch beats it). Needs --validation, or --early-stop-on-test")
        ->type_name("N")
        ->check(at_least_one());
    cmd.add_flag("--early-stop-on-test", o.early_stop_on_test,
                 "Let --early-stop choose the epoch on the test set (without --validation); its test accuracy "
                 "then overstates the model's");
    cmd.add_option("--save", o.save, "Save the trained model here (network2.py's JSON format)")->type_name("FILE");
    cmd.add_option("--metrics", o.metrics,
                   "Write one JSON object per epoch to this file (JSON Lines; an existing file is replaced, a "
                   "resumed run appends to it); - for stdout (the summary lines then go to stderr)")
        ->type_name("FILE");
    cmd.add_flag("--quiet,-q", o.quiet, "Print nothing but errors");
    add_distributed_options(cmd, o.dist);
    cmd.add_option("--checkpoint", o.checkpoint,
                   "After every epoch, save here (atomically) everything needed to continue the run with "
                   "--resume: a model file with the run's state")
        ->type_name("FILE");
    cmd.add_option("--resume", o.resume,
                   "Continue the run whose checkpoint this is, after its last completed epoch (its settings "
                   "apply; --epochs may be raised; checkpoints go on into the same file unless --checkpoint)")
        ->type_name("FILE");
}

}  // namespace

void register_train(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* cmd = app.add_subcommand("train", "Train a sigmoid network with mini-batch SGD");
    add_data_options(*cmd, o->data);
    cmd->add_option("--train-limit", o->train_limit, "Train on the first N training images")
        ->type_name("N")
        ->check(at_least_one())
        ->capture_default_str();
    cmd->add_option("--validation", o->validation,
                    "Hold out the last N training images as the evaluation set (the book's 50k/10k split: "
                    "--validation 10000); without it the test set is used")
        ->type_name("N")
        ->check(at_least_one());
    add_model_flags(*cmd, *o);
    add_run_flags(*cmd, *o);
    cmd->callback([o, cmd] {
        for (const CLI::Option* opt : cmd->get_options())
            if (opt->count() > 0) o->given.insert(opt->get_name());
        run_train(*o);
    });
}

}  // namespace batchprop::cli
