#!/usr/bin/env bash
# The controller is SIGKILLed twice in the middle of a rolling restart of 6 farm hosts
# (maxUnavailable 2, reboot time 2 s): once while a host is Rebooting, once later; each time a
# new controller process resumes from the Operation's status alone. The operation finishes,
# every host rebooted exactly once (no double reboot, none skipped), each with a new boot id,
# and never more than 2 hosts were down at once.
set -euo pipefail
source "$(dirname "$0")/op_lib.sh"

op_setup
op_farm 6 fedora --reboot-seconds 2
op_secret
op_cluster lab
op_controller
op_hosts lab "${FARM_ADDRS[@]}"
op_wait_phase disassociated 240 "${FARM_ADDRS[@]}"
declare -A boot_before
for a in "${FARM_ADDRS[@]}"; do boot_before[$a]=$(op_farm_boot_id "$a"); done

op_create roll lab restart "maxUnavailable: 2" "hostTimeout: 90s"
rebooting() { op_json roll | jq -e '[.status.hosts[]? | select(.step == "Rebooting")] | length >= 1' >/dev/null; }
op_wait 60 "a host Rebooting" rebooting
op_kill_controller
op_log "controller killed while $(op_json roll | jq -r '[.status.hosts[] | select(.step == "Rebooting") | .name] | join(",")') rebooting"
sleep 1
op_controller
done_some() { op_json roll | jq -e '.status.succeeded >= 3' >/dev/null; }
op_wait 90 "3 hosts done" done_some
# Second kill: right after a host entered a step (whatever it is).
moved() { op_json roll | jq -e '[.status.hosts[] | select(.step != "Pending" and .step != "Done")] | length >= 1' >/dev/null; }
op_wait 30 "a host in flight" moved
op_kill_controller
op_log "controller killed again: $(op_json roll | jq -c '[.status.hosts[] | select(.step != "Pending" and .step != "Done") | {name, step}]')"
op_controller
op_wait 360 "the operation Finished" op_phase_is roll Finished

j=$(op_json roll)
for a in "${FARM_ADDRS[@]}"; do
    op_expect_eq "$a reboots" "$(op_reboot_count "$a")" 1
    [[ "$(op_farm_boot_id "$a")" != "${boot_before[$a]}" ]] || op_fail "$a kept its boot id"
    op_expect_eq "$a step" "$(jq -r --arg h "$a" '.status.hosts[] | select(.name == $h) | .step' <<<"$j")" Done
done
maxdown=$(op_max_down)
[[ $maxdown -le 2 ]] || op_fail "max down $maxdown > 2"
op_expect_eq "counters" "$(jq -r '"\(.status.total)/\(.status.succeeded)/\(.status.failed)"' <<<"$j")" "6/6/0"
op_stop_controller
op_log "PASS"
