#!/usr/bin/env python3
"""batchprop side by side with its peers (numpy, PyTorch), one run on one machine: the same
network [784,30,10], data (the first 50,000 Fashion-MNIST training images; accuracy on the
10,000 test images), hyper-parameters (eta = 3.0, m = 10, quadratic cost, sigmoid, N(0,1)
init) and number of epochs. Run it through run.sh, which picks a Python with numpy and torch.

Every implementation runs in the same environment: OPENBLAS_CORETYPE is set to the kernel set
batchprop runs with (OpenBLAS 0.3.21 may not recognise a recent CPU and fall back to slow
"Prescott" kernels; batchprop corrects that for itself, and here numpy and torch get the same
kernels), and each row records the kernels and threads it actually used.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench_util as bu  # noqa: E402

SIZES, BATCH, ETA = "784,30,10", 10, 3.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", help="batchprop executable (default: $BATCHPROP_CLI or build/batchprop)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per implementation; at least 3 (%(default)s)")
    ap.add_argument("--train-limit", type=int, help="train on the first N images only (quick checks)")
    ap.add_argument("--only", help="comma-separated subset: batchprop,numpy,torch")
    ap.add_argument("--no-results", action="store_true", help="do not touch bench/RESULTS.md")
    args = ap.parse_args()
    if args.epochs < 3 and not args.train_limit:
        sys.exit("error: --epochs must be at least 3 (the table shows the median of them)")

    cli = bu.find_cli(args.cli)
    info = bu.cli_info(cli)
    mach = bu.machine(info_text=info)
    gpus = bu.gpu_names(info)
    core = mach["openblas_core"]
    env = dict(os.environ)
    if core != "unknown" and "OPENBLAS_CORETYPE" not in env:
        env["OPENBLAS_CORETYPE"] = core
    py = sys.executable
    only = set(args.only.split(",")) if args.only else {"batchprop", "numpy", "torch"}
    common = ["--epochs", str(args.epochs), "--batch", str(BATCH), "--eta", str(ETA), "--sizes", SIZES]
    if args.train_limit:
        common += ["--train-limit", str(args.train_limit)]
    use_metrics = bu.has_metrics_flag(cli)

    torch_probe = subprocess.run([py, "-c", "import torch; print(torch.__version__); "
                                  "print(torch.version.cuda); print(torch.cuda.is_available())"],
                                 capture_output=True, text=True, env=env)
    torch_ok = torch_probe.returncode == 0
    torch_lines = torch_probe.stdout.split() if torch_ok else []
    torch_why = (torch_probe.stderr.strip().splitlines() or ["import failed"])[-1] if not torch_ok else ""
    torch_cuda = torch_ok and torch_lines[2] == "True"
    torch_cuda_why = ("" if torch_cuda else
                      "n/a: this torch is built without CUDA" if torch_ok and torch_lines[1] == "None" else
                      "n/a: torch sees no GPU" if torch_ok else f"n/a: torch unavailable ({torch_why})")
    no_gpu = "pending: no GPU in this session"
    bp_threads = next((l.split("thread")[0].split()[-1] for l in info.splitlines() if "thread(s)" in l), "OpenBLAS default")

    # (implementation, backprop, device, dtype, how to run it or why not)
    plan = [
        ("batchprop", "matrix", "cpu", "f32", None),
        ("batchprop", "per-example", "cpu", "f32", None),
        ("numpy", "matrix", "cpu", "f32", None),
        ("numpy", "per-example", "cpu", "f32", None),
        ("numpy", "per-example", "cpu", "f64", None),  # the book's network.py as written is float64
        ("torch", "mini-batch (autograd)", "cpu", "f32", None if torch_ok else f"n/a: torch unavailable ({torch_why})"),
        ("batchprop", "matrix", "cuda", "f32", None if gpus else no_gpu),
        ("batchprop", "per-example", "cuda", "f32", None if gpus else no_gpu),
        ("torch", "mini-batch (autograd)", "cuda", "f32", None if torch_cuda else torch_cuda_why),
    ]
    print(f"compare: {bu.machine_line(mach)}", flush=True)
    bu.warn_if_loaded(mach)
    print(f"  batchprop: {cli}; python: {py}; OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}", flush=True)

    started = time.time()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for impl, algo, dev, dtype, why in plan:
            if impl not in only:
                continue
            if why:
                results.append((impl, algo, dev, dtype, None, why))
                print(f"  {impl:9s} {algo:22s} {dev:4s} {dtype}: {why}", flush=True)
                continue
            out = os.path.join(tmp, f"{len(results)}.jsonl")
            t0 = time.time()
            try:
                if impl == "batchprop":
                    rows, _ = bu.run_train(cli, common + ["--mode", algo, "--device", dev, "--dtype", dtype, "--seed", "1"],
                                           out if use_metrics else None, env=env)
                    for r in rows:
                        r.update(blas_core=core if dev == "cpu" else "cuBLAS", threads=bp_threads if dev == "cpu" else "")
                else:
                    script = os.path.join(HERE, f"{impl}_backprop.py")
                    cmd = [py, script, "--out", out, *common]
                    cmd += ["--mode", algo, "--dtype", dtype] if impl == "numpy" else ["--device", dev]
                    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    if p.returncode != 0:
                        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}")
                    rows = bu.parse_metrics(out)
            except RuntimeError as e:
                results.append((impl, algo, dev, dtype, None, f"failed: {e}"))
                print(f"  {impl:9s} {algo:22s} {dev:4s} {dtype}: FAILED: {e}", flush=True)
                continue
            results.append((impl, algo, dev, dtype, rows, None))
            secs = [r["seconds"] for r in rows]
            print(f"  {impl:9s} {algo:22s} {dev:4s} {dtype}: epochs {', '.join(f'{s:.3f}' for s in secs)} s, "
                  f"accuracy {100 * rows[-1]['eval_accuracy']:.2f}%  ({time.time() - t0:.0f} s wall)", flush=True)
    elapsed = time.time() - started

    # ---- the table ----
    base = {}  # device -> batchprop matrix median
    for impl, algo, dev, dtype, rows, _ in results:
        if impl == "batchprop" and algo == "matrix" and rows:
            base[dev] = bu.median([r["seconds"] for r in rows])
    header = ["implementation", "backprop", "device", "dtype", "threads", "BLAS kernels",
              f"s/epoch (median of {args.epochs})", "each epoch (s)", f"test accuracy after {args.epochs}",
              "time ÷ batchprop matrix"]
    table = []
    for impl, algo, dev, dtype, rows, why in results:
        if rows is None:
            table.append([impl, algo, dev, dtype, "", "", why, "", "", ""])
            continue
        secs = [r["seconds"] for r in rows]
        med = bu.median(secs)
        ratio = f"{med / base[dev]:.2f}" if dev in base else "n/a"
        table.append([impl, algo, dev, dtype, rows[-1].get("threads") or "", rows[-1].get("blas_core", ""),
                      f"{med:.3f}", " / ".join(f"{s:.3f}" for s in secs), f"{100 * rows[-1]['eval_accuracy']:.2f}%", ratio])
    print()
    print(bu.md_table(header, table, "llllllrrrr"))
    print(f"\n({elapsed:.0f} s in all)")

    if args.no_results:
        return
    versions = subprocess.run([py, "-c", "import numpy, sys; print(sys.version.split()[0], numpy.__version__)"],
                              capture_output=True, text=True, env=env).stdout.split()
    limit = f", first {args.train_limit} images only" if args.train_limit else ""
    body = f"""## batchprop and its peers

