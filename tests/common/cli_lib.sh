# cli_lib.sh: shell helpers for CLI tests (sourced; needs T, a scratch dir).
#   fail MSG          print FAIL and exit 1
#   expect CODE CMD.. run CMD, stdout/stderr into $T/stdout, $T/stderr; fail
#                     unless it exits CODE
#   one_line          fail unless $T/stderr is exactly one line
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {
  want=$1; shift
  "$@" >"$T/stdout" 2>"$T/stderr"; got=$?
  [ "$got" = "$want" ] || fail "exit $got (wanted $want): $* : $(cat "$T/stderr")"
}
one_line() {
  [ "$(wc -l <"$T/stderr")" -eq 1 ] || fail "not one line: $(cat "$T/stderr")"
}
