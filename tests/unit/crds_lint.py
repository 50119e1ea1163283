#!/usr/bin/env python3
"""crds_lint.py: checks commissaire's CRDs against the rules a real Kubernetes API server applies
when it accepts a CustomResourceDefinition (apiextensions.k8s.io/v1), plus our own rules.

No API server runs here, so this reproduces the apiserver's CRD validation that matters for us
(structural schema, defaults, list-map keys, printer columns) and our contract (names, every field
described). It also validates objects against the schemas the way the apiserver does (types,
enum, pattern, bounds, required, anyOf/allOf/oneOf/not, int-or-string, defaulting first) so that
samples and deliberately bad objects can be checked without a server.

Usage:
  crds_lint.py CRD_DIR                      lint the CRDs
  crds_lint.py CRD_DIR --self-test          check that the lint catches known-bad CRDs
  crds_lint.py CRD_DIR --cases DIR [FILE...] DIR/good/*.yaml and FILEs valid, DIR/bad/*.yaml
                                            refused naming their "# expect:" text
  crds_lint.py CRD_DIR --validate FILE...   also validate every commissaire.io object in FILEs
                                            (after defaulting); non-zero exit if any is invalid
  crds_lint.py CRD_DIR --expect-invalid FILE 'substring'   the object in FILE must be rejected with
                                            an error containing substring
Depends only on PyYAML (Debian python3-yaml) and grep -E (POSIX ERE check of patterns).
"""
import copy
import functools
import glob
import os
import re
import subprocess
import sys

import yaml

GROUP = "commissaire.io"
VERSION = "v1alpha1"
# The shared contract (team BRIEF "Resource field names").
NAMES = {
    "Host": ("hosts", "host", "hst"),
    "Cluster": ("clusters", "cluster", "ccl"),
    "Operation": ("operations", "operation", "cop"),
    "Network": ("networks", "network", "cnet"),
    "ContainerManager": ("containermanagers", "containermanager", "ccm"),
}
JUNCTORS = ("anyOf", "allOf", "oneOf", "not")
# Keys the apiserver forbids inside logical junctors (they must be "value validations" only).
FORBIDDEN_IN_JUNCTOR = ("type", "default", "description", "additionalProperties", "nullable",
                        "title", "x-kubernetes-preserve-unknown-fields",
                        "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
                        "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
                        "x-kubernetes-map-type", "x-kubernetes-validations")
# Keys a v1 CRD schema node may carry (JSONSchemaProps); anything else is a typo the server rejects.
KNOWN_KEYS = set("""description type format title default maximum exclusiveMaximum minimum
exclusiveMinimum maxLength minLength pattern maxItems minItems uniqueItems multipleOf enum
maxProperties minProperties required items allOf oneOf anyOf not properties additionalProperties
nullable example externalDocs x-kubernetes-preserve-unknown-fields x-kubernetes-embedded-resource
x-kubernetes-int-or-string x-kubernetes-list-map-keys x-kubernetes-list-type
x-kubernetes-map-type x-kubernetes-validations""".split())
INT_OR_STRING_ANYOF = [{"type": "integer"}, {"type": "string"}]
# RFC 3339 as the apiserver's "date-time" format accepts it.
DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


# ---------------------------------------------------------------------------------------------
# CRD linting


@functools.lru_cache(maxsize=None)
def pattern_problems(pat):
    """Problems of one pattern (cached: the self-test lints the same patterns many times)."""
    try:
        re.compile(pat)
    except re.error as e:
        return (f"pattern does not compile: {e}",)
    out = []
    # RE2 (the apiserver) and POSIX ERE (kube-lite uses regcomp) must both accept it: no Perl
    # classes, no lookaround, no non-capturing groups.
    for bad in ("\\d", "\\w", "\\s", "(?", "\\b"):
        if bad in pat:
            out.append(f"pattern uses {bad!r}, not portable to POSIX ERE")
    r = subprocess.run(["grep", "-E", "-q", "--", pat], input="", text=True,
                       stderr=subprocess.PIPE)
    if r.returncode == 2:
        out.append(f"pattern is not a valid POSIX ERE: {r.stderr.strip()}")
    return tuple(out)


def check_pattern(where, pat):
    for p in pattern_problems(pat):
        err(where, p)


