#!/usr/bin/env python3
"""Per-example vs matrix-based backprop, end to end through the CLI: for one network, each
batch size m and each available device, trains --epochs epochs in each mode, takes the median
seconds per epoch (SGD only; the CLI excludes evaluation from it), and prints and records the
table and two plots. Standard library plus gnuplot (Debian: gnuplot-nox) for the plots.

  bench/speedup.py                                  # 784,30,10; m = 1,10,32,100,1000; cpu (+ cuda)
  bench/speedup.py --sizes 784,100,10 --batches 10,100 --epochs 3 --devices cpu
  bench/speedup.py --cli build-cpu/batchprop --no-results      # just print the table

Writes bench/speedup.png (speedup vs m, one line per device), bench/epoch_seconds.png
(seconds/epoch vs m, log scales), bench/speedup.tsv (the numbers behind them) and the
"speedup" section of bench/RESULTS.md. Other --sizes get their own file names (speedup-784-100-10.png ...).
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util as bu  # noqa: E402

DEFAULT_SIZES = "784,30,10"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", help="batchprop executable (default: $BATCHPROP_CLI or build/batchprop)")
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="network, input first (%(default)s)")
    ap.add_argument("--batches", default="1,10,32,100,1000", help="mini-batch sizes m (%(default)s)")
    ap.add_argument("--epochs", type=int, default=5, help="epochs per run; the median is used (%(default)s)")
    ap.add_argument("--devices", default="auto", help="comma-separated cpu,cuda; auto = cpu, and cuda when "
                    "`batchprop info` lists a GPU (%(default)s)")
    ap.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    ap.add_argument("--train-limit", type=int, help="train on the first N images (quick checks)")
    ap.add_argument("--out-dir", default=bu.BENCH_DIR, help="where the PNGs and TSV go (%(default)s)")
    ap.add_argument("--no-results", action="store_true", help="do not touch bench/RESULTS.md")
    args = ap.parse_args()

    cli = bu.find_cli(args.cli)
    info = bu.cli_info(cli)
    mach = bu.machine(info_text=info)
    devices = ["cpu"] + (["cuda"] if bu.gpu_names(info) else []) if args.devices == "auto" else args.devices.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    use_metrics = bu.has_metrics_flag(cli)
    print(f"speedup: {cli}; sizes {args.sizes}; m = {batches}; devices {devices}; {args.epochs} epochs; "
          f"timings from {'--metrics' if use_metrics else 'the progress lines'}", flush=True)
    print(f"machine: {bu.machine_line(mach)}", flush=True)
    bu.warn_if_loaded(mach)

    started = time.time()
    results = []  # (device, m, {mode: (median s, last accuracy)})
    with tempfile.TemporaryDirectory() as tmp:
        for dev in devices:
            for m in batches:
                row = {}
                for mode in ("per-example", "matrix"):
                    train_args = ["--sizes", args.sizes, "--epochs", str(args.epochs), "--batch", str(m),
                                  "--mode", mode, "--device", dev, "--dtype", args.dtype, "--seed", "1"]
                    if args.train_limit:
                        train_args += ["--train-limit", str(args.train_limit)]
                    t0 = time.time()
                    rows, _ = bu.run_train(cli, train_args, os.path.join(tmp, "m.jsonl") if use_metrics else None)
                    secs = [r["seconds"] for r in rows]
                    row[mode] = (bu.median(secs), rows[-1].get("eval_accuracy"))
                    print(f"  {dev:5s} m={m:<5d} {mode:12s} epochs {', '.join(f'{s:.3f}' for s in secs)} s "
                          f"-> median {row[mode][0]:.3f} s  ({time.time() - t0:.1f} s wall)", flush=True)
                results.append((dev, m, row))
    elapsed = time.time() - started

    # ---- table ----
    header = ["device", "m", "per-example s/epoch", "matrix s/epoch", "speedup", "accuracy per-example", "accuracy matrix"]
    table = []
    for dev, m, row in results:
        pe, mx = row["per-example"], row["matrix"]
        acc = lambda a: f"{100 * a:.2f}%" if a is not None else "n/a"  # noqa: E731
        table.append([dev, m, f"{pe[0]:.3f}", f"{mx[0]:.3f}", f"{pe[0] / mx[0]:.2f}×", acc(pe[1]), acc(mx[1])])
    print()
    print(bu.md_table(header, table, "lrrrrrr"))
    print(f"\n({elapsed:.0f} s in all)")

    # ---- data + plots ----
    suffix = "" if args.sizes == DEFAULT_SIZES else "-" + args.sizes.replace(",", "-")
    os.makedirs(args.out_dir, exist_ok=True)
    tsv = os.path.join(args.out_dir, f"speedup{suffix}.tsv")
    with open(tsv, "w") as f:
        f.write("# device\tm\tper_example_s\tmatrix_s\tspeedup\n")
        for dev, m, row in results:
            f.write(f"{dev}\t{m}\t{row['per-example'][0]:.6f}\t{row['matrix'][0]:.6f}\t"
                    f"{row['per-example'][0] / row['matrix'][0]:.4f}\n")
    png_speedup = os.path.join(args.out_dir, f"speedup{suffix}.png")
    png_seconds = os.path.join(args.out_dir, f"epoch_seconds{suffix}.png")
    term = bu.png_terminal()
    # One gnuplot data block per device (index i), so each device is one line.
    blocks = "\n\n\n".join("\n".join(f"{m} {row['per-example'][0]} {row['matrix'][0]} {row['per-example'][0] / row['matrix'][0]}"
                                     for d, m, row in results if d == dev) for dev in devices)
    title = f"[{args.sizes}], {args.dtype}, Fashion-MNIST, median of {args.epochs} epochs"
    speedup_plot = " , ".join(f"$D index {i} using 1:4 with linespoints lw 2 pt 7 lc {i + 1} title '{dev}'" for i, dev in enumerate(devices))
    seconds_plot = " , ".join(
        f"$D index {i} using 1:2 with linespoints lw 2 pt 7 dt 2 lc {i + 1} title '{dev} per-example', "
        f"$D index {i} using 1:3 with linespoints lw 2 pt 5 lc {i + 1} title '{dev} matrix'" for i, dev in enumerate(devices))
    script = f"""$D << EOD
{blocks}
EOD
set terminal {term} size 720,440 {'font "sans,10"' if term == 'pngcairo' else ''}
set grid
set logscale x
set xlabel "mini-batch size m"
set key top left
set output "{png_speedup}"
set title "Speedup of matrix-based over per-example backprop\\n{title}"
set ylabel "speedup (per-example s / matrix s)"
set yrange [0:*]
plot {speedup_plot}, 1 with lines lc rgb "gray" dt 3 notitle
set output "{png_seconds}"
set title "Seconds per epoch (SGD only)\\n{title}"
set ylabel "seconds per epoch"
set logscale y
set yrange [*:*]
set key top right
plot {seconds_plot}
"""
    if bu.gnuplot(script):
        print(f"wrote {png_speedup}, {png_seconds}, {tsv}")

    if not args.no_results:
        rel = lambda p: os.path.relpath(p, os.path.dirname(bu.RESULTS))  # noqa: E731
        cmd = "bench/speedup.py" + ("" if args.sizes == DEFAULT_SIZES else f" --sizes {args.sizes}")
        body = f"""## Per-example vs matrix-based, end to end ([{args.sizes}])

Generated by `{cmd}` ({elapsed:.0f} s) on {bu.machine_line(mach)}.
`batchprop train --epochs {args.epochs} --mode per-example|matrix --batch m --device D --dtype {args.dtype}`
on Fashion-MNIST (50,000 training images; accuracy on the 10,000 test images after the last
epoch); seconds per epoch are the median over the {args.epochs} epochs of the SGD time the CLI
reports (shuffle, gather, backprop and update; evaluation excluded). Devices: {', '.join(devices)}.

{bu.md_table(header, table, "lrrrrrr")}

![speedup]({rel(png_speedup)}) ![seconds per epoch]({rel(png_seconds)})
"""
        if "cuda" not in devices:
            body += "\nGPU rows: pending (no usable GPU in this session).\n"
        bu.replace_section("speedup" + suffix, body)
        print(f"updated {bu.RESULTS} (section speedup{suffix})")


if __name__ == "__main__":
    main()
