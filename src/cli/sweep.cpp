// `batchprop sweep`: its flags, and what is settled before the run (sweep_run.hpp) — the lists
// read into a grid and its models, each value checked by the library's rules, the outputs
// checked, a resumed sweep's settings adopted. Everything that needs no data is checked before
// the data is read.
#include <memory>
#include <optional>
#include <string>

#include "batchprop/sweep.hpp"
#include "commands.hpp"
#include "flag_values.hpp"
#include "output_paths.hpp"
#include "sweep_checkpoint.hpp"
#include "sweep_lists.hpp"
#include "sweep_options.hpp"
#include "sweep_run.hpp"

namespace batchprop::cli {
namespace {

// The files and directories the sweep writes: each can be created where it is named. (That
// none of them is an input is checked once the data's files are located: sweep_run.)
void check_outputs(const SweepFlags& f) {
    for (const auto& [value, flag] : {std::pair{&f.save_best, "--save-best"}, {&f.plot, "--plot"}})
        if (*value == "-") BP_THROW(flag << " -: written to a file; name one");
    if (!f.save_best.empty()) check_output_path(f.save_best, "--save-best");
    if (!f.metrics.empty() && f.metrics != "-") check_output_path(f.metrics, "--metrics");
    if (!f.plot.empty()) {
        check_output_path(f.plot, "--plot");
        if (f.plot.size() < 5 || f.plot.compare(f.plot.size() - 4, 4, ".svg") != 0)
            BP_THROW("--plot " << f.plot << ": the plot is an SVG image; name a file ending in .svg");
    }
    if (!f.save_dir.empty()) make_output_dir(f.save_dir, "--save-dir", false);
    if (!f.checkpoint.empty()) make_output_dir(f.checkpoint, "--checkpoint", false);
}

// The flags on their own: mistakes in them are usage errors (a SettingError is one already).
SweepPlan check_flags(SweepFlags& f) {
    return as_usage_errors([&] {
        if (f.base.validation == 0)
            BP_THROW("a sweep chooses among its models on a validation set, never on the test set: add "
                     "--validation N (the book's split: --validation 10000)");
        SweepPlan p;
        p.grid = parse_grid(f);
        p.models = expand_grid(p.grid, f.base.cfg, f.base.init);
        check_outputs(f);
        return p;
    });
}

void run_sweep_flags(SweepFlags& f) {
    // --resume: the sweep's recorded settings replace the defaults; flags given must agree.
    std::optional<Checkpoint> resume;
    int models_then = 0;
    if (!f.resume.empty()) {
        resume = read_sweep_checkpoint(f.resume, models_then);
        std::vector<RunSetting> settings = sweep_settings(f);
        adopt_settings(*resume, settings, f.given);
        if (f.checkpoint.empty()) f.checkpoint = f.resume;  // go on checkpointing into the same directory
    }
    SweepPlan plan = check_flags(f);
    if (resume && models_then != int(plan.models.size()))
        BP_THROW(resume->path << ": a damaged sweep checkpoint: made for " << models_then << " models, its settings make "
                              << plan.models.size());
    plan.resume = std::move(resume);
    run_sweep_command(f, plan);
}

// The grid's axes and the settings every model shares.
void add_grid_flags(CLI::App& cmd, SweepFlags& f) {
    TrainOptions& o = f.base;
    cmd.add_option("--sizes", f.sizes, "Networks to train, colon-separated, each its neurons per layer, input first "
                                       "(784,30,10:784,100,10)")
        ->type_name("LIST")
        ->capture_default_str();
    cmd.add_option("--eta", f.eta, "Learning rates, comma-separated (0.025,0.25,2.5)")->type_name("LIST")->capture_default_str();
    cmd.add_option("--lambda", f.lambda, "L2 regularisations, comma-separated (0,1,5)")->type_name("LIST")->capture_default_str();
    cmd.add_option("--batch,-m", f.batch, "Mini-batch sizes m, comma-separated (10,32)")->type_name("LIST")->capture_default_str();
    cmd.add_option("--seeds", f.seeds, "Seeds (initialisation and shuffling), comma-separated, or ranges a-b (1-4)")
        ->type_name("LIST")
        ->capture_default_str();
    cmd.add_option("--epochs", o.cfg.epochs, "Epochs to train each model")->type_name("N")->capture_default_str();
    add_choice_option(cmd, "--cost", o.cfg.cost, "Cost function of every model");
    add_choice_option(cmd, "--init", o.init, "Initialisation: gaussian N(0,1) or scaled N(0,1/n_in)");
    add_choice_option(cmd, "--mode", o.cfg.mode, "Backprop per example (the book's loop) or per mini-batch matrix");
    add_choice_option(cmd, "--launch", o.cfg.launch, "On a GPU: how each model's steps run, as for train");
    add_compute_options(cmd, o.compute, DType::f32);
    cmd.add_flag("--no-shuffle", [&o](std::int64_t) { o.cfg.shuffle = false; },
                 "Keep the training order fixed (no per-epoch shuffle)");
    cmd.add_option("--early-stop", o.early_stop,
                   "Stop each model when its validation accuracy has not improved for N epochs; its best epoch "
                   "is then the one saved")
        ->type_name("N")
        ->check(at_least_one());
}

// How it runs, what it reports and what it writes.
void add_output_flags(CLI::App& cmd, SweepFlags& f) {
    cmd.add_option("--jobs,-j", f.jobs, "Models trained at once (0: one per CPU core). On a GPU, models that share no fused launch, each "
                   "on a stream of its own (0: 4)")
        ->type_name("N")
        ->check(at_least(0))
        ->capture_default_str();
    cmd.add_flag("--test-all", f.test_all,
                 "Report the test accuracy of every model (by default only the chosen one's: choosing on it "
                 "would make it overstate)");
    cmd.add_option("--save-best", f.save_best, "Save the chosen model here (network2.py's JSON format)")->type_name("FILE");
    cmd.add_option("--save-dir", f.save_dir, "Save every trained model in this directory as run-NNN.json (made if missing)")
        ->type_name("DIR");
    cmd.add_option("--metrics", f.metrics,
                   "One JSON object per model and epoch (JSON Lines, with the run id and its settings); - for stdout")
        ->type_name("FILE");
    cmd.add_option("--plot", f.plot, "Draw the best validation accuracy against eta, per lambda (an SVG image)")
        ->type_name("FILE.svg");
    cmd.add_option("--checkpoint", f.checkpoint,
                   "Keep the sweep resumable in this directory (sweep.json and one checkpoint per model, after "
                   "every epoch; made if missing)")
        ->type_name("DIR");
    cmd.add_option("--resume", f.resume,
                   "Continue the sweep checkpointed in this directory (its settings apply; --epochs may be raised)")
        ->type_name("DIR");
    cmd.add_flag("--quiet,-q", f.base.quiet, "Print nothing but errors");
}

}  // namespace

void register_sweep(CLI::App& app) {
    auto f = std::make_shared<SweepFlags>();
    CLI::App* cmd = app.add_subcommand(
        "sweep", "Train every combination of lists of settings at once and choose on the validation set");
    add_data_options(*cmd, f->base.data);
    cmd->add_option("--train-limit", f->base.train_limit, "Train on the first N training images")
        ->type_name("N")
        ->check(at_least_one())
        ->capture_default_str();
    cmd->add_option("--validation", f->base.validation,
                    "Hold out the last N training images to choose on (required; the book's split: 10000)")
        ->type_name("N")
        ->check(at_least_one());
    add_grid_flags(*cmd, *f);
    add_output_flags(*cmd, *f);
    cmd->callback([f, cmd] {
        for (const CLI::Option* opt : cmd->get_options())
            if (opt->count() > 0) f->given.insert(opt->get_name());
        f->base.given = f->given;
        run_sweep_flags(*f);
    });
}

}  // namespace batchprop::cli
