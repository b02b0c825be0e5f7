// What `train` shows while it runs. Summary lines (the header, one per epoch, the end of the
// run) go to stdout, or to stderr when stdout carries the metrics (--metrics -). When stderr is
// a terminal, a live status line is drawn there as well and redrawn in place, as tqdm does, so
// `train | tee log` still shows progress: "loading the data" while the files are read, then per
// epoch the examples done, examples/s and the time left for the epoch and the run, cut to the
// terminal's width. On a terminal, summary lines are wrapped at word boundaries to its width;
// into a file or a pipe each stays one line (scripts parse them). With --quiet, nothing.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "batchprop/trainer.hpp"

namespace batchprop::cli {

// "4.2 s", "3 min 05 s", "2 h 07 min": a duration as the live line shows it.
std::string duration_text(double seconds);

class Progress {
public:
    // quiet: nothing at all. lines_to_stderr: summary lines on stderr (stdout is data).
    // allow_live false: summary lines only, never a live line (a distributed run: a launcher
    // such as Open MPI's mpirun hands rank 0 a pseudo-terminal even when its own output goes
    // to a file, so a live line would end up there).
    Progress(bool quiet, bool lines_to_stderr, int epochs, bool allow_live = true);
    ~Progress() { clear(); }
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    bool live() const { return live_; }
    bool quiet() const { return quiet_; }

    // A whole summary line (nothing when quiet), replacing the live line if one is shown.
    void line(const std::string& text);

    // A short status on the live line ("loading the data ..."); nothing unless live.
    void status(const std::string& text);

    // A note on stderr that does not stop the run (a setting adjusted, a choice made for the
    // user): "batchprop: note: ..."; nothing when quiet.
    void note(const std::string& text);

    // Called after every mini-batch (live only), so it must cost next to nothing: it compares
    // the trainer's own elapsed time (BatchProgress::seconds; no clock read here) with the next
    // redraw time, and redraws at most 10 times a second into a fixed buffer.
    void batch(const BatchProgress& p);

    // Removes the live line, if one is shown (before other output, and at the end).
    void clear();

    // Columns of the terminal on fd (0 when fd is not a terminal).
    static int terminal_width(int fd);
    // text wrapped at spaces to `width` columns (UTF-8 aware), continuation lines indented by
    // two spaces; unchanged when width is 0 or the text fits.
    static std::string wrap(const std::string& text, int width);

private:
    void draw(const char* text);
    bool quiet_;
    bool live_;               // stderr is a terminal: draw the live line there
    std::FILE* lines_;        // where summary lines go
    int lines_fd_;
    int epochs_;
    int epoch_ = 0;           // the epoch the live line belongs to
    double next_draw_ = 0.0;  // seconds into the epoch
    bool shown_ = false;      // a live line is on the screen
    bool run_started_ = false;
    std::chrono::steady_clock::time_point run_start_;
    char buf_[512] = {};
};

}  // namespace batchprop::cli
