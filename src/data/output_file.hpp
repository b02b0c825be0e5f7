// Writing output files safely: checking up front that a path can be written (so a long run
// does not fail at the end), and replacing a file atomically (so a failed or interrupted write
// never leaves a half-written file where a good one was).
#pragma once

#include <string>

namespace batchprop {

// Throws unless a file can be created at `path`: its directory exists and is writable, and
// `path` is not itself a directory. `flag` (e.g. "--save") names the option in the message.
void check_output_path(const std::string& path, const std::string& flag);

// Writes `text` to a temporary file next to `path`, flushes it to disk and renames it over
// `path`. On any failure the temporary file is removed, `path` is left as it was, and an
// Error naming `path` is thrown.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace batchprop
