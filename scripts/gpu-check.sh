#!/usr/bin/env bash
# gpu-check.sh: proves batchprop's GPU path on an NVIDIA GPU in one command: the GPU against
# the CPU op by op and over whole runs, the CLI on Fashion-MNIST, the GPU benchmarks and
# compute-sanitizer; PASS or FAIL, with the figures, in about 7-8 minutes.
#
# On a GPU machine that has the CUDA toolkit (nvcc), build the bundle and run it in place:
#   scripts/gpu-check.sh bundle build-gpubundle                   # the CUDA build (minutes)
#   build-gpubundle/gpu-check.sh run build-gpubundle gpu-results  # the checks; gpu-results/summary.txt
#
# Or build on any Debian machine with nvcc (no GPU needed) and run on the GPU machine, which
# needs only the NVIDIA driver and the CUDA 13 runtime and cuBLAS (a CUDA install, or the
# nvidia-* Python wheels); the bundle is one folder under 60 MiB:
#   scripts/gpu-check.sh bundle build-gpubundle
#   scp -r build-gpubundle gpuhost: && ssh gpuhost build-gpubundle/gpu-check.sh run build-gpubundle
#   scp -r gpuhost:gpu-results .
# In a batch job set GPU_CHECK_REQUIRE_GPU=1: a node without a usable GPU then stops the run
# (exit 3) instead of passing with every GPU step skipped.
#
#   scripts/gpu-check.sh bundle DIR            (build machine: nvcc, no GPU needed; minutes)
#       Builds the CLI, the GPU tests (test_gpu_vs_cpu, _cluster, _tf32, _sweep) and benchmarks
#       (bench_train, bench_ops, bench_sweep) for sm_90 + compute_75 PTX (Release, libstdc++
#       static in the CLI and the tests, stripped) into DIR-build and
#       packs DIR: bin/ (the executables, gzip'd), lib/ (the shared libraries a bare machine may
#       lack: OpenBLAS and its Fortran runtime, zlib, Google Benchmark; gzip'd), data/ (the 50,000
#       training and 10,000 test images of Fashion-MNIST that training uses), the PyTorch peer and
#       this script with its two Python helpers. Nothing coupled to glibc travels (libc, libm,
#       libmvec, ld-linux are the target's), nor the CUDA runtime, cuBLAS or the driver. Every
#       bundled file's needed symbol versions are checked; the listing ends with the glibc the
#       target needs. The bundle must stay under 60 MiB.
#
#   DIR/gpu-check.sh run DIR [RESULTS]          (GPU machine; RESULTS defaults to ./gpu-results)
#       A pre-flight (seconds): glibc vs the bundle's need, the driver (>= 580 for CUDA 13), where
#       libcudart.so.13, libcublas.so.13 and libcublasLt.so.13 come from (ldconfig, the machine's
#       /usr/local/cuda*, Python wheels' site-packages/nvidia/*), that every executable's libraries
#       resolve, and that the CUDA runtime sees the GPU. A mismatch stops the run with one line.
#       Then: test_gpu_vs_cpu; the CLI on Fashion-MNIST (double, 200 steps from one saved model:
#       cuda and cpu parameters within 1e-12; float, 3 epochs: test accuracy within 3 points;
#       --launch graph vs eager bitwise, when train --help lists --launch; eval and predict on
#       cuda vs cpu); the GPU rows of bench_train (key rows, then the rest) and bench_ops;
#       compute-sanitizer memcheck and initcheck on the op-by-op tests; Nsight Compute on one
#       fused-step launch (when ncu is there; never a failure); the PyTorch peer on cuda.
#       Issue 20's steps: cluster-tests (test_gpu_cluster: the cluster step bitwise the same for
#       every N the GPU schedules and near the CPU), tf32-tests (test_gpu_tf32: a TF32 step
#       within 1e-2 of FP32, graph = eager); racecheck and synccheck on the fused kernels, one-block,
#       cluster and a sweep's shared launch (a tool refused here reads "skipped", hazards FAIL); m-sweep (the CLI's epoch
#       time at m = 1..20 for graph, fused and the cluster step, float, and double at 1, 10,
#       20: m-sweep.txt, figures only, never a failure).
#       Issue 23's step, sweep: sweep-tests (test_gpu_sweep: every model of a GPU sweep bitwise
#       itself trained alone, float and double, the one-block models in shared launches; a
#       divergence kept to its model; the caller's data unchanged); sweep-bench (bench_sweep's GPU
#       rows: model-epochs/s of [784,30,10] m = 10 against K = 1..264 models at once, and one model
#       alone with --launch fused and graph: sweep-bench.txt/json, figures only); sweep-cli (the
#       chapter-3 table, 3 etas x 3 lambdas x 4 seeds x 30 epochs with `batchprop sweep`, its wall
#       seconds against issue 23's 7.9 s; a CLI error fails, the time never does).
#       Each step has a time limit and the run a budget (GPU_CHECK_BUDGET_S, 500 s): a benchmark,
#       sanitizer or peer step cut by it reads "cut", not a failure. RESULTS gets the logs and
#       summary.txt (steps, status, seconds, PASS/FAIL, key figures), printed last.
#       Exit status: 0 PASS, 1 FAIL, 2 bad arguments, 3 stopped by the pre-flight. Without a GPU
#       (no nvidia-smi and no /dev/nvidia*) each GPU step reads "skipped: <reason>".
#
#   scripts/gpu-check.sh glibc-check [--max X.Y] FILE...
#       The symbol versions each file needs from glibc (the highest GLIBC_x.y, GLIBC_PRIVATE, ...).
#       Exit 1 when one is part of glibc, needs glibc-private symbols or a GLIBC_x.y above X.Y.
#
# Environment, bundle: GPU_CHECK_JOBS (build jobs, default nproc), GPU_CHECK_BUILD_DIR (default
# DIR-build; GPU_CHECK_CLEAN=1 wipes it first), GPU_CHECK_DATA (the Fashion-MNIST folder),
# GPU_CHECK_MAX_GLIBC (2.34: files needing more are refused). Run: GPU_CHECK_REQUIRE_GPU=1 (no
# GPU stops the run), GPU_CHECK_BUDGET_S, GPU_CHECK_SANITIZER_FILTER, GPU_CHECK_SELFTEST=1 (the
# CPU stands in for the GPU in the CLI and benchmark steps, to try the script on a machine
# without one; nothing it prints is a GPU result).
set -u
set -o pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
HERE="$(dirname "$SELF")"
MAX_BUNDLE_MIB=60
USAGE="usage: gpu-check.sh bundle DIR | run DIR [RESULTS] | glibc-check [--max X.Y] FILE... (--help for details)"

die() { echo "gpu-check: $*" >&2; exit 1; }
bad_usage() { echo "gpu-check: $1; $USAGE" >&2; exit 2; }
help() { sed -n '2,/^set -u/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0; }

# ================================================================== symbol versions ====

# Libraries that are glibc itself: they must come from the target, matching its ld.so.
is_glibc_lib() {
    case "$1" in
        libc.so*|libm.so*|libmvec.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|linux-vdso*|\
        libresolv.so*|libutil.so*|libanl.so*|libnss_*|libBrokenLocale.so*|libthread_db.so*|\
        libc_malloc_debug.so*|libmemusage.so*|libpcprofile.so*|libnsl.so.1) return 0 ;;
    esac
    return 1
}

# elf_needs FILE: "LIBRARY VERSION" for each symbol version FILE needs (readelf's version-needs
# section: what the dynamic loader checks before anything runs).
elf_needs() {
    LC_ALL=C readelf -V -W "$1" 2>/dev/null | awk '
        /^Version [a-z]+ section/ { s = ($0 ~ /^Version needs section/); next }
        s && /File:/ { for (i = 1; i <= NF; i++) if ($i == "File:") f = $(i + 1) }
        s && /Name:/ { for (i = 1; i <= NF; i++) if ($i == "Name:") print f, $(i + 1) }'
}

ver_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$1" ]; }

# glibc_need FILE: the glibc release FILE needs (GLIBC_ABI_DT_RELR counts as 2.36, where it came in).
glibc_need() {
    elf_needs "$1" | awk '{print $2}' | sed -n -e 's/^GLIBC_\([0-9][0-9.]*\)$/\1/p' -e 's/^GLIBC_ABI_DT_RELR$/2.36/p' \
        | sort -V | tail -1
}

# glibc_check MAX FILE...: one line per file; returns 1 when a file must not travel.
glibc_check() {
    local max="$1" f bad=0 need needs private relr cxx name
    shift
    for f in "$@"; do
        name=$(basename "$f")
        if ! LC_ALL=C readelf -h "$f" >/dev/null 2>&1; then
            echo "  $name: not an ELF file"; bad=1; continue
        fi
        needs=$(elf_needs "$f")
        need=$(glibc_need "$f")
        private=$(awk '$2 == "GLIBC_PRIVATE" {print $1}' <<<"$needs" | sort -u | paste -sd, -)
        relr=$(awk '$2 == "GLIBC_ABI_DT_RELR" {print "GLIBC_ABI_DT_RELR"; exit}' <<<"$needs")
        cxx=$(awk '{print $2}' <<<"$needs" | sed -n 's/^GLIBCXX_\([0-9.]*\)$/\1/p' | sort -V | tail -1)
        local line="  $name: needs GLIBC_${need:-none}${relr:+ ($relr)}" why=()
        [ -n "$private" ] && line="$line, GLIBC_PRIVATE from $private"
        [ -n "$cxx" ] && line="$line, GLIBCXX_$cxx (the target's libstdc++)"
        is_glibc_lib "$name" && why+=("part of glibc itself, it must be the target's")
        [ -n "$private" ] && why+=("glibc-private symbols bind it to one glibc build")
        if [ -n "$max" ] && [ -n "$need" ] && ! ver_le "$need" "$max"; then why+=("newer than GLIBC_$max"); fi
        if [ "${#why[@]}" -gt 0 ]; then
            bad=1
            line="$line; BAD: $(printf '%s; ' "${why[@]}")"
            line="${line%; }"
        fi
        echo "$line"
    done
    return "$bad"
}

