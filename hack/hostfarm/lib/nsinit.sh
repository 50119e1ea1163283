#!/bin/bash
# Boots one farm host: runs as PID 1 of a fresh mount+PID+UTS namespace (started by hostloop.sh
# through `unshare`), builds the host's view of the filesystem, pivots into it and becomes sshd.
#
# Why this shape: everything a session can reach must be the host's own. The root is the host's
# directory (pivot_root, old root detached — no path leads back to the machine); /usr is the
# machine's /usr under an overlay whose top layer is the stand-ins, so /usr/bin/systemctl,
# /sbin/reboot, apt-get, dnf … are ours whichever path is used; /proc is the namespace's own with
# per-host facts bind-mounted over it; /run is a fresh tmpfs, so no socket of the machine's init is
# visible. Capabilities that could still affect the machine are dropped from the bounding set
# before sshd starts, so even a real binary that slipped through cannot reboot, mount, load
# modules, set the clock or touch the network configuration.
#
# Usage: nsinit.sh DIR ADDR
set -euo pipefail
dir=$1 addr=$2
H=$dir/hosts/$addr
R=$H/root
F=$R/.hostfarm/facts

mount --bind "$R" "$R"
mount -t overlay overlay \
  -o "lowerdir=$dir/usr-standins:/usr,upperdir=$H/usr-upper,workdir=$H/usr-work" "$R/usr"
mount --bind -o ro "$dir/shared-etc/alternatives" "$R/etc/alternatives"
mount --bind -o ro "$dir/shared-etc/ssl" "$R/etc/ssl"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount --bind "$F/cpuinfo" "$R/proc/cpuinfo"
mount --bind "$F/meminfo" "$R/proc/meminfo"
[[ -e $R/proc/sysrq-trigger ]] && mount --bind /dev/null "$R/proc/sysrq-trigger"
mount --bind -o ro "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount --bind -o ro "$F/boot_id" "$R/proc/sys/kernel/random/boot_id"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount --bind "$F/cpu_online" "$R/sys/devices/system/cpu/online"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
mount -t tmpfs -o mode=0755,size=16m,nosuid,nodev tmpfs "$R/run"
mkdir -m 0755 "$R/run/sshd" # sshd's privilege-separation directory
read -r os <"$R/.hostfarm/state/os_id"
[[ $os == atomic ]] && : >"$R/run/ostree-booted"
read -r hn <"$F/hostname"
hostname "$hn"

cd "$R"
pivot_root . .oldroot
umount -l /.oldroot

# Bounding set: what root in a farm host keeps. Notably absent: sys_boot, sys_admin (mount,
# umount, sethostname), sys_module, sys_time, net_admin, sys_rawio, sys_ptrace, mknod.
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  setpriv --bounding-set -all,+chown,+dac_override,+dac_read_search,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+audit_write,+ipc_lock,+sys_resource,+setfcap -- \
  /usr/sbin/sshd -D -f /etc/ssh/sshd_config -E /.hostfarm/sshd.log
