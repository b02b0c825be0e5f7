#!/usr/bin/env python3
"""Reads what scripts/gpu-check.sh's run wrote and prints figures from it. Python's standard
library only, so it also runs on a bare GPU machine.

  gpu_check_figures.py accuracy CPU.jsonl DEV.jsonl [--max-points 0.5]
      Test accuracy per epoch from two `batchprop train --metrics` files; exits 1 when the
      last epochs differ by more than --max-points percentage points, 2 when a file is unusable.
  gpu_check_figures.py epoch-seconds RUN.jsonl
      The median of the epochs' SGD seconds (prints nothing and exits 2 when there is none).
  gpu_check_figures.py bench-rows FILE.json|FILE.log...
      How many benchmark rows a Google Benchmark output holds (JSON, or the console log of a
      run that was cut before the JSON was complete): the first file given that holds any.
  gpu_check_figures.py sweep RESULTS
      The sweep figures (issue 23): model-epochs/s at K = 1 and 132 concurrent models and the time
      against one model's at 64 and 132 (RESULTS/sweep-bench.json, or .txt when cut), and the
      wall seconds of the CLI's 36-model sweep (RESULTS/cli/sweep-cli.seconds). One line each.
  gpu_check_figures.py figures RESULTS
      The key figures: fused-, graph- and eager-mode epoch of [784,30,10] m = 10 float and the seconds
      per step they imply, the CPU backend's epoch on the same machine, per-step time, the
      gemm share of [784,1024,1024,10] m = 1024, per-example vs matrix at m = 10 and 100, and the
      PyTorch peer, then the sweep figures. A figure whose run is missing says so.
"""

import json
import math
import os
import re
import statistics
import sys

STEPS_PER_EPOCH_M10 = 5000  # 50,000 training examples / m = 10


def read_jsonl(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def median_seconds(path):
    try:
        rows = read_jsonl(path)
    except (OSError, ValueError):
        return None
    secs = [r["seconds"] for r in rows if isinstance(r.get("seconds"), (int, float))]
    return statistics.median(secs) if secs else None


# ---- Google Benchmark output -------------------------------------------------------------------

UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
SUFFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def base_name(name):
    """'step/cuda/784-30-10/m:10/matrix/min_time:0.200/manual_time' -> 'step/cuda/784-30-10/m:10/matrix'"""
    return re.split(r"/(?:min_time|iterations|repeats|manual_time|real_time|threads)", name, maxsplit=1)[0]


def bench_rows(path):
    """{base name: {'seconds': real time of one iteration, counters..., 'error': text or None}}"""
    rows = {}
    if path.endswith(".json"):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return bench_rows(path[:-5] + ".log") if os.path.exists(path[:-5] + ".log") else {}
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            r = {k: v for k, v in b.items() if isinstance(v, (int, float))}
            r["seconds"] = b.get("real_time", math.nan) * UNIT.get(b.get("time_unit", "ns"), 1e-9)
            r["error"] = b.get("error_message") if b.get("error_occurred") else None
            rows[base_name(b["name"])] = r
        return rows
    # The console format: NAME  TIME UNIT  CPU UNIT  ITERATIONS  counter=value...  label
    line_re = re.compile(r"^(\S+)\s+([\d.]+) (ns|us|ms|s)\s+([\d.]+) (ns|us|ms|s)\s+(\d+)(.*)$")
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = line_re.match(line.rstrip("\n"))
                if m:
                    r = {"seconds": float(m.group(2)) * UNIT[m.group(3)], "error": None}
                    for k, v, suf in re.findall(r"(\S+)=([\d.]+)([kMGTmun]?)", m.group(7)):
                        r[k] = float(v) * SUFFIX[suf]
                    rows[base_name(m.group(1))] = r
                elif "ERROR OCCURRED" in line:
                    name = line.split()[0]
                    rows[base_name(name)] = {"seconds": math.nan, "error": line.split("ERROR OCCURRED:", 1)[-1].strip()}
    except OSError:
        pass
    return rows


def all_bench_rows(results):
    rows = {}
    d = os.path.join(results, "bench")
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            if name.endswith(".json") or (name.endswith(".log") and not os.path.exists(os.path.join(d, name[:-4] + ".json"))):
                rows.update(bench_rows(os.path.join(d, name)))
    return rows


# ---- commands ---------------------------------------------------------------------------------

def cmd_accuracy(args):
    max_points = 0.5
    if "--max-points" in args:
        i = args.index("--max-points")
        max_points = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        print("usage: gpu_check_figures.py accuracy CPU.jsonl DEV.jsonl [--max-points P]")
        return 2
    try:
        a, b = read_jsonl(args[0]), read_jsonl(args[1])
    except (OSError, ValueError) as e:
        print(f"cannot read the metrics: {e}")
        return 2
    acc_a = [r.get("eval_accuracy") for r in a]
    acc_b = [r.get("eval_accuracy") for r in b]
    if not acc_a or len(acc_a) != len(acc_b) or None in acc_a or None in acc_b:
        print(f"the runs do not report the same epochs' test accuracy ({len(acc_a)} vs {len(acc_b)} epochs)")
        return 2
    per_epoch = ", ".join(f"{100 * x:.2f}/{100 * y:.2f}" for x, y in zip(acc_a, acc_b))
    diff = 100 * abs(acc_a[-1] - acc_b[-1])
    ok = diff <= max_points
    print(f"{'within' if ok else 'OUTSIDE'} {max_points} points: last epoch differs by {diff:.2f} points "
          f"(test accuracy per epoch, {a[0].get('device', '?')}/{b[0].get('device', '?')}: {per_epoch}%)")
    return 0 if ok else 1


def cmd_epoch_seconds(args):
    s = median_seconds(args[0]) if len(args) == 1 else None
    if s is None:
        return 2
    print(f"{s:.6f}")
    return 0


def cmd_bench_rows(args):
    rows = {}
    for path in args:  # the first that holds rows (the JSON, then the console log of a cut run)
        rows = rows or bench_rows(path)
    print(len(rows))
    return 0


def fmt_s(s):
    if s is None or math.isnan(s):
        return "n/a"
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.3f} s"