glibc_check_cmd() {
    local max=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --max) [ $# -ge 2 ] || bad_usage "--max needs a version"; max="$2"; shift 2 ;;
            --max=*) max="${1#--max=}"; shift ;;
            -*) bad_usage "unknown option $1" ;;
            *) break ;;
        esac
    done
    [ -z "$max" ] || [[ "$max" =~ ^[0-9]+\.[0-9]+$ ]] || bad_usage "--max wants X.Y, not '$max'"
    [ $# -ge 1 ] || bad_usage "glibc-check needs at least one FILE"
    command -v readelf >/dev/null || die "readelf not found (binutils)"
    local f
    for f in "$@"; do [ -r "$f" ] || bad_usage "cannot read $f"; done
    local rc=0 all
    glibc_check "$max" "$@" || rc=1
    all=$(for f in "$@"; do glibc_need "$f"; done | sort -V | tail -1)
    echo "needs glibc >= ${all:-any}"
    return "$rc"
}

# ============================================================================== bundle ====

# The executables that travel: what the GPU steps run. The CPU-only tests ran on the build
# machine and stay there.
BUNDLE_EXES=(batchprop test_gpu_vs_cpu test_gpu_cluster test_gpu_tf32 test_gpu_sweep bench_train bench_ops bench_sweep)

# Libraries the target provides: glibc; the driver (libcuda must match the kernel module);
# the CUDA runtime and cuBLAS (libcublasLt alone is ~500 MiB); the GCC runtime (the CLI and the
# test carry theirs; the benchmarks use the target's, as its Google Benchmark would).
target_provides() {
    is_glibc_lib "$1" && return 0
    case "$1" in
        libcuda.so*|libnvidia-*|libcudart.so*|libcublas.so*|libcublasLt.so*) return 0 ;;
        libstdc++.so*|libgcc_s.so*) return 0 ;;
    esac
    return 1
}

