#!/usr/bin/env python3
"""A stand-in for the kubelets of a host farm (which has none): watches Nodes and reports each
one Ready as soon as it appears, with one keep-alive HTTPS connection, so that 200 nodes become
Ready within milliseconds of their registration (a kubectl loop would take tens of seconds and
distort the benchmark).

Usage: controller_bench_kubelet.py SERVER_URL TOKEN CA_FILE
Runs until killed."""
import http.client
import json
import ssl
import sys
import time
import urllib.parse


def connect(url, ca):
    u = urllib.parse.urlparse(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca)
        return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def ready(node):
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            return True
    return False


def main():
    url, token, ca = sys.argv[1], sys.argv[2], sys.argv[3]
    hdrs = {"Authorization": "Bearer " + token}
    patch_conn = connect(url, ca)
    body = json.dumps({"status": {"conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "bench kubelet"}]}})

    def mark(name):
        nonlocal patch_conn
        for _ in range(3):
            try:
                patch_conn.request("PATCH", "/api/v1/nodes/%s/status" % name, body=body,
                                   headers=dict(hdrs, **{"Content-Type": "application/merge-patch+json"}))
                patch_conn.getresponse().read()
                return
            except (OSError, http.client.HTTPException):
                patch_conn = connect(url, ca)

    rv = ""
    while True:
        try:
            c = connect(url, ca)
            if not rv:
                c.request("GET", "/api/v1/nodes", headers=hdrs)
                lst = json.loads(c.getresponse().read())
                rv = lst["metadata"]["resourceVersion"]
                for n in lst.get("items", []):
                    if not ready(n):
                        mark(n["metadata"]["name"])
            c.request("GET", "/api/v1/nodes?watch=1&resourceVersion=%s" % rv, headers=hdrs)
            r = c.getresponse()
            while True:
                line = r.readline()
                if not line:
                    break
                ev = json.loads(line)
                obj = ev.get("object") or {}
                if ev.get("type") == "ERROR":
                    rv = ""
                    break
                rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                if ev.get("type") in ("ADDED", "MODIFIED") and not ready(obj):
                    mark(obj["metadata"]["name"])
        except (OSError, http.client.HTTPException, ValueError):
            time.sleep(0.2)


main()
