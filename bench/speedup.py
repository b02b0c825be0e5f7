#!/usr/bin/env python3
"""Per-example vs matrix-based backprop, end to end through the CLI: for one network, each
batch size m and each available device, trains --epochs epochs in each mode, takes the median
seconds per epoch (SGD only; the CLI excludes evaluation from it), and prints and records the
table and two plots. Standard library plus gnuplot (Debian: gnuplot-nox) for the plots.

  bench/speedup.py                                  # 784,30,10; m = 1,10,32,100,1000; cpu (+ cuda)
  bench/speedup.py --sizes 784,100,10 --batches 10,100 --epochs 3 --devices cpu
  bench/speedup.py --batches 10,100 --epochs 1 --out-dir /tmp/sp   # a trial, plots in /tmp/sp
  bench/speedup.py --save-results                   # refresh the committed figures
  bench/speedup.py --replot bench/speedup.tsv --out-dir /tmp/sp   # redraw the plots from a TSV, run nothing

By default it only prints the table: nothing under version control changes. --out-dir DIR
writes speedup.tsv (the numbers, headed by the machine and the settings they were measured
with), speedup.png (speedup vs m, one line per device) and epoch_seconds.png (seconds/epoch vs
m, log scales) into DIR. --replot labels its plots with the machine and settings the TSV
records (a TSV written before they were recorded: those of the bench/RESULTS.md section that
holds its numbers, else "not recorded"). --save-results writes them into
bench/ and rewrites the "speedup" section of bench/RESULTS.md (it needs gnuplot, so that the
plots and the table never disagree). Other --sizes get their own file names
(speedup-784-100-10.png ...). Exit status: 0 done, 1 a run failed, 2 bad arguments.
"""

import argparse
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_util as bu  # noqa: E402

DEFAULT_SIZES = "784,30,10"


def speedup_plots(results, devices, labels, title, png_speedup, png_seconds):
    """The gnuplot script for both plots: one line per device, a 1x reference line, and
    offsets so that the markers at the smallest and largest m are not cut in half."""
    term = bu.png_terminal()
    title = title.replace('"', "'").replace("\\", "/")  # it sits in a double-quoted gnuplot string
    # One gnuplot data block per device (index i), so each device is one line.
    blocks = "\n\n\n".join("\n".join(f"{m} {row['per-example'][0]} {row['matrix'][0]} "
                                       f"{row['per-example'][0] / row['matrix'][0]}"
                                       for d, m, row in results if d == dev) for dev in devices)
    speedup_plot = " , ".join(f"$D index {i} using 1:4 with linespoints lw 2 pt 7 lc {i + 1} title '{labels[dev]}'"
                              for i, dev in enumerate(devices))
    seconds_plot = " , ".join(
        f"$D index {i} using 1:2 with linespoints lw 2 pt 7 dt 2 lc {i + 1} title '{labels[dev]}: per-example', "
        f"$D index {i} using 1:3 with linespoints lw 2 pt 5 lc {i + 1} title '{labels[dev]}: matrix'"
        for i, dev in enumerate(devices))
    return f"""$D << EOD
{blocks}
EOD
set terminal {term} size 720,{440 + 18 * len(devices)} {'font "sans,10"' if term == 'pngcairo' else ''}
set grid
set logscale x
set offsets graph 0.04, graph 0.04, graph 0.06, graph 0.02
set xlabel "mini-batch size m"
set key below left Left reverse
set output "{png_speedup}"
set title "Speedup of matrix-based over per-example backprop\\n{title}"
set ylabel "speedup (per-example s / matrix s)"
set yrange [0:*]
plot {speedup_plot}, 1 with lines lc rgb "gray" dt 3 lw 2 title "1× (no speedup)"
set output "{png_seconds}"
set title "Seconds per epoch (SGD only)\\n{title}"
set ylabel "seconds per epoch"
set logscale y
set yrange [*:*]
set offsets graph 0.04, graph 0.04, 0, 0
plot {seconds_plot}
"""


DEFAULT_TRAIN_IMAGES = 50000  # the CLI's --train-limit default
SETTING_KEYS = ("sizes", "dtype", "epochs", "train_images")
MACHINE_KEYS = ("date", "cpu", "cores", "vector", "gpu", "openblas_core", "load")
TSV_COLUMNS = "# device\tm\tper_example_s\tmatrix_s\tspeedup\n"


