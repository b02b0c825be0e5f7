// Finite-difference gradient checking on the CPU backend in double. See gradcheck.hpp.
#include "batchprop/gradcheck.hpp"

#include <algorithm>
#include <cmath>

#include "batchprop/backprop.hpp"

namespace batchprop {

double gradcheck_rel_error(double a, double n, double floor) {
    return std::abs(a - n) / std::max({std::abs(a), std::abs(n), floor});
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

    double value() {
        const EvalSums s = bp.evaluate(xv(), labels.data(), prob.cost);
        return s.cost / prob.m + bp.l2_term(prob.lambda, prob.n_train);
    }
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
    r.numeric.resize(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
        // Fourth-order central difference: two central differences (steps h and 2h) combined by
        // Richardson extrapolation, truncation error O(h^4), so h can be large enough that
        // rounding in J stays ~1e-13.
        auto at = [&](double dx) {
            o.set(i, w[i] + dx);
            return o.value();
        };
        const double f1 = at(h), f_1 = at(-h), f2 = at(2 * h), f_2 = at(-2 * h);
        o.set(i, w[i]);
        r.numeric[i] = (8.0 * (f1 - f_1) - (f2 - f_2)) / (12.0 * h);
    }
    const ParamLayout& lay = net.layout();
    r.layers.assign(std::size_t(lay.n_layers()) + 1, GradcheckLayer{});
    for (int l = 1; l <= lay.n_layers(); ++l) {
        GradcheckLayer& L = r.layers[std::size_t(l)];
        const std::size_t nw = std::size_t(lay.n(l)) * std::size_t(lay.n(l - 1));
        for (std::size_t k = 0; k < nw; ++k) {
            const std::size_t i = lay.w_offset(l) + k;
            const double e = gradcheck_rel_error(r.analytic[i], r.numeric[i]);
            if (keep_worst(L.worst_w, e)) L.worst_w_index = k;
        }
        for (std::size_t k = 0; k < std::size_t(lay.n(l)); ++k) {
            const std::size_t i = lay.b_offset(l) + k;
            const double e = gradcheck_rel_error(r.analytic[i], r.numeric[i]);
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
