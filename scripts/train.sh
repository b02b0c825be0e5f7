#!/usr/bin/env bash
# The main job: installs missing dependencies (Fashion-MNIST included), builds, and trains
# the book's [784,30,10] network on Fashion-MNIST. Extra arguments go to `batchprop train`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
exec "$build"/batchprop train "$@"
