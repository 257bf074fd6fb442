#!/bin/sh
# test_threads.sh: `train` is bit-identical for any --threads. The case of
# issue 16: mlp:256-256 on digits with llqr-sam (85,002 parameters; the
# refresh batch of 128 made OpenBLAS's threaded GEMMs round differently).
# OPENBLAS_NUM_THREADS is unset so that OpenBLAS could use the threads.
set -u
. "${PH_SOURCE_ROOT:?}/tests/reliability/lib.sh"
for t in 1 2 3; do
  run 0 env -u OPENBLAS_NUM_THREADS "$P" train --model mlp:256-256 --data digits \
    --opt llqr-sam --steps 12 --refresh 4 --inner-steps 5 --out "$T/t$t" --threads "$t"
done
for t in 2 3; do
  for f in trajectory.npy log.csv precond.npy; do
    cmp -s "$T/t1/$f" "$T/t$t/$f" || fail "$f differs between --threads 1 and $t"
  done
done
echo "threads: ok"
