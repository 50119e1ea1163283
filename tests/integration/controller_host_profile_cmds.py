#!/usr/bin/env python3
"""Prints what an OS profile makes a fresh host run, as the farm records it.

Usage: controller_host_profile_cmds.py PROFILE.yaml apply|check MANAGED(0|1)

  apply  the stand-in commands of the applicable bootstrap steps' `apply`, in order: what a
         fresh host must record (after the read-only checks are filtered out)
  check  every stand-in command that appears in any `check` (read-only)

Steps with `when: {cm.type: [...]}` apply only to managed hosts (kubernetes/openshift). Shell
syntax is split on && || ; and redirections are dropped; only commands the farm's stand-ins
record are printed (package managers, systemctl, rpm-ostree...)."""
import re
import sys

import yaml

STANDINS = {"dnf", "yum", "apt-get", "apt", "rpm", "rpm-ostree", "systemctl", "dpkg",
            "dpkg-query", "service", "atomic", "reboot", "shutdown"}


def simple_commands(text):
    out = []
    for part in re.split(r"&&|\|\||;|\n", text or ""):
        part = re.sub(r"[0-9]?>\s*/dev/null|2>&1", "", part).strip()
        if part.startswith("!"):
            part = part[1:].strip()
        words = part.split()
        if words and words[0] in STANDINS:
            out.append(" ".join(words))
    return out


def applies(step, managed):
    when = step.get("when") or {}
    types = when.get("cm.type")
    if types is None:
        return True
    if isinstance(types, str):
        types = [types]
    return managed and ("kubernetes" in types or "openshift" in types)


def main():
    prof = yaml.safe_load(open(sys.argv[1]))
    what, managed = sys.argv[2], sys.argv[3] == "1"
    for step in prof.get("bootstrap", []):
        if what == "apply" and applies(step, managed):
            for c in simple_commands(step.get("apply")):
                print(c)
        elif what == "check":
            for c in simple_commands(step.get("check")):
                print(c)


main()
