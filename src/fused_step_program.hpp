// The fused step's program (fused_step.hpp), written once: a sequence of phases, each a set
// of independent items, with a barrier between phases. The CUDA kernel (kernels/fused_step.cu)
// runs a phase's items across the threads of one block and the barrier is __syncthreads();
// the host driver (src/fused_step.cpp) runs the items one after another, in either order, so
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

#include "batchprop/fused_step.hpp"
#include "batchprop/math.hpp"

#ifdef __CUDACC__
#define BP_FUSED __device__ __forceinline__
#else
#define BP_FUSED inline
#endif

namespace batchprop {
namespace fused {

BP_FUSED float mul_add(float a, float b, float c) { return fmaf(a, b, c); }
BP_FUSED double mul_add(double a, double b, double c) { return fma(a, b, c); }

// What the steps read and write. S is the images' element type (std::uint8_t or float).
template <class T, class S>
struct Args {
    T* params;        // flat, ParamLayout's order (shared or global memory)
    T* scratch;       // FusedShape's scratch layout (shared or global memory)
    const S* images;  // (n_0 x n): to_input<T> makes an input of an element
    const int* labels;
    const int* order;  // the epoch's order of the examples
    Cost cost;
    T alpha;  // -eta / m
    T decay;  // 1 - eta lambda / n
};

// sum over k in [k0, k1) of u[k * u_stride] v[k], left to right.
template <class T>
BP_FUSED T dot(const T* u, int u_stride, const T* v, int k0, int k1) {
    T acc = T(0);
    for (int k = k0; k < k1; ++k) acc = mul_add(u[std::size_t(k) * std::size_t(u_stride)], v[k], acc);
    return acc;
}

// `steps` SGD steps; step s trains on the m examples order[first + s m ..]. Exec provides
// items(count, f), calling f(t) for every t in [0, count) in any order, possibly at once, and
// barrier(), after which every write made before it is visible. Ends with a barrier.
template <class T, class S, class Exec>
BP_FUSED void run_steps(const FusedShape& sh, const Args<T, S>& a, int first, int steps, const Exec& ex) {
    const int m = sh.m, L = sh.L, n0 = sh.n[0];
    T* const p = a.params;
    T* const sc = a.scratch;

    // x[s % 2](:, j) = the inputs of example order[first + s m + j].
    auto gather = [&](int s, int t) {
        T* x = sc + sh.x_off[s & 1];
        const int j = t / n0, k = t - j * n0;
        const std::size_t e = std::size_t(a.order[first + s * m + j]);
        x[t] = to_input<T>(a.images[std::size_t(k) + e * std::size_t(n0)]);
    };
    // BP4 and the update of layer l, one weight: w(i, k) = decay w(i, k) + alpha sum_j
    // delta[l](i, j) a[l-1](k, j) (the GEMM's alpha A B + beta C).
    auto update_weight = [&](int l, const T* x, int t) {
        const int rows = sh.n[l], inner = sh.n[l - 1];
        const int k = t / rows, i = t - k * rows;
        const T* d = sc + sh.d_off[l];
        const T* ap = l == 1 ? x : sc + sh.a_off[l - 1];
        T g = T(0);
        for (int j = 0; j < m; ++j)
            g = mul_add(d[i + std::size_t(j) * rows], ap[k + std::size_t(j) * inner], g);
        T* w = p + sh.w_off[l];
        w[t] = a.alpha * g + a.decay * w[t];
    };
    // BP3 and the update of layer l, one bias: b(i) += alpha sum_j delta[l](i, j), the sum in
    // math.hpp's fixed order (chunks of kRowSumChunk columns, then the chunk sums).
    auto update_bias = [&](int l, int i) {
        const int rows = sh.n[l];
        const T* d = sc + sh.d_off[l];
        T total = T(0);
        for (int c0 = 0; c0 < m; c0 += kRowSumChunk) {
            const int c1 = c0 + kRowSumChunk < m ? c0 + kRowSumChunk : m;
            T part = T(0);
            for (int j = c0; j < c1; ++j) part += d[i + std::size_t(j) * rows];
            total += part;
        }
        T* b = p + sh.b_off[l];
        b[i] = b[i] + a.alpha * total;
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

    ex.items(n0 * m, [&](int t) { gather(0, t); });
    ex.barrier();
    for (int s = 0; s < steps; ++s) {
        const T* x = sc + sh.x_off[s & 1];
        const int* batch = a.order + first + s * m;

        // Forward, layer by layer; at the output, BP1 in the same item.
        for (int l = 1; l <= L; ++l) {
            const int rows = sh.n[l], inner = sh.n[l - 1], q = sh.split[l], outs = rows * m;
            const T* w = p + sh.w_off[l];
            const T* b = p + sh.b_off[l];
            const T* ap = l == 1 ? x : sc + sh.a_off[l - 1];
            T* al = sc + sh.a_off[l];
            T* dl = sc + sh.d_off[l];
            auto finish = [&](int t, T z) {  // z = (w a[l-1])(i, j), t = i + j n_l
                const int j = t / rows, i = t - j * rows;
                const T act = sigmoid(z + b[i]);
                al[t] = act;
                if (l == L) dl[t] = output_delta(a.cost, act, i == a.labels[batch[j]] ? T(1) : T(0));
            };
            if (q == 1) {
                ex.items(outs, [&](int t) {
                    const int j = t / rows, i = t - j * rows;
                    finish(t, dot(w + i, rows, ap + std::size_t(j) * inner, 0, inner));
                });
            } else {
                // q ranges of the inner sum, then their sum in order.
                T* part = sc + sh.p_off;
                const int chunk = (inner + q - 1) / q;
                ex.items(outs * q, [&](int u) {
                    const int r = u / outs, t = u - r * outs;
                    const int j = t / rows, i = t - j * rows;
                    const int k0 = r * chunk, k1 = k0 + chunk < inner ? k0 + chunk : inner;
                    part[std::size_t(t) * q + r] = dot(w + i, rows, ap + std::size_t(j) * inner, k0, k1);
                });
                ex.barrier();
                ex.items(outs, [&](int t) {
                    T z = part[std::size_t(t) * q];
                    for (int r = 1; r < q; ++r) z += part[std::size_t(t) * q + r];
                    finish(t, z);
                });
            }
            ex.barrier();
        }

        // Backward, l = L .. 2: delta[l-1] (which reads w[l], so w[l] changes one phase later),
        // and, alongside, the updates that no longer wait for anything: b[l] and w[l+1].
        for (int l = L; l >= 2; --l) {
            const int n_delta = sh.n[l - 1] * m, n_bias = sh.n[l];
            const int n_w = l < L ? sh.n[l + 1] * sh.n[l] : 0;
            ex.items(n_delta + n_bias + n_w, [&](int t) {
                if (t < n_delta) hidden_delta(l, t);
                else if (t < n_delta + n_bias) update_bias(l, t - n_delta);
                else update_weight(l + 1, x, t - n_delta - n_bias);
            });
            ex.barrier();
        }
        // The rest of the update: b[1], w[2] (unless L = 1) and w[1], with the next step's
        // batch gathered into the other x buffer meanwhile.
        {
            const int n_bias = sh.n[1], n_w2 = L >= 2 ? sh.n[2] * sh.n[1] : 0, n_w1 = sh.n[1] * n0;
            const int n_next = s + 1 < steps ? n0 * m : 0;
            ex.items(n_bias + n_w2 + n_w1 + n_next, [&](int t) {
                if (t < n_bias) update_bias(1, t);
                else if (t < n_bias + n_w2) update_weight(2, x, t - n_bias);
                else if (t < n_bias + n_w2 + n_w1) update_weight(1, x, t - n_bias - n_w2);
                else gather(s + 1, t - n_bias - n_w2 - n_w1);
            });
            ex.barrier();
        }
    }
}

}  // namespace fused
}  // namespace batchprop
