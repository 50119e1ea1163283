#!/usr/bin/env python3
"""metrics_promparse: a strict parser of the Prometheus text exposition format 0.0.4.

Used by the metrics and HA tests to check what commissaire-controller and commissaire-shim serve
on /metrics, and to read values out of it. Stricter than Prometheus itself where being lenient
would hide a bug in our renderers:

  * every line is a comment (# HELP / # TYPE / other), a sample, or empty (only at the end);
  * metric and label names match the spec's grammar; label values are double-quoted with only
    the escapes \\\\ \\" \\n; no duplicate label names; values are Go-style floats (incl. +Inf,
    -Inf, NaN); an optional integer timestamp;
  * at most one HELP and one TYPE per family, both before its first sample; a family's samples
    are contiguous (all of a family together, as the format requires);
  * no duplicate series (name + label set);
  * counters: name ends in _total, value >= 0 and finite;
  * histograms: only _bucket/_sum/_count samples; per label set, buckets have an `le` label,
    strictly increasing bounds, non-decreasing cumulative counts, a +Inf bucket equal to _count,
    and a _sum;
  * every sample belongs to a family with a TYPE (our binaries declare all of theirs);
  * the body ends with a newline.

Usage:
  metrics_promparse.py FILE            validate; print "# TYPE name type" per family, then one
                                       normalised line per series: name{k="v",...} value
                                       (labels sorted)
  metrics_promparse.py --get SERIES FILE   validate; print the value of SERIES (as printed above,
                                       e.g. 'x_total{kind="Host"}'), or 0 when absent
  metrics_promparse.py --families FILE     validate; print "name type" per family
Exit status 0 when valid; 1 with "FILE:LINE: message" on stderr otherwise.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
NAME_RE = re.compile(NAME + r"\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|inf)\Z")


class ParseError(Exception):
    pass


def parse_value(s, lineno):
    if s in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(s.replace("Inf", "inf"))
    if not FLOAT_RE.match(s):
        raise ParseError(f"{lineno}: bad sample value {s!r}")
    return float(s)


def parse_labels(s, i, lineno):
    """s[i] is '{'. Returns (dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = re.compile(LABEL).match(s, i)
        if not m:
            raise ParseError(f"{lineno}: bad label name at {s[i:i + 20]!r}")
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ParseError(f"{lineno}: expected =\" after label {name}")
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise ParseError(f"{lineno}: unterminated label value of {name}")
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    raise ParseError(f"{lineno}: bad escape in label value of {name}")
                val.append({"\\": "\\", '"': '"', "n": "\n"}[s[i + 1]])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ParseError(f"{lineno}: newline in label value")
            else:
                val.append(c)
                i += 1
        if name in labels:
            raise ParseError(f"{lineno}: duplicate label {name}")
        labels[name] = "".join(val)
        if i < len(s) and s[i] == ",":
            i += 1
            continue
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        raise ParseError(f"{lineno}: expected , or }} in label set at {s[i:i + 20]!r}")


def family_of(name, types):
    """The family a sample name belongs to (histogram/summary suffixes stripped)."""
    if name in types:
        return name
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) in ("histogram", "summary"):
            return name[: -len(suf)]
    return name


def esc(v):
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_key(name, labels):
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{esc(labels[k])}"' for k in sorted(labels)) + "}"


