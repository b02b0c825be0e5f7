#!/usr/bin/env bash
# Installs missing build dependencies, builds batchprop (the CUDA code too when nvcc is
# present) and runs the whole test suite. GPU tests skip, with the reason, without a GPU.
# scripts/test-install.sh then installs that build into a temporary prefix and builds and runs
# examples/ against the installed package; scripts/test-pip.sh pip-installs the Python package
# into a venv and runs the book's chapter 3 from it.
# A second stage rebuilds the CPU path with AddressSanitizer + UndefinedBehaviorSanitizer
# (BATCHPROP_SANITIZE=ON, in its own build directory) and runs the whole suite again under
# them; set BATCHPROP_SKIP_SANITIZE=1 to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
# The installed package, used from another project: examples/ built against it and run.
scripts/test-install.sh "$build"
# The Python package as pip installs it (a venv, pip install --no-build-isolation .).
scripts/test-pip.sh

if [ "${BATCHPROP_SKIP_SANITIZE:-0}" != 1 ]; then
  # Debug (-O0): under ASan, -O2 makes the test files compile ~4x slower (minutes on two
  # cores) while the suite runs in seconds either way. The benchmarks are not tests: skipped.
  asan=${ASAN_BUILD_DIR:-build-asan}
  cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=Debug -DBATCHPROP_SANITIZE=ON -DBATCHPROP_CUDA=OFF -DBATCHPROP_BENCH=OFF
  cmake --build "$asan" -j"$(nproc)"
  ctest --test-dir "$asan" --output-on-failure -j"$(nproc)"
fi
