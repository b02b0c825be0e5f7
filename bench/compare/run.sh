#!/usr/bin/env bash
# batchprop side by side with a plain C++ loop of cblas_sgemm calls (cblas_loop.cpp), numpy and
# PyTorch on the same network, data, hyper-parameters and epochs, timed in one run on this
# machine; with --save-results, writes the "compare" section of bench/RESULTS.md. Needs a built CLI (build/batchprop,
# or --cli PATH / $BATCHPROP_CLI) and the peer built with it (build/bench/cblas_loop, or --peer
# PATH), a Python 3 with numpy (Debian: python3-numpy) and, for the torch rows, torch
# (python3-torch).
#
#   bench/compare/run.sh                       # 3 rounds of 3 epochs each, ~2-3 min on 2 cores
#   bench/compare/run.sh --epochs 5 --cli build-cpu/batchprop
#   bench/compare/run.sh --train-limit 5000                   # a quick check (prints only)
#   bench/compare/run.sh --save-results        # records the table in bench/RESULTS.md
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The first Python that can import numpy: $PYTHON, then Debian's /usr/bin/python3 (where
# python3-numpy and python3-torch install), then python3 on PATH (may be a pyenv shim without them).
for py in "${PYTHON:-}" /usr/bin/python3 python3; do
  [[ -n "$py" ]] || continue
  if "$py" -c 'import numpy' 2>/dev/null; then
    exec "$py" "$here/compare.py" "$@"
  fi
done
echo "$0: no Python 3 with numpy found (Debian: apt-get install python3-numpy; or set PYTHON)" >&2
exit 1