# Fashion-MNIST as training uses it: the first 50,000 training images and labels (IDX, gzip -9)
# and the 10,000 test images and labels as they are. Cached in the build folder.
prepare_data() {
    local from="$1" to="$2"
    local f
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        [ -e "$from/$f.gz" ] || [ -e "$from/$f" ] || die "no $f[.gz] in $from (set GPU_CHECK_DATA)"
    done
    local stamp; stamp=$(stat -Lc '%n %s %Y' "$from"/*-ubyte* | md5sum | cut -c1-12)
    if [ -f "$to/.stamp" ] && [ "$(cat "$to/.stamp")" = "$stamp" ]; then return 0; fi
    rm -rf "$to" && mkdir -p "$to" || die "cannot create $to"
    echo "== data: the first 50,000 training examples of $from (once; cached in $to)"
    python3 - "$from" "$to" <<'EOF' || die "preparing the data failed"
import gzip, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
def read(stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(src, name)
        if os.path.exists(p):
            raw = open(p, "rb").read()
            return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
for stem, keep in (("train-images-idx3-ubyte", 50000), ("train-labels-idx1-ubyte", 50000),
                   ("t10k-images-idx3-ubyte", None), ("t10k-labels-idx1-ubyte", None)):
    raw = read(stem)
    ndim = raw[3]
    dims = list(struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim]))
    if keep is not None and dims[0] > keep:
        per = 1
        for d in dims[1:]:
            per *= d
        dims[0] = keep
        raw = raw[:4] + struct.pack(">" + "I" * ndim, *dims) + raw[4 + 4 * ndim:4 + 4 * ndim + keep * per]
    with open(os.path.join(dst, stem + ".gz"), "wb") as f:
        f.write(gzip.compress(raw, 9, mtime=0))
EOF
    echo "$stamp" >"$to/.stamp"
}

bundle() {
    local dir="${1%/}"
    local src; src="$(cd "$HERE/.." && pwd)"
    local build="${GPU_CHECK_BUILD_DIR:-$dir-build}"
    local jobs="${GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}"
    local maxg="${GPU_CHECK_MAX_GLIBC:-2.34}"
    local data_src="${GPU_CHECK_DATA:-/usr/share/datasets/fashion-mnist}"
    [ -f "$src/CMakeLists.txt" ] || die "no CMakeLists.txt in $src"
    local t
    for t in cmake readelf gzip python3 ldd; do command -v "$t" >/dev/null || die "$t not found"; done
    # DIR is replaced whole: refuse anything that is not empty or an earlier bundle.
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ] && [ ! -f "$dir/gpu-check.sh" ]; then
        die "$dir exists and is not a bundle; give a new or empty folder"
    fi
    [ -d "$data_src" ] || die "no data at $data_src (set GPU_CHECK_DATA): real data always travels"

    [ "${GPU_CHECK_CLEAN:-0}" = 1 ] && rm -rf "$build"
    mkdir -p "$build" || die "cannot create $build"
    local launcher=()
    if command -v ccache >/dev/null; then
        launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
    fi
    # Without MPI: a GPU machine is not expected to have Open MPI's libraries, and the bundle
    # runs one process (the NCCL code is still built; build/tests/test_distributed tries it on
    # one GPU).
    echo "== configure $build (CUDA ON, 90-real;75-virtual, Release, static libstdc++, stripped, no MPI)"
    cmake -S "$src" -B "$build" -DBATCHPROP_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="90-real;75-virtual" \
        -DCMAKE_BUILD_TYPE=Release -DBATCHPROP_STATIC_RUNTIME=ON -DBATCHPROP_STRIP=ON \
        -DBATCHPROP_TESTS=ON -DBATCHPROP_BENCH=ON "${launcher[@]}" \
        -DBATCHPROP_MPI=OFF >"$build/gpu-check-configure.log" 2>&1 \
        || { tail -30 "$build/gpu-check-configure.log"; die "configure failed (log: $build/gpu-check-configure.log)"; }
    echo "== build -j$jobs: ${BUNDLE_EXES[*]}"
    local rc=0
    # The CLI's target is batchprop_cli; the others' targets are named as their executables.
    cmake --build "$build" -j"$jobs" --target batchprop_cli "${BUNDLE_EXES[@]:1}" \
        >"$build/gpu-check-build.log" 2>&1 || rc=$?
    grep -E "warning|error" "$build/gpu-check-build.log" | head -20
    [ "$rc" -eq 0 ] || { tail -20 "$build/gpu-check-build.log"; die "build failed (log: $build/gpu-check-build.log)"; }

    local exes=() e
    for e in "${BUNDLE_EXES[@]}"; do
        local p; p=$(find "$build" -maxdepth 2 -type f -name "$e" -perm -u+x | head -1)
        [ -n "$p" ] || die "$e was not built in $build"
        exes+=("$p")
    done
    prepare_data "$data_src" "$build/gpu-check-data"

    local tmp="$dir.partial"
    rm -rf "$tmp" && mkdir -p "$tmp/bin" "$tmp/lib" "$tmp/data/fashion-mnist" "$tmp/peer" || die "cannot create $tmp"

    # Shared libraries: what ldd resolves that the target is not expected to provide.
    local libs=() line name path
    while read -r line; do
        name="${line%% *}"
        target_provides "$(basename "$name")" && continue
        [[ "$line" == *"not found"* ]] && die "$name: not found by ldd on this machine"
        path=$(sed -n 's/.*=> \(\/[^ ]*\).*/\1/p' <<<"$line")
        [ -n "$path" ] && [[ " ${libs[*]} " != *" $path "* ]] && libs+=("$path")
    done < <(for e in "${exes[@]}"; do ldd "$e"; done | sed -e 's/^[[:space:]]*//' -e 's/ (0x[0-9a-f]*)$//' | sort -u)

    echo "== symbol versions (at most GLIBC_$maxg may travel)"
    local checked=() l
    for l in "${libs[@]}"; do
        cp -L "$l" "$tmp/lib/$(basename "$l")" || die "copying $l failed"
        checked+=("$tmp/lib/$(basename "$l")")
    done
    glibc_check "$maxg" "${exes[@]}" "${checked[@]}" || die "a file above may not travel (see BAD)"
    local need; need=$(for f in "${exes[@]}" "${checked[@]}"; do glibc_need "$f"; done | sort -V | tail -1)
    local cxx; cxx=$(for f in "${exes[@]}" "${checked[@]}"; do elf_needs "$f"; done | awk '{print $2}' \
        | sed -n 's/^GLIBCXX_\([0-9.]*\)$/\1/p' | sort -V | tail -1)

    for e in "${exes[@]}"; do gzip -9nc "$e" >"$tmp/bin/$(basename "$e").gz" || die "packing $e failed"; done
    gzip -9n "$tmp"/lib/* || die "packing the libraries failed"
    cp "$build/gpu-check-data/"*.gz "$tmp/data/fashion-mnist/" || die "copying the data failed"
    cp "$src/bench/compare/torch_backprop.py" "$src/bench/compare/numpy_backprop.py" "$tmp/peer/" || die "copying the peer failed"
    cp "$SELF" "$tmp/gpu-check.sh" && chmod +x "$tmp/gpu-check.sh" || die "copying the script failed"
    cp "$HERE/compare_models.py" "$HERE/gpu_check_figures.py" "$tmp/" || die "copying the helpers failed"
    {
        echo "glibc_need $need"
        echo "glibcxx_need ${cxx:-none} (the benchmarks and libbenchmark only: the target's libstdc++)"
        echo "source $(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)"
        echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), $(getconf GNU_LIBC_VERSION 2>/dev/null), $(/usr/local/cuda/bin/nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'nvcc ?')"
        echo "data Fashion-MNIST: first 50000 training images and labels, 10000 test images and labels"
    } >"$tmp/MANIFEST"
    rm -rf "$dir" && mv "$tmp" "$dir" || die "cannot move $tmp to $dir"

    echo "== bundle $dir"
    local f
    while read -r f; do
        printf '  %-48s %9s KiB\n' "${f#"$dir"/}" $(( ($(stat -c %s "$f") + 1023) / 1024 ))
    done < <(find "$dir" -type f | sort)
    local bytes; bytes=$(du -sb "$dir" | cut -f1)
    echo "bundle size: $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB ($bytes bytes; limit $MAX_BUNDLE_MIB MiB)"
    echo "no glibc library inside; the target needs glibc >= $need (and GLIBCXX_${cxx:-none} in its libstdc++ for the benchmarks)"
    [ "$bytes" -le $((MAX_BUNDLE_MIB * 1048576)) ] || die "bundle is larger than $MAX_BUNDLE_MIB MiB"
}

# ================================================================================= run ====

STEPS=() STATUS=() SECS=()
FAILED=0
START=$(date +%s)
BUDGET="${GPU_CHECK_BUDGET_S:-500}"
R=""          # RESULTS
WORK=""       # unpacked executables and libraries (removed on exit)
BIN="" DATA="" BP_LD=""
HAVE_GPU=0 WHY="" DEV=cuda SELFTEST=0
LAUNCH=0 FUSED=0 STOPPED=0
BENCH_OK=1 BENCH_WHY=""

record() {  # name status seconds
    STEPS+=("$1") STATUS+=("$2") SECS+=("$3")
    case "$2" in FAILED*) FAILED=1 ;; esac
    printf '%-22s %s (%ss)\n' "$1" "$2" "$3"
}

left() { echo $((BUDGET - ($(date +%s) - START))); }

# run_step NAME CAP LOG cmd...: cmd under a timeout of min(CAP, what is left of the budget),
# output appended to LOG. Sets STEP_RC (124 when cut), STEP_T; returns 1 when no time was left.
STEP_RC=0 STEP_T=0
run_step() {
    local name="$1" cap="$2" log="$3"
    shift 3
    local t; t=$(left)
    [ "$t" -gt "$cap" ] && t="$cap"
    if [ "$t" -lt 5 ]; then
        STEP_RC=-1 STEP_T=0
        return 1
    fi
    local t0; t0=$(date +%s)
    echo "== $name (limit ${t}s): $*" >>"$log"
    timeout --kill-after=5 "$t" "$@" >>"$log" 2>&1
    STEP_RC=$?
    [ "$STEP_RC" = 137 ] && STEP_RC=124
    STEP_T=$(($(date +%s) - t0))
    return 0
}

# bp EXE ARGS...: a bundled executable with the bundle's and the CUDA libraries; run_step takes
# "${BPENV[@]}" "$BIN/EXE" ARGS... (timeout runs programs, not shell functions).
BPENV=()
bp() { local e="$1"; shift; "${BPENV[@]}" "$BIN/$e" "$@"; }

cleanup() { [ -n "$WORK" ] && rm -rf "$WORK"; return 0; }

# ---- pre-flight -----------------------------------------------------------------------------

PF_LOG=""
pf() { echo "  $*" | tee -a "$PF_LOG"; }
stop() {  # one line, then the summary and exit 3
    echo "gpu-check: pre-flight: STOP: $*" | tee -a "$PF_LOG" >&2
    STOPPED=1
    record "pre-flight" "FAILED: $*" $(($(date +%s) - START))
    summary
    exit 3
}

# Directories that hold CUDA 13 libraries, best first: the machine's CUDA installs, then Python
# wheels (CUDA 13 wheels keep them in site-packages/nvidia/cu13/lib, CUDA 12 ones in
# nvidia/cublas/lib and nvidia/cuda_runtime/lib).
cuda_candidates() {
    local d sub py sp
    for d in /usr/local/cuda /usr/local/cuda-13* /usr/local/cuda-*; do
        for sub in lib64 lib targets/x86_64-linux/lib; do [ -d "$d/$sub" ] && echo "$d/$sub"; done
    done
    for py in python3 python; do
        command -v "$py" >/dev/null || continue
        timeout 5 "$py" -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()] + sys.path))' 2>/dev/null
    done | sort -u | while read -r sp; do
        [ -d "$sp/nvidia" ] || continue
        for sub in cu13/lib cublas/lib cuda_runtime/lib; do [ -d "$sp/nvidia/$sub" ] && echo "$sp/nvidia/$sub"; done
    done
}

CUDA_DIRS="" CUDA_MISSING=""
find_cuda_libs() {  # sets CUDA_DIRS (to put on LD_LIBRARY_PATH) and CUDA_MISSING (one line)
    local lib d found cands missing=""
    cands=$(cuda_candidates | awk '!seen[$0]++')
    for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do
        found=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l {print $NF; exit}')
        if [ -n "$found" ]; then pf "$lib: $found (ldconfig)"; continue; fi
        found=""
        while read -r d; do
            [ -n "$d" ] && [ -e "$d/$lib" ] && { found="$d"; break; }
        done <<<"$cands"
        if [ -n "$found" ]; then
            pf "$lib: $found/$lib"
            case ":$CUDA_DIRS:" in *":$found:"*) ;; *) CUDA_DIRS="${CUDA_DIRS:+$CUDA_DIRS:}$found" ;; esac
        else
            missing="$missing $lib"
        fi
    done
    if [ -n "$missing" ]; then
        local other; other=$(for d in $cands; do ls "$d"/libcublas.so.[0-9]* 2>/dev/null; done | head -3 | tr '\n' ' ')
        CUDA_MISSING="not found:$missing (looked in ldconfig -p and: $(echo $cands | tr ' ' ','))${other:+; there is only $other}"
    fi
}

preflight() {
    local dir="$1" t0; t0=$(date +%s)
    PF_LOG="$R/preflight.log"
    echo "== pre-flight" | tee "$PF_LOG"
    [ -f "$dir/MANIFEST" ] && [ -d "$dir/bin" ] || stop "$dir is not a bundle (no MANIFEST or bin/)"
    # glibc: the bundle's need vs the machine's.
    local need have
    need=$(awk '$1 == "glibc_need" {print $2}' "$dir/MANIFEST")
    have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
    [ -n "$have" ] || have=$(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$')
    pf "glibc: ${have:-unknown} here, the bundle needs >= ${need:-?}"
    [ -n "$have" ] || stop "cannot tell this machine's glibc version (no getconf GNU_LIBC_VERSION, no ldd)"
    ver_le "$need" "$have" || stop "glibc $have here, the bundle needs >= $need: build the bundle on an older system"
    # The GPU and its driver.
    if command -v nvidia-smi >/dev/null; then
        local q; q=$(timeout 8 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)
        if [ $? = 0 ] && [ -n "$q" ]; then
            HAVE_GPU=1
            pf "GPU: $(head -1 <<<"$q")$([ "$(wc -l <<<"$q")" -gt 1 ] && echo " (+$(($(wc -l <<<"$q") - 1)) more)")"
            local drv; drv=$(head -1 <<<"$q" | awk -F', ' '{print $2}')
            ver_le 580 "$drv" || stop "driver $drv: the CUDA 13 runtime needs >= 580"
        elif ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
            stop "nvidia-smi fails where /dev/nvidia* exists: $(head -1 <<<"$q")"
        else
            WHY="no GPU (nvidia-smi lists none: $(head -1 <<<"$q"))"
        fi
    elif ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
        HAVE_GPU=1
        local v; v=$(grep -o 'Kernel Module  *[0-9.]*' /proc/driver/nvidia/version 2>/dev/null | awk '{print $3}')
        pf "GPU: /dev/nvidia* present, no nvidia-smi; driver ${v:-unknown}"
        [ -n "$v" ] && { ver_le 580 "$v" || stop "driver $v: the CUDA 13 runtime needs >= 580"; }
    else
        WHY="no GPU (no nvidia-smi on PATH, no /dev/nvidia*)"
    fi
    [ "$HAVE_GPU" = 1 ] || pf "$WHY"
    if [ "$HAVE_GPU" != 1 ] && [ "${GPU_CHECK_REQUIRE_GPU:-0}" = 1 ]; then stop "$WHY, and GPU_CHECK_REQUIRE_GPU=1"; fi
    # Unpack; find the CUDA libraries; check that every executable's libraries resolve.
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/batchprop-gpu-check.XXXXXX") || stop "mktemp failed"
    mkdir -p "$WORK/bin" "$WORK/lib"
    local f
    for f in "$dir"/bin/*.gz "$dir"/lib/*.gz; do
        [ -f "$f" ] || continue
        local to="$WORK/$(basename "$(dirname "$f")")/$(basename "${f%.gz}")"
        gzip -dc "$f" >"$to" || stop "unpacking $f failed"
    done
    chmod +x "$WORK"/bin/*
    "$WORK/bin/batchprop" --help >/dev/null 2>&1
    [ $? = 126 ] && stop "cannot execute from $WORK (a noexec mount?): set TMPDIR to another folder"
    BIN="$WORK/bin" DATA="$dir/data/fashion-mnist"
    find_cuda_libs
    local miss="$CUDA_MISSING"
    BP_LD="$WORK/lib${CUDA_DIRS:+:$CUDA_DIRS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    BPENV=(env "LD_LIBRARY_PATH=$BP_LD" "BATCHPROP_DATA=$DATA")
    if [ -n "$miss" ]; then
        [ "$HAVE_GPU" = 1 ] && stop "CUDA 13 libraries $miss"
        pf "CUDA 13 libraries $miss"
    fi
    if command -v ldd >/dev/null; then
        local e out unres
        for e in "$BIN"/*; do
            out=$(env LD_LIBRARY_PATH="$BP_LD" ldd "$e" 2>&1)
            unres=$(grep -E 'not found|version .* not found' <<<"$out" | sed 's/^[[:space:]]*//' | head -2 | tr '\n' ';')
            if [ -z "$unres" ]; then continue; fi
            case "$(basename "$e")" in
                bench_*) BENCH_OK=0; BENCH_WHY="$(basename "$e"): ${unres%;}"
                         pf "$(basename "$e") does not load here: ${unres%;} (the benchmark steps will be skipped)" ;;
                *) if [ "$HAVE_GPU" = 1 ] || [ -z "$miss" ]; then stop "$(basename "$e") does not load here: ${unres%;}"; fi
                   pf "$(basename "$e") does not load here: ${unres%;}" ;;
            esac
        done
        out=$(env LD_LIBRARY_PATH="$BP_LD" ldd "$BIN/batchprop" 2>&1)
        local l
        for l in libcudart.so.13 libopenblas.so.0 libgfortran.so.5; do
            pf "batchprop loads $(grep -m1 "$l" <<<"$out" | sed 's/^[[:space:]]*//; s/ (0x[0-9a-f]*)$//' || true)"
        done
        # cuBLAS is not linked: batchprop opens it (dlopen) when the first GPU backend is made,
        # from the same search path, so the lookup above is what it will find.
        pf "batchprop opens libcublas.so.13 at run time (dlopen); found above: $(command -v ldconfig >/dev/null && ldconfig -p 2>/dev/null | grep -m1 -o '/[^ ]*libcublas\.so\.13$' || echo "see the lines above")"
    else
        pf "no ldd here: the libraries are checked by starting batchprop"
    fi
    # Does the CUDA runtime see the GPU? (the error-35 trap: every GPU test would skip)
    local info; info=$(timeout 30 env LD_LIBRARY_PATH="$BP_LD" "$BIN/batchprop" info 2>&1)
    local irc=$?
    echo "$info" >"$R/batchprop-info.log"
    [ "$irc" = 0 ] || { [ "$HAVE_GPU" = 1 ] && stop "batchprop info failed (rc $irc): $(tail -1 <<<"$info")"; }
    # "GPU 0:  NAME" per device, or "GPUs:   none usable (why)".
    local gpus; gpus=$(grep -m1 '^GPUs:' <<<"$info" | sed 's/^GPUs: *//')
    [ -n "$gpus" ] || gpus=$(grep '^GPU [0-9]*:' <<<"$info" | sed 's/^GPU \([0-9]*\): */\1 /' | paste -sd ';' - | sed 's/;/; /g')
    pf "batchprop info: GPUs: ${gpus:-?}"
    if [ "$HAVE_GPU" = 1 ] && grep -q 'none usable' <<<"$gpus"; then
        local r="${gpus#none usable }"; r="${r#(}"
        stop "the CUDA runtime sees no usable GPU: ${r%)}"
    fi
    if [ "$HAVE_GPU" = 1 ] && [ "$BENCH_OK" = 0 ]; then
        pf "benchmarks: skipped, $BENCH_WHY"
    fi
    # --launch graph|eager, when this CLI has it. The help is read whole first: with pipefail,
    # `... | grep -q` fails when grep's early exit cuts the writer off with SIGPIPE.
    local train_help; train_help=$(bp batchprop train --help 2>/dev/null) || true
    if grep -q -- '--launch' <<<"$train_help"; then LAUNCH=1; fi
    if grep -q -- 'fused' <<<"$train_help"; then FUSED=1; fi
    pf "train --launch: $([ "$LAUNCH" = 1 ] && echo "listed by train --help" || echo "not listed by train --help: the graph-vs-eager check is skipped")"
    if [ "${GPU_CHECK_SELFTEST:-0}" = 1 ]; then
        SELFTEST=1 DEV=cpu
        pf "SELF-TEST: the CPU stands in for the GPU in the CLI and benchmark steps; nothing below is a GPU result"
    fi
    local s="ok: glibc $have >= $need"
    [ "$HAVE_GPU" = 1 ] && s="$s; $(grep -m1 '^  GPU:' "$PF_LOG" | sed 's/^  GPU: //')" || s="$s; $WHY"
    record "pre-flight" "$s" $(($(date +%s) - t0))
}

