#!/usr/bin/env bash
# test_install.sh: `meson install` into a temporary DESTDIR, then check what
# landed: the program, one generated man page per command (and subcommand)
# that prints one, the bash completion, the docs, the headers, libpothole
# (static and shared) and pothole.pc. Then compile the program shown in
# docs/library.md (extracted from the page, so the page shows what is
# tested) against the installed copy with pkg-config, shared and static,
# and run it: it checks the top-3 eigenvalues of its own operator against
# their closed form.
set -euo pipefail
: "${PH_BUILD_ROOT:?}" "${PH_SOURCE_ROOT:?}" "${PH_POTHOLE:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v pkg-config >/dev/null || { echo "no pkg-config: skip"; exit 77; }
cc=${CC:-cc}
command -v "$cc" >/dev/null || { echo "no C compiler: skip"; exit 77; }

root=$tmp/root
meson install -C "$PH_BUILD_ROOT" --no-rebuild --destdir "$root" --quiet \
  >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "meson install"; }

bin=$(find "$root" -path '*/bin/pothole' -type f)
[ -x "$bin" ] || fail "no bin/pothole"
"$bin" --version | grep -q '^pothole ' || fail "installed pothole --version"

# Man pages: pothole(1), one page per command, one per subcommand (the
# pages pothole(1) names), each identical to what the program prints now
# and rendering without warnings; no page for anything else.
man1=$(dirname "$(find "$root" -name pothole.1)")
[ -d "$man1" ] || fail "no man1/pothole.1"
cmds=$("$PH_POTHOLE" --help | sed -n '/^commands:/,/^$/p' | awk 'NF>1 {print $1}')
[ -n "$cmds" ] || fail "pothole --help lists no commands"
: >"$tmp/expected"
for c in $cmds; do
  echo "pothole-$c" >>"$tmp/expected"
  (grep -o "pothole\\\\-$c\\\\-[a-z0-9]*" "$man1/pothole.1" || true) |
    sed 's/\\//g' >>"$tmp/expected"
done
sort -u "$tmp/expected" -o "$tmp/expected"
cp "$tmp/expected" "$tmp/expected.all"
n_pages=0
while read -r p; do
  args=$(echo "${p#pothole-}" | tr '-' ' ')
  # shellcheck disable=SC2086
  if ! "$PH_POTHOLE" $args --help-man >"$tmp/page" 2>/dev/null; then
    # a command not yet on the option table prints no page, and has none
    [ ! -f "$man1/$p.1" ] || fail "$p.1 installed but 'pothole $args --help-man' fails"
    echo "note: 'pothole $args' prints no man page yet"
    sed -i "/^$p\$/d" "$tmp/expected"
    continue
  fi
  [ -f "$man1/$p.1" ] || fail "no installed man page $p.1"
  cmp -s "$tmp/page" "$man1/$p.1" || fail "$p.1 differs from 'pothole $args --help-man'"
  n_pages=$((n_pages + 1))
done <"$tmp/expected.all"
ls "$man1" | sed -n 's/\.1$//p' | grep -v '^pothole$' | sort >"$tmp/installed"
cmp -s "$tmp/expected" "$tmp/installed" ||
  fail "installed pages differ from the commands: $(diff "$tmp/expected" "$tmp/installed" | tr '\n' ' ')"
grep -q "pothole-plot-contour" "$tmp/expected" || fail "no subcommand pages"
if command -v man >/dev/null; then
  for f in "$man1"/pothole*.1; do
    w=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null || true)
    [ -z "$w" ] || fail "$(basename "$f"): $w"
  done
fi
echo "man pages: $n_pages command pages + pothole(1)"

# Bash completion: installed, valid bash, completes commands and choices.
comp=$(find "$root" -path '*/bash-completion/completions/pothole')
[ -f "$comp" ] || fail "no bash completion"
bash -n "$comp" || fail "completion is not valid bash"
got=$(bash -c 'source "$1"; COMP_WORDS=(pothole tr); COMP_CWORD=1; _pothole; echo "${COMPREPLY[*]}"' _ "$comp")
[ "$got" = "train" ] || fail "completion of 'pothole tr' gave '$got'"
got=$(bash -c 'source "$1"; COMP_WORDS=(pothole train --opt llqr); COMP_CWORD=3; _pothole; echo "${COMPREPLY[*]}"' _ "$comp")
[ "$got" = "llqr llqr-sam" ] || fail "completion of '--opt llqr' gave '$got'"

# Docs and headers.
doc=$(find "$root" -path '*/share/doc/pothole' -type d)
[ -f "$doc/README.md" ] && [ -f "$doc/docs/library.md" ] || fail "docs not installed"
inc=$(find "$root" -path '*/include/pothole' -type d)
for h in core/error.h core/version.h linalg/lanczos.h linalg/linop.h landscape/slice.h; do
  [ -f "$inc/$h" ] || fail "header $h not installed"
done

# The library and its pkg-config file.
pc=$(find "$root" -name pothole.pc)
[ -f "$pc" ] || fail "no pothole.pc"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/libpothole.a" ] || fail "no libpothole.a"
[ -e "$libdir/libpothole.so" ] || fail "no libpothole.so"
# The installed pothole.pc names the configured prefix; point a copy at the
# DESTDIR tree (pkg-config's sysroot would also move the system packages').
prefix=$(sed -n 's/^prefix=//p' "$pc")
mkdir "$tmp/pc"
sed "s|^prefix=.*|prefix=$root$prefix|" "$pc" >"$tmp/pc/pothole.pc"
export PKG_CONFIG_PATH=$tmp/pc
awk '/<!-- begin top3.c -->/{on=1; next} /<!-- end top3.c -->/{on=0}
     on && !/^```/' "$PH_SOURCE_ROOT/docs/library.md" >"$tmp/top3.c"
[ "$(wc -l <"$tmp/top3.c")" -ge 20 ] || fail "no program in docs/library.md"
# A sanitized build installs a sanitized library: its consumer needs the
# same runtime linked first.
san=()
case "${PH_SANITIZE:-none}" in none | "") ;; *) san=("-fsanitize=$PH_SANITIZE") ;; esac
# shellcheck disable=SC2046
"$cc" "${san[@]}" -Wall -Wextra -Werror "$tmp/top3.c" -o "$tmp/top3" \
  $(pkg-config --cflags --libs pothole) -lm || fail "compile against the shared library"
ldd "$tmp/top3" | grep "$libdir/libpothole.so" >/dev/null ||
  LD_LIBRARY_PATH=$libdir ldd "$tmp/top3" | grep "$libdir/libpothole.so" >/dev/null ||
  fail "top3 does not use the installed libpothole.so"
LD_LIBRARY_PATH=$libdir "$tmp/top3" || fail "top3 (shared) failed"
# static: libpothole.a, the private dependencies from pothole.pc
# shellcheck disable=SC2046
"$cc" "${san[@]}" -Wall -Wextra -Werror "$tmp/top3.c" -o "$tmp/top3s" \
  $(pkg-config --cflags pothole) "$libdir/libpothole.a" \
  $(pkg-config --static --libs pothole | sed 's/-lpothole//') || fail "compile against the static library"
ldd "$tmp/top3s" | grep libpothole >/dev/null && fail "static top3 links libpothole.so"
"$tmp/top3s" || fail "top3 (static) failed"
echo "ok"
