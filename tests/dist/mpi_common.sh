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
