#!/bin/sh
# test_schemas.sh: the JSON schema in docs/formats.md (extracted from the
# page, so the page is what is tested) against real outputs of pothole
# train (sgd, llqr-sam), spectrum (top, both ends with density, trace and
# dense reference, preconditioned) and sharpness (a network, a toy with a
# preconditioner), validated by tests/common/json_schema_lite.py. The
# validator itself must reject broken documents (a missing key, a wrong
# type, a value outside an enum, a NaN written as a string). With
# PH_SCHEMA_DEMO=1 (the slow test cli-schemas-demo) it also runs
# `pothole demo --quick` and validates its summary.json.
set -u
P=${PH_POTHOLE:?PH_POTHOLE not set}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/ph_cli_schema.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "${PH_SOURCE_ROOT:?}/tests/common/cli_lib.sh"
[ -x "$PY" ] || { echo "no /usr/bin/python3: skip"; exit 77; }

if [ "${PH_SCHEMA_DEMO:-0}" = 1 ]; then
  expect 0 "$P" demo --quick --out "$T/demo"
  set -- "$T/demo/summary.json:summary"
  for f in $(find "$T/demo" -name run.json); do set -- "$@" "$f:run"; done
  for f in $(find "$T/demo" -name spectrum.json); do set -- "$@" "$f:spectrum"; done
  for f in $(find "$T/demo" -name sharpness.json); do set -- "$@" "$f:sharpness"; done
else
  expect 0 "$P" train --model mlp:12:tanh --data digits --opt sgd --steps 20 --out "$T/r1"
  expect 0 "$P" train --model mlp:8:tanh --data digits --opt llqr-sam --steps 4 --out "$T/r2"
  expect 0 "$P" spectrum --ckpt "$T/r1/ckpt/final.ckpt" --n 64 --k 2 --out "$T/s1"
  expect 0 "$P" spectrum --ckpt "$T/r1/ckpt/final.ckpt" --n 64 --k 2 --which both \
    --density --probes 2 --steps 15 --trace --trace-probes 4 --dense --out "$T/s2"
  expect 0 "$P" spectrum --ckpt "$T/r2/ckpt/final.ckpt" --n 64 --k 2 \
    --operator precond --precond "$T/r2" --out "$T/s3"
  expect 0 "$P" sharpness --ckpt "$T/r1/ckpt/final.ckpt" --n 64 --k 2 --out "$T/h1"
  expect 0 "$P" sharpness --landscape pothole2d:a=0.2,b=0.2,cx=2.5 --at pit \
    --precond basin --out "$T/h2"
  set -- "$T/r1/run.json:run" "$T/r2/run.json:run" "$T/s1/spectrum.json:spectrum" \
    "$T/s2/spectrum.json:spectrum" "$T/s3/spectrum.json:spectrum" \
    "$T/h1/sharpness.json:sharpness" "$T/h2/sharpness.json:sharpness"
fi

"$PY" - "$PH_SOURCE_ROOT" "$@" <<'PYEOF' || fail "schema validation"
import copy, json, sys
src = sys.argv[1]
sys.path.insert(0, src + "/tests/common")
from json_schema_lite import validate
page = open(src + "/docs/formats.md").read()
a = page.index("<!-- begin schema -->"); b = page.index("<!-- end schema -->")
block = page[a:b]
schema = json.loads(block[block.index("```json") + 7:block.rindex("```")])
defs = schema["$defs"]

def check(doc, kind):
    return validate(doc, {"$ref": "#/$defs/" + kind}, schema)

def undocumented(doc, s, path, out):
    """Keys present in doc that the schema does not name (reported only)."""
    while "$ref" in s:
        s = defs[s["$ref"].split("/")[-1]]
    if isinstance(doc, dict) and "properties" in s:
        for k, v in doc.items():
            if k in s["properties"]:
                undocumented(v, s["properties"][k], path + "." + k, out)
            elif "additionalProperties" not in s:
                out.add(path + "." + k)
    if isinstance(doc, dict) and isinstance(s.get("additionalProperties"), dict):
        for k, v in doc.items():
            undocumented(v, s["additionalProperties"], path + "." + k, out)
    if isinstance(doc, list) and "items" in s:
        for v in doc[:1]:
            undocumented(v, s["items"], path + "[]", out)

bad = 0
docs = {}
for arg in sys.argv[2:]:
    path, kind = arg.rsplit(":", 1)
    doc = json.load(open(path))
    docs.setdefault(kind, doc)
    errs = check(doc, kind)
    for e in errs[:10]:
        print("%s (%s): %s" % (path, kind, e))
    bad |= bool(errs)
    extra = set()
    undocumented(doc, {"$ref": "#/$defs/" + kind}, kind, extra)
    if extra:
        print("note: %s: keys the schema does not describe: %s" % (path, ", ".join(sorted(extra))))
print("validated %d documents" % (len(sys.argv) - 2))
if bad:
    sys.exit(1)

# The validator must reject broken versions of the real documents.
def must_fail(kind, mutate, what):
    doc = copy.deepcopy(docs[kind])
    mutate(doc)
    if not check(doc, kind):
        sys.exit("the schema accepted %s (%s)" % (kind, what))
for kind in docs:
    must_fail(kind, lambda d: d.pop("version"), "no version")
    must_fail(kind, lambda d: d.update(tool="other"), "tool is not pothole")
if "run" in docs:
    must_fail("run", lambda d: d["config"].update(optimizer="adam"), "unknown optimizer")
    must_fail("run", lambda d: d["final"].update(train_acc=1.5), "accuracy above 1")
    must_fail("run", lambda d: d.update(n_params="1210"), "a number as a string")
if "spectrum" in docs:
    must_fail("spectrum", lambda d: d.update(eigenvalues=["NaN"]), "NaN as a string")
    must_fail("spectrum", lambda d: d.update(converged=[1]), "an integer for a boolean")
    must_fail("spectrum", lambda d: d["config"].update(which="middle"), "unknown which")
if "sharpness" in docs:
    must_fail("sharpness", lambda d: d["sam_sharpness"].pop("euclidean"), "no euclidean")
if "summary" in docs:
    must_fail("summary", lambda d: d["commands"][0].update(failed="no"), "failed not boolean")
    must_fail("summary", lambda d: d["results"]["training"].update(x={"tool": "pothole"}),
              "a training entry that is not a run")
try:
    validate(1, {"type": "number", "multipleOf": 2}, {})
    sys.exit("the validator ignored an unsupported keyword")
except ValueError:
    pass
PYEOF
echo ok
