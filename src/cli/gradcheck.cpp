// `batchprop gradcheck`: the backprop gradient of a random network on a random mini-batch
// against finite differences of the cost (gradcheck.hpp), reported per layer. The gradient
// under test comes from the chosen device and dtype; the differences are always taken in
// double on the CPU, the reference.
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "batchprop/backprop.hpp"
#include "batchprop/gradcheck.hpp"
#include "commands.hpp"
#include "compute_options.hpp"
#include "flag_values.hpp"

namespace batchprop::cli {
namespace {

struct GradcheckOptions {
    std::string sizes_text = "784,30,10";
    std::vector<int> sizes;  // parsed from sizes_text
    Cost cost = Cost::quadratic;
    Init init = Init::scaled;
    Mode mode = Mode::matrix;
    double lambda = 0.0;
    int batch = 4;
    std::uint64_t seed = 1;
    double step = 1e-3;
    double tolerance = 0.0;  // 0: the dtype's default
    ComputeOptions compute;
};

// float carries ~7 digits, and a gradient summed over a mini-batch loses a few of them.
double default_tolerance(DType dtype) { return dtype == DType::f64 ? 1e-6 : 1e-2; }

// The objective's gradient as gradcheck.hpp defines it (nabla/m + (lambda/n) w), computed by
// Backprop<T> on the chosen backend.
template <class T>
std::vector<double> gradient_on(const GradcheckOptions& o, const Network<double>& net, const GradcheckProblem& p) {
    auto be = make_backend_for<T>(o.compute, false);
    const ParamLayout& lay = net.layout();
    const int n0 = lay.n(0), nL = lay.n(lay.n_layers());
    Backprop<T> bp(*be, lay, p.m);
    bp.set_params(net.cast<T>().params());
    Buffer<T> x(*be, p.x.size());
    x.upload(std::vector<T>(p.x.begin(), p.x.end()));
    Buffer<T> y(*be, std::size_t(nL) * std::size_t(p.m));
    const std::vector<double> targets = p.targets(nL);
    y.upload(std::vector<T>(targets.begin(), targets.end()));
    bp.backprop(ConstView<T>(x.data(), n0, p.m), ConstView<T>(y.data(), nL, p.m), o.mode, p.cost);
    const std::vector<T> nabla = bp.nabla();
    std::vector<double> g(nabla.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
        g[i] = double(nabla[i]) / p.m;
        if (i < lay.n_weights()) g[i] += p.lambda / double(p.n_train) * net.params()[i];
    }
    return g;
}

void run_gradcheck(GradcheckOptions& o) {
    // Mistakes in the flags are usage errors (exit 2); a failed check is a failure (exit 1).
    as_usage_errors([&] {
        o.sizes = parse_sizes(o.sizes_text);
        if (o.batch < 1) BP_THROW("--batch must be at least 1 (got " << o.batch << ")");
        if (!(o.lambda >= 0.0) || !std::isfinite(o.lambda)) BP_THROW("--lambda must be a finite number >= 0 (got " << o.lambda << ")");
        if (!(o.step > 0.0) || !std::isfinite(o.step)) BP_THROW("--step must be a finite number > 0 (got " << o.step << ")");
        if (o.tolerance == 0.0) o.tolerance = default_tolerance(o.compute.dtype);
        if (!(o.tolerance > 0.0) || !std::isfinite(o.tolerance))
            BP_THROW("--tolerance must be a finite number > 0 (got " << o.tolerance << ")");

        ParamLayout check(o.sizes);  // validates the sizes
    });
    Network<double> net(o.sizes);
    net.init(o.init, o.seed);
    GradcheckProblem p = random_problem(o.sizes, o.batch, o.cost, o.lambda, o.seed);
    if (o.compute.dtype == DType::f32) {
        // Check the float gradient at the float point: round parameters and inputs first, so
        // the double differences and the float gradient describe the same function.
        net = net.cast<float>().cast<double>();
        for (double& v : p.x) v = double(float(v));
    }

    const auto t0 = std::chrono::steady_clock::now();
    std::vector<double> analytic;
    with_dtype(o.compute.dtype, [&](auto s) { analytic = gradient_on<typename decltype(s)::type>(o, net, p); });
    const GradcheckResult r = gradcheck(net, p, o.step, &analytic);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    const ParamLayout& lay = net.layout();
    fmt::print("gradcheck: sizes {}, {} cost, lambda {}, m = {}, {} init, seed {}: {} {} gradient vs. "
               "4th-order central differences in double (h = {})\n",
               sizes_to_string(o.sizes), to_string(o.cost), o.lambda, o.batch, to_string(o.init), o.seed,
               to_string(o.compute.dtype), to_string(o.mode), o.step);
    fmt::print("worst relative error |analytic - numeric| / max(|analytic|, |numeric|, s) per layer, "
               "s = 1e-8 C / h = {:.3g} (C = {:.4g}, the cost without the L2 term):\n",
               r.floor, r.data_cost);
    for (int l = 1; l <= lay.n_layers(); ++l) {
        const GradcheckLayer& L = r.layers[std::size_t(l)];
        const int rows = lay.n(l);
        const std::size_t k = L.worst_w_index;
        const std::string shape = fmt::format("({}x{}):", rows, lay.n(l - 1));
        const std::string where = fmt::format("w({},{})", k % std::size_t(rows), k / std::size_t(rows));
        fmt::print("  layer {} {:<12} weights {:.3e} at {:<12} biases {:.3e} at b({})\n", l, shape, L.worst_w, where,
                   L.worst_b, L.worst_b_index);
    }
    const bool ok = r.worst <= o.tolerance;  // false for NaN too
    fmt::print("worst {:.3e} over {} parameters ({:.1f} s): {} (tolerance {:g})\n", r.worst, r.n_checked, seconds,
               ok ? "ok" : "FAILED", o.tolerance);
    std::fflush(stdout);
    if (!ok)
        BP_THROW("gradient check failed: worst relative error " << r.worst << " exceeds --tolerance " << o.tolerance);
}

}  // namespace

void register_gradcheck(CLI::App& app) {
    auto o = std::make_shared<GradcheckOptions>();
    CLI::App* cmd = app.add_subcommand(
        "gradcheck", "Check backprop's gradient against finite differences on a random network and mini-batch");
    cmd->add_option("--sizes", o->sizes_text, "Neurons per layer, input first, comma-separated")
        ->check(sizes_validator())
        ->type_name("N,N,...")
        ->capture_default_str();
    add_choice_option(*cmd, "--cost", o->cost, "Cost function");
    cmd->add_option("--lambda", o->lambda, "L2 regularisation lambda (its term is part of the checked cost)")
        ->capture_default_str();
    cmd->add_option("--batch,-m", o->batch, "Examples in the mini-batch")->type_name("M")->capture_default_str();
    add_choice_option(*cmd, "--init", o->init,
                      "Initialisation (scaled by default: N(0,1) weights saturate 784 inputs, leaving gradients "
                      "too small for differences to resolve)");
    cmd->add_option("--seed", o->seed, "Random seed (network, inputs, labels)")->check(seed_validator())->capture_default_str();
    add_choice_option(*cmd, "--mode", o->mode, "Which backprop computes the gradient");
    add_compute_options(*cmd, o->compute, DType::f64);
    cmd->add_option("--step", o->step,
                    "Finite-difference step h of the 4th-order central differences (steps h and 2h, "
                    "Richardson-extrapolated: truncation error O(h^4)). A smaller step leaves more rounding in the "
                    "differences, and the error measure's floor s (see --tolerance) grows with it as 1/h")
        ->capture_default_str();
    cmd->add_option("--tolerance", o->tolerance,
                    "Fail (exit 1) when the worst error exceeds this (default 1e-6 for f64, 1e-2 for f32). The "
                    "error is |analytic - numeric| / max(|analytic|, |numeric|, s) with s = 1e-8 C / h (C: the "
                    "cost without the L2 term): relative, except for gradients so small that a step of h moves "
                    "the cost by less than 1e-8 of it, which are measured on that scale. Rounding in C "
                    "(~1e-16 of it) then costs at most ~4e-8; the L2 term's share of each difference is "
                    "taken from the moved weight's own square, exactly");
    cmd->callback([o] { run_gradcheck(*o); });
}

}  // namespace batchprop::cli
