// The sweep run as a whole and its end (sweep_command.hpp): the table sorted by best validation
// accuracy, the spread over seeds, the chosen model and its test accuracy, the saves and the
// plot; after Ctrl-C or SIGTERM the same for the models so far, then exit 130 or 143.
#include <fmt/core.h>

#include <csignal>
#include <cstdio>
#include <map>

#include "commands.hpp"
#include "sweep_checkpoint.hpp"
#include "sweep_command.hpp"
#include "sweep_plot.hpp"

namespace batchprop::cli {

void run_sweep_command(SweepFlags& f, const SweepPlan& plan) { SweepCommand(f, plan).run(); }

void SweepCommand::run() {
    prepare();
    resume_models();
    start();
    // Alive until the table is printed and the models saved: one Ctrl-C cannot cut that short.
    InterruptGuard interrupt;
    batchprop::SweepOptions options;
    options.where = where_;
    options.jobs = jobs_;
    std::vector<SweepOutcome> out = run_sweep(data_.train, &data_.eval, models_, options, callbacks(interrupt), starts_);
    finish(out, interrupt, std::chrono::duration<double>(Clock::now() - t0_).count());
}

std::optional<Network<double>> SweepCommand::kept_network(int id, const std::vector<SweepOutcome>& out) const {
    const SweepOutcome& o = out[std::size_t(id)];
    if (!rows_[std::size_t(id)].usable() || !o.session) return std::nullopt;
    const EarlyStopState& es = stoppers_[std::size_t(id)].state();
    return es.best ? *es.best : o.session->network();  // what train --save writes
}

void SweepCommand::measure_tests(const std::vector<int>& order, const std::vector<SweepOutcome>& out) {
    for (int id : order) {
        SweepRow& row = rows_[std::size_t(id)];
        const std::optional<Network<double>> net = kept_network(id, out);
        if (!net || row.best_epoch == 0) continue;
        Model model;
        model.net = *net;
        model.cost = models_[std::size_t(id)].config.cost;
        row.test_accuracy = Session::from_model(model, where_).evaluate(data_.test).accuracy();
        if (!f_.test_all) return;  // the chosen model's alone: the first usable in the table's order
    }
}

void SweepCommand::save_models(int chosen, const std::vector<SweepOutcome>& out, bool interrupted) {
    const int n = int(models_.size());
    auto save = [&](int id, const std::string& path) {
        const SweepRow& row = rows_[std::size_t(id)];
        const SweepModel& m = models_[std::size_t(id)];
        save_model(path, *kept_network(id, out), m.config.cost,
                   model_record(m, row.epochs_done, interrupted && row.status == SweepStatus::stopped));
    };
    if (!f_.save_best.empty() && chosen >= 0) {
        save(chosen, f_.save_best);
        progress_.line(fmt::format("Saved the chosen model (run {}, epoch {}) to {}", chosen,
                                   rows_[std::size_t(chosen)].saved_epoch, f_.save_best));
    }
    if (!f_.save_dir.empty()) {
        int saved = 0;
        for (const SweepModel& m : models_)
            if (kept_network(m.id, out)) save(m.id, model_save_file(f_.save_dir, m.id, n)), ++saved;
        progress_.line(fmt::format("Saved {} model{} to {} (run-NNN.json, NNN the run id)", saved, saved == 1 ? "" : "s",
                                   f_.save_dir));
    }
    if (!f_.plot.empty()) {
        const std::string title = grid_line(plan_.grid, n) + ", " + std::to_string(f_.base.cfg.epochs) + " epochs";
        write_text_file(f_.plot, sweep_svg(spreads(rows_), title), "--plot");
        progress_.line("Plot: " + f_.plot);
    }
}

std::string SweepCommand::summary_line(double seconds, int epochs_run, bool interrupted) const {
    std::map<std::string, int> by;
    for (const SweepRow& r : rows_) {
        std::string s = r.status == SweepStatus::done && r.early_stopped ? "early-stopped" : to_string(r.status);
        if (r.status == SweepStatus::pending) s = r.epochs_done > 0 ? "part-trained" : "not started";
        ++by[s];
    }
    std::string counts;
    for (const auto& [what, k] : by) counts += (counts.empty() ? "" : ", ") + std::to_string(k) + " " + what;
    return fmt::format("{}: {} models ({}); {} epochs trained in {}: {:.3g} model-epochs/s, {}",
                       interrupted ? "Stopped" : "Done", rows_.size(), counts, epochs_run, duration_text(seconds),
                       seconds > 0 ? double(epochs_run) / seconds : 0.0, how_text());
}

std::string SweepCommand::how_text() const {
    if (!gpu_) return fmt::format("{} at a time on {}", jobs_, device_name_);
    return fmt::format("fused ones in shared launches, others {} at a time on {}", jobs_, device_name_);
}

void SweepCommand::finish(std::vector<SweepOutcome>& out, const InterruptGuard& interrupt, double seconds) {
    progress_.clear();
    const bool interrupted = interrupt.interrupted();
    const std::vector<int> order = ranking(rows_);
    int chosen = -1;
    for (int id : order)
        if (kept_network(id, out) && rows_[std::size_t(id)].best_epoch > 0) {
            chosen = id;
            break;
        }
    measure_tests(order, out);
    progress_.line(interrupted ? "\nThe models so far, by best validation accuracy:" : "\nBy best validation accuracy:");
    std::string table = table_text(rows_, order, f_.test_all || chosen >= 0);
    table.pop_back();  // Progress::line ends it
    progress_.line(table);
    if (plan_.grid.seeds.size() > 1) {
        std::string spread = spread_text(spreads(rows_));
        spread.pop_back();
        progress_.line("\nSpread over seeds (each setting's best validation accuracies):");
        progress_.line(spread);
    }
    if (chosen >= 0) {
        const SweepRow& r = rows_[std::size_t(chosen)];
        progress_.line(fmt::format("\nChosen: {}; test accuracy {:.2f}% (the model of epoch {}, as saved)",
                                   model_line(r), 100.0 * *r.test_accuracy, r.saved_epoch));
    }
    progress_.line(summary_line(seconds, int(tally_.epochs_done), interrupted));
    save_models(chosen, out, interrupted);
    if (interrupted) {
        std::fprintf(stderr, "batchprop: %s; %s\n", interrupt.signal() == SIGTERM ? "terminated" : "interrupted",
                     f_.checkpoint.empty() ? "no --checkpoint: a new sweep starts over"
                                           : ("continue the sweep with --resume " + f_.checkpoint).c_str());
        throw Interrupted{interrupt.signal() ? interrupt.signal() : SIGINT};
    }
    if (chosen < 0) BP_THROW("no model of the sweep trained without a fault: nothing to choose (see the table)");
}

}  // namespace batchprop::cli
