#!/bin/sh
# test_mpi_spectrum.sh: SLQ and Hutchinson probes split over the ranks of
# `mpirun -np N pothole spectrum` give the single-process files byte for
# byte (density.csv; spectrum.json but for its timings), N = 1, 2, 3; more
# ranks than probes is one line.
set -u
. "$(dirname "$0")/mpi_common.sh"

"$P" init --model mlp:12:tanh --data digits --seed 2 --out "$T/m.ckpt" \
  >/dev/null 2>"$T/err" || fail "init: $(cat "$T/err")"
S="spectrum --ckpt $T/m.ckpt --n 200 --k 3 --density --probes 7 --steps 40 --trace --trace-probes 11 --seed 4"
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

# More ranks than SLQ probes: one line, exit 2, nothing written.
mpi 3 spectrum --ckpt "$T/m.ckpt" --n 200 --density --probes 2 --out "$T/few" \
  >/dev/null 2>"$T/err"
refused 2 "3 processes for 2 SLQ probes"
[ ! -e "$T/few" ] || fail "a failed job left $T/few"
echo "mpi spectrum: plain = -np 1 = -np 2 = -np 3, byte for byte"
