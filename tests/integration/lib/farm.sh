# Shell library for integration tests that need SSH hosts: wraps hack/hostfarm/farm.sh.
# Source it from a bash test script (set -euo pipefail is fine). Needs root.
#
#   source "$REPO/tests/integration/lib/farm.sh"
#   farm_start 3 fedora            # or: farm_start 10 mixed --reboot-seconds 1
#   farm_ssh "${FARM_ADDRS[0]}" 'cat /etc/os-release'
#   farm_cmds "${FARM_ADDRS[0]}"   # what the stand-ins were asked to do
#   farm_stop                      # also run by the EXIT trap farm_start installs
#
# After farm_start: FARM_DIR (temp dir), FARM_ADDRS (array), FARM_PORT, FARM_KEY (private key
# file, ed25519 OpenSSH format), FARM_KEY_PUB, FARM_KNOWN_HOSTS, FARM_SSH_CONFIG, FARM_BASE.
# Each farm gets its own free 127.A.B range (locked), so tests may run in parallel.
# Set FARM_KEEP=1 to keep the directory after the test (it is printed).

FARM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$FARM_LIB_DIR/errtrap.sh"
FARM_SH=${FARM_SH:-$(cd "$FARM_LIB_DIR/../../.." && pwd)/hack/hostfarm/farm.sh}
FARM_DIR=
FARM_ADDRS=()
_FARM_WATCHDOG=

