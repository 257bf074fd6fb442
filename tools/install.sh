#!/usr/bin/env bash
# install.sh: `meson install` with a one-line failure for an unwritable
# destination (meson itself answers with a Python traceback).
#
#   tools/install.sh [-C BUILD_DIR] [--destdir DIR] [other meson install options]
#
# Checks, before anything is copied, that DESTDIR + prefix can be written
# (the directory itself or its nearest existing parent), then runs
# `meson install`. On an unwritable destination it prints
#   pothole install: PREFIX: not writable (REASON)
# and exits 1, having written nothing.
set -uo pipefail
build=build
destdir=${DESTDIR:-}
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -C) build=$2; args+=("$1" "$2"); shift ;;
    --destdir) destdir=$2; args+=("$1" "$2"); shift ;;
    --destdir=*) destdir=${1#--destdir=}; args+=("$1") ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
[[ " ${args[*]-} " == *" -C "* ]] || args=(-C "$build" "${args[@]}")
prefix=$(meson introspect "$build" --buildoptions 2>/dev/null |
  /usr/bin/python3 -c 'import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))') || {
  echo "pothole install: $build: not a configured meson build directory" >&2; exit 1; }
target=$destdir$prefix
dir=$target
while [ ! -e "$dir" ]; do dir=$(dirname "$dir"); done
# Probe with a real file: -w says yes for root on a read-only file system.
probe=$(mktemp "$dir/.pothole-install.XXXXXX" 2>&1) || {
  reason=${probe##*: }
  echo "pothole install: $target: not writable (${reason:-permission denied} at $dir)" >&2
  exit 1
}
rm -f "$probe"
exec meson install "${args[@]}"
