#!/usr/bin/env bash
# CLI tests for `pothole data info`: outputs, usage errors (exit 2, also for
# a malformed spec, as in every command taking --data), bad files (exit 1,
# one line naming the file).
set -u
P=${PH_POTHOLE:?}
T=$(mktemp -d /tmp/ph_data_cli.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
E=$T/err # stderr of the last check (a fixed /tmp name once: shared, left behind)
fail=0
check() { # name expected_rc cmd...
  local name=$1 want=$2; shift 2
  out=$("$@" 2>"$E"); rc=$?
  if [ "$rc" != "$want" ]; then echo "FAIL $name: rc $rc, want $want"; cat "$E"; fail=1; fi
}
check digits 0 "$P" data info digits
echo "$out" | grep -q '"n_classes":[[:space:]]*10' || { echo "FAIL digits json"; fail=1; }
check modadd 0 "$P" data info modadd:97
echo "$out" | grep -q '"n_train":[[:space:]]*4705' || { echo "FAIL modadd json"; fail=1; }
check cap 0 "$P" data info digits --n 100
echo "$out" | grep -q '"n_train":[[:space:]]*100,' || { echo "FAIL --n cap"; fail=1; }
echo "$out" | grep -q '"n_test":[[:space:]]*100,' || { echo "FAIL --n cap test"; fail=1; }
check bad-n 2 "$P" data info digits --n abc
check text 0 "$P" data info text
check help 0 "$P" data --help
check unknown-spec 2 "$P" data info nosuch
check hex-size 2 "$P" data info blobs:n=0x10
check signed-p 2 "$P" data info modadd:+7
check spaced 2 "$P" data info "blobs:n= 50"
check missing-file 1 "$P" data info csv:/no/such/file.csv
grep -q "/no/such/file.csv" "$E" || { echo "FAIL message names file"; fail=1; }
[ "$(wc -l < "$E")" = 1 ] || { echo "FAIL one line"; fail=1; }
check bad-action 2 "$P" data list digits
check bad-seed 2 "$P" data info digits --seed -1
check no-spec 2 "$P" data info
exit $fail
