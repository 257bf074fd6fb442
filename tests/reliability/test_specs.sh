#!/bin/sh
# test_specs.sh: spec strings are parsed strictly (decimal digits only: no
# sign, blank, hex, inf or nan; no empty layer), and the same malformed spec
# is the same usage error (exit 2, one line) in every command that takes it.
set -u
. "${PH_SOURCE_ROOT:?}/tests/reliability/lib.sh"
"$P" init --model linear --data digits --out "$T/m.ckpt" >/dev/null || fail init

# Model specs: each was accepted (reinterpreted) before.
for m in "mlp:-5" "mlp:64--64" "mlp:64-" "mlp:+5" "mlp: 5" "mlp:0x10" \
         "cnn:c8k3-p2-" "cnn:c+8k3" "cnn:c8k-3" "mlp:r-4" "transformer:d+8h1l1"; do
  run 2 "$P" init --model "$m" --data digits --out "$T/x.ckpt"
  grep -q "model spec" "$T/stderr" || fail "$m: message does not name the model spec"
done
run 0 "$P" init --model "mlp:8-r8:tanh" --data digits --out "$T/x.ckpt"
[ ! -e "$T/y.ckpt" ] || fail "stray output"

# Data specs: the same exit code (2) in every command.
for d in "blobs:n=0x10" "blobs:n= 50" "blobs:n=+50" "blobs:sd=inf" "blobs:sd=nan" \
         "modadd:+7" "modadd:1e2" "nosuch"; do
  run 2 "$P" data info "$d"
  run 2 "$P" init --model linear --data "$d" --out "$T/x2.ckpt"
  run 2 "$P" train --model linear --data "$d" --opt sgd --steps 2 --out "$T/run"
  run 2 "$P" eval --ckpt "$T/m.ckpt" --data "$d"
  run 2 "$P" check --ckpt "$T/m.ckpt" --data "$d"
  run 2 "$P" spectrum --ckpt "$T/m.ckpt" --data "$d" --out "$T/sp"
  run 2 "$P" slice --ckpt "$T/m.ckpt" --data "$d" --dirs random --out "$T/sl"
done
for f in x2.ckpt run sp sl; do [ ! -e "$T/$f" ] || fail "$f was written"; done
# A missing file is a runtime failure (1), the same everywhere.
run 1 "$P" data info "csv:$T/none.csv"
run 1 "$P" init --model linear --data "csv:$T/none.csv" --out "$T/x2.ckpt"

# Landscape specs.
for l in "pothole2d:noise=0x1" "pothole2d:noise= 1" "pothole2d:noise=inf" "pothole2d:noise=nan" "pothole2d:noise=1e999"; do
  run 2 "$P" slice --landscape "$l" --dirs axes --grid 3x3 --out "$T/ls"
done
[ ! -e "$T/ls" ] || fail "landscape output written"
echo "specs: ok"
