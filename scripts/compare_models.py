#!/usr/bin/env python3
"""Compare the parameters of two batchprop model files (network2.py's JSON format).

  compare_models.py GOT.json WANT.json [--tolerance 1e-12]
  compare_models.py --exact A.json B.json

Prints one line: the worst difference, where it is (weights or biases, layer, row, column) and
both values; exits 0 when every parameter is within the tolerance, 1 when one is not, 2 when a
file cannot be read or the models differ in shape. Python's standard library only, so it also
runs on a bare GPU machine.

The tolerance is normwise per layer, as in tests/support/gpu_compare.hpp (floor = 1): element i of a
layer's weights (or biases) passes when |got_i - want_i| <= tol * max(|want_i|, max_j |want_j|).
Sums taken in a different order (cuBLAS vs OpenBLAS) cancel differently element by element, so
a small element may carry the rounding of the layer's large ones; the plain elementwise
relative difference of the worst element is printed too, for information. --exact asks for
identical values (bitwise, since the files hold each number in its shortest round-trip form).
"""

import argparse
import json
import math
import sys


def load(path):
    try:
        with open(path) as f:
            m = json.load(f)
        sizes, weights, biases = m["sizes"], m["weights"], m["biases"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"compare_models: cannot read {path}: {e}")
        sys.exit(2)
    return sizes, weights, biases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("got")
    ap.add_argument("want")
    ap.add_argument("--tolerance", type=float, default=1e-12, help="normwise relative, per layer (1e-12)")
    ap.add_argument("--exact", action="store_true", help="identical values required")
    args = ap.parse_args()
    tol = 0.0 if args.exact else args.tolerance

    g_sizes, g_w, g_b = load(args.got)
    w_sizes, w_w, w_b = load(args.want)
    if g_sizes != w_sizes:
        print(f"compare_models: sizes differ: {g_sizes} vs {w_sizes}")
        sys.exit(2)

    worst = None  # (ratio, what, layer, row, col, got, want, elementwise rel)
    n_bad = n_total = n_diff = 0
    for what, got_layers, want_layers in (("weights", g_w, w_w), ("biases", g_b, w_b)):
        if len(got_layers) != len(want_layers):
            print(f"compare_models: {what}: {len(got_layers)} vs {len(want_layers)} layers")
            sys.exit(2)
        for layer, (gl, wl) in enumerate(zip(got_layers, want_layers), start=1):
            if len(gl) != len(wl) or any(len(a) != len(b) for a, b in zip(gl, wl)):
                print(f"compare_models: {what} of layer {layer} differ in shape")
                sys.exit(2)
            scale = max((abs(v) for row in wl for v in row), default=0.0)
            for i, (grow, wrow) in enumerate(zip(gl, wl)):
                for j, (a, b) in enumerate(zip(grow, wrow)):
                    n_total += 1
                    if not (math.isfinite(a) and math.isfinite(b)):
                        print(f"compare_models: non-finite value in {what} layer {layer} [{i}][{j}]: "
                              f"got {a!r}, want {b!r}")
                        sys.exit(1)
                    diff = abs(a - b)
                    if diff == 0.0:
                        continue
                    n_diff += 1
                    allowed = tol * max(abs(b), scale)
                    ratio = diff / allowed if allowed > 0 else math.inf
                    if ratio > 1.0:
                        n_bad += 1
                    if worst is None or ratio > worst[0]:
                        rel = diff / max(abs(a), abs(b))
                        worst = (ratio, what, layer, i, j, a, b, rel, scale)

    if worst is None:
        print(f"identical: all {n_total} parameters equal")
        return 0
    ratio, what, layer, i, j, a, b, rel, scale = worst
    where = f"{what} of layer {layer} [{i}][{j}]" if what == "weights" else f"{what} of layer {layer} [{i}]"
    normwise = abs(a - b) / max(abs(b), scale)
    verdict = "within" if n_bad == 0 else f"{n_bad} of {n_total} outside"
    print(f"{verdict} tolerance {tol:g}: worst normwise relative difference {normwise:.3e} at {where}: "
          f"got {a!r}, want {b!r} (elementwise {rel:.3e}; {n_diff} of {n_total} parameters differ)")
    return 0 if n_bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
