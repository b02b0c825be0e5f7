// `batchprop train`: check the settings, load the data (and optionally a model to start from),
// run mini-batch SGD with per-epoch reports, and save the model. Everything that can be
// checked without the data is checked before the data is read.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "batchprop/batchprop.hpp"
#include "batchprop/model_io.hpp"
#include "batchprop/trainer.hpp"
#include "cli/checkpoint.hpp"
#include "cli/commands.hpp"
#include "cli/compute_options.hpp"
#include "cli/data_options.hpp"
#include "cli/distributed_cli.hpp"
#include "cli/flag_values.hpp"
#include "cli/interrupt.hpp"
#include "cli/metrics.hpp"
#include "cli/model_file.hpp"
#include "cli/progress.hpp"
#include "data/output_file.hpp"

namespace batchprop::cli {
namespace {

struct TrainOptions {
    DataOptions data;
    ComputeOptions compute;
    std::string sizes_text = "784,30,10";
    std::vector<int> sizes;  // parsed from sizes_text
    TrainConfig cfg;
    Init init = Init::gaussian;
    int train_limit = 50000;  // the book's split: the first 50,000 training images
    int validation = 0;       // > 0: the last N training images are the evaluation set
    std::string monitor = "eval-acc,eval-cost";
    int early_stop = 0;
    bool early_stop_on_test = false;
    std::string save, init_model, metrics;
    std::string checkpoint, resume;  // --checkpoint, --resume (checkpoint.hpp)
    bool quiet = false;
    DistributedOptions dist;  // --distributed (distributed_cli.hpp)
    std::set<std::string> given;  // the flags given on the command line (for --resume)
    // Which flags were given (not defaults): they override what --init-model brings (and
    // --sizes must agree with it); --train-limit given is worth a note when it is cut.
    bool sizes_given = false, cost_given = false, eta_given = false, lambda_given = false, batch_given = false,
         mode_given = false, dtype_given = false, train_limit_given = false;
};

// A note on stderr that does not stop the run (a setting adjusted, a choice made for the user).
void note(Progress& progress, const std::string& text) {
    if (progress.quiet()) return;
    progress.clear();
    std::fprintf(stderr, "batchprop: note: %s\n", text.c_str());
    std::fflush(stderr);
}

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

std::string epoch_line(const EpochResult& r, const Monitor& m, int epochs, long long n_train) {
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
    if (r.examples < n_train)
        s += " (partial epoch: Ctrl-C after " + std::to_string(r.examples) + " of " + std::to_string(n_train) +
             " examples)";
    return s;
}

// The training and evaluation sets as the flags describe them (--validation, --train-limit).
struct Data {
    Dataset train, eval;
    std::string eval_name;  // for the header line
    std::string note;       // a setting the data cut short, said rather than done silently
};

Data load_data(const TrainOptions& o) {
    // Locate every file first, so a missing test file is reported before the slow read.
    const DataFiles train_files = locate(o.data, Split::train);
    std::optional<DataFiles> test_files;
    if (o.validation == 0) test_files = locate(o.data, Split::test);
    Data d;
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
    if (o.train_limit_given && o.train_limit > available)
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

// What the "batchprop" key of the saved model records about the run.
nlohmann::json run_record(const TrainOptions& o, const TrainConfig& cfg, const Data& d, int epochs_done,
                          bool interrupted, int best_epoch) {
    nlohmann::json j;
    j["version"] = BATCHPROP_VERSION;
    j["epochs"] = epochs_done;
    if (best_epoch >= 0) j["best_epoch"] = best_epoch;  // 0: no epoch beat the --init-model
    j["interrupted"] = interrupted;
    j["eta"] = cfg.eta;
    j["lambda"] = cfg.lambda;
    j["batch"] = cfg.batch;
    j["cost"] = to_string(cfg.cost);
    j["mode"] = to_string(cfg.mode);
    j["launch"] = to_string(cfg.launch);
    j["dtype"] = to_string(o.compute.dtype);
    if (o.init_model.empty())
        j["init"] = to_string(o.init);
    else
        j["init_model"] = o.init_model;
    j["seed"] = cfg.seed;
    j["shuffle"] = cfg.shuffle;
    j["training_data"] = d.train.source;
    j["training_examples"] = d.train.n;
    if (o.validation > 0) j["validation"] = o.validation;
    return j;
}

// The settings that define a run, as a checkpoint records them and --resume restores them.
// They are the values the run really uses: those --init-model brought included.
std::vector<RunSetting> run_settings(TrainOptions& o) {
    std::vector<RunSetting> s{
        RunSetting{"--sizes", [&o] { return nlohmann::json(sizes_to_string(parse_sizes(o.sizes_text))); },
                   [&o](const nlohmann::json& j) { o.sizes_text = j.get<std::string>(); }},
        bind_setting("--epochs", o.cfg.epochs),
        bind_setting("--batch", o.cfg.batch), bind_setting("--eta", o.cfg.eta), bind_setting("--lambda", o.cfg.lambda),
        bind_setting("--cost", o.cfg.cost), bind_setting("--init", o.init), bind_setting("--init-model", o.init_model),
        bind_setting("--seed", o.cfg.seed), bind_setting("--mode", o.cfg.mode), bind_setting("--launch", o.cfg.launch),
        bind_setting("--dtype", o.compute.dtype), bind_setting("--train-limit", o.train_limit),
        bind_setting("--validation", o.validation), bind_setting("--early-stop", o.early_stop),
        bind_setting("--early-stop-on-test", o.early_stop_on_test),
        RunSetting{"--no-shuffle", [&o] { return nlohmann::json(!o.cfg.shuffle); },
                   [&o](const nlohmann::json& j) { o.cfg.shuffle = !j.get<bool>(); }},
        bind_setting("--format", o.data.format),
        bind_setting("--device", o.compute.device, false), bind_setting("--monitor", o.monitor, false)};
    // The data flags: taken from the checkpoint when not given, never an error themselves;
    // the data they locate is compared with the checkpoint's afterwards (data_identity).
    for (auto [flag, value] : {std::pair{"--data", &o.data.dir}, {"--train-images", &o.data.train_images},
                               {"--train-labels", &o.data.train_labels}, {"--test-images", &o.data.test_images},
                               {"--test-labels", &o.data.test_labels}, {"--train-csv", &o.data.train_csv},
                               {"--test-csv", &o.data.test_csv}})
        s.push_back(bind_setting(flag, *value, false));
    return s;
}

// The files the run reads, for data_identity.
std::vector<std::string> data_files(const TrainOptions& o) {
    std::vector<std::string> files;
    for (Split split : {Split::train, Split::test}) {
        if (split == Split::test && o.validation > 0) break;
        const DataFiles f = locate(o.data, split);
        files.push_back(f.images);
        if (!f.csv) files.push_back(f.labels);
    }
    return files;
}

// start: the --init-model (its settings already applied, from_model says which) or the
// checkpoint's model when resuming.
// dist: a data-parallel run (null: a plain one); rank 0 alone prints and writes files.
void train_session(TrainOptions& o, const Monitor& monitor, const std::optional<Model>& start,
                   const std::string& from_model, const std::optional<Checkpoint>& resume, DistributedSession* dist) {
    TrainConfig cfg = o.cfg;
    const bool leader = !dist || dist->leader();
    const bool quiet = o.quiet || !leader;
    DeviceSpec device = device_of(o.compute);
    if (dist) device.local_rank = dist->local_rank();  // each rank its own GPU
    std::vector<int> sizes = start ? start->net.sizes() : o.sizes;
    const std::string sizes_from = resume                    ? "the run in " + o.resume
                                   : start && !o.sizes_given ? "the model " + o.init_model
                                                             : "--sizes";
    const bool to_stdout = o.metrics == "-";  // stdout carries the metrics; the lines go to stderr
    Progress progress(quiet, to_stdout, cfg.epochs, /*allow_live=*/!dist);

    // The device is checked before the (slow) data.
    if (resume) {
        if (start->net.sizes() != sizes)
            BP_THROW(o.resume << ": a damaged checkpoint: the model's sizes " << sizes_to_string(start->net.sizes())
                              << " are not the run's " << o.sizes_text);
        cfg.first_epoch = std::min(resume->epochs_done, cfg.epochs);
    }
    // The sizes and cost the run really uses (--init-model may bring them), as a checkpoint records them.
    o.sizes_text = sizes_to_string(sizes);
    Session session = make_session_for(
        o.compute, quiet,
        [&](const SessionOptions& where) {
            return start ? Session::from_model(*start, where) : Session::create(sizes, cfg.cost, o.init, cfg.seed, where);
        },
        &device);
    session.set_cost(cfg.cost);
    std::unique_ptr<Communicator> gpu_comm;  // NCCL, when the ranks are on GPUs
    Communicator* comm = dist ? &dist->connect(session.memory(), gpu_comm) : nullptr;
    progress.status("batchprop: loading the data ...");
    Data data = load_data(o);
    progress.clear();
    if (!data.note.empty()) note(progress, data.note);
    check_fits(data.train, sizes, sizes_from);
    check_fits(data.eval, sizes, sizes_from);
    // The flags were checked on their own before the data was read; the library checks them
    // against the data (--batch larger than the training set, ...) where training starts,
    // before on_start: a SettingError, reported as the usage error it is.
    const std::vector<RunSetting> settings = run_settings(o);
    const nlohmann::json data_id = o.checkpoint.empty() ? nlohmann::json() : data_identity(data_files(o), data.train.n, data.eval.n);
    if (resume) check_same_data(*resume, data_id);
    if (comm) session.set_communicator(comm, data_fingerprint(data.train, data_fingerprint(data.eval)));

    cfg.monitor_evaluation = monitor.evaluation() || o.early_stop > 0;
    cfg.monitor_training = monitor.training();

    auto t0 = std::chrono::steady_clock::now();  // reset when training starts, for the summary
    std::optional<std::string> epoch0_line;      // the early-stop baseline, reported after the header
    auto header = [&](const TrainStart& s) {
        progress.clear();
        progress.line(fmt::format(
            "batchprop: sizes {}, {} training examples, {} evaluation examples ({}), m = {}, eta = {}, lambda = {}, "
            "{} cost, {} mode, {}, {}{}{}{}{}",
            sizes_to_string(sizes), data.train.n, data.eval.n, data.eval_name, cfg.batch, cfg.eta, cfg.lambda,
            to_string(cfg.cost), to_string(cfg.mode), to_string(o.compute.dtype), session.device(),
            s.recording                    ? fmt::format(", CUDA graphs of {} steps", s.segment_steps)
            : s.launch == Launch::fused ? fmt::format(", fused: one kernel per {} steps", s.segment_steps)
                                        : "",
            dist ? ", data-parallel over " + dist->describe(*comm) + ", eager" : "",
            resume  ? fmt::format(", resuming {} after epoch {}", o.resume, resume->epochs_done)
            : start ? ", starting from " + o.init_model
                    : "",
            cfg.lambda > 0 && monitor.evaluation() + monitor.training() > 0 ? "; costs include the L2 term" : ""));
        if (!from_model.empty()) progress.line(from_model);
        if (o.early_stop > 0 && o.validation == 0)
            note(progress, "--early-stop-on-test: the epoch kept is chosen on the test set, so its test accuracy "
                           "overstates how the model does on new data");
        if (epoch0_line) progress.line(*epoch0_line);
        t0 = std::chrono::steady_clock::now();
    };

    // Created only once the run is known to start (on_start): bad input never leaves a file behind.
    std::optional<MetricsLog> metrics;
    auto open_metrics = [&] {
        if (o.metrics.empty() || !leader) return;
        RunSettings rs;
        rs.monitor = monitor;
        if (o.early_stop > 0) rs.monitor.eval_acc = true;
        rs.device = session.device();
        rs.mode = to_string(cfg.mode);
        rs.dtype = to_string(o.compute.dtype);
        rs.cost = to_string(cfg.cost);
        rs.batch = cfg.batch;
        rs.sizes = sizes;
        rs.eta = cfg.eta;
        rs.lambda = cfg.lambda;
        rs.seed = cfg.seed;
        rs.init = o.init_model.empty() ? to_string(o.init) : "model";
        rs.init_model = o.init_model;
        metrics.emplace(o.metrics, std::move(rs), resume.has_value());  // a resumed run adds its epochs
    };

    // Early stopping keeps the parameters of the best epoch (by evaluation accuracy). A model
    // we continue from is the baseline (epoch 0): a run that never beats it saves it unchanged.
    long long best_correct = -1;
    // best_epoch -1: none yet; 0: the starting model. A resumed run goes on with the state its
    // checkpoint recorded.
    int best_epoch = -1, since_best = 0, epochs_done = cfg.first_epoch;
    std::optional<Network<double>> best_net;  // kept for --save, and in the checkpoint for a resumed run's --save
    if (resume) {
        best_correct = resume->early_stop.best_correct;
        best_epoch = resume->early_stop.best_epoch;
        since_best = resume->early_stop.since_best;
        best_net = resume->early_stop.best;
    }
    Monitor shown = monitor;
    if (o.early_stop > 0) shown.eval_acc = true;
    if (start && !resume && o.early_stop > 0) {
        // The model we continue from is the baseline: epoch 0.
        const Evaluation e0 = session.evaluate(data.eval);
        best_correct = e0.correct;
        best_epoch = 0;
        if (!o.save.empty() || !o.checkpoint.empty()) best_net = session.network();
        epoch0_line = "Epoch 0 (the starting model): eval accuracy " + accuracy_text(e0);
    }
    // For the end-of-run summary.
    double sgd_seconds = 0.0;
    long long examples_trained = 0;
    std::optional<Evaluation> top;  // the best monitored evaluation accuracy, and its epoch
    int top_epoch = 0;
    long long last_examples = data.train.n;

    InterruptGuard interrupt;  // alive until the model is saved: one Ctrl-C cannot cut the save short
    TrainCallbacks cb;
    cb.on_start = [&](const TrainStart& s) {
        open_metrics();
        header(s);
    };
    cb.stop = interrupt.flag();
    cb.on_notice = [leader](const std::string& why) {
        if (leader) fmt::print(stderr, "batchprop: {}\n", why);
    };
    if (progress.live()) cb.on_batch = [&progress](const BatchProgress& p) { progress.batch(p); };
    double allreduce_before = 0.0, wait_before = 0.0;  // distributed: the all-reduce's share of the epoch
    cb.on_epoch = [&](const EpochResult& r) {
        epochs_done = r.epoch;
        sgd_seconds += r.train_seconds;
        examples_trained += r.examples;
        last_examples = r.examples;
        if (r.evaluation && shown.eval_acc && (!top || r.evaluation->correct > top->correct)) {
            top = r.evaluation;
            top_epoch = r.epoch;
        }
        std::string line = epoch_line(r, shown, cfg.epochs, data.train.n);
        if (dist) {
            const double s = session.allreduce_seconds() - allreduce_before;
            const double w = session.allreduce_wait_seconds() - wait_before;
            allreduce_before = session.allreduce_seconds();
            wait_before = session.allreduce_wait_seconds();
            const double pct = r.train_seconds > 0 ? 100.0 / r.train_seconds : 0.0;
            line += fmt::format(", all-reduce {:.3f} s ({:.1f}%", s, pct * s);
            line += session.memory().kind() == DeviceKind::cpu ? fmt::format(", waiting for other ranks {:.1f}%)", pct * w)
                                                                : ")";
        }
        progress.line(line);
        if (metrics) metrics->write(r);
        if (o.early_stop == 0) return true;
        if (r.evaluation->correct > best_correct) {
            best_correct = r.evaluation->correct;
            best_epoch = r.epoch;
            since_best = 0;
            // Kept for --save, and in the checkpoint for a resumed run's --save.
            if (!o.save.empty() || !o.checkpoint.empty()) best_net = session.network();
            return true;
        }
        if (++since_best < o.early_stop) return true;
        progress.line("Early stop: no better evaluation accuracy for " + std::to_string(o.early_stop) +
                      " epochs; the best was epoch " + std::to_string(best_epoch) +
                      (best_epoch == 0 ? " (the starting model)" : ""));
        return false;
    };
    // --checkpoint: written atomically before the first epoch and after each completed one.
    // An epoch cut short by a signal is not checkpointed: the file keeps the last whole one.
    int last_checkpointed = cfg.first_epoch;
    auto checkpoint = [&](int epochs, bool finished) {
        last_checkpointed = epochs;
        EarlyStopState es{best_correct, best_epoch, since_best, best_net};
        write_checkpoint(o.checkpoint, session.network(), cfg.cost,
                         run_record(o, cfg, data, epochs, false, o.early_stop > 0 ? best_epoch : -1), epochs, finished,
                         settings, data_id, es);
    };
    // Distributed, rank 0 alone writes it (every rank holds the same parameters).
    if (!o.checkpoint.empty() && leader) {
        cb.on_start = [&, start_line = cb.on_start](const TrainStart& s) {
            start_line(s);
            if (!resume || o.checkpoint != o.resume) checkpoint(s.first_epoch, false);
        };
        cb.on_epoch = [&, report = cb.on_epoch](const EpochResult& r) {
            const bool go_on = report(r);
            if (r.examples == data.train.n) checkpoint(r.epoch, !go_on || r.epoch == cfg.epochs);
            return go_on;
        };
    }
    const bool stopped_early = resume && resume->finished && o.early_stop > 0 && since_best >= o.early_stop;
    double run_seconds = 0.0;
    if (stopped_early || cfg.first_epoch >= cfg.epochs) {
        open_metrics();
        header(TrainStart{cfg.first_epoch, cfg.epochs, false, 0});
        progress.line(fmt::format("The run in {} {} after epoch {}: no epochs left to train", o.resume,
                                  stopped_early ? "stopped early" : "ended", resume->epochs_done));
    } else {
        progress.status("batchprop: uploading the data ...");
        session.train(data.train, &data.eval, cfg, cb);
        run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    progress.clear();
    bool interrupted = interrupt.interrupted();
    if (comm) {
        // Distributed, a Ctrl-C that reached any rank stopped them all (the trainer agrees on
        // it): every rank then reports the interruption, and rank 0's saved model records it.
        std::uint64_t any = interrupted ? 1 : 0;
        comm->allreduce_host(&any, 1, ReduceOp::max);
        interrupted = any != 0;
    }

    // The epochs this run trained (a resumed run: those after its checkpoint).
    const int epochs_run = epochs_done - cfg.first_epoch;
    std::string summary = fmt::format("Done: {} epoch{}{}{} in {:.1f} s (SGD {:.1f} s, {:.0f} examples/s)", epochs_run,
                                      epochs_run == 1 ? "" : "s",
                                      !resume || epochs_run == 0 ? ""
                                      : epochs_run == 1
                                          ? fmt::format(" (epoch {} of the run)", epochs_done)
                                          : fmt::format(" (epochs {}-{} of the run)", cfg.first_epoch + 1, epochs_done),
                                      interrupted && last_examples < data.train.n ? ", the last one partial," : "",
                                      run_seconds, sgd_seconds, sgd_seconds > 0 ? examples_trained / sgd_seconds : 0.0);
    if (top) summary += fmt::format("; best eval accuracy {} at epoch {}", accuracy_text(*top), top_epoch);
    if (best_epoch == 0) summary += "; no epoch beat the starting model";
    if (epochs_run > 0 || !resume) progress.line(summary);  // a finished run resumed has said so already

    if (!o.save.empty() && leader) {
        const nlohmann::json record =
            run_record(o, cfg, data, epochs_done, interrupted, o.early_stop > 0 ? best_epoch : -1);
        if (best_net)
            save_model(o.save, *best_net, cfg.cost, record);
        else
            session.save(o.save, record);
        progress.line(best_epoch == 0 ? "Saved the starting model, unchanged, to " + o.save
                                      : "Saved the model " +
                                            std::string(best_epoch > 0 ? "of epoch " + std::to_string(best_epoch) + " " : "") +
                                            "to " + o.save);
    }
    if (interrupted) {
        if (leader) {
            std::fprintf(stderr, "batchprop: %s during epoch %d; %s\n",
                         interrupt.signal() == SIGTERM ? "terminated" : "interrupted", epochs_done,
                         o.save.empty() ? "no model saved (no --save)" : ("model saved to " + o.save).c_str());
            if (!o.checkpoint.empty())
                std::fprintf(stderr, "batchprop: %s holds the run after epoch %d; continue it with --resume %s\n",
                             o.checkpoint.c_str(), last_checkpointed, o.checkpoint.c_str());
        }
        if (comm) {
            // A rank's exit status 130 (143) makes the launcher end the others: not before rank 0
            // has saved and said so.
            std::uint64_t done = 0;
            comm->allreduce_host(&done, 1, ReduceOp::max);
        }
        throw Interrupted{interrupt.signal() ? interrupt.signal() : SIGINT};
    }
}

// The settings recorded in a model's "batchprop" object become the defaults when training
// continues from it; flags given on the command line override them. Returns a line saying
// what was taken (empty when nothing was).
std::string apply_model_settings(TrainOptions& o, const Model& model) {
    std::vector<std::string> taken;
    if (!o.cost_given) {
        o.cfg.cost = model.cost;  // network2.py's own "cost" key
        taken.push_back(std::string(to_string(model.cost)) + " cost");
    }
    const nlohmann::json& b = model.batchprop;
    if (!b.is_object()) {
        return "batchprop: " + o.init_model + " records no training settings (not saved by batchprop); " +
               "eta, lambda and m are the flags' (defaults: 3, 0, 10)";
    }
    auto number = [&](const char* key, bool given, auto& value, auto check) {
        const auto it = b.find(key);
        if (given || it == b.end() || !it->is_number()) return;
        const auto v = it->template get<std::decay_t<decltype(value)>>();
        if (!check(v)) return;
        value = v;
        taken.push_back(fmt::format("{} {}", key, v));
    };
    number("eta", o.eta_given, o.cfg.eta, [](double v) { return std::isfinite(v) && v > 0; });
    number("lambda", o.lambda_given, o.cfg.lambda, [](double v) { return std::isfinite(v) && v >= 0; });
    number("batch", o.batch_given, o.cfg.batch, [](int v) { return v >= 1; });
    auto word = [&](const char* key, bool given, auto& value) {
        const auto it = b.find(key);
        if (given || it == b.end() || !it->is_string()) return;
        const std::string v = it->template get<std::string>();
        const std::vector<std::string>& allowed = names<std::decay_t<decltype(value)>>();
        if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) return;
        value = parse<std::decay_t<decltype(value)>>(v);
        taken.push_back(std::string(key) + " " + v);
    };
    word("mode", o.mode_given, o.cfg.mode);
    word("dtype", o.dtype_given, o.compute.dtype);
    std::string list;
    for (const std::string& t : taken) list += (list.empty() ? "" : ", ") + t;
    return "batchprop: continuing with the settings " + o.init_model + " was trained with: " + list +
           " (flags given override them)";
}

void run_train(TrainOptions& o) {
    // Everything that needs no data, first: a typo should not cost a minute of loading.
    // --resume: the checkpoint's settings replace the defaults (flags given must agree with
    // them). They are the settings the run used, those its --init-model brought included, so
    // the model's settings are not applied again.
    std::optional<Checkpoint> resume;
    if (!o.resume.empty()) {
        resume = read_checkpoint(o.resume);
        std::vector<RunSetting> settings = run_settings(o);
        adopt_settings(*resume, settings, o.given);
        if (o.checkpoint.empty()) o.checkpoint = o.resume;  // go on checkpointing into the same file
    }
    // Mistakes in the command line: usage errors.
    Monitor monitor;
    try {
        o.sizes = parse_sizes(o.sizes_text);
        monitor = parse_monitor(o.monitor);
        validate(o.cfg);  // the flags alone; the library checks them against the data
        if (o.sizes_given || o.init_model.empty()) ParamLayout check(o.sizes);
        if (o.early_stop > 0 && o.validation == 0 && !o.early_stop_on_test)
            BP_THROW("--early-stop without --validation would choose the epoch on the test set, which then no "
                     "longer measures the model fairly: add --validation 10000 (the book's split), or "
                     "--early-stop-on-test to accept that");
        if (o.early_stop_on_test && o.validation > 0)
            BP_THROW("--early-stop-on-test and --validation contradict each other (with --validation the "
                     "evaluation set is the validation set)");
        if (!o.save.empty()) check_output_path(o.save, "--save");
        if (!o.metrics.empty() && o.metrics != "-") check_output_path(o.metrics, "--metrics");
        if (!o.save.empty() && o.save == o.metrics) BP_THROW("--save and --metrics name the same file " << o.save);
        if (o.save == "-") BP_THROW("--save -: a model is written to a file; name one");
        if (!o.checkpoint.empty()) {
            if (o.checkpoint == "-") BP_THROW("--checkpoint -: a checkpoint is written to a file; name one");
            check_output_path(o.checkpoint, "--checkpoint");
            if (o.checkpoint == o.save || o.checkpoint == o.metrics)
                BP_THROW("--checkpoint " << o.checkpoint << " is also the file of --"
                                         << (o.checkpoint == o.save ? "save" : "metrics"));
        }
    } catch (const UsageError&) {
        throw;
    } catch (const SettingError&) {
        throw;  // main names the flags
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
    // The model to start from: small, read before the data, and its settings become defaults.
    std::optional<Model> start;
    std::string from_model;
    if (resume) {
        start = resume->model;  // its sizes and cost are the run's (adopt_settings)
    } else if (!o.init_model.empty()) {
        start = read_model(o.init_model, "--init-model");
        if (o.sizes_given) check_model_sizes(*start, o.init_model, o.sizes);
        from_model = apply_model_settings(o, *start);  // takes only values validate() accepts
    }
    // Distributed (mpirun, srun, --distributed): MPI starts here, after the flags, the
    // checkpoint and the model are checked (every rank reads the same files); an error on one
    // rank then ends them all (distributed_cli.hpp).
    std::unique_ptr<DistributedSession> dist = start_distributed(o.dist);
    run_distributed(dist, [&] { train_session(o, monitor, start, from_model, resume, dist.get()); });
}

}  // namespace

void register_train(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* cmd = app.add_subcommand("train", "Train a sigmoid network with mini-batch SGD");
    add_data_options(*cmd, o->data);
    auto* train_limit = cmd->add_option("--train-limit", o->train_limit, "Train on the first N training images")->type_name("N")
        ->check(at_least_one())
        ->capture_default_str();
    cmd->add_option("--validation", o->validation,
                    "Hold out the last N training images as the evaluation set (the book's 50k/10k split: "
                    "--validation 10000); without it the test set is used")->type_name("N")
        ->check(at_least_one());

    auto* sizes = cmd->add_option("--sizes", o->sizes_text,
                                  "Neurons per layer, input first, comma-separated (with --init-model: the model's)")
                      ->check(sizes_validator())
                      ->type_name("N,N,...")
                      ->capture_default_str();
    cmd->add_option("--epochs", o->cfg.epochs, "Epochs to train")->type_name("N")->capture_default_str();
    auto* batch = cmd->add_option("--batch,-m", o->cfg.batch, "Mini-batch size m (with --init-model: the model's)")
                      ->type_name("M")
                      ->capture_default_str();
    auto* eta = cmd->add_option("--eta", o->cfg.eta, "Learning rate eta (with --init-model: the model's)")
                    ->type_name("FLOAT")
                    ->capture_default_str();
    auto* lambda = cmd->add_option("--lambda", o->cfg.lambda, "L2 regularisation lambda (with --init-model: the model's)")
                       ->type_name("FLOAT")
                       ->capture_default_str();
    auto* cost = add_choice_option(*cmd, "--cost", o->cfg.cost, "Cost function (with --init-model: the model's)");
    auto* init = add_choice_option(*cmd, "--init", o->init, "Initialisation: gaussian N(0,1) or scaled N(0,1/n_in)");
    cmd->add_option("--init-model", o->init_model,
                    "Start from this saved model instead of a random initialisation (its sizes must fit the "
                    "data, and --sizes if given); the settings it was trained with (eta, lambda, m, cost, mode, "
                    "dtype) are the defaults")->type_name("FILE")
        ->excludes(init);
    cmd->add_option("--seed", o->cfg.seed, "Random seed (initialisation and shuffling)")->capture_default_str();
    auto* mode = add_choice_option(
        *cmd, "--mode", o->cfg.mode,
        "Backprop per example (the book's loop) or per mini-batch matrix (with --init-model: the model's)");
    add_choice_option(*cmd, "--launch", o->cfg.launch,
                    "On a GPU: fused runs each segment of ~2,000 examples' steps in one kernel (matrix mode, small "
                    "networks: the parameters in shared memory); graph records the steps once as CUDA graphs and "
                    "replays them; eager launches every kernel every step; auto is fused where it fits "
                    "(m <= 12, parameters in shared memory), else graph. No effect on the CPU");
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
                    "Stop when the evaluation accuracy has not improved for N epochs; --save keeps the best epoch "
                    "(or the --init-model, when no epoch beats it). Needs --validation, or --early-stop-on-test")
        ->type_name("N")
        ->check(at_least_one());
    cmd->add_flag("--early-stop-on-test", o->early_stop_on_test,
                  "Let --early-stop choose the epoch on the test set (without --validation); its test accuracy "
                  "then overstates the model's");
    cmd->add_option("--save", o->save, "Save the trained model here (network2.py's JSON format)")->type_name("FILE");
    cmd->add_option("--metrics", o->metrics,
                    "Write one JSON object per epoch to this file (JSON Lines); - for stdout (the summary lines "
                    "then go to stderr)")->type_name("FILE");
    cmd->add_flag("--quiet,-q", o->quiet, "Print nothing but errors");
    add_distributed_options(*cmd, o->dist);
    cmd->add_option("--checkpoint", o->checkpoint,
                    "After every epoch, save here (atomically) everything needed to continue the run with "
                    "--resume: a model file with the run's state")->type_name("FILE");
    cmd->add_option("--resume", o->resume,
                    "Continue the run whose checkpoint this is, after its last completed epoch (its settings "
                    "apply; --epochs may be raised; checkpoints go on into the same file unless --checkpoint)")
        ->type_name("FILE");

    cmd->callback([o, cmd, sizes, cost, eta, lambda, batch, mode, train_limit] {
        o->sizes_given = sizes->count() > 0;
        o->cost_given = cost->count() > 0;
        o->eta_given = eta->count() > 0;
        o->lambda_given = lambda->count() > 0;
        o->batch_given = batch->count() > 0;
        o->mode_given = mode->count() > 0;
        o->dtype_given = cmd->get_option("--dtype")->count() > 0;
        o->train_limit_given = train_limit->count() > 0;
        for (const CLI::Option* opt : cmd->get_options())
            if (opt->count() > 0) o->given.insert(opt->get_name());
        run_train(*o);
    });
}

}  // namespace batchprop::cli
