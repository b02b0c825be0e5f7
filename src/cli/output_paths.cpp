// See output_paths.hpp.
#include "output_paths.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

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

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa {}, sb {};
    if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    std::error_code ea, eb;
    const std::filesystem::path ca = std::filesystem::weakly_canonical(a, ea), cb = std::filesystem::weakly_canonical(b, eb);
    return ea || eb ? a == b : ca == cb;
}

void check_outputs_apart(const std::vector<NamedFile>& outputs, const std::vector<NamedFile>& inputs,
                         const std::vector<std::pair<std::string, std::string>>& allowed) {
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        const NamedFile& out = outputs[i];
        for (std::size_t j = 0; j < i; ++j)
            if (same_file(out.path, outputs[j].path))
                BP_THROW(outputs[j].name << " and " << out.name << " name the same file " << out.path);
        for (const NamedFile& in : inputs) {
            if (!same_file(out.path, in.path)) continue;
            if (std::find(allowed.begin(), allowed.end(), std::pair{out.name, in.name}) != allowed.end()) continue;
            BP_THROW(out.name << " " << out.path << " is " << in.name << (in.path == out.path ? "" : " " + in.path)
                              << ", which the run reads: writing it would destroy the input (name another file)");
        }
    }
}

}  // namespace batchprop::cli
