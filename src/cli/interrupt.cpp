// See interrupt.hpp. The handler does only async-signal-safe things: lock-free atomic
// operations, write(2), and signal(2) + raise(2) to die the default way on a second signal.
#include "interrupt.hpp"

#include <unistd.h>

#include <cstring>

namespace batchprop::cli {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};  // the first signal that set g_stop
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void on_stop_signal(int sig) {
    if (g_stop.exchange(true)) {
        std::signal(sig, SIG_DFL);  // a second Ctrl-C (or SIGTERM): terminate now, by that signal
        std::raise(sig);
        return;
    }
    g_signal.store(sig);
    static const char int_msg[] =
        "\nbatchprop: interrupted; stopping after this mini-batch (Ctrl-C again to quit at once)\n";
    static const char term_msg[] = "\nbatchprop: terminated (SIGTERM); stopping after this mini-batch\n";
    const ssize_t ignored = sig == SIGTERM ? ::write(STDERR_FILENO, term_msg, sizeof term_msg - 1)
                                           : ::write(STDERR_FILENO, int_msg, sizeof int_msg - 1);
    (void)ignored;
}

// Installs the handler for sig unless sig is ignored; returns whether it did.
bool install(int sig, struct sigaction& previous) {
    sigaction(sig, nullptr, &previous);
    // An ignored signal stays ignored: that is how a shell runs background jobs (and nohup),
    // and a Ctrl-C meant for the foreground must not stop them.
    if (previous.sa_handler == SIG_IGN) return false;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // let read/write in progress complete rather than fail with EINTR
    sigaction(sig, &sa, nullptr);
    return true;
}

}  // namespace

InterruptGuard::InterruptGuard() {
    g_stop.store(false);
    g_signal.store(0);
    installed_ = install(SIGINT, previous_);
    term_installed_ = install(SIGTERM, previous_term_);
}

InterruptGuard::~InterruptGuard() {
    if (installed_) sigaction(SIGINT, &previous_, nullptr);
    if (term_installed_) sigaction(SIGTERM, &previous_term_, nullptr);
}

int InterruptGuard::signal() const { return g_signal.load(); }

const std::atomic<bool>* InterruptGuard::flag() const { return &g_stop; }

}  // namespace batchprop::cli
