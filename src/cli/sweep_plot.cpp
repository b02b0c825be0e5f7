// See sweep_plot.hpp.
#include "sweep_plot.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace batchprop::cli {

namespace {

constexpr double kWidth = 760, kHeight = 480;
constexpr double kLeft = 70, kRight = 220, kTop = 50, kBottom = 60;  // margins; the legend on the right
const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '&') out += "&amp;";
        else out += c;
    }
    return out;
}

// A line of the plot: the settings it joins share everything but eta.
using SeriesKey = std::tuple<double, std::vector<int>, int>;  // lambda, sizes, m

struct Axes {
    bool log_x = false;
    double x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // data range (x in log10 when log_x)
    double x(double eta) const {
        const double v = log_x ? std::log10(eta) : eta;
        return kLeft + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * (kWidth - kLeft - kRight);
    }
    double y(double acc) const { return kTop + (y1 - acc) / (y1 - y0) * (kHeight - kTop - kBottom); }
};

Axes axes_for(const std::vector<const SettingSpread*>& shown) {
    Axes a;
    double emin = 1e300, emax = -1e300, lo = 1.0, hi = 0.0;
    for (const SettingSpread* s : shown) {
        emin = std::min(emin, s->eta), emax = std::max(emax, s->eta);
        lo = std::min(lo, s->min), hi = std::max(hi, s->max);
    }
    a.log_x = emin > 0 && emax / emin > 3.0;
    a.x0 = a.log_x ? std::log10(emin) : emin;
    a.x1 = a.log_x ? std::log10(emax) : emax;
    const double pad_x = (a.x1 - a.x0) * 0.08 + (a.x1 == a.x0 ? 0.5 : 0.0);
    a.x0 -= pad_x, a.x1 += pad_x;
    // Accuracy in percent points, padded, on whole 5-point steps where they fit.
    const double pad_y = std::max(0.005, (hi - lo) * 0.1);
    a.y0 = std::max(0.0, std::floor((lo - pad_y) * 20) / 20);
    a.y1 = std::min(1.0, std::ceil((hi + pad_y) * 20) / 20);
    if (a.y1 <= a.y0) a.y1 = a.y0 + 0.05;
    return a;
}

std::string grid_and_ticks(const Axes& a, const std::vector<double>& etas) {
    std::string g;
    const double step = (a.y1 - a.y0) > 0.3 ? 0.1 : (a.y1 - a.y0) > 0.1 ? 0.05 : 0.01;
    for (double v = std::ceil(a.y0 / step - 1e-9) * step; v <= a.y1 + 1e-9; v += step)
        g += fmt::format("<line x1='{:.1f}' y1='{:.1f}' x2='{:.1f}' y2='{:.1f}' stroke='#ddd'/>"
                         "<text x='{:.1f}' y='{:.1f}' text-anchor='end' font-size='12'>{:g}%</text>\n",
                         kLeft, a.y(v), kWidth - kRight, a.y(v), kLeft - 6, a.y(v) + 4, std::round(v * 1000) / 10);
    for (double e : etas)
        g += fmt::format("<line x1='{:.1f}' y1='{:.1f}' x2='{:.1f}' y2='{:.1f}' stroke='#999'/>"
                         "<text x='{:.1f}' y='{:.1f}' text-anchor='middle' font-size='12'>{:g}</text>\n",
                         a.x(e), kHeight - kBottom, a.x(e), kHeight - kBottom + 5, a.x(e), kHeight - kBottom + 20, e);
    g += fmt::format("<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='none' stroke='#333'/>\n", kLeft,
                     kTop, kWidth - kLeft - kRight, kHeight - kTop - kBottom);
    g += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='middle' font-size='13'>learning rate eta{}</text>\n",
                     (kLeft + kWidth - kRight) / 2, kHeight - 18, a.log_x ? " (log scale)" : "");
    g += fmt::format("<text x='18' y='{:.1f}' text-anchor='middle' font-size='13' transform='rotate(-90 18 {:.1f})'>"
                     "best validation accuracy</text>\n",
                     (kTop + kHeight - kBottom) / 2, (kTop + kHeight - kBottom) / 2);
    return g;
}

}  // namespace

