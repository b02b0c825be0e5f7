// The fused step's plan (fused_plan.hpp): where each array lives and how the work is cut, for
// one network, batch width and scalar type.
#include "fused/fused_plan.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>

#include "batchprop/check.hpp"

namespace batchprop {

namespace {
// A range of a forward sum is at least this many terms: shorter ones cost more in the second
// pass (and its barrier) than they save.
constexpr int kMinRangeTerms = 16;
}  // namespace

FusedShape plan_fused_step(const ParamLayout& layout, int m, std::size_t elem_size, std::size_t shared_limit) {
    const int L = layout.n_layers();
    BP_REQUIRE(L >= 1 && L <= kFusedMaxLayers,
               "the fused step handles networks of 1.." << kFusedMaxLayers << " weight layers, not " << L);
    BP_REQUIRE(m >= 1, "the fused step needs a batch of at least one column, not " << m);
    BP_REQUIRE(elem_size == 4 || elem_size == 8, "the fused step computes in float or double");
    FusedShape sh;
    sh.L = L;
    sh.m = m;
    long long partial = 0;
    for (int l = 0; l <= L; ++l) sh.n[l] = layout.n(l);
    for (int l = 1; l <= L; ++l) {
        sh.w_off[l] = static_cast<long long>(layout.w_offset(l));
        sh.b_off[l] = static_cast<long long>(layout.b_offset(l));
        const long long outs = static_cast<long long>(sh.n[l]) * m;
        const long long tiles = static_cast<long long>(fused_tiles(sh.n[l], kFusedFwdRows)) * fused_tiles(m, kFusedFwdCols);
        const long long by_threads = std::max(1LL, kFusedThreads / tiles);
        const long long by_terms = std::max(1, sh.n[l - 1] / kMinRangeTerms);
        sh.split[l] = int(std::min(by_threads, by_terms));
        if (sh.split[l] > 1) partial = std::max(partial, outs * sh.split[l]);
    }
    sh.n_params = static_cast<long long>(layout.n_params());
    long long at = 0;
    sh.xld = sh.n[0] | 1;
    const long long x_elems = static_cast<long long>(sh.xld) * m;
    sh.x_off[0] = at, at += x_elems;
    sh.x_off[1] = at, at += x_elems;
    for (int l = 1; l <= L; ++l) {
        const long long elems = static_cast<long long>(sh.n[l]) * m;
        sh.a_off[l] = at, at += elems;
        sh.d_off[l] = at, at += elems;
    }
    sh.p_off = at, at += partial;
    sh.y_off[0] = at, at += m;
    sh.y_off[1] = at, at += m;
    sh.scratch_elems = at;
    // Every item index of a phase counts distinct parameters or scratch elements (plus one
    // batch being gathered): within an int, as the program indexes them.
    // The gather keeps each column's label as a T, exact below 2^24 in float; a label can
    // only match an output neuron below n_L.
    BP_REQUIRE(sh.n[L] < (1 << 24), "the fused step handles up to 2^24 - 1 output neurons, not " << sh.n[L]);
    BP_REQUIRE(sh.n_params + sh.scratch_elems < INT_MAX,
               "network " << sizes_to_string(layout.sizes()) << " at m = " << m << " is too large for the fused step");

    const long long es = static_cast<long long>(elem_size), limit = static_cast<long long>(shared_limit);
    const long long params_bytes = sh.n_params * es, scratch_bytes = sh.scratch_elems * es;
    sh.params_shared = params_bytes <= limit;
    const long long left = limit - (sh.params_shared ? params_bytes : 0);
    sh.scratch_shared = scratch_bytes <= left;
    sh.shared_bytes = (sh.params_shared ? params_bytes : 0) + (sh.scratch_shared ? scratch_bytes : 0);
    return sh;
}

FusedEpochPlan plan_fused_epoch(const ParamLayout& layout, int n, int m, std::size_t elem_size,
                                std::size_t shared_limit) {
    BP_REQUIRE(n >= 1 && m >= 1, "the fused step's epoch: n = " << n << ", m = " << m);
    FusedEpochPlan p;
    p.full = plan_fused_step(layout, m, elem_size, shared_limit);
    if (const int rest = n % m; rest > 0) p.partial = plan_fused_step(layout, rest, elem_size, shared_limit);
    // Either plan may need the more: fewer columns leave more threads to each tile, so the
    // partial batch's sums are cut into more ranges (a larger partial-sum region), and its
    // scratch may then no longer fit in shared memory where the full batch's did.
    for (const FusedShape* s : {&p.full, &p.partial})
        if (!s->scratch_shared) p.global_scratch_elems = std::max(p.global_scratch_elems, s->scratch_elems);
    return p;
}

bool fused_step_preferred(const FusedShape& shape) {
    return shape.params_shared && shape.m <= kFusedAutoMaxBatch;
}

}  // namespace batchprop
