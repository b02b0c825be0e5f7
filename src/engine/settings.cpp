// See settings.hpp: the spelling tables, the device's text, validation, the SGD scalars.
#include "batchprop/settings.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <utility>

namespace batchprop {

const char* setting_name(Setting setting) {
    switch (setting) {
        case Setting::sizes: return "sizes";
        case Setting::epochs: return "epochs";
        case Setting::first_epoch: return "first_epoch";
        case Setting::batch: return "batch";
        case Setting::eta: return "eta";
        case Setting::lambda: return "lambda";
        case Setting::cost: return "cost";
        case Setting::mode: return "mode";
        case Setting::init: return "init";
        case Setting::launch: return "launch";
        case Setting::dtype: return "dtype";
        case Setting::device: return "device";
        case Setting::seed: return "seed";
        case Setting::segment_steps: return "segment_steps";
        case Setting::math: return "math";
    }
    return "?";
}

namespace {

const Setting kAllSettings[] = {Setting::sizes, Setting::epochs, Setting::first_epoch, Setting::batch,
                                Setting::eta,   Setting::lambda, Setting::cost,        Setting::mode,
                                Setting::init,  Setting::launch, Setting::dtype,       Setting::device,
                                Setting::seed,  Setting::segment_steps, Setting::math};

// "{name}" -> spell(the setting called name), for every setting name; other braces stay.
std::string spell_all(const std::string& text, const SettingSpeller& spell) {
    std::string out;
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t open = text.find('{', at), close = open == std::string::npos ? open : text.find('}', open);
        if (close == std::string::npos) break;
        out.append(text, at, open - at);
        const std::string word = text.substr(open + 1, close - open - 1);
        const auto* s = std::find_if(std::begin(kAllSettings), std::end(kAllSettings),
                                     [&](Setting x) { return word == setting_name(x); });
        out += s != std::end(kAllSettings) ? spell(*s) : text.substr(open, close - open + 1);
        at = close + 1;
    }
    return out + text.substr(std::min(at, text.size()));
}

std::string library_word(Setting s) { return setting_name(s); }

}  // namespace

SettingError::SettingError(Setting setting, std::string subject, std::string detail)
    : Error(setting_name(setting) + (subject.empty() ? "" : " " + subject) + spell_all(detail, library_word)),
      setting_(setting),
      subject_(std::move(subject)),
      detail_(std::move(detail)) {}

std::string SettingError::detail(const SettingSpeller& spell) const { return spell_all(detail_, spell); }

std::string SettingError::message(const SettingSpeller& spell) const {
    return spell(setting_) + (subject_.empty() ? "" : " " + subject_) + detail(spell);
}

// ---- the spelling tables ------------------------------------------------------------------------

namespace {

template <class E>
struct Spelling {
    E value;
    const char* word;
};

// One table per choice, in the order they are listed to a user; Table<E>::setting is the
// setting a bad word is reported against.
template <class E>
struct Table;
template <>
struct Table<Cost> {
    static constexpr Setting setting = Setting::cost;
    static constexpr Spelling<Cost> rows[] = {{Cost::quadratic, "quadratic"}, {Cost::cross_entropy, "cross-entropy"}};
};
template <>
struct Table<Mode> {
    static constexpr Setting setting = Setting::mode;
    static constexpr Spelling<Mode> rows[] = {{Mode::matrix, "matrix"}, {Mode::per_example, "per-example"}};
};
template <>
struct Table<Init> {
    static constexpr Setting setting = Setting::init;
    static constexpr Spelling<Init> rows[] = {{Init::gaussian, "gaussian"}, {Init::scaled, "scaled"}};
};
template <>
struct Table<Launch> {
    static constexpr Setting setting = Setting::launch;
    static constexpr Spelling<Launch> rows[] = {
        {Launch::automatic, "auto"}, {Launch::fused, "fused"}, {Launch::graph, "graph"}, {Launch::eager, "eager"}};
};
template <>
struct Table<DType> {
    static constexpr Setting setting = Setting::dtype;
    static constexpr Spelling<DType> rows[] = {{DType::f32, "f32"}, {DType::f64, "f64"}};
};
template <>
struct Table<Math> {
    static constexpr Setting setting = Setting::math;
    static constexpr Spelling<Math> rows[] = {{Math::ieee, "ieee"}, {Math::tf32, "tf32"}};
};

template <class E>
const char* word_of(E value) {
    for (const Spelling<E>& s : Table<E>::rows)
        if (s.value == value) return s.word;
    return "?";
}

// ": 'x' is not one of a, b, c (did you mean 'b'?)"
std::string not_one_of(const std::string& text, const std::vector<std::string>& words) {
    std::string list;
    for (const std::string& w : words) list += (list.empty() ? "" : ", ") + w;
    const std::string near = nearest_word(text, words);
    return ": '" + text + "' is not one of " + list + (near.empty() ? "" : " (did you mean '" + near + "'?)");
}

}  // namespace

const char* to_string(Cost value) { return word_of(value); }
const char* to_string(Mode value) { return word_of(value); }
const char* to_string(Init value) { return word_of(value); }
const char* to_string(Launch value) { return word_of(value); }
const char* to_string(DType value) { return word_of(value); }
const char* to_string(Math value) { return word_of(value); }

template <class E>
const std::vector<std::string>& names() {
    static const std::vector<std::string> words = [] {
        std::vector<std::string> w;
        for (const Spelling<E>& s : Table<E>::rows) w.push_back(s.word);
        return w;
    }();
    return words;
}