def sweep_bench_line(rows):
    """The sweep bench's key rows: the GPU rows, else the CPU rows of a self-test."""
    if not any(k.startswith("BM_Sweep") for k in rows):
        return "sweep bench, [784,30,10] m=10 f32: n/a (not run)"
    dev = "Gpu" if any(k.startswith("BM_SweepGpu/") for k in rows) else "Cpu"

    def row(k):
        r = rows.get(f"BM_Sweep{dev}/{k}")
        return r if r and not r.get("error") and "model_epochs_per_s" in r else None

    # The figures on a GPU; a self-test's CPU rows have K = 1 and 2 only.
    rate_ks, ratio_ks = ((1, 132), ((64, 1.5), (132, 2.0))) if dev == "Gpu" else ((1, 2), ((2, None),))
    parts = []
    for k in rate_ks:
        r = row(k)
        parts.append(f"K={k} " + (f"{r['model_epochs_per_s']:.1f} model-epochs/s ({fmt_s(r['seconds'])})" if r else "n/a"))
    for k, target in ratio_ks:
        r = row(k)
        goal = f" (target <= {target})" if target else ""
        parts.append(f"K={k} {r['x_one_model']:.2f}x one model's time{goal}" if r and "x_one_model" in r
                     else f"K={k} x one model n/a")
    r = row(132)
    if r and "x_alone_fastest" in r:
        parts.append(f"K=132 {r['x_alone_fastest']:.1f}x the model-epochs/s of one model alone, fastest launch (target >= 30)")
    errors = [k for k, r in rows.items() if r.get("error")]
    note = f"; {len(errors)} rows with an error, e.g. {errors[0]}: {rows[errors[0]]['error']}" if errors else ""
    label = "cuda" if dev == "Gpu" else "cpu (no GPU rows)"
    return f"sweep bench, {label}, [784,30,10] m=10 f32, 1 epoch per model: " + "; ".join(parts) + note


def sweep_lines(results):
    """The sweep bench's line (sweep-bench.json, or the console log of a cut run) and the CLI sweep's."""
    rows = {}
    for name in ("sweep-bench.json", "sweep-bench.txt"):
        path = os.path.join(results, name)
        if not rows and os.path.exists(path):
            rows = bench_rows(path)
    out = [sweep_bench_line(rows)]
    try:
        with open(os.path.join(results, "cli", "sweep-cli.seconds")) as f:
            secs, dev, *size = f.read().split()  # "SECONDS DEVICE --epochs 30 ..."
        out.append(f"CLI sweep, 36 models (3 etas x 3 lambdas x 4 seeds), {' '.join(size)}: {secs} s wall on {dev}"
                   " (target < 7.9 s = 30 epochs x 262 ms, PyTorch with CUDA graphs, one model)")
    except (OSError, ValueError):
        out.append("CLI sweep, 36 models x 30 epochs: n/a (not run)")
    return out


def cmd_sweep(args):
    if len(args) != 1:
        print("usage: gpu_check_figures.py sweep RESULTS")
        return 2
    print("\n".join(sweep_lines(args[0])))
    return 0


