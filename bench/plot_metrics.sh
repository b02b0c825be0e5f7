#!/usr/bin/env bash
# Accuracy per epoch from `batchprop train --metrics FILE` (JSON Lines, one object per epoch),
# drawn with gnuplot (Debian: gnuplot-nox). One line per file and per accuracy present
# (eval_accuracy; train_accuracy when the run monitored it).
#
#   bench/plot_metrics.sh run.jsonl accuracy.png
#   bench/plot_metrics.sh per-example.jsonl matrix.jsonl accuracy.png    # several runs, one plot
set -euo pipefail

if [[ $# -lt 2 || "$1" == -h || "$1" == --help ]]; then
  echo "usage: $0 FILE.jsonl [FILE2.jsonl ...] OUT.png" >&2
  exit 2
fi
out="${!#}"
files=("${@:1:$#-1}")
command -v gnuplot >/dev/null || { echo "$0: gnuplot not found (Debian: apt-get install gnuplot-nox)" >&2; exit 1; }
for f in "${files[@]}"; do [[ -r "$f" ]] || { echo "$0: cannot read $f" >&2; exit 1; }; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# JSON Lines -> one whitespace-separated table per file: epoch eval% train% (NaN when absent),
# plus a title line describing the run (from the fields of its first object).
python3 - "$tmp" "${files[@]}" <<'PY'
import json, os, sys
tmp, files = sys.argv[1], sys.argv[2:]
for i, path in enumerate(files):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    if not rows:
        sys.exit(f"{path}: no epochs in it")
    pct = lambda v: "NaN" if v is None else f"{100 * v:.4f}"
    with open(os.path.join(tmp, f"{i}.dat"), "w") as f:
        for r in rows:
            f.write(f"{r['epoch']} {pct(r.get('eval_accuracy'))} {pct(r.get('train_accuracy'))}\n")
    r = rows[0]
    sizes = ",".join(str(s) for s in r.get("sizes", [])) or "?"
    title = (f"{os.path.basename(path)}: [{sizes}] {r.get('mode', '?')} m={r.get('batch', '?')} "
             f"eta={r.get('eta', '?')} {r.get('cost', '')} {r.get('dtype', '')} {r.get('device', '')}")
    has_train = any(x.get("train_accuracy") is not None for x in rows)
    with open(os.path.join(tmp, f"{i}.title"), "w") as f:
        f.write(title.replace("'", "") + ("\n1" if has_train else "\n0"))
PY

term=png
gnuplot -e 'set terminal pngcairo' 2>/dev/null && term=pngcairo
plots=()
for i in "${!files[@]}"; do
  title=$(head -n1 "$tmp/$i.title"); has_train=$(tail -n1 "$tmp/$i.title")
  plots+=("'$tmp/$i.dat' using 1:2 with linespoints lw 2 pt 7 lc $((i + 1)) title 'eval: $title'")
  [[ "$has_train" == 1 ]] && plots+=("'$tmp/$i.dat' using 1:3 with linespoints lw 2 pt 5 dt 2 lc $((i + 1)) title 'train: $title'")
done
plot_cmd=$(IFS=,; echo "${plots[*]}")
gnuplot <<GP
set terminal $term size 800,480
set output "$out"
set title "Accuracy per epoch"
set xlabel "epoch"
set ylabel "accuracy (%)"
set grid
set key below left Left reverse font ",9"
set xtics 1
plot $plot_cmd
GP
echo "wrote $out"