# ---- steps ----------------------------------------------------------------------------------

# gpu_ready STEP: 0 when the step can run on the device under test, else records the skip.
gpu_ready() {
    if [ "$HAVE_GPU" = 1 ] || [ "$SELFTEST" = 1 ]; then return 0; fi
    record "$1" "skipped: $WHY${2:+ ($2)}" 0
    return 1
}

test_step() {
    local log="$R/test_gpu_vs_cpu.log"
    if ! run_step test_gpu_vs_cpu 120 "$log" "${BPENV[@]}" "$BIN/test_gpu_vs_cpu" --gtest_brief=1; then
        record test_gpu_vs_cpu "FAILED: no time left in the budget" 0; return
    fi
    local skipped ran
    skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) tests\{0,1\}[.,].*/\1/p' "$log" | tail -1)
    ran=$(sed -n 's/^\[==========\] \([0-9][0-9]*\) tests\{0,1\} from .* ran\..*/\1/p' "$log" | tail -1)
    skipped=${skipped:-0}
    if [ "$STEP_RC" = 124 ]; then
        record test_gpu_vs_cpu "FAILED: timed out (log: test_gpu_vs_cpu.log)" "$STEP_T"
    elif [ "$STEP_RC" != 0 ]; then
        record test_gpu_vs_cpu "FAILED: rc $STEP_RC, $(grep -c '^\[  FAILED  \] [A-Za-z]' "$log") failed: $(grep -m1 '^\[  FAILED  \] [A-Za-z]' "$log" | sed 's/^\[  FAILED  \] //') (log: test_gpu_vs_cpu.log)" "$STEP_T"
    elif [ "$HAVE_GPU" = 1 ] && [ "$skipped" -gt 0 ]; then
        record test_gpu_vs_cpu "FAILED: $skipped test(s) skipped on a GPU machine: $(grep -A1 ': Skipped$' "$log" | grep -v -e ': Skipped$' -e '^--$' | head -1)" "$STEP_T"
    elif [ "$HAVE_GPU" = 1 ]; then
        record test_gpu_vs_cpu "ok (${ran:-?} tests)" "$STEP_T"
    else
        record test_gpu_vs_cpu "skipped: $WHY (the $(( ${ran:-0} - skipped )) tests that need no GPU passed, $skipped skipped)" "$STEP_T"
    fi
}

# cli NAME CAP ARGS...: one batchprop run into $R/cli/NAME.log; returns its status.
cli() {
    local name="$1" cap="$2"
    shift 2
    run_step "$name" "$cap" "$R/cli/$name.log" "${BPENV[@]}" "$BIN/batchprop" "$@" || return 125
    return "$STEP_RC"
}
cli_fail() {
    if [ "$2" = 125 ]; then echo "$1: not started: no time left in the budget"; return; fi
    echo "$1: rc $2: $(grep -m1 -i 'error' "$R/cli/$1.log" || tail -1 "$R/cli/$1.log")"
}

# The initial model every comparison starts from: 10 SGD steps of double on the CPU.
init_step() {
    local t0 rc; t0=$(date +%s)
    cli init 30 train --device cpu --dtype f64 --epochs 1 --train-limit 100 --batch 10 --no-shuffle \
        --monitor none --seed 7 --data "$DATA" --save "$R/cli/init.json"; rc=$?
    if [ "$rc" = 0 ] && [ -s "$R/cli/init.json" ]; then
        record init-model "ok: cli/init.json (batchprop on the CPU, bundled data loaded)" $(($(date +%s) - t0))
    else
        record init-model "FAILED: $(cli_fail init "$rc")" $(($(date +%s) - t0))
    fi
}

# Double, no shuffle, 200 steps from the initial model: the device's parameters within 1e-12
# (normwise, per layer) of the CPU's, for each launch that computes differently: the default
# (fused steps, where the CLI has them) and the library path (cuBLAS and the kernels, graph).
F64_ARGS=(train --dtype f64 --no-shuffle --train-limit 2000 --batch 10 --epochs 1 --monitor eval-acc)
f64_step() {
    local t0 rc; t0=$(date +%s)
    [ -s "$R/cli/init.json" ] || { record f64-200-steps "FAILED: no initial model" 0; return; }
    cli f64-cpu 60 "${F64_ARGS[@]}" --device cpu --init-model "$R/cli/init.json" --data "$DATA" \
        --save "$R/cli/f64-cpu.json"; rc=$?
    [ "$rc" = 0 ] || { record f64-200-steps "FAILED: $(cli_fail f64-cpu "$rc")" $(($(date +%s) - t0)); return; }
    gpu_ready f64-200-steps "CPU half ran: cli/f64-cpu.json" || return
    local runs=(f64-dev) notes=() bad=0 name out
    [ "$FUSED" = 1 ] && runs+=(f64-graph)
    for name in "${runs[@]}"; do
        local launch=()
        [ "$name" = f64-graph ] && launch=(--launch graph)
        cli "$name" 60 "${F64_ARGS[@]}" --device "$DEV" "${launch[@]}" --init-model "$R/cli/init.json" --data "$DATA" \
            --save "$R/cli/$name.json"; rc=$?
        [ "$rc" = 0 ] || { record f64-200-steps "FAILED: $(cli_fail "$name" "$rc")" $(($(date +%s) - t0)); return; }
        out=$(python3 "$HERE/compare_models.py" --tolerance 1e-12 "$R/cli/$name.json" "$R/cli/f64-cpu.json" 2>&1) || bad=1
        echo "$name: $out" >>"$R/cli/f64-compare.txt"
        notes+=("$([ "$name" = f64-graph ] && echo "graph" || echo "default launch ($(launch_used "$name"))"): $out")
    done
    local all; all=$(printf '%s; ' "${notes[@]}")
    record f64-200-steps "$([ "$bad" = 0 ] && echo ok || echo FAILED): $DEV vs cpu, double, 200 steps: ${all%; }" \
        $(($(date +%s) - t0))
}
# The launch a CLI run used, from its header line ("fused: one kernel per N steps", "CUDA graphs").
launch_used() {
    if grep -q 'fused: one kernel per' "$R/cli/$1.log"; then echo fused
    elif grep -q 'CUDA graphs of' "$R/cli/$1.log"; then echo graph
    else echo eager; fi
}

