// See sweep_lists.hpp.
#include "sweep_lists.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <sstream>
#include <unordered_map>

#include "batchprop/check.hpp"
#include "flag_values.hpp"

namespace batchprop::cli {

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t at = text.find(sep, start);
        parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) return parts;
        start = at + 1;
    }
}

// "(value 2 of 3)": where a value sits in its list, for messages.
std::string place(std::size_t i, std::size_t n, const char* what = "value") {
    return "(" + std::string(what) + " " + std::to_string(i + 1) + " of " + std::to_string(n) + ")";
}

template <class V>
void refuse_repeats(const std::vector<V>& values, const std::vector<std::string>& words, const std::string& flag) {
    for (std::size_t i = 0; i < values.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (values[i] == values[j])
                BP_THROW(flag << ": '" << words[i] << "' " << place(i, values.size()) << " repeats '" << words[j]
                              << "' " << place(j, values.size()) << ": each value makes its models once");
}

}  // namespace

std::vector<double> parse_numbers(const std::string& text, const std::string& flag) {
    const std::vector<std::string> words = split(text, ',');
    std::vector<double> v;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        char* end = nullptr;
        const double x = w.empty() ? 0.0 : std::strtod(w.c_str(), &end);
        if (w.empty() || end != w.c_str() + w.size() || std::isspace(static_cast<unsigned char>(w[0])))
            BP_THROW(flag << ": '" << w << "' " << place(i, words.size()) << " is not a number (the values are "
                          << "comma-separated, e.g. " << flag << " 0.1,0.5,2.5)");
        v.push_back(x);
    }
    refuse_repeats(v, words, flag);
    return v;
}

namespace {
// A whole number of type I from the whole word, or false.
template <class I>
bool whole(const std::string& w, I& out) {
    const auto r = std::from_chars(w.data(), w.data() + w.size(), out);
    return !w.empty() && r.ec == std::errc() && r.ptr == w.data() + w.size();
}
}  // namespace

std::vector<int> parse_whole_numbers(const std::string& text, const std::string& flag) {
    const std::vector<std::string> words = split(text, ',');
    std::vector<int> v;
    for (std::size_t i = 0; i < words.size(); ++i) {
        int x = 0;
        if (!whole(words[i], x))
            BP_THROW(flag << ": '" << words[i] << "' " << place(i, words.size()) << " is not a whole number");
        v.push_back(x);
    }
    refuse_repeats(v, words, flag);
    return v;
}

std::vector<std::uint64_t> parse_seeds(const std::string& text) {
    constexpr std::uint64_t kMostInRange = 100000;  // a range is for a few seeds, not a typo of 1-1000000000
    const std::vector<std::string> words = split(text, ',');
    std::vector<std::uint64_t> v;
    std::vector<std::string> each;  // the word each seed came from, for messages
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        const std::size_t dash = w.find('-', 1);
        std::uint64_t a = 0, b = 0;
        const bool ok = dash == std::string::npos ? whole(w, a) && (b = a, true)
                                                  : whole(w.substr(0, dash), a) && whole(w.substr(dash + 1), b);
        if (!ok)
            BP_THROW("--seeds: '" << w << "' " << place(i, words.size())
                                  << " is neither a seed (a whole number from 0 to 18446744073709551615) nor a "
                                     "range of them (1-4)");
        if (b < a) BP_THROW("--seeds: '" << w << "' " << place(i, words.size()) << " is a range that ends before it starts");
        if (b - a >= kMostInRange)
            BP_THROW("--seeds: '" << w << "' " << place(i, words.size()) << " holds more than " << kMostInRange
                                  << " seeds");
        for (std::uint64_t s = a;; ++s) {
            v.push_back(s);
            each.push_back(w);
            if (s == b) break;
        }
    }
    std::unordered_map<std::uint64_t, std::size_t> first;  // seed -> its first place (linear, not n^2)
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto [at, fresh] = first.emplace(v[i], i);
        if (!fresh)
            BP_THROW("--seeds: seed " << v[i] << " comes twice ('" << each[at->second] << "' and '" << each[i]
                                      << "'): each value makes its models once");
    }
    return v;
}

std::vector<std::vector<int>> parse_networks(const std::string& text) {
    const std::vector<std::string> words = split(text, ':');
    std::vector<std::vector<int>> v;
    for (std::size_t i = 0; i < words.size(); ++i) {
        try {
            v.push_back(parse_sizes(words[i]));
        } catch (const Error&) {
            BP_THROW("--sizes: '" << words[i] << "' " << place(i, words.size(), "network")
                                  << " is not a comma-separated list of layer sizes (networks are colon-separated: "
                                     "--sizes 784,30,10:784,100,10)");
        }
    }
    refuse_repeats(v, words, "--sizes");
    return v;
}

SweepGrid parse_grid(const SweepFlags& f) {
    SweepGrid g;
    g.sizes = parse_networks(f.sizes);
    g.eta = parse_numbers(f.eta, "--eta");
    g.lambda = parse_numbers(f.lambda, "--lambda");
    g.batch = parse_whole_numbers(f.batch, "--batch");
    g.seeds = parse_seeds(f.seeds);
    return g;
}

namespace {
template <class V>
std::string joined(const std::vector<V>& values, const char* sep) {
    std::ostringstream os;
    for (std::size_t i = 0; i < values.size(); ++i) os << (i ? sep : "") << values[i];
    return os.str();
}
}  // namespace

std::string grid_text(const std::vector<double>& values) {
    std::string s;
    for (std::size_t i = 0; i < values.size(); ++i) {
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, values[i]);  // the shortest text that reads back
        s += (i ? "," : "") + std::string(buf, r.ptr);
    }
    return s;
}
std::string grid_text(const std::vector<int>& values) { return joined(values, ","); }
std::string grid_text(const std::vector<std::uint64_t>& values) { return joined(values, ","); }
std::string grid_text(const std::vector<std::vector<int>>& sizes) {
    std::string s;
    for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ":" : "") + sizes_to_string(sizes[i]);
    return s;
}

}  // namespace batchprop::cli
