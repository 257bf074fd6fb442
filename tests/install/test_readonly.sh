#!/bin/sh
# test_readonly.sh: writes to a read-only prefix fail with one line, exit 1,
# and leave nothing: tools/install.sh (meson install behind a check of the
# destination) and pothole's own writers (import, export, slice --format h5
# and vtk). The read-only directory is a read-only bind mount in a private
# mount namespace (unshare -m), which stops root too; exit 77 where the
# namespace or the mount is not permitted.
set -u
P=${PH_POTHOLE:?PH_POTHOLE not set}
T=$(mktemp -d /tmp/ph_readonly.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "${PH_SOURCE_ROOT:?}/tests/common/cli_lib.sh"
mkdir "$T/ro" "$T/ok"
command -v unshare >/dev/null || { echo "no unshare: skip"; exit 77; }
unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
  ! touch "$1/probe" 2>/dev/null' _ "$T/ro" 2>/dev/null ||
  { echo "read-only bind mounts not permitted here: skip"; exit 77; }

expect 0 "$P" init --model mlp:8:tanh --data digits --out "$T/ok/m.ckpt"
expect 0 "$P" export --ckpt "$T/ok/m.ckpt" --out "$T/ok/exp"

# Each command runs in the namespace where $T/ro is read-only.
ro() { # ro CODE PATTERN cmd...: exit CODE, one line matching PATTERN
  want=$1 pat=$2; shift 2
  unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
    shift && exec "$@"' _ "$T/ro" "$@" >"$T/stdout" 2>"$T/stderr"
  got=$?
  [ "$got" = "$want" ] || fail "exit $got (wanted $want): $* : $(cat "$T/stderr")"
  one_line
  grep -q -- "$pat" "$T/stderr" || fail "'$(cat "$T/stderr")' lacks '$pat'"
  [ -z "$(ls -A "$T/ro")" ] || fail "$*: left $(ls -A "$T/ro")"
}
ro 1 "pothole install: $T/ro/root/usr.*: not writable (Read-only file system" \
  "$PH_SOURCE_ROOT/tools/install.sh" -C "$PH_BUILD_ROOT" --no-rebuild --destdir "$T/ro/root"
ro 1 "pothole import: $T/ro/m.ckpt" "$P" import "$T/ok/exp" --out "$T/ro/m.ckpt"
ro 1 "pothole export: $T/ro/e" "$P" export --ckpt "$T/ok/m.ckpt" --out "$T/ro/e"
ro 1 "pothole slice: $T/ro/s" "$P" slice --ckpt "$T/ok/m.ckpt" --grid 3x3 --n 50 \
  --format all --out "$T/ro/s"
echo ok
