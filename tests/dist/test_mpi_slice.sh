#!/bin/sh
# test_mpi_slice.sh: `mpirun -np N pothole slice` writes the same bytes as
# one process: surfaces, axes, directions and the 1-D quadratic model, for
# N = 1, 2, 3 (with threads inside the ranks), and the one-line errors of a
# job (more ranks than points, a command that does not distribute, a
# missing input on every rank).
set -u
. "$(dirname "$0")/mpi_common.sh"

need_toys

# 2-D random directions on a sampled (noisy) toy: every point is a real
# mean over 2000 samples, the directions come from the seeded RNG.
G="--landscape potholeNd:n=6,noise=0.1,samples=2000 --n 20000 --dirs random --grid 23x19 --seed 5"
"$P" slice $G --out "$T/plain" >"$T/out" 2>"$T/err" || fail "plain run: $(cat "$T/err")"
mpi 1 slice $G --out "$T/np1" >"$T/out" 2>"$T/err" || fail "-np 1: $(cat "$T/err")"
mpi 2 slice $G --out "$T/np2" >"$T/out" 2>"$T/err" || fail "-np 2: $(cat "$T/err")"
grep -q "x 2 ranks" "$T/out" || fail "-np 2 did not run as 2 ranks: $(cat "$T/out")"
[ "$(grep -c '^slice:' "$T/out")" = 1 ] || fail "more than rank 0 printed: $(cat "$T/out")"
mpi 3 slice $G --threads 2 --out "$T/np3" >"$T/out" 2>"$T/err" || fail "-np 3: $(cat "$T/err")"
grep -q "2 threads x 3 ranks" "$T/out" || fail "-np 3: $(cat "$T/out")"
F="surface_loss.npy surface_acc.npy x.npy y.npy directions.npy"
for d in np1 np2 np3; do same "$T/plain" "$T/$d" $F; done
[ -z "$(ls -A "$T/np3" | grep -v -e '\.npy$' -e '^slice\.json$')" ] || fail "stray files: $(ls -A "$T/np3")"
grep -q '"ranks":.*3' "$T/np3/slice.json" || fail "slice.json lacks the rank count"

# 1-D along the top Hessian eigenvector: every rank runs the same Lanczos
# and must agree on the direction (the grid checks a fingerprint).
H="--landscape pothole2d:noise=0.1,samples=500 --dirs hessian --grid 31 --seed 2"
"$P" slice $H --out "$T/h1" >/dev/null 2>"$T/err" || fail "hessian plain: $(cat "$T/err")"
mpi 3 slice $H --out "$T/h3" >/dev/null 2>"$T/err" || fail "hessian -np 3: $(cat "$T/err")"
same "$T/h1" "$T/h3" surface_loss.npy surface_acc.npy x.npy directions.npy slice1d.csv

# More ranks than grid points: one line, exit 2, no directory left.
mpi 3 slice --landscape pothole2d --dirs axes --grid 2 --out "$T/tiny" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] || fail "3 ranks for 2 points: exit $rc: $(cat "$T/err")"
one_line "$T/err"
grep -q "3 processes for a grid of 2 points" "$T/err" || fail "message: $(cat "$T/err")"
[ ! -e "$T/tiny" ] || fail "a failed job left $T/tiny"

# A command that does not distribute refuses to run as several processes.
mpi 2 train --help >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] || fail "train under mpirun: exit $rc"
one_line "$T/err"

# The same runtime failure on every rank: one line (from rank 0), exit 1.
mpi 2 slice --ckpt "$T/missing.ckpt" --out "$T/m" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] || fail "missing checkpoint: exit $rc: $(cat "$T/err")"
one_line "$T/err"
[ ! -e "$T/m" ] || fail "a failed job left $T/m"
echo "mpi slice: plain = -np 1 = -np 2 = -np 3 (x 2 threads), byte for byte"
