#!/bin/sh
# test_mpi_spectrum.sh: SLQ and Hutchinson probes split over the ranks of
# `mpirun -np N pothole spectrum` give the single-process files byte for
# byte (density.csv; spectrum.json but for its timings), N = 1, 2, 3; so
# do the eigenpairs and the dense spectrum that rank 0 alone computes; more
# ranks than probes is one line.
set -u
. "$(dirname "$0")/mpi_common.sh"

"$P" init --model mlp:12:tanh --data digits --seed 2 --out "$T/m.ckpt" \
  >/dev/null 2>"$T/err" || fail "init: $(cat "$T/err")"
# groups of 2 probes (--block 2): 4 SLQ groups, 6 Hutchinson groups
S="spectrum --ckpt $T/m.ckpt --n 200 --k 3 --density --probes 7 --steps 40 --trace --trace-probes 11 --block 2 --seed 4"
"$P" $S --out "$T/plain" >/dev/null 2>"$T/err" || fail "plain: $(cat "$T/err")"
for n in 1 2 3; do
  mpi $n $S --out "$T/np$n" >"$T/out" 2>"$T/err" || fail "-np $n: $(cat "$T/err")"
  same "$T/plain" "$T/np$n" density.csv
  # everything but the timings
  grep -v seconds "$T/plain/spectrum.json" >"$T/a.json"
  grep -v seconds "$T/np$n/spectrum.json" >"$T/b.json"
  cmp -s "$T/a.json" "$T/b.json" || fail "spectrum.json differs at -np $n: $(diff "$T/a.json" "$T/b.json" | head -5)"
done
[ "$(grep -c '"lambda_max"' "$T/out")" -ge 1 ] || fail "rank 0 printed no JSON"
grep -q '"products":[[:space:]]*280' "$T/np3/spectrum.json" || \
  fail "SLQ products are not 7 probes x 40 steps: $(grep products "$T/np3/spectrum.json")"

# The extreme eigenpairs and the dense spectrum are rank 0's alone: the
# same bytes as one process. On this model a block product differs from
# single products in the last bits, so the probes must run in the same
# groups whatever the rank count (groups (0,1) and (2,3), not each rank's
# own probes regrouped).
"$P" init --model mlp:4:tanh --data digits --seed 2 --out "$T/s.ckpt" \
  >/dev/null 2>"$T/err" || fail "init: $(cat "$T/err")"
D="spectrum --ckpt $T/s.ckpt --n 100 --k 2 --dense --density --probes 4 --steps 20 --trace --trace-probes 4 --block 2"
"$P" $D --out "$T/dplain" >/dev/null 2>"$T/err" || fail "dense plain: $(cat "$T/err")"
mpi 2 $D --out "$T/dnp2" >/dev/null 2>"$T/err" || fail "dense -np 2: $(cat "$T/err")"
same "$T/dplain" "$T/dnp2" dense_eigenvalues.npy density.csv
grep -v seconds "$T/dplain/spectrum.json" >"$T/a.json"
grep -v seconds "$T/dnp2/spectrum.json" >"$T/b.json"
cmp -s "$T/a.json" "$T/b.json" || fail "dense spectrum.json differs at -np 2: $(diff "$T/a.json" "$T/b.json" | head -5)"
grep -q '"dense_lambda_max"' "$T/b.json" || fail "no dense_lambda_max at -np 2"
# 4 probes in groups of 2 on 3 ranks: one line naming the groups
mpi 3 $D --out "$T/dnp3" >/dev/null 2>"$T/err"
refused 2 "3 processes for 4 SLQ probes in groups of 2 (--block): start at most 2"

# More ranks than SLQ probes: one line, exit 2, nothing written.
mpi 3 spectrum --ckpt "$T/m.ckpt" --n 200 --density --probes 2 --out "$T/few" \
  >/dev/null 2>"$T/err"
refused 2 "3 processes for 2 SLQ probes"
[ ! -e "$T/few" ] || fail "a failed job left $T/few"
echo "mpi spectrum: plain = -np 1 = -np 2 = -np 3, byte for byte"
