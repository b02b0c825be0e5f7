// The eager runner (eager_runner.hpp): a segment's steps, one call at a time.
#include "engine/runners/eager_runner.hpp"

namespace batchprop {

template <class T>
void EagerRunner<T>::run_steps(const Segment& s) {
    for (int j = 0; j < s.steps; ++j) step(s.m, j * s.m);
    st_.be.advance_cursor(st_.cursor.data(), s.examples());
}

template <class T>
void EagerRunner<T>::step(int m, int offset) {
    const int n0 = st_.train.n_inputs, nL = st_.bp.layout().n(st_.bp.layout().n_layers());
    MatrixView<T> x(st_.x.data(), n0, m), y(st_.y.data(), nL, m);
    // X = the columns order[cursor + offset ..][0, m) of the data as T, Y their one-hot targets.
    st_.train.with_images([&](auto images) {
        st_.be.gather_batch(x, y, images, st_.train.labels(), st_.order.data(), st_.cursor.data(), offset);
    });
    // The last batch may be partial; it is used, and averaged by its own size m.
    const TrainConfig& c = st_.cfg;
    st_.bp.train_step(x, y, c.mode, c.cost, c.eta, c.lambda, st_.train.n);
}

template <class T>
std::unique_ptr<Runner<T>> make_eager_runner(TrainerState<T>& state) {
    return std::make_unique<EagerRunner<T>>(state);
}

template class EagerRunner<float>;
template class EagerRunner<double>;
template std::unique_ptr<Runner<float>> make_eager_runner(TrainerState<float>&);
template std::unique_ptr<Runner<double>> make_eager_runner(TrainerState<double>&);

}  // namespace batchprop
