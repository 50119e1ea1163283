#!/bin/bash
# Faults on demand: unreachable (refused), hang (banner timeout), wrong key (auth refused),
# rekey (host-key mismatch). In every refused case the host records no command.
set -euo pipefail
source "$(dirname "$0")/hostfarm_lib.sh"

farm_start 2 fedora,debian
a=${FARM_ADDRS[0]} b=${FARM_ADDRS[1]}
execs() { farm_records "$1" | awk '$3 == "exec" || $3 == "sftp" || $3 == "shell"' | wc -l; }

step "unreachable: connection refused at once; reachable again with the same boot id"
boot=$(farm_state "$a" boot_id)
farm_host "$a" unreachable
expect_eq "status" "$(farm_state "$a" status)" unreachable
t0=$(date +%s%3N)
err=$(farm_ssh "$a" true 2>&1 || true)
expect_contains "refused" "$err" "Connection refused"
(($(date +%s%3N) - t0 < 5000)) || fail "refusal took too long"
expect_eq "the other host is unaffected" "$(ssh_rc "$b" true)" 0
farm_host "$a" reachable
expect_eq "back" "$(ssh_rc "$a" true)" 0
expect_eq "not a reboot: same boot id" "$(farm_state "$a" boot_id)" "$boot"
expect_contains "logged as down" "$(farm_reboot_log)" " $a down unreachable $boot"
expect_eq "no reboot counted" "$(farm_reboot_count "$a")" 0

step "hang: TCP accepted, no SSH banner → the client times out"
farm_host "$a" hang
err=$(farm_ssh "$a" -o ConnectTimeout=2 true 2>&1 || true)
expect_contains "banner timeout" "$err" "timed out"
farm_host "$a" reachable
expect_eq "back" "$(ssh_rc "$a" true)" 0

step "wrong key: authentication refused, nothing runs"
n=$(execs "$a")
farm_host "$a" wrong-key
err=$(farm_ssh "$a" 'touch /tmp/should-not-exist' 2>&1 || true)
expect_contains "auth refused" "$err" "Permission denied (publickey)"
expect_eq "no command recorded" "$(execs "$a")" "$n"
[[ ! -e $FARM_DIR/hosts/$a/root/tmp/should-not-exist ]] || fail "a command ran with the wrong key"
expect_eq "other host still accepts the key" "$(ssh_rc "$b" true)" 0
farm_host "$a" right-key
expect_eq "right key again" "$(ssh_rc "$a" true)" 0

step "rekey: a client that pinned the old key refuses to talk; no command reaches the host"
old_kh=$(mktemp)
cp "$FARM_KNOWN_HOSTS" "$old_kh"
fp0=$(farm_host_key_fp "$a")
farm_host "$a" rekey
fp1=$(farm_host_key_fp "$a")
[[ $fp0 != "$fp1" ]] || fail "host key did not change"
seen=$(ssh-keyscan -p "$FARM_PORT" "$a" 2>/dev/null | ssh-keygen -lf - | awk '{print $2}')
expect_eq "served key is the new one" "$seen" "$fp1"
n=$(execs "$a")
err=$(ssh -F "$FARM_SSH_CONFIG" -o UserKnownHostsFile="$old_kh" "$a" true 2>&1 || true)
rm -f "$old_kh"
expect_contains "mismatch detected" "$err" "REMOTE HOST IDENTIFICATION HAS CHANGED"
expect_eq "no command recorded" "$(execs "$a")" "$n"
expect_eq "farm known_hosts has the new key" "$(ssh_rc "$a" true)" 0
echo PASS
