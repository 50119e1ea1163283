#!/usr/bin/env bash
# Failure policies on an unmanaged cluster of 4 farm hosts, where the second host's reboot
# command fails (the farm makes `systemctl reboot` exit 1 there):
#  - Abort (default): the first host finishes, the second fails with a message naming the step
#    and the reason, the last two are never started (Skipped, never rebooted); phase Failed,
#    condition Complete=False/HostFailed; the failing host is not annotated any more.
#  - Continue with maxFailures 1: the same host fails, every other host is restarted, and the
#    operation Finishes with one failure.
#  - hostTimeout: a host whose reboot takes longer fails with a message saying so.
#  - a host unreachable before its turn is waited for (then restarted), not failed at once.
set -euo pipefail
source "$(dirname "$0")/op_lib.sh"

op_setup
op_farm 4 fedora --reboot-seconds 1
op_secret
op_cluster lab
op_controller
op_hosts lab "${FARM_ADDRS[@]}"
op_wait_phase disassociated 240 "${FARM_ADDRS[@]}"
mapfile -t order < <(printf '%s\n' "${FARM_ADDRS[@]}" | sort)
bad=${order[1]}
op_farm_host "$bad" fail "systemctl reboot" 1
op_log "hosts ready; $bad's reboot will fail"

op_create abort lab restart "hostTimeout: 60s"
op_wait 90 "operation abort Failed" op_phase_is abort Failed
j=$(op_json abort)
hf() { jq -r --arg h "$1" --arg f "$2" '.status.hosts[] | select(.name == $h) | .[$f] // ""' <<<"$j"; }
op_expect_eq "first host" "$(hf "${order[0]}" step)" Done
op_expect_eq "failing host" "$(hf "$bad" step)" Failed
msg=$(hf "$bad" message)
[[ "$msg" == Rebooting:* && "$msg" == *"systemctl reboot"*"exited 1"* ]] ||
    op_fail "the failure message does not say which step failed and why: $msg"
for i in 2 3; do
    op_expect_eq "host $i after the failure" "$(hf "${order[$i]}" step)" Skipped
    op_expect_eq "host $i reboots" "$(op_reboot_count "${order[$i]}")" 0
done
op_expect_eq "reboots of the first host" "$(op_reboot_count "${order[0]}")" 1
op_expect_eq "reboots of the failing host" "$(op_reboot_count "$bad")" 0
op_expect_eq "counters" "$(jq -r '"\(.status.total)/\(.status.succeeded)/\(.status.failed)/\(.status.inProgress)"' <<<"$j")" "4/1/1/0"
op_expect_eq "Complete" "$(jq -r '.status.conditions[] | select(.type == "Complete") | .status + "/" + .reason' <<<"$j")" False/HostFailed
grep -q "host $bad failed" <<<"$(jq -r .status.message <<<"$j")" || op_fail "phase message does not name the host: $(jq -r .status.message <<<"$j")"
op_events abort | grep "^HostFailed host $bad: Rebooting" >/dev/null || op_fail "no HostFailed Event"
ann=$(op_hosts_json | jq -r '[.items[] | .metadata.annotations["commissaire.io/operation"] // empty] | length')
op_expect_eq "hosts still annotated" "$ann" 0
op_log "Abort: stopped after $bad failed"

op_create cont lab restart "failurePolicy: Continue" "maxFailures: 1" "maxUnavailable: 2" "hostTimeout: 60s"
op_wait 120 "operation cont Finished" op_phase_is cont Finished
j=$(op_json cont)
op_expect_eq "counters" "$(jq -r '"\(.status.total)/\(.status.succeeded)/\(.status.failed)"' <<<"$j")" "4/3/1"
op_expect_eq "failing host" "$(hf "$bad" step)" Failed
op_expect_eq "Complete" "$(jq -r '.status.conditions[] | select(.type == "Complete") | .status + "/" + .reason' <<<"$j")" True/FinishedWithFailures
op_expect_eq "reboots of the first host" "$(op_reboot_count "${order[0]}")" 2
for i in 2 3; do op_expect_eq "host $i reboots" "$(op_reboot_count "${order[$i]}")" 1; done
op_expect_eq "reboots of the failing host" "$(op_reboot_count "$bad")" 0
maxdown=$(op_max_down)
[[ $maxdown -le 2 ]] || op_fail "max down $maxdown > 2"
op_log "Continue: the others finished"

# hostTimeout bounds a host's whole sequence: a host that takes 120 s to reboot fails at 30 s.
op_farm_host "$bad" unfail
op_farm_host "$bad" set-reboot-seconds 120
op_create slow lab restart "maxUnavailable: 4" "hostTimeout: 30s" "failurePolicy: Continue" "maxFailures: 1"
op_wait 90 "operation slow Finished" op_phase_is slow Finished
msg=$(op_host_field slow "$bad" message)
[[ "$(op_host_field slow "$bad" step)" == Failed && "$msg" == Rebooting:*"timed out after 30s (hostTimeout)"* ]] ||
    op_fail "slow host: $(op_host_field slow "$bad" step): $msg"
op_expect_eq "slow counters" "$(op_json slow | jq -r '"\(.status.succeeded)/\(.status.failed)"')" "3/1"

# A host unreachable before its turn (nothing was done to it yet; say it is still coming back
# from an earlier reboot) is waited for, then restarted, not failed at the first refusal.
late=${order[2]}
before=$(op_reboot_count "$late")
kubectl -n $NS label host "$late" wave=late >/dev/null
op_farm_host "$late" unreachable
op_create late lab restart "hostSelector: {matchLabels: {wave: late}}"
retrying() { [[ "$(op_host_field late "$late" message)" == *"reading the boot id"*retrying* ]]; }
op_wait 30 "late host retried" retrying
sleep 3
op_farm_host "$late" reachable
op_wait 90 "operation late Finished" op_phase_is late Finished
op_expect_eq "late host" "$(op_host_field late "$late" step)" Done
op_expect_eq "late host reboots" "$(op_reboot_count "$late")" $((before + 1))
op_stop_controller
op_log "PASS"
