#!/usr/bin/env bash
. "$(dirname "$0")/common.sh"
for o in sgd sam llqr llqr-sam; do
  train $o
  [ -f "$OUT/slices/$o/surface_loss.npy" ] || "$POTHOLE" slice --run "$OUT/train/$o" --dirs pca --n 1024 \
    --grid 31x31 --seed 1 --out "$OUT/slices/$o" >/dev/null
  NAME=slice_$o fig contour "$OUT/slices/$o" --title "$o: loss around the final model (PCA plane)"
done
