#!/usr/bin/env bash
# Installs missing build dependencies, builds batchprop (the CUDA code too when nvcc is
# present) and runs the whole test suite. GPU tests skip, with the reason, without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
