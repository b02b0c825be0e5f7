// See train_report.hpp.
#include "train_report.hpp"

#include <fmt/core.h>

#include <cstdio>

#include "batchprop/network.hpp"

namespace batchprop::cli {

std::string accuracy_text(const Evaluation& e) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%lld / %lld (%.2f%%)", e.correct, e.total, 100.0 * e.accuracy());
    return buf;
}

std::string epoch_line(const EpochResult& r, const Monitor& m, int epochs, long long n_train,
                       const std::string& stopped_by) {
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
        s += " (partial epoch: " + (stopped_by.empty() ? std::string("stopped") : stopped_by) + " after " +
             std::to_string(r.examples) + " of " + std::to_string(n_train) + " examples)";
    return s;
}

std::string header_line(const RunFacts& f, const TrainConfig& cfg, DType dtype, const TrainStart& s,
                        const Monitor& monitor) {
    return fmt::format(
        "batchprop: sizes {}, {} training examples, {} evaluation examples ({}), m = {}, eta = {}, lambda = {}, "
        "{} cost, {} mode, {}, {}{}{}{}{}",
        sizes_to_string(f.sizes), f.n_train, f.n_eval, f.eval_name, cfg.batch, cfg.eta, cfg.lambda, to_string(cfg.cost),
        to_string(cfg.mode), to_string(dtype), f.device,
        s.recording                 ? fmt::format(", CUDA graphs of {} steps", s.segment_steps)
        : s.launch == Launch::fused ? fmt::format(", fused: one kernel per {} steps", s.segment_steps)
                                    : "",
        f.distributed.empty() ? "" : ", data-parallel over " + f.distributed + ", eager",
        !f.resumed_from.empty()   ? fmt::format(", resuming {} after epoch {}", f.resumed_from, f.resumed_after)
        : !f.started_from.empty() ? ", starting from " + f.started_from
                                  : "",
        cfg.lambda > 0 && monitor.evaluation() + monitor.training() > 0 ? "; costs include the L2 term" : "");
}

void RunTally::add(const EpochResult& r, bool eval_acc_shown) {
    epochs_done = r.epoch;
    sgd_seconds += r.train_seconds;
    examples_trained += r.examples;
    last_examples = r.examples;
    if (r.evaluation && eval_acc_shown && (!top || r.evaluation->correct > top->correct)) {
        top = r.evaluation;
        top_epoch = r.epoch;
    }
}

std::string summary_line(const RunTally& t, int first_epoch, bool resumed, bool cut_short, int n_train,
                         double run_seconds, int best_epoch) {
    // The epochs this run trained (a resumed run: those after its checkpoint).
    const int epochs_run = t.epochs_done - first_epoch;
    std::string summary = fmt::format(
        "Done: {} epoch{}{}{} in {:.1f} s (SGD {:.1f} s, {:.0f} examples/s)", epochs_run, epochs_run == 1 ? "" : "s",
        !resumed || epochs_run == 0 ? ""
        : epochs_run == 1           ? fmt::format(" (epoch {} of the run)", t.epochs_done)
                                    : fmt::format(" (epochs {}-{} of the run)", first_epoch + 1, t.epochs_done),
        cut_short && t.last_examples < n_train ? ", the last one partial," : "", run_seconds, t.sgd_seconds,
        t.sgd_seconds > 0 ? t.examples_trained / t.sgd_seconds : 0.0);
    if (t.top) summary += fmt::format("; best eval accuracy {} at epoch {}", accuracy_text(*t.top), t.top_epoch);
    if (best_epoch == 0) summary += "; no epoch beat the starting model";
    return summary;
}

}  // namespace batchprop::cli
