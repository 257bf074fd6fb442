# ph_cli_test.sh: the prologue of the shell CLI tests, sourced as
#   NAME=study; . "$(dirname "$0")/../common/ph_cli_test.sh"
# P is the pothole under test, T a temporary directory removed on exit;
# fail MSG exits 1; expect CODE CMD... runs CMD with its output in
# $T/stdout and $T/stderr and fails unless it exits with CODE.
set -u
P=${PH_POTHOLE:?PH_POTHOLE not set}
T=$(mktemp -d "/tmp/ph_cli_${NAME:-test}.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {
  want=$1; shift
  "$@" >"$T/stdout" 2>"$T/stderr"; got=$?
  [ "$got" = "$want" ] || fail "exit $got (wanted $want): $* : $(cat "$T/stderr")"
}
