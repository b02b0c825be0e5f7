#!/usr/bin/env python3
"""batchprop side by side with its peers (a plain C++ loop of cblas_sgemm calls, numpy, PyTorch),
one run on one machine: the same
network [784,30,10], data (the first 50,000 Fashion-MNIST training images; accuracy on the
10,000 test images), hyper-parameters (eta = 3.0, m = 10, quadratic cost, sigmoid, N(0,1)
init) and number of epochs. Run it through run.sh, which picks a Python with numpy and torch.

Every implementation runs in the same environment: OPENBLAS_CORETYPE is set to the kernel set
batchprop runs with (OpenBLAS 0.3.21 may not recognise a recent CPU and fall back to slow
"Prescott" kernels; batchprop corrects that for itself, and here numpy and torch get the same
kernels), and each row records the kernels and threads it actually used. Where the machine's
environment itself sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (some hosts do, for older
OpenBLAS builds), numpy runs with both unset, as a current numpy would by default.
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="run.sh",
                                 usage="%(prog)s [options]  (--help lists them)",
                                 epilog="Prints the table; --save-results also records it in bench/RESULTS.md.")
    ap.add_argument("--cli", help="batchprop executable (default: $BATCHPROP_CLI or build/batchprop)")
    ap.add_argument("--epochs", type=bu.arg_positive_int, default=3, help="epochs per implementation; at least 3 (%(default)s)")
    ap.add_argument("--rounds", type=bu.arg_positive_int, default=3,
                    help="run every implementation this many times, in turn (A B C ... A B C ...), and pool "
                         "the epochs: a shared machine's drifting speed then hits all rows alike (%(default)s)")
    ap.add_argument("--train-limit", type=bu.arg_positive_int, help="train on the first N images only (quick checks)")
    ap.add_argument("--peer", help="the plain-loop peer (default: bench/cblas_loop next to the CLI, built with it)")
    ap.add_argument("--only", help="comma-separated subset: batchprop,cblas,numpy,torch")
    ap.add_argument("--save-results", action="store_true",
                    help="rewrite the compare section of bench/RESULTS.md (the committed figures)")
    ap.add_argument("--no-results", action="store_true", help=argparse.SUPPRESS)  # the default now
    args = ap.parse_args()
    if args.save_results and args.no_results:
        ap.error("--save-results and --no-results contradict each other")
    if args.epochs < 3 and not args.train_limit:
        ap.error("argument --epochs: at least 3 (the table shows the median of them)")
    if args.only:
        unknown = set(args.only.split(",")) - {"batchprop", "cblas", "numpy", "torch"}
        if unknown:
            ap.error(f"argument --only: {', '.join(sorted(unknown))} is not one of batchprop, cblas, numpy, torch")

    cli = bu.find_cli(args.cli)
    info = bu.cli_info(cli)
    mach = bu.machine(info_text=info)
    gpus = bu.gpu_names(info)
    core = mach["openblas_core"]
    env = dict(os.environ)
    if core != "unknown" and "OPENBLAS_CORETYPE" not in env:
        env["OPENBLAS_CORETYPE"] = core
    # numpy's environment: where the host sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, both are
    # unset for numpy alone (they slow a current numpy); otherwise the same as everyone's.
    np_env = dict(env)
    if "OPENBLAS_CORETYPE" in os.environ or "OPENBLAS_L2_SIZE" in os.environ:
        np_env.pop("OPENBLAS_CORETYPE", None)
        np_env.pop("OPENBLAS_L2_SIZE", None)
    peer = args.peer or os.path.join(os.path.dirname(cli), "bench", "cblas_loop")
    peer_ok = os.path.isfile(peer) and os.access(peer, os.X_OK)
    py = sys.executable
    only = set(args.only.split(",")) if args.only else {"batchprop", "cblas", "numpy", "torch"}
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
    # batchprop runs products under 32 MFLOP on one thread (`info` says so): at m = 10 that is
    # every product of [784,30,10], so its rows really use one thread.
    if "under 32 MFLOP on one thread" in info:
        bp_threads = f"1 (≤{bp_threads})"

    # (implementation, backprop, device, dtype, how to run it or why not)
    plan = [
        ("batchprop", "matrix", "cpu", "f32", None),
        ("batchprop", "per-example", "cpu", "f32", None),
        ("cblas", "matrix (loop, no shuffle)", "cpu", "f32", None if peer_ok else f"n/a: {peer} not built"),
        ("numpy", "matrix", "cpu", "f32", None),
        ("numpy", "per-example", "cpu", "f32", None),
        ("numpy", "per-example", "cpu", "f64", None),  # the book's network.py as written is float64
        ("torch", "mini-batch (autograd)", "cpu", "f32", None if torch_ok else f"n/a: torch unavailable ({torch_why})"),
        ("batchprop", "matrix", "cuda", "f32", None if gpus else no_gpu),
        ("batchprop", "per-example", "cuda", "f32", None if gpus else no_gpu),
        ("torch", "mini-batch (autograd)", "cuda", "f32", None if torch_cuda else torch_cuda_why),
        # Each step captured once with torch.cuda.graph and replayed: PyTorch without its
        # per-call overhead, the fair peer for batchprop's recorded steps.
        ("torch", "CUDA graph per step", "cuda", "f32", None if torch_cuda else torch_cuda_why),
    ]
    print(f"compare: {bu.machine_line(mach)}", flush=True)
    bu.warn_if_loaded(mach)
    print(f"  batchprop: {cli}; python: {py}; OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}", flush=True)

    started = time.time()
    # key (impl, algo, dev, dtype) -> list of rounds, each the rows (one per epoch) of one run;
    # or the reason it did not run.
    runs, skipped, order = {}, {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(max(1, args.rounds)):
            for impl, algo, dev, dtype, why in plan:
                key = (impl, algo, dev, dtype)
                if impl not in only or key in skipped:
                    continue
                if key not in order:
                    order.append(key)
                if why:
                    skipped[key] = why
                    print(f"  {impl:9s} {algo:22s} {dev:4s} {dtype}: {why}", flush=True)
                    continue
                out = os.path.join(tmp, f"{order.index(key)}-{rnd}.jsonl")  # one file per run
                t0 = time.time()
                try:
                    if impl == "batchprop":
                        rows, _ = bu.run_train(cli, common + ["--mode", algo, "--device", dev, "--dtype", dtype, "--seed", "1"],
                                               out if use_metrics else None, env=env)
                        for r in rows:
                            r.update(blas_core=core if dev == "cpu" else "cuBLAS", threads=bp_threads if dev == "cpu" else "")
                    else:
                        if impl == "cblas":
                            cmd = [peer, "--out", out, *common]
                        else:
                            script = os.path.join(HERE, f"{impl}_backprop.py")
                            cmd = [py, script, "--out", out, *common]
                            cmd += ["--mode", algo, "--dtype", dtype] if impl == "numpy" else ["--device", dev]
                            if algo == "CUDA graph per step":
                                cmd.append("--graphs")
                        p = subprocess.run(cmd, capture_output=True, text=True, env=np_env if impl == "numpy" else env)
                        if p.returncode != 0:
                            raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}")
                        rows = bu.parse_metrics(out)
                except RuntimeError as e:
                    skipped[key] = f"failed: {e}"
                    runs.pop(key, None)
                    print(f"  {impl:9s} {algo:22s} {dev:4s} {dtype}: FAILED: {e}", flush=True)
                    continue
                runs.setdefault(key, []).append(rows)
                secs = [r["seconds"] for r in rows]
                print(f"  round {rnd + 1}: {impl:9s} {algo:22s} {dev:4s} {dtype}: epochs {', '.join(f'{s:.3f}' for s in secs)} s, "
                      f"accuracy {100 * rows[-1]['eval_accuracy']:.2f}%  ({time.time() - t0:.0f} s wall)", flush=True)
    elapsed = time.time() - started

    # ---- the table ----
    def pooled(key):
        return [r["seconds"] for rows in runs[key] for r in rows]

    base = {k[2]: bu.median(pooled(k)) for k in runs if k[0] == "batchprop" and k[1] == "matrix"}
    n_rounds = max((len(v) for v in runs.values()), default=0)
    header = ["implementation", "backprop", "device", "dtype", "threads", "BLAS kernels",
              f"s/epoch (median of {n_rounds}×{args.epochs})", "median of each round (s)",
              f"test accuracy after {args.epochs}", "time ÷ batchprop matrix"]
    table = []
    for key in order:
        impl, algo, dev, dtype = key
        if key not in runs:
            table.append([impl, algo, dev, dtype, "", "", skipped.get(key, "did not run"), "", "", ""])
            continue
        last = runs[key][-1][-1]
        med = bu.median(pooled(key))
        ratio = f"{med / base[dev]:.2f}" if dev in base else "n/a"
        per_round = " / ".join(f"{bu.median([r['seconds'] for r in rows]):.3f}" for rows in runs[key])
        accs = sorted({f"{100 * rows[-1]['eval_accuracy']:.2f}%" for rows in runs[key]})
        table.append([impl, algo, dev, dtype, last.get("threads") or "", last.get("blas_core", ""),
                      f"{med:.3f}", per_round, " / ".join(accs), ratio])
    print()
    print(bu.md_table(header, table, "llllllrrrr"))
    print(f"\n({elapsed:.0f} s in all)")

    if not args.save_results:
        return
    versions = subprocess.run([py, "-c", "import numpy, sys; print(sys.version.split()[0], numpy.__version__)"],
                              capture_output=True, text=True, env=env).stdout.split()
    limit = f", first {args.train_limit} images only" if args.train_limit else ""
    np_note = ("; numpy without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which this host's environment sets"
               if np_env is not env and ("OPENBLAS_CORETYPE" in os.environ or "OPENBLAS_L2_SIZE" in os.environ) else "")
    body = f"""## batchprop and its peers

