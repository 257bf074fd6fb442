#!/bin/sh
# run_fuzz.sh HARNESS SEED_DIR RUNS [extra libFuzzer flags]: run a libFuzzer
# harness for RUNS executions starting from the seed corpus, writing new
# inputs and any crash reproducer to a temporary directory (never to the
# source tree). Exit 0 when no input crashed, leaked or broke an error
# message; otherwise libFuzzer's non-zero status, with the reproducer kept
# in /tmp and named on stderr.
set -u
h=${1:?harness}; seeds=${2:?seed dir}; runs=${3:?runs}; shift 3
[ -d "$seeds" ] || { echo "run_fuzz: no seed corpus $seeds" >&2; exit 1; }
work=$(mktemp -d /tmp/ph_fuzz_run.XXXXXX)
# New inputs go to $work/corpus, the log to $work/log: libFuzzer re-reads its
# corpus directory every second (-reload), and a log kept inside it was
# fuzzed as an input that grew with every line (text ran at a sixth of its
# rate on its own log, valid UTF-8 up to 64 KiB).
mkdir "$work/corpus"
# A spec may legally ask for an absurd size: malloc must return NULL (the
# library then reports "out of memory") instead of ASan aborting.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# -seed fixes the mutation sequence, so CI runs the same inputs each time.
"$h" -runs="$runs" -seed=1 -max_len=65536 -timeout=20 -rss_limit_mb=3072 \
  -artifact_prefix="$work/" -print_final_stats=1 "$@" "$work/corpus" "$seeds" \
  2>"$work/log"
rc=$?
grep -E '^(#[0-9]+ *DONE|Done |stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$work/log"
if [ $rc != 0 ]; then
  tail -40 "$work/log" >&2
  echo "run_fuzz: $(basename "$h") failed; reproducer and log kept in $work" >&2
  exit 1
fi
rm -rf "$work"
exit 0
