// The fused step's program (fused_plan.hpp), written once: a sequence of phases, each a set
// of independent items, with a barrier between phases. The CUDA kernel (kernels/fused_kernel.cu)
// runs a phase's items across the threads of one block and the barrier is __syncthreads();
// the host driver (src/fused/fused_host.cpp) runs the items one after another, in either order, so
// the CPU tests check this very code against the library path, and a phase whose items
// depended on each other would show up as a difference between the two orders.
//
// The arithmetic is Backprop::train_step's in matrix mode (backprop.cpp): forward
// z[l] = w[l] a[l-1] + b[l], a[l] = sigma(z[l]); BP1 at the output; BP2 down the layers; the
// update w[l] = decay w[l] + alpha delta[l] a[l-1]^T and b[l] = b[l] + alpha rowsum(delta[l])
// with alpha = -eta/m, decay = 1 - eta lambda / n. Only the order of the sums differs from a
// BLAS (fixed here, so runs are reproducible), and the products' multiply-adds are fused.
// Shapes as in backprop.cpp: x = a[0] (n_0 x m), w[l] (n_l x n_{l-1}), a[l], delta[l] (n_l x m),
// all column-major.
#pragma once

#include <cstddef>

#include "batchprop/math.hpp"
#include "fused/fused_plan.hpp"

#ifdef __CUDACC__
#define BP_FUSED __device__ __forceinline__
#else
#define BP_FUSED inline
#endif

namespace batchprop {
namespace fused {

BP_FUSED float mul_add(float a, float b, float c) { return fmaf(a, b, c); }
BP_FUSED double mul_add(double a, double b, double c) { return fma(a, b, c); }

// One launch of the fused step, the one description of it from the trainer to the kernel:
// what its steps read and write and which steps they are. Step s trains on the m examples
// order[*cursor + offset + s m ..] as Backprop::train_step does in matrix mode. Pointers are
// the device's. S is the images' element type (std::uint8_t or float).
template <class T, class S>
struct Args {
    T* params = nullptr;   // flat, ParamLayout's order (the kernel moves them to shared memory and back)
    T* scratch = nullptr;  // FusedShape's scratch layout; unused (may be null) when the plan keeps it shared
    long long scratch_elems = 0;  // elements at scratch (FusedDevice checks the plan's fit)
    const S* images = nullptr;    // (n_0 x n): to_input<T> makes an input of an element
    const int* labels = nullptr;
    const int* order = nullptr;   // the epoch's order of the examples
    const int* cursor = nullptr;  // one int: the position in order of the launch's first example
    int offset = 0;
    int steps = 0;
    Cost cost = Cost::quadratic;
    T alpha = T(0);  // -eta / m
    T decay = T(1);  // 1 - eta lambda / n
};

// One model of a shared launch (FusedDevice::fused_train_models): its plan and its launch.
// Block b of the launch runs models[b] exactly as a launch of its own would (the same program
// and plan: the same bits). Trivially copyable: the array is copied to the device as it is.
template <class T, class S>
struct ModelLaunch {
    FusedShape shape;
    Args<T, S> args;
};

// A register tile of the forward product: acc(r, c) = sum over k in [k0, k1), left to right,
// of w(i0 + r, k) a(k, j0 + c), for the nr <= R rows and nc <= C columns that exist. w is
// (rows x inner) with leading dimension rows, a has leading dimension lda. Index arithmetic
// is pointer increments: 64-bit multiplies in the inner loop cost more than the FMAs.
template <class T, int R, int C>
BP_FUSED void forward_tile(const T* w, int rows, const T* a, int lda, int i0, int nr, int j0, int nc, int k0, int k1,
                           T (&acc)[R][C]) {
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = T(0);
    const T* wk = w + i0 + std::size_t(k0) * std::size_t(rows);
    const T* ak = a + k0 + std::size_t(j0) * std::size_t(lda);
    for (int k = k0; k < k1; ++k, wk += rows, ++ak) {
        T wv[R], av[C];
        for (int r = 0; r < R; ++r) wv[r] = r < nr ? wk[r] : T(0);
        for (int c = 0; c < C; ++c) av[c] = c < nc ? ak[c * lda] : T(0);
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) acc[r][c] = mul_add(wv[r], av[c], acc[r][c]);
    }
}

// A register tile of BP4 and the update: for the nr <= R rows from i0 and nk <= K columns
// from k0 of w (rows x inner, leading dimension rows),
//   w(i, k) = decay w(i, k) + alpha sum_j d(i, j) a(k, j),   j = 0 .. m-1 left to right
// (the GEMM's alpha A B^T + beta C). d: (rows x m), leading dimension rows; a: leading
// dimension lda.
template <class T, int R, int K>
BP_FUSED void update_tile(T* w, int rows, const T* d, const T* a, int lda, int m, int i0, int nr, int k0, int nk,
                          T alpha, T decay) {
    T acc[R][K];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < K; ++c) acc[r][c] = T(0);
    const T* dj = d + i0;
    const T* aj = a + k0;
    for (int j = 0; j < m; ++j, dj += rows, aj += lda) {
        T dv[R], av[K];
        for (int r = 0; r < R; ++r) dv[r] = r < nr ? dj[r] : T(0);
        for (int c = 0; c < K; ++c) av[c] = c < nk ? aj[c] : T(0);
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < K; ++c) acc[r][c] = mul_add(dv[r], av[c], acc[r][c]);
    }
    for (int c = 0; c < K; ++c) {
        if (c >= nk) break;
        T* wc = w + i0 + std::size_t(k0 + c) * std::size_t(rows);
        for (int r = 0; r < R; ++r)
            if (r < nr) wc[r] = alpha * acc[r][c] + decay * wc[r];
    }
}

