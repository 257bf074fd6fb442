#!/usr/bin/env bash
. "$(dirname "$0")/common.sh"
[ -f "$OUT/toy/sweep/amplification.csv" ] || "$POTHOLE" toy --landscape potholeNd --sweep depth \
  --opt sam,llqr-sam --seeds 40 --steps 1000 --start pit --seed 1 --out "$OUT/toy/sweep" >/dev/null
NAME=amplification fig amplification "$OUT/toy/sweep" --title "escape amplification, potholeNd"
