// Reading and writing network2.py-compatible model files. See model_io.hpp.
//
// Storage is column-major: w^l(i, j) lives at flat[w_offset(l) + i + j * n_l]. The file lists
// w^l row by row (numpy's tolist() of an (n_l x n_{l-1}) array), so row i of the file is
// w^l(i, 0..n_{l-1}-1), read with stride n_l in our buffer.
#include "batchprop/model_io.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string_view>

#include "batchprop/check.hpp"
#include "batchprop/dataset.hpp"
#include "data/output_file.hpp"

namespace batchprop {

using nlohmann::json;

const char* cost_class_name(Cost cost) {
    return cost == Cost::cross_entropy ? "CrossEntropyCost" : "QuadraticCost";
}

template <class T>
std::string model_to_json(const Network<T>& net, Cost cost, const json& settings) {
    const ParamLayout& lay = net.layout();
    // ordered_json keeps network2.py's key order (sizes, weights, biases, cost), which makes
    // the files easy to compare with ones written by Python.
    nlohmann::ordered_json out;
    out["sizes"] = lay.sizes();
    nlohmann::ordered_json weights = nlohmann::ordered_json::array();
    nlohmann::ordered_json biases = nlohmann::ordered_json::array();
    for (int l = 1; l <= lay.n_layers(); ++l) {
        const ConstView<T> w = net.w(l);
        nlohmann::ordered_json rows = nlohmann::ordered_json::array();
        for (int i = 0; i < w.rows; ++i) {
            nlohmann::ordered_json row = nlohmann::ordered_json::array();
            for (int j = 0; j < w.cols; ++j) row.push_back(double(w.data[std::size_t(i) + std::size_t(j) * std::size_t(w.ld)]));
            rows.push_back(std::move(row));
        }
        weights.push_back(std::move(rows));
        nlohmann::ordered_json b = nlohmann::ordered_json::array();
        for (int i = 0; i < lay.n(l); ++i) b.push_back(nlohmann::ordered_json::array({double(net.b(l)[i])}));
        biases.push_back(std::move(b));
    }
    out["weights"] = std::move(weights);
    out["biases"] = std::move(biases);
    out["cost"] = cost_class_name(cost);
    if (!settings.is_null()) out["batchprop"] = nlohmann::ordered_json::parse(settings.dump());
    // nlohmann writes doubles in the shortest form that round-trips (as Python's repr does).
    return out.dump();
}

template <class T>
void save_model(const std::string& path, const Network<T>& net, Cost cost, const json& settings) {
    // JSON has no NaN or infinity (nlohmann would write null): refuse rather than write a file
    // that no reader, this one included, accepts.
    for (const T v : net.params())
        if (!std::isfinite(v))
            BP_THROW(path << ": not saved: the network's parameters include " << v
                          << " (training diverged? try a smaller eta)");
    write_file_atomically(path, model_to_json(net, cost, settings) + "\n");
}

namespace {

// Bytes at s[i] that form one printable UTF-8 character beyond ASCII: their count, or 0 for a
// byte that starts none (a stray byte, an overlong form, a surrogate, a C1 control).
std::size_t utf8_char_length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
    const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
        return byte(k) >= lo && byte(k) <= hi;
    };
    const unsigned c = byte(0);
    if (c == 0xC2) return cont(1, 0xA0) ? 2 : 0;  // U+0080..U+009F are controls
    if (c > 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF)
        return cont(1, c == 0xE0 ? 0xA0 : 0x80, c == 0xED ? 0x9F : 0xBF) && cont(2) ? 3 : 0;
    if (c >= 0xF0 && c <= 0xF4)
        return cont(1, c == 0xF0 ? 0x90 : 0x80, c == 0xF4 ? 0x8F : 0xBF) && cont(2) && cont(3) ? 4 : 0;
    return 0;
}

// Text quoted from a file, fit for a one-line message: printable ASCII and valid UTF-8 as they
// are, any other byte as \xNN. The JSON parser quotes the bytes it stopped at, and a file of
// random bytes would otherwise put raw bytes on the terminal and make a message that Python
// cannot turn into a str. At most about `limit` bytes, cut between characters ("..." after).
std::string printable(std::string_view s, std::size_t limit = std::string_view::npos) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        if (out.size() >= limit) return out + "...";
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = c >= 0x20 && c < 0x7F ? 1 : utf8_char_length(s, i);
        if (n > 0) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
            ++i;
        }
    }
    return out;
}

// The JSON type of a value, in words, for messages.
const char* kind(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::object: return "an object";
        case json::value_t::array: return "a list";
        case json::value_t::string: return "a string";
        case json::value_t::boolean: return "true/false";
        case json::value_t::binary: return "binary data";
        case json::value_t::discarded: return "nothing";
        default: return "a number";
    }
}

const json& key(const json& doc, const char* name, const std::string& what) {
    const auto it = doc.find(name);
    if (it == doc.end())
        BP_THROW(what << ": not a model file: the key \"" << name
                      << "\" is missing (a model has \"sizes\", \"weights\", \"biases\" and \"cost\")");
    return *it;
}

const json& list_of(const json& v, std::size_t n, const std::string& where, const std::string& what,
                    const std::string& expected) {
    if (!v.is_array()) BP_THROW(what << ": " << where << " should be a list of " << expected << ", not " << kind(v));
    if (v.size() != n)
        BP_THROW(what << ": " << where << " has " << v.size() << " entries, expected " << n << " (" << expected << ")");
    return v;
}

