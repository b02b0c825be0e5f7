/// @file
/// The backpropagation algorithm, written once over Backend<T>: forward pass, the four
/// equations BP1-BP4 for a mini-batch (per-example or fully matrix-based), and the SGD update.
/// It owns the device-side parameters, the gradient and the workspaces; it owns no data set.
#pragma once

#include "batchprop/export.hpp"

#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/network.hpp"
#include "batchprop/settings.hpp"  // Mode

namespace batchprop {

template <class T>
class BATCHPROP_API Backprop {
public:
    using View = MatrixView<T>;
    using CView = ConstView<T>;

    /// Workspaces hold up to `capacity` columns; they are allocated here, once, and never in
    /// the mini-batch loop.
    Backprop(Backend<T>& backend, const ParamLayout& layout, int capacity);

    Backend<T>& backend() { return be_; }
    const ParamLayout& layout() const { return layout_; }
    int capacity() const { return capacity_; }

    void set_params(const std::vector<T>& host);  ///< upload, same layout as Network<T>
    std::vector<T> params() const;                ///< download
    std::vector<T> nabla() const;                 ///< download the last computed gradient
    T* params_device() { return params_.data(); }
    T* nabla_device() { return nabla_.data(); }

    /// a[L] for the columns of x (x.cols <= capacity). The view points into a workspace and is
    /// valid until the next call.
    CView feedforward(CView x);

    /// nabla = sum over the columns x_j of x of the gradient of C_{x_j} (no 1/m, no
    /// regularisation: the update applies both). y holds the targets, (n_L x x.cols).
    void backprop(CView x, CView y, Mode mode, Cost cost);

    /// w <- (1 - eta*lambda/n) w - (eta/m) nabla_w,  b <- b - (eta/m) nabla_b.
    void update(double eta, double lambda, long long n_train, int m);

    /// One SGD step on the mini-batch (x, y), m = x.cols; the same parameters as backprop()
    /// followed by update(), up to rounding. Per-example mode is exactly that (the book's
    /// update_mini_batch). Matrix mode folds the update into the products: BLAS computes
    /// C = alpha A B + beta C, so w[l] = decay w[l] - (eta/m) delta[l] a[l-1]^T is one GEMM
    /// into w[l] (beta = decay, alpha = -eta/m) and b[l] rides on the kernels that compute
    /// delta[l] (their row sums); nabla is never written, which saves a pass over the gradient
    /// and the parameters per batch.
    void train_step(CView x, CView y, Mode mode, Cost cost, double eta, double lambda,
                    long long n_train);

    /// Evaluation sums over the columns of x, fed forward in chunks of at most capacity.
    EvalSums evaluate(CView x, const int* labels, Cost cost);

    /// (lambda / 2n) * sum of w^2: the regularisation term of the total cost.
    double l2_term(double lambda, long long n_train);

    /// Whether every parameter is a finite number (one reduction on the device): SGD that has
    /// diverged to infinity or NaN never comes back, since NaN propagates through every step.
    bool params_finite();

private:
    /// The forward pass for the columns of x into a_[1..L] (views of `cols` columns).
    void forward(CView x, int cols);
    /// BP1-BP4 for the cols columns already fed forward, each layer's gradient g written into
    /// the flat buffer out (laid out like the parameters) as w = w_beta w + alpha g_w and
    /// b = b_beta b + alpha g_b. out = nabla with alpha 1 gives the gradient (beta 0, or 1 to
    /// accumulate); out = the parameters with alpha = -eta/m is the folded SGD step.
    void backward(CView x, CView y, int cols, Cost cost, T* out, T alpha, T w_beta, T b_beta);
    void check_batch(CView x, CView y) const;

    View a(int l, int cols) { return View(a_[std::size_t(l)].data(), layout_.n(l), cols); }
    View delta(int l, int cols) { return View(delta_[std::size_t(l)].data(), layout_.n(l), cols); }

    Backend<T>& be_;
    ParamLayout layout_;
    int capacity_;
    Buffer<T> params_;  ///< flat: w[1..L] then b[1..L]
    Buffer<T> nabla_;   ///< same layout as params_
    std::vector<Buffer<T>> a_;      ///< a_[l]: (n_l x capacity), l = 1..L (a_[0] unused: x is a[0])
    std::vector<Buffer<T>> delta_;  ///< delta_[l]: (n_l x capacity), l = 1..L
};

}  // namespace batchprop
