#!/usr/bin/env bash
# Builds the libFuzzer targets for the three readers of untrusted input (IDX, CSV, model JSON)
# with AddressSanitizer and UndefinedBehaviorSanitizer, compiling the library sources they need
# directly. With an argument, also runs each target for that many seconds:
#   fuzz/build.sh        # build into build-fuzz/
#   fuzz/build.sh 60     # build, then fuzz each reader for 60 s
# New inputs found go to build-fuzz/corpus/<target>/ (fuzz/corpus/ holds the checked-in seeds);
# a crash is saved as build-fuzz/crash-* and can be replayed with build-fuzz/fuzz_<target> FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=${CXX:-clang++-14}
out=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${1:-}
mkdir -p "$out"
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc)
lib=(src/data/dataset.cpp src/data/csv.cpp src/data/model_io.cpp src/model/network.cpp src/data/output_file.cpp)
pids=()
for t in idx csv model_json; do
  echo "fuzz: building fuzz_$t" >&2
  "$CXX" "${flags[@]}" "fuzz/fuzz_$t.cpp" "${lib[@]}" -ldeflate -lz -o "$out/fuzz_$t" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done  # each build's status, so a failed one stops the script
[ -n "$seconds" ] || exit 0
root=$PWD
for t in idx csv model_json; do
  mkdir -p "$out/corpus/$t"
  echo "fuzz: running fuzz_$t for $seconds s" >&2
  "$out/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -dict="$root/fuzz/$t.dict" \
      -artifact_prefix="$out/crash-$t-" "$out/corpus/$t" "$root/fuzz/corpus/$t"
done
