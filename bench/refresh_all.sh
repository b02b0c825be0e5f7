#!/usr/bin/env bash
# Refreshes every generated figure: the Google Benchmark summaries, the per-example vs matrix
# table and plots, the peer comparison, then the README's tables: the one command that rewrites
# the committed figures (each script alone only prints unless given --save-results). ~6-8 min
# on 2 cores.
# Run it on an otherwise idle machine: each section records the load average it saw.
#
#   bench/refresh_all.sh                 # uses build/ (build it first: cmake -S . -B build && cmake --build build -j2)
#   BUILD=build-cpu bench/refresh_all.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${BUILD:-$here/../build}"
export BATCHPROP_CLI="${BATCHPROP_CLI:-$build/batchprop}"
py=python3
for p in "${PYTHON:-}" /usr/bin/python3 python3; do
  [[ -n "$p" ]] && "$p" -c 'import numpy' 2>/dev/null && { py="$p"; break; }
done

# The plots are redrawn with the tables, so check for gnuplot before minutes of benchmarks.
command -v gnuplot >/dev/null || { echo "refresh_all.sh: error: gnuplot not found (Debian: apt-get install gnuplot-nox); nothing refreshed" >&2; exit 1; }

"$py" "$here/gbench_report.py" --build "$build" --save-results
"$py" "$here/speedup.py" --save-results
PYTHON="$py" "$here/compare/run.sh" --save-results
"$py" "$here/update_readme.py"
