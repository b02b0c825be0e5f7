#!/usr/bin/env bash
# Accuracy and cost per epoch from `batchprop train --metrics FILE` (JSON Lines, one object per
# epoch), drawn with gnuplot (Debian: gnuplot-nox): accuracy above, cost below, one line per
# file and per quantity present (eval; train when the run monitored it).
#
#   bench/plot_metrics.sh run.jsonl accuracy.png
#   bench/plot_metrics.sh per-example.jsonl matrix.jsonl accuracy.png    # several runs, one plot
#
# The last argument is the output and must end in .png; it is the only file written, and only
# once the plot is complete (an existing file that is not a PNG is never replaced).
# Exit status: 0 written, 1 failed (unreadable input, gnuplot missing or failing), 2 usage.
set -euo pipefail

me=$(basename "$0")
usage() { echo "usage: $me FILE.jsonl [FILE2.jsonl ...] OUT.png" >&2; }
fail_usage() {
  echo "$me: error: $1" >&2
  usage
  exit 2
}
fail() {
  echo "$me: error: $1" >&2
  exit 1
}

if [[ $# -ge 1 && ( "$1" == -h || "$1" == --help ) ]]; then
  sed -n '2,11s/^# \{0,1\}//p' "$0"
  usage 2>&1
  exit 0
fi
for a in "$@"; do
  [[ "$a" == -* && "$a" != - ]] && fail_usage "unknown option '$a'"
done
[[ $# -ge 2 ]] || fail_usage "need at least one metrics file and the output OUT.png"
out="${!#}"
files=("${@:1:$#-1}")

# The output: named explicitly as a .png, never one of the inputs, in a directory that exists.
[[ "$out" == *.png ]] ||
  fail_usage "the last argument is the output and must end in .png (got '$out'; did you forget the output name?)"
for f in "${files[@]}"; do
  [[ "$f" -ef "$out" || "$f" == "$out" ]] && fail_usage "the output $out is also an input"
done
outdir=$(dirname -- "$out")
[[ -d "$outdir" ]] || fail "cannot write $out: directory '$outdir' does not exist"
[[ -w "$outdir" ]] || fail "cannot write $out: directory '$outdir' is not writable"
[[ -d "$out" ]] && fail "cannot write $out: it is a directory"
if [[ -e "$out" && -s "$out" ]] && [[ "$(head -c 8 -- "$out" | od -An -tx1 | tr -d ' \n')" != 89504e470d0a1a0a ]]; then
  fail "$out exists and is not a PNG; not replacing it (remove it or choose another name)"
fi
for f in "${files[@]}"; do
  [[ -d "$f" ]] && fail "$f is a directory, not a metrics file"
  [[ -r "$f" ]] || fail "cannot read $f"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# JSON Lines -> one whitespace-separated table per file: epoch, eval %, train %, eval cost,
# train cost (NaN when absent), plus a title line describing the run. Any file that is not
# --metrics output is rejected with one line, before gnuplot is needed.
python3 - "$tmp" "${files[@]}" <<'PY' || exit 1
import json, os, sys
me, tmp, files = "plot_metrics.sh", sys.argv[1], sys.argv[2:]

def fail(msg):
    print(f"{me}: error: {msg}", file=sys.stderr)
    sys.exit(1)

hint = "expected the JSON Lines of `batchprop train --metrics FILE` (one object per epoch)"
for i, path in enumerate(files):
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    fail(f"{path}: line {n} is not JSON; {hint}")
                if isinstance(r, dict) and "weights" in r and "sizes" in r:
                    fail(f"{path} is a model file, not metrics; {hint}")
                if not isinstance(r, dict) or not isinstance(r.get("epoch"), int):
                    fail(f"{path}: line {n} has no \"epoch\"; {hint}")
                rows.append(r)
    except UnicodeDecodeError:
        fail(f"{path} is not text; {hint}")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    if not rows:
        fail(f"{path}: no epochs in it; {hint}")
    num = lambda v, scale=1: "NaN" if not isinstance(v, (int, float)) else f"{scale * v:.6g}"
    with open(os.path.join(tmp, f"{i}.dat"), "w") as f:
        for r in rows:
            f.write(f"{r['epoch']} {num(r.get('eval_accuracy'), 100)} {num(r.get('train_accuracy'), 100)} "
                    f"{num(r.get('eval_cost'))} {num(r.get('train_cost'))}\n")
    r = rows[0]
    sizes = ",".join(str(s) for s in r.get("sizes", [])) or "?"
    init = r.get("init") or ("from a model" if r.get("init_model") else None)
    parts = [f"{os.path.basename(path)}: [{sizes}]", r.get("mode", ""), f"m={r.get('batch', '?')}",
             f"η={r.get('eta', '?')}", f"λ={r.get('lambda', '?')}", r.get("cost", ""),
             f"{init} init" if init else "", r.get("dtype", ""), r.get("device", "")]
    title = " ".join(p for p in parts if p)
    present = [any(isinstance(x.get(k), (int, float)) for x in rows)
               for k in ("eval_accuracy", "train_accuracy", "eval_cost", "train_cost")]
    with open(os.path.join(tmp, f"{i}.title"), "w") as f:
        f.write(title.replace("'", "").replace('"', "") + "\n" + " ".join(str(int(p)) for p in present) + "\n")
PY

command -v gnuplot >/dev/null || fail "gnuplot not found (Debian: apt-get install gnuplot-nox)"

term=png
gnuplot -e 'set terminal pngcairo' 2>/dev/null && term=pngcairo
any_acc=0
for i in "${!files[@]}"; do
  read -r a b _ < <(sed -n 2p "$tmp/$i.title")
  [[ $a == 1 || $b == 1 ]] && any_acc=1
done
acc=() cost=()
for i in "${!files[@]}"; do
  title=$(sed -n 1p "$tmp/$i.title")
  read -r has_eacc has_tacc has_ecost has_tcost < <(sed -n 2p "$tmp/$i.title")
  d="'$tmp/$i.dat'"
  # The legend sits under the accuracy panel; when no run has accuracies, the costs carry it.
  ct="notitle"
  [[ $any_acc == 0 ]] && ct="title 'eval: $title'"
  [[ $has_eacc == 1 ]] && acc+=("$d using 1:2 with linespoints lw 2 pt 7 lc $((i + 1)) title 'eval: $title'")
  [[ $has_tacc == 1 ]] && acc+=("$d using 1:3 with linespoints lw 2 pt 5 dt 2 lc $((i + 1)) title 'train: $title'")
  [[ $has_ecost == 1 ]] && cost+=("$d using 1:4 with linespoints lw 2 pt 7 lc $((i + 1)) $ct")
  [[ $any_acc == 0 ]] && ct="title 'train: $title'"
  [[ $has_tcost == 1 ]] && cost+=("$d using 1:5 with linespoints lw 2 pt 5 dt 2 lc $((i + 1)) $ct")
done
[[ ${#acc[@]} -gt 0 || ${#cost[@]} -gt 0 ]] || fail "no accuracy or cost in ${files[*]} (trained with --monitor none?)"
panels=0
[[ ${#acc[@]} -gt 0 ]] && panels=$((panels + 1))
[[ ${#cost[@]} -gt 0 ]] && panels=$((panels + 1))
acc_cmd=$(IFS=,; echo "${acc[*]}")
cost_cmd=$(IFS=,; echo "${cost[*]}")

# gnuplot writes into a temporary file; only a complete plot replaces $out.
partial="$tmp/out.png"
{
  echo "set terminal $term size 820,$((panels * 360 + 60 * ${#files[@]}))"
  echo "set output '$partial'"
  echo "set multiplot layout $panels,1"
  echo "set grid; set xlabel 'epoch'; set key below left Left reverse font ',9'; set lmargin 10"
  echo "set offsets graph 0.02, graph 0.02, graph 0.05, graph 0.05"
  # Whole epochs on the axis: every one while they fit, else gnuplot's choice, as integers.
  max_epoch=$(cat "$tmp"/*.dat | awk '$1 > m { m = $1 } END { print m + 0 }')
  if [[ $max_epoch -le 20 ]]; then echo "set xtics 1"; else echo "set format x '%.0f'"; fi
  if [[ ${#acc[@]} -gt 0 ]]; then
    echo "set title 'Accuracy per epoch'; set ylabel 'accuracy (%)'"
    echo "plot $acc_cmd"
  fi
  if [[ ${#cost[@]} -gt 0 ]]; then
    echo "set title 'Cost per epoch (with the L2 term when λ > 0)'; set ylabel 'cost'"
    echo "plot $cost_cmd"
  fi
  echo "unset multiplot"
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp" >"$tmp/gnuplot.log" 2>&1 || fail "gnuplot failed: $(head -c 300 "$tmp/gnuplot.log")"
[[ -s "$partial" ]] || fail "gnuplot wrote no image"
mv -f -- "$partial" "$out" 2>/dev/null || cp -- "$partial" "$out" || fail "cannot write $out"
echo "wrote $out"