template <class E>
E parse(const std::string& text) {
    for (const Spelling<E>& s : Table<E>::rows)
        if (text == s.word) return s.value;
    throw SettingError(Table<E>::setting, "", not_one_of(text, names<E>()));
}

#define BP_SPELLED(E)                                                \
    template BATCHPROP_API E parse<E>(const std::string&);           \
    template BATCHPROP_API const std::vector<std::string>& names<E>();
BP_SPELLED(Cost)
BP_SPELLED(Mode)
BP_SPELLED(Init)
BP_SPELLED(Launch)
BP_SPELLED(DType)
BP_SPELLED(Math)
#undef BP_SPELLED

namespace {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

}  // namespace

std::string nearest_word(const std::string& word, const std::vector<std::string>& candidates) {
    // As git and cargo suggest: a prefix of a name, or a few edits away.
    std::string best;
    std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const std::string& c : candidates) {
        std::size_t d = edit_distance(word, c);
        if (word.size() >= 4 && c.rfind(word, 0) == 0) d = std::min<std::size_t>(d, 1);  // --epoch -> --epochs
        if (d < best_d) best_d = d, best = c;
    }
    return best;
}

// ---- the device ----------------------------------------------------------------------------------

DeviceSpec::DeviceSpec(const std::string& text) {
    if (text == "auto") return;
    if (text == "cpu") {
        want = Want::cpu;
        return;
    }
    if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
        want = Want::cuda;
        if (text != "cuda") {  // cuda:N
            const std::string num = text.substr(5);
            char* end = nullptr;
            const long v = std::strtol(num.c_str(), &end, 10);
            if (num.empty() || *end != '\0' || v < 0 || v > 1024)
                throw SettingError(Setting::device, "", ": '" + text + "' is not cuda:N with N a GPU index");
            index = int(v);
        }
        return;
    }
    throw SettingError(Setting::device, "", not_one_of(text, {"auto", "cpu", "cuda", "cuda:N"}));
}

std::string to_string(const DeviceSpec& device) {
    switch (device.want) {
        case DeviceSpec::Want::automatic: return "auto";
        case DeviceSpec::Want::cpu: return "cpu";
        case DeviceSpec::Want::cuda: return device.index >= 0 ? "cuda:" + std::to_string(device.index) : "cuda";
    }
    return "?";
}

// ---- validation and the SGD scalars ----------------------------------------------------------

namespace {
template <class V>
std::string got(V v) {
    std::ostringstream os;
    os << " (got " << v << ")";
    return os.str();
}

// Weight decay 1 - eta lambda / n must stay above 0, or every step flips or zeroes the weights.
void check_decay(const TrainConfig& c, int n_train) {
    if (c.eta * c.lambda / n_train < 1.0) return;
    std::ostringstream os;
    os << " * {lambda} / n = " << c.eta << " * " << c.lambda << " / " << n_train << " = " << c.eta * c.lambda / n_train
       << " >= 1: weight decay would flip or zero every weight";
    throw SettingError(Setting::eta, "", os.str());
}
}  // namespace

void validate(const TrainConfig& c) {
    if (c.epochs < 1) throw SettingError(Setting::epochs, "", " must be at least 1" + got(c.epochs));
    if (c.first_epoch < 0 || c.first_epoch > c.epochs)
        throw SettingError(Setting::first_epoch, "(" + std::to_string(c.first_epoch) + ")",
                           " must be in 0.." + std::to_string(c.epochs) + " ({epochs})");
    if (c.batch < 1) throw SettingError(Setting::batch, "", " must be at least 1" + got(c.batch));
    if (c.segment_steps < 0)
        throw SettingError(Setting::segment_steps, "", " must be 0 (automatic) or more" + got(c.segment_steps));
    if (!(c.eta > 0.0) || !std::isfinite(c.eta))
        throw SettingError(Setting::eta, "", " must be a finite number > 0" + got(c.eta));
    if (!(c.lambda >= 0.0) || !std::isfinite(c.lambda))
        throw SettingError(Setting::lambda, "", " must be a finite number >= 0" + got(c.lambda));
    // Without the data: weight decay 1 - eta lambda / n cannot stay above 0 for any n.
    if (constexpr int most = std::numeric_limits<int>::max(); c.eta * c.lambda >= most) {
        std::ostringstream os;
        os << " * {lambda} = " << c.eta * c.lambda << " >= " << most
           << " (the most examples a training set can have): weight decay would flip or zero every weight";
        throw SettingError(Setting::eta, "", os.str());
    }
    // The fused steps compute in the scalar type's own arithmetic; tf32 is cuBLAS's.
    if (c.math == Math::tf32 && c.launch == Launch::fused)
        throw SettingError(Setting::math, "tf32", " runs the products on cuBLAS (graph or eager), not {launch} fused");
}

void validate(const TrainConfig& c, int n_train) {
    validate(c);
    if (n_train < 1) BP_THROW("the training set is empty");
    if (c.batch > n_train)
        throw SettingError(Setting::batch, std::to_string(c.batch),
                           " is larger than the training set (" + std::to_string(n_train) + " examples)");
    check_decay(c, n_train);
}

SgdScalars sgd_scalars(double eta, double lambda, long long n_train, int m) {
    SgdScalars s;
    s.alpha = -eta / double(m);
    s.decay = 1.0 - eta * lambda / double(n_train);
    return s;
}

}  // namespace batchprop
