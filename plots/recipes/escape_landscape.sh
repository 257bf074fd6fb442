#!/usr/bin/env bash
. "$(dirname "$0")/common.sh"
[ -f "$OUT/toy/pothole2d/escape.csv" ] || "$POTHOLE" toy --landscape "$LAB" --opt sgd,sam,llqr,llqr-sam \
  --seeds 200 --steps 2000 --start pit --precond-from fit --backend builtin --seed 1 --out "$OUT/toy/pothole2d" >/dev/null
[ -f "$OUT/toy/slice/surface_loss.npy" ] || "$POTHOLE" slice --landscape "$LAB" --dirs axes --grid 121x121 \
  --range -1:3.5,-2.25:2.25 --out "$OUT/toy/slice" >/dev/null
NAME=escape_landscape fig contour "$OUT/toy/slice" --traj "$OUT/toy/pothole2d" \
  --title "pothole2d: escape trajectories" --xlabel x --ylabel y
