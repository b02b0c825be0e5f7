// The plain-loop peer of bench/compare: the fully matrix-based mini-batch SGD step written the
// obvious way in C++, one cblas_sgemm call per product (five for [784,30,10]: two forward, one
// backward, two weight updates with the step folded in, β = 1) and plain loops for σ, the
// output error, σ′ and the biases. No shuffle: mini-batch b is columns [b·m, (b + 1)·m) of the
// training matrix, used in place, so not even a gather is paid. It shares no code with
// batchprop; it is the yardstick for what batchprop adds over calling the BLAS directly.
//
//   cblas_loop --epochs 3 --batch 10 --eta 3.0 --sizes 784,30,10 --out run.jsonl
//
// Prints one line per epoch and, with --out, appends one JSON object per epoch in the format
// of numpy_backprop.py. "seconds" is the SGD time of the epoch (the steps; evaluation
// excluded). Like batchprop it computes with subnormals flushed to zero (saturated sigmoids
// would otherwise send some products into the CPU's slow path) and runs the BLAS on one
// thread (--threads 0: OpenBLAS's default), so the two differ in code, not settings.
#include <cblas.h>
#include <zlib.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// An IDX file of unsigned bytes (gzipped or not: gzread reads both) and its dimensions.
std::vector<std::uint8_t> read_idx(const std::string& path, std::vector<std::uint32_t>& dims) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error(path + ": cannot open");
    std::vector<std::uint8_t> bytes;
    std::uint8_t buf[1 << 16];
    for (int k; (k = gzread(f, buf, sizeof buf)) > 0;) bytes.insert(bytes.end(), buf, buf + k);
    gzclose(f);
    if (bytes.size() < 4 || bytes[2] != 0x08) throw std::runtime_error(path + ": not an IDX file of bytes");
    const std::size_t nd = bytes[3], header = 4 + 4 * nd;
    std::size_t count = 1;
    dims.clear();
    for (std::size_t i = 0; i < nd; ++i) {
        const std::uint8_t* p = &bytes[4 + 4 * i];
        dims.push_back(std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3]);
        count *= dims.back();
    }
    if (bytes.size() != header + count) throw std::runtime_error(path + ": size does not match its dimensions");
    return {bytes.begin() + std::ptrdiff_t(header), bytes.end()};
}

std::string find(const std::string& dir, const std::string& stem) {
    for (const std::string& p : {dir + "/" + stem + ".gz", dir + "/" + stem})
        if (FILE* f = std::fopen(p.c_str(), "rb")) {
            std::fclose(f);
            return p;
        }
    throw std::runtime_error(dir + ": no " + stem + "[.gz]");
}

// Images as (784 x n) column-major floats in [0, 1], labels as ints; at most `limit` examples.
void load(const std::string& dir, const std::string& images, const std::string& labels, int limit,
          std::vector<float>& x, std::vector<int>& y, int& n_in, int& n) {
    std::vector<std::uint32_t> di, dl;
    const std::vector<std::uint8_t> px = read_idx(find(dir, images), di), lb = read_idx(find(dir, labels), dl);
    n_in = int(di[1] * di[2]);
    n = std::min<int>(int(di[0]), limit);
    x.resize(std::size_t(n_in) * n);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = px[i] / 255.0f;
    y.assign(lb.begin(), lb.begin() + n);
}

float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }

struct Args {
    std::vector<int> sizes{784, 30, 10};
    int epochs = 3, batch = 10, train_limit = 50000, threads = 1;
    float eta = 3.0f;
    unsigned seed = 1;
    std::string data = "/usr/share/datasets/fashion-mnist", out;
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (i + 1 >= argc) throw std::runtime_error("missing value after " + k);
        const std::string v = argv[++i];
        if (k == "--epochs") a.epochs = std::stoi(v);
        else if (k == "--batch") a.batch = std::stoi(v);
        else if (k == "--eta") a.eta = std::stof(v);
        else if (k == "--train-limit") a.train_limit = std::stoi(v);
        else if (k == "--threads") a.threads = std::stoi(v);
        else if (k == "--seed") a.seed = unsigned(std::stoul(v));
        else if (k == "--data") a.data = v;
        else if (k == "--out") a.out = v;
        else if (k == "--sizes") {
            a.sizes.clear();
            for (std::size_t p = 0; p < v.size();) {
                const std::size_t q = v.find(',', p);
                a.sizes.push_back(std::stoi(v.substr(p, q - p)));
                p = q == std::string::npos ? v.size() : q + 1;
            }
        } else throw std::runtime_error("unknown option " + k);
    }
    return a;
}

}  // namespace

