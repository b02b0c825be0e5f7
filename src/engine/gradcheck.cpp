// Finite-difference gradient checking on the CPU backend in double. See gradcheck.hpp.
#include "batchprop/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "batchprop/backprop.hpp"

namespace batchprop {

double gradcheck_rel_error(double a, double n, double floor) {
    return std::abs(a - n) / std::max({std::abs(a), std::abs(n), floor});
}

double gradcheck_floor(double cost, double h) {
    // Never 0, so that a zero gradient checked against zero is an error of 0, not 0/0.
    return std::max(1e-8 * std::abs(cost) / h, std::numeric_limits<double>::min());
}

namespace {

// worst = max(worst, e), where a NaN error is the worst of all and stays.
bool keep_worst(double& worst, double e) {
    if (std::isnan(worst) || !(std::isnan(e) || e > worst)) return false;
    worst = e;
    return true;
}

// One CPU Backprop<double> and the problem's data, to evaluate J many times cheaply: only the
// perturbed parameter is rewritten between evaluations.
struct Objective {
    Objective(const Network<double>& net, const GradcheckProblem& p)
        : be(make_cpu_backend<double>()),
          bp(*be, net.layout(), p.m),
          x(*be, p.x.size()),
          labels(*be, p.labels.size()),
          y(*be, std::size_t(net.sizes().back()) * std::size_t(p.m)),
          prob(p),
          n0(net.sizes().front()),
          nL(net.sizes().back()) {
        BP_REQUIRE(p.m >= 1 && p.x.size() == std::size_t(n0) * std::size_t(p.m) &&
                       p.labels.size() == std::size_t(p.m),
                   "gradcheck problem does not match the network");
        bp.set_params(net.params());
        x.upload(p.x);
        labels.upload(p.labels);
        y.upload(p.targets(nL));
        n_weights = net.layout().n_weights();
    }
    ConstView<double> xv() const { return ConstView<double>(x.data(), n0, prob.m); }

    // (1/m) sum_x C_x: J without the L2 term.
    double data_cost() { return bp.evaluate(xv(), labels.data(), prob.cost).cost / prob.m; }
    double value() { return data_cost() + bp.l2_term(prob.lambda, prob.n_train); }
    void set(std::size_t i, double v) { be->copy(bp.params_device() + i, &v, sizeof v, CopyKind::host_to_device); }

    std::unique_ptr<Backend<double>> be;
    Backprop<double> bp;
    Buffer<double> x;
    Buffer<int> labels;
    Buffer<double> y;
    GradcheckProblem prob;
    int n0, nL;
    std::size_t n_weights = 0;
};

}  // namespace

std::vector<double> GradcheckProblem::targets(int n_out) const {
    std::vector<double> t(std::size_t(n_out) * std::size_t(m), 0.0);
    for (int j = 0; j < m; ++j) {
        const int label = labels[std::size_t(j)];
        BP_REQUIRE(label >= 0 && label < n_out, "gradcheck label " << label << " outside 0.." << n_out - 1);
        t[std::size_t(j) * std::size_t(n_out) + std::size_t(label)] = 1.0;
    }
    return t;
}

std::vector<double> backprop_gradient(const Network<double>& net, const GradcheckProblem& p) {
    Objective o(net, p);
    o.bp.backprop(o.xv(), ConstView<double>(o.y.data(), o.nL, p.m), Mode::matrix, p.cost);
    std::vector<double> g = o.bp.nabla();
    const std::vector<double>& w = net.params();
    for (std::size_t i = 0; i < g.size(); ++i) {
        g[i] /= p.m;
        if (i < o.n_weights) g[i] += p.lambda / double(p.n_train) * w[i];
    }
    return g;
}

double objective(const Network<double>& net, const GradcheckProblem& p) {
    Objective o(net, p);
    return o.value();
}

GradcheckResult gradcheck(const Network<double>& net, const GradcheckProblem& p, double h,
                          const std::vector<double>* analytic) {
    GradcheckResult r;
    r.analytic = analytic ? *analytic : backprop_gradient(net, p);
    BP_REQUIRE(r.analytic.size() == net.params().size(), "gradient has the wrong length");
    Objective o(net, p);
    const std::vector<double>& w = net.params();
    const double l2_coef = 0.5 * p.lambda / double(p.n_train);
    r.numeric.resize(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
        // Fourth-order central difference: two central differences (steps h and 2h) combined by
        // Richardson extrapolation, truncation error O(h^4), so h can be large enough that the
        // rounding in the cost (~1e-16 of it) stays small against the difference it makes.
        auto diff = [h](double f1, double f_1, double f2, double f_2) {
            return (8.0 * (f1 - f_1) - (f2 - f_2)) / (12.0 * h);
        };
        auto cost_at = [&](double dx) {
            o.set(i, w[i] + dx);
            return o.data_cost();
        };
        const double c1 = cost_at(h), c_1 = cost_at(-h), c2 = cost_at(2 * h), c_2 = cost_at(-2 * h);
        o.set(i, w[i]);
        r.numeric[i] = diff(c1, c_1, c2, c_2);
        if (i < o.n_weights && p.lambda != 0.0) {
            // The L2 term's share: the same differences of (lambda/2n) w_i^2, the only term of
            // the sum that moves (see gradcheck.hpp).
            auto l2_at = [&](double dx) { return l2_coef * (w[i] + dx) * (w[i] + dx); };
            r.numeric[i] += diff(l2_at(h), l2_at(-h), l2_at(2 * h), l2_at(-2 * h));
        }
    }
    r.data_cost = o.data_cost();
    r.floor = gradcheck_floor(r.data_cost, h);
    const ParamLayout& lay = net.layout();
    r.layers.assign(std::size_t(lay.n_layers()) + 1, GradcheckLayer{});
    for (int l = 1; l <= lay.n_layers(); ++l) {
        GradcheckLayer& L = r.layers[std::size_t(l)];
        const std::size_t nw = std::size_t(lay.n(l)) * std::size_t(lay.n(l - 1));
        for (std::size_t k = 0; k < nw; ++k) {
            const std::size_t i = lay.w_offset(l) + k;
            const double e = gradcheck_rel_error(r.analytic[i], r.numeric[i], r.floor);
            if (keep_worst(L.worst_w, e)) L.worst_w_index = k;
        }
        for (std::size_t k = 0; k < std::size_t(lay.n(l)); ++k) {
            const std::size_t i = lay.b_offset(l) + k;
            const double e = gradcheck_rel_error(r.analytic[i], r.numeric[i], r.floor);
            if (keep_worst(L.worst_b, e)) L.worst_b_index = k;
        }
        keep_worst(r.worst, L.worst_w);
        keep_worst(r.worst, L.worst_b);
    }
    r.n_checked = w.size();
    return r;
}

GradcheckProblem random_problem(const std::vector<int>& sizes, int m, Cost cost, double lambda,
                                std::uint64_t seed) {
    GradcheckProblem p;
    p.m = m;
    p.cost = cost;
    p.lambda = lambda;
    p.n_train = 4LL * m;  // any n > 0; makes lambda/n visible at this scale
    const int n0 = sizes.front(), nL = sizes.back();
    p.x.resize(std::size_t(n0) * std::size_t(m));
    std::uint64_t s = splitmix64(seed ^ 0x5eedull);
    for (double& v : p.x) v = double(splitmix64(s++) >> 11) * 0x1.0p-53;
    for (int j = 0; j < m; ++j) p.labels.push_back(int(splitmix64(s++) % std::uint64_t(nL)));
    return p;
}

}  // namespace batchprop