def cmd_figures(args):
    results = args[0]
    cli = os.path.join(results, "cli")
    out = []

    def epoch(name):
        return median_seconds(os.path.join(cli, name))

    dev = "cuda"
    for label, f in (("fused", "f32-fused.jsonl"), ("graph", "f32-graph.jsonl"), ("eager", "f32-eager.jsonl"),
                     ("default launch", "f32-dev.jsonl")):
        s = epoch(f)
        if s is not None:
            dev = read_jsonl(os.path.join(cli, f))[0].get("device", dev)
            out.append(f"{dev} epoch, {label}, [784,30,10] m=10 f32 (median of 3, CLI): {fmt_s(s)}"
                       f" = {1e6 * s / STEPS_PER_EPOCH_M10:.1f} us per step")
    if not out:
        out.append("GPU epoch, [784,30,10] m=10 f32: n/a (no GPU training run)")
    s = epoch("f32-cpu.jsonl")
    out.append(f"cpu epoch, [784,30,10] m=10 f32 (median of 3, CLI, this machine): {fmt_s(s)}")

    rows = all_bench_rows(results)
    devs = {k.split("/")[1] for k in rows if k.count("/") >= 2}
    bdev = "cuda" if "cuda" in devs else (sorted(devs)[0] if devs else "cuda")

    def row(name):
        return rows.get(name)

    r = row(f"step/{bdev}/784-30-10/m:10/matrix")
    out.append(f"{bdev} step, [784,30,10] m=10 f32 matrix (bench_train): "
               + (f"{1e6 * r['seconds']:.1f} us" if r and not r.get("error") else "n/a (not measured)"))
    r = row(f"gemm-share/{bdev}/784-1024-1024-10/m:1024")
    if r and not r.get("error") and "gemm_share" in r:
        flops = r.get("gemm_FLOP/s")
        out.append(f"{bdev} gemm share, [784,1024,1024,10] m=1024: {r['gemm_share']:.3f} of the step is GEMM time"
                   + (f" (GEMMs at {flops / 1e9:.0f} GFLOP/s)" if flops else "") + f", step {fmt_s(r['seconds'])}")
    else:
        out.append(f"{bdev} gemm share, [784,1024,1024,10] m=1024: n/a (not measured)")
    # GPU epoch rows carry the launch (/graph or /eager); steps and CPU epochs carry none.
    for m in (10, 100):
        parts = []
        for kind, suffix in (("step", ""), ("epoch", "/graph"), ("epoch", "/eager"), ("epoch", "")):
            pe = row(f"{kind}/{bdev}/784-30-10/m:{m}/per-example{suffix}")
            mx = row(f"{kind}/{bdev}/784-30-10/m:{m}/matrix{suffix}")
            if pe and mx and not pe.get("error") and not mx.get("error"):
                parts.append(f"{kind}{suffix.replace('/', ' ')} {fmt_s(pe['seconds'])} vs {fmt_s(mx['seconds'])}"
                             f" = {pe['seconds'] / mx['seconds']:.1f}x")
        out.append(f"{bdev} per-example vs matrix, [784,30,10] m={m}: " + ("; ".join(parts) if parts else "n/a (not measured)"))
    g, e = row(f"epoch/{bdev}/784-30-10/m:10/matrix/graph"), row(f"epoch/{bdev}/784-30-10/m:10/matrix/eager")
    if g and e and not g.get("error") and not e.get("error"):
        out.append(f"{bdev} epoch graph vs eager, [784,30,10] m=10 f32 matrix (bench_train): {fmt_s(g['seconds'])} vs "
                   f"{fmt_s(e['seconds'])} = {e['seconds'] / g['seconds']:.1f}x")
    f = row(f"epoch/{bdev}/784-30-10/m:10/matrix/fused")
    cpu = epoch("f32-cpu.jsonl")
    if f and not f.get("error"):
        vs = [f"{fmt_s(f['seconds'])} = {1e6 * f['seconds'] / STEPS_PER_EPOCH_M10:.1f} us per step"]
        if g and not g.get("error"):
            vs.append(f"{g['seconds'] / f['seconds']:.1f}x graph")
        if e and not e.get("error"):
            vs.append(f"{e['seconds'] / f['seconds']:.1f}x eager")
        if cpu is not None:
            vs.append(f"{cpu / f['seconds']:.1f}x the CPU backend here")
        out.append(f"{bdev} epoch fused, [784,30,10] m=10 f32 matrix (bench_train): " + ", ".join(vs)
                   + " (targets: <= 60 ms, >= 2x eager, faster than the CPU)")
    parts = []
    for m in (1, 10, 32, 100, 1000):
        f, g = row(f"epoch/{bdev}/784-30-10/m:{m}/matrix/fused"), row(f"epoch/{bdev}/784-30-10/m:{m}/matrix/graph")
        if f and g and not f.get("error") and not g.get("error"):
            parts.append(f"m={m} {fmt_s(f['seconds'])} vs {fmt_s(g['seconds'])}")
    if parts:
        out.append(f"{bdev} epoch fused vs graph, [784,30,10] f32: " + "; ".join(parts))
    for label, name in (("nn.Linear + autograd", "torch-cuda.jsonl"), ("CUDA graphs", "torch-cuda-graphs.jsonl")):
        s = median_seconds(os.path.join(results, "peer", name))
        out.append(f"torch ({label}) cuda epoch, [784,30,10] m=10 f32: " + (fmt_s(s) if s is not None else "n/a (not run)"))
    out += sweep_lines(results)
    print("\n".join(out))
    return 0


def main():
    cmds = {"accuracy": cmd_accuracy, "epoch-seconds": cmd_epoch_seconds, "bench-rows": cmd_bench_rows,
            "sweep": cmd_sweep, "figures": cmd_figures}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__.strip().split("\n\n")[0])
        print("commands: " + ", ".join(cmds))
        return 2
    return cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
