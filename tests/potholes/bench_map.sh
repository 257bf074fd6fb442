#!/bin/sh
# bench_map.sh POTHOLE OUTDIR [THREADS]: the issue-13 benchmark, a 20x20
# regime map (eta/eta* 0.25..2 x rho/width 0..2) x 4 optimisers + 3 controls
# x 200 runs x 2000 steps on the selectivity landscape, fixed fitted P.
# Prints the wall time. Not a test; numbers in docs/performance.md.
set -eu
PH=$1; OUT=$2; TH=${3:-2}
export OPENBLAS_NUM_THREADS=1
rm -rf "$OUT"
start=$(date +%s.%N)
/usr/bin/time -f "cpu user %U s, sys %S s, wall %e s" "$PH" toy --landscape pothole2d:a=0.2,b=50,sx=0.1,sy=10,cx=2.5 \
  --opt sgd,sam,llqr,llqr-sam,sam-matched,llqr-sam-euclid,llqr-sam-ponly \
  --seeds 200 --steps 2000 --map eta_rel,rho_rel --x 0.25:2 --y 0:2 \
  --grid 20x20 --threads "$TH" --out "$OUT"
end=$(date +%s.%N)
echo "wall $(echo "$end - $start" | bc) s on $TH threads; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