# Float, the defaults (seed 1, shuffled, m = 10), 3 epochs on the CPU and on the device with
# each launch (fused where the CLI has it, graph; eager runs in launch_step). Float SGD over
# 15,000 shuffled steps amplifies rounding: on the CPU alone, two summation orders (batchprop's
# AVX-512 kernel, OpenBLAS) end epoch 3 of this run at 82.17% and 80.29% (an AMD EPYC Zen 4,
# 2026-11-29). So the accuracy check is for "trains as well", within 3 points; agreement to
# rounding is f32_steps_step's and f64_step's to check.
F32_ARGS=(train --epochs 3 --seed 1)
f32_step() {
    local t0 rc; t0=$(date +%s)
    cli f32-cpu 90 "${F32_ARGS[@]}" --device cpu --data "$DATA" --metrics "$R/cli/f32-cpu.jsonl" \
        --save "$R/cli/f32-cpu.json"; rc=$?
    [ "$rc" = 0 ] || { record f32-3-epochs "FAILED: $(cli_fail f32-cpu "$rc")" $(($(date +%s) - t0)); return; }
    gpu_ready f32-3-epochs "CPU half ran: $(python3 "$HERE/gpu_check_figures.py" epoch-seconds "$R/cli/f32-cpu.jsonl") s per epoch" || return
    local runs=(f32-dev) notes=() bad=0 name out
    if [ "$LAUNCH" = 1 ]; then runs=(f32-graph); fi
    if [ "$FUSED" = 1 ]; then runs+=(f32-fused); fi
    for name in "${runs[@]}"; do
        local launch=()
        case "$name" in f32-graph) launch=(--launch graph) ;; f32-fused) launch=(--launch fused) ;; esac
        cli "$name" 90 "${F32_ARGS[@]}" --device "$DEV" "${launch[@]}" --data "$DATA" \
            --metrics "$R/cli/$name.jsonl" --save "$R/cli/$name.json"; rc=$?
        [ "$rc" = 0 ] || { record f32-3-epochs "FAILED: $(cli_fail "$name" "$rc")" $(($(date +%s) - t0)); return; }
        out=$(python3 "$HERE/gpu_check_figures.py" accuracy --max-points 3 "$R/cli/f32-cpu.jsonl" "$R/cli/$name.jsonl" 2>&1) || bad=1
        notes+=("${name#f32-}: $out")
    done
    local all; all=$(printf '%s; ' "${notes[@]}")
    record f32-3-epochs "$([ "$bad" = 0 ] && echo ok || echo FAILED): $DEV vs cpu, float, seed 1: ${all%; }" $(($(date +%s) - t0))
}

# Float, 200 steps from the initial model (as f64_step), on the CPU and the device, each
# measured against the double CPU run. Rounding in another order moves a float trajectory by
# 1e-5 .. 2e-3 normwise after 200 steps (measured: CPU kernels vs OpenBLAS, cuBLAS, the fused
# step); a wrong sum or a lost term moves it by 1e-1 and more. So: within 1e-2.
f32_steps_step() {
    local t0 rc; t0=$(date +%s)
    [ -s "$R/cli/f64-cpu.json" ] || { record f32-200-steps "FAILED: no double CPU run (f64-200-steps)" 0; return; }
    local args=("${F64_ARGS[@]}")
    args=("${args[@]/f64/f32}")
    cli f32s-cpu 60 "${args[@]}" --device cpu --init-model "$R/cli/init.json" --data "$DATA" --save "$R/cli/f32s-cpu.json"; rc=$?
    [ "$rc" = 0 ] || { record f32-200-steps "FAILED: $(cli_fail f32s-cpu "$rc")" $(($(date +%s) - t0)); return; }
    gpu_ready f32-200-steps || return
    cli f32s-dev 60 "${args[@]}" --device "$DEV" --init-model "$R/cli/init.json" --data "$DATA" --save "$R/cli/f32s-dev.json"; rc=$?
    [ "$rc" = 0 ] || { record f32-200-steps "FAILED: $(cli_fail f32s-dev "$rc")" $(($(date +%s) - t0)); return; }
    local cpu_d dev_d
    cpu_d=$(python3 "$HERE/compare_models.py" --tolerance 1 "$R/cli/f32s-cpu.json" "$R/cli/f64-cpu.json" 2>&1 | sed -n 's/.*worst normwise relative difference \([^ ]*\) .*/\1/p')
    dev_d=$(python3 "$HERE/compare_models.py" --tolerance 1 "$R/cli/f32s-dev.json" "$R/cli/f64-cpu.json" 2>&1 | sed -n 's/.*worst normwise relative difference \([^ ]*\) .*/\1/p')
    if [ -z "$cpu_d" ] || [ -z "$dev_d" ]; then
        record f32-200-steps "FAILED: could not compare the float runs with the double one (cli/f32s-*.json)" $(($(date +%s) - t0)); return
    fi
    local verdict; verdict=$(python3 -c "import sys; print('ok' if float(sys.argv[1]) <= 1e-2 else 'FAILED')" "$dev_d")
    record f32-200-steps "$verdict: float, 200 steps, normwise distance from the double CPU run: $DEV ($(launch_used f32s-dev)) $dev_d, cpu $cpu_d (allowed: 1e-2)" \
        $(($(date +%s) - t0))
}

# --launch graph vs eager on the device: bitwise identical parameters (double and float, 200
# shuffled steps from the initial model; and the two float 3-epoch models).
launch_step() {
    local t0 rc; t0=$(date +%s)
    if [ "$LAUNCH" != 1 ]; then record graph-vs-eager "skipped: this CLI has no --launch (not in train --help)" 0; return; fi
    gpu_ready graph-vs-eager || return
    [ -s "$R/cli/init.json" ] || { record graph-vs-eager "FAILED: no initial model" 0; return; }
    local notes=() dt mode
    for dt in f64 f32; do
        for mode in graph eager; do
            cli "launch-$dt-$mode" 60 train --dtype "$dt" --train-limit 2000 --batch 10 --epochs 1 --seed 3 \
                --monitor none --device "$DEV" --launch "$mode" --init-model "$R/cli/init.json" --data "$DATA" \
                --save "$R/cli/launch-$dt-$mode.json"; rc=$?
            [ "$rc" = 0 ] || { record graph-vs-eager "FAILED: $(cli_fail "launch-$dt-$mode" "$rc")" $(($(date +%s) - t0)); return; }
        done
        notes+=("$(launch_same "$R/cli/launch-$dt-graph.json" "$R/cli/launch-$dt-eager.json" "$dt 200 steps")") || true
    done
    cli f32-eager 90 "${F32_ARGS[@]}" --device "$DEV" --launch eager --data "$DATA" \
        --metrics "$R/cli/f32-eager.jsonl" --save "$R/cli/f32-eager.json"; rc=$?
    [ "$rc" = 0 ] || { record graph-vs-eager "FAILED: $(cli_fail f32-eager "$rc")" $(($(date +%s) - t0)); return; }
    if [ -s "$R/cli/f32-graph.json" ]; then
        notes+=("$(launch_same "$R/cli/f32-graph.json" "$R/cli/f32-eager.json" "f32 3 epochs")")
    fi
    local all; all=$(printf '%s; ' "${notes[@]}")
    if grep -q 'DIFFER' <<<"$all"; then
        record graph-vs-eager "FAILED: ${all%; }" $(($(date +%s) - t0))
    else
        record graph-vs-eager "ok: ${all%; }" $(($(date +%s) - t0))
    fi
}
launch_same() {  # A B WHAT: "WHAT: identical files" / "... identical parameters" / "WHAT: DIFFER: ..."
    if cmp -s "$1" "$2"; then echo "$3: identical files"; return; fi
    local out; out=$(python3 "$HERE/compare_models.py" --exact "$1" "$2" 2>&1)
    if [ $? = 0 ]; then echo "$3: identical parameters (the files differ elsewhere)"; else echo "$3: DIFFER: $out"; fi
}

