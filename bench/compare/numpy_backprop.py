#!/usr/bin/env python3
"""The peer in numpy: mini-batch SGD for a fully-connected sigmoid network with the quadratic
cost, backpropagation done either per example (the book's chapter-1 loop: one column at a
time, gradients summed over the mini-batch) or fully matrix-based (the whole mini-batch as one
matrix). Written for this comparison from the algorithm, not copied from the book's code.
Also holds the gzip IDX loader that torch_backprop.py reuses.

  numpy_backprop.py --mode per-example --epochs 3 --out run.jsonl

Prints one line per epoch and, with --out, writes one JSON object per epoch:
{"impl", "mode", "dtype", "device", "epoch", "seconds", "eval_accuracy", "blas_core", "threads"}.
"seconds" is the training time of the epoch (shuffle + mini-batches); evaluation is excluded.
"""

import argparse
import ctypes
import gzip
import json
import os
import struct
import time

import numpy as np

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


# ---- data ------------------------------------------------------------------------------------

def read_idx(path):
    """An IDX file (gzipped or raw, decided by its first bytes) as a uint8 array of its shape."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} values for dimensions {dims}")
    return data.reshape(dims)


def find(directory, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{directory}: no {stem}[.gz]")


def load(directory=DEFAULT_DATA, train_limit=50000):
    """(x_train, y_train, x_test, y_test): images as (784 x n) float64 in [0, 1], one column
    per example (the book's and batchprop's layout), labels as int arrays."""
    def images(stem):
        a = read_idx(find(directory, stem))
        return (a.reshape(a.shape[0], -1).T / 255.0)  # (784 x n)
    x_train = images("train-images-idx3-ubyte")[:, :train_limit]
    y_train = read_idx(find(directory, "train-labels-idx1-ubyte"))[:train_limit].astype(np.int64)
    x_test = images("t10k-images-idx3-ubyte")
    y_test = read_idx(find(directory, "t10k-labels-idx1-ubyte")).astype(np.int64)
    return x_train, y_train, x_test, y_test


def blas_info():
    """(OpenBLAS kernel set, threads) of the BLAS loaded in this process, or 'unknown'."""
    try:
        from threadpoolctl import threadpool_info  # not in Debian's python3-numpy; used when present
        for lib in threadpool_info():
            if lib.get("internal_api") == "openblas":
                return lib.get("architecture", "unknown"), lib.get("num_threads")
    except ImportError:
        pass
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f
                     if ".so" in line.split()[-1] and "blas" in os.path.basename(line.split()[-1])}
        for p in sorted(paths):
            try:
                lib = ctypes.CDLL(p)
                lib.openblas_get_corename.restype = ctypes.c_char_p
                core = lib.openblas_get_corename().decode()
                threads = lib.openblas_get_num_threads() if hasattr(lib, "openblas_get_num_threads") else None
                return core, threads
            except (OSError, AttributeError):
                continue
    except OSError:
        pass
    return "unknown", None


# ---- the network -----------------------------------------------------------------------------

def sigmoid(z):
    with np.errstate(over="ignore"):  # exp(-z) -> inf for z << 0 gives exactly 0, as it should
        return 1.0 / (1.0 + np.exp(-z))


class Net:
    """Weights w[l] (n_l x n_{l-1}) and biases b[l] (n_l x 1), N(0, 1) as in the book."""

    def __init__(self, sizes, dtype, rng):
        self.w = [rng.standard_normal((n, p)).astype(dtype) for p, n in zip(sizes[:-1], sizes[1:])]
        self.b = [rng.standard_normal((n, 1)).astype(dtype) for n in sizes[1:]]

    def feedforward(self, a):
        for w, b in zip(self.w, self.b):
            a = sigmoid(w @ a + b)
        return a

    def gradient(self, x, y):
        """Sum over the columns of x (n_0 x m) of the gradient of C = 1/2 |a - y|^2: the
        forward pass keeps every layer's activation, then the four equations run backwards.
        With one column this is the per-example algorithm; with m columns, the matrix one."""
        acts = [x]
        for w, b in zip(self.w, self.b):
            acts.append(sigmoid(w @ acts[-1] + b))
        a = acts[-1]
        delta = (a - y) * a * (1 - a)                       # BP1, sigma' = a (1 - a)
        nabla_w, nabla_b = [None] * len(self.w), [None] * len(self.b)
        for l in range(len(self.w) - 1, -1, -1):
            nabla_b[l] = delta.sum(axis=1, keepdims=True)   # BP3, summed over the columns
            nabla_w[l] = delta @ acts[l].T                  # BP4, summed over the columns
            if l > 0:
                delta = (self.w[l].T @ delta) * acts[l] * (1 - acts[l])  # BP2
        return nabla_w, nabla_b

    def step(self, x, y, eta, per_example):
        m = x.shape[1]
        if per_example:
            nabla_w = [np.zeros_like(w) for w in self.w]
            nabla_b = [np.zeros_like(b) for b in self.b]
            for j in range(m):
                gw, gb = self.gradient(x[:, j:j + 1], y[:, j:j + 1])
                for l in range(len(self.w)):
                    nabla_w[l] += gw[l]
                    nabla_b[l] += gb[l]
        else:
            nabla_w, nabla_b = self.gradient(x, y)
        for l in range(len(self.w)):
            self.w[l] -= (eta / m) * nabla_w[l]
            self.b[l] -= (eta / m) * nabla_b[l]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["per-example", "matrix"], default="matrix")
    ap.add_argument("--sizes", default="784,30,10")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--eta", type=float, default=3.0)
    ap.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--train-limit", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="append one JSON object per epoch here")
    args = ap.parse_args()

    dtype = np.float32 if args.dtype == "f32" else np.float64
    sizes = [int(s) for s in args.sizes.split(",")]
    x_train, y_train, x_test, y_test = load(args.data, args.train_limit)
    x_train, x_test = x_train.astype(dtype), x_test.astype(dtype)
    n, n_out = x_train.shape[1], sizes[-1]
    y_onehot = np.zeros((n_out, n), dtype=dtype)
    y_onehot[y_train, np.arange(n)] = 1
    rng = np.random.default_rng(args.seed)
    net = Net(sizes, dtype, rng)
    core, threads = blas_info()

    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        for first in range(0, n, args.batch):
            idx = order[first:first + args.batch]
            net.step(x_train[:, idx], y_onehot[:, idx], args.eta, args.mode == "per-example")
        seconds = time.perf_counter() - t0
        correct = int((net.feedforward(x_test).argmax(axis=0) == y_test).sum())
        print(f"Epoch {epoch}: {correct} / {len(y_test)} ({100 * correct / len(y_test):.2f}%)  "
              f"train {seconds:.3f} s  {n / seconds:.0f} examples/s", flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps({"impl": "numpy", "mode": args.mode, "dtype": args.dtype, "device": "cpu",
                                    "epoch": epoch, "seconds": seconds, "eval_accuracy": correct / len(y_test),
                                    "blas_core": core, "threads": threads,
                                    "version": np.__version__}) + "\n")


if __name__ == "__main__":
    main()