Generated by `bench/compare/run.sh` ({elapsed:.0f} s) on {bu.machine_line(mach)}.
Network [784,30,10], sigmoid, quadratic cost, N(0,1) initialisation, η = {ETA}, m = {BATCH},
{args.epochs} epochs on the first 50,000 Fashion-MNIST training images{limit}; accuracy on the
10,000 test images after the last epoch. Seconds per epoch are training only (shuffle,
mini-batches, updates), evaluation excluded. Every implementation ran {n_rounds} times, in turn
(one round = each row once), and the first time column is the median over all
{n_rounds}×{args.epochs} of its epochs, so that a shared machine's drifting speed affects
every row alike. The last column divides each time by batchprop's matrix mode on the same
device (lower is faster).

{bu.md_table(header, table, "llllllrrrr")}

- cblas: [cblas_loop.cpp](compare/cblas_loop.cpp) (`build/bench/cblas_loop`), the same
  algorithm as a plain C++ loop: per step one `cblas_sgemm` per product (five for [784,30,10])
  and plain loops for σ, the errors and the biases; mini-batches taken in order, in place (no
  shuffle, no gather); one BLAS thread and subnormals flushed, as batchprop.
- numpy {versions[1] if len(versions) > 1 else '?'} (Python {versions[0] if versions else '?'}): [numpy_backprop.py](compare/numpy_backprop.py),
  written here from the algorithm: per-example is the book's loop (one column at a time, ∇
  summed), matrix the same equations on the whole mini-batch. f64 is the book's own dtype.