double number(const json& v, const std::string& where, const std::string& what) {
    if (!v.is_number()) BP_THROW(what << ": " << where << " should be a number, not " << kind(v));
    const double d = v.get<double>();
    if (!std::isfinite(d)) BP_THROW(what << ": " << where << " is not finite (" << d << ")");
    return d;
}

std::string at(const char* name, int l, int i = -1, int j = -1) {
    std::string s = std::string(name) + "[" + std::to_string(l) + "]";
    if (i >= 0) s += "[" + std::to_string(i) + "]";
    if (j >= 0) s += "[" + std::to_string(j) + "]";
    return s;
}

}  // namespace

Model parse_model(const std::string& text, const std::string& what) {
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception& e) {
        // parse_error: "[json.exception.parse_error.101] parse error at line 1, column 9: ...
        // last read: '2, N'"; out_of_range.406: "number overflow parsing '1e999'".
        std::string msg = e.what();
        const std::size_t close = msg.find("] ");
        if (close != std::string::npos) msg = msg.substr(close + 2);
        const std::size_t last = msg.rfind("last read: '");
        const char c = last != std::string::npos && msg.size() >= 2 ? msg[msg.size() - 2] : ' ';
        const bool nan_like = (c == 'N' || c == 'I') && msg.back() == '\'';
        BP_THROW(what << ": not valid JSON: " << printable(msg)
                      << (nan_like ? " (NaN and Infinity are not numbers in JSON)" : ""));
    }
    if (!doc.is_object()) BP_THROW(what << ": not a model file: expected a JSON object, found " << kind(doc));

    // sizes first: every other shape is checked against it, before anything is allocated
    // from it (a file claiming huge sizes must not make us allocate them).
    const json& js = key(doc, "sizes", what);
    if (!js.is_array() || js.size() < 2)
        BP_THROW(what << ": \"sizes\" should be a list of at least two layer sizes, found "
                      << (js.is_array() ? std::to_string(js.size()) + " entries" : kind(js)));
    std::vector<int> sizes;
    for (std::size_t l = 0; l < js.size(); ++l) {
        const json& v = js[l];
        const bool whole = v.is_number_integer() || v.is_number_unsigned();
        if (!whole || v.get<long long>() < 1 || v.get<long long>() > std::numeric_limits<int>::max())
            BP_THROW(what << ": sizes[" << l << "] should be a whole number of neurons >= 1, found "
                          << (v.is_number() ? v.dump() : kind(v)));
        sizes.push_back(v.get<int>());
    }
    const int L = int(sizes.size()) - 1;

    const json& jw = list_of(key(doc, "weights", what), std::size_t(L), "\"weights\"", what,
                             "one matrix per layer after the input");
    const json& jb = list_of(key(doc, "biases", what), std::size_t(L), "\"biases\"", what,
                             "one column per layer after the input");
    for (int l = 1; l <= L; ++l) {
        const std::size_t rows = std::size_t(sizes[std::size_t(l)]), cols = std::size_t(sizes[std::size_t(l - 1)]);
        const json& w = list_of(jw[std::size_t(l - 1)], rows, at("weights", l - 1), what,
                                "n_" + std::to_string(l) + " = " + std::to_string(rows) + " rows");
        for (std::size_t i = 0; i < rows; ++i)
            list_of(w[i], cols, at("weights", l - 1, int(i)), what,
                    "n_" + std::to_string(l - 1) + " = " + std::to_string(cols) + " columns");
        const json& b = list_of(jb[std::size_t(l - 1)], rows, at("biases", l - 1), what,
                                "n_" + std::to_string(l) + " = " + std::to_string(rows) + " rows");
        for (std::size_t i = 0; i < rows; ++i) list_of(b[i], 1, at("biases", l - 1, int(i)), what, "one number");
    }

    const json& jc = key(doc, "cost", what);
    Model m;
    if (jc == "QuadraticCost")
        m.cost = Cost::quadratic;
    else if (jc == "CrossEntropyCost")
        m.cost = Cost::cross_entropy;
    else
        BP_THROW(what << ": \"cost\" is " << printable(jc.dump(), 40)
                      << "; expected \"QuadraticCost\" or \"CrossEntropyCost\"");

    // The shapes are now known to match the data in the file, so this allocation is bounded
    // by the file's own size.
    m.net = Network<double>(sizes);
    for (int l = 1; l <= L; ++l) {
        MatrixView<double> w = m.net.w(l);
        const json& jwl = jw[std::size_t(l - 1)];
        const json& jbl = jb[std::size_t(l - 1)];
        for (int i = 0; i < w.rows; ++i) {
            const json& row = jwl[std::size_t(i)];
            for (int j = 0; j < w.cols; ++j)
                w.data[std::size_t(i) + std::size_t(j) * std::size_t(w.ld)] =
                    number(row[std::size_t(j)], at("weights", l - 1, i, j), what);
            m.net.b(l)[i] = number(jbl[std::size_t(i)][0], at("biases", l - 1, i, 0), what);
        }
    }
    const auto bp = doc.find("batchprop");
    if (bp != doc.end()) m.batchprop = *bp;
    return m;
}

Model load_model(const std::string& path) {
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);  // errors name the file
    return parse_model(std::string(bytes.begin(), bytes.end()), path);
}

template std::string model_to_json<float>(const Network<float>&, Cost, const json&);
template std::string model_to_json<double>(const Network<double>&, Cost, const json&);
template void save_model<float>(const std::string&, const Network<float>&, Cost, const json&);
template void save_model<double>(const std::string&, const Network<double>&, Cost, const json&);

}  // namespace batchprop
