#!/usr/bin/env bash
# gpu-check.sh: build here, check on a GPU machine there. Two halves:
#
#   scripts/gpu-check.sh bundle DIR          (build machine, needs nvcc; no GPU needed)
#       Configures a fresh CUDA build (sm_90 code + compute_75 PTX, Release), builds it and
#       copies into DIR: the test executables, the benchmarks, the CLI, the shared libraries
#       they load that a bare machine may lack (DIR/lib, gzip'd), this script
#       (DIR/gpu-check.sh) and, when it fits, Fashion-MNIST (DIR/data).
#       cuBLAS (libcublasLt alone is ~500 MiB) and the CUDA runtime are NOT bundled: the GPU
#       machine's CUDA installation provides them. The bundle must stay under 60 MiB.
#
#   DIR/gpu-check.sh run DIR [RESULTS]       (GPU machine; RESULTS defaults to ./gpu-results)
#       GPU name; every test executable (a test skipped for want of a GPU counts as a failure
#       when a GPU is present); `batchprop train --device cuda --epochs 3` on Fashion-MNIST;
#       compute-sanitizer memcheck and racecheck on test_gpu_vs_cpu; the benchmarks (JSON into
#       RESULTS), last because they are the longest and the budget cuts them first.
#       Each step has a timeout and the whole run a budget (GPU_CHECK_BUDGET_S, default 450 s).
#       Logs go to RESULTS; RESULTS/summary.txt (step, status, seconds) is printed last.
#       Exit status: 0 unless a step FAILED or timed out. Without a GPU (no nvidia-smi, or it
#       lists none) the GPU steps report "skipped: <reason>", which is not a failure.
#
# With the session's device tool (the bundle travels as an ignored folder; /build*/ is in
# .gitignore; results come back as one archive because few files may come back):
#   scripts/gpu-check.sh bundle build-gpubundle
#   run(carry=["build-gpubundle"], command="build-gpubundle/gpu-check.sh run build-gpubundle
#       /tmp/gpu-results; rc=$?; tar -C /tmp -czf $OUT/gpu-results.tgz gpu-results; exit $rc")
#
# Environment: GPU_CHECK_BUILD_DIR (bundle: build folder, default /tmp/batchprop-gpu-check-build,
# wiped first unless GPU_CHECK_REUSE_BUILD=1), GPU_CHECK_JOBS (build jobs, default: nproc),
# BATCHPROP_DATA (run: the IDX data folder), GPU_CHECK_BUDGET_S, GPU_CHECK_SANITIZER_FILTER.
set -u
set -o pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
MAX_BUNDLE_MIB=60

die() { echo "gpu-check: $*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -u/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 2
}

# ============================================================================== bundle ====

# Libraries every Linux machine has, and the NVIDIA driver's (libcuda must match the kernel
# driver, so it always comes from the GPU machine), and the CUDA libraries we expect there.
is_system_lib() {
    case "$1" in
        libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|linux-vdso*) return 0 ;;
        libcuda.so*|libnvidia-*) return 0 ;;
        libcublas.so*|libcublasLt.so*|libcudart.so*) return 0 ;;
    esac
    return 1
}