- PyTorch {torch_lines[0] if torch_ok else '(not installed)'}: [torch_backprop.py](compare/torch_backprop.py),
  nn.Linear + nn.Sigmoid, loss 0.5·MSE(reduction="sum")/m, torch.optim.SGD(lr={ETA}), in
  torch's default number of intra-op threads (the threads column).
- threads: what each ran its arithmetic on. numpy's OpenBLAS may use all threads for any
  product; batchprop uses one for products under 32 MFLOP (all of them here) and up to the
  number in brackets above that.
- batchprop: `batchprop train --epochs {args.epochs} --batch {BATCH} --eta {ETA} --sizes {SIZES} --mode M --device D --dtype T`.
- Same environment for all: OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')} (what batchprop picks on
  this CPU; the BLAS kernels column is what each process reports it used){np_note}. numpy and torch
  both call the system OpenBLAS through libblas.so.3.
- Accuracy differs between rows by the random initialisation and shuffling (each
  implementation draws its own), not by the algorithm: after 3 epochs at η = 3 runs differ by
  a few points. Every implementation is seeded, so its rounds give the same accuracy (one
  figure); two figures would mean a run was not reproducible.
"""
    bu.replace_section("compare", body)
    print(f"updated {bu.RESULTS} (section compare)")


if __name__ == "__main__":
    main()
