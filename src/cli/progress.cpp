// See progress.hpp.
#include "cli/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace batchprop::cli {

namespace {
constexpr double kRedrawSeconds = 0.1;  // ~10 Hz: smooth to the eye, negligible cost
}

Progress::Style Progress::style_for(bool quiet) {
    if (quiet) return Style::quiet;
    return ::isatty(STDOUT_FILENO) ? Style::live : Style::lines;
}

void Progress::clear() {
    if (!shown_) return;
    std::fputs("\r\033[K", stdout);  // carriage return, erase to the end of the line
    std::fflush(stdout);
    shown_ = false;
}

void Progress::line(const std::string& text) {
    if (quiet()) return;
    clear();
    std::fputs(text.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void Progress::batch(const BatchProgress& p) {
    if (p.epoch != epoch_) {
        epoch_ = p.epoch;
        next_draw_ = 0.0;  // draw at the first batch of each epoch
    }
    if (p.seconds < next_draw_) return;
    next_draw_ = p.seconds + kRedrawSeconds;
    const double rate = p.seconds > 0 ? double(p.examples_done) / p.seconds : 0.0;
    const double eta = rate > 0 ? double(p.examples_total - p.examples_done) / rate : 0.0;
    const int percent = p.examples_total ? int(100 * p.examples_done / p.examples_total) : 100;
    // snprintf into a member buffer: no allocation on this per-batch path.
    std::snprintf(buf_, sizeof buf_, "\r\033[KEpoch %d/%d  %3d%%  %lld / %lld examples  %.0f examples/s  ETA %.1f s",
                  p.epoch, epochs_, percent, p.examples_done, p.examples_total, rate, eta);
    std::fputs(buf_, stdout);
    std::fflush(stdout);
    shown_ = true;
}

}  // namespace batchprop::cli
