// See interrupt.hpp. The handler does only async-signal-safe things: a lock-free atomic
// exchange, write(2), and signal(2) + raise(2) to die the default way on a second Ctrl-C.
#include "cli/interrupt.hpp"

#include <unistd.h>

#include <cstring>

namespace batchprop::cli {

namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler needs a lock-free flag");

extern "C" void on_sigint(int) {
    if (g_stop.exchange(true)) {
        std::signal(SIGINT, SIG_DFL);  // second Ctrl-C: terminate now, by SIGINT
        std::raise(SIGINT);
        return;
    }
    static const char msg[] =
        "\nbatchprop: interrupted; stopping after this mini-batch (Ctrl-C again to quit at once)\n";
    const ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
}

}  // namespace

InterruptGuard::InterruptGuard() {
    g_stop.store(false);
    sigaction(SIGINT, nullptr, &previous_);
    // An ignored SIGINT stays ignored: that is how a shell runs background jobs (and nohup),
    // and a Ctrl-C meant for the foreground must not stop them.
    if (previous_.sa_handler == SIG_IGN) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // let read/write in progress complete rather than fail with EINTR
    sigaction(SIGINT, &sa, nullptr);
    installed_ = true;
}

InterruptGuard::~InterruptGuard() {
    if (installed_) sigaction(SIGINT, &previous_, nullptr);
}

const std::atomic<bool>* InterruptGuard::flag() const { return &g_stop; }

}  // namespace batchprop::cli
