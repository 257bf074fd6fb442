#!/bin/sh
# test_mpi_faults.sh: a rank killed mid-grid ends the job (no hang), leaves
# the resume state and no surfaces; a different grid refuses that state with
# one line and leaves it as it was; the same command then resumes with
# another rank count, takes the saved points and computes the dead rank's,
# and gives the uninterrupted surfaces byte for byte. No step depends on
# timing: the killed rank holds mid-grid until the kill (--hold-after).
set -u
. "$(dirname "$0")/mpi_common.sh"

need_toys

G="--landscape potholeNd:n=10,noise=0.1,samples=20000 --n 20000 --dirs random --grid 41x41 --seed 1"
"$P" slice $G --out "$T/ref" >/dev/null 2>"$T/err" || fail "reference: $(cat "$T/err")"

# Kill rank 1 mid-grid once rank 0 has saved some progress. Rank 1 holds
# after 3 points (--hold-after, a test hook: it computes no more and waits,
# as a hung rank would), so while it lives the grid cannot finish: the kill
# lands mid-grid whatever the load. (The grid takes 0.5 s; a kill that only
# followed the first save raced its end, and under load it lost: the state
# already removed, or everything resumed and nothing left to compute.) Rank
# 0's state appears once it holds a point, never empty (grid.c).
S="$G --save-every 0.2 --out $T/run"
ASAN_OPTIONS=$NOLEAK mpirun --oversubscribe --allow-run-as-root -np 1 "$P" slice $S \
  : -np 1 "$P" slice $S --hold-after 3 : -np 1 "$P" slice $S >"$T/out" 2>"$T/err" &
mp=$!
end=$(($(date +%s) + 40)) # a hang detector (mpi_common.sh); ~1 s is usual
while [ ! -f "$T/run/.slice.state" ] && kill -0 $mp 2>/dev/null && ! waited_out $end; do
  sleep 0.05
done
[ -f "$T/run/.slice.state" ] || fail "no state saved: $(cat "$T/err")"
kill_rank $mp 1
ends_alone $mp 1 || fail "the job finished although rank 1 held: $(cat "$T/out")"
[ -f "$T/run/.slice.state" ] || fail "the killed job kept no state"
[ ! -e "$T/run/surface_loss.npy" ] || fail "the killed job wrote a surface"
notice=$(grep -m1 "rank 1" "$T/err")

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
# Both: the state kept points (never empty), and rank 1's held share was
# never in it.
grep -qE "[^0-9]0 resumed" "$T/out" && fail "nothing resumed: $(cat "$T/out")"
grep -qE "[(]0 computed" "$T/out" && fail "nothing left to compute: $(cat "$T/out")"
[ ! -e "$T/run/.slice.state" ] || fail "the finished grid left its state"
same "$T/ref" "$T/run" surface_loss.npy surface_acc.npy x.npy y.npy directions.npy
echo "mpi faults: $(cat "$T/out"); killed: $notice"