bundle() {
    local dir="$1"
    local src; src="$(cd "$(dirname "$SELF")/.." && pwd)"
    local build="${GPU_CHECK_BUILD_DIR:-${TMPDIR:-/tmp}/batchprop-gpu-check-build}"
    local jobs="${GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}"
    [ -f "$src/CMakeLists.txt" ] || die "no CMakeLists.txt in $src"
    command -v cmake >/dev/null || die "cmake not found"
    # DIR is replaced whole: refuse anything that is not empty or an earlier bundle.
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ] && [ ! -f "$dir/gpu-check.sh" ]; then
        die "$dir exists and is not a bundle; give a new or empty folder"
    fi

    if [ "${GPU_CHECK_REUSE_BUILD:-0}" != 1 ]; then rm -rf "$build"; fi
    echo "== configure $build (CUDA ON, 90-real;75-virtual, Release)"
    cmake -S "$src" -B "$build" -DBATCHPROP_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="90-real;75-virtual" \
        -DCMAKE_BUILD_TYPE=Release >"$build.configure.log" 2>&1 \
        || { tail -30 "$build.configure.log"; die "configure failed (log: $build.configure.log)"; }
    echo "== build -j$jobs"
    local rc=0
    cmake --build "$build" -j"$jobs" >"$build.build.log" 2>&1 || rc=$?
    grep -E "warning|error|Built target" "$build.build.log"
    [ "$rc" -eq 0 ] || die "build failed (log: $build.build.log)"

    rm -rf "$dir"
    mkdir -p "$dir/lib" || die "cannot create $dir"
    local bins=() f
    for f in "$build"/tests/test_*; do
        [ -f "$f" ] && [ -x "$f" ] && bins+=("$f")
    done
    [ "${#bins[@]}" -gt 0 ] || die "no test executables in $build/tests"
    for f in "$build"/bench/bench_*; do
        [ -f "$f" ] && [ -x "$f" ] && bins+=("$f")
    done
    [ -x "$build/batchprop" ] && bins+=("$build/batchprop")
    cp "${bins[@]}" "$dir/" || die "copying executables failed"
    cp "$SELF" "$dir/gpu-check.sh" && chmod +x "$dir/gpu-check.sh"
    # test_cli runs the CLI by the absolute path it was built with; the run half recreates it.
    [ -x "$build/batchprop" ] && echo "$build/batchprop" >"$dir/cli-build-path"

    # Shared libraries: everything ldd resolves that is not a base-system or CUDA library.
    local missing=0 name path line
    while read -r line; do
        name="${line%% *}"
        is_system_lib "$name" && continue
        if [[ "$line" == *"not found"* ]]; then
            echo "gpu-check: $name: not found by ldd" >&2
            missing=1
            continue
        fi
        path="$(echo "$line" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p')"
        [ -n "$path" ] || continue
        [ -e "$dir/lib/$name" ] || cp -L "$path" "$dir/lib/$name" || die "copying $path failed"
    done < <(for f in "${bins[@]}"; do ldd "$f"; done | sed 's/^[[:space:]]*//' | sort -u)
    [ "$missing" = 0 ] || die "some libraries were not found"
    # Stored gzip'd (OpenBLAS alone is 35 MiB, 10 gzip'd); the run half unpacks them into a
    # temporary folder, so the bundle may also be read-only there.
    gzip -9 "$dir"/lib/* || die "compressing the libraries failed"

    # The data set for the CLI step, if it fits: the GPU machine has no copy of its own.
    local data="${GPU_CHECK_DATA:-/usr/share/datasets/fashion-mnist}" limit=$((MAX_BUNDLE_MIB * 1048576))
    if [ -d "$data" ]; then
        local need; need=$(( $(du -sb "$dir" | cut -f1) + $(du -sbL "$data" | cut -f1) ))
        if [ "$need" -le "$limit" ]; then
            mkdir -p "$dir/data" || die "cannot create $dir/data"
            cp -L "$data"/*-ubyte* "$dir/data/" || die "copying $data failed"
        else
            echo "gpu-check: $data left out: the bundle would be $((need / 1048576)) MiB" >&2
        fi
    fi

    echo "== bundle $dir"
    for f in "$dir"/* "$dir"/lib/* "$dir"/data/*; do
        [ -f "$f" ] && printf '  %-40s %8s KiB\n' "${f#"$dir"/}" $(( $(stat -c %s "$f") / 1024 ))
    done
    local bytes; bytes=$(du -sb "$dir" | cut -f1)
    local mib; mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
    echo "bundle size: $mib MiB ($bytes bytes; limit $MAX_BUNDLE_MIB MiB)"
    [ "$bytes" -le "$limit" ] || die "bundle is larger than $MAX_BUNDLE_MIB MiB"
}

# ================================================================================= run ====

STEPS=() STATUS=() SECS=()
FAILED=0
START=$(date +%s)
BUDGET="${GPU_CHECK_BUDGET_S:-450}"

record() {  # name status seconds
    STEPS+=("$1") STATUS+=("$2") SECS+=("$3")
    case "$2" in FAILED*|TIMEOUT*) FAILED=1 ;; esac
    printf '%-28s %s (%ss)\n' "$1" "$2" "$3"
}

# Seconds left for a step that wants $1: capped by what is left of the budget.
time_for() {
    local left=$((BUDGET - ($(date +%s) - START)))
    [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}

# run_step NAME TIMEOUT LOG cmd...: runs cmd under timeout, output to LOG; sets STEP_RC.
STEP_RC=0 STEP_T=0
run_step() {
    local name="$1" want="$2" log="$3"
    shift 3
    local t; t=$(time_for "$want")
    if [ "$t" -lt 5 ]; then
        STEP_RC=-1 STEP_T=0
        record "$name" "skipped: out of time budget (${BUDGET}s)" 0
        return
    fi
    local t0; t0=$(date +%s)
    echo "== $name (timeout ${t}s): $*" >"$log"
    timeout --kill-after=10 "$t" "$@" >>"$log" 2>&1
    STEP_RC=$?
    STEP_T=$(($(date +%s) - t0))
    if [ "$STEP_RC" = 124 ] || [ "$STEP_RC" = 137 ]; then
        record "$name" "TIMEOUT after ${t}s (log: $(basename "$log"))" "$STEP_T"
        STEP_RC=-2
    fi
}

find_sanitizer() {
    command -v compute-sanitizer 2>/dev/null && return
    local p
    for p in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer \
             /opt/nvidia/compute-sanitizer/compute-sanitizer; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
}

# LD_LIBRARY_PATH: the bundle's libraries (unpacked into a temporary folder) first, then the
# usual CUDA locations; if cuBLAS is still not there, look for it in a few likely places (pip
# wheels keep it under site-packages/nvidia).
set_library_path() {
    local dir="$1" p extra="" f f_out
    LIBDIR="$(mktemp -d "${TMPDIR:-/tmp}/batchprop-gpu-check-lib.XXXXXX")" || die "mktemp failed"
    for f in "$dir"/lib/*; do
        [ -f "$f" ] || continue
        case "$f" in
            *.gz) f_out="$LIBDIR/$(basename "${f%.gz}")"; gzip -dc "$f" >"$f_out" || die "unpacking $f failed" ;;
            *) cp "$f" "$LIBDIR/" || die "copying $f failed" ;;
        esac
    done
    for p in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib; do
        [ -d "$p" ] && extra="$extra:$p"
    done
    export LD_LIBRARY_PATH="$LIBDIR$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    local lib found
    for lib in libcublas.so.13 libcudart.so.13; do
        ldconfig -p 2>/dev/null | grep -q "$lib" && continue
        found=""
        local IFS=:
        for p in $LD_LIBRARY_PATH; do [ -e "$p/$lib" ] && found="$p" && break; done
        unset IFS
        [ -n "$found" ] && continue
        found=$(find /usr/local /opt /usr/lib -maxdepth 8 -name "$lib" 2>/dev/null | head -1)
        if [ -n "$found" ]; then
            LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$found")"
            export LD_LIBRARY_PATH
        fi
    done
}

# What the run made outside RESULTS, removed on exit.
LIBDIR="" CLI_LINK="" CLI_TOP=""
cleanup() {
    [ -n "$LIBDIR" ] && rm -rf "$LIBDIR"
    if [ -n "$CLI_LINK" ]; then
        rm -f "$CLI_LINK"
        # The folders made for the link, innermost first, as long as they are empty.
        local d; d=$(dirname "$CLI_LINK")
        while [ -n "$CLI_TOP" ] && rmdir "$d" 2>/dev/null && [ "$d" != "$CLI_TOP" ]; do d=$(dirname "$d"); done
    fi
    return 0
}

# test_cli starts the CLI by the absolute path it had on the build machine (compiled in). Put
# a link to the bundle's CLI there, if nothing is there yet; it is removed on exit.
link_cli_build_path() {
    local dir="$1" p
    [ -f "$dir/cli-build-path" ] && [ -x "$dir/batchprop" ] || return 0
    p=$(cat "$dir/cli-build-path")
    [ -e "$p" ] && return 0
    local top; top=$(dirname "$p")
    while [ ! -e "$(dirname "$top")" ]; do top=$(dirname "$top"); done
    [ -e "$top" ] || CLI_TOP="$top"  # the outermost folder that mkdir -p will make
    if mkdir -p "$(dirname "$p")" 2>/dev/null && ln -s "$dir/batchprop" "$p" 2>/dev/null; then
        CLI_LINK="$p"
        echo "linked $p -> $dir/batchprop (for test_cli)"
    fi
}

run_checks() {
    local dir; dir="$(cd "$1" && pwd)" || die "no bundle at $1"
    local results="${2:-./gpu-results}"
    mkdir -p "$results" || die "cannot create $results"
    results="$(cd "$results" && pwd)"
    trap cleanup EXIT
    echo "gpu-check run: bundle $dir, results $results, budget ${BUDGET}s"
    set_library_path "$dir"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    link_cli_build_path "$dir"

    # ---- is there a GPU? -----------------------------------------------------------------
    local have_gpu=0 why="" t0
    t0=$(date +%s)
    if ! command -v nvidia-smi >/dev/null; then
        why="no nvidia-smi on this machine"
    elif ! nvidia-smi -L >"$results/gpu.log" 2>&1 || ! grep -q '^GPU ' "$results/gpu.log"; then
        why="nvidia-smi lists no GPU: $(head -1 "$results/gpu.log")"
    else
        have_gpu=1
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$results/gpu.log" 2>&1
    fi
    if [ -x "$dir/batchprop" ]; then
        timeout 60 "$dir/batchprop" info >>"$results/gpu.log" 2>&1 || echo "(batchprop info failed: rc $?)" >>"$results/gpu.log"
    fi
    if [ "$have_gpu" = 1 ]; then
        record "gpu" "ok: $(grep '^GPU 0' "$results/gpu.log" | head -1 | sed 's/ (UUID.*//')" $(($(date +%s) - t0))
    else
        record "gpu" "none: $why" $(($(date +%s) - t0))
    fi
    sed 's/^/  /' "$results/gpu.log"

    # ---- tests ---------------------------------------------------------------------------
    local tests=() f
    [ -x "$dir/test_gpu_vs_cpu" ] && tests+=("$dir/test_gpu_vs_cpu")
    for f in "$dir"/test_*; do
        [ -x "$f" ] && [ "$f" != "$dir/test_gpu_vs_cpu" ] && tests+=("$f")
    done
    [ "${#tests[@]}" -gt 0 ] || record "tests" "FAILED: no test executables in $dir" 0
    for f in "${tests[@]}"; do
        local name; name=$(basename "$f")
        local log="$results/$name.log"
        run_step "$name" 240 "$log" "$f" --gtest_brief=1
        [ "$STEP_RC" -lt 0 ] && continue
        # gtest prints "file:line: Skipped" and then the GTEST_SKIP message. A skip that names
        # the GPU or CUDA is a GPU test that did not run: a failure where a GPU exists. Other
        # skips (an optional data set not installed, ...) are reported, never failures.
        local skipped reasons gpu_skips first
        skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) tests\{0,1\}[.,].*/\1/p' "$log" | tail -1)
        skipped=${skipped:-0}
        reasons=$(grep -A1 ': Skipped$' "$log" | grep -v -e ': Skipped$' -e '^--$')
        gpu_skips=$(grep -c -i -E 'gpu|cuda' <<<"$reasons")
        first=$(head -1 <<<"$reasons")
        if [ "$STEP_RC" != 0 ]; then
            record "$name" "FAILED (rc $STEP_RC; $(grep -c '^\[  FAILED  \] [A-Za-z]' "$log") failed; log: $name.log)" "$STEP_T"
        elif [ "$gpu_skips" -gt 0 ] && [ "$have_gpu" = 1 ]; then
            record "$name" "FAILED: $gpu_skips GPU test(s) skipped on a GPU machine: $(grep -m1 -i -E 'gpu|cuda' <<<"$reasons")" "$STEP_T"
        elif [ "$gpu_skips" -gt 0 ]; then
            record "$name" "ok, $skipped skipped: $why" "$STEP_T"
        elif [ "$skipped" -gt 0 ]; then
            record "$name" "ok, $skipped skipped: $first" "$STEP_T"
        else
            record "$name" "ok" "$STEP_T"
        fi
    done

    # ---- the CLI on real data ---------------------------------------------------------------
    local data=""
    for f in "${BATCHPROP_DATA:-}" "$dir/data" /usr/share/datasets/fashion-mnist; do
        if [ -n "$f" ] && [ -d "$f" ] && ls "$f"/train-images* >/dev/null 2>&1; then data="$f"; break; fi
    done
    if [ "$have_gpu" != 1 ]; then
        record "cli-train" "skipped: $why" 0
    elif [ ! -x "$dir/batchprop" ]; then
        record "cli-train" "FAILED: no batchprop executable in the bundle" 0
    elif [ -z "$data" ]; then
        record "cli-train" "skipped: no data (set BATCHPROP_DATA, or bundle DIR/data)" 0
    else
        run_step "cli-train" 120 "$results/cli-train.log" "$dir/batchprop" train --device cuda --epochs 3 --data "$data"
        if [ "$STEP_RC" = 0 ]; then
            record "cli-train" "ok ($(grep -ci 'epoch' "$results/cli-train.log") epoch lines; data $data)" "$STEP_T"
        elif [ "$STEP_RC" -gt 0 ]; then
            record "cli-train" "FAILED (rc $STEP_RC; log: cli-train.log)" "$STEP_T"
        fi
    fi

    # ---- compute-sanitizer ------------------------------------------------------------------
    # The reduced sweep (BATCHPROP_GPU_TEST_QUICK) keeps a sanitized run within minutes; the
    # out-of-memory test is left out because the sanitizer reports its deliberate failure.
    local san; san=$(find_sanitizer)
    local filter="${GPU_CHECK_SANITIZER_FILTER:--CudaBackend.OutOfMemory*}"
    local tool
    for tool in memcheck racecheck; do
        local step="sanitizer-$tool"
        if [ "$have_gpu" != 1 ]; then record "$step" "skipped: $why" 0; continue; fi
        if [ -z "$san" ]; then record "$step" "skipped: compute-sanitizer not found" 0; continue; fi
        if [ ! -x "$dir/test_gpu_vs_cpu" ]; then record "$step" "FAILED: no test_gpu_vs_cpu" 0; continue; fi
        run_step "$step" 180 "$results/$step.log" env BATCHPROP_GPU_TEST_QUICK=1 "$san" --tool "$tool" \
            --error-exitcode 99 "$dir/test_gpu_vs_cpu" --gtest_brief=1 --gtest_filter="$filter"
        [ "$STEP_RC" -lt 0 ] && continue
        local summary; summary=$(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$results/$step.log" | sed 's/^========= //')
        if grep -q 'Device not supported' "$results/$step.log"; then
            record "$step" "skipped: compute-sanitizer does not support this device/runtime (e.g. gVisor)" "$STEP_T"
        elif [ "$STEP_RC" = 0 ]; then
            record "$step" "ok (${summary:-no summary line})" "$STEP_T"
        else
            record "$step" "FAILED (rc $STEP_RC; ${summary:-see log}; log: $step.log)" "$STEP_T"
        fi
    done

    # ---- benchmarks -------------------------------------------------------------------------
    local benches=()
    for f in "$dir"/bench_train* "$dir"/bench_ops*; do [ -x "$f" ] && benches+=("$f"); done
    if [ "${#benches[@]}" = 0 ]; then
        record "bench" "skipped: no bench_train*/bench_ops* in the bundle" 0
    fi
    for f in "${benches[@]}"; do
        local name; name=$(basename "$f")
        if [ "$have_gpu" != 1 ]; then
            record "$name" "skipped: $why" 0
            continue
        fi
        run_step "$name" 150 "$results/$name.log" "$f" --benchmark_format=console \
            --benchmark_out="$results/$name.json" --benchmark_out_format=json
        [ "$STEP_RC" -lt 0 ] && continue
        if [ "$STEP_RC" = 0 ]; then
            local errs; errs=$(grep -c 'ERROR OCCURRED' "$results/$name.log")
            if [ "$errs" = 0 ]; then
                record "$name" "ok ($name.json)" "$STEP_T"
            else
                record "$name" "FAILED: $errs benchmark(s) reported an error (log: $name.log)" "$STEP_T"
            fi
        else
            record "$name" "FAILED (rc $STEP_RC; log: $name.log)" "$STEP_T"
        fi
    done

    # ---- summary ----------------------------------------------------------------------------
    {
        echo "gpu-check summary $(date -u +%Y-%m-%dT%H:%M:%SZ), bundle $dir"
        [ "$have_gpu" = 1 ] && echo "GPU: $(sed -n 2p "$results/gpu.log")" || echo "GPU: none ($why)"
        printf '%-22s %-64s %5s\n' "step" "status" "secs"
        local i
        for i in "${!STEPS[@]}"; do
            printf '%-22s %-64s %5s\n' "${STEPS[$i]}" "${STATUS[$i]}" "${SECS[$i]}"
        done
        echo "total $(($(date +%s) - START))s; result: $([ "$FAILED" = 0 ] && echo PASS || echo FAIL)"
    } >"$results/summary.txt"
    echo
    cat "$results/summary.txt"
    return "$FAILED"
}

# ================================================================================ main ====

[ $# -ge 1 ] || usage
case "$1" in
    bundle) [ $# -eq 2 ] || usage; bundle "$2" ;;
    run)
        if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
        run_checks "$2" "${3:-./gpu-results}"
        exit $?
        ;;
    -h|--help|help) usage ;;
    *) usage ;;
esac
