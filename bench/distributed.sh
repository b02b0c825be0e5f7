#!/usr/bin/env bash
# Data-parallel training through the CLI: examples/s and the all-reduce's share of the SGD time
# for P = 1, 2, ... CPU ranks under mpirun (and P GPUs over NCCL where GPUs exist), against
# one plain process (the fused step, no MPI), on [784,1024,1024,10] with m = 1024 by default.
# Prints a Markdown table for bench/RESULTS.md, then the all-reduce alone (bench_allreduce).
#
#   bench/distributed.sh                          # CPU: P = 1, 2; GPUs: 1, 2, 4, 8 up to what there is
#   bench/distributed.sh --ranks "1 2 4" --examples 16384 --epochs 3 --cli build-cpu/batchprop
#
# Each run trains --epochs epochs on the first --examples Fashion-MNIST images and reports the
# last epoch (the first pays for warm-up). CPU ranks get OPENBLAS_NUM_THREADS = cores / P, so
# every row uses the same cores: P > 1 then measures the cost of splitting and summing, not
# more hardware. The all-reduce figure is the host's time in the call: with MPI the sum itself
# plus any wait for a slower rank; with NCCL (asynchronous on the stream) only its launch, so
# GPU rows show throughput alone.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cli=$here/build/batchprop sizes=784,1024,1024,10 batch=1024 examples=8192 epochs=2 ranks="1 2" dtype=f32
while [ $# -gt 0 ]; do
    case $1 in
        --cli) cli=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --examples) examples=$2; shift 2 ;;
        --epochs) epochs=$2; shift 2 ;;
        --ranks) ranks=$2; shift 2 ;;
        --dtype) dtype=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$cli" ] || { echo "no $cli: build first (cmake --build build)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "no mpirun (Debian: openmpi-bin)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi_flags=(--oversubscribe --bind-to none)
cores=$(nproc)
common=(train --sizes "$sizes" --batch "$batch" --train-limit "$examples" --epochs "$epochs" --eta 0.1
        --init scaled --monitor none --dtype "$dtype")
# Parameters (the all-reduce's size) from the sizes: sum of n_l * (n_{l-1} + 1).
n_params=$(awk -F, '{s = 0; for (i = 2; i <= NF; i++) s += $i * ($(i-1) + 1); print s}' <<<"$sizes")
bytes_per=$([ "$dtype" = f64 ] && echo 8 || echo 4)
steps=$(( (examples + batch - 1) / batch ))

# "examples/s seconds allreduce_s allreduce_% wait_%" from the last epoch line.
last_epoch() {
    grep '^Epoch' | tail -1 | sed -E \
        -e 's/.*SGD ([0-9.]+) s, ([0-9]+) examples\/s(, all-reduce ([0-9.]+) s \(([0-9.]+)%(, waiting for other ranks ([0-9.]+)%)?\))?.*/\2 \1 \4 \5 \7/'
}
row() {  # label device P threads "examples/s seconds allreduce_s allreduce_% wait_%"
    local eps secs ar pct wait
    read -r eps secs ar pct wait <<<"$5"
    awk -v l="$1" -v d="$2" -v p="$3" -v t="$4" -v e="$eps" -v s="$secs" -v n="$steps" -v a="${ar:-}" \
        -v pc="${pct:-}" -v w="${wait:-}" \
        'BEGIN{printf "| %s | %s | %s | %s | %d | %.1f | %s | %s | %s |\n", l, d, p, t, e, 1000 * s / n,
               (a == "" ? "—" : sprintf("%.1f", 1000 * a / n)), (pc == "" ? "—" : pc "%"),
               (w == "" ? "—" : sprintf("%.1f%%", pc - w))}'
}

echo "Network [$sizes], m = $batch, $dtype, $examples examples ($steps steps/epoch), epoch $epochs of $epochs;"
echo "all-reduce of $n_params parameters = $(awk -v b=$((n_params * bytes_per)) 'BEGIN{printf "%.2f MB", b / 1e6}') per step."
echo
echo "| run | device | P | BLAS threads/rank | examples/s | ms/step | all-reduce ms/step | all-reduce share | of which the sum itself (not waiting) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
out=$(OPENBLAS_NUM_THREADS=$cores "$cli" "${common[@]}" --device cpu | last_epoch)
row "one process (fused step)" cpu 1 "$cores" "$out"
for p in $ranks; do
    t=$(( cores / p )); [ "$t" -ge 1 ] || t=1
    out=$(OPENBLAS_NUM_THREADS=$t mpirun -n "$p" "${mpi_flags[@]}" "$cli" "${common[@]}" --device cpu | last_epoch)
    row "mpirun, MPI_Allreduce" cpu "$p" "$t" "$out"
done
# The all-reduce alone (bench_allreduce, next to the CLI's build): the transfer without the
# wait for a slower rank.
allreduce_bench=$(dirname "$cli")/bench/bench_allreduce
echo
if [ -x "$allreduce_bench" ]; then
    for p in $ranks; do
        [ "$p" -ge 2 ] || continue
        mpirun -n "$p" "${mpi_flags[@]}" "$allreduce_bench" "$n_params" 20 cpu
    done
else
    echo "(no $allreduce_bench: built with BATCHPROP_BENCH=ON and MPI)"
fi
gpus=0
command -v nvidia-smi >/dev/null && gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "$gpus" -ge 1 ]; then
    out=$("$cli" "${common[@]}" --device cuda | last_epoch)
    row "one process (CUDA graphs)" cuda 1 — "$out"
    for p in 1 2 4 8; do
        [ "$p" -le "$gpus" ] || break
        out=$(mpirun -n "$p" "${mpi_flags[@]}" "$cli" "${common[@]}" --device cuda | last_epoch)
        row "mpirun, NCCL" cuda "$p" — "$out"
    done
    for p in 2 4 8; do
        [ "$p" -le "$gpus" ] || break
        [ -x "$allreduce_bench" ] && mpirun -n "$p" "${mpi_flags[@]}" "$allreduce_bench" "$n_params" 20 cuda
    done
else
    echo
    echo "(no GPU here: the NCCL rows need nvidia-smi and at least one GPU)"
fi
