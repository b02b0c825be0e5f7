#!/usr/bin/env bash
# `batchprop train` under mpirun, two CPU ranks on Fashion-MNIST (skipped, status 77, without
# it): only rank 0 prints and writes files; P = 2 ends within 1e-12 of P = 1 in double; an
# error on one rank ends both, with that rank's message, within seconds; ranks given different
# settings are stopped before training; a Ctrl-C on one rank stops all; --checkpoint is
# written by rank 0 and --resume read by every rank, bitwise the uninterrupted run; a usage
# error is still exit status 2. Built without MPI:
# --distributed says what to install.
#   distributed_cli_test.sh BATCHPROP HAVE_MPI(ON|OFF) MPIEXEC "MPIEXEC_FLAGS" compare_models.py
set -u
bp=$1 have_mpi=$2 mpiexec=$3 flags=$4 compare=$5
data=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

if [ "$have_mpi" != ON ]; then
    "$bp" train --distributed --device cpu >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -ne 0 ] && grep -q "built without MPI.*libopenmpi-dev" "$tmp/err" \
        && ok "--distributed without MPI: $(cat "$tmp/err")" || fail "--distributed without MPI: rc $rc, $(cat "$tmp/err")"
    OMPI_COMM_WORLD_SIZE=2 "$bp" train --device cpu >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -ne 0 ] && grep -q "OMPI_COMM_WORLD_SIZE=2" "$tmp/err" \
        && ok "started by mpirun without MPI: $(cat "$tmp/err")" || fail "started by mpirun without MPI: rc $rc"
    exit $((fails > 0))
fi
[ -e "$data/train-images-idx3-ubyte.gz" ] || { echo "no Fashion-MNIST in $data: skipped"; exit 77; }
run2() { "$mpiexec" -n 2 $flags "$@"; }

# 1. One voice: rank 0's header, epoch lines, metrics and model; nothing from rank 1.
args=(train --device cpu --train-limit 1000 --epochs 2 --batch 25 --eta 0.5)
run2 "$bp" "${args[@]}" --metrics "$tmp/m.jsonl" --save "$tmp/s.json" >"$tmp/out" 2>"$tmp/err"; rc=$?
cat "$tmp/out" "$tmp/err"
[ $rc -eq 0 ] || fail "two ranks: exit status $rc"
[ "$(grep -c '^batchprop: sizes' "$tmp/out")" = 1 ] && grep -q "data-parallel over 2 processes (MPI)" "$tmp/out" \
    || fail "one header line naming 2 processes"
[ "$(grep -c '^Epoch [12]/2:' "$tmp/out")" = 2 ] || fail "two epoch lines"
# Each epoch line gives the all-reduce's share of it and, on CPUs, the time spent waiting.
[ "$(grep -Ec '^Epoch [12]/2:.*, all-reduce [0-9.]+ s \([0-9.]+%, waiting for other ranks [0-9.]+%\)$' "$tmp/out")" = 2 ] \
    || fail "the all-reduce's share on each epoch line"
[ "$(grep -c 'Saved the model' "$tmp/out")" = 1 ] || fail "one save line"
[ "$(wc -l <"$tmp/m.jsonl")" = 2 ] || fail "two metrics lines"
[ -s "$tmp/s.json" ] || fail "a saved model"
[ -s "$tmp/err" ] && fail "nothing on stderr"
ok "rank 0 alone prints and writes"

# 2. P = 2 and P = 1: 5 epochs of 1010 examples in batches of 25 (205 steps, the last batch
# 10, m odd per rank: 13 + 12), cross-entropy with lambda, shuffled, in double.
args=(train --device cpu --dtype f64 --train-limit 1010 --epochs 5 --batch 25 --eta 0.5 --lambda 2
      --cost cross-entropy --init scaled --monitor none -q)
"$bp" "${args[@]}" --save "$tmp/p1.json" || fail "one process"
run2 "$bp" "${args[@]}" --save "$tmp/p2.json" || fail "two ranks"
if python3 "$compare" "$tmp/p2.json" "$tmp/p1.json" --tolerance 1e-12; then ok "P = 2 equals P = 1 within 1e-12"
else fail "P = 2 vs P = 1"; fi

# 3. An error on one rank (a missing file given to rank 1 only: MPMD) ends both, with rank 1's
# message, a non-zero status, and no hang: rank 0 is by then waiting in a collective.
args=(train --device cpu --train-limit 1000 --epochs 50 --batch 10)
start=$(date +%s)
timeout 60 "$mpiexec" $flags -n 1 "$bp" "${args[@]}" : -n 1 "$bp" "${args[@]}" --train-images "$tmp/missing-images" --train-labels "$data/train-labels-idx1-ubyte.gz" \
    >"$tmp/out" 2>"$tmp/err"; rc=$?
secs=$(( $(date +%s) - start ))
cat "$tmp/err"
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "one failing rank: exit status $rc"
grep -q "^batchprop: error: rank 1 of 2: .*missing-images" "$tmp/err" || fail "rank 1's message"
grep -q "^Epoch" "$tmp/out" && fail "no epoch should complete"
[ $secs -lt 30 ] || fail "took $secs s"
ok "one failing rank ended both in $secs s, status $rc"

