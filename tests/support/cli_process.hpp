// The batchprop executable run as a child process, for the tests that drive the CLI
// (test_cli, test_resume): start it with its output in files (or on a terminal), wait for it,
// read what it wrote. BATCHPROP_CLI names the executable (a compile definition).
#pragma once

#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#ifndef BATCHPROP_CLI
#error "BATCHPROP_CLI must name the batchprop executable"
#endif

extern char** environ;

namespace bptest {

using Args = std::vector<std::string>;

struct Result {
    int code = -1;       // exit status, or -1 when killed by a signal
    int signal = 0;      // the signal that ended it, if any
    std::string out, err;
};

inline std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Starts the CLI with stdout and stderr going to files; returns its pid.
inline pid_t spawn(const Args& args, const std::string& out, const std::string& err, int stdout_fd = -1, int stderr_fd = -1) {
    std::vector<std::string> argv_s{BATCHPROP_CLI};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (stdout_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (stderr_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stderr_fd, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // SIGINT and SIGTERM at their defaults in the child, even when the test runs as a
    // background job (which the CLI, like any program, would then leave ignored).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t dflt;
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "cannot start " << BATCHPROP_CLI;
    return pid;
}

inline Result finish(pid_t pid, const std::string& out, const std::string& err) {
    Result r;
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) r.code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

inline bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace bptest
