#!/bin/bash
# hostfarm CLI: starts, controls and stops a farm of emulated hosts, each a real OpenSSH sshd in
# its own namespaces on its own loopback address. See README.md next to this file for the
# layout, the record format and the confinement design.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

usage() {
  cat <<'EOF'
usage: farm.sh start  --dir DIR --count N [--base 127.A.B|auto] [--port P] [--os SPEC]
                      [--reboot-seconds S] [--reboot-delay-ms MS] [--client-key FILE] [--rsa]
       farm.sh stop|status|addrs|reboot-log|max-down --dir DIR
       farm.sh records|state --dir DIR ADDR
       farm.sh ssh --dir DIR ADDR [CMD...]
       farm.sh host --dir DIR ADDR unreachable|reachable|hang|reboot|wrong-key|right-key|rekey
                                   |set-os OS[:VER]|set-fact KEY VAL|set-update VER
                                   |set-reboot-seconds S|fail PREFIX [RC]|unfail
EOF
  exit 2
}
die() { echo "farm.sh: $*" >&2; exit 1; }
# FARM_TIMING=1 prints how long each start phase took (stderr).
phase() { [[ ${FARM_TIMING:-0} == 1 ]] && echo "farm.sh: $(($(hf_now_ms) - ${t0:-0})) ms: $*" >&2; return 0; }

# ---- argument parsing: options anywhere, the rest are positional ---------------------------------
cmd=${1:-}; [[ -n $cmd ]] || usage; shift
DIR=${FARM_DIR:-} COUNT= BASE=auto PORT=2222 OSSPEC=mixed REBOOT_SECONDS=2 REBOOT_DELAY_MS=200
CLIENT_KEY= RSA=0
pos=()
while (($#)); do
  case $1 in
    --dir) DIR=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --os) OSSPEC=$2; shift 2 ;;
    --reboot-seconds) REBOOT_SECONDS=$2; shift 2 ;;
    --reboot-delay-ms) REBOOT_DELAY_MS=$2; shift 2 ;;
    --client-key) CLIENT_KEY=$2; shift 2 ;;
    --rsa) RSA=1; shift ;;
    --) shift; pos+=("$@"); break ;;
    *) pos+=("$1"); shift ;;
  esac
done
[[ -n $DIR ]] || die "--dir DIR (or FARM_DIR) is required"
[[ $cmd == start ]] && mkdir -p "$DIR"
[[ -d $DIR ]] || die "no farm directory $DIR"
DIR=$(cd "$DIR" && pwd)
RANGES=/run/hostfarm-ranges