# eval and predict of one model on the device vs the CPU, float and double. Double: the same
# correct count and identical labels. Float: near-ties may flip: at most 5 of 10,000 labels.
eval_step() {
    local t0 rc dt model="$R/cli/f32-cpu.json"; t0=$(date +%s)
    [ -s "$model" ] || { record eval-predict "FAILED: no model (f32-3-epochs failed)" 0; return; }
    for dt in f32 f64; do
        cli "eval-cpu-$dt" 30 eval --model "$model" --device cpu --dtype "$dt" --data "$DATA" || { record eval-predict "FAILED: $(cli_fail "eval-cpu-$dt" $?)" $(($(date +%s) - t0)); return; }
        run_step "predict-cpu-$dt" 30 "$R/cli/predict-cpu-$dt.err" sh -c 'exec "$@" >"$0"' "$R/cli/predict-cpu-$dt.txt" \
            "${BPENV[@]}" "$BIN/batchprop" predict --model "$model" --device cpu --dtype "$dt" \
            --images "$DATA/t10k-images-idx3-ubyte.gz"
        [ "$STEP_RC" = 0 ] || { record eval-predict "FAILED: predict on cpu, rc $STEP_RC (log: cli/predict-cpu-$dt.err)" $(($(date +%s) - t0)); return; }
    done
    gpu_ready eval-predict "CPU half ran: $(grep -m1 -o 'accuracy [0-9]* / [0-9]*' "$R/cli/eval-cpu-f32.log")" || return
    local notes=() bad=0
    for dt in f32 f64; do
        cli "eval-dev-$dt" 30 eval --model "$model" --device "$DEV" --dtype "$dt" --data "$DATA" || { record eval-predict "FAILED: $(cli_fail "eval-dev-$dt" $?)" $(($(date +%s) - t0)); return; }
        run_step "predict-dev-$dt" 30 "$R/cli/predict-dev-$dt.err" sh -c 'exec "$@" >"$0"' "$R/cli/predict-dev-$dt.txt" \
            "${BPENV[@]}" "$BIN/batchprop" predict --model "$model" --device "$DEV" --dtype "$dt" \
            --images "$DATA/t10k-images-idx3-ubyte.gz"
        [ "$STEP_RC" = 0 ] || { record eval-predict "FAILED: predict on $DEV, rc $STEP_RC (log: cli/predict-dev-$dt.err)" $(($(date +%s) - t0)); return; }
        local ca cd n mism allow
        ca=$(sed -n 's/^accuracy \([0-9]*\) \/ \([0-9]*\).*/\1/p' "$R/cli/eval-cpu-$dt.log")
        cd=$(sed -n 's/^accuracy \([0-9]*\) \/ \([0-9]*\).*/\1/p' "$R/cli/eval-dev-$dt.log")
        n=$(wc -l <"$R/cli/predict-cpu-$dt.txt")
        mism=$(paste -d' ' "$R/cli/predict-cpu-$dt.txt" "$R/cli/predict-dev-$dt.txt" | awk '$1 != $2' | wc -l)
        [ "$dt" = f64 ] && allow=0 || allow=5
        if [ -z "$ca" ] || [ -z "$cd" ]; then
            notes+=("$dt: cannot read the eval accuracy lines"); bad=1
        elif [ "$n" -lt 10000 ] || [ "$(wc -l <"$R/cli/predict-dev-$dt.txt")" != "$n" ]; then
            notes+=("$dt: predict wrote $n vs $(wc -l <"$R/cli/predict-dev-$dt.txt") labels"); bad=1
        elif [ "$mism" -gt "$allow" ] || [ $(( ca > cd ? ca - cd : cd - ca )) -gt "$allow" ]; then
            notes+=("$dt: eval $cd vs $ca correct, predict $mism of $n labels differ (allowed $allow)"); bad=1
        else
            notes+=("$dt: eval $cd vs $ca correct, predict $mism of $n labels differ (allowed $allow)")
        fi
    done
    local all; all=$(printf '%s; ' "${notes[@]}")
    if [ "$bad" = 0 ]; then record eval-predict "ok: $DEV vs cpu: ${all%; }" $(($(date +%s) - t0))
    else record eval-predict "FAILED: $DEV vs cpu: ${all%; }" $(($(date +%s) - t0)); fi
}

# bench_step NAME EXE CAP FILTER: the rows FILTER selects; cut by the limit is "cut".
bench_step() {
    local name="$1" exe="$2" cap="$3" filter="$4"
    gpu_ready "$name" || return
    if [ "$BENCH_OK" = 0 ]; then record "$name" "skipped: $BENCH_WHY" 0; return; fi
    local log="$R/bench/$name.log" json="$R/bench/$name.json"
    # Rows reach the log as they finish (line-buffered), so a cut run still shows what it did.
    local lb=(); command -v stdbuf >/dev/null && lb=(stdbuf -oL)
    if ! run_step "$name" "$cap" "$log" "${BPENV[@]}" "${lb[@]}" "$BIN/$exe" --benchmark_filter="$filter" --benchmark_color=false \
        --benchmark_out="$json" --benchmark_out_format=json; then
        record "$name" "cut: not started, no time left in the budget" 0; return
    fi
    local rows errs; rows=$(python3 "$HERE/gpu_check_figures.py" bench-rows "$json")
    errs=$(grep -c 'ERROR OCCURRED' "$log")
    if grep -q 'Failed to match any benchmarks' "$log"; then
        record "$name" "FAILED: no benchmark matches '$filter'" "$STEP_T"
    elif [ "$STEP_RC" = 124 ]; then
        record "$name" "cut after ${STEP_T}s: $rows rows done (log: bench/$name.log)" "$STEP_T"
    elif [ "$STEP_RC" != 0 ]; then
        record "$name" "FAILED: rc $STEP_RC: $(tail -1 "$log")" "$STEP_T"
    elif [ "$errs" -gt 0 ]; then
        record "$name" "FAILED: $errs rows reported an error: $(grep -m1 'ERROR OCCURRED' "$log" | sed 's/  */ /g')" "$STEP_T"
    else
        record "$name" "ok: $rows rows (bench/$name.json)" "$STEP_T"
    fi
}

# compute-sanitizer TOOL on the op-by-op GPU tests (the reduced sweep). A tool that cannot run
# on this runtime is reported, not a failure.
find_sanitizer() {
    command -v compute-sanitizer 2>/dev/null && return
    local p
    for p in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda*/bin/compute-sanitizer \
             /usr/local/cuda*/compute-sanitizer/compute-sanitizer /opt/nvidia/compute-sanitizer/compute-sanitizer; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
}
SAN_FILTER="${GPU_CHECK_SANITIZER_FILTER:-GpuVsCpu*.*-GpuVsCpu*.MiniBatchGradient:GpuVsCpu*.GpuIsDeterministic:GpuVsCpu*.OneEpoch*}"
sanitizer_step() {
    local tool="$1" step="sanitizer-$1"
    if [ "$HAVE_GPU" != 1 ]; then record "$step" "skipped: $WHY" 0; return; fi
    local san; san=$(find_sanitizer)
    [ -n "$san" ] || { record "$step" "skipped: compute-sanitizer not found (PATH, /usr/local/cuda*/bin)" 0; return; }
    local log="$R/$step.log"
    if ! run_step "$step" 60 "$log" "${BPENV[@]}" BATCHPROP_GPU_TEST_QUICK=1 "$san" --tool "$tool" \
        --error-exitcode 99 --print-limit 20 "$BIN/test_gpu_vs_cpu" --gtest_brief=1 --gtest_filter="$SAN_FILTER"; then
        record "$step" "cut: not started, no time left in the budget" 0; return
    fi
    local summary errors ran
    summary=$(grep -m1 -E '(ERROR|RACECHECK) SUMMARY' "$log" | sed 's/^========= //')
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$log" | head -1)
    ran=$(sed -n 's/^\[==========\] \([0-9][0-9]*\) tests\{0,1\} from .* ran\..*/\1/p' "$log" | tail -1)
    if [ -n "$errors" ] && [ "$errors" -gt 0 ]; then
        record "$step" "FAILED: $summary: $(grep -m1 -E '^========= (Invalid|Uninitialized|Program hit|Address)' "$log" | sed 's/^========= //') (log: $step.log)" "$STEP_T"
    elif grep -q '^\[  FAILED  \] [A-Za-z]' "$log"; then
        record "$step" "FAILED: tests fail under $tool: $(grep -m1 '^\[  FAILED  \] [A-Za-z]' "$log" | sed 's/^\[  FAILED  \] //')" "$STEP_T"
    elif [ "$STEP_RC" = 124 ]; then
        record "$step" "cut after ${STEP_T}s: $(grep -c '^\[       OK \]' "$log") tests done, no error reported so far" "$STEP_T"
    elif [ "$STEP_RC" = 0 ] && [ -n "$ran" ]; then
        record "$step" "ok: $ran tests, ${summary:-no summary line}" "$STEP_T"
    else
        record "$step" "skipped: compute-sanitizer did not run here (rc $STEP_RC): $(grep -m1 '^=========' "$log" | sed 's/^========= //' || tail -1 "$log")" "$STEP_T"
    fi
}

