#!/usr/bin/env bash
# HA: two commissaire-controller replicas with --leader-elect against one API server.
#  1. Only the leader acts: while it leads, the standby has run no reconcile, no SSH command and
#     no API write (its own /metrics, which are strictly parsed), and the Lease names the leader.
#  2. The leader is SIGKILLed in the middle of a rolling restart (a host between its reboot and
#     its Done); the standby takes the Lease within the lease duration (+ one retry period and
#     a little scheduling slack), and finishes the Operation: every host rebooted exactly once
#     (the farm's reboot log), each with a new boot id, never more than maxUnavailable down.
set -euo pipefail
source "$(dirname "$0")/metrics_lib.sh"

# Short, but with a renew deadline that survives a busy CI machine (the leader steps down when it
# cannot renew within it, which would make b lead before the kill).
LEASE_MS=6000 RETRY_MS=500
LE=(--leader-elect --leader-elect-lease-duration "${LEASE_MS}ms" --leader-elect-renew-deadline 5s
    --leader-elect-retry-period "${RETRY_MS}ms")
OP=roll
M=$KL_DIR/m

ml_setup
mkdir -p "$M"
# Reboots of 6 s keep each host in its Rebooting step long enough to kill a there, however busy
# the machine is.
ml_farm 3 fedora,debian,centos --reboot-seconds 6
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

metric() { curl -sf --max-time 5 "http://127.0.0.1:${ML_PORT[$1]}/metrics" | awk -v k="$2" '$1 == k { print $2 }'; }
leader_is() { [[ $(metric "$1" commissaire_controller_leader) == 1 ]]; }
holder() { ml_jp lease commissaire-controller .spec.holderIdentity; }
now_ms() { date +%s%3N; }
# log_ts_ms LOG MSG — epoch ms of the first line with msg="MSG" (text log format).
log_ts_ms() {
    local ts
    ts=$(grep -m1 -F "msg=\"$2\"" "$1" | sed -n 's/^ts=\([^ ]*\).*/\1/p')
    [[ -n $ts ]] && date -d "$ts" +%s%3N
}

ml_controller a "${LE[@]}"
ml_wait 60 "a leads" leader_is a
ml_controller b "${LE[@]}"
ml_wait 60 "b is ready (caches synced)" curl -sf "http://127.0.0.1:${ML_PORT[b]}/readyz"
ml_wait 30 "b waits for leadership" grep -qF 'msg="waiting for leadership"' "${ML_LOG[b]}"
[[ $(holder) == a_* ]] || ml_fail "the Lease is held by '$(holder)', not a"
ml_log "a leads ($(holder)); b is the standby"

for h in "${FARM_ADDRS[@]}"; do ml_host "$h" prod; done
for h in "${FARM_ADDRS[@]}"; do
    ml_wait 120 "$h active" ml_phase_is "$h" active
done
ml_log "hosts active"
declare -A boot0=()
for h in "${FARM_ADDRS[@]}"; do boot0[$h]=$(farm_boot_id "$h"); done

# standby_idle TAG — b has done nothing of its own: no reconcile, no SSH, no API write.
standby_idle() {
    [[ $(holder) == a_* ]] ||
        ml_fail "a lost the Lease before the kill (holder '$(holder)'): the API server was too slow for the renew deadline"
    ml_scrape "http://127.0.0.1:${ML_PORT[b]}/metrics" "$M/b-$1"
    ml_expect "b leader gauge ($1)" "$(ml_get "$M/b-$1" commissaire_controller_leader)" 0
    ml_expect "b reconciles ($1)" "$(ml_sum "$M/b-$1" '^commissaire_controller_reconcile_total')" 0
    ml_expect "b SSH commands ($1)" "$(ml_get "$M/b-$1" commissaire_controller_ssh_command_duration_seconds_count)" 0
    ml_expect "b SSH sessions ($1)" "$(ml_sum "$M/b-$1" '^commissaire_controller_ssh_sessions')" 0
    ml_expect "b API writes ($1)" \
        "$(ml_sum "$M/b-$1" '^commissaire_controller_api_requests_total\{code="[0-9]+",verb="(POST|PUT|PATCH|DELETE)"\}')" 0
    ml_gt "$(ml_sum "$M/b-$1" '^commissaire_controller_api_requests_total')" 0 ||
        ml_fail "b made no API request at all ($1): is it watching?"
}
standby_idle hosts
ml_scrape "http://127.0.0.1:${ML_PORT[a]}/metrics" "$M/a-hosts"
ml_gt "$(ml_get "$M/a-hosts" commissaire_controller_ssh_command_duration_seconds_count)" 0 ||
    ml_fail "a ran no SSH command, yet the hosts are active"

