/// @file
/// A fully-connected sigmoid network on the host: its sizes and one flat parameter buffer with
/// per-layer views. Layers are numbered as in the book: l = 1 .. L, layer 0 being the input.
#pragma once

#include "batchprop/export.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "batchprop/matrix.hpp"
#include "batchprop/settings.hpp"  // Init

namespace batchprop {

/// Where each layer's w and b live inside a flat buffer of n_params values. All weights come
/// first, then all biases, so weight decay is "the first n_weights entries". The same layout
/// is used for the parameters and for nabla (the gradient), on every device.
class BATCHPROP_API ParamLayout {
public:
    ParamLayout() = default;
    explicit ParamLayout(std::vector<int> sizes);  ///< validates: >= 2 layers, every size >= 1

    const std::vector<int>& sizes() const { return sizes_; }
    int n_layers() const { return int(sizes_.size()) - 1; }  // L: layers with weights
    int n(int l) const { return sizes_.at(std::size_t(l)); }   // neurons in layer l
    std::size_t n_weights() const { return n_weights_; }
    std::size_t n_params() const { return n_params_; }
    std::size_t w_offset(int l) const { return w_off_.at(std::size_t(l)); }  // w[l]: (n_l x n_{l-1})
    std::size_t b_offset(int l) const { return b_off_.at(std::size_t(l)); }  // b[l]: (n_l)

    template <class T>
    MatrixView<T> w(T* flat, int l) const {
        return MatrixView<T>(flat + w_offset(l), n(l), n(l - 1));
    }
    template <class T>
    T* b(T* flat, int l) const {
        return flat + b_offset(l);
    }

private:
    std::vector<int> sizes_;
    std::vector<std::size_t> w_off_, b_off_;  ///< index l = 1..L (0 unused)
    std::size_t n_weights_ = 0, n_params_ = 0;
};

BATCHPROP_API std::string sizes_to_string(const std::vector<int>& sizes);  ///< "784,30,10"

template <class T>
class BATCHPROP_API Network {
public:
    Network() = default;
    explicit Network(std::vector<int> sizes) : layout_(std::move(sizes)), params_(layout_.n_params()) {}

    const ParamLayout& layout() const { return layout_; }
    const std::vector<int>& sizes() const { return layout_.sizes(); }
    int n_layers() const { return layout_.n_layers(); }

    std::vector<T>& params() { return params_; }
    const std::vector<T>& params() const { return params_; }
    MatrixView<T> w(int l) { return layout_.w(params_.data(), l); }
    ConstView<T> w(int l) const { return layout_.w(params_.data(), l); }
    T* b(int l) { return layout_.b(params_.data(), l); }
    const T* b(int l) const { return layout_.b(params_.data(), l); }

    /// gaussian: w, b ~ N(0, 1)                   (the book's network.py)
    /// scaled:   w ~ N(0, 1/n_{l-1}), b ~ N(0, 1) (network2.py's default_weight_initializer)
    /// Deterministic for a seed, and the same numbers for float and double (drawn in double).
    void init(Init how, std::uint64_t seed);

    /// Same sizes, parameters converted to U.
    template <class U>
    Network<U> cast() const {
        Network<U> out(sizes());
        for (std::size_t i = 0; i < params_.size(); ++i) out.params()[i] = U(params_[i]);
        return out;
    }

private:
    ParamLayout layout_;
    std::vector<T> params_;
};

}  // namespace batchprop
