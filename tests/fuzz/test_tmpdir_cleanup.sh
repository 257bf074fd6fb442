#!/bin/sh
# test_tmpdir_cleanup.sh FUZZ_DATA_SPEC: a harness's private directory
# (fuzz_tmpdir in fuzz_common.h) is removed however the harness ends:
# a normal exit, an abort in a start-up check (made to fail here with a
# digits.csv.gz small enough to load under the data cap), and SIGKILL in
# the middle of fuzzing (what a crash, a sanitizer report or a timeout
# amount to: no atexit handler runs). PH_FUZZ_TMPDIR puts the directory
# in a scratch place where nothing else creates one.
set -u
h=${1:?harness}
T=$(mktemp -d /tmp/ph_fuzz_cleanup.XXXXXX)
pid=
trap '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
export PH_FUZZ_TMPDIR="$T/shm"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mkdir "$T/shm" "$T/corpus" "$T/data"
fail() { echo "tmpdir cleanup: $*" >&2; exit 1; }
left() { ls "$T/shm"; }
# Waits up to 10 s for the watcher to remove the directory.
gone() {
  i=0
  while [ -n "$(left)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ -z "$(left)" ]
}

# Normal exit: removed before the process ends (atexit).
POTHOLE_DATA_DIR="${POTHOLE_DATA_DIR:?}" "$h" -runs=50 "$T/corpus" \
  >"$T/log" 2>&1 || fail "a normal run failed: $(tail -3 "$T/log")"
[ -z "$(left)" ] || fail "left after a normal exit: $(left)"

# Abort in a start-up check, after the directory was made.
printf '1,2,0\n3,4,1\n' | gzip >"$T/data/digits.csv.gz"
POTHOLE_DATA_DIR="$T/data" "$h" -runs=1 "$T/corpus" >"$T/log" 2>&1 &&
  fail "the start-up check did not abort"
grep -q "digits must stop at the data cap" "$T/log" ||
  fail "aborted for another reason: $(tail -3 "$T/log")"
gone || fail "left after an abort at start-up: $(left)"

# SIGKILL while fuzzing.
POTHOLE_DATA_DIR="$POTHOLE_DATA_DIR" "$h" -max_total_time=60 "$T/corpus" \
  >"$T/log" 2>&1 &
pid=$!
i=0
while ! grep -q "INITED" "$T/log" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -n "$(left)" ] || fail "no directory while fuzzing"
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
gone || fail "left after SIGKILL: $(left)"
echo "tmpdir cleanup: ok"