// `steps` SGD steps; step s trains on the m examples order[first + s m ..]. Exec provides
// items(count, f), calling f(t) for every t in [0, count) in any order, possibly at once, and
// barrier(), after which every write made before it is visible. Ends with a barrier.
template <class T, class S, class Exec>
BP_FUSED void run_steps(const FusedShape& sh, const Args<T, S>& args, int first, int steps, const Exec& ex) {
    const int m = sh.m, L = sh.L, n0 = sh.n[0];
    T* const p = args.params;
    T* const sc = args.scratch;

    // x[s % 2](:, j) = the inputs of example order[first + s m + j], kGroup pixels an item, in
    // two halves: load() issues the group's reads from global memory, store() writes them
    // out. A step's last phase issues the next batch's reads, updates a tile of weights while
    // they are in flight, and only then stores them: the memory latency hides behind the work.
    constexpr int kGroup = 8;
    const int groups = (n0 + kGroup - 1) / kGroup, xld = sh.xld;
    struct Group {
        S v[kGroup];
        int label;
    };
    auto gather_load = [&](int s, int t, Group& g) {
        const int j = t / groups, k0 = (t - j * groups) * kGroup;
        const int count = n0 - k0 < kGroup ? n0 - k0 : kGroup;
        const int e = args.order[first + s * m + j];
        const S* img = args.images + std::size_t(e) * std::size_t(n0) + k0;
        for (int q = 0; q < kGroup; ++q) g.v[q] = q < count ? img[q] : S(0);
        g.label = k0 == 0 ? args.labels[e] : 0;
    };
    auto gather_store = [&](int s, int t, const Group& g) {
        // j, k0, count recomputed rather than carried in Group: fewer registers stay live
        // across the update tile between load and store (the kernel sits at 64).
        const int j = t / groups, k0 = (t - j * groups) * kGroup;
        const int count = n0 - k0 < kGroup ? n0 - k0 : kGroup;
        T* x = sc + sh.x_off[s & 1] + k0 + std::size_t(j) * std::size_t(xld);
        for (int q = 0; q < kGroup; ++q)
            if (q < count) x[q] = to_input<T>(g.v[q]);
        // The column's label too, kept as T (exact below 2^24): the output error then reads
        // it from the scratch instead of waiting on two dependent loads from global memory.
        if (k0 == 0) sc[sh.y_off[s & 1] + j] = T(g.label);
    };
    const int n_gather = groups * m;
    // BP4 and the update of layer l, one tile of w[l] an item (row tiles first).
    constexpr int kUr = kFusedUpdRows, kUc = fused_upd_cols(sizeof(T));
    auto update_tiles = [&](int l) { return fused_tiles(sh.n[l], kUr) * fused_tiles(sh.n[l - 1], kUc); };
    auto update_weight = [&](int l, const T* x, int t) {
        const int rows = sh.n[l], inner = sh.n[l - 1], row_tiles = fused_tiles(rows, kUr);
        const int kt = t / row_tiles, it = t - kt * row_tiles;
        const int i0 = it * kUr, k0 = kt * kUc;
        const T* ap = l == 1 ? x : sc + sh.a_off[l - 1];
        update_tile<T, kUr, kUc>(p + sh.w_off[l], rows, sc + sh.d_off[l], ap, l == 1 ? xld : inner, m, i0,
                                 rows - i0 < kUr ? rows - i0 : kUr, k0, inner - k0 < kUc ? inner - k0 : kUc, args.alpha,
                                 args.decay);
    };
    // BP3 and the update of layer l, one bias: b(i) += alpha sum_j delta[l](i, j), the sum in
    // math.hpp's fixed order (groups of kRowSumGroup columns, then the group sums).
    auto update_bias = [&](int l, int i) {
        const T total = row_sum(sc + sh.d_off[l], i, sh.n[l], m);
        T* b = p + sh.b_off[l];
        b[i] = b[i] + args.alpha * total;
    };
    // BP2, one element: delta[l-1](k, j) = (w[l]^T delta[l])(k, j) sigma'(z[l-1](k, j)).
    auto hidden_delta = [&](int l, int t) {
        const int rows = sh.n[l], below = sh.n[l - 1];
        const int j = t / below, k = t - j * below;
        const T* w = p + sh.w_off[l] + std::size_t(k) * rows;  // column k of w[l]
        const T* d = sc + sh.d_off[l] + std::size_t(j) * rows;  // column j of delta[l]
        T g = T(0);
        for (int i = 0; i < rows; ++i) g = mul_add(w[i], d[i], g);
        const T act = sc[sh.a_off[l - 1] + t];
        sc[sh.d_off[l - 1] + t] = g * sigmoid_prime_from_a(act);
    };

    ex.items(n_gather, [&](int t) {
        Group g{};  // zeroed: items without a gather leave it unused
        gather_load(0, t, g);
        gather_store(0, t, g);
    });
    ex.barrier();
    for (int s = 0; s < steps; ++s) {
        const T* x = sc + sh.x_off[s & 1];
        const T* label = sc + sh.y_off[s & 1];

        // Forward, layer by layer, a tile of z = w a[l-1] an item (row tiles first); at the
        // output, BP1 in the same item.
        for (int l = 1; l <= L; ++l) {
            constexpr int kR = kFusedFwdRows, kC = kFusedFwdCols;
            const int rows = sh.n[l], inner = sh.n[l - 1], q = sh.split[l];
            const int row_tiles = fused_tiles(rows, kR), tiles = row_tiles * fused_tiles(m, kC);
            const T* w = p + sh.w_off[l];
            const T* b = p + sh.b_off[l];
            const T* ap = l == 1 ? x : sc + sh.a_off[l - 1];
            const int lda = l == 1 ? xld : inner;
            T* al = sc + sh.a_off[l];
            T* dl = sc + sh.d_off[l];
            T* part = sc + sh.p_off;
            auto finish = [&](int i, int j, T z) {  // z = (w a[l-1])(i, j)
                const std::size_t t = std::size_t(i) + std::size_t(j) * std::size_t(rows);
                const T act = sigmoid(z + b[i]);
                al[t] = act;
                if (l == L) dl[t] = output_delta(args.cost, act, T(i) == label[j] ? T(1) : T(0));
            };
            // Item u: tile u mod tiles, range u / tiles of the inner sum (q ranges, q >= 1).
            const int range_len = (inner + q - 1) / q;
            ex.items(tiles * q, [&](int u) {
                const int range = u / tiles, tile = u - range * tiles;
                const int ct = tile / row_tiles, rt = tile - ct * row_tiles;
                const int i0 = rt * kR, j0 = ct * kC;
                const int nr = rows - i0 < kR ? rows - i0 : kR, nc = m - j0 < kC ? m - j0 : kC;
                const int k0 = range * range_len, k1 = k0 + range_len < inner ? k0 + range_len : inner;
                T acc[kR][kC];
                forward_tile<T, kR, kC>(w, rows, ap, lda, i0, nr, j0, nc, k0, k1, acc);
                for (int r = 0; r < kR; ++r)
                    for (int c = 0; c < kC; ++c) {
                        if (r >= nr || c >= nc) continue;
                        if (q == 1)
                            finish(i0 + r, j0 + c, acc[r][c]);
                        else
                            part[(std::size_t(i0 + r) + std::size_t(j0 + c) * rows) * q + range] = acc[r][c];
                    }
            });
            if (q > 1) {
                // The q ranges of each sum, added in order.
                ex.barrier();
                ex.items(rows * m, [&](int t) {
                    const T* pt = part + std::size_t(t) * q;
                    T z = pt[0];
                    for (int r = 1; r < q; ++r) z += pt[r];
                    const int j = t / rows;
                    finish(t - j * rows, j, z);
                });
            }
            ex.barrier();
        }

        // Backward, l = L .. 2: delta[l-1] (which reads w[l], so w[l] changes one phase later),
        // and, alongside, the updates that no longer wait for anything: b[l] and w[l+1].
        for (int l = L; l >= 2; --l) {
            const int n_delta = sh.n[l - 1] * m, n_bias = sh.n[l];
            const int n_w = l < L ? update_tiles(l + 1) : 0;
            ex.items(n_delta + n_bias + n_w, [&](int t) {
                if (t < n_delta) hidden_delta(l, t);
                else if (t < n_delta + n_bias) update_bias(l, t - n_delta);
                else update_weight(l + 1, x, t - n_delta - n_bias);
            });
            ex.barrier();
        }
        // The rest of the update: b[1], w[2] (unless L = 1) and w[1]; item t also gathers
        // group t of the next step's batch into the other x buffer (see gather_load).
        {
            const int n_bias = sh.n[1], n_w2 = L >= 2 ? update_tiles(2) : 0, n_w1 = update_tiles(1);
            const int n_update = n_bias + n_w2 + n_w1, n_next = s + 1 < steps ? n_gather : 0;
            ex.items(n_update > n_next ? n_update : n_next, [&](int t) {
                Group g{};  // zeroed: items without a gather leave it unused
                if (t < n_next) gather_load(s + 1, t, g);
                if (t < n_bias) update_bias(1, t);
                else if (t < n_bias + n_w2) update_weight(2, x, t - n_bias);
                else if (t < n_update) update_weight(1, x, t - n_bias - n_w2);
                if (t < n_next) gather_store(s + 1, t, g);
            });
            ex.barrier();
        }
    }
}

}  // namespace fused
}  // namespace batchprop
