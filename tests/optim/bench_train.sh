#!/bin/sh
# bench_train.sh POTHOLE OUTDIR [STEPS] [MODEL] [DATA]: train sgd, sam, llqr,
# llqr-sam for seeds 1-3 and print test accuracy (mean ± std over seeds),
# wall time and time per step. Not a test; numbers in docs/performance-optim.md.
set -eu
PH=$1; OUT=$2; STEPS=${3:-2000}; MODEL=${4:-mlp:64-64:tanh}; DATA=${5:-digits}
export OPENBLAS_NUM_THREADS=1
mkdir -p "$OUT"
for opt in sgd sam llqr llqr-sam; do
  for seed in 1 2 3; do
    d="$OUT/$opt-$seed"
    rm -rf "$d"
    "$PH" train --model "$MODEL" --data "$DATA" --opt "$opt" --steps "$STEPS" \
      --seed "$seed" --out "$d" >/dev/null
  done
done
/usr/bin/python3 - "$OUT" "$STEPS" <<'PY'
import json, statistics as st, sys
out, steps = sys.argv[1], int(sys.argv[2])
print(f"{'optimiser':10} {'test acc (mean ± std)':>22} {'best test acc':>14} {'wall s':>7} {'ms/step':>8} {'grads':>6} {'ggnvp':>6}")
for opt in ["sgd", "sam", "llqr", "llqr-sam"]:
    rs = [json.load(open(f"{out}/{opt}-{s}/run.json")) for s in (1, 2, 3)]
    acc = [r["final"]["test_acc"] for r in rs]
    best = [r["best"]["test_acc"] for r in rs]
    wall = [r["wall_time"] for r in rs]
    prod = rs[0].get("products", {})
    print(f"{opt:10} {st.mean(acc):>14.4f} ± {st.stdev(acc):.4f} {st.mean(best):>14.4f} "
          f"{st.mean(wall):>7.2f} {1000*st.mean(wall)/steps:>8.3f} "
          f"{prod.get('gradient', '-'):>6} {prod.get('ggnvp', '-'):>6}")
PY
