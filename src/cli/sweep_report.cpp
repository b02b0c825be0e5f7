// See sweep_report.hpp.
#include "sweep_report.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "progress.hpp"

namespace batchprop::cli {

SweepRow SweepRow::of(const SweepModel& m) {
    SweepRow r;
    r.id = m.id;
    r.setting = m.setting;
    r.sizes = m.sizes;
    r.eta = m.config.eta;
    r.lambda = m.config.lambda;
    r.batch = m.config.batch;
    r.seed = m.config.seed;
    r.epochs = m.config.epochs;
    return r;
}

void SweepRow::note_epoch(const EpochResult& r, long long n_train) {
    if (r.examples == n_train) epochs_done = r.epoch;
    if (!r.evaluation) return;
    eval_total = r.evaluation->total;
    if (r.evaluation->correct > best_correct) {
        best_correct = r.evaluation->correct;
        best_cost = r.evaluation->cost;
        best_epoch = r.epoch;
    }
}

std::vector<int> ranking(const std::vector<SweepRow>& rows) {
    std::vector<int> order(rows.size());
    std::iota(order.begin(), order.end(), 0);
    auto ranked = [&](const SweepRow& r) { return r.usable() && r.best_epoch > 0; };
    std::stable_sort(order.begin(), order.end(), [&](int ia, int ib) {
        const SweepRow &a = rows[std::size_t(ia)], &b = rows[std::size_t(ib)];
        if (ranked(a) != ranked(b)) return ranked(a);
        if (!ranked(a)) return a.id < b.id;
        if (a.best_accuracy() != b.best_accuracy()) return a.best_accuracy() > b.best_accuracy();
        if (a.best_cost != b.best_cost) return a.best_cost < b.best_cost;
        return a.id < b.id;
    });
    return order;
}

std::string status_text(const SweepRow& r) {
    switch (r.status) {
        case SweepStatus::pending: return r.epochs_done > 0 ? "stopped after epoch " + std::to_string(r.epochs_done) : "not trained";
        case SweepStatus::done:
            return r.early_stopped ? "early stop (kept " + std::to_string(r.saved_epoch) + ")" : "done";
        case SweepStatus::stopped: return "stopped in epoch " + std::to_string(r.epochs_done + 1);
        case SweepStatus::diverged: return "diverged in epoch " + std::to_string(r.failed_epoch);
        case SweepStatus::failed: return "failed in epoch " + std::to_string(r.failed_epoch);
    }
    return "?";
}

namespace {

std::string percent(double fraction) { return fmt::format("{:.2f}%", 100.0 * fraction); }

// Columns padded to their widest cell; numbers right-aligned, text left.
std::string columns(const std::vector<std::vector<std::string>>& cells, const std::vector<bool>& right) {
    std::vector<std::size_t> width(cells.front().size(), 0);
    for (const auto& row : cells)
        for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    std::string out;
    for (const auto& row : cells) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c) {
            const std::string pad(width[c] - row[c].size(), ' ');
            line += (c ? "  " : "") + (right[c] ? pad + row[c] : row[c] + pad);
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

std::string number(double v) { return fmt::format("{:g}", v); }

}  // namespace

std::string table_text(const std::vector<SweepRow>& rows, const std::vector<int>& order, bool show_test) {
    std::vector<std::vector<std::string>> cells{{"rank", "run", "sizes", "eta", "lambda", "m", "seed", "best epoch",
                                                 "val accuracy", "val cost", "epochs", "time"}};
    std::vector<bool> right{true, true, false, true, true, true, true, true, true, true, true, true};
    if (show_test) cells[0].push_back("test accuracy"), right.push_back(true);
    cells[0].push_back("status"), right.push_back(false);
    int rank = 0;
    for (int i : order) {
        const SweepRow& r = rows[std::size_t(i)];
        const bool best = r.best_epoch > 0;
        std::vector<std::string> c{r.usable() && best ? std::to_string(++rank) : "-",
                                   std::to_string(r.id),
                                   sizes_to_string(r.sizes),
                                   number(r.eta),
                                   number(r.lambda),
                                   std::to_string(r.batch),
                                   std::to_string(r.seed),
                                   best ? std::to_string(r.best_epoch) : "-",
                                   best ? percent(r.best_accuracy()) : "-",
                                   best ? fmt::format("{:.4f}", r.best_cost) : "-",
                                   std::to_string(r.epochs_done) + "/" + std::to_string(r.epochs),
                                   duration_text(r.seconds)};
        if (show_test) c.push_back(r.test_accuracy ? percent(*r.test_accuracy) : "");
        c.push_back(status_text(r));
        cells.push_back(std::move(c));
    }
    return columns(cells, right);
}

std::vector<SettingSpread> spreads(const std::vector<SweepRow>& rows) {
    std::map<int, SettingSpread> by;
    std::map<int, std::vector<double>> acc;
    for (const SweepRow& r : rows) {
        SettingSpread& s = by[r.setting];
        s.setting = r.setting;
        s.sizes = r.sizes;
        s.eta = r.eta;
        s.lambda = r.lambda;
        s.batch = r.batch;
        ++s.seeds;
        if (r.usable() && r.best_epoch > 0) acc[r.setting].push_back(r.best_accuracy());
    }
    std::vector<SettingSpread> out;
    for (auto& [id, s] : by) {
        const std::vector<double>& a = acc[id];
        s.counted = int(a.size());
        if (!a.empty()) {
            s.mean = std::accumulate(a.begin(), a.end(), 0.0) / double(a.size());
            double ss = 0.0;
            for (double x : a) ss += (x - s.mean) * (x - s.mean);
            s.sd = a.size() > 1 ? std::sqrt(ss / double(a.size() - 1)) : 0.0;
            s.min = *std::min_element(a.begin(), a.end());
            s.max = *std::max_element(a.begin(), a.end());
        }
        out.push_back(s);
    }
    return out;
}

std::string spread_text(const std::vector<SettingSpread>& spread) {
    std::vector<std::vector<std::string>> cells{
        {"sizes", "eta", "lambda", "m", "seeds", "mean val accuracy", "sd", "min", "max"}};
    const std::vector<bool> right{false, true, true, true, true, true, true, true, true};
    std::vector<SettingSpread> sorted = spread;
    std::stable_sort(sorted.begin(), sorted.end(), [](const SettingSpread& a, const SettingSpread& b) {
        if ((a.counted > 0) != (b.counted > 0)) return a.counted > 0;
        return a.mean > b.mean;
    });
    for (const SettingSpread& s : sorted) {
        const bool any = s.counted > 0;
        cells.push_back({sizes_to_string(s.sizes), number(s.eta), number(s.lambda), std::to_string(s.batch),
                         s.counted == s.seeds ? std::to_string(s.seeds)
                                              : std::to_string(s.counted) + " of " + std::to_string(s.seeds),
                         any ? percent(s.mean) : "-", any ? fmt::format("{:.2f}", 100.0 * s.sd) : "-",
                         any ? percent(s.min) : "-", any ? percent(s.max) : "-"});
    }
    return columns(cells, right);
}

namespace {
template <class V>
std::string axis(const char* name, const std::vector<V>& values, const std::string& text) {
    return std::string(name) + " " + text + (values.size() > 1 ? " (" + std::to_string(values.size()) + ")" : "");
}
std::string seeds_text(const std::vector<std::uint64_t>& s) {
    bool consecutive = s.size() > 2;
    for (std::size_t i = 1; i < s.size() && consecutive; ++i) consecutive = s[i] == s[i - 1] + 1;
    if (consecutive) return std::to_string(s.front()) + "-" + std::to_string(s.back());
    std::string t;
    for (std::size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + std::to_string(s[i]);
    return t;
}
template <class V>
std::string list(const std::vector<V>& v) {
    std::string t;
    for (std::size_t i = 0; i < v.size(); ++i) t += (i ? "," : "") + number(double(v[i]));
    return t;
}
}  // namespace

std::string grid_line(const SweepGrid& g, long long n_models) {
    std::string sizes;
    for (std::size_t i = 0; i < g.sizes.size(); ++i) sizes += (i ? ":" : "") + sizes_to_string(g.sizes[i]);
    return fmt::format("{} model{}: {} x {} x {} x {} x {}", n_models, n_models == 1 ? "" : "s",
                       axis("sizes", g.sizes, sizes), axis("eta", g.eta, list(g.eta)),
                       axis("lambda", g.lambda, list(g.lambda)), axis("m", g.batch, list(g.batch)),
                       axis("seeds", g.seeds, seeds_text(g.seeds)));
}

double SweepTally::eta_seconds() const {
    return work_done > 0 && work_total > work_done ? seconds * (work_total - work_done) / work_done : 0.0;
}

std::string progress_text(const SweepTally& t) {
    return fmt::format("{}/{} models done, {} training, {}/{} epochs, ETA {}", t.finished, t.models, t.running,
                       t.epochs_done, t.epochs_total, t.work_done > 0 ? duration_text(t.eta_seconds()) : "?");
}

std::string model_line(const SweepRow& r) {
    std::string s = fmt::format("run {} ({} eta {} lambda {} m {} seed {}): ", r.id, sizes_to_string(r.sizes),
                                number(r.eta), number(r.lambda), r.batch, r.seed);
    if (r.status == SweepStatus::diverged || r.status == SweepStatus::failed) s += status_text(r);
    else if (r.best_epoch > 0)
        s += fmt::format("best validation accuracy {} at epoch {}", percent(r.best_accuracy()), r.best_epoch);
    else
        s += "no epoch evaluated";
    s += fmt::format(", {} epoch{} in {}", r.epochs_done, r.epochs_done == 1 ? "" : "s", duration_text(r.seconds));
    if (r.early_stopped) s += ", early stop";
    if (r.status == SweepStatus::stopped) s += ", stopped";
    return s;
}

}  // namespace batchprop::cli