# Nsight Compute on one launch of the fused step (200 steps of [784,30,10], m = 10, float), when
# the machine has ncu: what bounds the kernel (throughput vs peak, warp stalls, shared-memory
# wavefronts), the figures the next optimisation starts from. Never a failure: profiling may be
# refused (permissions on performance counters) or missing.
find_ncu() {
    command -v ncu 2>/dev/null && return
    local p
    for p in /usr/local/cuda/bin/ncu /usr/local/cuda*/bin/ncu /usr/local/cuda*/nsight-compute*/ncu /opt/nvidia/nsight-compute/*/ncu; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
}
profile_step() {
    gpu_ready profile-fused || return
    [ "$SELFTEST" = 1 ] && [ "$HAVE_GPU" != 1 ] && { record profile-fused "skipped: self-test without a GPU" 0; return; }
    [ "$FUSED" = 1 ] || { record profile-fused "skipped: this CLI has no --launch fused" 0; return; }
    local ncu; ncu=$(find_ncu)
    [ -n "$ncu" ] || { record profile-fused "skipped: ncu (Nsight Compute) not found (PATH, /usr/local/cuda*)" 0; return; }
    local log="$R/profile-fused.log"
    if ! run_step profile-fused 60 "$log" "${BPENV[@]}" "$ncu" --kernel-name regex:fused_steps_kernel --launch-count 1 \
        --section SpeedOfLight --section WarpStateStats --section InstructionStats --section MemoryWorkloadAnalysis_Tables \
        "$BIN/batchprop" train --launch fused --train-limit 2000 --epochs 1 --monitor none --device "$DEV" --data "$DATA"; then
        record profile-fused "cut: not started, no time left in the budget" 0; return
    fi
    if [ "$STEP_RC" = 0 ] && grep -q 'fused_steps_kernel' "$log"; then
        record profile-fused "ok: $(grep -m1 -E 'Compute \(SM\) Throughput' "$log" | tr -s ' ' | sed 's/^ //') (profile-fused.log)" "$STEP_T"
    else
        record profile-fused "skipped: ncu did not profile here (rc $STEP_RC): $(grep -m1 -E '==(ERROR|WARNING)==' "$log" || tail -1 "$log")" "$STEP_T"
    fi
}

# The PyTorch peer of bench/compare on the GPU, when this Python has torch with CUDA.
peer_step() {
    gpu_ready torch-peer || return
    [ "$SELFTEST" = 1 ] && [ "$HAVE_GPU" != 1 ] && { record torch-peer "skipped: self-test without a GPU" 0; return; }
    local peer="$PEER/torch_backprop.py"
    grep -q -- '"--device"' "$peer" 2>/dev/null || { record torch-peer "skipped: torch_backprop.py has no --device" 0; return; }
    local py="" why="no python3 or python here" c out
    for c in python3 python; do
        command -v "$c" >/dev/null || continue
        out=$(timeout 30 "$c" -c 'import numpy, torch; assert torch.cuda.is_available(), "torch " + torch.__version__ + " sees no CUDA device"; print(torch.__version__, "CUDA", torch.version.cuda)' 2>&1)
        if [ $? = 0 ]; then py=$(command -v "$c"); why="$out"; break; fi
        why="$c: $(tail -1 <<<"$out")"
    done
    [ -n "$py" ] || { record torch-peer "skipped: $why" 0; return; }
    local log="$R/peer/torch-cuda.log"
    if ! run_step torch-peer 60 "$log" "$py" "$peer" --device cuda --epochs 3 --data "$DATA" --out "$R/peer/torch-cuda.jsonl"; then
        record torch-peer "cut: not started, no time left in the budget" 0; return
    fi
    if [ "$STEP_RC" = 0 ]; then record torch-peer "ok: torch $why, 3 epochs (peer/torch-cuda.jsonl)" "$STEP_T"
    elif [ "$STEP_RC" = 124 ]; then record torch-peer "cut after ${STEP_T}s (log: peer/torch-cuda.log)" "$STEP_T"
    else record torch-peer "skipped: the optional peer failed, rc $STEP_RC: $(tail -1 "$log")" "$STEP_T"; fi
    # The same peer with each step captured as a CUDA graph (torch.cuda.graph), the fairest
    # PyTorch figure against batchprop's recorded steps.
    grep -q -- '"--graphs"' "$peer" 2>/dev/null || { record torch-graphs "skipped: torch_backprop.py has no --graphs" 0; return; }
    log="$R/peer/torch-cuda-graphs.log"
    if ! run_step torch-graphs 60 "$log" "$py" "$peer" --device cuda --graphs --epochs 3 --data "$DATA" --out "$R/peer/torch-cuda-graphs.jsonl"; then
        record torch-graphs "cut: not started, no time left in the budget" 0; return
    fi
    if [ "$STEP_RC" = 0 ]; then record torch-graphs "ok: 3 epochs (peer/torch-cuda-graphs.jsonl)" "$STEP_T"
    elif [ "$STEP_RC" = 124 ]; then record torch-graphs "cut after ${STEP_T}s (log: peer/torch-cuda-graphs.log)" "$STEP_T"
    else record torch-graphs "skipped: the optional peer failed, rc $STEP_RC: $(tail -1 "$log")" "$STEP_T"; fi
}

# ---- issue 20: the cluster step and TF32 ----------------------------------------------------

# gtest_step NAME EXE CAP: a bundled GPU test; on a GPU machine a skipped test fails the step
# (test_gpu_cluster skips, with the reason, where the GPU has no clusters: that is reported).
gtest_step() {
    local name="$1" exe="$2" cap="$3" log="$R/$2.log"
    if [ ! -x "$BIN/$exe" ]; then record "$name" "skipped: $exe is not in this bundle" 0; return; fi
    gpu_ready "$name" || return
    if ! run_step "$name" "$cap" "$log" "${BPENV[@]}" "$BIN/$exe" --gtest_brief=0; then
        record "$name" "FAILED: no time left in the budget" 0; return
    fi
    local ran skipped why
    ran=$(sed -n 's/^\[==========\] \([0-9][0-9]*\) tests\{0,1\} from .* ran\..*/\1/p' "$log" | tail -1)
    # gtest names a skipped test twice (as it ends and in the closing list): count names once.
    skipped=$(sed -n 's/^\[  SKIPPED \] \([A-Za-z][^ ]*\).*/\1/p' "$log" | sort -u | wc -l)
    why=$(grep -m1 -E 'Skipped$' -A1 "$log" | tail -1)
    if [ "$STEP_RC" = 124 ]; then record "$name" "FAILED: timed out (log: $exe.log)" "$STEP_T"
    elif [ "$STEP_RC" != 0 ]; then record "$name" "FAILED: $(grep -m1 '^\[  FAILED  \] [A-Za-z]' "$log" | sed 's/^\[  FAILED  \] //') (log: $exe.log)" "$STEP_T"
    elif [ "$skipped" -gt 0 ]; then record "$name" "skipped: $skipped of ${ran:-?} tests: ${why:-see $exe.log}" "$STEP_T"
    else record "$name" "ok (${ran:-?} tests)" "$STEP_T"; fi
}
cluster_tests_step() {
    gtest_step cluster-tests test_gpu_cluster 60
    gtest_step tf32-tests test_gpu_tf32 40
}

# compute-sanitizer racecheck or synccheck on the fused kernels: a short CLI run (200 examples,
# 20 steps) with the one-block step, then with the cluster step, then a sweep of two models in
# shared launches (the shared-launch kernel; 300 examples, 30 steps each). Hazards fail the step;
# a tool this runtime refuses (or that cannot follow clusters) is reported as skipped.
fused_sanitizer_step() {
    local tool="$1" step="fused-$1"
    if [ "$HAVE_GPU" != 1 ]; then record "$step" "skipped: $WHY" 0; return; fi
    [ "$FUSED" = 1 ] || { record "$step" "skipped: this CLI has no --launch fused" 0; return; }
    local san; san=$(find_sanitizer)
    [ -n "$san" ] || { record "$step" "skipped: compute-sanitizer not found (PATH, /usr/local/cuda*/bin)" 0; return; }
    local notes=() bad=0 which log errors
    local run
    for which in 0 auto shared; do
        log="$R/$step-cluster-$which.log"
        run=(train --launch fused --train-limit 200 --epochs 1 --monitor none)
        # shellcheck disable=SC2054  # the comma separates the CLI's list values
        [ "$which" = shared ] && log="$R/$step-shared.log" && run=(sweep --seeds 1,2 --eta 0.5 --train-limit 400 --validation 100 --epochs 1)
        if ! run_step "$step" 30 "$log" env BATCHPROP_FUSED_CLUSTER="${which/shared/0}" "${BPENV[@]}" "$san" --tool "$tool" \
            --error-exitcode 99 --print-limit 20 "$BIN/batchprop" "${run[@]}" --device "$DEV" --data "$DATA"; then
            notes+=("cluster=$which: cut, no time left"); continue
        fi
        # racecheck: "RACECHECK SUMMARY: H hazards displayed (E errors, W warnings)"; synccheck:
        # "ERROR SUMMARY: E errors". Errors fail; warnings are in the log.
        errors=$(sed -n -e 's/.*RACECHECK SUMMARY: .*(\([0-9]*\) error.*/\1/p' -e 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$log" | head -1)
        local kind; [ "$which" = 0 ] && kind="one block" || kind="cluster"
        grep -q 'runs on one block' "$log" && [ "$which" = auto ] && kind="cluster not used: $(grep -m1 -o 'runs on one block: .*' "$log")"
        if [ "$which" = shared ]; then
            kind="shared launch"
            grep -q 'share fused launches' "$log" || kind="shared launch not used (no notice)"
        fi
        if [ -n "$errors" ] && [ "$errors" -gt 0 ]; then
            notes+=("$kind: $(grep -m1 -E '(ERROR|RACECHECK) SUMMARY' "$log" | sed 's/^========= //')"); bad=1
        elif [ "$STEP_RC" = 0 ] && [ -n "$errors" ]; then
            notes+=("$kind: clean")
        elif [ "$STEP_RC" = 124 ]; then
            notes+=("$kind: cut after ${STEP_T}s, none reported so far")
        else
            notes+=("$kind: refused here (rc $STEP_RC): $(grep -m1 '^=========' "$log" | sed 's/^========= //' || tail -1 "$log")")
        fi
    done
    local all; all=$(printf '%s; ' "${notes[@]}")
    if [ "$bad" = 1 ]; then record "$step" "FAILED: ${all%; } (logs: $step-*.log)" "$STEP_T"
    elif grep -q 'clean' <<<"$all"; then record "$step" "ok: ${all%; }" "$STEP_T"
    else record "$step" "skipped: ${all%; }" "$STEP_T"; fi
}

# The m sweep (issue 20, item 4's measurements): the median epoch seconds of 3 epochs of 10,000
# examples for each m and launch, into m-sweep.txt. Figures only: a run that fails is noted.
m_sweep_step() {
    gpu_ready m-sweep || return
    [ "$FUSED" = 1 ] || { record m-sweep "skipped: this CLI has no --launch fused" 0; return; }
    local t0 out="$R/m-sweep.txt" dt m l name secs runs=0 failed=0; t0=$(date +%s)
    printf '%-5s %-4s %-8s %s\n' dtype m launch "epoch seconds (median of 3, 10,000 examples)" >"$out"
    for dt in f32 f64; do
        local ms=(1 2 4 6 8 10 12 14 16 20); [ "$dt" = f64 ] && ms=(1 10 20)
        for m in "${ms[@]}"; do
            for l in graph fused cluster; do
                name="sweep-$dt-$m-$l"
                local launch=fused which=0
                case "$l" in graph) launch=graph ;; cluster) which=auto ;; esac
                run_step "$name" 20 "$R/cli/$name.log" env BATCHPROP_FUSED_CLUSTER="$which" "${BPENV[@]}" "$BIN/batchprop" \
                    train --dtype "$dt" --batch "$m" --launch "$launch" --train-limit 10000 --epochs 3 --monitor none \
                    --device "$DEV" --data "$DATA" --metrics "$R/cli/$name.jsonl" || break 3
                runs=$((runs + 1))
                if [ "$STEP_RC" = 0 ]; then
                    secs=$(python3 "$HERE/gpu_check_figures.py" epoch-seconds "$R/cli/$name.jsonl" 2>/dev/null || echo "?")
                    grep -q 'runs on one block' "$R/cli/$name.log" && secs="$secs (one block: $(grep -m1 -o 'runs on one block: .*' "$R/cli/$name.log"))"
                else
                    secs="failed rc $STEP_RC (cli/$name.log)"; failed=$((failed + 1))
                fi
                printf '%-5s %-4s %-8s %s\n' "$dt" "$m" "$l" "$secs" >>"$out"
            done
        done
    done
    record m-sweep "ok: $runs runs, $failed failed (m-sweep.txt; figures, not checks)" $(($(date +%s) - t0))
}

