#!/usr/bin/env python3
"""The book's two runs from Python, timed in one run on this machine: the book's per-example
numpy algorithm (network2_numpy.py), batchprop's Python module fed the book's lists and fed
numpy arrays, and the CLI with the same settings. [784, 30, 10], m = 10, 50,000 Fashion-MNIST
training images:
  chapter 1: quadratic cost, N(0, 1) weights, eta = 3.0, test accuracy after each epoch
             (network.py's SGD(training_data, 30, 10, 3.0, test_data=test_data));
  chapter 3: cross-entropy, N(0, 1/n_in) weights, eta = 0.5, lambda = 5.0, the 10,000 training
             images after the 50,000 as evaluation data, all four monitors every epoch.

  bench/compare/python_module.py                 # both chapters; numpy 2 epochs, the rest 30 (~2 min)
  bench/compare/python_module.py --chapter 3 --numpy-epochs 1 --epochs 5 --rounds 1   # a quick look
  bench/compare/python_module.py --device cuda --out gpu.json

Seconds per epoch include the monitors (the book computes them every epoch) and exclude, on
both sides alike, what a run does once: (time of the run - time of the same run with 1 epoch)
/ (epochs - 1), the CLI timed as a process (start-up, reading the data), the module as the SGD
call (turning the data into batchprop's form, setting up). That once-per-run time is its own
column. With few epochs these are differences of two runs of similar length: noisy. "of which
SGD" is the training part as batchprop's own epoch timer reports it (the CLI's --metrics, the
module's epoch_stats): the same timer on both sides (the median over every epoch of every
round), so their ratio is the Python layer's cost on training itself. The module and the CLI
alternate for --rounds rounds; the s/epoch column is each one's fastest round. Also checks that the module's
parameters equal the CLI's, bit for bit (exit status 1 if not). Prints markdown tables;
--out FILE also writes the figures as JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import bench_util as bu  # noqa: E402

CHAPTERS = {
    1: dict(title="chapter 1: quadratic cost, N(0,1) init, eta 3.0, test accuracy each epoch",
            cost="quadratic", init="gaussian", eta=3.0, lmbda=0.0, evaluation="test", all_monitors=False),
    3: dict(title="chapter 3: cross-entropy, N(0,1/n_in) init, eta 0.5, lambda 5, 10,000 evaluation images, "
                  "four monitors",
            cost="cross-entropy", init="scaled", eta=0.5, lmbda=5.0, evaluation="validation", all_monitors=True),
}


def run_chapter(ch, a, cli, batchprop, np, Network2, data):
    c = CHAPTERS[ch]
    (X, y), (Xe, ye), book_train, book_eval = data[c["evaluation"]]
    cost_class = batchprop.CrossEntropyCost if c["cost"] == "cross-entropy" else batchprop.QuadraticCost
    monitors = dict(monitor_evaluation_accuracy=True)
    if c["all_monitors"]:
        monitors.update(monitor_evaluation_cost=True, monitor_training_cost=True, monitor_training_accuracy=True)

    def new_net(device):
        net = batchprop.Network([784, 30, 10], cost_class, device=device, seed=a.seed)
        if c["init"] == "gaussian":
            net.large_weight_initializer()
        return net

    def module_run(train, evaluation):
        def timed(epochs):
            net = new_net(a.device)
            start = time.perf_counter()
            _, ea, _, _ = net.SGD(train, epochs, 10, c["eta"], lmbda=c["lmbda"], evaluation_data=evaluation,
                                  verbose=False, **monitors)
            return time.perf_counter() - start, ea, net
        wall, ea, net = timed(a.epochs)
        one_epoch = timed(1)[0]  # once-per-call work + one epoch, as the CLI's 1-epoch run
        per_epoch = (wall - one_epoch) / (a.epochs - 1)
        return per_epoch, ea[-1], [e["train_seconds"] for e in net.epoch_stats], net, one_epoch - per_epoch

    with tempfile.TemporaryDirectory() as tmp:
        saved, metrics = os.path.join(tmp, "cli.json"), os.path.join(tmp, "m.jsonl")
        command = [cli, "train", "--data", a.data, "--device", a.device, "--cost", c["cost"], "--init", c["init"],
                   "--eta", str(c["eta"]), "--lambda", str(c["lmbda"]), "--batch", "10", "--seed", str(a.seed), "-q",
                   "--monitor", "eval-acc,eval-cost,train-acc,train-cost" if c["all_monitors"] else "eval-acc"]
        if c["evaluation"] == "validation":
            command += ["--validation", "10000"]

        def cli_run():
            start = time.perf_counter()
            subprocess.run(command + ["--epochs", str(a.epochs), "--save", saved, "--metrics", metrics], check=True)
            wall = time.perf_counter() - start
            start = time.perf_counter()
            subprocess.run(command + ["--epochs", "1"], check=True)
            one_epoch = time.perf_counter() - start  # start-up + one epoch
            epochs = bu.parse_metrics(metrics)
            per_epoch = (wall - one_epoch) / (a.epochs - 1)
            return (per_epoch, round(epochs[-1]["eval_accuracy"] * len(ye)), [e["seconds"] for e in epochs], None,
                    one_epoch - per_epoch)

        best, sgd = {}, {}
        for _ in range(a.rounds):
            for name, run in (("module, numpy arrays", lambda: module_run((X, y), (Xe, ye))),
                              ("CLI", cli_run),
                              ("module, the book's lists", lambda: module_run(book_train, book_eval))):
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
        start_net = new_net("cpu")
        peer = Network2(start_net.weights, start_net.biases, cross_entropy=c["cost"] == "cross-entropy")
        epochs = list(peer.SGD(book_train, a.numpy_epochs, 10, c["eta"], c["lmbda"], book_eval,
                               all_monitors=c["all_monitors"], seed=a.seed))
        numpy_row = (min(s for s, _ in epochs), epochs[-1][1])

    print(f"\n{c['title']}; module and CLI {a.epochs} epochs (s/epoch: best of {a.rounds} rounds, once-per-run "
          f"work excluded on both sides), numpy {a.numpy_epochs}\n")
    if a.epochs < 5:
        print(f"(with {a.epochs} epochs each s/epoch is the difference of two runs {a.epochs - 1} epoch(s) apart: "
              "noisy; 10 or more epochs give steadier figures)\n")
    print("| implementation | s/epoch | of which SGD | once per run | accuracy (last epoch) | vs numpy per-example |")
    print("|---|---:|---:|---:|---:|---:|")
    figures = {"title": c["title"], "identical_to_cli": identical, "rows": {}}
    if numpy_row:
        print(f"| numpy, the book's per-example algorithm | {numpy_row[0]:.3f} | - | - | {numpy_row[1]} / {len(ye)} "
              f"(after {a.numpy_epochs}) | 1.0x |")
        figures["rows"]["numpy per-example"] = {"seconds_per_epoch": numpy_row[0], "correct": int(numpy_row[1])}
    for name in ("module, the book's lists", "module, numpy arrays", "CLI"):
        seconds, correct = best[name][:2]
        once = best[name][4]
        sgd_median = bu.median(sgd[name])
        ratio = f"{numpy_row[0] / seconds:.1f}x" if numpy_row else "-"
        label = ("batchprop CLI (process: start-up, data)" if name == "CLI"
                 else f"batchprop module, {name.split(', ', 1)[1]} (SGD call)")
        print(f"| {label} | {seconds:.3f} | {sgd_median:.3f} | {once:.3f} | {correct} / {len(ye)} | {ratio} |")
        figures["rows"][name] = {"seconds_per_epoch": seconds, "sgd_seconds_per_epoch": sgd_median,
                                 "once_per_run_seconds": once, "correct": int(correct)}
    overhead = best["module, numpy arrays"][0] / best["CLI"][0] - 1
    sgd_overhead = bu.median(sgd["module, numpy arrays"]) / bu.median(sgd["CLI"]) - 1
    figures["module_overhead_vs_cli"] = {"epoch": overhead, "sgd": sgd_overhead}
    print(f"\nmodule (numpy arrays) vs CLI: {100 * overhead:+.1f}% per epoch, {100 * sgd_overhead:+.1f}% in SGD; "
          f"parameters identical to the CLI's: {'yes' if identical else 'NO'}")
    return figures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"),
                   help="build directory with python/ (the module) and the CLI (default: build)")
    p.add_argument("--cli", help="the batchprop executable (default: BUILD/batchprop)")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="MNIST-format IDX directory")
    p.add_argument("--chapter", type=int, choices=(1, 3), action="append",
                   help="the run to time: 1 or 3 (default: both; may be repeated)")
    p.add_argument("--epochs", type=int, default=30, help="epochs of the module and CLI runs (default 30)")
    p.add_argument("--numpy-epochs", type=int, default=2, help="epochs of the numpy peer (default 2; 0 skips it)")
    p.add_argument("--rounds", type=int, default=2, help="alternating module/CLI rounds (default 2)")
    p.add_argument("--device", default="cpu", help="the module's and the CLI's device (default cpu)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="also write the figures to this JSON file")
    a = p.parse_args()
    if a.epochs < 2 or a.rounds < 1 or a.numpy_epochs < 0:
        p.error("--epochs must be >= 2, --rounds >= 1, --numpy-epochs >= 0")
    if a.out and not os.path.isdir(os.path.dirname(os.path.abspath(a.out))):
        p.error(f"--out {a.out}: no such directory")
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

    try:
        (X, y), (Xv, yv), (Xt, yt) = batchprop.mnist_loader.load_data(a.data)
        book_train, book_valid, book_test = batchprop.mnist_loader.load_data_wrapper(a.data)
    except (OSError, batchprop.Error) as e:
        p.error(str(e))
    data = {"validation": ((X, y), (Xv, yv), book_train, book_valid),
            "test": ((X, y), (Xt, yt), book_train, book_test)}
    device = batchprop.Network([2, 1], device=a.device).device
    machine = f"{bu.machine_line(bu.machine(cli))}; {bu.vector_width()}"
    print(f"machine: {machine}; module and CLI on {device}")
    figures = {"machine": machine, "device": device, "epochs": a.epochs, "numpy_epochs": a.numpy_epochs,
               "rounds": a.rounds, "chapters": {}}
    for ch in sorted(set(a.chapter or (1, 3))):
        figures["chapters"][ch] = run_chapter(ch, a, cli, batchprop, np, Network2, data)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(figures, f, indent=1)
    return 0 if all(c["identical_to_cli"] for c in figures["chapters"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
