// The cluster step's program (cluster_plan.hpp), written once, as ONE block of the cluster runs
// it: a sequence of phases, each a set of independent items, with a barrier of the block or
// of the whole cluster between phases. The CUDA kernel (kernels/cluster_kernel.cu) runs it on
// N blocks of an sm_90 cluster; the host driver (src/fused/cluster_host.cpp) emulates the N
// blocks, taking turns between cluster barriers in increasing or decreasing rank order, each
// block's items in either order, so the CPU tests check this very code against the library
// path and against itself for every N.
//
// A step, on block `rank` (it owns rows [row0, row0 + rows) of layer 1):
//   F1     its rows of z[1] = w[1] x: lane c of a warp sums chunk c (inputs c, c + 32, ...; its
//          weights in registers), the warp adds the 32 chunk sums pairwise (a butterfly);
//          a = sigma(z + b) goes to every block's a[1] (the exchange; at L = 1, BP1 instead)
//   ==== cluster barrier ====  (every block holds all of a[1]; the fetch of the next batch starts)
//   head   z[l], a[l] for l >= 2, BP1 at the output, BP2 down to delta[2]: replicated on every
//          block, the same code on the same data, so every copy of the head stays the same
//   delta  its own rows of delta[1] = (w[2]^T delta[2]) sigma'(a[1]); b[2], w[3] updated
//   update w[2], its rows of b[1], and of w[1] in the registers that hold them; the next batch
//          converted (its copies waited for): step s + 1's x
// The arithmetic is Backprop::train_step's in matrix mode, as in fused_program.hpp; only the
// order of layer 1's sums differs (fixed, and the same for every N).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "fused/cluster_plan.hpp"
#include "fused/fused_program.hpp"

#ifdef __CUDACC__
#define BP_UNROLL _Pragma("unroll")
#else
#define BP_UNROLL
#endif

