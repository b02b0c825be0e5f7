// The values of flags: choices read through the library's one table of spellings
// (settings.hpp), settings named by their flags in messages, and the list-valued flags
// (--sizes, --monitor), in one place so every command accepts and prints the same words.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "batchprop/settings.hpp"

namespace batchprop::cli {

// How the CLI names a setting in a message: by its flag ("--eta"); settings.hpp's
// SettingError renders through this, so the library's words never need rewriting here.
std::string flag_for(Setting setting);
std::string flag_message(const SettingError& e);  // e.message(flag_for)
// A SettingError's detail without its leading ": " (CLI11 writes the flag and its own).
std::string without_separator(const std::string& detail);

// A flag whose value is one word of a choice's table (settings.hpp: cost, mode, init, launch,
// dtype), read straight into `target`, whose value is the default shown in --help. A word not
// in the table is a usage error naming the allowed words and the nearest one.
template <class E>
CLI::Option* add_choice_option(CLI::App& cmd, const std::string& flag, E& target, const std::string& help) {
    std::string list;
    for (const std::string& w : names<E>()) list += (list.empty() ? "" : ",") + w;
    return cmd.add_option_function<std::string>(flag, [&target](const std::string& s) { target = parse<E>(s); }, help)
        ->check(CLI::Validator(
            [](std::string& s) {
                try {
                    parse<E>(s);
                    return std::string();
                } catch (const SettingError& e) {
                    return without_separator(e.detail(flag_for));  // CLI11 puts "--flag: " in front
                }
            },
            "{" + list + "}"))
        ->type_name("TEXT")
        ->default_str(to_string(target));
}
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
