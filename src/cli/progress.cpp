// See progress.hpp.
#include "progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

namespace batchprop::cli {

namespace {

constexpr double kRedrawSeconds = 0.1;  // ~10 Hz: smooth to the eye, negligible cost

// Columns a UTF-8 string takes (one per code point: the CLI prints no wide characters).
int columns(const std::string& s) {
    int n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// "4.2 s", "3 min 05 s", "2 h 07 min": short enough for the live line.
void duration(char* out, std::size_t size, double s) {
    if (!(s >= 0)) s = 0;
    if (s < 60)
        std::snprintf(out, size, "%.1f s", s);
    else if (s < 3600)
        std::snprintf(out, size, "%d min %02d s", int(s) / 60, int(s) % 60);
    else
        std::snprintf(out, size, "%d h %02d min", int(s) / 3600, int(s) / 60 % 60);
}

}  // namespace

std::string duration_text(double seconds) {
    char buf[32];
    duration(buf, sizeof buf, seconds);
    return buf;
}

Progress::Progress(bool quiet, bool lines_to_stderr, int epochs, bool allow_live)
    : quiet_(quiet),
      live_(!quiet && allow_live && ::isatty(STDERR_FILENO)),
      lines_(lines_to_stderr ? stderr : stdout),
      lines_fd_(lines_to_stderr ? STDERR_FILENO : STDOUT_FILENO),
      epochs_(epochs) {}

int Progress::terminal_width(int fd) {
    if (!::isatty(fd)) return 0;
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
    return ws.ws_col;
}

std::string Progress::wrap(const std::string& text, int width) {
    if (width <= 0 || columns(text) < width) return text;
    std::string out, line;
    std::size_t i = 0;
    while (i <= text.size()) {
        const std::size_t sp = std::min(text.find(' ', i), text.size());
        const std::string word = text.substr(i, sp - i);
        if (!line.empty() && columns(line) + 1 + columns(word) >= width) {
            out += line + "\n";
            line = "  " + word;
        } else {
            line += (line.empty() ? "" : " ") + word;
        }
        i = sp + 1;
    }
    return out + line;
}

void Progress::clear() {
    if (!shown_) return;
    std::fputs("\r\033[K", stderr);  // carriage return, erase to the end of the line
    std::fflush(stderr);
    shown_ = false;
}

void Progress::line(const std::string& text) {
    if (quiet()) return;
    clear();
    const std::string out = wrap(text, terminal_width(lines_fd_));
    std::fputs(out.c_str(), lines_);
    std::fputc('\n', lines_);
    std::fflush(lines_);
}

void Progress::draw(const char* text) {
    // Cut to the terminal's width (one column spare, so the cursor never wraps).
    const int width = terminal_width(STDERR_FILENO);
    std::string s = text;
    if (width > 1 && columns(s) > width - 1) {
        std::size_t keep = 0;
        for (int cols = 0; keep < s.size(); ++keep) {
            if ((static_cast<unsigned char>(s[keep]) & 0xC0) != 0x80 && ++cols > width - 1) break;
        }
        s.resize(keep);
    }
    std::fputs("\r\033[K", stderr);
    std::fputs(s.c_str(), stderr);
    std::fflush(stderr);
    shown_ = true;
}

void Progress::status(const std::string& text) {
    if (live_) draw(text.c_str());
}

void Progress::note(const std::string& text) {
    if (quiet()) return;
    clear();
    std::fprintf(stderr, "batchprop: note: %s\n", text.c_str());
    std::fflush(stderr);
}

void Progress::batch(const BatchProgress& p) {
    if (!run_started_) {
        run_started_ = true;
        run_start_ = std::chrono::steady_clock::now();
    }
    if (p.epoch != epoch_) {
        epoch_ = p.epoch;
        next_draw_ = 0.0;  // draw at the first batch of each epoch
    }
    if (p.seconds < next_draw_) return;
    next_draw_ = p.seconds + kRedrawSeconds;
    const double rate = p.seconds > 0 ? double(p.examples_done) / p.seconds : 0.0;
    const double eta = rate > 0 ? double(p.examples_total - p.examples_done) / rate : 0.0;
    const int percent = p.examples_total ? int(100 * p.examples_done / p.examples_total) : 100;
    // The run's time left, from its wall clock so far (evaluation included) and the fraction
    // of all epochs' examples done.
    const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start_).count();
    const double total = double(epochs_) * double(p.examples_total);
    const double done = double(p.epoch - 1) * double(p.examples_total) + double(p.examples_done);
    const double run_left = done > 0 && total > 0 ? run_seconds * (total - done) / done : 0.0;
    char e[32], r[32];
    duration(e, sizeof e, eta);
    duration(r, sizeof r, run_left);
    // Longest first; draw() cuts whatever still does not fit.
    const int width = terminal_width(STDERR_FILENO);
    const bool last = p.epoch == epochs_;
    for (int variant = 0; variant < 3; ++variant) {
        if (variant == 0)
            std::snprintf(buf_, sizeof buf_, "Epoch %d/%d  %3d%%  %lld / %lld examples  %.0f examples/s  ETA %s%s%s",
                          p.epoch, epochs_, percent, p.examples_done, p.examples_total, rate, e,
                          last ? "" : ", run ", last ? "" : r);
        else if (variant == 1)
            std::snprintf(buf_, sizeof buf_, "Epoch %d/%d %3d%% %.0f ex/s ETA %s%s%s", p.epoch, epochs_, percent,
                          rate, e, last ? "" : ", run ", last ? "" : r);
        else
            std::snprintf(buf_, sizeof buf_, "%d/%d %3d%% ETA %s", p.epoch, epochs_, percent, last ? e : r);
        if (width <= 0 || columns(buf_) < width) break;
    }
    draw(buf_);
}

}  // namespace batchprop::cli