# 4. Different settings on the ranks: stopped before training, rank 0 says so once.
"$mpiexec" $flags -n 1 "$bp" "${args[@]}" --epochs 1 : -n 1 "$bp" "${args[@]}" --epochs 1 --batch 20 \
    >"$tmp/out" 2>"$tmp/err"; rc=$?
cat "$tmp/err"
[ $rc -ne 0 ] || fail "different settings: exit status 0"
[ "$(grep -c 'different settings' "$tmp/err")" = 1 ] || fail "one message about different settings"
grep -q "^Epoch" "$tmp/out" && fail "no training with different settings"
ok "different settings: status $rc"

# 5. Ctrl-C reaching one rank only (SIGINT to rank 1's process, not to mpirun): every rank stops
# at the same step, rank 0 saves the model marked interrupted, status 130.
args=(train --device cpu --train-limit 20000 --epochs 500 --batch 10 --monitor none --save "$tmp/int.json")
timeout 60 "$mpiexec" $flags -n 2 "$bp" "${args[@]}" >"$tmp/out" 2>"$tmp/err" &
launcher=$!
for _ in $(seq 300); do grep -q '^Epoch 1/' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
rank=$(pgrep -f "^$bp train .*$tmp/int.json" | tail -1)
if [ -n "$rank" ]; then kill -INT "$rank"; fi
wait "$launcher"; rc=$?
cat "$tmp/err"
[ -n "$rank" ] || fail "no rank process found to interrupt"
[ $rc -eq 130 ] || fail "interrupted run: exit status $rc (want 130)"
grep -q "interrupted during epoch .*model saved" "$tmp/err" || fail "rank 0 reports the interruption"
grep -q '"interrupted":true' "$tmp/int.json" 2>/dev/null || fail "the saved model records the interruption"
ok "SIGINT to one rank: status $rc"

# 6. --checkpoint and --resume: rank 0 alone writes the checkpoint (rank 1 would race it), every
# rank reads it, and the run resumed after epoch 1 saves the model the straight run saves.
args=(train --device cpu --dtype f64 --train-limit 1010 --batch 25 --eta 0.5 -q)
run2 "$bp" "${args[@]}" --epochs 2 --save "$tmp/straight.json" || fail "straight two-rank run"
run2 "$bp" "${args[@]}" --epochs 1 --checkpoint "$tmp/run.ckpt" || fail "two-rank run with --checkpoint"
[ -s "$tmp/run.ckpt" ] || fail "a checkpoint"
run2 "$bp" train --resume "$tmp/run.ckpt" --epochs 2 --save "$tmp/resumed.json" -q || fail "two-rank --resume"
if cmp -s "$tmp/straight.json" "$tmp/resumed.json"; then ok "checkpoint and resume on two ranks: bitwise the straight run"
else fail "the resumed two-rank run differs from the straight one"; fi

# 7. A usage error under mpirun is still one (status 2, before MPI starts on any rank), said
# once: by rank 0.
run2 "$bp" train --device cpu --epoch 2 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && [ "$(grep -c -- "did you mean '--epochs'" "$tmp/err")" = 1 ] && ok "usage error under mpirun: status 2, said once" \
    || fail "usage error under mpirun: status $rc, $(head -3 "$tmp/err")"

# 8. An error every rank finds alike in the data or settings (before training: each rank alone)
# is said once, by rank 0, without a rank number; the ranks end cleanly with its status (2 for
# settings that contradict the data, 1 for data that does not fit the network).
run2 "$bp" train --device cpu --train-limit 100 --batch 500 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && [ "$(grep -c 'batchprop: error: --batch 500 is larger than the training set' "$tmp/err")" = 1 ] \
    && ! grep -q "rank [0-9] of" "$tmp/err" && ok "a settings error every rank finds: status 2, said once" \
    || fail "settings error under mpirun: status $rc, $(cat "$tmp/err")"
run2 "$bp" train --device cpu --train-limit 100 --sizes 5,6,10 >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && [ "$(grep -c 'does not equal the image size' "$tmp/err")" = 1 ] \
    && ok "a data error every rank finds: status 1, said once" || fail "data error under mpirun: status $rc, $(cat "$tmp/err")"

# 9. SIGTERM to every rank (as a scheduler or mpirun passes it on): the notice once, status 143.
args=(train --device cpu --train-limit 20000 --epochs 500 --batch 10 --monitor none)
timeout 60 "$mpiexec" $flags -n 2 "$bp" "${args[@]}" >"$tmp/out" 2>"$tmp/err" &
launcher=$!
for _ in $(seq 300); do grep -q '^Epoch 1/' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
ranks=$(pgrep -f "^$bp train --device cpu --train-limit 20000 --epochs 500 --batch 10 --monitor none\$")
[ -n "$ranks" ] && kill -TERM $ranks
wait "$launcher"; rc=$?
[ "$(grep -c 'terminated (SIGTERM); stopping' "$tmp/err")" = 1 ] && [ $rc -eq 143 ] \
    && ok "SIGTERM to every rank: the notice once, status 143" || fail "SIGTERM to every rank: status $rc, $(cat "$tmp/err")"

exit $((fails > 0))
