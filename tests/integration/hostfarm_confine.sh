#!/bin/bash
# Confinement: the commands that would reboot or reconfigure a machine, sent to a farm host, only
# reach the farm's records and the host's own state — never this machine.
set -euo pipefail
source "$(dirname "$0")/hostfarm_lib.sh"

# Fingerprints of what a leak would change on this machine.
machine_print() {
  {
    md5sum /usr/bin/systemctl /usr/bin/apt-get /usr/bin/dpkg /etc/hostname 2>/dev/null
    cat /proc/sys/kernel/random/boot_id
    hostname
  }
}
before=$(machine_print)

farm_start 2 debian,fedora --reboot-seconds 1
deb=${FARM_ADDRS[0]} fed=${FARM_ADDRS[1]}

step "package manager and service manager: recorded, state changed, machine untouched"
farm_ssh "$deb" 'apt-get install -y x; /usr/bin/apt-get install -y y; /usr/bin/dpkg -i /tmp/z_1.0_amd64.deb; /usr/bin/systemctl stop ssh; sudo systemctl disable ssh' >/dev/null
cmds=$(farm_cmds "$deb")
for c in "apt-get install -y x" "apt-get install -y y" "dpkg -i /tmp/z_1.0_amd64.deb" "systemctl stop ssh" "sudo systemctl disable ssh" "systemctl disable ssh"; do
  grep -qxF "$c" <<<"$cmds" || fail "not recorded as a stand-in call: $c"
done
pk=",$(farm_state "$deb" packages),"
for p in x y z; do expect_contains "host packages" "$pk" ",$p,"; done
expect_not_contains "ssh stopped on the host only" ",$(farm_state "$deb" active)," ",ssh,"
farm_ssh "$fed" 'dnf -y install q; /usr/bin/yum -y remove openssh-server; /usr/bin/rpm-ostree upgrade; true' >/dev/null
expect_contains "dnf recorded" "$(farm_cmds "$fed")" "dnf -y install q"

step "a host cannot leave its root, gain privileges back, or see the machine"
out=$(farm_ssh "$fed" '
  ls -A /.oldroot | wc -l
  ls /proc | grep -c "^[0-9]" 
  mount -t tmpfs t /mnt 2>/dev/null && echo MOUNTED || echo no-mount
  umount /usr 2>/dev/null && echo UNMOUNTED || echo no-umount
  echo 1 2>/dev/null >/proc/sys/kernel/printk_ratelimit && echo SYSCTL || echo no-sysctl
  python3 -c "import ctypes; print(\"REBOOTED\" if ctypes.CDLL(None).reboot(0x1234567) == 0 else \"no-reboot-syscall\")"
  date -s 2001-01-01 >/dev/null 2>&1 && echo CLOCK || echo no-clock
  ip link set lo mtu 1280 2>/dev/null && echo NET || echo no-net
  grep CapBnd /proc/self/status
  touch /usr/bin/farm-canary /usr/sbin/farm-canary && echo wrote-usr
  test -e /run/systemd/private && echo SYSTEMD-SOCKET || echo no-systemd-socket
  ls /run/dbus 2>/dev/null | wc -l')
mapfile -t r <<<"$out"
expect_eq "old root detached" "${r[0]}" 0
(( r[1] < 20 )) || fail "host sees ${r[1]} processes: not its own PID namespace"
expect_eq "mount" "${r[2]}" no-mount
expect_eq "umount of the stand-ins" "${r[3]}" no-umount
expect_eq "sysctl write" "${r[4]}" no-sysctl
expect_eq "reboot(2)" "${r[5]}" no-reboot-syscall
expect_eq "clock" "${r[6]}" no-clock
expect_eq "network config" "${r[7]}" no-net
caps=$((16#${r[8]##*:[[:space:]]}))
for bit in 22 21 16 25 12 17; do # sys_boot sys_admin sys_module sys_time net_admin sys_rawio
  ((caps & (1 << bit))) && fail "capability $bit kept in the bounding set (${r[8]})"
done
expect_eq "write under /usr" "${r[9]}" wrote-usr
[[ ! -e /usr/bin/farm-canary && ! -e /usr/sbin/farm-canary ]] || fail "a host wrote into the machine's /usr"
[[ -e $FARM_DIR/hosts/$fed/usr-upper/bin/farm-canary ]] || fail "host write under /usr not in its upper layer"
expect_eq "machine's init socket" "${r[10]}" no-systemd-socket
expect_eq "machine's D-Bus" "${r[11]}" 0

# reboot_via ADDR CMD — the command returns, the host goes down and comes back with a new boot
# id: the farm rebooted, the machine did not.
reboot_via() {
  local a=$1 cmd=$2 b1 n1 rc=0
  b1=$(farm_state "$a" boot_id); n1=$(farm_reboot_count "$a")
  farm_ssh "$a" "$cmd" >/dev/null 2>&1 || rc=$?
  ((rc == 0 || rc == 255)) || fail "'$cmd' exited $rc"
  for ((i = 0; i < 100; i++)); do
    [[ $(farm_reboot_count "$a") -gt $n1 && $(farm_state "$a" status) == up ]] && break
    sleep 0.1
  done
  expect_eq "'$cmd' → one farm reboot" "$(farm_reboot_count "$a")" $((n1 + 1))
  farm_wait_up "$a" 20
  [[ $(farm_state "$a" boot_id) != "$b1" ]] || fail "'$cmd': boot id unchanged"
  local base=${cmd%% *}
  base=${base##*/}
  [[ $base == sudo ]] && base=${cmd#sudo }
  farm_cmds "$a" | grep "^${base%% *}" >/dev/null || fail "'$cmd' not in the records"
}
step "every way to reboot reboots the farm host"
for c in "systemctl reboot" "/sbin/reboot" "/usr/sbin/shutdown -r now" "/usr/bin/systemctl reboot" "init 6" "sudo reboot" "telinit 6"; do
  reboot_via "$fed" "$c"
done
reboot_via "$deb" "reboot"

step "poweroff powers off the host only"
farm_ssh "$deb" "/usr/sbin/poweroff" >/dev/null 2>&1 || true
for ((i = 0; i < 50; i++)); do [[ $(farm_state "$deb" status) == poweroff ]] && break; sleep 0.1; done
expect_eq "host powered off" "$(farm_state "$deb" status)" poweroff
sleep 1.5 # longer than the reboot time: it stays off
expect_eq "still off" "$(farm_state "$deb" status)" poweroff
farm_host "$deb" reachable
expect_eq "powered on again" "$(farm_state "$deb" status)" up

# The machine's package database never heard of the farm's packages.
if command -v dpkg-query >/dev/null; then
  for p in x y z q; do
    ! dpkg-query -W "$p" >/dev/null 2>&1 || fail "package $p appeared on this machine"
  done
fi
after=$(machine_print)
expect_eq "this machine is unchanged" "$after" "$before"
echo PASS
