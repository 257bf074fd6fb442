#!/bin/sh
# test_errors.sh: every error is one printable line. File names and spec
# strings carrying a newline, a terminal escape, DEL or invalid UTF-8 are
# echoed with those bytes escaped as \xNN, in runtime errors (exit 1) as
# well as in usage errors (exit 2).
set -u
. "${PH_SOURCE_ROOT:?}/tests/reliability/lib.sh"
bad=$(printf 'x\nsecond line\033[31m\177\377')
check() { # check CODE cmd...: one line, printable ASCII/UTF-8 only
  run "$@"
  LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177]')" "$T/stderr" && fail "control byte in: $(cat -A "$T/stderr")"
  grep -q 'x\\x0asecond line\\x1b\[31m\\x7f\\xff' "$T/stderr" || fail "bytes not escaped: $(cat -A "$T/stderr")"
}
check 1 "$P" check --ckpt "$T/$bad"
check 1 "$P" init --model linear --data "csv:$T/$bad" --out "$T/o.ckpt"
check 2 "$P" init --model "$bad" --data digits --out "$T/o.ckpt"
[ ! -e "$T/o.ckpt" ] || fail "an output was written"
echo "errors: ok"
