#!/usr/bin/env bash
# Installs an existing build into a temporary prefix, moves the installed tree elsewhere (the
# package must be relocatable), checks that no path of the source or build tree is baked into
# it, then builds examples/train_fashion and examples/predict_idx against the moved tree with
# find_package(batchprop) and runs them: a short training run on Fashion-MNIST (seconds), then
# predictions from the saved model. pkg-config's view of the package is checked too (predict_idx
# built from its plain line and from its --static line, and both run), and the
# Python module (when the build has it) is imported from the moved tree and trains there.
#   scripts/test-install.sh [BUILD_DIR]      (default: build, or $BUILD_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=$(cd "${1:-${BUILD_DIR:-build}}" && pwd)
data=${BATCHPROP_DATA:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/batchprop-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)

echo "== install into a temporary prefix, then move it"
cmake --install "$build" --prefix "$tmp/staged" >/dev/null
mv "$tmp/staged" "$tmp/prefix"
prefix=$tmp/prefix
if grep -rl -e "$src" -e "$build" "$prefix"; then
  echo "test-install: the files above name the source or build directory: the package is not relocatable" >&2
  exit 1
fi
(cd "$prefix" && find . -type f | sort)

echo "== pkg-config"
if command -v pkg-config >/dev/null; then
  pcdir=$(dirname "$(find "$prefix" -name batchprop.pc)")
  PKG_CONFIG_PATH=$pcdir pkg-config --modversion batchprop
  # A build without CMake: predict_idx from pkg-config's flags, once with the plain line a user
  # types (it must link whether the library is static, the default, or shared) and once with
  # --static's. Both are run below.
  for line in plain static; do
    opts=()
    [ "$line" = static ] && opts=(--static)
    flags=$(PKG_CONFIG_PATH=$pcdir pkg-config "${opts[@]}" --cflags --libs batchprop)
    echo "pkg-config ${opts[*]:+${opts[*]} }--cflags --libs batchprop: $flags"
    # shellcheck disable=SC2086
    ${CXX:-c++} -std=c++17 -O1 examples/predict_idx/predict_idx.cpp -o "$tmp/predict_idx_pc_$line" \
        $flags -Wl,-rpath,"$prefix/lib" \
      || { echo "test-install: examples/predict_idx does not link with 'pkg-config ${opts[*]:+${opts[*]} }--cflags --libs batchprop'" >&2; exit 1; }
  done
  echo "built examples/predict_idx with pkg-config's plain and --static lines"
fi

echo "== build the examples against the installed package"
for ex in train_fashion predict_idx; do
  cmake -S examples/$ex -B "$tmp/$ex" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build "$tmp/$ex" >/dev/null
done

echo "== run them"
if [ ! -e "$data/train-images-idx3-ubyte.gz" ] && [ ! -e "$data/train-images-idx3-ubyte" ]; then
  echo "test-install: no Fashion-MNIST in $data (apt-get install dataset-fashion-mnist): examples built, not run"
  exit 0
fi
"$tmp/train_fashion/train_fashion" --data "$data" --epochs 2 --train-limit 2000 --device cpu --save "$tmp/model.json"
"$tmp/predict_idx/predict_idx" "$tmp/model.json" "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz"
if [ -x "$tmp/predict_idx_pc_plain" ]; then
  for line in plain static; do
    "$tmp/predict_idx_pc_$line" "$tmp/model.json" "$data/t10k-images-idx3-ubyte.gz" >"$tmp/pc_$line.out"
  done
  cmp -s "$tmp/pc_plain.out" "$tmp/pc_static.out" \
    || { echo "test-install: the plain and --static pkg-config builds predict differently" >&2; exit 1; }
  cat "$tmp/pc_plain.out"
fi
pymod=$(find "$prefix" -path '*-packages/batchprop/__init__.py' | head -n 1)
if [ -n "$pymod" ]; then
  echo "== the Python module from the installed tree"
  PYTHONPATH=$(dirname "$(dirname "$pymod")") /usr/bin/python3 - "$tmp/model.json" <<'PY'
import os, sys
import batchprop
assert batchprop.__file__.startswith(os.environ["PYTHONPATH"]), f"imported {batchprop.__file__}, not the installed tree"
(X, y), _, (Xt, yt) = batchprop.mnist_loader.load_data()
net = batchprop.load(sys.argv[1], device="cpu")
print(f"batchprop {batchprop.__version__} from {batchprop.__file__}: the saved model gets "
      f"{net.accuracy((Xt, yt))} / {len(yt)}")
net.SGD((X[:2000], y[:2000]), 1, 10, 0.5, verbose=False)
PY
fi
echo "test-install: ok"
