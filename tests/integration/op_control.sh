#!/usr/bin/env bash
# Controlling operations on an unmanaged cluster of 4 farm hosts (reboot time 2 s):
#  - bad specs are rejected by the API server with a reason (unknown type, deploy without
#    version, maxUnavailable 0 or "150%"), and specs the schema lets through but the controller
#    cannot run end Failed with condition Accepted=False and a precise reason;
#  - a second operation on the same cluster waits Pending (saying for which one) and starts by
#    itself when the first ends;
#  - pause stops new hosts from starting while the one in flight finishes; resume goes on;
#  - cancel stops the second operation: hosts not started are Skipped and never rebooted;
#  - deleting a running operation releases its finalizer and leaves no host annotated.
set -euo pipefail
source "$(dirname "$0")/op_lib.sh"

op_setup
op_farm 4 fedora --reboot-seconds 2
op_secret
op_cluster lab
op_controller
op_hosts lab "${FARM_ADDRS[@]}"

# ---- schema rejections (no controller needed) ----
reject() { # reject DESC EXPECTED-SUBSTRING spec-lines...
    local desc=$1 want=$2 out
    shift 2
    if out=$(op_create bad lab "$@" 2>&1); then
        op_fail "$desc was accepted"
    fi
    grep -qF -- "$want" <<<"$out" || op_fail "$desc: error does not say '$want': $out"
}
reject "unknown type" 'spec.type: Unsupported value: "reboot"' reboot
reject "deploy without version" 'spec.version: Required value' deploy
reject "maxUnavailable 0" 'spec.maxUnavailable' restart "maxUnavailable: 0"
reject "maxUnavailable 150%" 'spec.maxUnavailable' restart 'maxUnavailable: "150%"'
op_log "bad specs rejected by the schema"

# ---- specs only the controller can judge ----
op_create badsel lab restart "hostSelector: {matchExpressions: [{key: rack, operator: In}]}"
op_create badver lab deploy "version: \"1;reboot\""
failed_with() { [[ "$(op_json "$1" | jq -r '.status.phase + "/" + (.status.conditions[]? | select(.type == "Accepted") | .reason)')" == "Failed/$2" ]]; }
op_wait 30 "badsel Failed/InvalidHostSelector" failed_with badsel InvalidHostSelector
op_wait 30 "badver Failed/InvalidVersion" failed_with badver InvalidVersion
op_events badver | grep '^Invalid ' >/dev/null || op_fail "no Invalid Event"
op_log "invalid specs failed with their reasons"

op_wait_phase disassociated 240 "${FARM_ADDRS[@]}"
mapfile -t order < <(printf '%s\n' "${FARM_ADDRS[@]}" | sort)

# ---- queue + pause/resume ----
op_create first lab restart
sleep 1 # a later creationTimestamp (second resolution)
op_create second lab restart "maxUnavailable: 2"
pending_for_first() { op_json second | jq -e '.status.phase == "Pending" and (.status.message | test("waiting for operation first"))' >/dev/null; }
op_wait 30 "second Pending behind first" pending_for_first
in_flight() { op_json first | jq -e '.status.inProgress == 1' >/dev/null; }
op_wait 30 "first has a host in flight" in_flight
kubectl -n $NS patch operation first --type merge -p '{"spec":{"paused":true}}' >/dev/null
op_wait 30 "first Paused" op_phase_is first Paused
# The host in flight finishes; nothing new starts.
flight_done() { op_json first | jq -e '.status.inProgress == 0' >/dev/null; }
op_wait 30 "the host in flight finished while paused" flight_done
pend=$(op_json first | jq -r '[.status.hosts[] | select(.step == "Pending")] | length')
reb=$(op_reboots_total)
[[ $pend -ge 1 ]] || op_fail "nothing left to hold back when paused"
sleep 3
j=$(op_json first)
op_expect_eq "first while paused" "$(jq -r '"\(.status.phase) \(.status.inProgress) \([.status.hosts[] | select(.step == "Pending")] | length)"' <<<"$j")" "Paused 0 $pend"
op_expect_eq "reboots while paused" "$(op_reboots_total)" "$reb"
op_events first | grep '^Paused ' >/dev/null || op_fail "no Paused Event"
op_phase_is second Pending || op_fail "second started while first was paused"
kubectl -n $NS patch operation first --type merge -p '{"spec":{"paused":false}}' >/dev/null
op_wait 60 "first Finished" op_phase_is first Finished
op_events first | grep '^Resumed ' >/dev/null || op_fail "no Resumed Event"
op_log "pause/resume done; second should start now"

