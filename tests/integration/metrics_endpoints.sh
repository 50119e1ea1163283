#!/usr/bin/env bash
# Observability of both binaries, from outside:
#  - commissaire-controller and commissaire-shim serve /metrics that parse as strict Prometheus
#    text (metrics_promparse.py), with the families the operators' dashboards need, and the
#    counters move when work happens (hosts reconciled over SSH, REST requests, auth failures);
#  - /healthz and /readyz answer 200 (and unknown paths 404);
#  - with --log-format json every log line is a JSON object with level and msg, and no secret
#    reaches the logs: not the SSH private key (nor a broken key's content), not the API token,
#    not the REST password or its bcrypt hash, not a bearer token sent to the shim.
set -euo pipefail
source "$(dirname "$0")/metrics_lib.sh"
: "${COMMISSAIRE_SHIM:?}"

ml_setup
ml_farm 2 fedora,debian
M=$KL_DIR/m
mkdir -p "$M"

# A key Secret whose content is not a key: the controller must fail the host without quoting it.
BADKEY_MARKER=c0mmissaireN0tAKeyButSecret$RANDOM$RANDOM
kubectl -n $NS create secret generic bad-key --type=kubernetes.io/ssh-auth \
    --from-literal=ssh-privatekey="-----BEGIN OPENSSH PRIVATE KEY-----
$BADKEY_MARKER
-----END OPENSSH PRIVATE KEY-----" >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: commissaire.io/v1alpha1
kind: ContainerManager
metadata: {name: k8s, namespace: $NS}
spec: {type: kubernetes, inCluster: true}
---
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: prod, namespace: $NS}
spec: {containerManager: k8s}
YAML
ml_kubelet
ml_controller c --log-format json --log-level debug

# ---- the shim: JSON logs, basic auth (bcrypt users file) then Kubernetes bearer tokens ------
SHIM_PASSWORD=pw-$RANDOM-$RANDOM-secret
if [[ -n ${SHIM_PASSHASH:-} ]]; then
    SHIM_HASH=$("$SHIM_PASSHASH" "$SHIM_PASSWORD" 4)
