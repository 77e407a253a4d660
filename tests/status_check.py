#!/usr/bin/env python3
"""Checks for flannel-status's output (tests/status.bats, tests/units-run.bats).

  status_check.py schema SCHEMA   < json   validate against a JSON Schema
  status_check.py metrics         < text   check Prometheus' text format,
                                           print the samples as JSON

schema: our own validator of the keywords docs/flannel-status.schema.json
uses (so that the check never depends on a package), and the jsonschema
package as well when it is installed.  metrics: the rules of the text
exposition format 0.0.4 as Prometheus documents them, plus ours (names
prefixed flannel_, counters end in _total, HELP and TYPE for every family).
Exit 1 with every violation on stderr.
"""
import json
import math
import re
import sys

TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}


def is_type(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])


def resolve(root, ref):
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def validate(root, s, v, path, errs):
    """The subset of JSON Schema 2020-12 the schema uses; errors appended."""
    if "$ref" in s:
        validate(root, resolve(root, s["$ref"]), v, path, errs)
    if "anyOf" in s:
        if not any(not check(root, sub, v) for sub in s["anyOf"]):
            errs.append(f"{path}: matches none of anyOf")
    if "const" in s and v != s["const"]:
        errs.append(f"{path}: {v!r} is not {s['const']!r}")
    if "enum" in s and v not in s["enum"]:
        errs.append(f"{path}: {v!r} is not one of {s['enum']}")
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(is_type(v, t) for t in ts):
            errs.append(f"{path}: {v!r} is not of type {ts}")
            return
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append(f"{path}: {v!r} does not match {s['pattern']}")
        if len(v) < s.get("minLength", 0):
            errs.append(f"{path}: shorter than {s['minLength']}")
    if is_type(v, "number") and "minimum" in s and v < s["minimum"]:
        errs.append(f"{path}: {v} < {s['minimum']}")
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                errs.append(f"{path}: {k} is required")
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        for k, x in v.items():
            if k in props:
                validate(root, props[k], x, f"{path}.{k}", errs)
            elif extra is False:
                errs.append(f"{path}: {k} is not allowed")
            elif isinstance(extra, dict):
                validate(root, extra, x, f"{path}.{k}", errs)
    if isinstance(v, list) and "items" in s:
        for i, x in enumerate(v):
            validate(root, s["items"], x, f"{path}[{i}]", errs)


def check(root, s, v):
    errs = []
    validate(root, s, v, "$", errs)
    return errs


def cmd_schema(schema_path):
    schema = json.load(open(schema_path))
    text = sys.stdin.read()
    lines = [ln for ln in text.split("\n") if ln]
    if len(lines) != 1:
        print(f"expected one line of JSON, got {len(lines)}", file=sys.stderr)
        return 1
    doc = json.loads(lines[0])
    errs = check(schema, schema, doc)
    try:
        import jsonschema  # noqa: F401 (optional)
        v = jsonschema.Draft202012Validator(schema)
        errs += [f"jsonschema: {e.json_path}: {e.message}" for e in v.iter_errors(doc)]
    except ImportError:
        pass
    if doc.get("ok") != (len(doc.get("problems", [])) == 0):
        errs.append("ok is not the same as an empty problems")
    for e in errs:
        print(e, file=sys.stderr)
    return 1 if errs else 0


NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)(?: (-?[0-9]+))?$")


def unescape(s):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), s)


def cmd_metrics():
    errs, fams, out, done = [], {}, {}, set()
    current = None
    for n, line in enumerate(sys.stdin.read().split("\n"), 1):
        if line == "":
            continue
        m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.*)$", line)
        if m:
            kind, name, rest = m.groups()
            if name in done:
                errs.append(f"line {n}: family {name} again after its samples")
            f = fams.setdefault(name, {})
            if kind in f:
                errs.append(f"line {n}: second {kind} for {name}")
            if kind == "TYPE" and rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                errs.append(f"line {n}: unknown type {rest}")
            f[kind] = rest
            if current and current != name:
                done.add(current)
            current = name
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            errs.append(f"line {n}: not a sample: {line!r}")
            continue
        name, labels, value = m.group(1), m.group(2), m.group(7)
        if name != current:
            errs.append(f"line {n}: sample of {name} outside its family's HELP/TYPE block")
        try:
            val = float(value)
        except ValueError:
            errs.append(f"line {n}: value {value!r} is not a number")
            continue
        lab = {k: unescape(v) for k, v in re.findall(LABEL, labels or "")}
        if len(lab) != len(re.findall(LABEL, labels or "")):
            errs.append(f"line {n}: a label given twice")
        out.setdefault(name, []).append({"labels": lab, "value": val})
    for name, f in fams.items():
        if "HELP" not in f or "TYPE" not in f:
            errs.append(f"{name}: HELP and TYPE are both required")
        if not name.startswith("flannel_"):
            errs.append(f"{name}: not prefixed flannel_")
        if f.get("TYPE") == "counter" and not name.endswith("_total"):
            errs.append(f"{name}: a counter's name ends in _total")
        if f.get("TYPE") == "counter":
            for s in out.get(name, []):
                if s["value"] < 0 or math.isnan(s["value"]):
                    errs.append(f"{name}: counter value {s['value']} is negative")
    for name in out:
        if name not in fams:
            errs.append(f"{name}: samples without HELP and TYPE")
        seen = set()
        for s in out[name]:
            key = tuple(sorted(s["labels"].items()))
            if key in seen:
                errs.append(f"{name}: two samples with labels {dict(key)}")
            seen.add(key)
    for e in errs:
        print(e, file=sys.stderr)
    print(json.dumps(out, sort_keys=True))
    return 1 if errs else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "schema":
        return cmd_schema(sys.argv[2])
    if len(sys.argv) == 2 and sys.argv[1] == "metrics":
        return cmd_metrics()
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())
