#!/usr/bin/env bash
# Rolling restart of 10 farm hosts with maxUnavailable=2 on a managed cluster (kube-lite is the
# container manager, the fake kubelet reports each Node NotReady while its host is down):
#  - the farm's reboot log proves at most 2 hosts were ever down at once, every host rebooted
#    exactly once and came back with a new boot id (recorded in the Host's status, different
#    from the operation's bootIDBefore);
#  - every node was cordoned and is uncordoned again, the pods bound to the nodes were
#    evicted, and a PodDisruptionBudget held a drain back until it was deleted;
#  - status (phase, counters, times, per-host steps), Events and metrics tell the story;
#  - the annotation that keeps the Host reconciler away is gone afterwards, so is the
#    finalizer;
#  - a drain that a budget blocks for longer than drainTimeout fails the host (uncordoned,
#    not rebooted).
set -euo pipefail
source "$(dirname "$0")/op_lib.sh"

op_setup
op_farm 10 fedora --reboot-seconds 1
op_secret
op_cluster prod k8s
op_fake_kubelet
op_controller
op_hosts prod "${FARM_ADDRS[@]}"
op_wait_phase active 240 "${FARM_ADDRS[@]}"
op_log "10 hosts active"
mapfile -t order < <(printf '%s\n' "${FARM_ADDRS[@]}" | sort)

declare -A boot_before
for a in "${FARM_ADDRS[@]}"; do boot_before[$a]=$(op_farm_boot_id "$a"); done

# One pod per node, plus three "web" pods under a budget that allows one disruption: the first
# two hosts start together, so one of their drains must wait for the budget.
pods=""
for i in "${!order[@]}"; do
    pods+="---