namespace batchprop {
namespace fused {

// A lane's weights of layer 1: w(row0 + g R + r, c + 32 t) in w[r][t] (0 where no such weight).
// Registers on the GPU for the whole launch: every index is a constant once loops unroll.
template <class T>
struct ClusterTile {
    static constexpr int kRows = cluster_max_rows(sizeof(T));
    T w[kRows][kClusterMaxK];
};

// Cx, the executor of one block, as this block sees the cluster:
//   rank(), shared()            this block's rank and its shared memory (the plan's offsets, elements of T)
//   items(count, f), barrier()  as fused_program.hpp's Exec, over this block's threads
//   warps(count, f(g, lanes))   warp g < count (<= kClusterWarps - 1) runs f, lanes being its lanes:
//       Lanes::kWidth           how many lanes one call holds: 1 on the GPU (the thread's own), 32 on the host
//       lane(q), tile(q)        the q-th held lane's number and ClusterTile (kept across calls)
//       sum(v)                  v[kWidth] held by each lane -> their pairwise sum over the warp, on every lane
//       first(q)                whether the q-th held lane is the warp's lane 0
//       to_all(offset, v, q)    v stored at offset in every block's shared memory (called for every held lane)
//   fetch(count, expect, f)     the fetch warp (the block's last): f(j) for j < count, lane j each,
//                               after the mbarrier was told to expect `expect` bytes (0: no copies)
//   copy_async(dst, src, bytes) within fetch's f: a bulk asynchronous copy into this block's shared memory
//   fetch_wait(parity)          until the copies of the mbarrier's phase of that parity have landed
//   cluster_barrier()           every thread of every block; the exchange's stores are seen after it
template <class T, class S, class Cx>
BP_FUSED void run_cluster_steps(const ClusterShape& sh, const Args<T, S>& args, int first, int steps, Cx& cx) {
    constexpr int kR = ClusterTile<T>::kRows, kLanes = kClusterLanes;
    const int m = sh.m, L = sh.L, n0 = sh.n[0], n1 = sh.n[1];
    const int rank = cx.rank();
    const int row0 = cluster_row_begin(sh, rank), rows = cluster_row_begin(sh, rank + 1) - row0;
    const int R = sh.R, groups = (rows + R - 1) / R;  // warp g holds rows row0 + g R .. + R - 1
    T* const sm = cx.shared();
    T* const params = args.params;
    // Bulk copies need 16-byte aligned sources: the plan checked the column length, here the images.
    const bool bulk = sh.bulk && reinterpret_cast<std::uintptr_t>(args.images) % 16 == 0;
    unsigned char* const stage = reinterpret_cast<unsigned char*>(sm + sh.stage_off);
    int* const fetched = reinterpret_cast<int*>(sm + sh.e_off);  // the examples being fetched
    const std::size_t src_bytes = std::size_t(n0) * sizeof(S);
    // The terms of chunk c (inputs c, c + 32, ... below n_0).
    auto chunk_len = [&](int c) { return c < n0 ? (n0 - c + kLanes - 1) / kLanes : 0; };
    // Row r of warp g, or -1 past this block's rows (the same on every lane: the warp stays together).
    auto row_of = [&](int g, int r) {
        const int i = row0 + g * R + r;
        return r < R && i < row0 + rows ? i : -1;
    };

    // The batch of step s: the fetch warp reads the examples and labels and starts one bulk copy
    // per column; convert() waits for them and makes x[s % 2] of them. Without bulk copies,
    // convert() reads the columns from global memory itself.
    auto fetch = [&](int s) {
        cx.fetch(m, bulk ? unsigned(std::size_t(m) * src_bytes) : 0u, [&](int j) {
            const int e = args.order[first + s * m + j];
            fetched[j] = e;
            sm[sh.y_off[s & 1] + j] = T(args.labels[e]);  // exact below 2^24 (the plan's limit on n_L)
            if (bulk) cx.copy_async(stage + std::size_t(j) * sh.col_bytes, args.images + std::size_t(e) * n0, src_bytes);
        });
    };
    constexpr int kGroup = 8;  // inputs converted per item
    const int col_groups = (n0 + kGroup - 1) / kGroup;
    auto convert = [&](int s) {
        if (bulk) cx.fetch_wait(s & 1);  // fetch s is the mbarrier's phase s
        T* const x = sm + sh.x_off[s & 1];
        cx.items(m * col_groups, [&](int t) {
            const int j = t / col_groups, k0 = (t - j * col_groups) * kGroup;
            const int count = n0 - k0 < kGroup ? n0 - k0 : kGroup;
            const S* src = bulk ? reinterpret_cast<const S*>(stage + std::size_t(j) * sh.col_bytes) + k0
                                : args.images + std::size_t(fetched[j]) * n0 + k0;
            T* const dst = x + k0 + std::size_t(j) * n0;
            for (int q = 0; q < kGroup; ++q)
                if (q < count) dst[q] = to_input<T>(src[q]);
        });
    };

    // The head's w[l] (l >= 2), of block-local copies; a[l - 1] is a[1] of this step below l = 2.
    const T* a1 = sm + sh.a1_off[0];
    auto a_below = [&](int l) { return l == 2 ? a1 : sm + sh.a_off[l - 1]; };
    constexpr int kUr = kFusedUpdRows, kUc = fused_upd_cols(sizeof(T));
    auto update_tiles = [&](int l) { return fused_tiles(sh.n[l], kUr) * fused_tiles(sh.n[l - 1], kUc); };
    auto update_weight = [&](int l, int t) {  // BP4 and the update of the head's w[l], one tile
        const int rows_l = sh.n[l], inner = sh.n[l - 1], row_tiles = fused_tiles(rows_l, kUr);
        const int kt = t / row_tiles, it = t - kt * row_tiles;
        const int i0 = it * kUr, k0 = kt * kUc;
        update_tile<T, kUr, kUc>(sm + sh.head_w_off[l], rows_l, sm + sh.d_off[l], a_below(l), inner, m, i0,
                                 rows_l - i0 < kUr ? rows_l - i0 : kUr, k0, inner - k0 < kUc ? inner - k0 : kUc,
                                 args.alpha, args.decay);
    };
    // BP3 and the update of b[l](i), the row sum in math.hpp's fixed order (fused_program.hpp's).
    auto update_bias = [&](int l, int i) {
        const T total = row_sum(sm + sh.d_off[l], i, sh.n[l], m);
        T* const b = sm + (l == 1 ? sh.b1_off : sh.head_b_off[l]);
        b[i] = b[i] + args.alpha * total;
    };
    // BP2, one element: delta[l-1](k, j) = (w[l]^T delta[l])(k, j) sigma'(a[l-1](k, j)).
    auto hidden_delta = [&](int l, int k, int j) {
        const int rows_l = sh.n[l], below = sh.n[l - 1];
        const T* w = sm + sh.head_w_off[l] + std::size_t(k) * rows_l;  // column k of w[l]
        const T* d = sm + sh.d_off[l] + std::size_t(j) * rows_l;       // column j of delta[l]
        T g = T(0);
        for (int i = 0; i < rows_l; ++i) g = mul_add(w[i], d[i], g);
        const std::size_t at = std::size_t(k) + std::size_t(j) * below;
        sm[sh.d_off[l - 1] + at] = g * sigmoid_prime_from_a(a_below(l)[at]);
    };

    // ---- the launch's start: this block's rows of w[1] into the lanes' registers, its rows of
    // b[1] and the whole head into shared memory; step 0's batch fetched and converted ----
    cx.warps(groups, [&](int g, auto& lanes) {
        for (int q = 0; q < lanes.kWidth; ++q) {
            const int c = lanes.lane(q), kt = chunk_len(c);
            auto& tile = lanes.tile(q);
            BP_UNROLL for (int r = 0; r < kR; ++r) {
                const int i = row_of(g, r);
                BP_UNROLL for (int t = 0; t < kClusterMaxK; ++t)
                    tile.w[r][t] = i >= 0 && t < kt ? params[sh.w_off[1] + i + std::size_t(c + t * kLanes) * n1] : T(0);
            }
        }
    });
    cx.items(rows, [&](int t) { sm[sh.b1_off + row0 + t] = params[sh.b_off[1] + row0 + t]; });
    for (int l = 2; l <= L; ++l) {
        const int nw = sh.n[l] * sh.n[l - 1];
        cx.items(nw + sh.n[l], [&](int t) {
            if (t < nw) sm[sh.head_w_off[l] + t] = params[sh.w_off[l] + t];
            else sm[sh.head_b_off[l] + t - nw] = params[sh.b_off[l] + t - nw];
        });
    }
    fetch(0);
    cx.barrier();
    convert(0);
    // Every block has started (its shared memory takes its peers' stores) and has step 0's batch.
    cx.cluster_barrier();

    for (int s = 0; s < steps; ++s) {
        const T* const x = sm + sh.x_off[s & 1];
        const T* const label = sm + sh.y_off[s & 1];
        a1 = sm + sh.a1_off[s & 1];

        // F1: this block's rows of layer 1, every column.
        cx.warps(groups, [&](int g, auto& lanes) {
            using Lanes = typename std::remove_reference<decltype(lanes)>::type;
            constexpr int W = Lanes::kWidth;
            for (int j = 0; j < m; ++j) {
                T part[kR][W];
                for (int q = 0; q < W; ++q) {
                    const int c = lanes.lane(q), kt = chunk_len(c);
                    const auto& tile = lanes.tile(q);
                    const T* const xc = x + c + std::size_t(j) * n0;
                    BP_UNROLL for (int r = 0; r < kR; ++r) part[r][q] = T(0);
                    BP_UNROLL for (int t = 0; t < kClusterMaxK; ++t) {
                        if (t >= kt) break;
                        const T v = xc[t * kLanes];
                        BP_UNROLL for (int r = 0; r < kR; ++r) part[r][q] = mul_add(tile.w[r][t], v, part[r][q]);
                    }
                }
                BP_UNROLL for (int r = 0; r < kR; ++r) {
                    const int i = row_of(g, r);
                    if (i < 0) break;
                    const T z = lanes.sum(part[r]);
                    const T act = sigmoid(z + sm[sh.b1_off + i]);
                    const std::size_t at = std::size_t(i) + std::size_t(j) * n1;
                    for (int q = 0; q < W; ++q) {
                        if (L >= 2) lanes.to_all(sh.a1_off[s & 1] + at, act, q);
                        else if (lanes.first(q)) sm[sh.d_off[1] + at] = output_delta(args.cost, act, T(i) == label[j] ? T(1) : T(0));
                    }
                }
            }
        });
        // a[1] complete on every block (at L = 1 there is nothing to exchange).
        if (L >= 2) cx.cluster_barrier();
        else cx.barrier();
        // The next batch's copies run behind the rest of the step (its x buffer, its labels'
        // and the stage were last read before the barrier above).
        if (s + 1 < steps) fetch(s + 1);

        // The head, forward: z[l] = w[l] a[l-1] (in order of k), a[l] = sigma(z + b); BP1 at the output.
        for (int l = 2; l <= L; ++l) {
            const int rows_l = sh.n[l], inner = sh.n[l - 1];
            const T* const w = sm + sh.head_w_off[l];
            const T* const b = sm + sh.head_b_off[l];
            const T* const ap = a_below(l);
            T* const al = sm + sh.a_off[l];
            T* const dl = sm + sh.d_off[l];
            cx.items(rows_l * m, [&](int t) {
                const int j = t / rows_l, i = t - j * rows_l;
                const T* wk = w + i;
                const T* ak = ap + std::size_t(j) * inner;
                T z = T(0);
                for (int k = 0; k < inner; ++k, wk += rows_l) z = mul_add(*wk, ak[k], z);
                const T act = sigmoid(z + b[i]);
                al[t] = act;
                if (l == L) dl[t] = output_delta(args.cost, act, T(i) == label[j] ? T(1) : T(0));
            });
            cx.barrier();
        }
        // Backward through the head, l = L .. 3: delta[l-1], and the updates that no longer
        // wait for anything: b[l], w[l+1] (w[l] is read here, so it changes one phase later).
        for (int l = L; l >= 3; --l) {
            const int n_delta = sh.n[l - 1] * m, n_bias = sh.n[l], n_w = l < L ? update_tiles(l + 1) : 0;
            cx.items(n_delta + n_bias + n_w, [&](int t) {
                if (t < n_delta) {
                    const int j = t / sh.n[l - 1];
                    hidden_delta(l, t - j * sh.n[l - 1], j);
                } else if (t < n_delta + n_bias) {
                    update_bias(l, t - n_delta);
                } else {
                    update_weight(l + 1, t - n_delta - n_bias);
                }
            });
            cx.barrier();
        }
        // This block's rows of delta[1]; b[2], w[3].
        if (L >= 2) {
            const int n_delta = rows * m, n_bias = sh.n[2], n_w = L >= 3 ? update_tiles(3) : 0;
            cx.items(n_delta + n_bias + n_w, [&](int t) {
                if (t < n_delta) {
                    const int j = t / rows;
                    hidden_delta(2, row0 + t - j * rows, j);
                } else if (t < n_delta + n_bias) {
                    update_bias(2, t - n_delta);
                } else {
                    update_weight(3, t - n_delta - n_bias);
                }
            });
            cx.barrier();
        }
        // The rest of the update: w[2]; this block's rows of b[1] and w[1] (in the registers:
        // w = decay w + alpha sum_j delta[1](i, j) x(k, j), j in order, as update_tile); and
        // step s + 1's x.
        {
            const int n_w2 = L >= 2 ? update_tiles(2) : 0;
            cx.items(n_w2 + rows, [&](int t) {
                if (t < n_w2) update_weight(2, t);
                else update_bias(1, row0 + t - n_w2);
            });
            cx.warps(groups, [&](int g, auto& lanes) {
                for (int q = 0; q < lanes.kWidth; ++q) {
                    const int c = lanes.lane(q), kt = chunk_len(c);
                    auto& tile = lanes.tile(q);
                    BP_UNROLL for (int r = 0; r < kR; ++r) {
                        const int i = row_of(g, r);
                        if (i < 0) break;
                        const T* const d = sm + sh.d_off[1] + i;  // delta[1](i, j) at d[j n_1]
                        BP_UNROLL for (int t = 0; t < kClusterMaxK; ++t) {
                            if (t >= kt) break;
                            const T* xk = x + c + t * kLanes;  // x(k, j) at xk[j n_0]
                            const T* dj = d;
                            T acc = T(0);
                            for (int j = 0; j < m; ++j, dj += n1, xk += n0) acc = mul_add(*dj, *xk, acc);
                            tile.w[r][t] = args.alpha * acc + args.decay * tile.w[r][t];
                        }
                    }
                }
            });
            if (s + 1 < steps) {
                // At L = 1 no barrier has passed since the fetch warp wrote the examples that
                // convert() reads (without bulk copies) from its shared memory.
                if (L == 1) cx.barrier();
                convert(s + 1);
            }
            cx.barrier();
        }
    }

    // ---- the launch's end: this block's rows of w[1] and b[1] back; the head from block 0 (every
    // block's copy is the same) ----
    cx.warps(groups, [&](int g, auto& lanes) {
        for (int q = 0; q < lanes.kWidth; ++q) {
            const int c = lanes.lane(q), kt = chunk_len(c);
            const auto& tile = lanes.tile(q);
            BP_UNROLL for (int r = 0; r < kR; ++r) {
                const int i = row_of(g, r);
                if (i < 0) break;
                BP_UNROLL for (int t = 0; t < kClusterMaxK; ++t) {
                    if (t >= kt) break;
                    params[sh.w_off[1] + i + std::size_t(c + t * kLanes) * n1] = tile.w[r][t];
                }
            }
        }
    });
    cx.items(rows, [&](int t) { params[sh.b_off[1] + row0 + t] = sm[sh.b1_off + row0 + t]; });
    if (rank == 0)
        for (int l = 2; l <= L; ++l) {
            const int nw = sh.n[l] * sh.n[l - 1];
            cx.items(nw + sh.n[l], [&](int t) {
                if (t < nw) params[sh.w_off[l] + t] = sm[sh.head_w_off[l] + t];
                else params[sh.b_off[l] + t - nw] = sm[sh.head_b_off[l] + t - nw];
            });
        }
    // No block leaves while a peer may still store to its shared memory (none does after the
    // last step's exchange barrier; kept so the rule holds whatever the steps above become).
    cx.cluster_barrier();
}

}  // namespace fused
}  // namespace batchprop