int main(int argc, char** argv) try {
    const Args args = parse(argc, argv);
#if defined(__x86_64__)
    _mm_setcsr(_mm_getcsr() | 0x8040);  // flush-to-zero and denormals-are-zero, as batchprop's CPU backend
#endif
    if (args.threads > 0) openblas_set_num_threads(args.threads);
    std::vector<float> x, x_test;
    std::vector<int> y, y_test;
    int n_in = 0, n = 0, n_in_test = 0, n_test = 0;
    load(args.data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", args.train_limit, x, y, n_in, n);
    load(args.data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 1 << 30, x_test, y_test, n_in_test, n_test);
    const std::vector<int>& s = args.sizes;
    const int L = int(s.size()) - 1, m = args.batch, n_out = s.back();
    if (s.front() != n_in) throw std::runtime_error("--sizes must start with the image size");

    // w[l]: (s[l+1] x s[l]), b[l]: s[l+1], N(0, 1) as in the book.
    std::mt19937 rng(args.seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<std::vector<float>> w(L), b(L), a(L + 1), delta(L);
    for (int l = 0; l < L; ++l) {
        w[l].resize(std::size_t(s[l + 1]) * s[l]);
        b[l].resize(std::size_t(s[l + 1]));
        for (float& v : w[l]) v = normal(rng);
        for (float& v : b[l]) v = normal(rng);
    }
    // a[l]: (s[l] x m) activations (a[0] is never stored: the batch is read in place);
    // delta[l]: (s[l+1] x m).
    for (int l = 1; l <= L; ++l) a[l].resize(std::size_t(s[l]) * m);
    for (int l = 0; l < L; ++l) delta[l].resize(std::size_t(s[l + 1]) * m);

    const char* core = openblas_get_corename();
    const int threads = openblas_get_num_threads();
    for (int epoch = 1; epoch <= args.epochs; ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int first = 0; first + m <= n; first += m) {  // whole mini-batches, in order
            const float* x0 = x.data() + std::size_t(first) * n_in;
            // Forward: a[l+1] = σ(w[l] a[l] + b[l]).
            for (int l = 0; l < L; ++l) {
                const float* in = l == 0 ? x0 : a[l].data();
                cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, s[l + 1], m, s[l], 1.0f, w[l].data(), s[l + 1],
                            in, s[l], 0.0f, a[l + 1].data(), s[l + 1]);
                for (int j = 0; j < m; ++j)
                    for (int i = 0; i < s[l + 1]; ++i) {
                        float& z = a[l + 1][std::size_t(i) + std::size_t(j) * s[l + 1]];
                        z = sigmoid(z + b[l][std::size_t(i)]);
                    }
            }
            // Output error (quadratic cost): (a - y) σ′, σ′ = a (1 - a).
            for (int j = 0; j < m; ++j)
                for (int i = 0; i < n_out; ++i) {
                    const float av = a[L][std::size_t(i) + std::size_t(j) * n_out];
                    const float yv = y[std::size_t(first + j)] == i ? 1.0f : 0.0f;
                    delta[L - 1][std::size_t(i) + std::size_t(j) * n_out] = (av - yv) * av * (1.0f - av);
                }
            // Backward: delta[l-1] = (w[l]^T delta[l]) σ′(a[l]), then the update of layer l,
            // w[l] = w[l] - (η/m) delta[l] a[l]^T and b[l] = b[l] - (η/m) Σ_j delta[l].
            const float step = args.eta / float(m);
            for (int l = L - 1; l >= 0; --l) {
                const float* in = l == 0 ? x0 : a[l].data();
                if (l > 0) {
                    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, s[l], m, s[l + 1], 1.0f, w[l].data(), s[l + 1],
                                delta[l].data(), s[l + 1], 0.0f, delta[l - 1].data(), s[l]);
                    for (std::size_t i = 0; i < delta[l - 1].size(); ++i) delta[l - 1][i] *= a[l][i] * (1.0f - a[l][i]);
                }
                cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, s[l + 1], s[l], m, -step, delta[l].data(), s[l + 1],
                            in, s[l], 1.0f, w[l].data(), s[l + 1]);
                for (int j = 0; j < m; ++j)
                    for (int i = 0; i < s[l + 1]; ++i) b[l][std::size_t(i)] -= step * delta[l][std::size_t(i) + std::size_t(j) * s[l + 1]];
            }
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

        // Accuracy on the test set, one example at a time (not timed).
        int correct = 0;
        std::vector<float> act, next;
        for (int j = 0; j < n_test; ++j) {
            act.assign(x_test.begin() + std::ptrdiff_t(j) * n_in, x_test.begin() + std::ptrdiff_t(j + 1) * n_in);
            for (int l = 0; l < L; ++l) {
                next.assign(std::size_t(s[l + 1]), 0.0f);
                cblas_sgemv(CblasColMajor, CblasNoTrans, s[l + 1], s[l], 1.0f, w[l].data(), s[l + 1], act.data(), 1,
                            0.0f, next.data(), 1);
                for (int i = 0; i < s[l + 1]; ++i) next[std::size_t(i)] = sigmoid(next[std::size_t(i)] + b[l][std::size_t(i)]);
                act.swap(next);
            }
            int best = 0;
            for (int i = 1; i < n_out; ++i)
                if (act[std::size_t(i)] > act[std::size_t(best)]) best = i;
            correct += best == y_test[std::size_t(j)];
        }
        std::printf("Epoch %d: %d / %d (%.2f%%)  train %.3f s  %.0f examples/s\n", epoch, correct, n_test,
                    100.0 * correct / n_test, seconds, n / seconds);
        std::fflush(stdout);
        if (!args.out.empty()) {
            FILE* f = std::fopen(args.out.c_str(), "a");
            if (!f) throw std::runtime_error(args.out + ": cannot open");
            std::fprintf(f,
                         "{\"impl\": \"cblas loop\", \"mode\": \"matrix\", \"dtype\": \"f32\", \"device\": \"cpu\", "
                         "\"epoch\": %d, \"seconds\": %.6f, \"eval_accuracy\": %.6f, \"blas_core\": \"%s\", "
                         "\"threads\": %d}\n",
                         epoch, seconds, double(correct) / n_test, core, threads);
            std::fclose(f);
        }
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "cblas_loop: error: %s\n", e.what());
    return 1;
}