def title_of(settings, source=None):
    """The plots' subtitle: network, dtype, data and how the epochs were summarised, each from
    the settings (None: not recorded)."""
    def known(key, fmt):
        return fmt(settings[key]) if settings.get(key) is not None else None
    parts = [known("sizes", lambda v: f"[{v}]"), known("dtype", str)]
    images = known("train_images", lambda v: f"Fashion-MNIST, the first {v:,} training images")
    parts.append(images or "Fashion-MNIST")
    parts.append(known("epochs", lambda v: f"median of {v} epochs" if v > 1 else "1 epoch"))
    missing = [k.replace("_", " ") for k in SETTING_KEYS if settings.get(k) is None]
    text = ", ".join(p for p in parts if p)
    if missing:
        text += f" ({', '.join(missing)} not recorded{' in ' + source if source else ''})"
    return text


def write_tsv(path, results, mach, settings):
    """The numbers, headed by '# key: value' lines: the machine and the settings they were
    measured with, which --replot reads back."""
    with open(path, "w") as f:
        f.write("# bench/speedup.py: seconds per epoch, per-example vs matrix\n")
        for k in MACHINE_KEYS:
            f.write(f"# {k}: {mach[k]:.2f}\n" if k == "load" else f"# {k}: {mach[k]}\n")
        for k in SETTING_KEYS:
            f.write(f"# {k}: {settings[k]}\n")
        f.write(TSV_COLUMNS)
        for dev, m, row in results:
            f.write(f"{dev}\t{m}\t{row['per-example'][0]:.6f}\t{row['matrix'][0]:.6f}\t"
                    f"{row['per-example'][0] / row['matrix'][0]:.4f}\n")


def read_tsv(ap, path):
    """[(device, m, {mode: (seconds, None)})], the devices in order, and the '# key: value'
    header (the machine and settings; {} in a TSV written before they were recorded)."""
    results, devices, meta = [], [], {}
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if line.startswith("#"):
                    m = re.match(r"^# ([a-z_]+): (.*)$", line.rstrip("\n"))
                    if m:
                        meta[m.group(1)] = m.group(2)
                    continue
                if not line.strip():
                    continue
                parts = line.split("\t")
                try:
                    dev, m, pe, mx = parts[0], int(parts[1]), float(parts[2]), float(parts[3])
                except (IndexError, ValueError):
                    ap.error(f"argument --replot: {path}, line {n}: not 'device, m, per_example_s, matrix_s, speedup'")
                results.append((dev, m, {"per-example": (pe, None), "matrix": (mx, None)}))
                if dev not in devices:
                    devices.append(dev)
    except OSError as e:
        ap.error(f"argument --replot: cannot read {path} ({e.strerror})")
    if not results:
        ap.error(f"argument --replot: {path} has no rows")
    return results, devices, meta


def recorded(ap, path, meta):
    """The machine and settings a TSV's header records (None where a key is missing)."""
    def num(key, conv):
        if meta.get(key) is None:
            return None
        try:
            return conv(meta[key])
        except ValueError:
            ap.error(f"argument --replot: {path}: '# {key}: {meta[key]}' is not a number")
    mach = {k: meta.get(k) for k in MACHINE_KEYS}
    mach["cores"], mach["load"] = num("cores", int), num("load", float)
    settings = {"sizes": meta.get("sizes"), "dtype": meta.get("dtype"), "epochs": num("epochs", int),
                "train_images": num("train_images", int)}
    return mach, settings


def from_results_md(results, section_name):
    """For a TSV that records nothing: the machine and settings of the bench/RESULTS.md section
    whose table holds exactly its numbers (as the table rounds them), else (None, None)."""
    section = bu.read_section(section_name)
    rows = set(re.findall(r"^\| (\w+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \|", section, re.M))
    mine = {(d, str(m), f"{row['per-example'][0]:.3f}", f"{row['matrix'][0]:.3f}") for d, m, row in results}
    mm = re.search(r"on (\d{4}-\d\d-\d\d) \(UTC\), CPU (.*?) × (\d+) cores, GPU (.*?), OpenBLAS kernels (\w+), "
                   r"load average ([\d.]+)", section)
    if not rows or rows != mine or not mm:
        return None, None
    mach = {"date": mm.group(1), "cpu": mm.group(2), "cores": int(mm.group(3)), "vector": None,
            "gpu": mm.group(4), "openblas_core": mm.group(5), "load": float(mm.group(6))}

    def find(pattern, conv):
        m = re.search(pattern, section)
        return conv(m.group(1)) if m else None
    settings = {"sizes": find(r"end to end \(\[([\d,]+)\]\)", str),
                "dtype": find(r"--dtype (f32|f64)", str),
                "epochs": find(r"--epochs (\d+)", int),
                "train_images": find(r"\(([\d,]+) training images", lambda t: int(t.replace(",", "")))}
    return mach, settings


