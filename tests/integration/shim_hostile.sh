#!/usr/bin/env bash
# Hostile and heavy traffic against commissaire-shim: slowloris (headers trickled in), a stalled
# body, garbage and oversized requests, a 2 MiB chunked body, many concurrent clients and
# keep-alive. The shim must cut the slow ones off without tying up the server, keep answering
# everyone else, refuse the bad ones with a 4xx, change nothing in the API server, and exit
# cleanly (sanitizers) at the end.
set -euo pipefail
trap "" PIPE # writes to connections the server closed must not kill the script
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib/kubelite.sh"
source "$HERE/shim_lib.sh"
SHIM_DIR=$(mktemp -d)
D=$SHIM_DIR
fails=0
FDS=()

cleanup() {
    local rc=$?
    local fd
    for fd in "${FDS[@]}"; do exec {fd}>&- 2>/dev/null || true; done
    shim_stop_all || rc=1
    shim_delete_ns
    kl_stop || rc=1
    rm -rf "$SHIM_DIR"
    exit $rc
}
trap cleanup EXIT
T0=$(date +%s%N)
ok() { echo "ok   $* [$((($(date +%s%N) - T0) / 1000000)) ms]"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

kl_start
shim_setup_cluster
HASH=$("$SHIM_PASSHASH" pw 4)
printf '{"u": {"hash": "%s"}}\n' "$HASH" >"$D/users.json"
shim_start main --authentication-plugin "httpbasicauth:filepath=$D/users.json" \
    --header-timeout 10 --idle-timeout 3
U=$SHIM_URL_main
PORT=${U##*:}
AUTH=$(printf u:pw | base64 -w0)
snapshot() {
    local k
    for k in hosts clusters networks containermanagers operations secrets; do
        kubectl -n "$SHIM_NS" get "$k" -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}'
        echo
    done
}
curl -sf -u u:pw -X PUT "$U/api/v0/cluster/keep" -H 'Content-Type: application/json' -d '{}' >/dev/null
before=$(snapshot)

# 1. Slowloris: 40 connections that send half a request and then a byte now and then.
for i in $(seq 1 40); do
    exec {fd}<>/dev/tcp/127.0.0.1/"$PORT"
    FDS+=("$fd")
    printf 'GET /api/v0/hosts HTTP/1.1\r\nHost: x\r\n' >&"$fd"
done
sleep 0.5
t0=$(now_ms)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -u u:pw "$U/api/v0/hosts")
t1=$(now_ms)
# Well below the header timeout: the slow connections do not hold the server up (a loaded CI
# machine makes every request slow, hence the margin).
[[ "$code" == 200 && $((t1 - t0)) -lt 6000 ]] && ok "served during slowloris in $((t1 - t0)) ms" ||
    bad "request during slowloris: $code after $((t1 - t0)) ms"
# Keep trickling; the server must close them anyway once the header timeout has passed.
for s in $(seq 1 11); do
    for fd in "${FDS[@]}"; do printf 'X' >&"$fd" 2>/dev/null || true; done
    sleep 1
done
closed=0
for fd in "${FDS[@]}"; do
    if ! printf 'Y: z\r\n' >&"$fd" 2>/dev/null; then closed=$((closed + 1)); continue; fi
    # A closed connection reads EOF (or an error page) at once; an open one would time out.
    if timeout 3 cat <&"$fd" >/dev/null 2>&1; then closed=$((closed + 1)); fi
done
((closed == 40)) && ok "all 40 slowloris connections were cut off" || bad "only $closed/40 slowloris connections closed"
for fd in "${FDS[@]}"; do exec {fd}>&- 2>/dev/null || true; done
FDS=()

# 2. A body that stalls after its headers: cut off after the timeout.
exec {fd}<>/dev/tcp/127.0.0.1/"$PORT"
FDS+=("$fd")
printf 'PUT /api/v0/cluster/stall HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"net' "$AUTH" >&"$fd"
t0=$(now_ms)
timeout 15 cat <&"$fd" >/dev/null 2>&1 || true
t1=$(now_ms)
(((t1 - t0) < 14000)) && ok "stalled body cut off after $((t1 - t0)) ms" || bad "stalled body held $((t1 - t0)) ms"
exec {fd}>&- 2>/dev/null || true
FDS=()

