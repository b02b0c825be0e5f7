#!/usr/bin/env python3
"""Runs the Google Benchmark suites (bench_train, bench_ops) with JSON output and summarises
them; with --save-results, into the "gbench-train" and "gbench-ops" sections of
bench/RESULTS.md (the committed figures: nothing changes without it). Standard library only.

  bench/gbench_report.py                          # both suites from build/bench (~3-4 min on 2 cores), printed
  bench/gbench_report.py --save-results           # ... and recorded in bench/RESULTS.md
  bench/gbench_report.py --build build-cpu --only train
  bench/gbench_report.py --train-json t.json --ops-json o.json   # summarise earlier runs
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util as bu  # noqa: E402


def run_suite(exe, out_json):
    if not os.access(exe, os.X_OK):
        bu.fail(f"{exe} not found; build the project (it builds bench/ by default) or pass --build DIR")
    t0 = time.time()
    print(f"running {exe} ...", flush=True)
    p = subprocess.run([exe, f"--benchmark_out={out_json}", "--benchmark_out_format=json"],
                       stdout=subprocess.DEVNULL)
    if p.returncode != 0:
        bu.fail(f"{exe} failed (exit status {p.returncode}); nothing recorded")
    return time.time() - t0


def load(path):
    with open(path) as f:
        return json.load(f)


def context_line(ctx, seconds):
    load_avg = ctx.get("load_avg", [float("nan")])[0]
    took = f"{seconds:.0f} s, " if seconds else ""
    return (f"{ctx.get('date', '?')[:10]} (UTC), {took}{ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz "
            f"({bu.cpu_model()}), GPU {ctx.get('gpu', '?')}, OpenBLAS kernels {ctx.get('openblas_core', '?')}, "
            f"load average {load_avg:.2f} at the start")


def si(x, unit=""):
    for div, p in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g} {p}{unit}"
    return f"{x:.3g} {unit}"


def train_section(data, seconds):
    """One table per (kind, device): networks x m, examples/s of both modes and the speedup."""
    rows = {}
    errors = []
    for b in data["benchmarks"]:
        name = b["name"]
        if b.get("error_occurred"):
            errors.append(f"`{name}`: {b.get('error_message', '')}")
            continue
        m = re.match(r"(step|epoch)/(\w+)/([\d-]+)/m:(\d+)/(per-example|matrix)", name)
        if not m:
            continue
        kind, dev, net, batch, mode = m.groups()
        r = rows.setdefault((kind, dev), {}).setdefault((net, int(batch)), {})
        r[mode] = b
    out = []
    for (kind, dev), cells in rows.items():
        what = ("one SGD step (`Backprop::train_step`: backprop + update, fused in matrix mode) on a fixed mini-batch of the first m training images"
                if kind == "step" else "one epoch of `Trainer::train_epoch` (shuffle, gather, backprop, update)")
        out.append(f"### {kind} on {dev}: {what}\n")
        header = ["network", "m", "per-example examples/s", "matrix examples/s", "matrix GFLOP/s", "speedup", "note"]
        table = []
        for (net, batch), r in sorted(cells.items(), key=lambda kv: ([int(x) for x in kv[0][0].split("-")], kv[0][1])):
            pe, mx = r.get("per-example"), r.get("matrix")
            label = (mx or pe or {}).get("label", "")
            note = "; ".join(p.replace("fashion-mnist, ", "") for p in label.split("; ") if "first" in p or "random" in p)
            table.append([f"[{net.replace('-', ',')}]", batch,
                          f"{pe['items_per_second']:,.0f}" if pe else "",
                          f"{mx['items_per_second']:,.0f}" if mx else "",
                          f"{mx['FLOP/s'] / 1e9:.1f}" if mx and "FLOP/s" in mx else "",
                          f"{mx['speedup']:.2f}×" if mx and "speedup" in mx else "",
                          note])
        out.append(bu.md_table(header, table, "lrrrrrl") + "\n")
    share = []
    for b in data["benchmarks"]:
        m = re.match(r"gemm-share/(\w+)/([\d-]+)/m:(\d+)", b["name"])
        if m and not b.get("error_occurred"):
            share.append([m.group(1), f"[{m.group(2).replace('-', ',')}]", m.group(3),
                          f"{b['real_time']:.2f} ms", f"{b['FLOP/s'] / 1e9:.1f}", f"{b['gemm_FLOP/s'] / 1e9:.1f}",
                          f"{100 * b['gemm_share']:.0f}%"])
    if share:
        out.append("### gemm-share: a matrix-mode step against its GEMMs alone\n")
        out.append("`Backprop::train_step` on the wide network against the same GEMM calls (forward, BP2, "
                   "fused BP4 + SGD) on buffers of the same shapes; the share is GEMM seconds ÷ step "
                   "seconds, i.e. the step's throughput as a fraction of what the BLAS reaches on those "
                   "shapes. The rest is the elementwise work.\n")
        out.append(bu.md_table(["device", "network", "m", "step", "step GFLOP/s", "GEMMs alone GFLOP/s", "share"],
                               share, "lllrrrr") + "\n")
    labels = {b.get("label", "") for b in data["benchmarks"] if b.get("label")}
    data_note = "Fashion-MNIST" if any(l.startswith("fashion-mnist") for l in labels) else "random data of the same shape"
    body = f"""## Google Benchmark: bench_train

