#!/usr/bin/env bash
# Regenerate every paper figure into $OUT/figures (see README.md here).
set -euo pipefail
here=$(dirname "$0")
for r in escape_landscape escape_rates amplification spectra training_curves slices; do
  echo "figure recipe: $r" >&2
  "$here/$r.sh"
done
