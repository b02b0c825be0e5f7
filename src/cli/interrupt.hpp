// Ctrl-C (SIGINT) or SIGTERM (`kill`, a job scheduler) during training. The first one sets a
// flag that the trainer checks after every mini-batch (TrainCallbacks::stop), so training
// ends cleanly and the model and checkpoint are still saved; a second one ends the process at
// once, as the signal normally does.
#pragma once

#include <atomic>
#include <csignal>

namespace batchprop::cli {

// Installs the handler for its lifetime (one at a time); the previous handler comes back in
// the destructor, so loading data before and saving after keep the default behaviour. When
// SIGINT (or SIGTERM) is ignored (a background job), it stays ignored.
class InterruptGuard {
public:
    // quiet: the handler sets the flag without a word (a distributed run's other ranks: the
    // launcher passes the signal to every rank, and rank 0 alone says so).
    explicit InterruptGuard(bool quiet = false);
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

    const std::atomic<bool>* flag() const;
    bool interrupted() const { return flag()->load(); }
    int signal() const;  // SIGINT or SIGTERM once interrupted, else 0

private:
    struct sigaction previous_ {}, previous_term_ {};
    bool installed_ = false, term_installed_ = false;
};

}  // namespace batchprop::cli
