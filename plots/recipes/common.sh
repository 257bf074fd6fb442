# Shared settings of the figure recipes (sourced).
set -euo pipefail
POTHOLE=${POTHOLE:-build/tools/pothole}
OUT=${OUT:-paper}
LAB="pothole2d:a=0.2,b=0.2,cx=2.5"
mkdir -p "$OUT/figures"
fig() { # kind inputs... -- name [plot options]
  local kind=$1; shift
  for ext in pdf png; do "$POTHOLE" plot "$kind" "$@" --out "$OUT/figures/$NAME.$ext"; done
}
train() { # optimiser
  [ -f "$OUT/train/$1/run.json" ] || "$POTHOLE" train --model mlp:64-64:tanh --data digits \
    --opt "$1" --steps 1500 --batch 64 --seed 1 --out "$OUT/train/$1" >/dev/null
}
