// The files a command writes, checked before anything runs: each can be created where it is
// named, no two outputs are the same file, and no output is one of the run's inputs (the same
// path, or the same file through a link): nothing the user had is overwritten or lost.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace batchprop::cli {

// A file the run reads or writes, and how a message calls it ("--save", "--data's training labels").
struct NamedFile {
    std::string path;
    std::string name;
};

// Throws unless a file can be created at `path`: its directory exists and is writable, and
// `path` is not itself a directory. `flag` (e.g. "--save") names the option in the message.
void check_output_path(const std::string& path, const std::string& flag);

// Whether two paths name the same file: the same file on disk (through links too) when both
// exist, else the same place once ".", ".." and links in the folders are resolved.
bool same_file(const std::string& a, const std::string& b);

// Throws when two outputs are the same file, or an output is one of the inputs, unless the pair
// (output name, input name) is in `allowed` (e.g. {"--save", "--init-model"}: fine-tuning a
// model in place). Call check_output_path on each output first.
void check_outputs_apart(const std::vector<NamedFile>& outputs, const std::vector<NamedFile>& inputs,
                         const std::vector<std::pair<std::string, std::string>>& allowed = {});

}  // namespace batchprop::cli
