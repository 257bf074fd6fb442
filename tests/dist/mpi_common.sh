# mpi_common.sh: sourced by the MPI tests. Skips (77) without an MPI build
# or without mpirun; defines $P, $T (a temporary directory), fail, mpi N ...
# (mpirun with N ranks, as root too, oversubscribing this 2-core machine)
# and same DIR1 DIR2 FILES... (byte-for-byte comparison).
P=${PH_POTHOLE:?PH_POTHOLE not set}
if [ "${PH_HAVE_MPI:-0}" != 1 ]; then
  echo "pothole built without MPI: skipping"; exit 77
fi
command -v mpirun >/dev/null 2>&1 || { echo "no mpirun: skipping"; exit 77; }
T=$(mktemp -d /tmp/ph_mpi.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Under AddressSanitizer the ranks run without leak detection: OpenMPI's
# runtime keeps allocations until exit inside dlopen'ed components whose
# stacks LeakSanitizer cannot even name (so no suppression can match them).
# Everything else ASan and UBSan check stays on; the plain runs of these
# tests keep leak detection.
NOLEAK="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpi() { # mpi N pothole-args...
  n=$1; shift
  ASAN_OPTIONS=$NOLEAK mpirun --oversubscribe --allow-run-as-root -np "$n" "$P" "$@"
}
same() { # same DIR1 DIR2 FILE...
  a=$1; b=$2; shift 2
  for f in "$@"; do
    [ -f "$a/$f" ] || fail "$a/$f missing"
    cmp -s "$a/$f" "$b/$f" || fail "$f differs between $a and $b"
  done
}
# exactly one line that starts with "pothole " on stderr (mpirun adds its
# own banner about the exit status, which is not ours to change)
one_line() { # one_line FILE
  k=$(grep -c '^pothole ' "$1")
  [ "$k" = 1 ] || fail "wanted one 'pothole ...' line, got $k: $(cat "$1")"
}
# skip (77) when the toy landscapes are not built into this pothole
need_toys() {
  "$P" slice --landscape pothole2d --dirs axes --grid 3x3 --out "$T/probe" \
    >/dev/null 2>"$T/err"
  if grep -q "not built" "$T/err"; then
    echo "toy landscapes not built: skipping"; exit 77
  fi
}
# study_same DIR1 DIR2: two `pothole study` directories hold the same
# results. Byte for byte: tune.csv, selection.csv, study.cfg, the PNG
# figures and every run's log.csv and .npy arrays (trajectory, P). Wall time
# is the one thing that may differ, and it is excluded exactly: the columns
# named wall_time* of study.csv and runs.csv, the "wall s" column of
# study.md's results table and its "Wall time of this invocation" line, and
# the /CreationDate line cairo stamps into each PDF. (Checkpoints, run.json
# and spectrum.json also carry timings and are not compared; the arrays and
# the CSVs derived from them are.)
no_wall_csv() { # no_wall_csv FILE: FILE without its wall_time* columns
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) drop[i] = ($i ~ /^wall_time/) }
    { s = ""; for (i = 1; i <= NF; i++) if (!drop[i]) s = s $i ","; print s }' "$1"
}
no_wall_md() { # no_wall_md FILE: study.md without wall times
  awk -F'|' '/\| wall s \|/ { for (i = 1; i <= NF; i++) if ($i == " wall s ") k = i }
    /^Wall time of this invocation/ { next }
    /^$/ { k = 0 }
    { if (k) { s = ""; for (i = 1; i <= NF; i++) if (i != k) s = s $i "|"; print s }
      else print }' "$1"
}
study_same() { # study_same DIR1 DIR2
  a=$1; b=$2
  [ -f "$a/study.md" ] && [ -f "$b/study.md" ] || fail "no study.md in $a or $b"
  grep -q "| wall s |" "$a/study.md" || fail "study.md: no 'wall s' column to exclude"
  same "$a" "$b" tune.csv selection.csv study.cfg
  for f in study.csv runs.csv; do
    no_wall_csv "$a/$f" >"$T/cmp_a"; no_wall_csv "$b/$f" >"$T/cmp_b"
    cmp -s "$T/cmp_a" "$T/cmp_b" || fail "$f differs (beyond wall time) between $a and $b"
  done
  no_wall_md "$a/study.md" >"$T/cmp_a"; no_wall_md "$b/study.md" >"$T/cmp_b"
  cmp -s "$T/cmp_a" "$T/cmp_b" || fail "study.md differs (beyond wall time) between $a and $b"
  n=0
  for f in $(cd "$a" && ls figures/*.png figures/*.pdf) \
    $(cd "$a" && find runs tune -name '*.npy' -o -name log.csv); do
    n=$((n + 1))
    case $f in
    *.pdf) grep -av '/CreationDate' "$a/$f" >"$T/cmp_a"; grep -av '/CreationDate' "$b/$f" >"$T/cmp_b"
      cmp -s "$T/cmp_a" "$T/cmp_b" || fail "$f differs between $a and $b" ;;
    *) same "$a" "$b" "$f" ;;
    esac
  done
  [ $n -ge 6 ] || fail "only $n figures and arrays compared"
}
# refused RC MESSAGE: the last command exited with RC and wrote one line
# containing MESSAGE to $T/err (call right after it: reads $?)
refused() {
  got=$?
  [ "$got" = "$1" ] || fail "exit $got, wanted $1: $(cat "$T/err")"
  one_line "$T/err"
  grep -q "$2" "$T/err" || fail "message: $(cat "$T/err")"
}
# Waits end on events the code guarantees; their bounds only turn a hang
# into a message before meson's timeout (120 s for mpi-faults, 300 s for
# the study tests), so they are wall-clock seconds (date), never counts of
# loop turns: under load each turn's sleep and forks stretch, and a bound
# in turns drifts far from what it says.
# waited_out END: true once the wall clock (date +%s) has reached END
waited_out() { [ "$(date +%s)" -ge "$1" ]; }
# kill_rank MPIRUN_PID R: SIGKILL rank R of that mpirun
kill_rank() {
  victim=
  for pid in $(pgrep -P "$1"); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      victim=$pid
    fi
  done
  [ -n "$victim" ] || fail "rank $2 not found among mpirun's children: $(cat "$T/err")"
  kill -9 "$victim"
}
# ends_alone MPIRUN_PID R [SECONDS]: after kill_rank, the job must end on its
# own within SECONDS (default 40) of wall time, never hang, and say that
# rank R died ($T/err). OpenMPI ends the other ranks when it reaps the
# dead one (SIGTERM, then SIGKILL when they linger): about a second, so 40
# s is only a hang detector that leaves the rest of the test its time.
# A job that exited 0 finished before the kill landed: returns 3, and the
# caller decides (the slice test holds a rank so that it cannot happen).
ends_alone() {
  end=$(($(date +%s) + ${3:-40}))
  while kill -0 "$1" 2>/dev/null && ! waited_out $end; do sleep 0.1; done
  if kill -0 "$1" 2>/dev/null; then
    pkill -9 -P "$1"; kill -9 "$1" # the ranks first: no orphans left
    fail "the job hung after a rank died"
  fi
  wait "$1"
  [ $? = 0 ] && return 3
  grep -q "rank $2" "$T/err" || fail "no word of the dead rank: $(cat "$T/err")"
  return 0
}
