#!/bin/sh
# test_bad_arrays.sh: arrays are validated at load. A preconditioner with a
# NaN, an Inf or a negative entry, a trajectory or a vector with a NaN/Inf
# is refused (exit 1, one line naming the file and the first bad index)
# instead of being clamped or propagated. Needs /usr/bin/python3 (standard
# library only) to write the .npy files; exit 77 without it.
set -u
. "${PH_SOURCE_ROOT:?}/tests/reliability/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "no python3: skipping"; exit 77; }
MK="$PY ${PH_SOURCE_ROOT:?}/tests/reliability/mknpy.py"
"$P" init --model linear --data digits --out "$T/m.ckpt" >/dev/null || fail init
n=650 # linear on digits: 64*10 weights + 10 biases

# Preconditioners: a good one works; NaN, Inf, negative are refused.
$MK "$T/ok.npy" $n fill=1
expect 0 "" "$P" spectrum --ckpt "$T/m.ckpt" --n 64 --operator precond --precond "$T/ok.npy" --k 1 --out "$T/sp_ok"
for bad in nan inf -inf -0.5; do
  $MK "$T/p.npy" $n fill=1,417=$bad
  expect 1 "p.npy: entry \[417\] is" "$P" spectrum --ckpt "$T/m.ckpt" --n 64 \
    --operator precond --precond "$T/p.npy" --k 1 --out "$T/sp_$bad"
  grep -q "finite and non-negative" "$T/stderr" || fail "requirement not stated"
  [ ! -e "$T/sp_$bad/spectrum.json" ] || fail "partial output for $bad"
  expect 1 "p.npy: entry \[417\] is" "$P" slice --ckpt "$T/m.ckpt" --n 64 \
    --dirs pothole --precond "$T/p.npy" --grid 3x3 --out "$T/sl_$bad"
done

# Trajectory [T, n] with an Inf at row 2, column 5: index [2, 5].
$MK "$T/traj.npy" 4x$n fill=0,$((2 * n + 5))=inf
expect 1 "traj.npy: entry \[2, 5\] is inf; a trajectory must be finite" \
  "$P" slice --ckpt "$T/m.ckpt" --n 64 --trajectory "$T/traj.npy" --dirs pca --grid 3x3 --out "$T/sl_traj"

# A vector for H v with a NaN.
$MK "$T/v.npy" $n fill=0,9=nan
expect 1 "v.npy: entry \[9\] is nan; a vector must be finite" \
  "$P" eval --ckpt "$T/m.ckpt" --n 64 --hvp "$T/v.npy:$T/hv.npy"
[ ! -e "$T/hv.npy" ] || fail "eval wrote hv.npy"
echo "bad arrays: ok"
