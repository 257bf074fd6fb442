#!/bin/sh
# test_safe_output_dev.sh: a device node at the output path is refused and
# stays a device node. Uses a scratch node made with mknod inside a fresh
# temporary directory (a copy of /dev/null's and /dev/full's numbers), never
# a real /dev entry. Needs root (CAP_MKNOD): otherwise exit 77 (skip).
set -u
. "${PH_SOURCE_ROOT:?}/tests/reliability/lib.sh"
if ! mknod "$T/full" c 1 7 2>/dev/null || ! mknod "$T/null" c 1 3 2>/dev/null; then
  echo "mknod not permitted here: skipping"; exit 77
fi
for node in full null; do
  "$P" init --model linear --data digits --out "$T/$node" >"$T/stdout" 2>"$T/stderr"
  rc=$?
  [ $rc = 1 ] || fail "init --out $node: exit $rc (wanted 1): $(cat "$T/stderr")"
  grep -q "character device" "$T/stderr" || fail "device not named: $(cat "$T/stderr")"
  [ "$(wc -l <"$T/stderr")" -le 1 ] || fail "error is not one line"
  [ -c "$T/$node" ] || fail "$node was replaced by a regular file"
done
"$P" slice --landscape pothole2d --dirs axes --grid 5x5 --out "$T/s" >/dev/null 2>&1 || fail "slice"
mknod "$T/full.png" c 1 7 || fail "mknod"
"$P" plot surface "$T/s" --out "$T/full.png" >/dev/null 2>"$T/stderr"
[ $? = 1 ] || fail "plot --out device node: not exit 1: $(cat "$T/stderr")"
grep -q "character device" "$T/stderr" || fail "plot: device not named"
[ -c "$T/full.png" ] || fail "plot replaced the device node"
# No temporary file may remain beside them.
[ "$(ls -A "$T" | grep -c tmp)" = 0 ] || fail "temporary files left"
echo "device nodes: ok"
