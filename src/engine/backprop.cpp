// Backpropagation, written once over Backend<T>. Each block names the book equation it
// computes. Shapes: n_l neurons in layer l, m columns (examples) in the current batch;
//   x = a[0]: (n_0 x m)   w[l]: (n_l x n_{l-1})   a[l], delta[l]: (n_l x m)   y: (n_L x m)
#include "batchprop/backprop.hpp"

#include <algorithm>
#include <cmath>

namespace batchprop {

template <class T>
Backprop<T>::Backprop(Backend<T>& backend, const ParamLayout& layout, int capacity)
    : be_(backend),
      layout_(layout),
      capacity_(capacity),
      params_(backend, layout.n_params()),
      nabla_(backend, layout.n_params()) {
    BP_REQUIRE(capacity >= 1, "workspace capacity must be at least one column, not " << capacity);
    const int L = layout_.n_layers();
    a_.resize(std::size_t(L) + 1);
    delta_.resize(std::size_t(L) + 1);
    for (int l = 1; l <= L; ++l) {
        const std::size_t n = std::size_t(layout_.n(l)) * std::size_t(capacity);
        a_[std::size_t(l)] = Buffer<T>(be_, n);      // a[l]:     (n_l x capacity)
        delta_[std::size_t(l)] = Buffer<T>(be_, n);  // delta[l]: (n_l x capacity)
    }
}

template <class T>
void Backprop<T>::set_params(const std::vector<T>& host) {
    BP_REQUIRE(host.size() == layout_.n_params(),
               "parameter count " << host.size() << " != " << layout_.n_params());
    params_.upload(host);
}

template <class T>
std::vector<T> Backprop<T>::params() const {
    return params_.to_host();
}

template <class T>
std::vector<T> Backprop<T>::nabla() const {
    return nabla_.to_host();
}

template <class T>
void Backprop<T>::forward(CView x, int cols) {
    T* p = params_.data();
    CView a_prev = x;
    for (int l = 1; l <= layout_.n_layers(); ++l) {
        // z[l] = w[l] a[l-1] + b[l] 1^T,  a[l] = sigma(z[l]). The product goes into a[l]'s
        // buffer and the bias and sigmoid are applied in place, fused: sigma' is later taken
        // from a (a(1 - a)), so z never needs a buffer of its own.
        View al = a(l, cols);
        be_.gemm(al, Op::N, layout_.w(p, l), Op::N, a_prev, T(1), T(0));
        be_.bias_sigmoid(al, al, layout_.b(p, l));
        a_prev = al;
    }
}

template <class T>
void Backprop<T>::backward(CView x, CView y, int cols, Cost cost, T* out, T alpha, T w_beta, T b_beta) {
    const int L = layout_.n_layers();
    T* p = params_.data();

    // BP1: delta[L] = grad_a C (.) sigma'(z[L])  (cross-entropy: a[L] - y), in one pass with
    // BP3 for layer L: dC/db[L] = delta[L], summed over the batch's columns into b[L] of out.
    be_.output_delta_bias(delta(L, cols), a(L, cols), y, cost, layout_.b(out, L), alpha, b_beta);

    for (int l = L; l >= 1; --l) {
        View dl = delta(l, cols);
        const CView a_prev = l > 1 ? CView(a(l - 1, cols)) : x;
        if (l > 1) {
            // BP2: delta[l-1] = (w[l]^T delta[l]) (.) sigma'(z[l-1]): the transposed-weight
            // product (n_{l-1} x n_l)(n_l x m), then the Hadamard product in place, in one pass with
            // BP3 for layer l-1 (its bias row sums). First, so that it uses w[l] as the forward
            // pass did even when out is the parameters.
            View d_prev = delta(l - 1, cols);
            be_.gemm(d_prev, Op::T, layout_.w(p, l), Op::N, dl, T(1), T(0));
            be_.hidden_delta_bias(d_prev, a(l - 1, cols), layout_.b(out, l - 1), alpha, b_beta);
        }
        // BP4: dC/dw[l] = delta[l] a[l-1]^T, also summed over the columns: (n_l x m)(m x n_{l-1}).
        be_.gemm(layout_.w(out, l), Op::N, dl, Op::T, a_prev, alpha, w_beta);
    }
}

template <class T>
ConstView<T> Backprop<T>::feedforward(CView x) {
    BP_REQUIRE(x.rows == layout_.n(0), "input has " << x.rows << " rows, the network " << layout_.n(0) << " inputs");
    BP_REQUIRE(x.cols <= capacity_, x.cols << " columns exceed the workspace capacity " << capacity_);
    forward(x, x.cols);
    return a(layout_.n_layers(), x.cols);
}

template <class T>
void Backprop<T>::check_batch(CView x, CView y) const {
    const int L = layout_.n_layers();
    BP_REQUIRE(x.rows == layout_.n(0), "input has " << x.rows << " rows, the network " << layout_.n(0) << " inputs");
    BP_REQUIRE(y.rows == layout_.n(L) && y.cols == x.cols,
               "targets (" << y.rows << "x" << y.cols << ") do not match outputs (" << layout_.n(L)
                           << "x" << x.cols << ")");
    BP_REQUIRE(x.cols >= 1 && x.cols <= capacity_,
               x.cols << " columns; the workspace holds 1.." << capacity_);
}

template <class T>
void Backprop<T>::backprop(CView x, CView y, Mode mode, Cost cost) {
    check_batch(x, y);
    if (mode == Mode::matrix) {
        // The whole mini-batch at once: every product above is a GEMM with m columns, and
        // nabla is written (beta = 0), already summed over the batch.
        forward(x, x.cols);
        backward(x, y, x.cols, cost, nabla_.data(), T(1), T(0), T(0));
        return;
    }
    // The book's loop: the same calls on one-column views, nabla accumulated (beta = 1 after
    // the first example). Only the shapes differ from matrix mode.
    for (int j = 0; j < x.cols; ++j) {
        forward(x.col(j), 1);
        const T beta = j == 0 ? T(0) : T(1);
        backward(x.col(j), y.col(j), 1, cost, nabla_.data(), T(1), beta, beta);
    }
}

template <class T>
void Backprop<T>::update(double eta, double lambda, long long n_train, int m) {
    // w <- (1 - eta lambda / n) w - (eta / m) nabla_w;  b <- b - (eta / m) nabla_b.
    const SgdScalars sgd = sgd_scalars(eta, lambda, n_train, m);
    be_.sgd_step(params_.data(), nabla_.data(), layout_.n_params(), layout_.n_weights(), T(sgd.decay), T(-sgd.alpha));
}

template <class T>
void Backprop<T>::train_step(CView x, CView y, Mode mode, Cost cost, double eta, double lambda,
                             long long n_train) {
    if (mode == Mode::per_example) {
        backprop(x, y, mode, cost);
        update(eta, lambda, n_train, x.cols);
        return;
    }
    check_batch(x, y);
    forward(x, x.cols);
    // out = the parameters: b[l] = b[l] - (eta/m) sum_j delta[l](:, j) (in the delta kernels,
    // b_beta 1), w[l] = decay w[l] - (eta/m) delta[l] a[l-1]^T (one GEMM with beta = decay).
    const SgdScalars sgd = sgd_scalars(eta, lambda, n_train, x.cols);
    backward(x, y, x.cols, cost, params_.data(), T(sgd.alpha), T(sgd.decay), T(1));
}

template <class T>
EvalSums Backprop<T>::evaluate(CView x, const int* labels, Cost cost) {
    EvalSums total;
    for (int first = 0; first < x.cols; first += capacity_) {
        const int count = std::min(capacity_, x.cols - first);
        const EvalSums s = be_.evaluate(feedforward(x.col_range(first, count)), labels + first, cost);
        total.correct += s.correct;
        total.cost += s.cost;
    }
    return total;
}

template <class T>
double Backprop<T>::l2_term(double lambda, long long n_train) {
    if (lambda == 0.0) return 0.0;
    return 0.5 * lambda / double(n_train) * be_.sum_squares(params_.data(), layout_.n_weights());
}

template <class T>
bool Backprop<T>::params_finite() {
    // A sum of squares is finite exactly when every term is (an overflow to infinity would
    // need values near 1e154 in double: SGD never gets there finitely).
    return std::isfinite(be_.sum_squares(params_.data(), layout_.n_params()));
}

template class Backprop<float>;
template class Backprop<double>;

}  // namespace batchprop
