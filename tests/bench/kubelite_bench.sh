#!/usr/bin/env bash
# kube-lite benchmark (not part of ctest). Prints:
#   - GET/s of one object (wrk, 2 threads, keep-alive HTTPS connections),
#   - writes/s (wrk + Lua: POST of new ConfigMaps, then PUT of one object),
#   - 100 concurrent watches: every watcher must receive every event of a burst of writes,
#   - RSS of kube-lite holding 10,000 custom objects (Hosts), from /proc.
# Usage: tests/bench/kubelite_bench.sh [path/to/kube-lite]  (default: build/, release build)
# Env: DURATION (seconds per wrk run, default 10), CONNS (default 32), OBJECTS (default 10000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export KUBE_LITE=${1:-${KUBE_LITE:-$repo/build/hack/kube-lite/kube-lite}}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
OBJECTS=${OBJECTS:-10000}
WATCHERS=${WATCHERS:-100}
unset KUBECONFIG
source "$repo/tests/integration/lib/kubelite.sh"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    kl_stop || true
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
kl_start --history 20000
B=$KL_DIR/bench
mkdir -p "$B"
kubectl create ns bench >/dev/null
kl_apply_crds
kubectl -n bench create configmap target --from-literal=k=v >/dev/null
echo "kube-lite: $KUBE_LITE ($(nproc) CPUs, ${DURATION}s per run, $CONNS connections)"

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$KL_PID/status"; }

cat >"$B/common.lua" <<LUA
token = "$KL_TOKEN"
local tcount = 0
function setup(thread)
  thread:set("tid", tcount)
  tcount = tcount + 1
end
LUA

# ---- GET ----
cat >"$B/get.lua" <<LUA
dofile("$B/common.lua")
request = function()
  return wrk.format("GET", "/api/v1/namespaces/bench/configmaps/target",
                    {["Authorization"] = "Bearer " .. token})
end
LUA
wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$B/get.lua" "$KL_URL" >"$B/get.out"
get_rps=$(awk '/Requests\/sec/ {print $2}' "$B/get.out")
get_lat=$(awk '/Latency/ {print $2; exit}' "$B/get.out")
echo "GET one object:            $get_rps req/s (avg latency $get_lat)"
grep -q "Non-2xx" "$B/get.out" && { echo "  errors: $(grep Non-2xx "$B/get.out")"; }

# ---- writes: creates ----
cat >"$B/post.lua" <<LUA
dofile("$B/common.lua")
local n = 0
request = function()
  n = n + 1
  local body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w' .. tid .. '-' .. n ..
               '","labels":{"bench":"yes"}},"data":{"k":"v"}}'
  return wrk.format("POST", "/api/v1/namespaces/bench/configmaps",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
LUA
wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$B/post.lua" "$KL_URL" >"$B/post.out"
post_rps=$(awk '/Requests\/sec/ {print $2}' "$B/post.out")
echo "POST (create) ConfigMaps:  $post_rps req/s"
grep -q "Non-2xx" "$B/post.out" && echo "  errors: $(grep Non-2xx "$B/post.out")"

# ---- writes: merge patches of one object (serialised updates, every one a new version) ----
cat >"$B/patch.lua" <<LUA
dofile("$B/common.lua")
local n = 0
request = function()
  n = n + 1
  return wrk.format("PATCH", "/api/v1/namespaces/bench/configmaps/target",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/merge-patch+json"},
                    '{"data":{"k":"' .. tid .. '-' .. n .. '"}}')
end
LUA
wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$B/patch.lua" "$KL_URL" >"$B/patch.out"
patch_rps=$(awk '/Requests\/sec/ {print $2}' "$B/patch.out")
echo "PATCH one object:          $patch_rps req/s"
grep -q "Non-2xx" "$B/patch.out" && echo "  errors: $(grep Non-2xx "$B/patch.out")"
kubectl -n bench delete cm -l bench=yes --wait=false >/dev/null 2>&1 || true

# ---- 100 watches, each must see every event ----
cc -O2 -o "$B/watchers" "$here/kubelite_watchers.c" -lssl -lcrypto -lpthread
kubectl -n bench create configmap wtarget >/dev/null
rv=$(kubectl -n bench get cm wtarget -o jsonpath='{.metadata.resourceVersion}')
EVENTS=${EVENTS:-2000}
hostport=${KL_URL#https://}
"$B/watchers" "${hostport%:*}" "${hostport##*:}" "$KL_TOKEN" \
    "/api/v1/namespaces/bench/configmaps?watch=1&fieldSelector=metadata.name%3Dwtarget&resourceVersion=$rv&timeoutSeconds=300" \
    "$WATCHERS" "$EVENTS" 120 >"$B/watchers.out" &
WPID=$!
PIDS+=($WPID)
for ((i = 0; i < 300; i++)); do
    grep -q READY "$B/watchers.out" && break
    sleep 0.1
done
python3 "$here/kubelite_load.py" "$KL_URL" "$KL_TOKEN" "$KL_CA" PATCH \
    /api/v1/namespaces/bench/configmaps/wtarget '{{"data":{{"k":"{i}"}}}}' \
    application/merge-patch+json "$EVENTS" 4 >"$B/wpatch.out"
wait "$WPID" || true
PIDS=()
read -r ok err secs <"$B/wpatch.out"
echo "watches:                   $(tail -n1 "$B/watchers.out") (each expected $EVENTS events;" \
     "the $ok writes took ${secs}s, $err failed)"

# ---- RSS with OBJECTS custom objects, on a fresh kube-lite ----
kl_stop
kl_start
kl_apply_crds
kubectl create ns commissaire >/dev/null
B=$KL_DIR/bench
mkdir -p "$B"
rss0=$(rss_kb)
start=$(date +%s.%N)
python3 "$here/kubelite_load.py" "$KL_URL" "$KL_TOKEN" "$KL_CA" POST \
    /apis/commissaire.io/v1alpha1/namespaces/commissaire/hosts \
    '{{"apiVersion":"commissaire.io/v1alpha1","kind":"Host","metadata":{{"name":"host-{i}","labels":{{"commissaire.io/cluster":"c1"}}}},"spec":{{"address":"host-{i}.example.com","sshKeySecretRef":{{"name":"key"}},"cluster":"c1"}}}}' \
    application/json "$OBJECTS" 8 >"$B/hosts.out"
end=$(date +%s.%N)
nhosts=$(kubectl get --raw /apis/commissaire.io/v1alpha1/namespaces/commissaire/hosts | jq '.items | length')
sleep 1
rss1=$(rss_kb)
echo "RSS:                       $((rss1 / 1024)) MiB with $nhosts Hosts ($((rss0 / 1024)) MiB before them;" \
     "created in $(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.1f", e-s}')s; load generator: $(cat "$B/hosts.out"))"
t=$(curl -sS -o /dev/null -w '%{time_total}' --cacert "$KL_CA" -H "Authorization: Bearer $KL_TOKEN" \
    "$KL_URL/apis/commissaire.io/v1alpha1/namespaces/commissaire/hosts")
echo "LIST of all Hosts:         ${t}s"
t=$(curl -sS -o /dev/null -w '%{time_total}' --cacert "$KL_CA" -H "Authorization: Bearer $KL_TOKEN" \
    "$KL_URL/apis/commissaire.io/v1alpha1/namespaces/commissaire/hosts?labelSelector=commissaire.io%2Fcluster%3Dc1&limit=500")
echo "LIST 500 with selector:    ${t}s"
