// See output_file.hpp. POSIX calls rather than std::ofstream: fsync and a rename that either
// happens completely or not at all are what make the replacement safe.
#include "data/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "batchprop/check.hpp"

namespace batchprop {

namespace {

// The directory part of a path ("." for a bare file name), and the name part.
std::string dir_of(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}
std::string name_of(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace


void write_file_atomically(const std::string& path, const std::string& text) {
    if (name_of(path).empty()) BP_THROW(path << ": names a directory, not a file");
    // Same directory as the target: rename(2) is atomic only within one file system.
    std::string tmpl = dir_of(path) + "/." + name_of(path) + ".tmp-XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    const int fd = ::mkstemp(name.data());
    if (fd < 0) BP_THROW(path << ": cannot create a temporary file next to it (" << std::strerror(errno) << ")");
    const std::string tmp(name.data());
    auto fail = [&](const char* what, int err, bool close_fd) {
        if (close_fd) ::close(fd);
        ::unlink(tmp.c_str());
        BP_THROW(path << ": " << what << " (" << std::strerror(err) << "); the file was not changed");
    };

    // mkstemp creates the file 0600; give it the permissions a plain open() would (0666 & ~umask).
    const mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd, 0666 & ~mask) != 0) fail("cannot set permissions", errno, true);
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
        const ssize_t w = ::write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail("write failed", w < 0 ? errno : EIO, true);
        p += w;
        left -= std::size_t(w);
    }
    // Data on disk before the rename: otherwise a crash could leave the new name pointing at
    // an empty file.
    if (::fsync(fd) != 0) fail("cannot flush to disk", errno, true);
    if (::close(fd) != 0) fail("cannot close", errno, false);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot replace", errno, false);
}

}  // namespace batchprop
