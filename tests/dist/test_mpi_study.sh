#!/bin/sh
# test_mpi_study.sh: `mpirun -np N pothole study` deals each stage's runs to
# the ranks and gives the single-process results (N = 1, 2, 3; 2 runs at once
# within a rank for N = 1, 2): every output but wall time byte for byte (see
# study_same in mpi_common.sh); rank 0 alone prints the progress and the
# split; a run failing on another rank is reported once and counted; more
# ranks than the largest stage has runs is one line and writes nothing.
set -u
. "$(dirname "$0")/mpi_common.sh"

# 2 optimisers x 2 rates to tune, 2 seeds, 12 steps (--steps-scale 0.1):
# stages of 4, 4 and 8 runs. Each run is in DIR/..., so every study runs in
# its own directory under the same relative name (the commands in study.md
# name it).
S="study --quick --opts sgd,llqr-sam --seeds 2 --steps-scale 0.1 --out s"
run() { # run NAME [mpi N] [extra options]
  name=$1; shift
  mkdir -p "$T/$name"
  (cd "$T/$name" && "$@") >"$T/$name.out" 2>"$T/$name.err" ||
    fail "$name: $(cat "$T/$name.err")"
}
run plain "$P" $S
# --jobs 2 (the default) runs 2 at once within a rank: ranks x jobs; -np 3
# with --jobs 1 as well
for n in 1 2 3; do
  if [ $n = 3 ]; then run np$n mpi $n $S --jobs 1; else run np$n mpi $n $S; fi
  study_same "$T/plain/s" "$T/np$n/s"
done
# every run of the study was done once, by one rank (one log each)
[ "$(ls "$T/np3/s/logs" | grep -c '\.err$')" = 16 ] || fail "np3: $(ls "$T/np3/s/logs" | grep -c '\.err$') run logs, wanted 16"
# progress from rank 0 alone: one line per stage
[ "$(grep -c '^pothole study: \[' "$T/np3.err")" = 3 ] || fail "np3 progress: $(cat "$T/np3.err")"
# each stage dealt by position p -> rank p mod 3: tuning 4 runs -> 2, 1, 1;
# final 4 runs -> 2, 1, 1 and 8 λmax runs -> 3, 3, 2, so 5, 4, 3 in that phase
grep -q '^pothole study: 4 jobs on 3 ranks (2, 1, 1)$' "$T/np3.err" || fail "np3 tuning split: $(cat "$T/np3.err")"
grep -q '^pothole study: 12 jobs on 3 ranks (5, 4, 3)$' "$T/np3.err" || fail "np3 final split: $(cat "$T/np3.err")"

# A run that fails on another rank: its directory is taken by a file, so
# train cannot write there (final stage, position 1: rank 1 of 2). Rank 0
# reports it once, from the run's log; the others go on; the results, with
# the failure counted, equal one process's.
F="study --quick --opts sgd,llqr-sam --lr-grid 1 --seeds 2 --steps-scale 0.1 --out s"
for name in fplain fnp2; do
  mkdir -p "$T/$name/s/runs/digits-mlp/sgd" && : >"$T/$name/s/runs/digits-mlp/sgd/s2"
done
run fplain "$P" $F
run fnp2 mpi 2 $F
study_same "$T/fplain/s" "$T/fnp2/s"
[ "$(grep -c '^pothole study: optional job run-digits-mlp-sgd-s2: .*not a directory' "$T/fnp2.err")" = 1 ] ||
  fail "the failed run is not reported once by rank 0: $(cat "$T/fnp2.err")"
nf=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
  NR > 1 && $c["optimizer"] == "sgd" { print $c["n_failed"] }' "$T/fnp2/s/study.csv")
[ "$nf" = 1 ] || fail "study.csv: sgd n_failed $nf, wanted 1"

# More ranks than the largest stage has runs (1 to tune, 2 final, 2 λmax):
# one line, exit 2, nothing written.
mkdir -p "$T/few"
(cd "$T/few" && mpi 3 study --quick --opts sgd --lr-grid 1 --seeds 2 --steps-scale 0.1 --out s) >/dev/null 2>"$T/err"
refused 2 "3 processes for a study whose largest stage has 2 jobs"
[ ! -e "$T/few/s" ] || fail "a refused study wrote $T/few/s"
echo "mpi study: plain, -np 1, 2 (--jobs 2) and 3 (--jobs 1) agree"
