#!/usr/bin/env python3
"""install_check_values.py MODE RENDERED.yaml

Checks that the chart rendered with non-default values did what the values asked.
MODE custom:  install_fixtures/values-custom.yaml (every knob turned)
MODE noshim:  --set shim.enabled=false (no shim object at all, controller untouched)
"""
import base64
import json
import sys

import yaml

problems = []


def check(cond, msg):
    if not cond:
        problems.append(msg)


def load(path):
    with open(path) as f:
        objs = [d for d in yaml.safe_load_all(f) if d]
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def container(dep):
    return dep["spec"]["template"]["spec"]["containers"][0]


def check_pod_common(dep, what):
    pod = dep["spec"]["template"]["spec"]
    c = container(dep)
    check(c["image"] == "registry.example.com/commissaire:9.9.9", f"{what}: image {c['image']}")
    check(c["imagePullPolicy"] == "Always", f"{what}: pull policy")
    check(pod.get("imagePullSecrets") == [{"name": "regcred"}], f"{what}: imagePullSecrets")
    check(pod.get("nodeSelector") == {"kubernetes.io/os": "linux"}, f"{what}: nodeSelector")
    check(pod.get("tolerations", [{}])[0].get("key") == "dedicated", f"{what}: tolerations")
    check("nodeAffinity" in pod.get("affinity", {}), f"{what}: affinity")
    check({"name": "TZ", "value": "UTC"} in c.get("env", []), f"{what}: extraEnv")
    sc = c["securityContext"]
    check(sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and
          sc["capabilities"]["drop"] == ["ALL"], f"{what}: container security context")
    check(pod["securityContext"]["runAsNonRoot"] and
          pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault",
          f"{what}: pod security context")


def custom(objs):
    ctl = objs[("Deployment", "commissaire-controller")]
    args = container(ctl)["args"]
    check(ctl["spec"]["replicas"] == 1, "controller replicas")
    check("--leader-elect" not in args, "leader election still on")
    check(args[args.index("--log-format") + 1] == "json", "--log-format json")
    check("--ssh-max-sessions=64" in args, "controller extraArgs")
    # Maps coalesce with the defaults, as in Helm: limits.cpu "1" stays.
    check(container(ctl)["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"},
                                          "limits": {"cpu": "1", "memory": "256Mi"}},
          f"controller resources {container(ctl)['resources']}")
    check(ctl["spec"]["template"]["metadata"]["annotations"].get("example.com/team") == "infra",
          "controller podAnnotations")
    check_pod_common(ctl, "controller")
    check(("PodDisruptionBudget", "commissaire-controller") not in objs,
          "a PDB with minAvailable 1 for a single replica would block every drain")
    role = objs[("Role", "commissaire-controller")]
    check(not any("leases" in r["resources"] for r in role["rules"]),
          "lease permissions without leader election")
    cm = objs[("ConfigMap", "commissaire-os-profiles")]
    check(cm["data"] == {"fedora.yaml": "name: fedora\nsteps: []\n"}, f"os profiles {cm['data']}")

    shim = objs[("Deployment", "commissaire-shim")]
    sargs = container(shim)["args"]
    check(shim["spec"]["replicas"] == 2, "shim replicas")
    check(sargs[sargs.index("--tls-clientverifyfile") + 1] == "/etc/commissaire/tls/ca.pem",
          "--tls-clientverifyfile")
    check(container(shim)["readinessProbe"].get("tcpSocket") == {"port": "https"},
          "HTTPS probes cannot pass when client certificates are required")
    vols = {v["name"]: v for v in shim["spec"]["template"]["spec"]["volumes"]}
    check(vols["tls"]["secret"]["secretName"] == "custom-tls", "tls secret name")
    check(vols["auth"]["secret"]["secretName"] == "custom-auth", "auth secret name")
    check_pod_common(shim, "shim")
    check("checksum/auth" in shim["spec"]["template"]["metadata"].get("annotations", {}),
          "shim restarts when its auth config changes")
    svc = objs[("Service", "commissaire-shim")]
    check(svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["port"] == 8443,
          "shim service type/port")

    auth = objs[("Secret", "custom-auth")]
    conf = json.loads(base64.b64decode(auth["data"]["commissaire.conf"]))
    check(conf == {"authentication-plugins": [
        {"name": "httpbasicauth", "filepath": "/etc/commissaire/auth/users.json"},
        {"name": "httpauthclientcert", "cn": "admin"}],
        "self-auths": ["/api/v0/secrets"]}, f"commissaire.conf {conf}")
    users = json.loads(base64.b64decode(auth["data"]["users.json"]))
    check(users == {"a": {"hash": "$2a$12$SQPstqN3Ci95hYZ4u/syluTx8M5wSVwfhcC.iiawjoVck7Qyh43Ni"}},
          f"users.json {users}")
    tls = objs[("Secret", "custom-tls")]
    check(base64.b64decode(tls["data"]["tls.pem"]).startswith(b"-----BEGIN CERTIFICATE-----"),
          "tls.pem")
    check(b"MIIBfakeca" in base64.b64decode(tls["data"]["ca.pem"]), "ca.pem")

    check(("ServiceMonitor", "commissaire-shim") not in objs,
          "shim ServiceMonitor cannot scrape without a client certificate")
    for comp, port in (("controller", "metrics"),):
        sm = objs.get(("ServiceMonitor", f"commissaire-{comp}"))
        check(sm is not None, f"ServiceMonitor for the {comp}")
        if sm:
            check(sm["metadata"]["labels"].get("release") == "prom", f"{comp} SM labels")
            ep = sm["spec"]["endpoints"][0]
            check(ep["port"] == port and ep["interval"] == "15s", f"{comp} SM endpoint {ep}")


def noshim(objs):
    shim_objs = [k for k in objs if "shim" in k[1]]
    check(not shim_objs, f"shim objects rendered with shim.enabled=false: {shim_objs}")
    check(("Deployment", "commissaire-controller") in objs, "controller missing")
    check(("ServiceMonitor", "commissaire-controller") not in objs, "ServiceMonitor by default")


def main():
    mode, path = sys.argv[1], sys.argv[2]
    objs = load(path)
    {"custom": custom, "noshim": noshim}[mode](objs)
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"install_check_values {mode}: {len(objs)} objects ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
