// The spellings of enum-valued flags (--cost, --mode, --init) and their conversions, and the
// list-valued flags (--sizes, --monitor), in one place so every command accepts and prints the
// same words.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "batchprop/backprop.hpp"
#include "batchprop/math.hpp"
#include "batchprop/network.hpp"

namespace batchprop::cli {

inline const std::vector<std::string>& cost_names() {
    static const std::vector<std::string> names{"quadratic", "cross-entropy"};
    return names;
}
inline Cost parse_cost(const std::string& s) { return s == "cross-entropy" ? Cost::cross_entropy : Cost::quadratic; }
inline const char* cost_name(Cost c) { return c == Cost::cross_entropy ? "cross-entropy" : "quadratic"; }

inline const std::vector<std::string>& mode_names() {
    static const std::vector<std::string> names{"matrix", "per-example"};
    return names;
}
inline Mode parse_mode(const std::string& s) { return s == "per-example" ? Mode::per_example : Mode::matrix; }
inline const char* mode_name(Mode m) { return m == Mode::per_example ? "per-example" : "matrix"; }

inline const std::vector<std::string>& init_names() {
    static const std::vector<std::string> names{"gaussian", "scaled"};
    return names;
}
inline Init parse_init(const std::string& s) { return s == "scaled" ? Init::scaled : Init::gaussian; }

// List flags are taken as one comma-separated word rather than as CLI11 vectors, so that a
// repeated flag replaces the earlier value (as every other flag does) instead of appending.

// "784,30,10" -> {784, 30, 10}. Throws Error for anything that is not a list of integers;
// sizes < 1 come through for ParamLayout to reject with its own message.
std::vector<int> parse_sizes(const std::string& text);

// "a,b" -> {"a", "b"}, each checked against `allowed`; throws Error (naming `flag` when not
// empty) otherwise.
std::vector<std::string> parse_list(const std::string& text, const std::vector<std::string>& allowed,
                                    const std::string& flag);

// CLI11 validators for the two, so a bad value is a usage error reported while parsing.
CLI::Validator sizes_validator();
CLI::Validator list_validator(std::vector<std::string> allowed);
// A whole number >= 1 (CLI11's PositiveNumber prints its range as a 300-digit double).
CLI::Validator at_least_one();

}  // namespace batchprop::cli
