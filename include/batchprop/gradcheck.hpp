/// @file
/// Gradient checking: backpropagation's gradient against finite differences of the cost
/// (the book's eq. 46, dC/dw ~ (C(w + eps) - C(w)) / eps, in its central, fourth-order form).
#pragma once

#include "batchprop/export.hpp"

#include <cstdint>
#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/network.hpp"

namespace batchprop {

/// The objective checked: J = (1/m) sum_x C_x + (lambda / 2n) sum w^2, over the m columns of
/// x (n_0 x m, host) with class labels; its gradient from backprop is
/// nabla/m + (lambda/n) w for weights and nabla/m for biases.
struct BATCHPROP_API GradcheckProblem {
    std::vector<double> x;    ///< (n_0 x m), column-major
    std::vector<int> labels;  ///< m
    int m = 0;
    Cost cost = Cost::quadratic;
    double lambda = 0.0;
    long long n_train = 1;    ///< n in lambda/n

    /// The one-hot targets of the labels: (n_out x m), column-major. Throws on a label
    /// outside 0..n_out-1.
    std::vector<double> targets(int n_out) const;
};

struct GradcheckLayer {
    double worst_w = 0.0, worst_b = 0.0;  ///< worst relative error among w[l] / b[l] entries
    std::size_t worst_w_index = 0, worst_b_index = 0;  ///< flat index within the layer's w / b
};

struct GradcheckResult {
    std::vector<GradcheckLayer> layers;  ///< index l = 1..L (0 unused)
    double worst = 0.0;                  ///< over every parameter
    std::size_t n_checked = 0;
    std::vector<double> analytic, numeric;  ///< per parameter, in the flat layout
    double data_cost = 0.0;  ///< (1/m) sum_x C_x at the checked point (J without the L2 term)
    double floor = 0.0;      ///< gradcheck_floor(data_cost, h): the scale of the smallest gradients
};

/// |a - n| / max(|a|, |n|, floor): relative, except that gradients smaller than `floor` are
/// measured on that scale.
BATCHPROP_API double gradcheck_rel_error(double analytic, double numeric, double floor);

/// The floor of the error measure for a step h at a point where the data term of J is `cost`:
/// 1e-8 * |cost| / h, the gradient whose step h changes the cost by 1e-8 of itself. J is
/// computed with a rounding error of a few units of 1e-16 of it, so a difference of J resolves
/// a gradient g to ~4e-16 |cost| / h absolute: ~4e-8 of g at the floor and better above it.
/// A relative error would otherwise call noise in a gradient that is near zero (terms of
/// opposite sign cancelling over the mini-batch) an error.
BATCHPROP_API double gradcheck_floor(double cost, double h);

/// The backprop gradient of J (see above) at net's parameters, on the CPU in double.
BATCHPROP_API std::vector<double> backprop_gradient(const Network<double>& net, const GradcheckProblem& p);

/// J itself, at the given flat parameters.
BATCHPROP_API double objective(const Network<double>& net, const GradcheckProblem& p);

/// Checks every parameter. h is the finite-difference step. `analytic` may be given to check
/// a gradient computed elsewhere (tests use this to prove a wrong gradient is caught).
/// Moving w_i changes the L2 term (lambda/2n) sum w^2 only in w_i^2, so that part of each
/// difference is taken from w_i^2 alone (exactly), and the data term's from (1/m) sum_x C_x:
/// differencing J whole would bury both in the rounding of a sum over every weight.
BATCHPROP_API GradcheckResult gradcheck(const Network<double>& net, const GradcheckProblem& p, double h = 1e-3,
                          const std::vector<double>* analytic = nullptr);

/// A random problem for a network: inputs uniform in [0, 1), labels uniform, from a seed.
BATCHPROP_API GradcheckProblem random_problem(const std::vector<int>& sizes, int m, Cost cost, double lambda,
                                std::uint64_t seed);

}  // namespace batchprop