def replot(ap, args, out_dir):
    """--replot: the plots again from a TSV, labelled with the machine and settings it records."""
    if out_dir is None:
        ap.error("--replot needs --out-dir DIR or --save-results (where the plots go)")
    results, devices, meta = read_tsv(ap, args.replot)
    name = os.path.basename(args.replot)
    if meta:
        mach, settings = recorded(ap, args.replot, meta)
        origin = f"recorded in {name}"
    else:
        suffix = "" if (args.sizes or DEFAULT_SIZES) == DEFAULT_SIZES else "-" + args.sizes.replace(",", "-")
        mach, settings = from_results_md(results, "speedup" + suffix)
        origin = f"from bench/RESULTS.md, whose speedup{suffix} section holds {name}'s numbers"
        if mach is None:
            mach = {k: None for k in MACHINE_KEYS}
            settings = {k: None for k in SETTING_KEYS}
            origin = f"not recorded in {name}"
            print(f"note: {args.replot} records no machine or settings (written before speedup.py recorded "
                  "them) and no bench/RESULTS.md section holds its numbers: the plots say so", file=sys.stderr)
    # Flags given with --replot may fill in what the file does not record, never contradict it.
    given = {"sizes": args.sizes, "dtype": args.dtype, "epochs": args.epochs, "train_images": args.train_limit}
    flag = {"sizes": "--sizes", "dtype": "--dtype", "epochs": "--epochs", "train_images": "--train-limit"}
    for k, v in given.items():
        if v is None:
            continue
        if settings[k] is not None and str(settings[k]) != str(v):
            ap.error(f"argument {flag[k]}: {v} contradicts {args.replot}, which was measured with "
                     f"{flag[k]} {settings[k]} ({origin})")
        settings[k] = v
    sizes = settings["sizes"] or DEFAULT_SIZES
    suffix = "" if sizes == DEFAULT_SIZES else "-" + sizes.replace(",", "-")
    png_speedup = os.path.join(out_dir, f"speedup{suffix}.png")
    png_seconds = os.path.join(out_dir, f"epoch_seconds{suffix}.png")
    title = title_of(settings, name)
    if mach.get("cpu") is None:
        labels = {dev: f"{dev}: machine not recorded" for dev in devices}
    else:
        gpus = [] if mach.get("gpu") in (None, "none") else [mach["gpu"]]
        labels = {dev: bu.device_label(dev, mach, gpus) for dev in devices}
    # Said before gnuplot is looked for, so that what the plots would say can be read without it.
    print(f"replot {args.replot}: {title}; machine {origin}; legend: {'; '.join(labels[d] for d in devices)}")
    if not bu.have_gnuplot():
        bu.fail("gnuplot not found (Debian: apt-get install gnuplot-nox); nothing written")
    os.makedirs(out_dir, exist_ok=True)
    if not bu.gnuplot(speedup_plots(results, devices, labels, title, png_speedup, png_seconds)):
        bu.fail("the plots could not be drawn")
    print(f"wrote {png_speedup}, {png_seconds} (from {args.replot})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 usage="%(prog)s [options]  (--help lists them)",
                                 epilog="Nothing is written unless --out-dir or --save-results is given.")
    ap.add_argument("--cli", help="batchprop executable (default: $BATCHPROP_CLI or build/batchprop)")
    ap.add_argument("--sizes", type=bu.arg_sizes, help=f"network, input first ({DEFAULT_SIZES})")
    ap.add_argument("--batches", default="1,10,32,100,1000", type=bu.arg_int_list,
                    help="mini-batch sizes m, comma-separated (%(default)s)")
    ap.add_argument("--epochs", type=bu.arg_positive_int, help="epochs per run; the median is used (5)")
    ap.add_argument("--devices", default="auto", type=bu.arg_devices,
                    help="comma-separated cpu,cuda; auto = cpu, and cuda when `batchprop info` lists a GPU (%(default)s)")
    ap.add_argument("--dtype", choices=["f32", "f64"], help="scalar type (f32)")
    ap.add_argument("--train-limit", type=bu.arg_positive_int,
                    help=f"train on the first N images (quick checks; the CLI's default is {DEFAULT_TRAIN_IMAGES})")
    ap.add_argument("--out-dir", help="write the TSV and the two PNGs into this directory")
    ap.add_argument("--save-results", action="store_true",
                    help="write the TSV and PNGs into bench/ (or --out-dir) and rewrite the speedup section of "
                         "bench/RESULTS.md: the committed figures")
    ap.add_argument("--replot", metavar="TSV",
                    help="redraw the two plots from a TSV this script wrote, running nothing (with --save-results: "
                         "into bench/, leaving RESULTS.md alone), labelled with the machine and settings the TSV "
                         "records; --sizes, --dtype, --epochs and --train-limit may fill in what an older TSV does "
                         "not record, and must not contradict what it does")
    ap.add_argument("--no-results", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old scripts
    args = ap.parse_args()
    if args.save_results and args.no_results:
        ap.error("--save-results and --no-results contradict each other")
    out_dir = args.out_dir or (bu.BENCH_DIR if args.save_results else None)
    if out_dir is not None:
        bu.check_out_dir(ap, out_dir)
    if args.save_results and not bu.have_gnuplot():
        bu.fail("--save-results needs gnuplot to redraw the plots with the table (Debian: apt-get install "
                "gnuplot-nox); nothing was run or written")

    if args.replot:
        replot(ap, args, out_dir)
        return
    args.sizes = args.sizes or DEFAULT_SIZES
    args.epochs = args.epochs or 5
    args.dtype = args.dtype or "f32"
    settings = {"sizes": args.sizes, "dtype": args.dtype, "epochs": args.epochs,
                "train_images": args.train_limit or DEFAULT_TRAIN_IMAGES}

    cli = bu.find_cli(args.cli)
    info = bu.cli_info(cli)
    mach = bu.machine(info_text=info)
    gpus = bu.gpu_names(info)
    devices = (["cpu"] + (["cuda"] if gpus else [])) if args.devices == ["auto"] else args.devices
    if "auto" in devices:
        ap.error("argument --devices: auto cannot be combined with other devices")
    if "cuda" in devices and not gpus:
        why = bu.no_gpu_reason(info)
        bu.fail(f"--devices cuda: no usable GPU here ({why}); use --devices cpu, or auto", code=2)
    batches = args.batches
    use_metrics = bu.has_metrics_flag(cli)
    print(f"speedup: {cli}; sizes {args.sizes}; m = {batches}; devices {devices}; {args.epochs} epochs; "
          f"{settings['train_images']:,} training images; "
          f"timings from {'--metrics' if use_metrics else 'the progress lines'}", flush=True)
    print(f"machine: {bu.machine_line(mach)}; {mach['vector']}", flush=True)
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
                    try:
                        rows, _ = bu.run_train(cli, train_args, os.path.join(tmp, "m.jsonl") if use_metrics else None)
                    except RuntimeError as e:
                        bu.fail(f"{e}; nothing was written")
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

    if out_dir is None:
        print("(nothing written: --out-dir DIR for the TSV and plots, --save-results to refresh bench/)")
        return

    # ---- data + plots ----
    suffix = "" if args.sizes == DEFAULT_SIZES else "-" + args.sizes.replace(",", "-")
    os.makedirs(out_dir, exist_ok=True)
    tsv = os.path.join(out_dir, f"speedup{suffix}.tsv")
    write_tsv(tsv, results, mach, settings)
    png_speedup = os.path.join(out_dir, f"speedup{suffix}.png")
    png_seconds = os.path.join(out_dir, f"epoch_seconds{suffix}.png")
    title = title_of(settings)
    labels = {dev: bu.device_label(dev, mach, gpus) for dev in devices}
    ok = bu.gnuplot(speedup_plots(results, devices, labels, title, png_speedup, png_seconds))
    if args.save_results and not ok:
        bu.fail(f"the plots could not be drawn; bench/RESULTS.md left as it was ({tsv} written)")
    print(f"wrote {tsv}" + (f", {png_speedup}, {png_seconds}" if ok else " (no plots: see the note above)"))

    if args.save_results:
        rel = lambda p: os.path.relpath(p, os.path.dirname(bu.RESULTS))  # noqa: E731
        cmd = "bench/speedup.py --save-results" + "".join(
            f" {flag} {value}" for flag, value, default in (
                ("--sizes", args.sizes, DEFAULT_SIZES), ("--batches", ",".join(map(str, batches)), "1,10,32,100,1000"),
                ("--epochs", args.epochs, 5), ("--dtype", args.dtype, "f32"), ("--train-limit", args.train_limit, None))
            if value is not None and str(value) != str(default))
        limit = f" --train-limit {args.train_limit}" if args.train_limit else ""
        body = f"""## Per-example vs matrix-based, end to end ([{args.sizes}])

Generated by `{cmd}` ({elapsed:.0f} s) on {bu.machine_line(mach)}; {mach['vector']}.
`batchprop train --epochs {args.epochs} --mode per-example|matrix --batch m --device D --dtype {args.dtype}{limit}`
on Fashion-MNIST ({settings['train_images']:,} training images; accuracy on the 10,000 test images after the last
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
    try:
        main()
    except KeyboardInterrupt:
        print("\nspeedup.py: interrupted; nothing was written", file=sys.stderr)
        sys.exit(130)