kubectl apply -f - >/dev/null <<YAML
apiVersion: commissaire.io/v1alpha1
kind: Operation
metadata: {name: $OP, namespace: $NS}
spec: {cluster: prod, type: restart, maxUnavailable: 1}
YAML

# Kill a while the operation is mid-flight: a host Done, another rebooting (its reboot sent and
# recorded, the host not back yet). b's standby proof is taken in between, during the operation.
op_state() {
    kl_curl "/apis/commissaire.io/v1alpha1/namespaces/$NS/operations/$OP" --max-time 15 2>/dev/null |
        jq -r '[(.status.phase // "-"), (.status.succeeded // 0), ([.status.hosts[]? | select(.step == "Rebooting")] | length)] | @tsv'
}
mid_flight() {
    local phase done rebooting
    read -r phase done rebooting < <(op_state)
    [[ $phase == InProcess && $done -ge 1 && $rebooting == 1 ]]
}
first_done() {
    local phase done rebooting
    read -r phase done rebooting < <(op_state)
    [[ $done -ge 1 ]]
}
ml_wait 150 "the first host of the operation done" first_done
standby_idle op
ml_wait 150 "the operation mid-flight (a host done, another rebooting)" mid_flight
t_kill=$(now_ms)
ml_kill a
ml_log "SIGKILLed a mid-flight: $(kl_curl "/apis/commissaire.io/v1alpha1/namespaces/$NS/operations/$OP" --max-time 15 | jq -c '[.status.hosts[] | {name, step}]')"

ml_wait 30 "b leads" leader_is b
b_holds() { [[ $(kl_curl "/apis/coordination.k8s.io/v1/namespaces/$NS/leases/commissaire-controller" --max-time 15 | jq -r .spec.holderIdentity) == b_* ]]; }
ml_wait 10 "b holds the Lease" b_holds
t_lead=$(log_ts_ms "${ML_LOG[b]}" "became leader") || ml_fail "b logged no 'became leader'"
takeover=$((t_lead - t_kill))
ml_log "takeover: b became leader ${takeover} ms after the kill (lease ${LEASE_MS} ms)"
# The lease a renewed last expires at most LEASE_MS after the kill; b notices within one retry
# period; 1.5 s of slack for a machine busy running the rest of the suite.
((takeover >= 0 && takeover <= LEASE_MS + RETRY_MS + 1500)) ||
    ml_fail "takeover took ${takeover} ms (bound $((LEASE_MS + RETRY_MS + 1500)) ms)"

op_done() { [[ $(ml_cr operations $OP '.status.phase // ""') == Finished ]]; }
ml_wait 150 "the operation Finished under b" op_done
ml_expect "succeeded" "$(ml_jp operation $OP .status.succeeded)" 3
ml_expect "total" "$(ml_jp operation $OP .status.total)" 3
ml_expect "failed" "$(ml_jp operation $OP .status.failed)" 0
for h in "${FARM_ADDRS[@]}"; do
    ml_expect "$h reboots (farm reboot log)" "$(farm_reboot_count "$h")" 1
    [[ $(farm_boot_id "$h") != "${boot0[$h]}" ]] || ml_fail "$h has its old boot id"
    ml_expect "$h step" "$(kubectl --request-timeout=15s -n $NS get operation $OP -o jsonpath="{.status.hosts[?(@.name==\"$h\")].step}")" Done
done
ml_expect "max hosts down at once" "$(farm_max_concurrent_down)" 1

ml_scrape "http://127.0.0.1:${ML_PORT[b]}/metrics" "$M/b-end"
ml_expect "b leader gauge" "$(ml_get "$M/b-end" commissaire_controller_leader)" 1
ml_gt "$(ml_get "$M/b-end" commissaire_controller_ssh_command_duration_seconds_count)" 0 ||
    ml_fail "b ran no SSH command after taking over"
ml_gt "$(ml_sum "$M/b-end" '^commissaire_operation_steps_total')" 0 ||
    ml_fail "b recorded no Operation step after taking over"
ml_stop b
ml_log "PASS (takeover ${takeover} ms)"
