// What `train` shows while it runs: on a terminal, a one-line live display per epoch (examples
// done, examples/s, ETA) redrawn in place, then a summary line per epoch; when stdout is not a
// terminal, the summary lines alone; with --quiet, nothing.
#pragma once

#include <string>

#include "batchprop/trainer.hpp"

namespace batchprop::cli {

class Progress {
public:
    enum class Style { quiet, lines, live };
    static Style style_for(bool quiet);  // live when stdout is a terminal

    Progress(Style style, int epochs) : style_(style), epochs_(epochs) {}
    ~Progress() { clear(); }
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    bool live() const { return style_ == Style::live; }
    bool quiet() const { return style_ == Style::quiet; }

    // A whole line on stdout (nothing when quiet), replacing the live line if one is shown.
    void line(const std::string& text);

    // Called after every mini-batch (live style only), so it must cost next to nothing: it
    // compares the trainer's own elapsed time (BatchProgress::seconds; no clock read here)
    // with the next redraw time, and redraws at most 10 times a second into a fixed buffer.
    void batch(const BatchProgress& p);

    // Removes the live line, if one is shown (before output on stderr, or at the end).
    void clear();

private:
    Style style_;
    int epochs_;
    int epoch_ = 0;            // the epoch the live line belongs to
    double next_draw_ = 0.0;   // seconds into the epoch
    bool shown_ = false;       // a live line is on the screen
    char buf_[200] = {};
};

}  // namespace batchprop::cli
