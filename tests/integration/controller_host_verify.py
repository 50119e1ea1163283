#!/usr/bin/env python3
"""Checks of the controller integration tests that would cost hundreds of jq/kubectl processes
in shell (slow on a busy 2-core machine), done in one process.

  controller_host_verify.py facts HOSTS_JSON FARM_DIR ADDR...
      every Host's facts equal the farm's (os, osVersion, atomic, cpus, memory, space, kernel,
      bootID, hostname, host key), it has its finalizer, a lastCheck, Reachable and
      Bootstrapped True.
  controller_host_verify.py cmds FARM_DIR PROFILES_DIR [--since FILE] ADDR=MANAGED...
      the stand-in commands each host recorded, minus the read-only checks and fact commands,
      are exactly its profile's applicable apply commands in order (MANAGED 1: the kubernetes
      steps apply). With --since FILE (lines "ADDR COUNT" from `count`), only commands recorded
      after COUNT are looked at and there must be none that change the host.
  controller_host_verify.py count FARM_DIR ADDR...
      prints "ADDR COUNT" (stand-in commands recorded so far), for --since.
Exit 1 with one line per problem."""
import json
import os
import re
import sys

STANDINS = {"dnf", "yum", "apt-get", "apt", "rpm", "rpm-ostree", "systemctl", "dpkg",
            "dpkg-query", "service", "atomic", "reboot", "shutdown"}
FACT_CMDS = re.compile(r"^(nproc|df|uname|hostname|rpm-ostree status)( |$)")


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


def host_key(farm, addr):
    """The OpenSSH SHA256 fingerprint of the host's ed25519 key, as ssh-keygen -l prints it."""
    import base64
    import hashlib
    with open(os.path.join(farm, "hosts", addr, "root", "etc", "ssh",
                           "ssh_host_ed25519_key.pub")) as f:
        blob = base64.b64decode(f.read().split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def farm_state(farm, addr):
    st = {}
    root = os.path.join(farm, "hosts", addr, "root", ".hostfarm")
    for name in ("cpus", "memory", "space", "kernel", "hostname", "boot_id"):
        with open(os.path.join(root, "facts", name)) as f:
            st[name] = f.read().strip()
    sdir = os.path.join(root, "state")
    for name in os.listdir(sdir):
        p = os.path.join(sdir, name)
        if os.path.isfile(p):
            with open(p) as f:
                st[name] = f.read().strip()
    return st


def recorded_cmds(farm, addr):
    out = []
    with open(os.path.join(farm, "hosts", addr, "root", ".hostfarm", "records.log")) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 3)
            if len(parts) == 4 and parts[2] == "cmd":
                out.append(parts[3])
    return out


def cond(host, t, field):
    for c in (host.get("status") or {}).get("conditions") or []:
        if c.get("type") == t:
            return c.get(field)
    return None


def facts(args):
    hosts = {h["metadata"]["name"]: h for h in json.load(open(args[0]))["items"]}
    farm = args[1]
    bad = []
    for addr in args[2:]:
        h = hosts.get(addr)
        if not h:
            bad.append("%s: no Host" % addr)
            continue
        st = h.get("status") or {}
        fs = farm_state(farm, addr)
        os_id = fs.get("os_id", "")
        want = {
            "os": "fedora" if os_id == "atomic" else os_id,
            "atomic": os_id == "atomic",
            "osVersion": fs.get("os_version", ""),
            "cpus": int(fs["cpus"]), "memory": int(fs["memory"]), "space": int(fs["space"]),
            "kernel": fs["kernel"], "hostname": fs["hostname"], "bootID": fs["boot_id"],
        }
        for k, v in want.items():
            if st.get(k) != v:
                bad.append("%s: status.%s is %r, the farm says %r" % (addr, k, st.get(k), v))
        if "commissaire.io/host-cleanup" not in (h["metadata"].get("finalizers") or []):
            bad.append("%s: no finalizer" % addr)
        if not st.get("lastCheck"):
            bad.append("%s: no lastCheck" % addr)
        for t in ("Reachable", "Bootstrapped"):
            if cond(h, t, "status") != "True":
                bad.append("%s: %s is %s" % (addr, t, cond(h, t, "status")))
        if st.get("hostKeyFingerprint") != host_key(farm, addr):
            bad.append("%s: hostKeyFingerprint %r is not the host's %r"
                       % (addr, st.get("hostKeyFingerprint"), host_key(farm, addr)))
    return bad


def profile_of(farm, addr):
    return farm_state(farm, addr).get("os_id", "")


def cmds(args):
    import yaml
    farm, profiles = args[0], args[1]
    since = {}
    rest = args[2:]
    if rest and rest[0] == "--since":
        with open(rest[1]) as f:
            since = {l.split()[0]: int(l.split()[1]) for l in f if l.strip()}
        rest = rest[2:]
    bad = []
    for spec in rest:
        addr, managed = spec.split("=")
        managed = managed == "1"
        os_id = profile_of(farm, addr)
        prof = yaml.safe_load(open(os.path.join(profiles, os_id + ".yaml")))
        checks, applies = set(), []
        for step in prof.get("bootstrap", []):
            checks.update(simple_commands(step.get("check")))
            types = (step.get("when") or {}).get("cm.type")
            if types is not None:
                types = [types] if isinstance(types, str) else types
                if not managed or not ({"kubernetes", "openshift"} & set(types)):
                    continue
            applies += simple_commands(step.get("apply"))
        if os_id == "atomic":
            # The atomic farm image ships the packages: only the service steps apply.
            applies = [c for c in applies if not c.startswith("rpm-ostree install")]
        got = [c for c in recorded_cmds(farm, addr)[since.get(addr, 0):]
               if c not in checks and not FACT_CMDS.match(c)]
        if since:
            if got:
                bad.append("%s (%s): the second run changed the host: %s" % (addr, os_id, got))
        elif got != applies:
            bad.append("%s (%s): commands differ from the profile's\n  want %s\n  got  %s"
                       % (addr, os_id, applies, got))
    return bad


def count(args):
    farm = args[0]
    for addr in args[1:]:
        print(addr, len(recorded_cmds(farm, addr)))
    return []


def main():
    fn = {"facts": facts, "cmds": cmds, "count": count}[sys.argv[1]]
    bad = fn(sys.argv[2:])
    for b in bad:
        print(b, file=sys.stderr)
    sys.exit(1 if bad else 0)


main()
