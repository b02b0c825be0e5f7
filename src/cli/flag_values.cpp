// See flag_values.hpp.
#include "flag_values.hpp"

#include <charconv>
#include <limits>

#include "batchprop/check.hpp"

namespace batchprop::cli {

namespace {

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = text.find(',', start);
        std::string p = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const std::size_t a = p.find_first_not_of(" \t"), b = p.find_last_not_of(" \t");
        parts.push_back(a == std::string::npos ? "" : p.substr(a, b - a + 1));
        if (comma == std::string::npos) return parts;
        start = comma + 1;
    }
}

// A validator from a function that throws Error: CLI11 wants the message returned instead.
CLI::Validator validator_from(std::function<void(const std::string&)> check, const std::string& name) {
    return CLI::Validator(
        [check](std::string& s) {
            try {
                check(s);
                return std::string();
            } catch (const Error& e) {
                return std::string(e.what());
            }
        },
        name);
}

}  // namespace

std::string flag_for(Setting setting) {
    switch (setting) {
        case Setting::batch: return "--batch";
        case Setting::first_epoch: return "the first epoch";  // the checkpoint's (--resume)
        case Setting::segment_steps: return "segment_steps";  // no flag: the library's own choice
        default: return std::string("--") + setting_name(setting);
    }
}

std::string flag_message(const SettingError& e) { return e.message(flag_for); }

std::string without_separator(const std::string& detail) {
    return detail.rfind(": ", 0) == 0 ? detail.substr(2) : detail;
}

std::vector<int> parse_sizes(const std::string& text) {
    std::vector<int> sizes;
    for (const std::string& p : split(text)) {
        long long v = 0;
        const auto r = std::from_chars(p.data(), p.data() + p.size(), v);
        if (p.empty() || r.ec != std::errc() || r.ptr != p.data() + p.size() || v > std::numeric_limits<int>::max() ||
            v < std::numeric_limits<int>::min())
            BP_THROW("'" << text << "' is not a comma-separated list of layer sizes (e.g. 784,30,10)");
        sizes.push_back(int(v));
    }
    return sizes;
}

std::vector<std::string> parse_list(const std::string& text, const std::vector<std::string>& allowed,
                                    const std::string& flag) {
    std::vector<std::string> words = split(text);
    for (const std::string& w : words)
        if (std::find(allowed.begin(), allowed.end(), w) == allowed.end()) {
            std::string all;
            for (const std::string& a : allowed) all += (all.empty() ? "" : ", ") + a;
            BP_THROW((flag.empty() ? "" : flag + ": ") << "'" << w << "' is not one of " << all);
        }
    return words;
}

CLI::Validator sizes_validator() {
    return validator_from([](const std::string& s) { parse_sizes(s); }, "");
}

CLI::Validator list_validator(std::vector<std::string> allowed) {
    // No flag in the message: CLI11 puts it in front already.
    return validator_from([allowed](const std::string& s) { parse_list(s, allowed, ""); }, "");
}

CLI::Validator at_least_one() {
    return CLI::Validator(
        [](std::string& s) {
            long long v = 0;
            const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
            if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 1)
                return "must be a whole number >= 1 (got " + s + ")";
            return std::string();
        },
        "");
}

}  // namespace batchprop::cli
