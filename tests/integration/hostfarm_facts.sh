#!/bin/bash
# The farm serves each host's own OS and facts at the paths a real host has them, records every
# command in the documented format, and its stand-ins keep per-host state.
set -euo pipefail
source "$(dirname "$0")/hostfarm_lib.sh"

farm_start 6 fedora,centos,rhel,atomic,debian,unknown
[[ ${#FARM_ADDRS[@]} == 6 ]] || fail "want 6 addresses, got ${FARM_ADDRS[*]}"
declare -A want_id=([fedora]=fedora [centos]=centos [rhel]=rhel [atomic]=fedora [debian]=debian [unknown]=slackware)

# The one round trip the README recommends to the controller.
FACTS='cat /etc/os-release; echo @@; nproc; echo @@; grep MemTotal /proc/meminfo; echo @@; df -Pk /; echo @@;
uname -r; echo @@; cat /proc/sys/kernel/random/boot_id; echo @@; hostname; echo @@;
if test -e /run/ostree-booted; then rpm-ostree status --json; fi'

step "facts per host equal the farm's, each host different"
seen_boot=() seen_host=()
for a in "${FARM_ADDRS[@]}"; do
  os=$(farm_state "$a" os)
  out=$(farm_ssh "$a" "$FACTS")$'\n'
  IFS=$'\x01' read -r -d '' osrel cpus mem df kern boot hn ostree <<<"${out//@@$'\n'/$'\x01'}" || true
  id=$(sed -n 's/^ID=//p' <<<"$osrel" | tr -d '"')
  expect_eq "$a os-release ID" "$id" "${want_id[$os]}"
  if [[ $os == atomic ]]; then
    expect_contains "$a variant" "$osrel" "VARIANT_ID=atomic.host"
    ver=$(jq -r '.deployments[] | select(.booted) | .version' <<<"$ostree")
    expect_eq "$a rpm-ostree booted version" "$ver" "$(farm_state "$a" os_version)"
  else
    vid=$(sed -n 's/^VERSION_ID=//p' <<<"$osrel" | tr -d '"')
    expect_eq "$a VERSION_ID" "$vid" "$(farm_state "$a" os_version)"
    expect_eq "$a not atomic" "${ostree//[[:space:]]/}" ""
  fi
  expect_eq "$a cpus" "${cpus//[[:space:]]/}" "$(farm_state "$a" cpus)"
  expect_eq "$a MemTotal" "$(awk '{print $2}' <<<"$mem")" "$(farm_state "$a" memory)"
  expect_eq "$a free KiB on /" "$(awk 'NR == 2 {print $4}' <<<"$df")" "$(farm_state "$a" space)"
  expect_eq "$a kernel" "${kern//[[:space:]]/}" "$(farm_state "$a" kernel)"
  expect_eq "$a boot id" "${boot//[[:space:]]/}" "$(farm_state "$a" boot_id)"
  expect_eq "$a hostname" "${hn//[[:space:]]/}" "$(farm_state "$a" hostname)"
  [[ " ${seen_boot[*]} " != *" ${boot//[[:space:]]/} "* ]] || fail "$a: boot id shared with another host"
  [[ " ${seen_host[*]} " != *" ${hn//[[:space:]]/} "* ]] || fail "$a: hostname shared with another host"
  seen_boot+=("${boot//[[:space:]]/}") seen_host+=("${hn//[[:space:]]/}")
  # Other readers of the same facts agree.
  n=$(farm_ssh "$a" 'grep -c ^processor /proc/cpuinfo; uname -n; cat /proc/sys/kernel/hostname')
  expect_eq "$a cpuinfo/uname -n" "$n" "$(farm_state "$a" cpus)"$'\n'"$(farm_state "$a" hostname)"$'\n'"$(farm_state "$a" hostname)"
done
# The hosts' facts differ from this machine's.
[[ $(farm_state "${FARM_ADDRS[0]}" boot_id) != "$(cat /proc/sys/kernel/random/boot_id)" ]] || fail "boot id is the machine's"

step "each host has its own host key, listed in known_hosts"
fps=$(for a in "${FARM_ADDRS[@]}"; do farm_host_key_fp "$a"; done | sort -u | wc -l)
expect_eq "distinct host keys" "$fps" 6
for a in "${FARM_ADDRS[@]}"; do
  grep -q "^\[$a\]:$FARM_PORT ssh-ed25519 " "$FARM_KNOWN_HOSTS" || fail "$a missing from known_hosts"
done

step "record format: <epoch_ms> <addr> <kind> <payload>"
a=${FARM_ADDRS[0]}
t0=$(date +%s%3N)
farm_ssh "$a" 'systemctl is-active sshd; echo "two words" >/dev/null'
t1=$(date +%s%3N)
while read -r ts addr kind rest; do
  expect_match "timestamp" "$ts" '^[0-9]{13}$'
  expect_eq "address field" "$addr" "$a"
  expect_match "kind" "$kind" '^(exec|cmd|sftp|event|shell)$'
done < <(farm_records "$a")
line=$(farm_records "$a" | grep ' exec ' | tail -1)
expect_eq "exec payload is the exact command" "${line#* * exec }" 'systemctl is-active sshd; echo "two words" >/dev/null'
ts=${line%% *}
((ts >= t0 - 5 && ts <= t1 + 5)) || fail "exec timestamp $ts outside [$t0, $t1]"
expect_eq "cmd record" "$(farm_cmds "$a" | tail -1)" "systemctl is-active sshd"
farm_records "$a" | sed -n 1p | grep " event boot $(farm_state "$a" boot_id)$" >/dev/null || fail "boot event missing"

step "package managers per OS, with state"
declare -A by_os
for a in "${FARM_ADDRS[@]}"; do by_os[$(farm_state "$a" os)]=$a; done
fed=${by_os[fedora]} cen=${by_os[centos]} deb=${by_os[debian]} atom=${by_os[atomic]} unk=${by_os[unknown]}
expect_eq "dnf without -y aborts" "$(ssh_rc "$fed" 'dnf install docker </dev/null')" 1
expect_not_contains "nothing installed by the abort" "$(farm_state "$fed" packages)" docker
expect_eq "kubelet unit absent before its package" "$(ssh_rc "$fed" 'systemctl start kubelet')" 5
farm_ssh "$fed" 'dnf -y install docker kubernetes-node && systemctl enable --now docker && systemctl enable kubelet' >/dev/null
expect_contains "fedora packages" ",$(farm_state "$fed" packages)," ",docker,"
expect_contains "fedora packages" ",$(farm_state "$fed" packages)," ",kubernetes-node,"
expect_contains "enabled" ",$(farm_state "$fed" enabled)," ",kubelet,"
expect_contains "active" ",$(farm_state "$fed" active)," ",docker,"
expect_not_contains "kubelet enabled, not started" ",$(farm_state "$fed" active)," ",kubelet,"
expect_eq "is-active inactive → 3" "$(ssh_rc "$fed" 'systemctl is-active kubelet')" 3
expect_eq "rpm -q installed" "$(ssh_rc "$fed" 'rpm -q docker')" 0
expect_eq "rpm -q missing" "$(ssh_rc "$fed" 'rpm -q nosuchpkg')" 1
expect_eq "no dnf on centos 7" "$(ssh_rc "$cen" 'dnf -y install docker')" 127
expect_eq "yum on centos" "$(ssh_rc "$cen" 'yum -y install docker')" 0
expect_eq "no apt-get on fedora" "$(ssh_rc "$fed" 'apt-get -y install docker.io')" 127
expect_eq "no dnf on debian" "$(ssh_rc "$deb" 'dnf -y install docker')" 127
expect_eq "apt-get without -y aborts" "$(ssh_rc "$deb" 'apt-get install docker.io </dev/null')" 1
farm_ssh "$deb" 'apt-get update && apt-get install -y docker.io' >/dev/null
expect_eq "dpkg -s installed" "$(ssh_rc "$deb" 'dpkg -s docker.io')" 0
expect_eq "no rpm-ostree off atomic" "$(ssh_rc "$fed" 'rpm-ostree status')" 127
expect_eq "nothing on unknown" "$(ssh_rc "$unk" 'yum -y install docker')" 127
expect_eq "atomic ships the stack" "$(ssh_rc "$atom" 'systemctl enable --now docker kubelet')" 0

step "update available: check-update, then dnf upgrade moves the version"
expect_eq "no update yet" "$(ssh_rc "$fed" 'dnf check-update')" 0
farm_host "$fed" set-update 39
expect_eq "check-update signals an update" "$(ssh_rc "$fed" 'dnf check-update')" 100
farm_ssh "$fed" 'dnf -y upgrade' >/dev/null
expect_eq "os_version after upgrade" "$(farm_state "$fed" os_version)" 39
expect_eq "os-release after upgrade" "$(farm_ssh "$fed" '. /etc/os-release; echo $VERSION_ID')" 39
farm_host "$deb" set-update 12.5
farm_ssh "$deb" 'apt-get -y dist-upgrade' >/dev/null
expect_eq "debian_version after upgrade" "$(farm_ssh "$deb" 'cat /etc/debian_version')" 12.5

step "facts can be changed per host, live"
farm_host "$cen" set-fact cpus 3
farm_host "$cen" set-fact memory 123456
farm_host "$cen" set-fact space 777
farm_host "$cen" set-fact kernel 9.9.9-farm
farm_host "$cen" set-fact hostname renamed-host
out=$(farm_ssh "$cen" 'nproc; grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo | awk "{print \$2}"; df -Pk / | awk "NR==2 {print \$4}"; uname -r; hostname')
expect_eq "changed facts" "$out" $'3\n3\n123456\n777\n9.9.9-farm\nrenamed-host'
expect_eq "kernel where a real host has it" "$(farm_ssh "$cen" 'cat /proc/sys/kernel/osrelease')" 9.9.9-farm
farm_host "$unk" set-os debian:11
expect_eq "set-os" "$(farm_ssh "$unk" '. /etc/os-release; echo $ID $VERSION_ID')" "debian 11"
expect_eq "set-os: apt-get now exists" "$(ssh_rc "$unk" 'apt-get -y install curl')" 0
farm_host "$unk" set-os atomic
expect_eq "set-os atomic: ostree-booted appears" "$(ssh_rc "$unk" 'test -e /run/ostree-booted')" 0

step "SFTP and scp land in the host's root and are recorded"
src=$(mktemp); echo "payload-$$" >"$src"
farm_ssh "$cen" 'mkdir -p /etc/kubernetes'
sftp -F "$FARM_SSH_CONFIG" -b - "$cen" >/dev/null <<EOF
put $src /etc/kubernetes/kubeconfig
EOF
scp -q -F "$FARM_SSH_CONFIG" "$src" "$cen:/usr/local/bin/uploaded"
rm -f "$src"
expect_eq "sftp file in the host root" "$(cat "$FARM_DIR/hosts/$cen/root/etc/kubernetes/kubeconfig")" "payload-$$"
expect_eq "scp file in the host's /usr layer" "$(cat "$FARM_DIR/hosts/$cen/usr-upper/local/bin/uploaded")" "payload-$$"
[[ ! -e /usr/local/bin/uploaded ]] || fail "upload reached the machine's /usr"
expect_eq "the host reads it back" "$(farm_ssh "$cen" 'cat /etc/kubernetes/kubeconfig')" "payload-$$"
farm_records "$cen" | grep ' sftp open "/etc/kubernetes/kubeconfig" flags WRITE' >/dev/null || fail "sftp open not recorded"

step "failure injection"
farm_host "$fed" fail "dnf -y install flannel" 7
expect_eq "injected rc" "$(ssh_rc "$fed" 'dnf -y install flannel')" 7
expect_eq "other commands unaffected" "$(ssh_rc "$fed" 'dnf -y install etcd')" 0
farm_host "$fed" fail "df -Pk" 9
farm_host "$fed" fail "uname -r"
expect_eq "injected rc (C fact tool)" "$(ssh_rc "$fed" 'df -Pk /')" 9
expect_eq "injected default rc (C fact tool)" "$(ssh_rc "$fed" 'uname -r')" 1
expect_eq "other fact tools unaffected" "$(ssh_rc "$fed" 'uname -n; df -h /')" 0
farm_host "$fed" unfail
expect_eq "cleared" "$(ssh_rc "$fed" 'dnf -y install flannel')" 0

step "the C fact tools answer and record exactly like the bash stand-in"
# uname/nproc/df are a static C binary (speed); the bash stand-in stays the reference. Every
# invocation below runs both ways on the host: same stdout, same exit status, same record.
a=${FARM_ADDRS[0]}
cases=('uname' 'uname -r' 'uname -a' 'uname -sr' 'uname -n -m' 'uname --kernel-release' 'uname -x'
  'uname --all extra' 'nproc' 'nproc --all' 'df' 'df -Pk /' 'df -h' 'df -h / /var' 'df -t xfs -P /'
  'df -B 1K' 'df --output=avail /' 'df --output=source,size,pcent /' "uname 'a b'" 'df "/x y"')
for c in "${cases[@]}"; do
  n0=$(farm_cmds "$a" | wc -l)
  got=$(farm_ssh "$a" "$c; echo rc=\$?")
  want=$(farm_ssh "$a" "HOSTFARM_AS=${c%% *} bash /usr/lib/hostfarm/standin ${c#"${c%% *}"}; echo rc=\$?")
  expect_eq "output of '$c'" "$got" "$want"
  mapfile -t recs < <(farm_cmds "$a" | tail -n +$((n0 + 1)))
  expect_eq "two records for '$c'" "${#recs[@]}" 2
  expect_eq "record of '$c'" "${recs[0]}" "${recs[1]}"
done
expect_eq "a plain word record" "$(farm_ssh "$a" 'uname -r >/dev/null' && farm_cmds "$a" | tail -1)" "uname -r"

step "root's shell is the session wrapper, transparent to everything but a session start"
a=${FARM_ADDRS[1]}
n0=$(farm_execs "$a" | wc -l)
expect_eq "SHELL in a session" "$(farm_ssh "$a" 'echo $SHELL')" /bin/bash
expect_eq "login shell used as a shell" \
  "$(farm_ssh "$a" '"$(getent passwd root | cut -d: -f7)" -c '"'"'echo "$0" ran'"'"'')" "bash ran"
expect_eq "one exec record per SSH request, none from the inner shell" "$(farm_execs "$a" | wc -l)" $((n0 + 2))
echo PASS