std::string sweep_svg(const std::vector<SettingSpread>& spreads, const std::string& title) {
    std::vector<const SettingSpread*> shown;
    for (const SettingSpread& s : spreads)
        if (s.counted > 0) shown.push_back(&s);
    std::map<SeriesKey, std::vector<const SettingSpread*>> series;
    std::vector<double> etas;
    for (const SettingSpread* s : shown) {
        series[{s->lambda, s->sizes, s->batch}].push_back(s);
        if (std::find(etas.begin(), etas.end(), s->eta) == etas.end()) etas.push_back(s->eta);
    }
    std::string svg = fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{:g}' height='{:g}' "
                                  "font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n",
                                  kWidth, kHeight);
    const int left_out = int(spreads.size() - shown.size());
    svg += fmt::format("<text x='{:.1f}' y='24' text-anchor='middle' font-size='14'>{}</text>\n", kWidth / 2,
                       escaped(title + (left_out ? fmt::format(" ({} setting{} with no usable model left out)",
                                                              left_out, left_out == 1 ? "" : "s")
                                                 : "")));
    if (shown.empty()) return svg + "</svg>\n";
    const Axes a = axes_for(shown);
    svg += grid_and_ticks(a, etas);
    // Which parts of the key vary, so the legend names only those.
    const bool sizes_vary = std::any_of(shown.begin(), shown.end(), [&](auto* s) { return s->sizes != shown[0]->sizes; });
    const bool m_vary = std::any_of(shown.begin(), shown.end(), [&](auto* s) { return s->batch != shown[0]->batch; });
    int k = 0;
    const double n_series = double(series.size());
    for (auto& [key, points] : series) {
        std::sort(points.begin(), points.end(), [](auto* p, auto* q) { return p->eta < q->eta; });
        const char* colour = kColours[k % (sizeof kColours / sizeof kColours[0])];
        // Series side by side at each eta, a few pixels apart, so their bars do not hide each other.
        const double dodge = (k - (n_series - 1) / 2) * 5;
        std::string path;
        for (const SettingSpread* p : points) {
            const double x = a.x(p->eta) + dodge;
            path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "" : " ", x, a.y(p->mean));
            if (p->counted > 1)  // the spread over seeds: lowest to highest, with caps
                svg += fmt::format("<path d='M{0:.1f},{1:.1f} V{2:.1f} M{3:.1f},{1:.1f} H{4:.1f} M{3:.1f},{2:.1f} H{4:.1f}' "
                                   "stroke='{5}' fill='none'/>\n",
                                   x, a.y(p->min), a.y(p->max), x - 4, x + 4, colour);
            svg += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='3.5' fill='{}'><title>eta {:g}: mean {:.2f}% over {} "
                               "seed(s), {:.2f}% to {:.2f}%</title></circle>\n",
                               x, a.y(p->mean), colour, p->eta, 100 * p->mean, p->counted, 100 * p->min, 100 * p->max);
        }
        svg += fmt::format("<polyline points='{}' stroke='{}' fill='none' stroke-width='1.5'/>\n", path, colour);
        std::string label = fmt::format("lambda {:g}", std::get<0>(key));
        if (sizes_vary) label += " " + sizes_to_string(std::get<1>(key));
        if (m_vary) label += fmt::format(" m {}", std::get<2>(key));
        const double ly = kTop + 10 + 20 * k;
        svg += fmt::format("<line x1='{:.1f}' y1='{:.1f}' x2='{:.1f}' y2='{:.1f}' stroke='{}' stroke-width='2'/>"
                           "<text x='{:.1f}' y='{:.1f}' font-size='12'>{}</text>\n",
                           kWidth - kRight + 15, ly, kWidth - kRight + 35, ly, colour, kWidth - kRight + 40, ly + 4,
                           escaped(label));
        ++k;
    }
    svg += fmt::format("<text x='{:.1f}' y='{:.1f}' font-size='11' fill='#555'>points: mean over seeds;</text>"
                       "<text x='{:.1f}' y='{:.1f}' font-size='11' fill='#555'>bars: lowest to highest</text>\n",
                       kWidth - kRight + 15, kTop + 20 + 20 * k, kWidth - kRight + 15, kTop + 34 + 20 * k);
    return svg + "</svg>\n";
}

}  // namespace batchprop::cli
