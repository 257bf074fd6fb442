#!/bin/sh
# test_mpi_faults.sh: a rank killed mid-grid ends the job (no hang), leaves
# the resume state and no surfaces; a different grid refuses that state with
# one line and leaves it as it was; the same command then resumes with
# another rank count and gives the uninterrupted surfaces byte for byte.
set -u
. "$(dirname "$0")/mpi_common.sh"

need_toys

G="--landscape potholeNd:n=10,noise=0.1,samples=20000 --n 20000 --dirs random --grid 41x41 --seed 1"
"$P" slice $G --out "$T/ref" >/dev/null 2>"$T/err" || fail "reference: $(cat "$T/err")"

# Kill rank 1 once rank 0 has saved some progress (every 0.2 s here).
ASAN_OPTIONS=$NOLEAK mpirun --oversubscribe --allow-run-as-root -np 3 "$P" slice $G --save-every 0.2 \
  --out "$T/run" >"$T/out" 2>"$T/err" &
mp=$!
k=0
while [ ! -f "$T/run/.slice.state" ] && [ $k -lt 600 ] && kill -0 $mp 2>/dev/null; do
  sleep 0.05; k=$((k + 1))
done
[ -f "$T/run/.slice.state" ] || fail "no state saved: $(cat "$T/err")"
kill_rank $mp 1
ends_alone $mp 1
[ -f "$T/run/.slice.state" ] || fail "the killed job kept no state"
[ ! -e "$T/run/surface_loss.npy" ] || fail "the killed job wrote a surface"

# Another grid on the same directory: one line, exit 2, state untouched.
cp "$T/run/.slice.state" "$T/state.bak"
mpi 2 slice $G --seed 2 \
  --out "$T/run" >/dev/null 2>"$T/err2"
rc=$?
[ $rc = 2 ] || fail "a different grid on the state: exit $rc: $(cat "$T/err2")"
one_line "$T/err2"
grep -q "resume state of a different grid" "$T/err2" || fail "message: $(cat "$T/err2")"
cmp -s "$T/run/.slice.state" "$T/state.bak" || fail "the state was changed"
[ ! -e "$T/run/surface_loss.npy" ] || fail "a refused grid wrote a surface"

# Resume with 2 ranks: the uninterrupted bytes, the state gone.
mpi 2 slice $G --out "$T/run" \
  >"$T/out" 2>"$T/err" || fail "resume: $(cat "$T/err")"
grep -qE "[^0-9]0 resumed" "$T/out" && fail "nothing resumed: $(cat "$T/out")"
[ ! -e "$T/run/.slice.state" ] || fail "the finished grid left its state"
same "$T/ref" "$T/run" surface_loss.npy surface_acc.npy x.npy y.npy directions.npy
echo "mpi faults: $(cat "$T/out")"
