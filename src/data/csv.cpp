// The MNIST-CSV reader. See csv.hpp. A hand-written scanner, not a general CSV library: the
// format has no quoting, and 60,000 lines of 785 fields must parse in well under a second.
#include "batchprop/csv.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "batchprop/check.hpp"

namespace batchprop {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// The field as written, shortened for messages (a binary file would otherwise fill the screen).
std::string quoted(std::string_view s) {
    std::string out = "'";
    for (char c : s.substr(0, 20)) out += (c >= 32 && c < 127) ? c : '?';
    return out + (s.size() > 20 ? "...'" : "'");
}

bool parse_double(std::string_view s, double& v) {
    if (s.empty()) return false;
    if (s.front() == '+') s.remove_prefix(1);  // from_chars rejects a leading '+'
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_label(std::string_view s, long long& v) {
    if (s.empty()) return false;
    if (s.front() == '+') s.remove_prefix(1);
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Calls f(field, index) for each comma-separated field of a line; returns the field count.
template <class F>
std::size_t for_each_field(std::string_view line, F&& f) {
    std::size_t count = 0;
    for (;;) {
        const std::size_t comma = line.find(',');
        f(trim(line.substr(0, comma)), count++);
        if (comma == std::string_view::npos) return count;
        line.remove_prefix(comma + 1);
    }
}

}  // namespace

Dataset parse_csv(std::string_view text, const std::string& what) {
    Dataset d;
    d.source = what;
    // About one example per line: reserve once rather than grow 60,000 times.
    const std::size_t lines = std::size_t(std::count(text.begin(), text.end(), '\n')) + 1;
    d.labels.reserve(lines);
    std::size_t n_fields = 0;     // of the first line (header or data); every row must match
    std::size_t fields_line = 0;  // the line that set n_fields
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = trim(text.substr(pos, end - pos));
        pos = end + 1;
        ++line_no;
        if (line.empty()) continue;

        const std::size_t fields = for_each_field(line, [](std::string_view, std::size_t) {});
        if (n_fields == 0) {
            if (fields < 2)
                BP_THROW(what << ": line " << line_no
                              << " has 1 field; expected a label followed by the pixels");
            if (fields - 1 > std::size_t(std::numeric_limits<int>::max()))
                BP_THROW(what << ": line " << line_no << " has too many fields");
            n_fields = fields;
            fields_line = line_no;
            d.n_inputs = int(n_fields - 1);
            // Every pixel takes at least two bytes ("0,"), which bounds the guess for any input.
            const std::size_t guess = lines <= text.size() / n_fields ? lines * (n_fields - 1) : text.size() / 2;
            d.pixels.reserve(std::min(guess, text.size() / 2 + 1));
            // A header: the first line, when its first field is not a number ("label,1x1,...").
            double v;
            if (!parse_double(trim(line.substr(0, line.find(','))), v)) continue;
        } else if (fields != n_fields) {
            BP_THROW(what << ": line " << line_no << " has " << fields << " fields, expected " << n_fields
                          << " (a label and " << n_fields - 1 << " pixels, as on line " << fields_line << ")");
        }

        for_each_field(line, [&](std::string_view f, std::size_t i) {
            if (i == 0) {
                long long label = 0;
                if (!parse_label(f, label))
                    BP_THROW(what << ": line " << line_no << ": the label " << quoted(f)
                                  << " is not a whole number");
                if (label < 0 || label > std::numeric_limits<int>::max())
                    BP_THROW(what << ": line " << line_no << ": label " << label
                                  << " is not a class number (0 or more)");
                d.labels.push_back(int(label));
                return;
            }
            double v = 0.0;
            if (!parse_double(f, v))
                BP_THROW(what << ": line " << line_no << ", field " << i + 1 << ": " << quoted(f)
                              << " is not a number");
            if (!(v >= 0.0 && v <= 255.0))
                BP_THROW(what << ": line " << line_no << ", field " << i + 1 << ": pixel value " << quoted(f)
                              << " is outside 0..255");
            if (v != std::floor(v))
                BP_THROW(what << ": line " << line_no << ", field " << i + 1 << ": pixel value " << quoted(f)
                              << " is not a whole number 0..255");
            // Stored as the byte it is, like an IDX pixel: the same image read from either
            // format is identical.
            d.pixels.push_back(std::uint8_t(v));
        });
    }
    if (d.labels.empty()) BP_THROW(what << ": no examples (an empty CSV file, or a header line only)");
    if (d.labels.size() > std::size_t(std::numeric_limits<int>::max())) BP_THROW(what << ": too many examples");
    d.n = int(d.labels.size());
    return d;
}

Dataset load_csv(const std::string& path) {
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    return parse_csv(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

}  // namespace batchprop
