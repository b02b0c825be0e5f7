// Ctrl-C during training. The first SIGINT sets a flag that the trainer checks after every
// mini-batch (TrainCallbacks::stop), so training ends cleanly and the model is still saved;
// a second SIGINT ends the process at once, as Ctrl-C normally does.
#pragma once

#include <atomic>
#include <csignal>

namespace batchprop::cli {

// Installs the handler for its lifetime (one at a time); the previous handler comes back in
// the destructor, so loading data before and saving after keep the default behaviour. When
// SIGINT is ignored (a background job), it stays ignored.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

    const std::atomic<bool>* flag() const;
    bool interrupted() const { return flag()->load(); }

private:
    struct sigaction previous_ {};
    bool installed_ = false;
};

}  // namespace batchprop::cli
