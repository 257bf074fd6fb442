#!/usr/bin/env bash
. "$(dirname "$0")/common.sh"
train llqr-sam
ck="$OUT/train/llqr-sam/ckpt/final.ckpt"
[ -f "$OUT/spectra/llqr-sam/local/spectrum.json" ] || "$POTHOLE" spectrum --ckpt "$ck" --n 1024 --k 5 \
  --which both --density --probes 8 --steps 60 --trace --seed 1 --out "$OUT/spectra/llqr-sam/local" >/dev/null
[ -f "$OUT/spectra/llqr-sam/precond/spectrum.json" ] || "$POTHOLE" spectrum --ckpt "$ck" --n 1024 \
  --operator precond --precond "$OUT/train/llqr-sam" --k 5 --which both --density --probes 8 --steps 60 \
  --seed 1 --out "$OUT/spectra/llqr-sam/precond" >/dev/null
NAME=spectrum_llqr-sam fig spectrum "$OUT/spectra/llqr-sam/local" "$OUT/spectra/llqr-sam/precond" \
  --title "Hessian: local vs averaged geometry"
