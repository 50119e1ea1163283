#!/usr/bin/env python3
"""Fixed-count HTTP load generator for the kube-lite benchmark: COUNT requests over CONC
keep-alive connections. PATH and BODY are Python format strings with {i} (request number).
Prints "<ok> <errors> <seconds>". Usage:
  kubelite_load.py URL TOKEN CAFILE METHOD PATH BODY CONTENT_TYPE COUNT CONC"""
import http.client
import ssl
import sys
import threading
import time
import urllib.parse

url, token, ca, method, path, body, ctype, count, conc = sys.argv[1:10]
count, conc = int(count), int(conc)
u = urllib.parse.urlsplit(url)
ctx = ssl.create_default_context(cafile=ca) if u.scheme == "https" else None
lock = threading.Lock()
state = {"next": 0, "ok": 0, "err": 0}


def worker():
    if ctx:
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port)
    while True:
        with lock:
            i = state["next"]
            if i >= count:
                break
            state["next"] += 1
        headers = {"Authorization": "Bearer " + token, "Content-Type": ctype}
        data = body.format(i=i).encode() if body else None
        conn.request(method, path.format(i=i), body=data, headers=headers)
        resp = conn.getresponse()
        resp.read()
        with lock:
            if 200 <= resp.status < 300:
                state["ok"] += 1
            else:
                state["err"] += 1
    conn.close()


start = time.time()
threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(state["ok"], state["err"], "%.2f" % (time.time() - start))