# 2b. An idle keep-alive connection is closed after --idle-timeout (3 s).
exec {fd}<>/dev/tcp/127.0.0.1/"$PORT"
FDS+=("$fd")
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&"$fd"
t0=$(now_ms)
timeout 12 cat <&"$fd" >"$D/idle.out" 2>&1 || true
t1=$(now_ms)
grep -q '200' "$D/idle.out" && (((t1 - t0) < 11000)) && ok "idle keep-alive connection closed after $((t1 - t0)) ms" ||
    bad "idle connection: $((t1 - t0)) ms, $(head -c 100 "$D/idle.out")"
exec {fd}>&- 2>/dev/null || true
FDS=()

# 3. Garbage, bad request lines, oversized headers, a huge chunked body: 4xx or closed, never a
#    crash; the server keeps serving.
send_raw() { # payload-file → first status line (or empty when closed)
    local fd2 line=
    exec {fd2}<>/dev/tcp/127.0.0.1/"$PORT"
    cat "$1" >&"$fd2" 2>/dev/null || true
    IFS= read -r -t 5 -u "$fd2" line || true
    exec {fd2}>&- 2>/dev/null || true
    printf '%s' "${line%$'\r'}"
}
head -c 4096 /dev/urandom >"$D/garbage"
r=$(send_raw "$D/garbage"); [[ -z "$r" || "$r" == *" 4"* ]] && ok "random bytes: ${r:-closed}" || bad "random bytes: $r"
printf 'BREW /coffee HTCPCP/1.0\r\n\r\n' >"$D/p"
r=$(send_raw "$D/p"); [[ -z "$r" || "$r" == *" 4"* ]] && ok "bad request line: ${r:-closed}" || bad "bad request line: $r"
{ printf 'GET /api/v0/hosts HTTP/1.1\r\nHost: x\r\nX-Big: '; head -c 70000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >"$D/p"
r=$(send_raw "$D/p"); [[ -z "$r" || "$r" == *" 4"* ]] && ok "70 kB header: ${r:-closed}" || bad "70 kB header: $r"
{ printf 'PUT /api/v0/cluster/chunky HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nTransfer-Encoding: chunked\r\n\r\n' "$AUTH"
  for i in $(seq 1 40); do printf '10000\r\n'; head -c 65536 /dev/zero | tr '\0' ' '; printf '\r\n'; done
  printf '0\r\n\r\n'; } >"$D/p"
r=$(send_raw "$D/p"); [[ -z "$r" || "$r" == *" 411"* ]] && ok "2.5 MiB chunked body: ${r:-closed}" || bad "chunked body: $r"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$D/big"
code=$(curl -s -o "$D/body" -w '%{http_code}' -u u:pw -X PUT -H 'Content-Type: application/json' --data-binary @"$D/big" "$U/api/v0/cluster/big")
[[ "$code" == 413 ]] && grep -q '"error"' "$D/body" && ok "2 MiB body: 413 JSON" || bad "2 MiB body: $code $(head -c 200 "$D/body")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz")
[[ "$code" == 200 ]] && ok "still healthy" || bad "healthz after hostile input: $code"

# 4. Many concurrent clients, keep-alive.
seq 1 200 | xargs -P 64 -I{} curl -s -o /dev/null -w '%{http_code}\n' -u u:pw "$U/api/v0/cluster/keep" >"$D/codes"
n200=$(grep -c '^200$' "$D/codes" || true)
((n200 == 200)) && ok "200 requests from 64 parallel clients: all 200" || bad "only $n200/200 answered 200: $(sort "$D/codes" | uniq -c | tr '\n' ' ')"
curl -sv -u u:pw "$U/api/v0/hosts" "$U/api/v0/clusters" "$U/api/v0/networks" -o /dev/null -o /dev/null -o /dev/null 2>"$D/v"
grep -q 'Re-using existing connection\|Reusing existing' "$D/v" && ok "keep-alive: connection re-used" || bad "keep-alive: no re-use"
if command -v wrk >/dev/null; then
    wrk -t2 -c200 -d2s -H "Authorization: Basic $AUTH" "$U/api/v0/cluster/keep" >"$D/wrk" 2>&1 || true
    if grep -q "Non-2xx" "$D/wrk" || ! grep -q "Requests/sec" "$D/wrk"; then bad "wrk with 200 connections: $(cat "$D/wrk")"; else ok "wrk 200 connections: $(grep Requests/sec "$D/wrk")"; fi
fi

after=$(snapshot)
[[ "$before" == "$after" ]] && ok "nothing changed in the API server" || bad "API server changed: $before / $after"
((fails == 0)) || { echo "$fails failure(s)"; exit 1; }
