#!/bin/sh
# test_safe_output.sh: outputs never replace or follow what is at the path.
# A FIFO, a symlink or a directory at the output path is refused (exit 1,
# one line naming it) and left as it was; symlinks planted at the temporary
# names earlier versions used (.NAME.tmp.PID for the next few PIDs) are not
# followed; "-" writes to standard output. Device nodes: test_safe_output_dev.sh.
set -u
. "${PH_SOURCE_ROOT:?}/tests/reliability/lib.sh"

# A victim file that a followed symlink would overwrite.
printf 'precious\n' >"$T/victim"
check_victim() { [ "$(cat "$T/victim")" = precious ] || fail "victim overwritten ($*)"; }

# 1. Symlink at the target: refused, link and its target unchanged.
ln -s "$T/victim" "$T/link.ckpt"
run 1 "$P" init --model linear --data digits --out "$T/link.ckpt"
one_line; grep -q "symbolic link" "$T/stderr" || fail "symlink not named: $(cat "$T/stderr")"
[ -L "$T/link.ckpt" ] || fail "symlink replaced"; check_victim symlink target

# 2. FIFO at the target (init and plot): refused, still a FIFO. A command
# that opened it for writing would block here; the test's timeout catches it.
mkfifo "$T/fifo.ckpt" || fail "mkfifo"
run 1 "$P" init --model linear --data digits --out "$T/fifo.ckpt"
one_line; grep -q "FIFO" "$T/stderr" || fail "FIFO not named: $(cat "$T/stderr")"
[ -p "$T/fifo.ckpt" ] || fail "FIFO replaced"
run 0 "$P" slice --landscape pothole2d --dirs axes --grid 5x5 --out "$T/s"
mkfifo "$T/fig.png"
run 1 "$P" plot surface "$T/s" --out "$T/fig.png"
one_line; [ -p "$T/fig.png" ] || fail "plot replaced the FIFO"

# 3. Directory at a file target: refused, directory intact.
mkdir "$T/dir.ckpt"; touch "$T/dir.ckpt/keep"
run 1 "$P" init --model linear --data digits --out "$T/dir.ckpt"
one_line; [ -f "$T/dir.ckpt/keep" ] || fail "directory damaged"

# 4. Planted symlinks at every predictable temporary name: the old scheme
# .NAME.tmp.PID for the next 200 PIDs. None is followed, the output is a
# regular file with the right content, and no temporary file is left.
next=$(sh -c 'echo $$')
i=0
while [ $i -lt 200 ]; do
  ln -s "$T/victim" "$T/.out.ckpt.tmp.$((next + i))"
  i=$((i + 1))
done
run 0 "$P" init --model linear --data digits --out "$T/out.ckpt"
[ -f "$T/out.ckpt" ] && [ ! -L "$T/out.ckpt" ] || fail "output is not a regular file"
check_victim planted temporary names
run 0 "$P" check --ckpt "$T/out.ckpt"
left=$(ls -A "$T" | grep -c '^\.out\.ckpt\.tmp\.[0-9a-f]\{16\}$')
[ "$left" = 0 ] || fail "temporary files left: $left"

# 5. Overwriting an existing regular file is allowed (atomic replacement).
run 0 "$P" init --model linear --data digits --seed 1 --out "$T/out.ckpt"
[ -f "$T/out.ckpt" ] || fail "regular file not replaced"

echo "safe output: ok"