def parse(text):
    """Returns (families: {name: type}, series: {key: value}) or raises ParseError."""
    if text and not text.endswith("\n"):
        raise ParseError("0: body does not end with a newline")
    types, helps, seen_sample_family = {}, {}, set()
    series = {}
    current = None  # family of the previous sample
    closed = set()  # families whose block of samples has ended
    hist = {}  # (family, labels-without-le) -> {"buckets": [(le, v)], "sum": v, "count": v}
    lines = text.split("\n")[:-1] if text else []
    for n, line in enumerate(lines, 1):
        if line == "":
            raise ParseError(f"{n}: empty line")
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME_RE.match(fam):
                    raise ParseError(f"{n}: bad metric name {fam!r} in {parts[1]}")
                if fam in seen_sample_family:
                    raise ParseError(f"{n}: {parts[1]} for {fam} after its samples")
                if parts[1] == "HELP":
                    if fam in helps:
                        raise ParseError(f"{n}: second HELP for {fam}")
                    helps[fam] = parts[3] if len(parts) > 3 else ""
                    if re.search(r"\\[^\\n]", helps[fam]):
                        raise ParseError(f"{n}: bad escape in HELP of {fam}")
                else:
                    if fam in types:
                        raise ParseError(f"{n}: second TYPE for {fam}")
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ParseError(f"{n}: bad TYPE line {line!r}")
                    types[fam] = parts[3]
            elif not line.startswith("# ") and line != "#":
                raise ParseError(f"{n}: comment without a space after #")
            continue
        m = re.compile(NAME).match(line)
        if not m:
            raise ParseError(f"{n}: bad metric name in {line!r}")
        name = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = parse_labels(line, i, n)
        rest = line[i:]
        if not rest.startswith(" "):
            raise ParseError(f"{n}: expected a space before the value in {line!r}")
        fields = rest[1:].split(" ")
        if len(fields) not in (1, 2) or fields[0] == "":
            raise ParseError(f"{n}: expected 'value [timestamp]' in {line!r}")
        value = parse_value(fields[0], n)
        if len(fields) == 2 and not re.match(r"-?\d+\Z", fields[1]):
            raise ParseError(f"{n}: bad timestamp {fields[1]!r}")
        fam = family_of(name, types)
        if fam not in types:
            raise ParseError(f"{n}: sample {name} has no # TYPE")
        if fam != current:
            if fam in closed:
                raise ParseError(f"{n}: samples of {fam} are not contiguous")
            if current is not None:
                closed.add(current)
            current = fam
        seen_sample_family.add(fam)
        key = series_key(name, labels)
        if key in series:
            raise ParseError(f"{n}: duplicate series {key}")
        series[key] = value
        t = types[fam]
        if t == "counter":
            if not name.endswith("_total"):
                raise ParseError(f"{n}: counter {name} does not end in _total")
            if value < 0 or math.isnan(value) or math.isinf(value):
                raise ParseError(f"{n}: counter {key} has value {value}")
        elif t == "histogram":
            if name == fam:
                raise ParseError(f"{n}: histogram {fam} has a bare sample")
            base = dict(labels)
            le = base.pop("le", None)
            hk = (fam, series_key("", base))
            h = hist.setdefault(hk, {"buckets": [], "sum": None, "count": None, "line": n})
            if name.endswith("_bucket"):
                if le is None:
                    raise ParseError(f"{n}: bucket without le: {key}")
                h["buckets"].append((parse_value(le, n), value))
            elif le is not None:
                raise ParseError(f"{n}: le label outside a bucket: {key}")
            elif name.endswith("_sum"):
                h["sum"] = value
            else:
                if math.isnan(value) or math.isinf(value) or value < 0 or value != int(value):
                    raise ParseError(f"{n}: histogram count {key} is {value}")
                h["count"] = value
        elif t in ("gauge", "untyped") and name != fam:
            raise ParseError(f"{n}: {t} {fam} has a sample named {name}")
    for (fam, lbl), h in hist.items():
        where = f"{h['line']}: histogram {fam}{lbl}"
        b = h["buckets"]
        if not b:
            raise ParseError(f"{where} has no buckets")
        for (le1, c1), (le2, c2) in zip(b, b[1:]):
            if not le2 > le1:
                raise ParseError(f"{where}: bucket bounds not increasing ({le1}, {le2})")
            if c2 < c1:
                raise ParseError(f"{where}: cumulative counts decrease ({c1} then {c2})")
        if not math.isinf(b[-1][0]):
            raise ParseError(f"{where} has no +Inf bucket")
        if h["count"] is None or h["sum"] is None:
            raise ParseError(f"{where} lacks _count or _sum")
        if b[-1][1] != h["count"]:
            raise ParseError(f"{where}: +Inf bucket {b[-1][1]} != count {h['count']}")
    return types, series


def fmt(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def main(argv):
    mode, want = "all", None
    args = argv[1:]
    if args and args[0] == "--get":
        mode, want, args = "get", args[1], args[2:]
    elif args and args[0] == "--families":
        mode, args = "families", args[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = args[0]
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        types, series = parse(text)
    except (ParseError, UnicodeDecodeError) as e:
        print(f"{path}:{e}", file=sys.stderr)
        return 1
    if mode == "get":
        print(fmt(series.get(want, 0.0)))
    elif mode == "families":
        for k in sorted(types):
            print(k, types[k])
    else:
        for k in sorted(types):
            print("# TYPE", k, types[k])
        for k in sorted(series):
            print(k, fmt(series[k]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
