#!/usr/bin/env bash
# Upgrade and deploy change the farm's OS version:
#  - upgrade (cluster "trad": two fedora hosts with an update to 39 available): the package
#    manager runs (dnf -y update), each host reboots once and comes back on 39, which the Host's
#    status shows too (facts refreshed) and spec.version=39 verifies;
#  - deploy (cluster "tree": two atomic hosts and one fedora host, failurePolicy Continue):
#    `rpm-ostree deploy VERSION` stages the tree, the reboot boots it (OSTREE_VERSION), the
#    fedora host fails before anything is done to it ("deploy needs an rpm-ostree host") and
#    is never rebooted, the operation Finishes with one failure;
#  - a deploy that asks for a version the host does not reach fails at Verifying.
set -euo pipefail
source "$(dirname "$0")/op_lib.sh"

op_setup
op_farm 5 fedora,fedora,atomic,atomic,fedora --reboot-seconds 1
op_secret
op_cluster trad
op_cluster tree
trad=("${FARM_ADDRS[0]}" "${FARM_ADDRS[1]}")
tree=("${FARM_ADDRS[2]}" "${FARM_ADDRS[3]}" "${FARM_ADDRS[4]}")
op_controller
op_hosts trad "${trad[@]}"
op_hosts tree "${tree[@]}"
op_wait_phase disassociated 240 "${FARM_ADDRS[@]}"
for a in "${trad[@]}"; do op_farm_host "$a" set-update 39; done
op_log "hosts ready"

op_create up trad upgrade "version: \"39\"" "maxUnavailable: 2"
op_create dep tree deploy "version: 29.20200202.0" "failurePolicy: Continue" "maxFailures: 1"
op_wait 120 "upgrade Finished" op_phase_is up Finished
op_wait 120 "deploy Finished" op_phase_is dep Finished

hj=$(op_hosts_json)
hstat() { jq -r --arg h "$1" --arg f "$2" '.items[] | select(.metadata.name == $h) | .status[$f] // ""' <<<"$hj"; }
for a in "${trad[@]}"; do
    op_expect_eq "$a farm version after upgrade" "$(op_farm_state "$a" os_version)" 39
    op_expect_eq "$a Host osVersion" "$(hstat "$a" osVersion)" 39
    op_expect_eq "$a reboots" "$(op_reboot_count "$a")" 1
    op_expect_eq "$a Host bootID" "$(hstat "$a" bootID)" "$(op_farm_boot_id "$a")"
    "$FARM_SH" records --dir "$FARM_DIR" "$a" | grep ' cmd dnf -y update' >/dev/null || op_fail "$a: dnf -y update never ran"
done
op_log "upgrade: fedora 38 -> 39"

j=$(op_json dep)
hf() { jq -r --arg h "$1" --arg f "$2" '.status.hosts[] | select(.name == $h) | .[$f] // ""' <<<"$j"; }
for a in "${FARM_ADDRS[2]}" "${FARM_ADDRS[3]}"; do
    op_expect_eq "$a farm version after deploy" "$(op_farm_state "$a" os_version)" 29.20200202.0
    op_expect_eq "$a Host osVersion" "$(hstat "$a" osVersion)" 29.20200202.0
    op_expect_eq "$a reboots" "$(op_reboot_count "$a")" 1
    op_expect_eq "$a step" "$(hf "$a" step)" Done
    "$FARM_SH" records --dir "$FARM_DIR" "$a" | grep " cmd rpm-ostree deploy 29.20200202.0" >/dev/null ||
        op_fail "$a: rpm-ostree deploy never ran"
done
trad_in_tree=${FARM_ADDRS[4]}
op_expect_eq "non-atomic host step" "$(hf "$trad_in_tree" step)" Failed
grep -q "deploy needs an rpm-ostree" <<<"$(hf "$trad_in_tree" message)" ||
    op_fail "non-atomic host message: $(hf "$trad_in_tree" message)"
op_expect_eq "non-atomic host reboots" "$(op_reboot_count "$trad_in_tree")" 0
if "$FARM_SH" records --dir "$FARM_DIR" "$trad_in_tree" | grep ' cmd rpm-ostree' >/dev/null; then
    op_fail "rpm-ostree ran on the non-atomic host"
fi
op_expect_eq "deploy counters" "$(jq -r '"\(.status.total)/\(.status.succeeded)/\(.status.failed)"' <<<"$j")" "3/2/1"
op_log "deploy: 2 atomic hosts on 29.20200202.0, the fedora host refused"

# A version the host does not reach: the check after the reboot catches it.
op_create up2 trad upgrade "version: \"40\""
op_wait 90 "upgrade to 40 Failed" op_phase_is up2 Failed
msg=$(op_host_field up2 "$(printf '%s\n' "${trad[@]}" | sort | head -n1)" message)
[[ "$msg" == Verifying:*"runs version 39"*"expected 40"* ]] || op_fail "verification message: $msg"
op_stop_controller
op_log "PASS"