# farm_start COUNT [OS] [extra farm.sh start args…] — OS: fedora|centos|rhel|atomic|debian|
# unknown|mixed or a comma list (name[:version],…); default mixed.
farm_start() {
  local count=$1 os=${2:-mixed}
  shift; (($#)) && shift
  [[ -z $FARM_DIR ]] || { echo "farm_start: a farm is already running ($FARM_DIR)" >&2; return 1; }
  FARM_DIR=$(mktemp -d /tmp/hostfarm.XXXXXX)
  _farm_install_trap
  _farm_watchdog
  "$FARM_SH" start --dir "$FARM_DIR" --count "$count" --os "$os" "$@" || return 1
  # shellcheck disable=SC1091
  source "$FARM_DIR/farm.conf"
  mapfile -t FARM_ADDRS < <("$FARM_SH" addrs --dir "$FARM_DIR")
  FARM_PORT=$FARM_PORT FARM_BASE=$FARM_BASE
  FARM_KEY=$FARM_DIR/client_key FARM_KEY_PUB=$FARM_DIR/client_key.pub
  FARM_KNOWN_HOSTS=$FARM_DIR/known_hosts FARM_SSH_CONFIG=$FARM_DIR/ssh_config
  export FARM_DIR FARM_PORT FARM_BASE FARM_KEY FARM_KEY_PUB FARM_KNOWN_HOSTS FARM_SSH_CONFIG
}

# farm_stop — stops the farm (every process), removes its directory unless FARM_KEEP=1.
# Idempotent; safe to call from traps.
farm_stop() {
  [[ -n ${FARM_DIR:-} ]] || return 0
  local rc=0
  [[ -n ${_FARM_WATCHDOG:-} ]] && kill "$_FARM_WATCHDOG" 2>/dev/null
  _FARM_WATCHDOG=
  "$FARM_SH" stop --dir "$FARM_DIR" >/dev/null || rc=$?
  if [[ ${FARM_KEEP:-0} == 1 ]]; then echo "farm kept in $FARM_DIR" >&2; else rm -rf "$FARM_DIR"; fi
  FARM_DIR=
  FARM_ADDRS=()
  return $rc
}

# A test killed by its runner's timeout (SIGKILL) runs no trap: this watcher outlives it, notices
# (tail --pid waits without forking) and stops the farm then.
_farm_watchdog() {
  local test_pid=$$ dir=$FARM_DIR keep=${FARM_KEEP:-0}
  (
    trap '' INT HUP
    tail --pid="$test_pid" -f /dev/null >/dev/null 2>&1
    if [[ -f $dir/farm.conf ]]; then
      "$FARM_SH" stop --dir "$dir" >/dev/null 2>&1
      [[ $keep == 1 ]] || rm -rf "$dir"
    fi
  ) </dev/null >/dev/null 2>&1 &
  _FARM_WATCHDOG=$!
}

# Chains our cleanup in front of whatever EXIT trap the test already has (recovered exactly
# through `trap -p`, whose output is valid shell).
_farm_install_trap() {
  local cur
  cur=$(trap -p EXIT)
  [[ $cur == *farm_stop* ]] && return 0
  _FARM_PREV_EXIT=
  if [[ -n $cur ]]; then eval "set -- $cur"; _FARM_PREV_EXIT=$3; fi
  trap 'farm_stop; eval "$_FARM_PREV_EXIT"' EXIT
  [[ -n $(trap -p INT) ]] || trap 'exit 130' INT
  [[ -n $(trap -p TERM) ]] || trap 'exit 143' TERM
}

# farm_ssh ADDR CMD… — OpenSSH client as root with the farm key; strict host key checking.
farm_ssh() { local a=$1; shift; ssh -F "$FARM_SSH_CONFIG" "$a" "$@"; }

farm_records() { "$FARM_SH" records --dir "$FARM_DIR" "$1"; }
# farm_cmds ADDR — the stand-in invocations only, as "name args…" lines, in order.
farm_cmds() { "$FARM_SH" records --dir "$FARM_DIR" "$1" | awk '$3 == "cmd" { $1 = $2 = $3 = ""; sub(/^ +/, ""); print }'; }
# farm_execs ADDR — the command strings received over SSH, in order.
farm_execs() { "$FARM_SH" records --dir "$FARM_DIR" "$1" | awk '$3 == "exec" { $1 = $2 = $3 = ""; sub(/^ +/, ""); print }'; }

# farm_state ADDR [KEY] — all key=value lines (see `farm.sh state`), or the value of KEY. Common
# keys are read straight from the host's files (tests call this a lot).
farm_state() {
  local a=$1 k=${2:-} r=$FARM_DIR/hosts/$1/root/.hostfarm v
  case $k in
    "") "$FARM_SH" state --dir "$FARM_DIR" "$a" ;;
    os) read -r v <"$r/state/os_id"; echo "$v" ;;
    os_version) read -r v <"$r/state/os_version"; echo "$v" ;;
    boot_id | hostname | cpus | memory | space | disk | kernel) read -r v <"$r/facts/$k"; echo "$v" ;;
    packages) sort "$r/state/packages" | paste -sd, ;;
    enabled) sort "$r/state/services.enabled" | paste -sd, ;;
    active) sort "$r/state/services.active" | paste -sd, ;;
    status) read -r v <"$FARM_DIR/hosts/$a/status"; echo "$v" ;;
    *) "$FARM_SH" state --dir "$FARM_DIR" "$a" | sed -n "s/^$k=//p" ;;
  esac
}
farm_host() { "$FARM_SH" host --dir "$FARM_DIR" "$@"; }
farm_status() { "$FARM_SH" status --dir "$FARM_DIR"; }
farm_reboot_log() { "$FARM_SH" reboot-log --dir "$FARM_DIR"; }
farm_max_concurrent_down() { "$FARM_SH" max-down --dir "$FARM_DIR"; }
# farm_reboot_count ADDR — how many times ADDR went down for a reboot.
farm_reboot_count() { awk -v a="$1" '$2 == a && $3 == "down" && $4 == "reboot" { n++ } END { print n + 0 }' "$FARM_DIR/reboot.log"; }
farm_boot_id() { cat "$FARM_DIR/hosts/$1/root/.hostfarm/facts/boot_id"; }
farm_host_status() { cat "$FARM_DIR/hosts/$1/status"; }
# farm_host_key_fp ADDR — "SHA256:…" of the host's current ed25519 host key.
farm_host_key_fp() { ssh-keygen -lf "$FARM_DIR/hosts/$1/root/etc/ssh/ssh_host_ed25519_key.pub" | cut -d' ' -f2; }

# farm_wait_up ADDR [TIMEOUT_S] — until its sshd listens again (status up).
farm_wait_up() {
  local a=$1 t=${2:-30} i
  for ((i = 0; i < t * 20; i++)); do
    [[ $(cat "$FARM_DIR/hosts/$a/status" 2>/dev/null) == up ]] && return 0
    sleep 0.05
  done
  echo "farm_wait_up: $a not up after ${t}s" >&2
  return 1
}