def lint_junctor(where, node, outer):
    """A node inside anyOf/allOf/oneOf/not: only value validations, and any properties/items it
    names must exist in the structural schema beside it (outer)."""
    if not isinstance(node, dict):
        err(where, "junctor entry is not an object")
        return
    for k in node:
        if k in FORBIDDEN_IN_JUNCTOR:
            err(where, f"{k!r} is not allowed inside a logical junctor (structural schema)")
        elif k not in KNOWN_KEYS:
            err(where, f"unknown schema key {k!r}")
    for name, sub in node.get("properties", {}).items():
        o = (outer or {}).get("properties", {}).get(name)
        if o is None:
            err(f"{where}.properties.{name}", "not specified in the structural schema beside it")
        lint_junctor(f"{where}.properties.{name}", sub, o)
    if "items" in node:
        lint_junctor(f"{where}.items", node["items"], (outer or {}).get("items"))
    for j in JUNCTORS:
        if j in node:
            subs = node[j] if j != "not" else [node[j]]
            for i, s in enumerate(subs):
                lint_junctor(f"{where}.{j}[{i}]", s, outer)
    if "pattern" in node:
        check_pattern(where, node["pattern"])


def lint_node(where, node, is_metadata=False, top=False):
    if not isinstance(node, dict):
        err(where, "schema node is not an object")
        return
    for k in node:
        if k not in KNOWN_KEYS:
            err(where, f"unknown schema key {k!r}")
    ios = node.get("x-kubernetes-int-or-string") is True
    t = node.get("type")
    if ios:
        if t:
            err(where, "type must be empty when x-kubernetes-int-or-string is true")
        if "anyOf" in node and node["anyOf"] != INT_OR_STRING_ANYOF:
            err(where, "int-or-string anyOf must be exactly [{type: integer}, {type: string}]")
    elif not t:
        err(where, "every schema level needs a type (structural schema)")
    if is_metadata:
        allowed = {"type"}
        extra = set(node) - allowed - {"properties"}
        if extra or set(node.get("properties", {})) - {"name", "generateName"}:
            err(where, "metadata may only restrict name and generateName")
        return
    if "description" not in node or not str(node["description"]).strip():
        err(where, "missing description (operators read them with kubectl explain)")
    if "properties" in node and "additionalProperties" in node:
        err(where, "properties and additionalProperties are mutually exclusive")
    if "properties" in node and t != "object":
        err(where, "properties on a non-object")
    if t == "array" and "items" not in node:
        err(where, "array without items")
    if "pattern" in node:
        check_pattern(where, node["pattern"])
    if "enum" in node:
        for v in node["enum"]:
            if t and not type_ok(v, t):
                err(where, f"enum value {v!r} is not of type {t}")
    for r in node.get("required", []):
        if r not in node.get("properties", {}):
            err(where, f"required field {r!r} is not a declared property")
    if node.get("x-kubernetes-list-type") == "map":
        keys = node.get("x-kubernetes-list-map-keys") or []
        items = node.get("items", {})
        if t != "array" or items.get("type") != "object" or not keys:
            err(where, "list-type map needs an array of objects and list-map-keys")
        for k in keys:
            p = items.get("properties", {}).get(k)
            if p is None:
                err(where, f"list-map key {k!r} is not a property of the items")
            elif p.get("type") not in ("string", "integer", "boolean"):
                err(where, f"list-map key {k!r} must be a scalar")
            elif k not in items.get("required", []) and "default" not in p:
                err(where, f"list-map key {k!r} must be required or defaulted")
    elif "x-kubernetes-list-map-keys" in node:
        err(where, "list-map-keys without list-type map")
    for rule in node.get("x-kubernetes-validations", []):
        if not rule.get("rule") or not rule.get("message"):
            err(where, "every x-kubernetes-validations rule needs rule and message")
    for j in JUNCTORS:
        if j in node:
            subs = node[j] if j != "not" else [node[j]]
            if not ios or j != "anyOf":
                for i, s in enumerate(subs):
                    lint_junctor(f"{where}.{j}[{i}]", s, node)
    for name, sub in node.get("properties", {}).items():
        lint_node(f"{where}.{name}", sub, is_metadata=(top and name == "metadata"))
    if isinstance(node.get("additionalProperties"), dict):
        lint_node(f"{where}.additionalProperties", node["additionalProperties"])
    if "items" in node:
        lint_node(f"{where}[]", node["items"])
    if "default" in node:
        # The apiserver checks a default after pruning and defaulting it, against the schema.
        d = copy.deepcopy(node["default"])
        apply_defaults(d, node)
        errs = []
        validate(d, node, where, errs)
        for e in errs:
            err(where, f"default does not validate: {e}")


