#!/usr/bin/env python3
"""Sweep throughput against the number of concurrent models: `batchprop sweep` of K models (one
setting, K seeds: equal work) trained with --jobs 1 (one after another) and with --jobs
min(K, P) (P = the CPU cores this process may use), in model-epochs per second of training.

The time is the sweep's own "Done:" line (epochs trained / model-epochs per second, the rate
printed to 3 significant digits): its wall time from the first model's start to the last
model's end, data loading excluded; each model's epochs include evaluating the validation
images. One model with --jobs 1 is exactly `batchprop train`'s work. The issue's target: P
models at once in at most 1.2x the time of one model alone ("time / one model's"). The last
column is the user + system CPU time of the whole process (data loading included): on a shared
machine whose other load steals cores, equal CPU time for K models one after another and K at
a time says that running them together costs no extra work (no contention between them).

    bench/sweep_scaling.py                        # [784,30,10], m = 10, 3 epochs of 50,000, K = 1, 2, 4
    bench/sweep_scaling.py --models 1,2 --epochs 5 --repeats 5

Runs are interleaved (every configuration once per round) so that a machine's drifting load
hits them alike; the table gives the median of the rounds. Prints only; writes no file.
Standard-library Python; needs the built CLI and Fashion-MNIST (dataset-fashion-mnist)."""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys

import bench_util

DONE = re.compile(r"Done: (\d+) models .*?; (\d+) epochs trained in .*?: ([0-9.e+]+) model-epochs/s")
VALIDATION = 10000  # the book's split: the last 10,000 training images choose


def whole_list(text):
    """'1,2,4' -> [1, 2, 4], each at least 1, none repeated (argparse type)."""
    try:
        values = [int(k) for k in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of whole numbers")
    if any(k < 1 for k in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"'{text}': each number of models at least 1, none repeated")
    return values


def at_least_one(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number")
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} must be at least 1")
    return v


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="\n\n".join(__doc__.split("\n\n")[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--cli", default=os.environ.get("BATCHPROP_CLI", os.path.join(here, "..", "build", "batchprop")),
                   help="the batchprop executable ($BATCHPROP_CLI, else build/batchprop)")
    p.add_argument("--models", type=whole_list, default=[1, 2, 4], help="numbers of models K, comma-separated (1,2,4)")
    p.add_argument("--epochs", type=at_least_one, default=3, help="epochs of each model (3)")
    p.add_argument("--repeats", type=at_least_one, default=3, help="interleaved rounds (3)")
    p.add_argument("--sizes", default="784,30,10", help="the network (784,30,10)")
    p.add_argument("--batch", type=at_least_one, default=10, help="mini-batch size m (10)")
    p.add_argument("--train-limit", type=at_least_one, default=50000,
                   help="train on the first N images (50000; the last 10,000 validate)")
    a = p.parse_args()
    if not (os.path.isfile(a.cli) and os.access(a.cli, os.X_OK)):
        p.error(f"--cli {a.cli}: not an executable (build it: cmake --build build)")
    return a


def common(a):
    return ["--device", "cpu", "--validation", str(VALIDATION), "--train-limit", str(a.train_limit), "--epochs",
            str(a.epochs), "--sizes", a.sizes, "--batch", str(a.batch), "--eta", "0.5", "--cost", "cross-entropy",
            "--init", "scaled"]


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def sweep_seconds(a, k, jobs):
    """(training wall seconds, CPU seconds of the whole process) of a sweep of k models, jobs at a time."""
    cmd = [a.cli, "sweep", *common(a), "--seeds", f"1-{k}" if k > 1 else "1", "--jobs", str(jobs)]
    cpu0 = children_cpu()
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    cpu = children_cpu() - cpu0
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        bench_util.fail(f"{' '.join(cmd[1:])} failed (exit {r.returncode}): {last}")
    m = DONE.search(r.stdout)
    if not m:
        bench_util.fail("no 'Done:' line in the sweep's output: " + " | ".join(r.stdout.strip().splitlines()[-3:]))
    epochs, rate = int(m.group(2)), float(m.group(3))
    return epochs / rate, cpu


def main():
    a = parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    configs = [(1, 1)] + [(k, 1) for k in a.models if k > 1] + [(k, min(k, cores)) for k in a.models if k > 1]
    configs = list(dict.fromkeys(configs))  # K = 1 once
    load = os.getloadavg()[0]
    times = {c: [] for c in configs}
    cpus = {c: [] for c in configs}
    for _ in range(a.repeats):
        for c in configs:
            wall, cpu = sweep_seconds(a, *c)
            times[c].append(wall)
            cpus[c].append(cpu)
    one = statistics.median(times[(1, 1)])
    print(f"# {bench_util.cpu_model()} ({bench_util.vector_width()}), {cores} cores, load average {load:.2f} at the "
          f"start; {a.sizes}, m = {a.batch}, {a.epochs} epochs of {a.train_limit} examples (validation "
          f"{VALIDATION} each epoch); median of {a.repeats} interleaved rounds")
    print("| models | at a time | seconds (each round) | model-epochs/s | time / one model's | CPU s of the process |")
    print("|---:|---:|---:|---:|---:|---:|")
    for k, jobs in configs:
        s = statistics.median(times[(k, jobs)])
        rounds = " / ".join(f"{t:.2f}" for t in times[(k, jobs)])
        print(f"| {k} | {jobs} | {s:.2f} ({rounds}) | {k * a.epochs / s:.2f} | {s / one:.2f} | "
              f"{statistics.median(cpus[(k, jobs)]):.2f} |")


if __name__ == "__main__":
    main()
