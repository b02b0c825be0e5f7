#!/usr/bin/env python3
"""batchprop in double against the book's algorithm in float64 numpy, step for step.

From one initial model, both train 200 SGD steps (m = 10, no shuffle, the first 2,000
Fashion-MNIST training images) and the final parameters are compared. The numpy side is
written here from the book (network2.py's update_mini_batch, all columns of a mini-batch at
once) and fed the exact float64 inputs k/255; batchprop runs `train --dtype f64 --device cpu
--no-shuffle`. Settings: quadratic cost with eta = 3, cross-entropy with eta = 0.5, quadratic
with eta = 3 and lambda = 5. Passes when every setting ends within 1e-12 (max relative
difference over all parameters, relative to the largest magnitude of each layer's weights or
biases). Exit 77 (skip) without numpy or the data.

  tests/f64_trajectory.py --cli build/batchprop [--data DIR] [--tolerance 1e-12]
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("skipped: numpy is not installed (Debian: python3-numpy)")
    sys.exit(77)

STEPS, M = 200, 10
N = STEPS * M  # training examples: one epoch of 200 steps


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def find(data, base):
    for name in (base + ".gz", base):
        p = os.path.join(data, name)
        if os.path.exists(p):
            return p
    return None


def sigmoid(z):
    # The stable form of 1/(1+e^-z): e^-|z| never overflows (the same function as batchprop's).
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def train_numpy(weights, biases, x, y, cost, eta, lmbda):
    """network2.py's SGD without shuffling, one mini-batch of M columns at a time."""
    w = [np.array(v, dtype=np.float64) for v in weights]
    b = [np.array(v, dtype=np.float64) for v in biases]
    for first in range(0, N, M):
        a = [x[:, first:first + M]]
        for wl, bl in zip(w, b):
            a.append(sigmoid(wl @ a[-1] + bl))
        target = y[:, first:first + M]
        delta = a[-1] - target
        if cost == "quadratic":
            delta = delta * (a[-1] * (1.0 - a[-1]))
        nabla_w, nabla_b = [None] * len(w), [None] * len(w)
        for l in range(len(w) - 1, -1, -1):
            nabla_b[l] = delta.sum(axis=1, keepdims=True)
            nabla_w[l] = delta @ a[l].T
            if l > 0:
                delta = (w[l].T @ delta) * (a[l] * (1.0 - a[l]))
        for l in range(len(w)):
            w[l] = (1.0 - eta * lmbda / N) * w[l] - (eta / M) * nabla_w[l]
            b[l] = b[l] - (eta / M) * nabla_b[l]
    return w, b


def worst(ours, theirs, what):
    out = []
    for l, (p, q) in enumerate(zip(ours, theirs), start=1):
        p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
        scale = max(np.abs(q).max(), 1e-300)
        d = np.abs(p - q) / scale
        i = np.unravel_index(np.argmax(d), d.shape)
        out.append((float(d[i]), f"{what}[{l}]{tuple(int(k) for k in i)}: batchprop {p[i]!r}, numpy {q[i]!r}"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True, help="the batchprop executable")
    ap.add_argument("--data", default=os.environ.get("BATCHPROP_DATA", "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--tolerance", type=float, default=1e-12)
    args = ap.parse_args()
    images, labels = find(args.data, "train-images-idx3-ubyte"), find(args.data, "train-labels-idx1-ubyte")
    if not images or not labels:
        print(f"skipped: no Fashion-MNIST training files in {args.data} (Debian: dataset-fashion-mnist)")
        sys.exit(77)
    pixels = read_idx(images)[:N].reshape(N, -1).T  # (784 x N) bytes, column j = image j
    x = pixels.astype(np.float64) / 255.0           # exact k/255 in float64
    y = np.zeros((10, N))
    y[read_idx(labels)[:N], np.arange(N)] = 1.0

    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        init = os.path.join(tmp, "init.json")
        subprocess.run([args.cli, "train", "--device", "cpu", "--dtype", "f64", "--init", "scaled", "--seed", "5",
                        "--epochs", "1", "--train-limit", "10", "--data", args.data, "--quiet", "--save", init],
                       check=True)
        with open(init) as f:
            start = json.load(f)
        for cost, eta, lmbda in (("quadratic", 3.0, 0.0), ("cross-entropy", 0.5, 0.0), ("quadratic", 3.0, 5.0)):
            out = os.path.join(tmp, "out.json")
            subprocess.run([args.cli, "train", "--device", "cpu", "--dtype", "f64", "--no-shuffle", "--init-model", init,
                            "--cost", cost, "--eta", str(eta), "--lambda", str(lmbda), "--batch", str(M),
                            "--epochs", "1", "--train-limit", str(N), "--data", args.data, "--monitor", "none",
                            "--quiet", "--save", out], check=True)
            with open(out) as f:
                got = json.load(f)
            w, b = train_numpy(start["weights"], start["biases"], x, y, cost, eta, lmbda)
            rows = worst(got["weights"], w, "w") + worst(got["biases"], b, "b")
            diff, where = max(rows)
            ok = diff <= args.tolerance
            failed |= not ok
            print(f"{cost:13s} eta {eta:<3g} lambda {lmbda:<3g}: max relative difference {diff:.2e} "
                  f"({'ok' if ok else 'FAIL'}; worst {where})")
    print(f"{'FAIL' if failed else 'PASS'}: {STEPS} steps in double vs float64 numpy, tolerance {args.tolerance:g}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
