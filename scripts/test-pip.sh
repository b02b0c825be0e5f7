#!/usr/bin/env bash
# `pip install .` the way a Python user without PyPI does it: a venv that sees Debian's packages
# (--system-site-packages: numpy, pybind11, setuptools, pytest), pip install --no-build-isolation,
# then, from the installed package (not the source or build tree): its metadata and version,
# and the book's chapter-3 sequence (python/tests/test_book.py's test_chapter_3). The source
# tree must come out as it went in (setuptools and CMake build under the ignored build-python/).
# To keep it short the extension is built CPU-only (BATCHPROP_CUDA=OFF; the main build covers
# CUDA), with ccache when it is installed: ~1 minute on 2 idle cores from nothing.
#   scripts/test-pip.sh        (run by scripts/test.sh; PYTHON=... picks the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
py=${PYTHON:-/usr/bin/python3}
[ $# -eq 0 ] || { echo "test-pip: takes no arguments (usage: scripts/test-pip.sh)" >&2; exit 2; }
command -v "$py" >/dev/null || { echo "test-pip: no $py" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/batchprop-pip.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tree_state() { git -C "$src" status --porcelain 2>/dev/null || true; }
before=$(tree_state)

echo "== a venv with the system's packages; pip install --no-build-isolation ."
"$py" -m venv --system-site-packages --without-pip "$tmp/venv"
args="-DBATCHPROP_CUDA=OFF"
command -v ccache >/dev/null && args="$args -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
start=$(date +%s)
env -u PYTHONPATH CMAKE_ARGS="$args ${CMAKE_ARGS:-}" \
    "$tmp/venv/bin/python" -m pip install --no-cache-dir --no-build-isolation --disable-pip-version-check . \
    >"$tmp/pip.log" 2>&1 || { tail -40 "$tmp/pip.log"; echo "test-pip: pip install failed" >&2; exit 1; }
echo "installed in $(($(date +%s) - start)) s: $(grep '^Successfully installed' "$tmp/pip.log")"

echo "== the installed package"
cd "$tmp"
env -u PYTHONPATH "$tmp/venv/bin/python" - "$tmp/venv" <<'PY'
import importlib.metadata as md
import sys

import batchprop

venv = sys.argv[1]
assert batchprop.__file__.startswith(venv + "/"), f"imported {batchprop.__file__}, not the venv's package"
assert md.version("batchprop") == batchprop.__version__, (md.version("batchprop"), batchprop.__version__)
files = {str(p) for p in md.files("batchprop")}
for need in ("batchprop/__init__.py", "batchprop/network2.py", "batchprop/mnist_loader.py", "batchprop/py.typed",
             "batchprop/_core.pyi"):
    assert need in files, f"{need} is not installed"
assert any(f.startswith("batchprop/_core.") and f.endswith(".so") for f in files), "no compiled _core"
meta = md.metadata("batchprop")
assert "numpy" in (md.requires("batchprop") or []), md.requires("batchprop")
print(f"batchprop {batchprop.__version__} from {batchprop.__file__}; metadata: {meta['Name']} {meta['Version']}, "
      f"requires {md.requires('batchprop')}")
PY

echo "== the book's chapter-3 sequence from the installed package"
env -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 "$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider \
    "$src/python/tests/test_book.py" -k test_chapter_3
cd "$src"

after=$(tree_state)
if [ "$before" != "$after" ]; then
  echo "test-pip: pip install changed the source tree:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
echo "test-pip: ok"
