// See inference.hpp.
#include "cli/inference.hpp"

#include <algorithm>

namespace batchprop::cli {

template <class T>
Inference<T>::Inference(Backend<T>& backend, const Network<double>& net)
    : be_(backend),
      bp_(backend, net.layout(), kChunk),
      pixels_(backend, std::size_t(net.sizes().front()) * kChunk),
      x_(backend, std::size_t(net.sizes().front()) * kChunk) {
    bp_.set_params(net.cast<T>().params());
}

template <class T>
void Inference<T>::run(const Dataset& d, const std::function<void(int, int, const std::vector<T>&)>& f) {
    const int n0 = bp_.layout().n(0), nL = bp_.layout().n(bp_.layout().n_layers());
    BP_REQUIRE(d.n_inputs == n0, "images of " << d.n_inputs << " pixels for " << n0 << " input neurons");
    for (int first = 0; first < d.n; first += kChunk) {
        const int count = std::min(kChunk, d.n - first);
        // Only the bytes travel; the device turns them into inputs (k / 255 in T).
        pixels_.upload(d.pixels.data() + std::size_t(first) * std::size_t(n0), std::size_t(count) * std::size_t(n0));
        const MatrixView<T> x(x_.data(), n0, count);
        be_.load_inputs(x, ConstView<std::uint8_t>(pixels_.data(), n0, count));
        const ConstView<T> a = bp_.feedforward(x);
        a_.resize(std::size_t(nL) * std::size_t(count));
        // a is contiguous: feedforward's result is a workspace view with ld == n_L.
        be_.copy(a_.data(), a.data, a_.size() * sizeof(T), CopyKind::device_to_host);
        f(first, count, a_);
    }
}

template class Inference<float>;
template class Inference<double>;

}  // namespace batchprop::cli
