// The fused step's host driver (fused_host.hpp): the program run serially, items in either order.
#include "fused/fused_host.hpp"

#include <cstdint>

namespace batchprop {

namespace {
struct SerialExec {
    bool reverse;
    template <class F>
    void items(int count, F&& f) const {
        if (reverse)
            for (int t = count - 1; t >= 0; --t) f(t);
        else
            for (int t = 0; t < count; ++t) f(t);
    }
    void barrier() const {}
};
}  // namespace

template <class T, class S>
void fused_train_steps_host(const FusedShape& shape, const fused::Args<T, S>& args, bool reverse_items) {
    fused::run_steps(shape, args, *args.cursor + args.offset, args.steps, SerialExec{reverse_items});
}

template void fused_train_steps_host(const FusedShape&, const fused::Args<float, std::uint8_t>&, bool);
template void fused_train_steps_host(const FusedShape&, const fused::Args<double, std::uint8_t>&, bool);
template void fused_train_steps_host(const FusedShape&, const fused::Args<float, float>&, bool);
template void fused_train_steps_host(const FusedShape&, const fused::Args<double, float>&, bool);

}  // namespace batchprop
