#!/usr/bin/env bash
# Cheap checks of scripts/gpu-check.sh (no build, no GPU, no bundle): bad arguments give one
# line with a usage hint and exit 2; glibc-check flags a library that is part of glibc (libmvec)
# and one that needs a GLIBC_x.y newer than allowed, and passes one within the limit.
#   tests/gpu_check_test.sh scripts/gpu-check.sh       (ctest: gpu_check_usage; 77 = skipped)
set -u
S="${1:?usage: gpu_check_test.sh PATH/TO/gpu-check.sh}"
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

expect_usage() {
    local err rc
    err=$("$S" "$@" 2>&1 >/dev/null)
    rc=$?
    [ "$rc" = 2 ] || fail "gpu-check.sh $*: exit $rc, want 2 (stderr: $err)"
    [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "gpu-check.sh $*: want one line on stderr, got: $err"
    case "$err" in *"usage: gpu-check.sh"*) ;; *) fail "gpu-check.sh $*: no usage hint in: $err" ;; esac
    echo "ok: gpu-check.sh $* -> exit 2: $err"
}
expect_usage
expect_usage frobnicate
expect_usage bundle
expect_usage bundle a b
expect_usage run
expect_usage run "$tmp/missing"
expect_usage run "$tmp"                       # a folder that is not a bundle
expect_usage run a b c
expect_usage glibc-check
expect_usage glibc-check --max
expect_usage glibc-check --max 2 /bin/sh
expect_usage glibc-check --bogus /bin/sh
expect_usage glibc-check "$tmp/missing.so"
"$S" --help | grep -q 'run DIR \[RESULTS\]' || fail "--help does not describe run"
# Issue 20's and 23's steps are described, and their executables travel in the bundle.
for step in cluster-tests tf32-tests racecheck synccheck m-sweep sweep-tests sweep-bench sweep-cli; do
    "$S" --help | grep -q -- "$step" || fail "--help does not describe $step"
done
grep -q '^BUNDLE_EXES=(.*test_gpu_cluster test_gpu_tf32' "$S" || fail "the GPU tests of the cluster step and TF32 do not travel"
for exe in test_gpu_sweep bench_sweep; do
    grep -q "^BUNDLE_EXES=(.* $exe[ )]" "$S" || fail "$exe does not travel in the bundle"
done

command -v readelf >/dev/null || { echo "skipped: no readelf (binutils)"; exit 77; }
lib_path() { ldconfig -p 2>/dev/null | awk -v l="$1" '$1 == l && /x86-64|64bit/ {print $NF; exit}'; }

# libmvec is glibc: it must never travel, whatever its versions.
mvec=$(lib_path libmvec.so.1)
if [ -n "$mvec" ]; then
    out=$("$S" glibc-check --max 99.0 "$mvec"); rc=$?
    [ "$rc" = 1 ] || fail "glibc-check accepted $mvec (exit $rc): $out"
    grep -q 'libmvec.so.1: .*BAD: part of glibc' <<<"$out" || fail "no BAD line for libmvec: $out"
    echo "ok: $out" | head -1
    # Renamed, it is still caught by what it needs: glibc-private symbols and glibc 2.36's RELR.
    cp "$mvec" "$tmp/libnotglibc.so.1"
    out=$("$S" glibc-check --max 2.34 "$tmp/libnotglibc.so.1"); rc=$?
    [ "$rc" = 1 ] || fail "glibc-check accepted a renamed libmvec (exit $rc): $out"
    grep -q 'BAD: .*glibc-private' <<<"$out" || fail "no glibc-private BAD line for a renamed libmvec: $out"
    echo "ok: $(head -1 <<<"$out")"
else
    echo "note: no libmvec.so.1 here; that case is not checked"
fi

# A library outside glibc: flagged below its own need, accepted at it.
z=$(lib_path libz.so.1)
[ -n "$z" ] || z=$(lib_path libgcc_s.so.1)
[ -n "$z" ] || { echo "skipped: neither libz.so.1 nor libgcc_s.so.1 in ldconfig -p"; exit 77; }
need=$("$S" glibc-check "$z" | sed -n 's/^needs glibc >= \([0-9.]*\)$/\1/p')
[ -n "$need" ] || fail "glibc-check printed no need for $z"
out=$("$S" glibc-check --max 2.0 "$z"); rc=$?
[ "$rc" = 1 ] && grep -q "BAD: newer than GLIBC_2.0" <<<"$out" || fail "glibc-check --max 2.0 $z: exit $rc: $out"
echo "ok: $(head -1 <<<"$out")"
out=$("$S" glibc-check --max "$need" "$z"); rc=$?
[ "$rc" = 0 ] || fail "glibc-check --max $need $z: exit $rc: $out"
echo "ok: $(head -1 <<<"$out")"
echo "PASS"
