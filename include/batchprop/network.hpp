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

    const std::vector<int>& sizes() const { return sizes_; }  ///< n_0, ..., n_L: neurons per layer, input first
    int n_layers() const { return int(sizes_.size()) - 1; }  ///< L: layers with weights
    /// Neurons in layer l = 0..L; another l throws Error.
    int n(int l) const {
        if (l < 0 || l > n_layers()) throw_bad_layer(l, 0);
        return sizes_[std::size_t(l)];
    }
    std::size_t n_weights() const { return n_weights_; }      ///< sum over l of n_l n_{l-1}
    std::size_t n_params() const { return n_params_; }        ///< n_weights plus the biases
    /// Where w[l], (n_l x n_{l-1}) column-major, starts in the flat buffer; l = 1..L (layer 0,
    /// the input, has no weights: another l throws Error).
    std::size_t w_offset(int l) const {
        if (l < 1 || l > n_layers()) throw_bad_layer(l, 1);
        return w_off_[std::size_t(l)];
    }
    /// Where b[l], n_l values, starts in the flat buffer; l = 1..L (another l throws Error).
    std::size_t b_offset(int l) const {
        if (l < 1 || l > n_layers()) throw_bad_layer(l, 1);  // slot 0 is unused: b(0) is no bias
        return b_off_[std::size_t(l)];
    }

    /// w[l] as a view into the flat buffer `flat` (host or device): (n_l x n_{l-1}); l = 1..L.
    template <class T>
    MatrixView<T> w(T* flat, int l) const {
        const std::size_t offset = w_offset(l);  // first: it names a bad l as a weights layer
        return MatrixView<T>(flat + offset, n(l), n(l - 1));
    }
    /// b[l] inside the flat buffer `flat`: its n_l values; l = 1..L.
    template <class T>
    T* b(T* flat, int l) const {
        return flat + b_offset(l);
    }

private:
    [[noreturn]] void throw_bad_layer(int l, int first) const;  // "layer l: not in first..L"
    std::vector<int> sizes_;
    std::vector<std::size_t> w_off_, b_off_;  ///< index l = 1..L (0 unused)
    std::size_t n_weights_ = 0, n_params_ = 0;
};

BATCHPROP_API std::string sizes_to_string(const std::vector<int>& sizes);  ///< "784,30,10"

/// A network's sizes and parameters on the host, in scalar type T (float or double): what is
/// initialised, saved, loaded and handed to a Backprop or a Session. Copyable.
template <class T>
class BATCHPROP_API Network {
public:
    Network() = default;
    /// A network of `sizes` (input layer first; validated as ParamLayout does) with every
    /// parameter 0: call init() or fill params().
    explicit Network(std::vector<int> sizes) : layout_(std::move(sizes)), params_(layout_.n_params()) {}

    const ParamLayout& layout() const { return layout_; }       ///< where each w[l], b[l] lives in params()
    const std::vector<int>& sizes() const { return layout_.sizes(); }  ///< n_0, ..., n_L
    int n_layers() const { return layout_.n_layers(); }           ///< L

    /// Every parameter in one flat vector of layout().n_params(): w[1], ..., w[L] (each
    /// column-major), then b[1], ..., b[L]. Writable: keep its size.
    std::vector<T>& params() { return params_; }
    const std::vector<T>& params() const { return params_; }  ///< read-only params()
    /// w[l], l = 1..L: (n_l x n_{l-1}), a view into params() (element (j, k) is the weight from
    /// neuron k of layer l-1 to neuron j of layer l, as in the book). Valid while params() keeps
    /// its storage.
    MatrixView<T> w(int l) { return layout_.w(params_.data(), l); }
    ConstView<T> w(int l) const { return layout_.w(params_.data(), l); }  ///< read-only w(l)
    T* b(int l) { return layout_.b(params_.data(), l); }                 ///< b[l], l = 1..L: its n_l biases inside params()
    const T* b(int l) const { return layout_.b(params_.data(), l); }     ///< read-only b(l)

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
