#!/usr/bin/env python3
"""install_compare.py KUSTOMIZE.yaml CHART.yaml

Checks that the Helm chart (rendered with default values, release "commissaire", namespace
"commissaire") produces the same objects as the kustomize base where they should agree: the same
kinds and names (the Namespace object excepted: Helm does not own namespaces), identical RBAC
rules and bindings, and identical pod specs (command, args, env, ports, probes, resources,
security contexts, volumes, service account), replicas, Service ports, PDBs and ConfigMap data.
Labels, selectors and annotations differ by design (Helm adds its own) and are ignored.
Exits 1 listing every difference.
"""
import sys

import yaml

IGNORED_META = ("labels", "annotations")


def load(path):
    with open(path) as f:
        objs = [d for d in yaml.safe_load_all(f) if d]
    out = {}
    for o in objs:
        key = (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        if key in out:
            raise SystemExit(f"{path}: duplicate object {key}")
        out[key] = o
    return out


def strip(o):
    """The parts of an object that must agree."""
    o = yaml.safe_load(yaml.safe_dump(o))  # deep copy
    meta = o.get("metadata", {})
    for k in IGNORED_META:
        meta.pop(k, None)
    kind = o["kind"]
    spec = o.get("spec", {})
    if kind in ("Deployment",):
        spec.pop("selector", None)
        tmpl = spec.get("template", {})
        for k in IGNORED_META:
            tmpl.get("metadata", {}).pop(k, None)
    if kind in ("Service",):
        spec.pop("selector", None)
    if kind in ("PodDisruptionBudget",):
        spec.pop("selector", None)
    return o


def diff(a, b, path, out):
    if type(a) != type(b):
        out.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}.{k}: only in chart: {b[k]!r}")
            elif k not in b:
                out.append(f"{path}.{k}: only in kustomize: {a[k]!r}")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items in kustomize, {len(b)} in chart: {a!r} vs {b!r}")
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: kustomize {a!r} != chart {b!r}")


def main():
    k = load(sys.argv[1])
    c = load(sys.argv[2])
    k = {key: o for key, o in k.items() if key[0] != "Namespace"}
    problems = []
    for key in sorted(set(k) - set(c)):
        problems.append(f"only in kustomize: {key}")
    for key in sorted(set(c) - set(k)):
        problems.append(f"only in chart: {key}")
    for key in sorted(set(k) & set(c)):
        if key[0] == "CustomResourceDefinition":
            if k[key] != c[key]:
                problems.append(f"{key}: CRDs differ")
            continue
        diff(strip(k[key]), strip(c[key]), "/".join(key), problems)
    # The checks above must have had something to compare.
    kinds = {key[0] for key in k}
    for want in ("CustomResourceDefinition", "ServiceAccount", "Role", "ClusterRole",
                 "RoleBinding", "ClusterRoleBinding", "Deployment", "Service", "ConfigMap"):
        if want not in kinds:
            problems.append(f"kustomize output has no {want}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"install_compare: {len(problems)} difference(s)", file=sys.stderr)
        return 1
    print(f"install_compare: {len(k)} objects agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
