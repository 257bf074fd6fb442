#!/bin/sh
# mpi_scaling.sh: points per second of `pothole slice` for 1, 2 and 4 MPI
# ranks (4 oversubscribe a 2-core machine) on the 64-64 tanh MLP (digits)
# and the 256-256 ReLU MLP (fashion-mnist), and the communication share
# measured directly: slice.json's comm_seconds (CPU time of all ranks inside
# MPI calls during the grid) over work_seconds (CPU time of all workers
# evaluating points). Also checks that every surface equals the
# single-process one byte for byte. Prints the command beside each number,
# the load average before and after each run, and "cores": the workers' CPU
# seconds over the grid's wall seconds, i.e. how many cores the job really
# got (on a quiet 2-core machine ≈ ranks, at most 2; other work on the
# machine shows up there first).
#
#   tests/bench/mpi_scaling.sh [POTHOLE] [GRID_TANH] [GRID_RELU]
#   (defaults: build/tools/pothole 25x25 13x13)
set -u
P=${1:-build/tools/pothole}
GT=${2:-25x25}
GR=${3:-13x13}
command -v mpirun >/dev/null 2>&1 || { echo "mpi_scaling: no mpirun"; exit 77; }
T=$(mktemp -d /tmp/ph_mpi_bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
M="mpirun --oversubscribe --allow-run-as-root"
load() { cut -d' ' -f1 /proc/loadavg; }
field() { # field FILE KEY: a number from slice.json's timing
  /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['timing'][sys.argv[2]])" "$1" "$2"
}

"$P" init --model mlp:64-64:tanh --data digits --seed 0 --out "$T/tanh.ckpt" >/dev/null || exit 1
"$P" init --model mlp:256-256:relu --data fashion-mnist --seed 0 --out "$T/relu.ckpt" >/dev/null || exit 1

echo "machine: $(nproc) cores, $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC')"
printf "%-17s %-5s %9s %8s %6s %11s %11s %6s %6s  %s\n" model ranks "points/s" speedup cores "comm share" "comm/point" "load<" "load>" command
for model in tanh relu; do
  if [ $model = tanh ]; then G=$GT; name=mlp:64-64:tanh; else G=$GR; name=mlp:256-256:relu; fi
  args="slice --ckpt $T/$model.ckpt --n 1024 --dirs random --seed 0 --grid $G"
  base=
  for r in plain 1 2 4; do
    out="$T/$model.$r"
    l0=$(load)
    if [ $r = plain ]; then
      cmd="pothole $args"
      "$P" $args --out "$out" >/dev/null || { echo "run failed: $cmd"; exit 1; }
    else
      cmd="mpirun --oversubscribe -np $r pothole $args"
      $M -np $r "$P" $args --out "$out" >/dev/null || { echo "run failed: $cmd"; exit 1; }
    fi
    l1=$(load)
    pps=$(field "$out/slice.json" points_per_second)
    work=$(field "$out/slice.json" work_seconds)
    comm=$(field "$out/slice.json" comm_seconds)
    pts=$(field "$out/slice.json" computed)
    secs=$(field "$out/slice.json" grid_seconds)
    [ -n "$base" ] || base=$pps
    for f in surface_loss.npy surface_acc.npy; do
      cmp -s "$T/$model.plain/$f" "$out/$f" || { echo "SURFACE DIFFERS: $cmd ($f)"; exit 1; }
    done
    /usr/bin/python3 - "$name" "$r" "$pps" "$base" "$comm" "$work" "$pts" "$secs" "$l0" "$l1" "$cmd" <<'PY'
import sys
name, r, pps, base, comm, work, pts, secs, l0, l1, cmd = sys.argv[1:]
pps, base, comm, work, pts, secs = map(float, (pps, base, comm, work, pts, secs))
share = 100.0 * comm / work if work > 0 else 0.0
print(f"{name:<17} {r:<5} {pps:9.1f} {pps / base:7.2f}x {work / secs:6.2f} "
      f"{share:10.3f}% {1e6 * comm / pts:8.1f} µs {l0:>6} {l1:>6}  {cmd}")
PY
  done
done
echo "surfaces: every run byte-identical to the single-process one"
