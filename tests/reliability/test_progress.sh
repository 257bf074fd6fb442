#!/bin/sh
# test_progress.sh: long work shows a progress bar on a terminal and nothing
# on a pipe: `init` of a large model (parameters drawn) and `spectrum
# --dense` (matrix columns, then the eigensolve). The terminal is a pty
# from script(1); exit 77 without it.
set -u
. "${PH_SOURCE_ROOT:?}/tests/reliability/lib.sh"
command -v script >/dev/null || { echo "no script(1): skipping"; exit 77; }
# 1500x1500: 2.36 M parameters, more than two 1 M slices, so the bar moves.
script -qec "'$P' init --model mlp:1500-1500 --data digits --out '$T/big.ckpt'" /dev/null >"$T/tty" 2>&1 ||
  fail "init under a pty: $(cat "$T/tty")"
tr '\r' '\n' <"$T/tty" | grep -a '^.*init *\[#*\.*\] *[0-9]*% [0-9]*/2364010' >"$T/bars" || fail "no init bar: $(cat -A "$T/tty" | head -c 400)"
tr '\r' '\n' <"$T/tty" | grep -aq 'init *\[#*\] 100% 2364010/2364010' || fail "init bar does not finish at 100%"
run 0 "$P" init --model mlp:1500-1500 --data digits --out "$T/big2.ckpt"
[ ! -s "$T/stderr" ] || fail "progress written to a pipe: $(cat "$T/stderr")"
cmp -s "$T/big.ckpt" "$T/big2.ckpt" || fail "the bar changed the parameters"

run 0 "$P" init --model linear --data digits --out "$T/l.ckpt"
script -qec "'$P' spectrum --ckpt '$T/l.ckpt' --n 64 --dense --k 1 --out '$T/sp'" /dev/null >"$T/tty" 2>&1 ||
  fail "spectrum under a pty"
tr '\r' '\n' <"$T/tty" | grep -aq 'dense *\[#*\] 100% 651/651 .*eigensolve' || fail "no dense bar: $(cat -A "$T/tty" | head -c 400)"
run 0 "$P" spectrum --ckpt "$T/l.ckpt" --n 64 --dense --k 1 --out "$T/sp2"
[ ! -s "$T/stderr" ] || fail "progress written to a pipe"
echo "progress: ok"
