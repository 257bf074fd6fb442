#!/usr/bin/env bash
# check_format.sh: every tracked C file is formatted by the repository's
# .clang-format (Debian 12's clang-format 14). Skips (77) when clang-format or
# git is absent; fails naming each file that differs.
set -u
root=${PH_SOURCE_ROOT:?}
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 77; }
command -v git >/dev/null && git -C "$root" rev-parse >/dev/null 2>&1 \
  || { echo "not a git checkout"; exit 77; }
bad=0
while IFS= read -r f; do
  [ -f "$root/$f" ] || continue
  if ! clang-format --style=file:"$root/.clang-format" "$root/$f" | cmp -s - "$root/$f"; then
    echo "not formatted: $f (run: clang-format -i $f)"
    bad=$((bad + 1))
  fi
done < <(git -C "$root" ls-files --cached --others --exclude-standard '*.c' '*.h')
echo "$bad file(s) not formatted"
[ "$bad" = 0 ]