load_conf() { [[ -f $DIR/farm.conf ]] || die "$DIR is not a farm (no farm.conf)"; source "$DIR/farm.conf"; }
addrs() { local a _; while read -r a _; do printf '%s\n' "$a"; done <"$DIR/hosts.list"; }
host_dir() {
  local a=${pos[0]:-}
  [[ -n $a ]] || die "an address is required"
  [[ -d $DIR/hosts/$a ]] || die "no host $a in $DIR"
  printf '%s' "$DIR/hosts/$a"
}
# ours PID — true if PID is one of the processes this farm started: a host supervisor
# (bash …/hostloop.sh DIR ADDR), a hostfarm-nsinit (… DIR ADDR) or a hang listener (… DIR/hosts/
# ADDR/hang.ready). Nothing else — not a client that merely names a file in DIR. PIDs get reused
# quickly on a busy machine: never signal a PID from a pid file without asking this first.
ours() {
  local a args=()
  [[ -n $1 && -r /proc/$1/cmdline ]] || return 1
  while IFS= read -r -d '' a; do args+=("$a"); done 2>/dev/null </proc/"$1"/cmdline
  ((${#args[@]} >= 3)) || return 1
  [[ ${args[1]} == */hostloop.sh && ${args[2]} == "$DIR" ]] && return 0 # supervisor(s)
  [[ ${args[0]} == *hostfarm-nsinit && ${args[1]} == "$DIR" ]] && return 0
  [[ ${args[-1]} == "$DIR"/hosts/*/hang.ready ]] && return 0
  return 1
}
status_of() { local s=unknown; [[ -f $1/status ]] && read -r s <"$1/status"; printf '%s' "$s"; }
wait_status() { # wait_status HOSTDIR WANT TIMEOUT_S
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    [[ $(status_of "$1") == "$2" ]] && return 0
    sleep 0.05
  done
  die "host ${1##*/} did not reach state $2 (is $(status_of "$1"))"
}

# ---- ranges: a lock directory per 127.A.B so parallel farms (tests run with -j) never collide ----
range_free() { # range_free BASE — takes the lock if free or stale
  local b=$1 owner
  mkdir -p "$RANGES"
  if mkdir "$RANGES/$b" 2>/dev/null; then echo "$DIR" >"$RANGES/$b/dir"; return 0; fi
  read -r owner <"$RANGES/$b/dir" 2>/dev/null || owner=
  if [[ -n $owner && $owner != "$DIR" && -f $owner/farm.conf ]]; then
    local p
    for p in "$owner"/hosts/*/loop.pid; do [[ -f $p ]] && kill -0 "$(cat "$p")" 2>/dev/null && return 1; done
  fi
  echo "$DIR" >"$RANGES/$b/dir" # stale (its farm is gone): reclaim
}
pick_base() {
  local i a b
  if [[ $BASE != auto ]]; then
    [[ $BASE =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "--base must look like 127.A.B"
    range_free "$BASE" || die "range $BASE is in use by another farm"
    return
  fi
  for ((i = 0; i < 200; i++)); do
    a=$((100 + SRANDOM % 150)) b=$((SRANDOM % 256))
    if range_free "127.$a.$b"; then BASE=127.$a.$b; return; fi
  done
  die "no free 127.A.B range"
}

# ---- start ----------------------------------------------------------------------------------
# The host template: hosts/ADDR is a copy of it (one `cp -a` per host; fifos included). Built
# once into the artifact cache (build_template DEST).
build_template() {
  local ht=$1 t=$1/root n f
  rm -rf "$ht" && mkdir -p "$t" "$ht/usr-upper" "$ht/usr-work"
  mkfifo "$ht/ctl.fifo" "$ht/sleep.fifo" "$ht/ready.fifo"
  (cd "$t" && mkdir -p usr proc sys dev/pts dev/shm run tmp var/tmp var/log var/lib root home opt srv \
    mnt media .oldroot etc/ssh/authorized_keys etc/sysconfig etc/kubernetes etc/alternatives \
    etc/ssl/certs .hostfarm/state .hostfarm/facts .hostfarm/ctl)
  chmod 1777 "$t/tmp" "$t/var/tmp" "$t/dev/shm"
  chmod 0700 "$t/root"
  for n in bin sbin lib lib64; do ln -s "usr/$n" "$t/$n"; done
  for n in null zero full random urandom tty; do cp -a "/dev/$n" "$t/dev/"; done
  ln -s pts/ptmx "$t/dev/ptmx"
  ln -s /proc/self/fd "$t/dev/fd"
  # A minimal /etc: users for sshd (root, its privilege-separation user), name service and the
  # dynamic linker's cache, shell start-up files, and the Debian alternatives symlinks many
  # programs resolve through. Nothing with the machine's secrets.
  # root's shell is the session wrapper (src/hostfarm-session.c says why; to anything but an
  # sshd session start it behaves as bash).
  grep -E '^(root|sshd|nobody|daemon):' /etc/passwd |
    sed -E 's#^(root:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:).*#\1/usr/lib/hostfarm/farm-session#' >"$t/etc/passwd"
  grep -E '^(root|nogroup|daemon|tty|adm):' /etc/group >"$t/etc/group"
  printf '%s:*:19000:0:99999:7:::\n' root sshd nobody daemon >"$t/etc/shadow"
  chmod 0640 "$t/etc/shadow"
  # Name service from files only: the machine's "files systemd" makes every sshd connection
  # dlopen libnss_systemd (initgroups asks every service) — relocations and page faults for
  # nothing, since a farm host has no systemd to ask.
  printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'gshadow: files' 'hosts: files dns' \
    'networks: files' 'protocols: files' 'services: files' 'ethers: files' 'rpc: files' \
    'netgroup: files' >"$t/etc/nsswitch.conf"
  for f in ld.so.cache ld.so.conf ld.so.conf.d hosts resolv.conf localtime \
    bash.bashrc profile profile.d environment mime.types protocols services inputrc login.defs; do
    [[ -e /etc/$f ]] && cp -a "/etc/$f" "$t/etc/" 2>/dev/null || true
  done
  # /etc/alternatives (symlinks /usr/bin/awk → /etc/alternatives/awk …) and /etc/ssl/certs are
  # bind-mounted read-only from the machine at boot (hostfarm-nsinit): big, never host-specific.
  [[ -e /etc/ssl/openssl.cnf ]] && cp /etc/ssl/openssl.cnf "$t/etc/ssl/"
  [[ -e /etc/ssh/moduli ]] && cp /etc/ssh/moduli "$t/etc/ssh/"
  printf 'export PS1="[\\u@\\h \\W]\\$ "\n' >"$t/root/.bashrc"
}

# Built artifacts are cached by content hash under /var/tmp/hostfarm-cache: the nsinit helper (C)
# and the stand-in tree (the overlay's top layer). A farm refers to them through farm.conf, so
# editing the sources never changes a running farm underneath it.
CACHE=/var/tmp/hostfarm-cache
prepare_artifacts() {
  local sum c n tmp
  sum=$(cat "$HERE"/src/hostfarm-*.[ch] "$HERE/standin/standin" "$HERE/standin/farm-sftp" "$HERE/farm.sh" \
    "$HERE/lib/hostloop.sh" "$HERE/lib/common.sh" | sha256sum)
  c=$CACHE/${sum:0:16}
  # The supervisors run from the cache: bash reads a script while running it, so a running farm
  # must never see its script edited underneath.
  if [[ ! -f $c/lib/hostloop.sh ]]; then
    mkdir -p "$c"
    tmp=$(mktemp -d "$c/build.XXXXXX")
    cp "$HERE/lib/hostloop.sh" "$HERE/lib/common.sh" "$tmp/"
    mkdir -p "$c/lib"
    mv -f "$tmp/common.sh" "$c/lib/common.sh"
    mv -f "$tmp/hostloop.sh" "$c/lib/hostloop.sh"
    rm -rf "$tmp"
  fi
  LIBDIR=$c/lib
  if [[ ! -d $c/usr-standins ]]; then
    mkdir -p "$c"
    tmp=$(mktemp -d "$c/build.XXXXXX")
    mkdir -p "$tmp/usr-standins/lib/hostfarm" "$tmp/usr-standins/bin" "$tmp/usr-standins/sbin" \
      "$tmp/usr-standins/lib/systemd"
    cp "$HERE/standin/standin" "$HERE/standin/farm-sftp" "$tmp/usr-standins/lib/hostfarm/"
    # What every session and every fact gathering runs is C, statically linked: a fork+exec is
    # the unit of cost of a farm connection, and a dynamic one costs ~40% more (ld.so work).
    local p
    for p in session:farm-session facttool:facttool; do
      cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -static \
        -o "$tmp/usr-standins/lib/hostfarm/${p#*:}" "$HERE/src/hostfarm-${p%%:*}.c" ||
        die "cannot compile hostfarm-${p%%:*} (needs cc and the static libc, libc6-dev)"
    done
    chmod 0755 "$tmp/usr-standins/lib/hostfarm/"*
    # Every name in both bin and sbin: whichever path a caller uses, it lands on the stand-in.
    for n in systemctl service dnf yum rpm rpm-ostree atomic apt-get apt dpkg dpkg-query sudo \
      reboot shutdown poweroff halt init telinit hostnamectl sysctl getenforce \
      setenforce modprobe swapoff swapon firewall-cmd iptables ip6tables iptables-save \
      iptables-restore insmod rmmod; do
      ln -s /usr/lib/hostfarm/standin "$tmp/usr-standins/bin/$n"
      ln -s /usr/lib/hostfarm/standin "$tmp/usr-standins/sbin/$n"
    done
    for n in uname nproc df; do # the fact tools: C, same behaviour and records
      ln -s /usr/lib/hostfarm/facttool "$tmp/usr-standins/bin/$n"
      ln -s /usr/lib/hostfarm/facttool "$tmp/usr-standins/sbin/$n"
    done
    ln -s /usr/lib/hostfarm/standin "$tmp/usr-standins/lib/systemd/systemd"
    mv -T "$tmp/usr-standins" "$c/usr-standins" 2>/dev/null || true # a parallel build may win
    rm -rf "$tmp"
  fi
  STANDINS=$c/usr-standins
  if [[ ! -d $c/host-template ]]; then
    tmp=$(mktemp -d "$c/build.XXXXXX")
    build_template "$tmp/host-template"
    mv -T "$tmp/host-template" "$c/host-template" 2>/dev/null || true
    rm -rf "$tmp"
  fi
  TEMPLATE=$c/host-template
  MKTREE=${HOSTFARM_MKTREE:-$c/hostfarm-mktree}
  if [[ ! -x $MKTREE ]]; then
    cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$MKTREE.$$" "$HERE/src/hostfarm-mktree.c" ||
      die "cannot compile hostfarm-mktree"
    mv -f "$MKTREE.$$" "$MKTREE"
  fi
  if [[ -n ${HOSTFARM_NSINIT:-} ]]; then
    [[ -x $HOSTFARM_NSINIT ]] || die "HOSTFARM_NSINIT=$HOSTFARM_NSINIT is not executable"
    NSINIT=$HOSTFARM_NSINIT
  else
    NSINIT=$c/hostfarm-nsinit
    if [[ ! -x $NSINIT ]]; then
      cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$NSINIT.$$" "$HERE/src/hostfarm-nsinit.c" ||
        die "cannot compile hostfarm-nsinit (set HOSTFARM_NSINIT to a built one)"
      mv -f "$NSINIT.$$" "$NSINIT"
    fi
  fi
}

# Host keys come from a pool (distinct within a farm, reused across farms): generating 200 keys
# per start would dominate the start time. `host ADDR rekey` always makes a fresh key.
KEYPOOL=$CACHE/keypool
keypool_fill() { # keypool_fill N — make sure keys 1..N exist
  local i missing=()
  mkdir -p "$KEYPOOL"
  for ((i = 1; i <= $1; i++)); do [[ -f $KEYPOOL/ed25519-$i.pub ]] || missing+=("$i"); done
  ((${#missing[@]})) || return 0
  # Farms starting together must not replace a key another one is copying (its private and
  # public halves would then differ): generate under a lock, re-checking what is missing.
  exec 8>"$KEYPOOL/.lock"
  flock 8
  missing=()
  for ((i = 1; i <= $1; i++)); do [[ -f $KEYPOOL/ed25519-$i.pub ]] || missing+=("$i"); done
  if ((${#missing[@]} == 0)); then exec 8>&-; return 0; fi
  printf '%s\n' "${missing[@]}" | xargs -P 4 -I{} sh -c \
    'k=$1/ed25519-$2; t=$k.$$; ssh-keygen -q -t ed25519 -N "" -C farm-host -f "$t" && mv -f "$t" "$k" && mv -f "$t.pub" "$k.pub"' \
    _ "$KEYPOOL" {}
  exec 8>&-
}

# os_for INDEX → sets OS_NAME OS_VER
os_for() {
  local i=$1 specs spec
  if [[ $OSSPEC == mixed ]]; then specs=(fedora centos rhel atomic debian); else IFS=, read -ra specs <<<"$OSSPEC"; fi
  spec=${specs[$(((i - 1) % ${#specs[@]}))]}
  OS_NAME=${spec%%:*}
  hf_os_defaults "$OS_NAME" || die "unknown OS $OS_NAME"
  OS_VER=$HF_OS_VERSION
  [[ $spec == *:* ]] && OS_VER=${spec#*:}
  return 0
}

write_sshd_config() { # write_sshd_config ROOT ADDR
  {
    printf 'ListenAddress %s:%s\n' "$2" "$PORT"
    printf 'HostKey /etc/ssh/ssh_host_ed25519_key\n'
    ((RSA)) && printf 'HostKey /etc/ssh/ssh_host_rsa_key\n'
    printf '%s\n' \
      'PidFile /.hostfarm/ctl/sshd.pid' \
      'AuthorizedKeysFile /etc/ssh/authorized_keys/%u' \
      'PermitRootLogin prohibit-password' \
      'PubkeyAuthentication yes' \
      'PasswordAuthentication no' \
      'KbdInteractiveAuthentication no' \
      'HostbasedAuthentication no' \
      'UsePAM no' \
      'StrictModes no' \
      'KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org' \
      'PrintMotd no' \
      'PrintLastLog no' \
      'UseDNS no' \
      'MaxStartups 100:30:200' \
      'MaxSessions 64' \
      'LoginGraceTime 30' \
      'LogLevel INFO' \
      'Subsystem sftp /usr/lib/openssh/sftp-server' \
      'ForceCommand /usr/lib/hostfarm/farm-session'
  } >"$1/etc/ssh/sshd_config"
}

setup_host() { # setup_host INDEX — shell builtins only (the tree comes from hostfarm-mktree)
  local i=$1 addr=$BASE.$1 H R F cpus mem key pub
  H=$DIR/hosts/$addr R=$DIR/hosts/$addr/root F=$DIR/hosts/$addr/root/.hostfarm/facts
  os_for "$i"
  echo "$addr" >"$R/.hostfarm/addr"
  printf '%d.%03d\n' $((REBOOT_DELAY_MS / 1000)) $((REBOOT_DELAY_MS % 1000)) >"$R/.hostfarm/reboot_delay"
  : >"$R/.hostfarm/records.log"
  # Facts: deterministic per address, different from host to host.
  hf_os_defaults "$OS_NAME"
  cpus=$((1 << (i % 4))) mem=$(((1 << (i % 4)) * 2097152 - 4 * i))
  echo "$cpus" >"$F/cpus"; echo "$mem" >"$F/memory"
  echo 41943040 >"$F/disk"; echo $((20000000 + 1024 * i)) >"$F/space"
  echo "$HF_OS_KERNEL" >"$F/kernel"; echo "farm-${addr//./-}" >"$F/hostname"
  { hf_uuid; echo; } >"$F/boot_id"
  hf_write_cpu_files "$F"; hf_write_meminfo "$F"
  echo "farm-${addr//./-}" >"$R/etc/hostname"
  set_os "$R" "$OS_NAME" "$OS_VER"
  IFS= read -r -d '' key <"$KEYPOOL/ed25519-$i" || true
  read -r pub <"$KEYPOOL/ed25519-$i.pub"
  umask 077; printf '%s' "$key" >"$R/etc/ssh/ssh_host_ed25519_key"; umask 022
  printf '%s\n' "${pub% *} root@farm-${addr//./-}" >"$R/etc/ssh/ssh_host_ed25519_key.pub"
  if ((RSA)); then
    IFS= read -r -d '' key <"$KEYPOOL/rsa-$(((i - 1) % 8))" || true
    read -r pub <"$KEYPOOL/rsa-$(((i - 1) % 8)).pub"
    umask 077; printf '%s' "$key" >"$R/etc/ssh/ssh_host_rsa_key"; umask 022
    printf '%s\n' "$pub" >"$R/etc/ssh/ssh_host_rsa_key.pub"
  fi
  printf '%s\n' "$CLIENT_PUB" >"$R/etc/ssh/authorized_keys/root"
  write_sshd_config "$R" "$addr"
  echo "$addr $OS_NAME" >"$H/os"
}

set_os() { # set_os ROOT OS VERSION — the OS as freshly installed (packages, services, release)
  local r=$1 st=$1/.hostfarm/state
  echo "$2" >"$st/os_id"; echo "$3" >"$st/os_version"
  hf_default_packages "$2" >"$st/packages"
  if [[ $2 == debian ]]; then echo ssh; else echo sshd; fi >"$st/services.enabled"
  if [[ $2 == debian ]]; then echo ssh; else echo sshd; fi >"$st/services.active"
  local f
  for f in ostree.staged ostree.rollback update.available; do [[ -e $st/$f ]] && rm -f "$st/$f"; done
  hf_write_os_release "$r" "$2" "$3"
}

do_start() {
  [[ $COUNT =~ ^[0-9]+$ ]] && ((COUNT >= 1 && COUNT <= 254)) || die "--count must be 1..254"
  [[ ! -f $DIR/farm.conf ]] || die "$DIR already holds a farm (stop it first or use another dir)"
  [[ $(id -u) == 0 ]] || die "the farm needs root (namespaces, mounts)"
  local t0 i w n
  t0=$(hf_now_ms)
  pick_base
  # Whatever goes wrong from here on, leave nothing running.
  trap 'rc=$?; if ((rc)); then echo "farm.sh: start failed, stopping" >&2; "$HERE/farm.sh" stop --dir "$DIR" >/dev/null 2>&1 || true; rm -f "$DIR/farm.conf"; fi' EXIT
  [[ $DIR != *[,:]* ]] || die "the farm directory may not contain ',' or ':' (overlayfs options)"
  phase "range $BASE"
  prepare_artifacts
  phase "artifacts"
  rm -rf "$DIR/hosts"; mkdir -p "$DIR/hosts"
  ln -sfn "$STANDINS" "$DIR/usr-standins" # the overlay's top layer (hostfarm-nsinit)
  cat >"$DIR/farm.conf" <<EOF
FARM_BASE=$BASE
FARM_PORT=$PORT
FARM_COUNT=$COUNT
FARM_REBOOT_SECONDS=$REBOOT_SECONDS
FARM_REBOOT_DELAY_MS=$REBOOT_DELAY_MS
FARM_OS=$OSSPEC
FARM_SCRIPTS=$HERE
FARM_NSINIT=$NSINIT
FARM_STANDINS=$STANDINS
EOF
  : >"$DIR/reboot.log"
  if [[ -n $CLIENT_KEY ]]; then
    cp "$CLIENT_KEY" "$DIR/client_key"; chmod 0600 "$DIR/client_key"
    ssh-keygen -y -f "$DIR/client_key" >"$DIR/client_key.pub"
  else
    rm -f "$DIR/client_key" "$DIR/client_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C hostfarm-client -f "$DIR/client_key"
  fi
  phase "client key"
  keypool_fill "$COUNT"
  ((RSA)) && keypool_fill_rsa
  phase "key pool"
  read -r CLIENT_PUB <"$DIR/client_key.pub"
  local dests=()
  for ((i = 1; i <= COUNT; i++)); do dests+=("$DIR/hosts/$BASE.$i"); done
  "$MKTREE" "$TEMPLATE" "${dests[@]}" || die "cannot create the host directories"
  phase "host trees"
  n=2 # workers: one per core
  for ((w = 0; w < n; w++)); do
    (for ((i = w + 1; i <= COUNT; i += n)); do setup_host "$i"; done) &
  done
  wait
  phase "host directories"
  : >"$DIR/hosts.list"
  local line
  for ((i = 1; i <= COUNT; i++)); do read -r line <"$DIR/hosts/$BASE.$i/os"; echo "$line" >>"$DIR/hosts.list"; done
  # One supervisor process forks a subshell per host. Not setsid: it stays in the caller's
  # process group, so a test runner that kills the group on timeout takes the farm down too.
  /bin/bash "$LIBDIR/hostloop.sh" "$DIR" </dev/null >>"$DIR/supervisor.log" 2>&1 &
  phase "supervisors launched"
  write_known_hosts
  {
    printf 'Host %s.*\n' "$BASE"
    printf '  Port %s\n  User root\n  IdentityFile %s/client_key\n  IdentitiesOnly yes\n' "$PORT" "$DIR"
    printf '  UserKnownHostsFile %s/known_hosts\n  StrictHostKeyChecking yes\n' "$DIR"
    printf '  KexAlgorithms curve25519-sha256\n  BatchMode yes\n  ConnectTimeout 10\n  LogLevel ERROR\n'
  } >"$DIR/ssh_config"
  # Wait until every host's sshd listens.
  local deadline=$(($(hf_now_ms) + 120000 + COUNT * 1000)) up
  while :; do
    up=0
    for ((i = 1; i <= COUNT; i++)); do
      line=; read -r line 2>/dev/null <"$DIR/hosts/$BASE.$i/status" || true
      [[ $line == up ]] && up=$((up + 1))
      [[ $line == failed ]] && deadline=0
    done
    ((up == COUNT)) && break
    if (($(hf_now_ms) > deadline)); then
      for ((i = 1; i <= COUNT; i++)); do
        [[ $(status_of "$DIR/hosts/$BASE.$i") == up ]] || { echo "host $BASE.$i:" >&2; tail -5 "$DIR/hosts/$BASE.$i/loop.log" >&2; break; }
      done
      die "only $up of $COUNT hosts came up"
    fi
    sleep 0.05
  done
  trap - EXIT
  echo "farm: $COUNT hosts up on $BASE.1-$BASE.$COUNT port $PORT in $(($(hf_now_ms) - t0)) ms (dir $DIR)"
}

write_known_hosts() {
  local a t k _ tmp=$DIR/known_hosts.tmp
  : >"$tmp"
  while read -r a _; do
    read -r t k _ <"$DIR/hosts/$a/root/etc/ssh/ssh_host_ed25519_key.pub"
    printf '[%s]:%s %s %s\n' "$a" "$PORT" "$t" "$k" >>"$tmp"
    if ((RSA)) && [[ -f $DIR/hosts/$a/root/etc/ssh/ssh_host_rsa_key.pub ]]; then
      read -r t k _ <"$DIR/hosts/$a/root/etc/ssh/ssh_host_rsa_key.pub"
      printf '[%s]:%s %s %s\n' "$a" "$PORT" "$t" "$k" >>"$tmp"
    fi
  done <"$DIR/hosts.list"
  mv -f "$tmp" "$DIR/known_hosts"
}

# RSA host keys (optional, --rsa) are slow to generate: eight, shared round robin by the hosts.
keypool_fill_rsa() {
  local i missing=()
  exec 8>"$KEYPOOL/.lock"
  flock 8
  for ((i = 0; i < 8; i++)); do [[ -f $KEYPOOL/rsa-$i.pub ]] || missing+=("$i"); done
  if ((${#missing[@]} == 0)); then exec 8>&-; return 0; fi
  printf '%s\n' "${missing[@]}" | xargs -P 4 -I{} sh -c \
    'k=$1/rsa-$2; t=$k.$$; ssh-keygen -q -t rsa -b 3072 -N "" -C farm-host -f "$t" && mv -f "$t" "$k" && mv -f "$t.pub" "$k.pub"' \
    _ "$KEYPOOL" {}
  exec 8>&-
}

# ---- stop -----------------------------------------------------------------------------------
do_stop() {
  [[ -d $DIR/hosts ]] || { echo "farm: nothing to stop in $DIR"; return 0; }
  local H p pid left i hosts=("$DIR"/hosts/*/)
  hosts=("${hosts[@]%/}")
  for H in "${hosts[@]}"; do : >"$H/stop"; done
  for H in "${hosts[@]}"; do
    # SIGKILL the host's hostfarm-nsinit: its child, the host's PID 1, has PDEATHSIG=KILL, and
    # the kernel kills every other process of the namespace with it.
    pid=; read -r pid 2>/dev/null <"$H/ns.pid" || true
    ours "$pid" && kill -KILL "$pid" 2>/dev/null
    hf_fifo_send "$H/ctl.fifo" stop
  done
  for ((i = 0; i < 200; i++)); do
    left=0
    for H in "${hosts[@]}"; do
      pid=; read -r pid 2>/dev/null <"$H/loop.pid" || true
      ours "$pid" && left=$((left + 1))
    done
    ((left == 0)) && break
    sleep 0.05
  done
  # Verify: no process of ours is left (supervisors, helpers — the hosts' processes die with
  # their helper), else kill it and say so.
  local stray=()
  for ((i = 0; i < 40; i++)); do
    stray=()
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      [[ $p == "$$" || $p == "$BASHPID" ]] && continue
      ours "$p" && stray+=("$p")
    done
    ((${#stray[@]} == 0)) && break
    sleep 0.05
  done
  if ((${#stray[@]})); then
    kill -KILL "${stray[@]}" 2>/dev/null || true
    die "stray processes had to be killed: ${stray[*]}"
  fi
  for H in "${hosts[@]}"; do
    for p in ns.pid loop.pid init.pid; do [[ -e $H/$p ]] && rm -f "$H/$p"; done
    echo stopped >"$H/status"
  done
  if [[ -f $DIR/farm.conf ]]; then
    source "$DIR/farm.conf"
    local owner=
    read -r owner 2>/dev/null <"$RANGES/$FARM_BASE/dir" || true
    [[ $owner == "$DIR" ]] && rm -rf "${RANGES:?}/$FARM_BASE"
  fi
  echo "farm: stopped ($DIR)"
}

# ---- queries --------------------------------------------------------------------------------
do_status() {
  load_conf
  local a os H v b hn
  while read -r a os; do
    H=$DIR/hosts/$a
    read -r os <"$H/root/.hostfarm/state/os_id"; read -r v <"$H/root/.hostfarm/state/os_version"
    read -r b <"$H/root/.hostfarm/facts/boot_id"; read -r hn <"$H/root/.hostfarm/facts/hostname"
    printf '%s %s %s %s %s %s\n' "$a" "$os" "$v" "$(status_of "$H")" "$b" "$hn"
  done <"$DIR/hosts.list"
}

do_state() {
  local H R st f v
  H=$(host_dir); R=$H/root; st=$R/.hostfarm/state
  join() { [[ -f $1 ]] && paste -sd, "$1" || true; }
  printf 'address=%s\n' "${pos[0]}"
  printf 'status=%s\n' "$(status_of "$H")"
  printf 'os=%s\nos_version=%s\n' "$(cat "$st/os_id")" "$(cat "$st/os_version")"
  for f in boot_id hostname cpus memory space disk kernel; do printf '%s=%s\n' "$f" "$(cat "$R/.hostfarm/facts/$f")"; done
  printf 'packages=%s\n' "$(sort "$st/packages" | paste -sd,)"
  printf 'enabled=%s\n' "$(sort "$st/services.enabled" | paste -sd,)"
  printf 'active=%s\n' "$(sort "$st/services.active" | paste -sd,)"
  for f in ostree.staged ostree.rollback update.available; do
    v=; [[ -s $st/$f ]] && read -r v <"$st/$f"
    printf '%s=%s\n' "${f//./_}" "$v"
  done
  printf 'reboots=%s\n' "$(grep -c " ${pos[0]} down reboot " "$DIR/reboot.log" || true)"
  printf 'host_key=%s\n' "$(ssh-keygen -lf "$R/etc/ssh/ssh_host_ed25519_key.pub" | cut -d' ' -f2)"
}

do_max_down() {
  sort -k1,1n -k3,3r "$DIR/reboot.log" | awk '
    $3 == "down" { if (!($2 in d)) { d[$2] = 1; c++; if (c > m) m = c } }
    $3 == "up"   { if ($2 in d) { delete d[$2]; c-- } }
    END { print m + 0 }'
}

# ---- host actions -------------------------------------------------------------------------------
# SIGTERM: hostfarm-nsinit turns it into SIGKILL of the host's PID 1 and exits cleanly.
kill_ns() { local p=; read -r p 2>/dev/null <"$1/ns.pid" || true; if ours "$p"; then kill -TERM "$p" 2>/dev/null || true; fi; }
ns_enter() { # ns_enter HOSTDIR ARGS… — run a command in the host's mount+UTS namespaces
  local ip np pp
  read -r ip 2>/dev/null <"$1/init.pid" || return 0
  read -r np 2>/dev/null <"$1/ns.pid" || return 0
  # The host's PID 1 is the child of our helper: check both before entering anything.
  ours "$np" || return 0
  read -r _ _ _ pp _ 2>/dev/null <"/proc/$ip/stat" || return 0
  [[ $pp == "$np" ]] || return 0
  shift
  nsenter -t "$ip" -m -u -- "$@" 2>/dev/null || true
}

# sshd_reload HOSTDIR — the host's sshd re-reads its configuration and host keys, as `systemctl
# reload sshd` does on a real host. Needed because the farm's sshd runs with -r (no re-exec per
# connection, see hostfarm-nsinit.c): it loads the host keys once. SIGHUP makes sshd re-exec
# itself in place (same PID 1, same namespaces); it rewrites its PID file once it listens again,
# and this waits for that, so the next connection already sees the new key. A host that is not
# up loads the key at its next boot.
sshd_reload() {
  local ip np pp i pidf=$1/root/.hostfarm/ctl/sshd.pid
  read -r ip 2>/dev/null <"$1/init.pid" || return 0
  read -r np 2>/dev/null <"$1/ns.pid" || return 0
  ours "$np" || return 0
  read -r _ _ _ pp _ 2>/dev/null <"/proc/$ip/stat" || return 0
  [[ $pp == "$np" ]] || return 0
  rm -f "$pidf"
  kill -HUP "$ip" 2>/dev/null || return 0
  for ((i = 0; i < 600; i++)); do
    [[ -s $pidf ]] && return 0
    sleep 0.05
  done
  die "host ${1##*/}: sshd did not come back after reload"
}

do_host() {
  load_conf
  PORT=$FARM_PORT
  local H R st action=${pos[1]:-}
  H=$(host_dir); R=$H/root; st=$R/.hostfarm/state
  case $action in
    unreachable)
      rm -f "$H/hang"; touch "$H/unreachable"; kill_ns "$H"
      hf_fifo_send "$H/ctl.fifo" wake # a host sitting in hang moves on
      # A rebooting host stays down after its reboot time; nothing to wait for now.
      [[ $(status_of "$H") == rebooting ]] || wait_status "$H" unreachable 30 ;;
    hang)
      rm -f "$H/unreachable" "$H/hang.ready"; touch "$H/hang"; kill_ns "$H"
      hf_fifo_send "$H/ctl.fifo" wake
      wait_status "$H" hang 30
      local i; for ((i = 0; i < 200; i++)); do [[ -e $H/hang.ready ]] && break; sleep 0.05; done ;;
    reachable)
      local was; was=$(status_of "$H")
      rm -f "$H/unreachable" "$H/poweroff" "$H/hang"
      hf_fifo_send "$H/ctl.fifo" wake
      [[ $was == rebooting ]] || wait_status "$H" up 60 ;;
    reboot)
      printf '%s reboot\n' "$(hf_now_ms)" >"$R/.hostfarm/ctl/request"
      kill_ns "$H" ;;
    wrong-key)
      rm -f "$H/wrong_key" "$H/wrong_key.pub"
      ssh-keygen -q -t ed25519 -N '' -C not-the-farm-key -f "$H/wrong_key"
      cp "$H/wrong_key.pub" "$R/etc/ssh/authorized_keys/root" ;;
    right-key) cp "$DIR/client_key.pub" "$R/etc/ssh/authorized_keys/root" ;;
    rekey)
      rm -f "$H/newkey" "$H/newkey.pub"
      ssh-keygen -q -t ed25519 -N '' -C "root@$(cat "$R/.hostfarm/facts/hostname")" -f "$H/newkey"
      mv -f "$H/newkey" "$R/etc/ssh/ssh_host_ed25519_key"
      mv -f "$H/newkey.pub" "$R/etc/ssh/ssh_host_ed25519_key.pub"
      RSA=0; [[ -f $R/etc/ssh/ssh_host_rsa_key ]] && RSA=1
      write_known_hosts
      sshd_reload "$H" ;;
    set-os)
      local spec=${pos[2]:-} os ver
      os=${spec%%:*}
      hf_os_defaults "$os" || die "unknown OS $os"
      ver=$HF_OS_VERSION; [[ $spec == *:* ]] && ver=${spec#*:}
      set_os "$R" "$os" "$ver"
      echo "$HF_OS_KERNEL" >"$R/.hostfarm/facts/kernel"
      if [[ $os == atomic ]]; then ns_enter "$H" touch /run/ostree-booted; else ns_enter "$H" rm -f /run/ostree-booted; fi
      sed -i "s/^${pos[0]//./\\.} .*/${pos[0]} $os/" "$DIR/hosts.list" ;;
    set-fact)
      local k=${pos[2]:-} v=${pos[3]:-} F=$R/.hostfarm/facts
      [[ -n $v ]] || die "set-fact KEY VALUE"
      case $k in
        cpus) [[ $v =~ ^[1-9][0-9]*$ ]] || die "cpus: a positive integer"; echo "$v" >"$F/cpus"; hf_write_cpu_files "$F" ;;
        memory) [[ $v =~ ^[1-9][0-9]*$ ]] || die "memory: KiB"; echo "$v" >"$F/memory"; hf_write_meminfo "$F" ;;
        space | disk) [[ $v =~ ^[0-9]+$ ]] || die "$k: KiB"; echo "$v" >"$F/$k" ;;
        kernel) echo "$v" >"$F/kernel" ;;
        hostname) echo "$v" >"$F/hostname"; echo "$v" >"$R/etc/hostname"; ns_enter "$H" hostname "$v" ;;
        *) die "unknown fact $k (cpus memory space disk kernel hostname)" ;;
      esac ;;
    set-update) [[ -n ${pos[2]:-} ]] || die "set-update VERSION"; echo "${pos[2]}" >"$st/update.available" ;;
    set-reboot-seconds) [[ ${pos[2]:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "set-reboot-seconds S"; echo "${pos[2]}" >"$H/reboot_seconds" ;;
    fail) [[ -n ${pos[2]:-} ]] || die "fail PREFIX [RC]"; printf '%s\t%s\n' "${pos[2]}" "${pos[3]:-1}" >>"$st/fail" ;;
    unfail) rm -f "$st/fail" ;;
    *) usage ;;
  esac
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  addrs) load_conf; addrs ;;
  reboot-log) sort -k1,1n -k3,3r "$DIR/reboot.log" ;;
  max-down) do_max_down ;;
  records) H=$(host_dir); cat "$H/root/.hostfarm/records.log" ;;
  state) do_state ;;
  ssh) load_conf; H=$(host_dir); exec ssh -F "$DIR/ssh_config" "${pos[0]}" "${pos[@]:1}" ;;
  host) do_host ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
