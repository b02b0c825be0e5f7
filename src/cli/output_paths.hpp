// The files a command writes, checked before anything runs: each can be created where it is
// named, and no two outputs name the same file.
#pragma once

#include <string>

namespace batchprop::cli {

// Throws unless a file can be created at `path`: its directory exists and is writable, and
// `path` is not itself a directory. `flag` (e.g. "--save") names the option in the message.
void check_output_path(const std::string& path, const std::string& flag);

}  // namespace batchprop::cli
