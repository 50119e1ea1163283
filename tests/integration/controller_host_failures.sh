#!/usr/bin/env bash
# Every way investigation can fail ends in phase `failed` with a precise reason, and hosts come
# back by themselves once the problem is gone:
#   wrong key -> AuthenticationFailed        pinned host key mismatch -> HostKeyMismatch, and
#   refused -> ConnectionRefused             the farm proves not one command reached the host
#   no answer (banner) -> Timeout            unknown OS -> UnknownOS (facts still recorded)
#   missing Secret -> SecretNotFound         first key recorded, later re-key -> HostKeyMismatch
set -euo pipefail
source "$(dirname "$0")/controller_host_lib.sh"

ct_setup
ct_farm 6 fedora,fedora,fedora,fedora,unknown,fedora
ct_secret farm-key
h_wrongkey=${FARM_ADDRS[0]} h_pinned=${FARM_ADDRS[1]} h_refused=${FARM_ADDRS[2]}
h_hang=${FARM_ADDRS[3]} h_unknown=${FARM_ADDRS[4]} h_nosecret=${FARM_ADDRS[5]}

ct_farm_host "$h_wrongkey" wrong-key
ct_farm_host "$h_refused" unreachable
ct_farm_host "$h_hang" hang
pinned_execs=$(ct_farm_execs "$h_pinned")

ct_controller
ct_host "$h_wrongkey"
ct_host "$h_pinned" "hostKey: SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
ct_host "$h_refused"
ct_host "$h_hang"
ct_host "$h_unknown"
ct_host "$h_nosecret"
kubectl -n $NS patch host "$h_nosecret" --type=merge -p '{"spec":{"sshKeySecretRef":{"name":"no-such-secret"}}}' >/dev/null

expect_failed() { # ADDR REASON [CONDITION]
    ct_wait 45 "$1 failed with $2" ct_reason_is "$1" "$2"
    ct_expect_eq "$1 phase" "$(ct_jp host "$1" .status.phase)" failed
    if [[ -n "${3:-}" ]]; then
        ct_expect_eq "$1 $3 reason" "$(ct_cond host "$1" "$3" reason)" "$2"
        ct_expect_eq "$1 $3 status" "$(ct_cond host "$1" "$3" status)" False
    fi
    [[ -n "$(ct_jp host "$1" .status.message)" ]] || ct_fail "$1: no message"
}
expect_failed "$h_wrongkey" AuthenticationFailed Reachable
expect_failed "$h_pinned" HostKeyMismatch Reachable
expect_failed "$h_refused" ConnectionRefused Reachable
expect_failed "$h_hang" Timeout Reachable
expect_failed "$h_unknown" UnknownOS Bootstrapped
expect_failed "$h_nosecret" SecretNotFound Reachable
ct_log "every failure has its reason"

# The mismatch: the message names both keys, and the host received no command at all.
msg=$(ct_jp host "$h_pinned" .status.message)
[[ $msg == *SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA* && $msg == *"$(ct_farm_state "$h_pinned" host_key)"* ]] ||
    ct_fail "mismatch message does not name both fingerprints: $msg"
ct_expect_eq "exec requests on the mismatched host" "$(ct_farm_execs "$h_pinned")" "$pinned_execs"
if ct_farm_records "$h_pinned" | awk '$3 == "sftp" || $3 == "shell"' | grep . >/dev/null; then
    ct_fail "the mismatched host got a session"
fi
# Unknown OS: the facts say what the host is.
ct_expect_eq "unknown os recorded" "$(ct_jp host "$h_unknown" .status.os)" slackware
[[ $(ct_jp host "$h_unknown" .status.message) == *slackware* ]] || ct_fail "UnknownOS message does not name the OS"
# The secret name is in the message; the key never is.
[[ $(ct_jp host "$h_nosecret" .status.message) == *no-such-secret* ]] || ct_fail "SecretNotFound message"
n=$(kubectl -n $NS get events -o json | jq --arg n "$h_wrongkey" '[.items[] | select(.involvedObject.name == $n and .type == "Warning" and .reason == "AuthenticationFailed")] | length')
[[ $n -ge 1 ]] || ct_fail "no Warning Event for the wrong key"

# Recovery without any change to the Hosts: fix the farm side, wait.
ct_farm_host "$h_wrongkey" right-key
ct_farm_host "$h_refused" reachable
ct_farm_host "$h_hang" reachable
kubectl -n $NS patch host "$h_nosecret" --type=merge -p '{"spec":{"sshKeySecretRef":{"name":"farm-key"}}}' >/dev/null
for a in "$h_wrongkey" "$h_refused" "$h_hang" "$h_nosecret"; do
    ct_wait 60 "$a recovered" ct_phase_is "$a" disassociated
done
ct_log "failed hosts came back by themselves"

# Trust on first use, then enforced: the recorded key changes on the host -> mismatch at the
# next periodic check, and from then on no command reaches it.
ct_expect_eq "TOFU key" "$(ct_jp host "$h_refused" .status.hostKeyFingerprint)" "$(ct_farm_state "$h_refused" host_key)"
ct_farm_host "$h_refused" rekey
sleep 0.5
execs=$(ct_farm_execs "$h_refused")
expect_failed "$h_refused" HostKeyMismatch Reachable
sleep 4 # at least one more retry interval
ct_expect_eq "exec requests after the re-key" "$(ct_farm_execs "$h_refused")" "$execs"

# An unreachable active host goes failed at its next check and comes back the same way.
ct_farm_host "$h_wrongkey" unreachable
expect_failed "$h_wrongkey" ConnectionRefused Reachable
ct_farm_host "$h_wrongkey" reachable
ct_wait 60 "$h_wrongkey back" ct_phase_is "$h_wrongkey" disassociated

keyline=$(sed -n 2p "$FARM_KEY")
if grep -qF "$keyline" "$CT_LOG"; then ct_fail "the private key is in the controller log"; fi
ct_stop_controller
ct_log "PASS"