def resolve_path(schema, json_path):
    node = schema
    for part in json_path.lstrip(".").split("."):
        if node is None:
            return None
        node = node.get("properties", {}).get(part)
    return node


def lint_crd(path):
    with open(path) as f:
        crd = yaml.safe_load(f)
    where = os.path.basename(path)
    if crd.get("apiVersion") != "apiextensions.k8s.io/v1" or \
            crd.get("kind") != "CustomResourceDefinition":
        err(where, "not an apiextensions.k8s.io/v1 CustomResourceDefinition")
        return None
    spec = crd["spec"]
    n = spec.get("names", {})
    kind = n.get("kind")
    if kind not in NAMES:
        err(where, f"unexpected kind {kind!r}")
        return None
    plural, singular, short = NAMES[kind]
    if crd["metadata"]["name"] != f"{plural}.{GROUP}":
        err(where, f"metadata.name must be {plural}.{GROUP}")
    if spec.get("group") != GROUP or spec.get("scope") != "Namespaced":
        err(where, "group must be commissaire.io and scope Namespaced")
    if n.get("plural") != plural or n.get("singular") != singular or \
            n.get("shortNames") != [short] or n.get("categories") != ["commissaire"] or \
            n.get("listKind") != kind + "List":
        err(where, "names do not follow the contract")
    versions = spec.get("versions", [])
    if len(versions) != 1 or versions[0].get("name") != VERSION or \
            versions[0].get("served") is not True or versions[0].get("storage") is not True:
        err(where, "exactly one version v1alpha1, served and storage")
        return None
    v = versions[0]
    if v.get("subresources", {}).get("status") != {}:
        err(where, "status subresource missing")
    schema = v["schema"]["openAPIV3Schema"]
    if schema.get("type") != "object":
        err(where, "root schema must be type object")
    for p in ("apiVersion", "kind", "metadata", "spec", "status"):
        if p not in schema.get("properties", {}):
            err(where, f"root schema lacks {p}")
    lint_node(kind, schema, top=True)
    cols = v.get("additionalPrinterColumns", [])
    if not cols or cols[-1].get("name") != "Age":
        err(where, "printer columns must end with Age")
    for c in cols:
        jp = c.get("jsonPath", "")
        if jp.startswith(".metadata."):
            continue
        target = resolve_path(schema, jp)
        if target is None:
            err(where, f"printer column {c.get('name')} points at unknown field {jp}")
        elif c.get("type") != target.get("type") and not (
                c.get("type") == "date" and target.get("format") == "date-time"):
            err(where, f"printer column {c.get('name')} type {c.get('type')} != field type")
    return kind, schema


# ---------------------------------------------------------------------------------------------
# Object validation, following the apiserver's order: default, then validate (CEL excepted: the
# few CEL rules duplicate anyOf checks so the result is the same).


