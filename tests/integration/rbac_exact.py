#!/usr/bin/env python3
"""rbac_exact.py: is a least-privilege role exactly what a program uses?

Reads an audit log (audit.k8s.io/v1 Events, one JSON object a line, as kube-lite's --audit-log
or a real API server at level Metadata writes them) and Roles/ClusterRoles (JSON from
`kubectl get -o json`, one file each). Every rule is expanded into (apiGroup, resource, verb,
resourceName) grants; a grant is used when a request of USER that RBAC allowed matches it.

Usage: rbac_exact.py --audit LOG --user USER [--allow 'group/resource:verb' ...] ROLE.json...
Prints the unused grants and exits 1 when any is not in --allow (an allowed-unused grant must
be justified where the caller lists it). Also exits 1 when USER was ever forbidden: a role
that is not enough is not exact either.
"""
import argparse
import json
import sys


def grants(role):
    for rule in role.get("rules") or []:
        for g in rule.get("apiGroups") or [""]:
            for r in rule.get("resources") or []:
                for v in rule.get("verbs") or []:
                    for n in rule.get("resourceNames") or [None]:
                        yield (g, r, v, n)


def matches(grant, ev):
    g, r, v, n = grant
    ref = ev.get("objectRef") or {}
    res = ref.get("resource", "")
    if ref.get("subresource"):
        res += "/" + ref["subresource"]
    return ((g == "*" or g == ref.get("apiGroup", "")) and (r == "*" or r == res)
            and (v == "*" or v == ev.get("verb")) and (n is None or n == ref.get("name")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--audit", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--allow", action="append", default=[])
    ap.add_argument("roles", nargs="+")
    a = ap.parse_args()
    events, forbidden = [], []
    with open(a.audit) as f:
        for line in f:
            ev = json.loads(line)
            if (ev.get("user") or {}).get("username") != a.user:
                continue
            decision = (ev.get("annotations") or {}).get("authorization.k8s.io/decision")
            (events if decision == "allow" else forbidden).append(ev)
    bad = 0
    for ev in forbidden:
        print("forbidden: %s %s" % (ev.get("verb"), ev.get("requestURI")))
        bad = 1
    for path in a.roles:
        with open(path) as f:
            role = json.load(f)
        name = "%s/%s" % (role.get("kind"), role["metadata"]["name"])
        for grant in grants(role):
            if any(matches(grant, ev) for ev in events):
                continue
            key = "%s/%s:%s" % (grant[0], grant[1], grant[2])
            note = " (allowed: listed by the caller)" if key in a.allow else ""
            print("unused: %s grants %s%s%s" % (name, key,
                  " name=" + grant[3] if grant[3] else "", note))
            if not note:
                bad = 1
    print("%d allowed requests of %s checked" % (len(events), a.user))
    return bad


if __name__ == "__main__":
    sys.exit(main())
