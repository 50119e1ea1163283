#!/usr/bin/env bash
# A reboot is noticed at the next periodic check (new boot id), announced with an Event, and the
# configuration is re-verified: what the reboot lost (a service that was disabled behind the
# controller's back is not running after boot) is repaired; on a host the reboot did not harm,
# re-verification changes nothing.
set -euo pipefail
source "$(dirname "$0")/controller_host_lib.sh"

ct_setup
ct_farm 2 fedora,debian
ct_secret farm-key
ct_controller
broken=${FARM_ADDRS[0]} intact=${FARM_ADDRS[1]}
for a in "${FARM_ADDRS[@]}"; do ct_host "$a"; done
for a in "${FARM_ADDRS[@]}"; do ct_wait 60 "$a disassociated" ct_phase_is "$a" disassociated; done

old_boot=$(ct_jp host "$broken" .status.bootID)
old_boot2=$(ct_jp host "$intact" .status.bootID)
# Someone disables docker on one host; it keeps running until the reboot.
"$FARM_SH" ssh --dir "$FARM_DIR" "$broken" systemctl disable docker >/dev/null
from_b=$(($(ct_farm_cmds "$broken" | wc -l) + 1))
from_i=$(($(ct_farm_cmds "$intact" | wc -l) + 1))
ct_farm_host "$broken" reboot
ct_farm_host "$intact" reboot

new_boot_seen() { b=$(ct_jp host "$1" .status.bootID); [[ -n "$b" && "$b" != "$2" ]]; }
ct_wait 60 "$broken new boot id" new_boot_seen "$broken" "$old_boot"
ct_wait 60 "$intact new boot id" new_boot_seen "$intact" "$old_boot2"
for a in "${FARM_ADDRS[@]}"; do ct_wait 60 "$a settled again" ct_phase_is "$a" disassociated; done
ct_farm_snapshot
ct_expect_eq "boot id = farm's" "$(ct_jp host "$broken" .status.bootID)" "$(ct_farm_state "$broken" boot_id)"

events=$(kubectl -n $NS get events -o json)
for a in "${FARM_ADDRS[@]}"; do
    n=$(jq --arg n "$a" '[.items[] | select(.involvedObject.name == $n and .reason == "Rebooted")] | length' <<<"$events")
    [[ $n -ge 1 ]] || ct_fail "$a: no Rebooted Event"
done

# The broken host: docker enabled and restarted again after the reboot.
after=$(ct_farm_cmds "$broken" | tail -n +"$from_b")
grep -qx 'systemctl enable docker' <<<"$after" || ct_fail "docker was not re-enabled: $after"
grep -qx 'systemctl restart docker' <<<"$after" || ct_fail "docker was not restarted: $after"
ct_expect_eq "docker active on $broken" "$(ct_farm_state "$broken" active | tr ',' '\n' | grep -cx docker)" 1
# The intact host: only checks after the reboot.
changes=$(ct_farm_cmds "$intact" | tail -n +"$from_i" | grep -E ' (install|enable|restart|daemon-reload)( |$)' || true)
[[ -z "$changes" ]] || ct_fail "$intact was changed by the re-verification: $changes"

ct_stop_controller
ct_log "PASS"