Generated by `bench/compare/run.sh` ({elapsed:.0f} s) on {bu.machine_line(mach)}.
Network [784,30,10], sigmoid, quadratic cost, N(0,1) initialisation, η = {ETA}, m = {BATCH},
{args.epochs} epochs on the first 50,000 Fashion-MNIST training images{limit}; accuracy on the
10,000 test images after the last epoch. Seconds per epoch are training only (shuffle,
mini-batches, updates), evaluation excluded, median of the {args.epochs} epochs. The last column
divides each time by batchprop's matrix mode on the same device (lower is faster).

{bu.md_table(header, table, "llllllrrrr")}

- numpy {versions[1] if len(versions) > 1 else '?'} (Python {versions[0] if versions else '?'}): [numpy_backprop.py](compare/numpy_backprop.py),
  written here from the algorithm: per-example is the book's loop (one column at a time, ∇
  summed), matrix the same equations on the whole mini-batch. f64 is the book's own dtype.
- PyTorch {torch_lines[0] if torch_ok else '(not installed)'}: [torch_backprop.py](compare/torch_backprop.py),
  nn.Linear + nn.Sigmoid, loss 0.5·MSE(reduction="sum")/m, torch.optim.SGD(lr={ETA}), in
  torch's default number of intra-op threads (the threads column).
- batchprop: `batchprop train --epochs {args.epochs} --batch {BATCH} --eta {ETA} --sizes {SIZES} --mode M --device D --dtype T`.
- Same environment for all: OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')} (what batchprop picks on
  this CPU; the BLAS kernels column is what each process reports it used). numpy and torch
  both call the system OpenBLAS through libblas.so.3.
- Accuracy differs between rows by the random initialisation and shuffling (each
  implementation draws its own), not by the algorithm: after 3 epochs at η = 3 runs differ by
  a few points.
"""
    bu.replace_section("compare", body)
    print(f"updated {bu.RESULTS} (section compare)")


if __name__ == "__main__":
    main()
