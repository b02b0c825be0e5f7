// A sweep's grid (sweep.hpp): its size, its product as models, and the checks of each axis value
// and of each combination against the data. The checks are the library's own (validate,
// ParamLayout), only restated so that a message names the value or the combination at fault.
#include "batchprop/sweep.hpp"

#include <algorithm>
#include <limits>
#include <sstream>
#include <utility>

namespace batchprop {

namespace {

// A SettingError's detail with its "{name}" placeholders kept, so that a new error built on it
// is still spelled by each front end in its own words.
std::string raw_detail(const SettingError& e) {
    return e.detail([](Setting s) { return "{" + std::string(setting_name(s)) + "}"; });
}

// The axes in the grid's order, outermost first; the seed varies fastest.
struct Axes {
    std::size_t sizes, eta, lambda, batch, seeds;
};

std::string number_text(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

// Each value of each axis on its own, with the base's other settings: eta > 0, lambda >= 0,
// m >= 1, sizes a network. The value is the error's subject.
void check_axis_values(const SweepGrid& g, const TrainConfig& base) {
    for (double eta : g.eta) {
        TrainConfig c = base;
        c.eta = eta;
        c.lambda = 0;  // eta alone; eta lambda is a combination (validate_sweep)
        try {
            validate(c);
        } catch (const SettingError& e) {
            if (e.setting() != Setting::eta) throw;
            throw SettingError(Setting::eta, number_text(eta), raw_detail(e));
        }
    }
    for (double lambda : g.lambda) {
        TrainConfig c = base;
        c.lambda = lambda;
        c.eta = std::numeric_limits<double>::min();  // lambda alone: eta lambda is a combination's
        try {
            validate(c);
        } catch (const SettingError& e) {
            if (e.setting() != Setting::lambda) throw;
            throw SettingError(Setting::lambda, number_text(lambda), raw_detail(e));
        }
    }
    for (int m : g.batch) {
        TrainConfig c = base;
        c.batch = m;
        try {
            validate(c);
        } catch (const SettingError& e) {
            if (e.setting() != Setting::batch) throw;
            throw SettingError(Setting::batch, std::to_string(m), raw_detail(e));
        }
    }
    for (const std::vector<int>& s : g.sizes) {
        try {
            ParamLayout check(s);
        } catch (const SettingError&) {
            throw;  // names the sizes and the value already ("sizes 784,0,10: every layer ...")
        } catch (const Error& e) {
            throw SettingError(Setting::sizes, sizes_to_string(s), std::string(": ") + e.what());
        }
    }
}

// A value given twice on an axis would train its models twice and count them twice in the
// spread over seeds: refused, naming the first repeated value (in the axis's order).
template <class V, class Text>
void refuse_repeats(const std::vector<V>& values, Setting setting, Text text) {
    std::vector<V> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end()) return;
    for (std::size_t i = 1; i < values.size(); ++i)
        if (std::find(values.begin(), values.begin() + std::ptrdiff_t(i), values[i]) != values.begin() + std::ptrdiff_t(i))
            throw SettingError(setting, text(values[i]), " is given twice: each value makes its models once");
}

void check_repeats(const SweepGrid& g) {
    refuse_repeats(g.sizes, Setting::sizes, [](const std::vector<int>& s) { return sizes_to_string(s); });
    refuse_repeats(g.eta, Setting::eta, number_text);
    refuse_repeats(g.lambda, Setting::lambda, number_text);
    refuse_repeats(g.batch, Setting::batch, [](int m) { return std::to_string(m); });
    refuse_repeats(g.seeds, Setting::seed, [](std::uint64_t s) { return std::to_string(s); });
}

}  // namespace

long long grid_size(const SweepGrid& g, long long most) {
    const std::pair<Setting, std::size_t> axes[] = {{Setting::sizes, g.sizes.size()},
                                                    {Setting::eta, g.eta.size()},
                                                    {Setting::lambda, g.lambda.size()},
                                                    {Setting::batch, g.batch.size()},
                                                    {Setting::seed, g.seeds.size()}};
    long long n = 1;
    for (const auto& [setting, count] : axes) {
        if (count == 0) throw SettingError(setting, "", ": a sweep needs at least one value");
        n *= (long long)count;
        if (n > most)
            throw SettingError(setting, "",
                               ": the grid makes more than " + std::to_string(most) + " models; sweep fewer values");
    }
    return n;
}

std::vector<SweepModel> expand_grid(const SweepGrid& g, const TrainConfig& base, Init init) {
    const long long n = grid_size(g);
    validate(base);  // the settings every model shares
    check_axis_values(g, base);
    check_repeats(g);
    std::vector<SweepModel> models;
    models.reserve(std::size_t(n));
    int setting = 0;
    for (const std::vector<int>& sizes : g.sizes)
        for (double eta : g.eta)
            for (double lambda : g.lambda)
                for (int m : g.batch) {
                    for (std::uint64_t seed : g.seeds) {
                        SweepModel model;
                        model.id = int(models.size());
                        model.setting = setting;
                        model.sizes = sizes;
                        model.init = init;
                        model.config = base;
                        model.config.eta = eta;
                        model.config.lambda = lambda;
                        model.config.batch = m;
                        model.config.seed = seed;
                        models.push_back(std::move(model));
                    }
                    ++setting;
                }
    return models;
}

void validate_sweep(const std::vector<SweepModel>& models, int n_train) {
    for (const SweepModel& m : models) {
        try {
            validate(m.config, n_train);
        } catch (const SettingError& e) {
            std::ostringstream os;
            os << raw_detail(e) << ", in the combination {sizes} " << sizes_to_string(m.sizes) << " {eta} "
               << m.config.eta << " {lambda} " << m.config.lambda << " {batch} " << m.config.batch << " (run "
               << m.id << ")";
            throw SettingError(e.setting(), e.subject(), os.str());
        }
    }
}

}  // namespace batchprop