# ---- issue 23: a sweep's models in shared launches -------------------------------------------

# sweep: the tests (they can fail the run), then the figures: bench_sweep's rows for the device
# and the CLI's chapter-3 table, timed.
sweep_step() {
    gtest_step sweep-tests test_gpu_sweep 60
    sweep_bench_step
    sweep_cli_step
}

# bench_sweep's GPU rows (a self-test: its CPU rows) into sweep-bench.txt and .json. Figures only:
# rows that report an error are noted, never a failure.
sweep_bench_step() {
    gpu_ready sweep-bench || return
    [ -x "$BIN/bench_sweep" ] || { record sweep-bench "skipped: bench_sweep is not in this bundle" 0; return; }
    if [ "$BENCH_OK" = 0 ]; then record sweep-bench "skipped: $BENCH_WHY" 0; return; fi
    local filter='^BM_(Alone|Sweep)Gpu/'
    [ "$DEV" = cpu ] && filter='^BM_SweepCpu/'
    local lb=(); command -v stdbuf >/dev/null && lb=(stdbuf -oL)
    if ! run_step sweep-bench 90 "$R/sweep-bench.txt" "${BPENV[@]}" "${lb[@]}" "$BIN/bench_sweep" --benchmark_filter="$filter" \
        --benchmark_color=false --benchmark_out="$R/sweep-bench.json" --benchmark_out_format=json; then
        record sweep-bench "cut: not started, no time left in the budget" 0; return
    fi
    local rows figs; rows=$(python3 "$HERE/gpu_check_figures.py" bench-rows "$R/sweep-bench.json" "$R/sweep-bench.txt")
    figs=$(python3 "$HERE/gpu_check_figures.py" sweep "$R" | sed -n '1s/^[^:]*: //p')
    if [ "$STEP_RC" = 124 ]; then record sweep-bench "cut after ${STEP_T}s: $rows rows done: $figs (sweep-bench.txt)" "$STEP_T"
    elif [ "$STEP_RC" != 0 ]; then record sweep-bench "not measured: rc $STEP_RC: $(tail -1 "$R/sweep-bench.txt") (sweep-bench.txt)" "$STEP_T"
    else record sweep-bench "ok: $rows rows: $figs (figures, not checks)" "$STEP_T"; fi
}

# The chapter-3 sweep of the issue: 3 etas x 3 lambdas x 4 seeds, 30 epochs each, cross-entropy,
# 40,000 training and 10,000 held-out validation examples (the bundle's 50,000); its wall seconds,
# process start and data loading included, into cli/sweep-cli.seconds. A self-test on the CPU
# runs a reduced table (the full one takes the CPU many minutes).
# shellcheck disable=SC2054  # the commas separate the CLI's list values
SWEEP_CLI_ARGS=(sweep --eta 0.025,0.25,2.5 --lambda 0,1,5 --seeds 1-4 --cost cross-entropy)
sweep_cli_step() {
    gpu_ready sweep-cli || return
    local size=(--epochs 30 --validation 10000)
    [ "$DEV" = cpu ] && size=(--epochs 1 --train-limit 2000 --validation 500)
    local t0 t1 rc; t0=$(date +%s.%N)
    cli sweep-cli 60 "${SWEEP_CLI_ARGS[@]}" "${size[@]}" --device "$DEV" --data "$DATA" --metrics "$R/cli/sweep-cli.jsonl"; rc=$?
    t1=$(date +%s.%N)
    case "$rc" in
        124) record sweep-cli "cut after ${STEP_T}s (log: cli/sweep-cli.log)" "$STEP_T"; return ;;
        125) record sweep-cli "cut: not started, no time left in the budget" 0; return ;;
    esac
    [ "$rc" = 0 ] || { record sweep-cli "FAILED: $(cli_fail sweep-cli "$rc")" "$STEP_T"; return; }
    local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    echo "$secs $DEV ${size[*]}" >"$R/cli/sweep-cli.seconds"
    local done_line; done_line=$(grep -m1 '^Done: ' "$R/cli/sweep-cli.log")
    record sweep-cli "ok: ${size[*]}: $secs s wall, target < 7.9 s; ${done_line:-no Done line} (cli/sweep-cli.log)" "$STEP_T"
}

summary() {
    {
        echo "gpu-check summary $(date -u +%Y-%m-%dT%H:%M:%SZ), bundle $BUNDLE ($(awk '$1 == "source" {print $2}' "$BUNDLE/MANIFEST" 2>/dev/null))"
        [ "$HAVE_GPU" = 1 ] && echo "GPU: $(grep -m1 "^  GPU:" "$R/preflight.log" | sed "s/^  GPU: //")" || echo "$WHY"
        [ "$SELFTEST" = 1 ] && echo "SELF-TEST: the CPU stood in for the GPU; nothing here is a GPU result"
        printf '%-22s %6s  %s\n' "step" "secs" "status"
        local i
        for i in "${!STEPS[@]}"; do printf '%-22s %6s  %s\n' "${STEPS[$i]}" "${SECS[$i]}" "${STATUS[$i]}"; done
        if [ "$STOPPED" = 0 ] && command -v python3 >/dev/null; then
            echo "key figures:"
            python3 "$HERE/gpu_check_figures.py" figures "$R" 2>&1 | sed 's/^/  /'
        fi
        echo "total $(($(date +%s) - START))s; result: $([ "$FAILED" = 0 ] && echo PASS || echo FAIL)"
    } >"$R/summary.txt"
    echo
    cat "$R/summary.txt"
}

BUNDLE="" PEER=""
run_checks() {
    [ -d "$1" ] || bad_usage "no bundle folder $1"
    [ -f "$1/MANIFEST" ] || bad_usage "$1 is not a bundle (no MANIFEST): make one with 'gpu-check.sh bundle $1'"
    BUNDLE="$(cd "$1" && pwd)"
    PEER="$BUNDLE/peer"
    R="${2:-./gpu-results}"
    # RESULTS is new, empty or an earlier run's (whose files would mix with this run's figures).
    if [ -d "$R" ] && [ -n "$(ls -A "$R" 2>/dev/null)" ]; then
        [ -f "$R/summary.txt" ] || [ -f "$R/preflight.log" ] || bad_usage "$R is not empty and not an earlier run's results"
        rm -rf "${R:?}"/* || die "cannot empty $R"
    fi
    mkdir -p "$R/cli" "$R/bench" "$R/peer" || die "cannot create $R"
    R="$(cd "$R" && pwd)"
    trap cleanup EXIT
    echo "gpu-check run: bundle $BUNDLE, results $R, budget ${BUDGET}s"
    preflight "$BUNDLE"
    echo "== steps"
    test_step
    cluster_tests_step
    init_step
    f64_step
    f32_step
    f32_steps_step
    launch_step
    eval_step
    local key='^(step|epoch)/'"$DEV"'/784-30-10/m:(10|100)/|^gemm-share/'"$DEV"'/'
    bench_step bench-train-key bench_train 75 "$key"
    sweep_step
    sanitizer_step memcheck
    sanitizer_step initcheck
    fused_sanitizer_step racecheck
    fused_sanitizer_step synccheck
    m_sweep_step
    bench_step bench-train-rest bench_train 60 '^(step|epoch)/'"$DEV"'/(784-100-10/|784-1024-1024-10/|784-30-10/m:(1|32|1000)/)'
    bench_step bench-ops bench_ops 30 "/$DEV/"
    profile_step
    peer_step
    summary
    return "$FAILED"
}

# ================================================================================ main ====

[ $# -ge 1 ] || bad_usage "no command"
case "$1" in
    bundle) [ $# -eq 2 ] || bad_usage "bundle takes one folder"; bundle "$2" ;;
    run)
        if [ $# -lt 2 ] || [ $# -gt 3 ]; then bad_usage "run takes a bundle folder and optionally a results folder"; fi
        [[ "$BUDGET" =~ ^[0-9]+$ ]] || bad_usage "GPU_CHECK_BUDGET_S must be whole seconds, not '$BUDGET'"
        run_checks "$2" "${3:-./gpu-results}"
        exit $?
        ;;
    glibc-check) shift; glibc_check_cmd "$@"; exit $? ;;
    -h|--help|help) help ;;
    *) bad_usage "unknown command '$1'" ;;
esac