else
    SHIM_HASH=$(python3 -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' "$SHIM_PASSWORD")
fi
printf '{"ops": {"hash": "%s"}}\n' "$SHIM_HASH" >"$KL_DIR/users.json"
SHIM_LOG=$KL_DIR/shim.log
"$COMMISSAIRE_SHIM" --no-config-file --listen-interface 127.0.0.1 --listen-port 0 \
    --port-file "$KL_DIR/shim.port" --kubeconfig "$KUBECONFIG" --namespace $NS \
    --log-format json --debug \
    --authentication-plugin "httpbasicauth:filepath=$KL_DIR/users.json" \
    --authentication-plugin kubernetes >"$SHIM_LOG" 2>&1 &
SHIM_PID=$!
ML_EXTRA_PIDS+=("$SHIM_PID")
ml_wait 30 "the shim's port file" test -s "$KL_DIR/shim.port"
S=http://127.0.0.1:$(cat "$KL_DIR/shim.port")
C=http://127.0.0.1:${ML_PORT[c]}

# ---- health endpoints --------------------------------------------------------------------
ml_wait 30 "controller /readyz" curl -sf "$C/readyz"
ml_wait 30 "shim /readyz" curl -sf "$S/readyz"
ml_expect "controller /healthz" "$(curl -s -o /dev/null -w '%{http_code}' "$C/healthz")" 200
ml_expect "controller /readyz" "$(curl -s -o /dev/null -w '%{http_code}' "$C/readyz")" 200
ml_expect "controller /nope" "$(curl -s -o /dev/null -w '%{http_code}' "$C/nope")" 404
ml_expect "shim /healthz" "$(curl -s -o /dev/null -w '%{http_code}' "$S/healthz")" 200
ml_expect "shim /readyz" "$(curl -s -o /dev/null -w '%{http_code}' "$S/readyz")" 200
ml_expect "controller /metrics content type" \
    "$(curl -s -o /dev/null -w '%{content_type}' "$C/metrics")" "text/plain; version=0.0.4; charset=utf-8"

# ---- before any work ---------------------------------------------------------------------
ml_scrape "$C/metrics" "$M/c0"
ml_scrape "$S/metrics" "$M/s0"
r0=$(ml_get "$M/c0" 'commissaire_controller_reconcile_total{kind="Host"}')
api0=$(ml_sum "$M/c0" '^commissaire_controller_api_requests_total')
ssh0=$(ml_get "$M/c0" commissaire_controller_ssh_command_duration_seconds_count)
ml_expect "leader gauge without election" "$(ml_get "$M/c0" commissaire_controller_leader)" 1

# ---- work: two good hosts go active, one with a broken key fails ---------------------------
ml_host "${FARM_ADDRS[0]}" prod
ml_host "${FARM_ADDRS[1]}" prod
ml_host "${FARM_ADDRS[0]}" prod broken-key-host bad-key
for a in "${FARM_ADDRS[@]}"; do
    ml_wait 200 "$a active" ml_phase_is "$a" active
done
ml_wait 120 "broken-key-host failed" ml_phase_is broken-key-host failed
ml_log "hosts settled"

ml_scrape "$C/metrics" "$M/c1"
fams=$(ml_families "$M/c1")
for f in "commissaire_controller_reconcile_total counter" \
    "commissaire_controller_reconcile_errors_total counter" \
    "commissaire_controller_workqueue_depth gauge" \
    "commissaire_controller_reconcile_duration_seconds histogram" \
    "commissaire_controller_ssh_command_duration_seconds histogram" \
    "commissaire_controller_hosts gauge" \
    "commissaire_controller_api_requests_total counter" \
    "commissaire_controller_leader gauge"; do
    grep -qxF "$f" <<<"$fams" || ml_fail "controller /metrics lacks family '$f'"
done
# Operation progress (the Operation controller's families).
for f in "commissaire_operation_hosts gauge" "commissaire_operations gauge" \
    "commissaire_operation_steps_total counter" \
    "commissaire_operation_host_duration_seconds histogram"; do
    grep -qxF "$f" <<<"$fams" || ml_fail "controller /metrics lacks family '$f'"
done
r1=$(ml_get "$M/c1" 'commissaire_controller_reconcile_total{kind="Host"}')
ml_gt "$r1" "$((${r0%.*} + 2))" || ml_fail "Host reconciles did not move: $r0 -> $r1"
ml_gt "$(ml_get "$M/c1" 'commissaire_controller_reconcile_duration_seconds_count{kind="Host"}')" 2 ||
    ml_fail "reconcile duration histogram did not count the Host reconciles"
ml_gt "$(ml_get "$M/c1" commissaire_controller_ssh_command_duration_seconds_count)" "$ssh0" ||
    ml_fail "SSH command latency histogram did not move"
ml_gt "$(ml_sum "$M/c1" '^commissaire_controller_api_requests_total')" "$api0" ||
    ml_fail "API request counters did not move"
ml_gt "$(ml_sum "$M/c1" '^commissaire_controller_api_requests_total\{code="20[01]",verb="(PUT|PATCH|POST)"\}')" 0 ||
    ml_fail "no successful API writes counted"
ml_expect "hosts{phase=active}" "$(ml_get "$M/c1" 'commissaire_controller_hosts{phase="active"}')" 2
ml_expect "hosts{phase=failed}" "$(ml_get "$M/c1" 'commissaire_controller_hosts{phase="failed"}')" 1
ml_gt "$(ml_get "$M/c1" 'commissaire_controller_reconcile_errors_total{kind="Host"}')" -1 ||
    ml_fail "no reconcile error counter for Host"

# ---- the shim: requests and auth failures are counted ---------------------------------------
h1=$(ml_sum "$M/s0" '^commissaire_shim_http_requests_total')
af0=$(ml_get "$M/s0" commissaire_shim_auth_failures_total)
ml_expect "GET /api/v0/hosts (basic)" "$(curl -s -o /dev/null -w '%{http_code}' -u "ops:$SHIM_PASSWORD" "$S/api/v0/hosts")" 200
ml_expect "GET /api/v0/cluster/prod (bearer)" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KL_TOKEN" "$S/api/v0/cluster/prod")" 200
ml_expect "wrong password" "$(curl -s -o /dev/null -w '%{http_code}' -u "ops:not-$SHIM_PASSWORD" "$S/api/v0/hosts")" 403
ml_expect "bad bearer" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer x$KL_TOKEN" "$S/api/v0/hosts")" 403
ml_scrape "$S/metrics" "$M/s1"
sfams=$(ml_families "$M/s1")
for f in commissaire_shim_http_requests_total commissaire_shim_http_request_duration_seconds \
    commissaire_shim_auth_failures_total commissaire_shim_cache_objects; do
    grep -q "^$f " <<<"$sfams" || ml_fail "shim /metrics lacks family $f"
done
h2=$(ml_sum "$M/s1" '^commissaire_shim_http_requests_total')
ml_gt "$h2" "$(awk -v a="$h1" 'BEGIN { print a + 3 }')" || ml_fail "shim request counters did not move: $h1 -> $h2"
ml_gt "$(ml_get "$M/s1" commissaire_shim_auth_failures_total)" "$(awk -v a="$af0" 'BEGIN { print a + 1 }')" ||
    ml_fail "shim auth failures did not count both failures"
ml_expect "shim cache of hosts" "$(ml_get "$M/s1" 'commissaire_shim_cache_objects{kind="hosts"}')" 3

# ---- logs: JSON lines, no secrets ------------------------------------------------------------
ml_stop c
kill -TERM "$SHIM_PID"
wait "$SHIM_PID" || ml_fail "the shim exited badly on SIGTERM"
ML_EXTRA_PIDS=()
ml_sanitizer_check "$SHIM_LOG" shim
for f in "${ML_LOG[c]}" "$SHIM_LOG"; do
    python3 - "$f" <<'PY' || ml_fail "$f has lines that are not JSON log records"
import json, sys
path = sys.argv[1]
n = 0
for i, line in enumerate(open(path, encoding="utf-8"), 1):
    try:
        o = json.loads(line)
    except ValueError:
        sys.exit(f"{path}:{i}: not JSON: {line[:200]!r}")
    if not isinstance(o, dict) or not isinstance(o.get("msg"), str) or o.get("level") not in ("debug", "info", "warn", "error"):
        sys.exit(f"{path}:{i}: not a log record with level and msg: {line[:200]!r}")
    n += 1
if n < 5:
    sys.exit(f"{path}: only {n} lines")
print(f"{path}: {n} JSON lines")
PY
done

secrets=("$KL_TOKEN" "$SHIM_PASSWORD" "$SHIM_HASH" "$BADKEY_MARKER" "PRIVATE KEY"
    "$(base64 -w0 "$FARM_KEY" | cut -c1-40)")
while IFS= read -r l; do
    [[ ${#l} -ge 16 && $l != -----* ]] && secrets+=("$l")
done <"$FARM_KEY"
for s in "${secrets[@]}"; do
    for f in "${ML_LOG[c]}" "$SHIM_LOG"; do
        if grep -qF -- "$s" "$f"; then
            ml_fail "secret material (${s:0:6}…) found in $f"
        fi
    done
done
ml_log "checked ${#secrets[@]} secret strings against both logs"
# The broken key's failure must still be explained (without the key).
msg=$(ml_jp host broken-key-host .status.message)
[[ -n $msg && $msg != *"$BADKEY_MARKER"* ]] || ml_fail "broken-key-host message: '$msg'"
ml_log "PASS"