Generated by `bench/gbench_report.py` (`build/bench/bench_train`) on {context_line(data['context'], seconds)}.
float32, data: {data_note}. Each configuration's gradient is first checked (double: per-example
vs matrix on the CPU; float: the timed path vs that reference); speedup = per-example seconds ÷
matrix seconds for the same device, network and m, both measured in the same process. GFLOP/s
counts the GEMM arithmetic only (forward 2·Σ nₗnₗ₋₁m, backward about twice that).

""" + "\n".join(out)
    if errors:
        body += "\nSkipped: " + "; ".join(errors) + "\n"
    return body


def ops_section(data, seconds):
    header = ["benchmark", "time per call", "GB/s", "of copy", "GFLOP/s", "of SGEMM"]
    table, ceilings, errors = [], [], []
    for b in data["benchmarks"]:
        name = b["name"].split("/min_time")[0]
        if b.get("error_occurred"):
            errors.append(f"`{name}`: {b.get('error_message', '')}")
            continue
        if name.startswith("ceiling/"):
            best = b.get("best_GB/s")
            ceilings.append(f"`{name}`: " + (f"{best:.1f} GB/s (read + write)" if best else f"{b['best_GFLOP/s']:.1f} GFLOP/s")
                            + f" — {b.get('label', '')}")
            continue
        us = b.get("us/call")
        table.append([f"`{name}`", f"{us:.3g} µs" if us is not None else "", f"{b.get('GB/s', 0):.2f}",
                      f"{b.get('of_bw', 0):.2f}", f"{b['FLOP/s'] / 1e9:.1f}" if "FLOP/s" in b else "",
                      f"{b['of_flops']:.2f}" if "of_flops" in b else ""])
    body = f"""## Google Benchmark: bench_ops

Generated by `bench/gbench_report.py` (`build/bench/bench_ops`) on {context_line(data['context'], seconds)}.
Every call is checked against a host reference before it is timed. Ceilings measured in the same
process: {'; '.join(ceilings) or 'none'}. "of copy" above 1 means the operands were served from
cache (the copy ceiling is a 256 MiB DRAM-to-DRAM copy); GEMM shapes are a layer's n × k with
a batch of m columns (fwd W·A, bwd Wᵀ·δ, grad δ·Aᵀ).

<details><summary>All {len(table)} rows</summary>

{bu.md_table(header, table, "lrrrrr")}

</details>
"""
    if errors:
        body += "\nSkipped: " + "; ".join(errors) + "\n"
    return body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 usage="%(prog)s [options]  (--help lists them)")
    ap.add_argument("--build", default=os.path.join(bu.REPO, "build"), help="build directory (%(default)s)")
    ap.add_argument("--only", choices=["train", "ops"])
    ap.add_argument("--train-json", help="summarise this bench_train JSON instead of running it")
    ap.add_argument("--ops-json", help="summarise this bench_ops JSON instead of running it")
    ap.add_argument("--keep-json", help="directory to keep the JSON output in")
    ap.add_argument("--save-results", action="store_true",
                    help="rewrite the gbench sections of bench/RESULTS.md (the committed figures)")
    ap.add_argument("--no-results", action="store_true", help=argparse.SUPPRESS)  # the default now
    args = ap.parse_args()
    if args.save_results and args.no_results:
        ap.error("--save-results and --no-results contradict each other")
    for flag, given in (("--train-json", args.train_json), ("--ops-json", args.ops_json)):
        if given and not os.path.isfile(given):
            ap.error(f"argument {flag}: {given} is not a file")

    out_dir = args.keep_json or os.path.join(args.build, "bench")
    for suite, given in (("train", args.train_json), ("ops", args.ops_json)):
        if args.only and args.only != suite:
            continue
        seconds = 0.0
        path = given
        if not path:
            path = os.path.join(out_dir, f"bench_{suite}.json")
            os.makedirs(out_dir, exist_ok=True)
            seconds = run_suite(os.path.join(args.build, "bench", f"bench_{suite}"), path)
        data = load(path)
        body = train_section(data, seconds) if suite == "train" else ops_section(data, seconds)
        print(body)
        if args.save_results:
            bu.replace_section(f"gbench-{suite}", body)
            print(f"updated {bu.RESULTS} (section gbench-{suite})")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ngbench_report.py: interrupted", file=sys.stderr)
        sys.exit(130)
