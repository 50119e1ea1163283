#!/bin/bash
# Reboots: the host really goes away (connections refused, open sessions die) for the configured
# time, comes back with a new boot id, applies what a reboot applies (staged rpm-ostree
# deployment, enabled services), and the reboot log lets a test prove how many hosts were down
# at once and that each rebooted exactly once.
set -euo pipefail
source "$(dirname "$0")/hostfarm_lib.sh"

farm_start 4 atomic,fedora,debian,centos --reboot-seconds 1
atom=${FARM_ADDRS[0]} fed=${FARM_ADDRS[1]} deb=${FARM_ADDRS[2]} cen=${FARM_ADDRS[3]}

wait_rebooted() { # wait_rebooted ADDR COUNT — until the host rebooted COUNT times and is up
  local i
  for ((i = 0; i < 200; i++)); do
    [[ $(farm_reboot_count "$1") -ge $2 && $(farm_state "$1" status) == up ]] && return 0
    sleep 0.05
  done
  fail "$1 did not come back from reboot $2 (status $(farm_state "$1" status))"
}

step "reboot: command succeeds, host unreachable meanwhile, back with a new boot id"
b0=$(farm_state "$fed" boot_id)
farm_ssh "$fed" 'sleep 60' >/dev/null 2>&1 &
session=$!
sleep 0.5
t0=$(date +%s%3N)
expect_eq "reboot exit status reaches the client" "$(ssh_rc "$fed" 'systemctl reboot')" 0
for ((i = 0; i < 40; i++)); do [[ $(farm_state "$fed" status) == rebooting ]] && break; sleep 0.05; done
expect_eq "status while down" "$(farm_state "$fed" status)" rebooting
err=$(farm_ssh "$fed" true 2>&1 || true)
expect_contains "connection while down" "$err" "Connection refused"
for ((i = 0; i < 60; i++)); do kill -0 "$session" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$session" 2>/dev/null || fail "an open session survived the reboot"
wait "$session" 2>/dev/null || true
wait_rebooted "$fed" 1
b1=$(farm_ssh "$fed" 'cat /proc/sys/kernel/random/boot_id')
[[ $b1 != "$b0" ]] || fail "boot id unchanged after reboot"
expect_eq "farm state boot id" "$(farm_state "$fed" boot_id)" "$b1"
# The log: one down (old boot id) then one up (new boot id), at least the reboot time apart.
log=$(farm_reboot_log | grep " $fed ")
expect_eq "log lines" "$(wc -l <<<"$log")" 2
read -r tdown _ w1 reason old <<<"$(sed -n 1p <<<"$log")"
read -r tup _ w2 new <<<"$(sed -n 2p <<<"$log")"
expect_eq "down line" "$w1 $reason $old" "down reboot $b0"
expect_eq "up line" "$w2 $new" "up $b1"
((tdown >= t0 - 5)) || fail "down logged before the reboot command ($tdown < $t0)"
((tup - tdown >= 1000)) || fail "down for $((tup - tdown)) ms, want >= 1000"
farm_records "$fed" | grep " event down reboot$" >/dev/null || fail "host records lack the down event"
expect_eq "reboot count" "$(farm_reboot_count "$fed")" 1

step "concurrent reboots are visible in max-down; per-host reboot time"
farm_host "$deb" set-reboot-seconds 2.5
t0=$(date +%s%3N)
farm_ssh "$deb" reboot >/dev/null 2>&1 || true
farm_ssh "$cen" 'shutdown -r now' >/dev/null 2>&1 || true
wait_rebooted "$cen" 1
wait_rebooted "$deb" 1
expect_eq "max concurrent down" "$(farm_max_concurrent_down)" 2
d=$(farm_reboot_log | awk -v a="$deb" '$2 == a && $3 == "down" { d = $1 } $2 == a && $3 == "up" { print $1 - d }')
((d >= 2500)) || fail "per-host reboot time: down $d ms, want >= 2500"
# Sequential reboots do not overlap.
farm_ssh "$fed" reboot >/dev/null 2>&1 || true
wait_rebooted "$fed" 2
expect_eq "max concurrent down unchanged" "$(farm_max_concurrent_down)" 2

step "rpm-ostree deploy takes effect at the reboot, not before"
v0=$(farm_state "$atom" os_version)
farm_ssh "$atom" 'rpm-ostree deploy 29.20200301.0' >/dev/null
expect_eq "staged" "$(farm_state "$atom" ostree_staged)" 29.20200301.0
expect_eq "still booted in the old version" "$(farm_state "$atom" os_version)" "$v0"
expect_eq "staged shows in status --json" \
  "$(farm_ssh "$atom" 'rpm-ostree status --json' | jq -r '.deployments[] | select(.staged) | .version')" 29.20200301.0
farm_ssh "$atom" 'systemctl reboot' >/dev/null 2>&1 || true
wait_rebooted "$atom" 1
expect_eq "new version after reboot" "$(farm_state "$atom" os_version)" 29.20200301.0
out=$(farm_ssh "$atom" 'rpm-ostree status --json')
expect_eq "booted" "$(jq -r '.deployments[] | select(.booted) | .version' <<<"$out")" 29.20200301.0
expect_eq "rollback" "$(jq -r '.deployments[] | select(.booted | not) | .version' <<<"$out")" "$v0"
expect_contains "os-release follows" "$(farm_ssh "$atom" 'cat /etc/os-release')" "OSTREE_VERSION='29.20200301.0'"
farm_host "$atom" set-update 29.20200401.0
farm_ssh "$atom" 'rpm-ostree upgrade --reboot' >/dev/null 2>&1 || true
wait_rebooted "$atom" 2
expect_eq "upgrade after reboot" "$(farm_state "$atom" os_version)" 29.20200401.0

step "after a boot exactly the enabled services run"
farm_ssh "$cen" 'yum -y install kubernetes-node docker && systemctl enable kubelet && systemctl start docker' >/dev/null
expect_eq "before reboot" "$(farm_state "$cen" active)" "docker,sshd"
farm_ssh "$cen" reboot >/dev/null 2>&1 || true
wait_rebooted "$cen" 2
expect_eq "after reboot" "$(farm_state "$cen" active)" "kubelet,sshd"

step "reboot from outside, and a host whose sshd dies restarts by itself"
farm_host "$deb" reboot
wait_rebooted "$deb" 2
n=$(grep -c " $fed down crash " "$FARM_DIR/reboot.log" || true)
farm_ssh "$fed" 'kill -TERM 1' >/dev/null 2>&1 || true
for ((i = 0; i < 100; i++)); do
  [[ $(grep -c " $fed down crash " "$FARM_DIR/reboot.log" || true) -gt $n && $(farm_state "$fed" status) == up ]] && break
  sleep 0.1
done
expect_eq "crash logged and recovered" "$(farm_state "$fed" status)" up
expect_eq "still one host down at most per reboot pair" "$(farm_max_concurrent_down)" 2
echo PASS
