# lib.sh: shared by the reliability shell tests (sourced). Provides
#   P         the pothole program;  T  a scratch directory removed at exit
#             (a test may define on_exit() for more cleanup);
#   fail MSG  print and exit 1;
#   run CODE cmd...            run, demand exit CODE and, when CODE != 0, a
#                              one-line error (stdout/stderr in $T);
#   expect CODE PATTERN cmd... run, and stderr must contain PATTERN.
P=${PH_POTHOLE:?PH_POTHOLE not set}
T=$(mktemp -d /tmp/ph_reliability.XXXXXX)
on_exit() { :; }
trap 'on_exit; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
one_line() { [ "$(wc -l <"$T/stderr")" -le 1 ] || fail "error is not one line: $(cat "$T/stderr")"; }
run() {
  want=$1; shift
  "$@" >"$T/stdout" 2>"$T/stderr"; got=$?
  [ "$got" = "$want" ] || fail "exit $got (wanted $want): $* : $(cat "$T/stderr")"
  [ "$want" = 0 ] || [ "$(wc -l <"$T/stderr")" = 1 ] || fail "not one line: $*: $(cat "$T/stderr")"
}
expect() {
  want=$1; pat=$2; shift 2
  run "$want" "$@"
  [ -z "$pat" ] || grep -q -- "$pat" "$T/stderr" || fail "no '$pat' in: $(cat "$T/stderr")"
}
