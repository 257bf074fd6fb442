#!/bin/sh
# test_mpi_study_faults.sh: a rank killed in the middle of an MPI study ends
# the job (no hang) and leaves no report; the same command then resumes with
# another rank count, keeps the runs that had finished and gives the
# uninterrupted results (study_same: everything but wall time).
set -u
. "$(dirname "$0")/mpi_common.sh"

S="study --quick --opts sgd,llqr-sam --seeds 2 --steps-scale 0.1 --jobs 1 --out s"
mkdir -p "$T/ref" "$T/run"
(cd "$T/ref" && "$P" $S) >/dev/null 2>"$T/err" || fail "reference: $(cat "$T/err")"

# 3 ranks; kill rank 1 once the tuning is over and the final runs started.
(cd "$T/run" && ASAN_OPTIONS=$NOLEAK exec mpirun --oversubscribe --allow-run-as-root -np 3 "$P" $S) \
  >"$T/out" 2>"$T/err" &
mp=$!
# No bound of its own: the job either reaches the final runs or ends, and
# the tuning before them takes from 20 s (quiet) to minutes (loaded, or
# under ASan), so any bound here short of meson's timeout (which catches
# a hang) would kill the job mid-tuning on a slow day.
while [ -z "$(ls "$T"/run/s/runs/digits-mlp/*/s*/log.csv 2>/dev/null)" ] &&
  kill -0 $mp 2>/dev/null; do
  sleep 0.05
done
kill -0 $mp 2>/dev/null || fail "the job ended before its final runs: $(cat "$T/err")"
kill_rank $mp 1
if ! ends_alone $mp 1; then
  echo "the study finished before the kill landed: resume not exercised"
  exit 77
fi
[ -f "$T/run/s/selection.csv" ] || fail "killed before the tuning ended"
for f in study.md study.csv runs.csv figures; do
  [ ! -e "$T/run/s/$f" ] || fail "the killed study wrote $f"
done
# No pothole of the job outlives it: the ranks' children get SIGTERM when
# their rank dies (PR_SET_PDEATHSIG) and end soon after, however soon the
# load lets them; 30 s of wall time only detect one that never does.
end=$(($(date +%s) + 30))
while :; do
  left=
  for d in /proc/[0-9]*; do
    [ "$(readlink "$d/cwd" 2>/dev/null)" = "$T/run" ] && left=$d
  done
  [ -z "$left" ] && break
  waited_out $end &&
    fail "a process of the killed job still runs: $(tr '\0' ' ' <"$left/cmdline")"
  sleep 0.1
done
ls "$T"/run/s/tune/digits-mlp/*/lr*/run.json >"$T/kept"
for f in $(cat "$T/kept"); do cksum "$f"; done >"$T/sums_before"

# Resume with 2 ranks: the finished runs are kept, the rest completes.
(cd "$T/run" && mpi 2 $S) >"$T/out" 2>"$T/err" || fail "resume: $(cat "$T/err")"
for f in $(cat "$T/kept"); do cksum "$f"; done >"$T/sums_after"
cmp -s "$T/sums_before" "$T/sums_after" || fail "the resume redid finished tuning runs"
study_same "$T/ref/s" "$T/run/s"
echo "mpi study faults: killed in the final phase, resumed on 2 ranks"
