// Parameter layout and initialisation of a Network.
#include "batchprop/network.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "batchprop/check.hpp"
#include "batchprop/math.hpp"

namespace batchprop {

ParamLayout::ParamLayout(std::vector<int> sizes) : sizes_(std::move(sizes)) {
    if (sizes_.size() < 2)
        throw SettingError(Setting::sizes, sizes_to_string(sizes_), ": need at least two layers (inputs and outputs)");
    for (int s : sizes_)
        if (s < 1) throw SettingError(Setting::sizes, sizes_to_string(sizes_), ": every layer needs at least one neuron");
    const int L = n_layers();
    w_off_.assign(std::size_t(L) + 1, 0);
    b_off_.assign(std::size_t(L) + 1, 0);
    std::size_t off = 0;
    for (int l = 1; l <= L; ++l) {
        w_off_[std::size_t(l)] = off;
        off += std::size_t(n(l)) * std::size_t(n(l - 1));
    }
    n_weights_ = off;
    for (int l = 1; l <= L; ++l) {
        b_off_[std::size_t(l)] = off;
        off += std::size_t(n(l));
    }
    n_params_ = off;
    // cuBLAS and CBLAS index with int; keep every layer's matrix addressable.
    for (int l = 1; l <= L; ++l)
        if (std::size_t(n(l)) * std::size_t(n(l - 1)) > std::size_t(std::numeric_limits<int>::max()))
            BP_THROW("layer " << l << " has more than 2^31 weights");
}

void ParamLayout::throw_bad_layer(int l, int first) const {
    BP_THROW("layer " << l << " of a network with layers 0.." << n_layers() << ": "
                      << (first == 1 && l == 0 ? "layer 0 (the input) has no weights or biases"
                                               : "not one of " + std::to_string(first) + ".." + std::to_string(n_layers())));
}

std::string sizes_to_string(const std::vector<int>& sizes) {
    std::ostringstream os;
    for (std::size_t i = 0; i < sizes.size(); ++i) os << (i ? "," : "") << sizes[i];
    return os.str();
}

namespace {
// Standard normal draws from a counter-based generator (splitmix64 + Box-Muller), so the
// numbers depend on the seed alone, not on the standard library's distributions.
class Normal {
public:
    explicit Normal(std::uint64_t seed) : state_(splitmix64(seed)) {}
    double operator()() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        // u1 in (0, 1] so log(u1) is finite; u2 in [0, 1).
        const double u1 = (double(next() >> 11) + 1.0) * 0x1.0p-53;
        const double u2 = double(next() >> 11) * 0x1.0p-53;
        const double r = std::sqrt(-2.0 * std::log(u1));
        const double t = 6.283185307179586 * u2;
        spare_ = r * std::sin(t);
        has_spare_ = true;
        return r * std::cos(t);
    }

private:
    std::uint64_t next() { return splitmix64(state_++); }
    std::uint64_t state_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};
}  // namespace

template <class T>
void Network<T>::init(Init how, std::uint64_t seed) {
    Normal normal(seed);
    for (int l = 1; l <= n_layers(); ++l) {
        const double sd = how == Init::scaled ? 1.0 / std::sqrt(double(layout_.n(l - 1))) : 1.0;
        MatrixView<T> wl = w(l);
        for (std::size_t i = 0; i < wl.size(); ++i) wl.data[i] = T(sd * normal());
    }
    for (int l = 1; l <= n_layers(); ++l)
        for (int i = 0; i < layout_.n(l); ++i) b(l)[i] = T(normal());
}

template class Network<float>;
template class Network<double>;

}  // namespace batchprop
