// Writing output files safely: replacing a file atomically, so a failed or interrupted write
// never leaves a half-written file where a good one was. (The CLI checks up front that its
// outputs can be written: src/cli/output_paths.hpp.)
#pragma once

#include <string>

namespace batchprop {

// Writes `text` to a temporary file next to `path`, flushes it to disk and renames it over
// `path`. On any failure the temporary file is removed, `path` is left as it was, and an
// Error naming `path` is thrown.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace batchprop