apiVersion: v1
kind: Pod
metadata: {name: app-$i, namespace: default, labels: {app: other}}
spec: {nodeName: \"${order[$i]}\", containers: [{name: c, image: nginx}]}
"
done
for i in 0 1 9; do
    pods+="---
apiVersion: v1
kind: Pod
metadata: {name: web-$i, namespace: default, labels: {app: web}}
spec: {nodeName: \"${order[$i]}\", containers: [{name: c, image: nginx}]}
"
done
kubectl apply -f - >/dev/null <<<"$pods"
for p in $(kubectl -n default get pods -o name); do
    kl_curl "/api/v1/namespaces/default/pods/${p#pod/}/status" -X PATCH -o /dev/null -f \
        -H 'Content-Type: application/merge-patch+json' \
        --data-binary '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}'
done
kubectl -n default create pdb web --selector=app=web --min-available=2 >/dev/null
pdb_ok() { [[ "$(kubectl -n default get pdb web -o jsonpath='{.status.disruptionsAllowed}')" == 1 ]]; }
op_wait 20 "the PodDisruptionBudget allows one disruption" pdb_ok

kubectl get nodes --watch --no-headers -o custom-columns=N:.metadata.name,U:.spec.unschedulable \
    >"$KL_DIR/nodes.watch" 2>/dev/null &
OP_BG+=($!)

op_create roll prod restart "maxUnavailable: 2" "drainTimeout: 60s" "hostTimeout: 90s"

# The budget holds one of the first two drains back.
blocked() { op_events roll | grep '^DrainBlocked ' >/dev/null; }
op_wait 30 "a DrainBlocked Event" blocked
held=$(op_events roll | awk '$1 == "DrainBlocked" { print $3; exit }' | tr -d :)
[[ " ${order[0]} ${order[1]} " == *" $held "* ]] || op_fail "DrainBlocked for $held, not one of the first two hosts"
op_host_step_is roll "$held" Draining || op_fail "$held is not Draining while blocked"
grep -q PodDisruptionBudget <<<"$(op_host_field roll "$held" message)" ||
    op_fail "the blocked host's message does not name the budget: $(op_host_field roll "$held" message)"
sleep 2
op_host_step_is roll "$held" Draining || op_fail "$held left Draining while the budget forbade it"
op_expect_eq "the held host was not rebooted" "$(op_reboot_count "$held")" 0
op_log "the budget held $held's drain back; deleting it"
kubectl -n default delete pdb web >/dev/null

op_wait 360 "the operation Finished" op_phase_is roll Finished
op_log "operation finished"

# The farm's view: never more than 2 down, each host exactly one reboot, each a new boot id.
maxdown=$(op_max_down)
[[ $maxdown -ge 1 && $maxdown -le 2 ]] || op_fail "max hosts down at once: $maxdown (want 1..2)"
opj=$(op_json roll)
hj=$(op_hosts_json)
# One process per source (the machine may be busy): op entries, Host statuses, reboot counts.
declare -A ent hst reb
while read -r n rest; do ent[$n]=$rest; done < <(jq -r '.status.hosts[] |
    "\(.name) \(.step) \(.bootIDBefore // "-") \(.address // "-") \(.startedAt // "-") \(.finishedAt // "-")"' <<<"$opj")
while read -r n rest; do hst[$n]=$rest; done < <(jq -r '.items[] |
    "\(.metadata.name) \(.status.bootID // "-") \(.metadata.annotations["commissaire.io/operation"] // "-")"' <<<"$hj")
while read -r n c; do reb[$n]=$c; done < <(awk '$3 == "down" && $4 == "reboot" { n[$2]++ } END { for (a in n) print a, n[a] }' "$FARM_DIR/reboot.log")
for a in "${FARM_ADDRS[@]}"; do
    read -r step before addr started finished <<<"${ent[$a]:-}"
    read -r hboot hann <<<"${hst[$a]:-}"
    read -r now <"$FARM_DIR/hosts/$a/root/.hostfarm/facts/boot_id"
    op_expect_eq "$a reboots" "${reb[$a]:-0}" 1
    [[ "$now" != "${boot_before[$a]}" ]] || op_fail "$a kept its boot id"
    op_expect_eq "$a bootIDBefore" "$before" "${boot_before[$a]}"
    op_expect_eq "$a Host status.bootID" "$hboot" "$now"
    op_expect_eq "$a step" "$step" Done
    op_expect_eq "$a address" "$addr" "$a"
    [[ "$started" != - && "$finished" != - ]] || op_fail "$a has no startedAt/finishedAt"
    op_expect_eq "$a annotation" "$hann" -
done
op_log "reboot log: max $maxdown down at once, every host rebooted once with a new boot id"

# Status.
op_expect_eq "total/succeeded/failed/inProgress" \
    "$(jq -r '"\(.status.total)/\(.status.succeeded)/\(.status.failed)/\(.status.inProgress)"' <<<"$opj")" "10/10/0/0"
[[ -n "$(jq -r '.status.startedAt // ""' <<<"$opj")" && -n "$(jq -r '.status.finishedAt // ""' <<<"$opj")" ]] ||
    op_fail "no startedAt/finishedAt"
op_expect_eq "Complete condition" "$(jq -r '.status.conditions[] | select(.type == "Complete") | .status' <<<"$opj")" True
op_expect_eq "observedGeneration" "$(jq -r .status.observedGeneration <<<"$opj")" "$(jq -r .metadata.generation <<<"$opj")"
op_expect_eq "finalizers" "$(jq -c '.metadata.finalizers // []' <<<"$opj")" "[]"
# The hosts were started in name order, in a window of two: the third host started only after
# one of the first two finished.
field() { local f=(${ent[$1]}); echo "${f[$2]}"; }
s3=$(field "${order[2]}" 3)
first_done=$(printf '%s\n%s\n' "$(field "${order[0]}" 4)" "$(field "${order[1]}" 4)" | sort | head -n1)
[[ "$s3" > "$first_done" || "$s3" == "$first_done" ]] || op_fail "host 3 started at $s3 before any of the first two finished"

# Nodes: each was cordoned at some point and none is cordoned now.
declare -A unsched
while read -r n u; do unsched[$n]=$u; done < <(kl_curl /api/v1/nodes | jq -r '.items[] | "\(.metadata.name) \(.spec.unschedulable // false)"')
declare -A seen_cordoned
while read -r n; do seen_cordoned[$n]=1; done < <(awk '$2 == "true" { print $1 }' "$KL_DIR/nodes.watch")
for a in "${FARM_ADDRS[@]}"; do
    [[ -n "${seen_cordoned[$a]:-}" ]] || op_fail "node $a was never seen cordoned"
    op_expect_eq "node $a unschedulable" "${unsched[$a]:-missing}" false
done
# Pods: all evicted.
left=$(kubectl -n default get pods -o name | wc -l)
op_expect_eq "pods left on the nodes" "$left" 0

# Events and metrics.
ev=$(op_events roll)
for r in Started Cordoning Draining Rebooting Rebooted WaitingNodeReady Uncordoning HostDone Finished; do
    grep -q "^$r " <<<"$ev" || op_fail "no $r Event"
done
op_expect_eq "HostDone events" "$(grep -c '^HostDone ' <<<"$ev")" 10
op_expect_eq "metric succeeded" "$(op_metric 'commissaire_operation_hosts{operation="commissaire/roll",state="succeeded"}')" 10
op_expect_eq "metric phase" "$(op_metric 'commissaire_operations{phase="Finished"}')" 1
n=$(op_metric 'commissaire_operation_host_duration_seconds_count{type="restart"}')
op_expect_eq "host duration observations" "$n" 10

# The Host reconciler was kept away from the reboots and takes over again: hosts stay active.
_op_hosts_in_phase active "${FARM_ADDRS[@]}" || op_fail "hosts are not active after the operation"

# drainTimeout: a budget that never allows the eviction fails the host at Draining; its node
# is uncordoned again and it is not rebooted.
h=${order[0]}
kubectl -n $NS label host "$h" drain-test=yes >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: stuck, namespace: default, labels: {app: stuck}}
spec: {nodeName: "$h", containers: [{name: c, image: nginx}]}
YAML
kl_curl "/api/v1/namespaces/default/pods/stuck/status" -X PATCH -o /dev/null -f \
    -H 'Content-Type: application/merge-patch+json' \
    --data-binary '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}'
kubectl -n default create pdb stuck --selector=app=stuck --min-available=1 >/dev/null
op_create stuck prod restart "drainTimeout: 3s" "hostSelector: {matchLabels: {drain-test: \"yes\"}}"
op_wait 60 "operation stuck Failed" op_phase_is stuck Failed
msg=$(op_host_field stuck "$h" message)
[[ "$msg" == Draining:*"drain did not finish within 3s (drainTimeout)"*"PodDisruptionBudget"*"node uncordoned"* ]] ||
    op_fail "drain timeout message: $msg"
op_expect_eq "uncordoned after the failed drain" "$(kl_curl "/api/v1/nodes/$h" | jq -r '.spec.unschedulable // false')" false
op_expect_eq "not rebooted by the failed operation" "$(op_reboot_count "$h")" 1
op_stop_controller
op_log "PASS"
