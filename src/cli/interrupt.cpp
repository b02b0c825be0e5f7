// See interrupt.hpp. The handler does only async-signal-safe things: lock-free atomic
// operations, write(2), and signal(2) + raise(2) to die the default way on a second signal.
#include "interrupt.hpp"

#include <unistd.h>

#include <cstring>

namespace batchprop::cli {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};  // the first signal that set g_stop
std::atomic<bool> g_quiet{false};  // set no message
std::atomic<bool> g_tty{false};    // stderr is a terminal (a live line may be on it)
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void on_stop_signal(int sig) {
    if (g_stop.exchange(true)) {
        std::signal(sig, SIG_DFL);  // a second Ctrl-C (or SIGTERM): terminate now, by that signal
        std::raise(sig);
        return;
    }
    g_signal.store(sig);
    if (g_quiet.load()) return;
    // On a terminal the live progress line (and the "^C" the terminal echoed after it) is
    // erased first, so no half-drawn line is left above the message; elsewhere a line break.
    static const char erase[] = "\r\033[K";
    static const char int_msg[] =
        "\nbatchprop: interrupted; stopping after this mini-batch (Ctrl-C again to quit at once)\n";
    static const char term_msg[] = "\nbatchprop: terminated (SIGTERM); stopping after this mini-batch\n";
    const char* msg = sig == SIGTERM ? term_msg : int_msg;
    const std::size_t len = sig == SIGTERM ? sizeof term_msg - 1 : sizeof int_msg - 1;
    ssize_t ignored = 0;
    if (g_tty.load()) ignored = ::write(STDERR_FILENO, erase, sizeof erase - 1);
    ignored = g_tty.load() ? ::write(STDERR_FILENO, msg + 1, len - 1) : ::write(STDERR_FILENO, msg, len);
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

InterruptGuard::InterruptGuard(bool quiet) {
    g_quiet.store(quiet);
    g_tty.store(::isatty(STDERR_FILENO) != 0);
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
