// See output_paths.hpp.
#include "output_paths.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "batchprop/check.hpp"

namespace batchprop::cli {

void check_output_path(const std::string& path, const std::string& flag) {
    if (path.empty()) BP_THROW(flag << ": empty file name");
    const std::filesystem::path p(path);
    if (p.filename().empty()) BP_THROW(flag << " " << path << ": names a directory, not a file");
    const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        BP_THROW(flag << " " << path << ": directory " << dir << " does not exist (" << std::strerror(errno) << ")");
    if (!S_ISDIR(st.st_mode)) BP_THROW(flag << " " << path << ": " << dir << " is not a directory");
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        BP_THROW(flag << " " << path << ": cannot write into directory " << dir << " (" << std::strerror(errno) << ")");
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        BP_THROW(flag << " " << path << ": is a directory, not a file");
}

}  // namespace batchprop::cli
