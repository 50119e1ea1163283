#!/usr/bin/env bash
# kube-lite's fault injection (admin listener, see hack/kube-lite/README.md): closing every
# watch, dropping the history (410 for old resourceVersions), failing or delaying a share of
# requests by path prefix and method (500/503/429 with Retry-After).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/kubelite.sh"
source "$here/kubelite_assert.sh"
WPID=
cleanup() {
    [[ -n "$WPID" ]] && { kill "$WPID" 2>/dev/null || true; wait "$WPID" 2>/dev/null || true; }
    kl_stop || exit 1
}
trap cleanup EXIT
kl_start
kl_require_faults
CM=/api/v1/namespaces/default/configmaps
req() { # METHOD PATH [BODY] -> KT_CODE, KT_BODY, KT_HDRS
    local out
    out=$(kl_curl "$2" -X "$1" -D "$KL_DIR/hdrs" -w '\n%{http_code}' ${3:+-H 'Content-Type: application/json' --data-binary "$3"})
    KT_CODE=${out##*$'\n'}
    KT_BODY=${out%$'\n'*}
    KT_HDRS=$(tr -d '\r' <"$KL_DIR/hdrs")
}

# ---- closing watches ----
kl_curl "$CM?watch=1&timeoutSeconds=60" -N >"$KL_DIR/w1" &
WPID=$!
stats_watches() { [[ "$(kl_admin GET /stats | jq .watches)" == "$1" ]]; }
kt_retry 10 stats_watches 1 && kt_pass || kt_fail "watch not counted: $(kl_admin GET /stats)"
kt_eq "close answer" "$(kl_admin POST /faults/watches/close | jq .closed)" 1
ended() { ! kill -0 "$WPID" 2>/dev/null; }
kt_retry 5 ended && kt_pass || kt_fail "watch still open after close"
wait "$WPID" 2>/dev/null || true
WPID=
kt_retry 5 stats_watches 0 && kt_pass || kt_fail "watch count not back to 0"

# ---- dropping history ----
req POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"h1"}}'
kt_expect 201
OLD=$(jq -r .metadata.resourceVersion <<<"$KT_BODY")
req POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"h2"}}'
out=$(kl_curl "$CM?watch=1&resourceVersion=$OLD&timeoutSeconds=1" -N)
kt_eq "watch from an rv in history" "$(jq -r '.type + " " + .object.metadata.name' <<<"$out")" "ADDED h2"
kl_admin POST /faults/history/drop >/dev/null
out=$(kl_curl "$CM?watch=1&resourceVersion=$OLD&timeoutSeconds=1" -N)
kt_eq "410 after drop" "$(jq -r '.type + " " + (.object.code|tostring) + " " + .object.reason' <<<"$out")" "ERROR 410 Expired"
req GET "$CM"
NOW=$(jq -r .metadata.resourceVersion <<<"$KT_BODY")
out=$(kl_curl "$CM?watch=1&resourceVersion=$NOW&timeoutSeconds=1" -N -w '%{http_code}')
kt_eq "watch from the current rv after drop" "$out" 200

# ---- failing requests ----
id=$(kl_admin POST "/faults/requests?pathPrefix=$CM&status=503&count=2&retryAfter=3" | jq .id)
req GET "$CM/h1"
kt_expect 503
kt_eq "503 reason" "$(jq -r .reason <<<"$KT_BODY")" ServiceUnavailable
kt_eq "503 retryAfterSeconds" "$(jq -r .details.retryAfterSeconds <<<"$KT_BODY")" 3
grep -qi '^Retry-After: 3$' <<<"$KT_HDRS" && kt_pass || kt_fail "no Retry-After header: $KT_HDRS"
req GET "$CM/h1"
kt_expect 503
req GET "$CM/h1"
kt_expect 200
kt_eq "rule matched count" "$(kl_admin GET /faults/requests | jq ".[] | select(.id==$id) | .matched")" 2
kl_admin DELETE "/faults/requests/$id" >/dev/null
kl_admin POST "/faults/requests?pathPrefix=/api/v1/namespaces/default&method=POST&status=429" >/dev/null
req POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"h3"}}'
kt_expect 429
kt_eq "429 reason" "$(jq -r .reason <<<"$KT_BODY")" TooManyRequests
req GET "$CM/h1"
kt_expect 200
kl_admin DELETE /faults/requests >/dev/null
kl_admin POST "/faults/requests?pathPrefix=/api/v1/namespaces/default/configmaps/h1&status=500&percent=50" >/dev/null
urls=()
for i in $(seq 200); do urls+=(-o /dev/null "$KL_URL$CM/h1"); done
# one curl, one keep-alive connection, 200 requests
fails=$(curl -sS --cacert "$KL_CA" -H "Authorization: Bearer $KL_TOKEN" -w '%{http_code}\n' \
    "${urls[@]}" | grep -c '^500$' || true)
((fails > 60 && fails < 140)) && kt_pass || kt_fail "50% rule failed $fails of 200"
kl_admin DELETE /faults/requests >/dev/null
kt_eq "rules cleared" "$(kl_admin GET /faults/requests | jq length)" 0
kl_admin POST "/faults/requests?pathPrefix=/api/v1/namespaces/default/configmaps/h1&delayMs=600" >/dev/null
t=$(kl_curl "$CM/h1" -o /dev/null -w '%{time_total}')
awk -v t="$t" 'BEGIN{exit !(t >= 0.6)}' && kt_pass || kt_fail "delay not applied ($t s)"
req GET "$CM/h2"
kt_expect 200
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$KL_ADMIN/faults/requests?status=503")
kt_eq "rule without pathPrefix" "$code" 400
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$KL_ADMIN/faults/requests?pathPrefix=/x&status=404")
kt_eq "unsupported status" "$code" 400

kt_summary