def type_ok(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    return False


def apply_defaults(obj, s):
    if isinstance(obj, dict) and s.get("properties"):
        for k, p in s["properties"].items():
            if k not in obj and "default" in p:
                obj[k] = copy.deepcopy(p["default"])
        for k, val in obj.items():
            if k in s["properties"]:
                apply_defaults(val, s["properties"][k])
    elif isinstance(obj, list) and "items" in s:
        for val in obj:
            apply_defaults(val, s["items"])


def validate(v, s, path, errs):
    n0 = len(errs)
    t = s.get("type")
    if t and not type_ok(v, t):
        errs.append(f'{path}: Invalid value: must be of type {t}')
        return
    if s.get("x-kubernetes-int-or-string") and not (type_ok(v, "integer") or
                                                    type_ok(v, "string")):
        errs.append(f"{path}: Invalid value: must be an integer or a string")
        return
    if "enum" in s and v not in s["enum"]:
        errs.append(f'{path}: Unsupported value: {v!r}: supported values: '
                    + ", ".join(repr(e) for e in s["enum"]))
    if isinstance(v, str):
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append(f"{path}: Too long: may not be more than {s['maxLength']} bytes")
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append(f"{path}: Invalid value: should be at least {s['minLength']} chars long")
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append(f"{path}: Invalid value: {v!r}: should match '{s['pattern']}'")
        if s.get("format") == "date-time" and not DATE_TIME.match(v):
            errs.append(f"{path}: Invalid value: {v!r}: must be an RFC 3339 date-time")
    if type_ok(v, "number"):
        if "minimum" in s and v < s["minimum"]:
            errs.append(f"{path}: Invalid value: {v}: should be greater than or equal to "
                        f"{s['minimum']}")
        if "maximum" in s and v > s["maximum"]:
            errs.append(f"{path}: Invalid value: {v}: should be less than or equal to "
                        f"{s['maximum']}")
    if isinstance(v, dict):
        for r in s.get("required", []):
            if r not in v:
                errs.append(f"{path}.{r}: Required value")
        for k, val in v.items():
            if k in s.get("properties", {}):
                validate(val, s["properties"][k], f"{path}.{k}", errs)
            elif isinstance(s.get("additionalProperties"), dict):
                validate(val, s["additionalProperties"], f"{path}.{k}", errs)
    if isinstance(v, list) and "items" in s:
        for i, val in enumerate(v):
            validate(val, s["items"], f"{path}[{i}]", errs)
    for sub in s.get("allOf", []):
        validate(v, sub, path, errs)
    if "anyOf" in s and not s.get("x-kubernetes-int-or-string"):
        branch_errs = []
        for sub in s["anyOf"]:
            e = []
            validate(v, sub, path, e)
            if not e:
                break
            branch_errs.extend(e)
        else:
            errs.append(f"{path}: Invalid value: must validate at least one schema (anyOf)")
            errs.extend(branch_errs)
    if "oneOf" in s:
        ok = 0
        for sub in s["oneOf"]:
            e = []
            validate(v, sub, path, e)
            ok += not e
        if ok != 1:
            errs.append(f"{path}: Invalid value: must validate one and only one schema (oneOf)")
    if "not" in s:
        e = []
        validate(v, s["not"], path, e)
        if not e:
            errs.append(f"{path}: Invalid value: must not validate the schema (not)")
    return len(errs) == n0


def object_errors(obj, schemas):
    kind = obj.get("kind")
    if kind not in schemas:
        return [f"unknown kind {kind}"]
    if obj.get("apiVersion") != f"{GROUP}/{VERSION}":
        return [f"apiVersion must be {GROUP}/{VERSION}"]
    o = copy.deepcopy(obj)
    apply_defaults(o, schemas[kind])
    errs = []
    validate(o, schemas[kind], "", errs)
    return [e.lstrip(".") for e in errs]


def load_objects(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


# Each mutation breaks one rule a real apiserver enforces; the lint must notice every one (so a
# lint that accepts anything fails its own test).
MUTATIONS = [
    ("Operation", "type inside anyOf",
     lambda s: s["properties"]["spec"]["anyOf"][1]["properties"]["type"]["not"].update(
         type="string")),
    ("Host", "untyped field",
     lambda s: s["properties"]["spec"]["properties"]["port"].pop("type")),
    ("Host", "missing description",
     lambda s: s["properties"]["spec"]["properties"]["port"].pop("description")),
    ("Host", "default that does not validate",
     lambda s: s["properties"]["spec"]["properties"]["port"].update(default=70000)),
    ("Cluster", "properties with additionalProperties",
     lambda s: s["properties"]["spec"].update(additionalProperties={"type": "string"})),
    ("Operation", "int-or-string anyOf with extra validation",
     lambda s: s["properties"]["spec"]["properties"]["maxUnavailable"].update(
         anyOf=[{"type": "integer", "minimum": 1}, {"type": "string"}])),
    ("Network", "metadata restriction",
     lambda s: s["properties"]["metadata"].update(properties={"labels": {"type": "object"}})),
    ("Operation", "list-map key neither required nor defaulted",
     lambda s: s["properties"]["status"]["properties"]["hosts"]["items"].pop("required")),
    ("ContainerManager", "non-ERE pattern",
     lambda s: s["properties"]["spec"]["properties"]["serverURL"].update(pattern="^\\d+$")),
    ("Host", "junctor names an unknown property",
     lambda s: s["properties"]["spec"].update(anyOf=[{"properties": {"nope": {"minLength": 1}}}])),
]


def self_test(crd_dir):
    import tempfile
    failures = 0
    for kind, what, mutate in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            for f in glob.glob(os.path.join(crd_dir, "*.yaml")):
                with open(f) as fh:
                    d = yaml.safe_load(fh)
                if d.get("kind") == "CustomResourceDefinition" and \
                        d["spec"]["names"]["kind"] == kind:
                    mutate(d["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
                with open(os.path.join(tmp, os.path.basename(f)), "w") as fh:
                    yaml.safe_dump(d, fh)
            del errors[:]
            for f in sorted(glob.glob(os.path.join(tmp, "*.yaml"))):
                with open(f) as fh:
                    if yaml.safe_load(fh).get("kind") == "CustomResourceDefinition":
                        lint_crd(f)
            if not errors:
                print(f"self-test: lint missed: {kind}: {what}", file=sys.stderr)
                failures += 1
    del errors[:]
    print(f"crds_lint self-test: {len(MUTATIONS) - failures}/{len(MUTATIONS)} mutations caught")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[2] == "--self-test":
        return self_test(argv[1])
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    crd_dir = argv[1]
    files = sorted(glob.glob(os.path.join(crd_dir, "*.yaml")))
    schemas = {}
    for f in files:
        with open(f) as fh:
            if yaml.safe_load(fh).get("kind") != "CustomResourceDefinition":
                continue
        r = lint_crd(f)
        if r:
            schemas[r[0]] = r[1]
    if set(schemas) != set(NAMES):
        err(crd_dir, f"expected CRDs for {sorted(NAMES)}, found {sorted(schemas)}")
    rest = argv[2:]
    if rest[:1] == ["--validate"]:
        for f in rest[1:]:
            for o in load_objects(f):
                if not str(o.get("apiVersion", "")).startswith(GROUP + "/"):
                    continue
                for e in object_errors(o, schemas):
                    err(f"{f}: {o['kind']}/{o.get('metadata', {}).get('name')}", e)
    elif rest[:1] == ["--cases"]:
        # CASES_DIR/good/*.yaml (and any further files, e.g. the samples) must be valid;
        # CASES_DIR/bad/*.yaml must each be refused with an error containing their
        # "# expect: ..." text.
        cases, extra = rest[1], rest[2:]
        good = sorted(glob.glob(os.path.join(cases, "good", "*.yaml"))) + extra
        n = 0
        for f in good:
            for o in load_objects(f):
                if not str(o.get("apiVersion", "")).startswith(GROUP + "/"):
                    continue
                n += 1
                for e in object_errors(o, schemas):
                    err(f"{f}: {o['kind']}/{o.get('metadata', {}).get('name')}", e)
        for f in sorted(glob.glob(os.path.join(cases, "bad", "*.yaml"))):
            with open(f) as fh:
                m = re.search(r"^# expect: (.+)$", fh.read(), re.M)
            if not m:
                err(f, "no '# expect:' line")
                continue
            n += 1
            for o in load_objects(f):
                es = object_errors(o, schemas)
                if not es:
                    err(f, f"expected rejection containing {m.group(1)!r}, but it is valid")
                elif not any(m.group(1) in e for e in es):
                    err(f, f"expected an error containing {m.group(1)!r}, got: {es}")
        print(f"crds_lint: {n} case objects checked")
    elif rest[:1] == ["--expect-invalid"]:
        f, want = rest[1], rest[2]
        for o in load_objects(f):
            es = object_errors(o, schemas)
            if not es:
                err(f, f"expected rejection containing {want!r}, but the object is valid")
            elif not any(want in e for e in es):
                err(f, f"expected an error containing {want!r}, got: {es}")
    elif rest:
        print(__doc__, file=sys.stderr)
        return 2
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"crds_lint: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    print(f"crds_lint: {len(schemas)} CRDs ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
