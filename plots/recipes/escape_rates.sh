#!/usr/bin/env bash
. "$(dirname "$0")/common.sh"
for backend in builtin optim; do
  d="$OUT/toy/pothole2d"; [ $backend = optim ] && d="$OUT/toy/pothole2d-live"
  [ -f "$d/escape.csv" ] || "$POTHOLE" toy --landscape "$LAB" --opt sgd,sam,llqr,llqr-sam --seeds 200 \
    --steps 2000 --start pit --precond-from fit $( [ $backend = optim ] && echo --refresh 50 ) --seed 1 --out "$d" >/dev/null
done
NAME=escape_rates fig escape "$OUT/toy/pothole2d" --title "escape from the pit (fixed slow P)"
NAME=escape_rates_live fig escape "$OUT/toy/pothole2d-live" --title "escape from the pit (P refreshed every 50 steps)"
