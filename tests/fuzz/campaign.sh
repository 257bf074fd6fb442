#!/bin/sh
# campaign.sh BUILD_FUZZ_DIR OUT_DIR EXECS SECONDS [NAMES...]: the longer
# fuzzing campaign of docs/reliability.md. Each harness runs (one at a time,
# one process, at niceness $NICE, default 10) until EXECS executions or
# SECONDS seconds, whichever comes first, from the seed corpus plus what earlier campaigns in OUT_DIR
# found (OUT_DIR/corpus/NAME keeps growing; crashes go to OUT_DIR/crash-NAME-*).
# Prints one line per harness: executions, seconds, coverage (edges "cov",
# features "ft"), corpus size, and crashes.
set -u
b=${1:?build-fuzz dir}; out=${2:?out dir}; execs=${3:?executions}; secs=${4:?seconds}
shift 4
src=$(cd "$(dirname "$0")" && pwd)
names=${*:-ckpt npy csv idx text model_spec data_spec landscape_spec plot_table}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:allocator_may_return_null=1"
export POTHOLE_DATA_DIR=${POTHOLE_DATA_DIR:-$src/../../data}
for h in $names; do
  mkdir -p "$out/corpus/$h"
  t0=$(date +%s)
  nice -n "${NICE:-10}" "$b/tests/fuzz/fuzz_$h" -runs="$execs" -max_total_time="$secs" \
    -max_len=65536 -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$out/crash-$h-" "$out/corpus/$h" "$src/corpus/$h" \
    >"$out/$h.log" 2>&1
  rc=$?
  t1=$(date +%s)
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$h.log")
  cov=$(grep -E '^#[0-9]+' "$out/$h.log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2/p')
  crashes=$(ls "$out" | grep -c "^crash-$h-")
  echo "$h: ${n:-?} executions in $((t1 - t0)) s, $cov, corpus $(ls "$out/corpus/$h" | wc -l) files, exit $rc, crashes $crashes"
done
