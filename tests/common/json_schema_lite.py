#!/usr/bin/python3
"""json_schema_lite.py: a validator for the subset of JSON Schema (draft
2020-12) that docs/formats.md uses, stdlib only (python3-jsonschema is not
installed by default).

Keywords: type (a name or a list; "integer" is a number with no fraction,
booleans are not numbers), const, enum, pattern (re.fullmatch), minimum,
maximum, required, properties, additionalProperties (false or a schema),
items, minItems, maxItems, anyOf, $ref ("#/$defs/NAME"), description,
$schema, $id, $defs, title (ignored). Any other keyword is an error, so a
schema cannot silently use something this validator does not check.

    json_schema_lite.py SCHEMA.json DOC.json...   exit 0 valid, 1 invalid
"""
import json
import math
import re
import sys

KNOWN = {"type", "const", "enum", "pattern", "minimum", "maximum", "required",
         "properties", "additionalProperties", "items", "minItems", "maxItems",
         "anyOf", "$ref", "description", "$schema", "$id", "$defs", "title"}


def _type_ok(v, t):
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if t == "integer":
        return _type_ok(v, "number") and float(v).is_integer()
    if t == "string":
        return isinstance(v, str)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    raise ValueError("unknown type %r" % t)


def validate(v, s, root, path="$"):
    """Errors (a list of 'path: problem' strings) of v against schema s."""
    unknown = set(s) - KNOWN
    if unknown:
        raise ValueError("schema at %s uses unsupported keywords %s" % (path, sorted(unknown)))
    if "$ref" in s:
        ref = s["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError("unsupported $ref %r" % ref)
        return validate(v, root["$defs"][ref[len("#/$defs/"):]], root, path)
    errs = []
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_type_ok(v, t) for t in ts):
            return ["%s: %s is not of type %s" % (path, json.dumps(v)[:60], "|".join(ts))]
    if "const" in s and v != s["const"]:
        errs.append("%s: %r is not %r" % (path, v, s["const"]))
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r is not one of %s" % (path, v, s["enum"]))
    if "pattern" in s and isinstance(v, str) and not re.fullmatch(s["pattern"], v):
        errs.append("%s: %r does not match %s" % (path, v, s["pattern"]))
    if _type_ok(v, "number"):
        if "minimum" in s and v < s["minimum"]:
            errs.append("%s: %r < minimum %r" % (path, v, s["minimum"]))
        if "maximum" in s and v > s["maximum"]:
            errs.append("%s: %r > maximum %r" % (path, v, s["maximum"]))
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                errs.append("%s: missing required %r" % (path, k))
        props = s.get("properties", {})
        for k, x in v.items():
            if k in props:
                errs += validate(x, props[k], root, "%s.%s" % (path, k))
            elif s.get("additionalProperties") is False:
                errs.append("%s: unexpected key %r" % (path, k))
            elif isinstance(s.get("additionalProperties"), dict):
                errs += validate(x, s["additionalProperties"], root, "%s.%s" % (path, k))
    if isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append("%s: %d items < %d" % (path, len(v), s["minItems"]))
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append("%s: %d items > %d" % (path, len(v), s["maxItems"]))
        if "items" in s:
            for i, x in enumerate(v):
                errs += validate(x, s["items"], root, "%s[%d]" % (path, i))
    if "anyOf" in s:
        if not any(not validate(v, alt, root, path) for alt in s["anyOf"]):
            errs.append("%s: matches none of anyOf" % path)
    return errs


def main():
    schema = json.load(open(sys.argv[1]))
    bad = 0
    for doc in sys.argv[2:]:
        errs = validate(json.load(open(doc)), schema, schema)
        for e in errs:
            print("%s: %s" % (doc, e))
        bad |= bool(errs)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