# ---- the queued operation starts by itself; cancel it ----
second_started() { op_json second | jq -e '.status.phase == "InProcess" and .status.inProgress >= 1' >/dev/null; }
op_wait 30 "second started after first" second_started
kubectl -n $NS patch operation second --type merge -p '{"spec":{"cancel":true}}' >/dev/null
op_wait 30 "second Canceled" op_phase_is second Canceled
sleep 3 # anything wrongly started would reboot now
j=$(op_json second)
skipped=$(jq -r '[.status.hosts[] | select(.step == "Skipped")] | length' <<<"$j")
[[ $skipped -ge 2 ]] || op_fail "second: only $skipped hosts Skipped"
for a in $(jq -r '.status.hosts[] | select(.step == "Skipped" and (.message | startswith("not started"))) | .name' <<<"$j"); do
    op_expect_eq "$a reboots (first only)" "$(op_reboot_count "$a")" 1
done
ann=$(op_hosts_json | jq -r '[.items[] | .metadata.annotations["commissaire.io/operation"] // empty] | length')
op_expect_eq "hosts annotated after cancel" "$ann" 0
op_log "second canceled: $skipped hosts skipped"

# ---- delete a running operation ----
op_create third lab restart
rebooting() { op_json third | jq -e '[.status.hosts[]? | select(.step == "Rebooting")] | length == 1' >/dev/null; }
op_wait 30 "third has a host rebooting" rebooting
op_expect_eq "finalizer while running" "$(op_json third | jq -r '.metadata.finalizers[0]')" commissaire.io/operation-cleanup
kubectl -n $NS delete operation third --timeout=30s >/dev/null
gone() { ! kubectl -n $NS get operation third >/dev/null 2>&1; }
op_wait 30 "third deleted" gone
ann=$(op_hosts_json | jq -r '[.items[] | .metadata.annotations["commissaire.io/operation"] // empty] | length')
op_expect_eq "hosts annotated after delete" "$ann" 0
op_log "third deleted while running; no annotation left"

# ---- hostSelector, and a host deleted mid-operation ----
for i in 0 1 3; do kubectl -n $NS label host "${order[$i]}" role=canary >/dev/null; done
declare -A reb
for a in "${FARM_ADDRS[@]}"; do reb[$a]=$(op_reboot_count "$a"); done
op_create fourth lab restart "hostSelector: {matchLabels: {role: canary}}"
first_in_flight() { op_json fourth | jq -e --arg h "${order[0]}" '.status.hosts[] | select(.name == $h) | .step != "Pending"' >/dev/null; }
op_wait 30 "fourth started its first host" first_in_flight
kubectl -n $NS delete host "${order[3]}" --wait=false >/dev/null
op_wait 90 "fourth Finished" op_phase_is fourth Finished
j=$(op_json fourth)
op_expect_eq "selected hosts" "$(jq -r '[.status.hosts[].name] | join(",")' <<<"$j")" "${order[0]},${order[1]},${order[3]}"
dmsg=$(jq -r --arg h "${order[3]}" '.status.hosts[] | select(.name == $h) | .step + ": " + .message' <<<"$j")
[[ "$dmsg" =~ ^"Skipped: not started: the Host "(was|is\ being)" deleted"$ ]] || op_fail "deleted host: $dmsg"
op_expect_eq "unselected host untouched" "$(op_reboot_count "${order[2]}")" "${reb[${order[2]}]}"
op_expect_eq "deleted host not rebooted" "$(op_reboot_count "${order[3]}")" "${reb[${order[3]}]}"
for i in 0 1; do op_expect_eq "selected host $i rebooted" "$(op_reboot_count "${order[$i]}")" "$((reb[${order[$i]}] + 1))"; done
op_stop_controller
op_log "PASS"
