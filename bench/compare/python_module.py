#!/usr/bin/env python3
"""The book's chapter-3 run from Python, timed in one run on this machine: the book's
per-example numpy algorithm (network2_numpy.py), batchprop's Python module fed the book's lists
and fed numpy arrays, and the CLI with the same settings. [784, 30, 10], cross-entropy,
eta = 0.5, lambda = 5, m = 10, 50,000 Fashion-MNIST training images, the 10,000 after them as
evaluation data, all four monitors every epoch.

  bench/compare/python_module.py                     # numpy 2 epochs, the rest 30; ~1-2 min
  bench/compare/python_module.py --numpy-epochs 1 --epochs 5 --rounds 1   # a quick look
  bench/compare/python_module.py --device cuda --out gpu.json

Seconds per epoch include the monitors (the book computes them every epoch) and, for the
module, turning the data into batchprop's form; the CLI's exclude its start-up: (time of the
run - time of the same command with --epochs 1) / (epochs - 1). "of which SGD" is the training part as batchprop's own
epoch timer reports it (the CLI's --metrics, the module's epoch_stats): the same timer on both
sides (the median over every epoch of every round), so their ratio is the Python layer's cost
on training itself. The module and the CLI alternate for --rounds rounds; each
row reports its fastest round. Also checks that the module's parameters equal the CLI's, bit
for bit. Prints a markdown table; --out FILE also writes the figures as JSON.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        model = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name"))
        flags = next(line for line in info.splitlines() if line.startswith("flags"))
        width = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "SSE"
        return f"{model}, {os.cpu_count()} CPUs, {width}"
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"),
                   help="build directory with python/ (the module) and the CLI (default: build)")
    p.add_argument("--cli", help="the batchprop executable (default: BUILD/batchprop)")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="MNIST-format IDX directory")
    p.add_argument("--epochs", type=int, default=30, help="epochs of the module and CLI runs (default 30)")
    p.add_argument("--numpy-epochs", type=int, default=2, help="epochs of the numpy peer (default 2; 0 skips it)")
    p.add_argument("--rounds", type=int, default=2, help="alternating module/CLI rounds (default 2)")
    p.add_argument("--device", default="cpu", help="the module's and the CLI's device (default cpu)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="also write the figures to this JSON file")
    a = p.parse_args()
    if a.epochs < 2 or a.rounds < 1 or a.numpy_epochs < 0:
        p.error("--epochs must be >= 2, --rounds >= 1, --numpy-epochs >= 0")
    cli = a.cli or os.path.join(a.build, "batchprop")
    if not os.access(cli, os.X_OK):
        p.error(f"no batchprop executable at {cli} (build first, or pass --cli)")
    sys.path.insert(0, os.path.join(a.build, "python"))
    try:
        import numpy as np
        import batchprop
    except ImportError as e:
        p.error(f"cannot import the module ({e}); build it (pybind11-dev, python3-dev) or pass --build")
    sys.path.insert(0, HERE)
    from network2_numpy import Network2

    settings = dict(epochs=a.epochs, mini_batch_size=10, eta=0.5, lmbda=5.0)
    monitors = dict(monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                    monitor_training_cost=True, monitor_training_accuracy=True)
    try:
        (X, y), (Xv, yv), _ = batchprop.mnist_loader.load_data(a.data)
        book_train, book_valid, _ = batchprop.mnist_loader.load_data_wrapper(a.data)
    except (OSError, batchprop.Error) as e:
        p.error(str(e))
    rows = []

    def module_run(data, evaluation):
        net = batchprop.Network([784, 30, 10], batchprop.CrossEntropyCost, device=a.device, seed=a.seed)
        start = time.perf_counter()
        ec, ea, tc, ta = net.SGD(data, evaluation_data=evaluation, verbose=False, **settings, **monitors)
        wall = (time.perf_counter() - start) / a.epochs
        return wall, ea[-1], [e["train_seconds"] for e in net.epoch_stats], net

    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "cli.json")
        command = [cli, "train", "--data", a.data, "--device", a.device, "--cost", "cross-entropy", "--init", "scaled",
                   "--eta", "0.5", "--lambda", "5", "--batch", "10", "--validation", "10000", "--seed", str(a.seed),
                   "--monitor", "eval-acc,eval-cost,train-acc,train-cost", "-q"]

        def cli_run():
            start = time.perf_counter()
            subprocess.run(command + ["--epochs", str(a.epochs), "--save", saved, "--metrics", os.path.join(tmp, "m.jsonl")],
                           check=True)
            wall = time.perf_counter() - start
            start = time.perf_counter()
            subprocess.run(command + ["--epochs", "1"], check=True)
            one_epoch = time.perf_counter() - start  # start-up + one epoch
            with open(os.path.join(tmp, "m.jsonl")) as f:
                epochs = [json.loads(line) for line in f]
            return ((wall - one_epoch) / (a.epochs - 1), round(epochs[-1]["eval_accuracy"] * len(yv)),
                    [e["seconds"] for e in epochs])

        best, sgd = {}, {}
        for _ in range(a.rounds):
            for name, run in (("module, numpy arrays", lambda: module_run((X, y), (Xv, yv))),
                              ("CLI", cli_run),
                              ("module, the book's lists", lambda: module_run(book_train, book_valid))):
                result = run()
                sgd.setdefault(name, []).extend(result[2])  # every epoch of every round
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
        with open(saved) as f:
            cli_model = json.load(f)
        net = best["module, numpy arrays"][3]
        identical = all(np.array_equal(mine, np.array(theirs)) for mine, theirs in
                        zip(net.weights + net.biases, cli_model["weights"] + cli_model["biases"]))

    numpy_row = None
    if a.numpy_epochs:
        start_net = batchprop.Network([784, 30, 10], batchprop.CrossEntropyCost, device="cpu", seed=a.seed)
        peer = Network2(start_net.weights, start_net.biases)
        epochs = list(peer.SGD(book_train, a.numpy_epochs, 10, 0.5, 5.0, book_valid, seed=a.seed))
        numpy_row = (min(s for s, _ in epochs), epochs[-1][1])

    device = best["module, numpy arrays"][3].device
    print(f"machine: {cpu_model()}; module and CLI on {device}")
    print(f"chapter-3 run: [784,30,10], cross-entropy, eta 0.5, lambda 5, m 10, 50,000 training + 10,000 evaluation "
          f"images, four monitors; module/CLI {a.epochs} epochs (best of {a.rounds} rounds), numpy {a.numpy_epochs}\n")
    print("| implementation | s/epoch | of which SGD | evaluation accuracy (last epoch) | vs numpy per-example |")
    print("|---|---:|---:|---:|---:|")
    if numpy_row:
        print(f"| numpy, the book's per-example network2 | {numpy_row[0]:.3f} | - | {numpy_row[1]} / {len(yv)} "
              f"(after {a.numpy_epochs}) | 1.0x |")
    figures = {"machine": cpu_model(), "device": device, "epochs": a.epochs, "numpy_epochs": a.numpy_epochs,
               "rounds": a.rounds, "identical_to_cli": identical, "rows": {}}
    for name in ("module, the book's lists", "module, numpy arrays", "CLI"):
        seconds, correct = best[name][:2]
        sgd_median = statistics.median(sgd[name])
        ratio = f"{numpy_row[0] / seconds:.1f}x" if numpy_row else "-"
        label = "batchprop CLI" if name == "CLI" else f"batchprop module, {name.split(', ', 1)[1]}"
        print(f"| {label} | {seconds:.3f} | {sgd_median:.3f} | {correct} / {len(yv)} | {ratio} |")
        figures["rows"][name] = {"seconds_per_epoch": seconds, "sgd_seconds_per_epoch": sgd_median,
                                 "evaluation_correct": int(correct)}
    if numpy_row:
        figures["rows"]["numpy per-example"] = {"seconds_per_epoch": numpy_row[0], "evaluation_correct": int(numpy_row[1])}
    overhead = best["module, numpy arrays"][0] / best["CLI"][0] - 1
    sgd_overhead = statistics.median(sgd["module, numpy arrays"]) / statistics.median(sgd["CLI"]) - 1
    figures["module_overhead_vs_cli"] = {"epoch": overhead, "sgd": sgd_overhead}
    print(f"\nmodule (numpy arrays) vs CLI: {100 * overhead:+.1f}% per epoch, {100 * sgd_overhead:+.1f}% in SGD "
          f"(as each times its epochs); parameters identical to the CLI's: {'yes' if identical else 'NO'}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(figures, f, indent=1)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
