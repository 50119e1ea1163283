#!/bin/bash
# Fact-gathering benchmark on a host farm: Ansible `setup` (forks=32, pipelining) versus a plain
# OpenSSH loop (`xargs -P32`), plus any number of contenders (commissaire's own fact gathering).
# Every contender runs against the same farm, in the same run, one after the other.
#
# Usage: tests/bench/facts_bench.sh [--count 200] [--forks 32] [--farm-dir DIR]
#          [--contender 'NAME=COMMAND']... [--skip-ansible] [--skip-ssh] [--json FILE]
#
# A contender COMMAND runs with bash -c and these variables exported:
#   FARM_DIR, FARM_ADDRS_FILE (one address per line), FARM_PORT, FARM_KEY (private key),
#   FARM_KNOWN_HOSTS, FARM_SSH_CONFIG, FARM_COUNT, FARM_FACTS_CMD (the fact command the ssh loop
#   runs — see hack/hostfarm/README.md)
# It must gather the facts of every host and exit 0; its wall time is the result.
# With --farm-dir the farm is reused (not started or stopped); otherwise one is started on a free
# 127.A.B range and stopped at the end. KEX is curve25519-sha256 (the farm's sshd allows only it).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
FARM_SH=$REPO/hack/hostfarm/farm.sh
COUNT=200 FORKS=32 FARM_DIR= OWN_FARM=1 SKIP_ANSIBLE=0 SKIP_SSH=0 JSON=
CONTENDERS=()
while (($#)); do
  case $1 in
    --count) COUNT=$2; shift 2 ;;
    --forks) FORKS=$2; shift 2 ;;
    --farm-dir) FARM_DIR=$2; OWN_FARM=0; shift 2 ;;
    --contender) CONTENDERS+=("$2"); shift 2 ;;
    --skip-ansible) SKIP_ANSIBLE=1; shift ;;
    --skip-ssh) SKIP_SSH=1; shift ;;
    --json) JSON=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

now_ms() { local us=${EPOCHREALTIME//[!0-9]/}; echo "${us:0:${#us}-3}"; }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
WORK=$(mktemp -d /tmp/facts-bench.XXXXXX)
cleanup() {
  if ((OWN_FARM)) && [[ -n $FARM_DIR ]]; then "$FARM_SH" stop --dir "$FARM_DIR" >/dev/null 2>&1 || true; rm -rf "$FARM_DIR"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

declare -A RESULT
start_ms=
if ((OWN_FARM)); then
  FARM_DIR=$(mktemp -d /tmp/hostfarm.XXXXXX)
  t=$(now_ms)
  "$FARM_SH" start --dir "$FARM_DIR" --count "$COUNT" --os mixed
  start_ms=$(($(now_ms) - t))
fi
source "$FARM_DIR/farm.conf"
FARM_ADDRS_FILE=$WORK/addrs
"$FARM_SH" addrs --dir "$FARM_DIR" >"$FARM_ADDRS_FILE"
COUNT=$(wc -l <"$FARM_ADDRS_FILE")
export FARM_DIR FARM_ADDRS_FILE FARM_PORT FARM_COUNT=$COUNT FARM_KEY=$FARM_DIR/client_key \
  FARM_KNOWN_HOSTS=$FARM_DIR/known_hosts FARM_SSH_CONFIG=$FARM_DIR/ssh_config
# The same facts the controller gathers (hack/hostfarm/README.md), in one round trip per host.
export FARM_FACTS_CMD='cat /etc/os-release; echo @@; nproc; echo @@; grep MemTotal /proc/meminfo; echo @@; df -Pk /; echo @@; uname -r; echo @@; cat /proc/sys/kernel/random/boot_id; echo @@; hostname; echo @@; if test -e /run/ostree-booted; then rpm-ostree status --json; fi'
echo "facts_bench: $COUNT hosts, forks $FORKS, KEX curve25519-sha256, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# check_boot_ids DIR — every host's output holds its current boot id (the run really gathered).
check_boot_ids() {
  local a ok=0
  while read -r a; do
    grep -qF "$(cat "$FARM_DIR/hosts/$a/root/.hostfarm/facts/boot_id")" "$1/$a" 2>/dev/null && ok=$((ok + 1))
  done <"$FARM_ADDRS_FILE"
  echo "$ok"
}

# check_hostnames DIR — Ansible's per-host JSON names the host's own hostname (setup has no boot id).
check_hostnames() {
  local a ok=0
  while read -r a; do
    grep -qF "\"ansible_hostname\": \"$(cat "$FARM_DIR/hosts/$a/root/.hostfarm/facts/hostname")\"" "$1/$a" 2>/dev/null && ok=$((ok + 1))
  done <"$FARM_ADDRS_FILE"
  echo "$ok"
}

if ((!SKIP_ANSIBLE)); then
  if ! command -v ansible >/dev/null; then
    echo "ansible missing: installing ansible-core (benchmark only; not a project dependency)"
    apt-get install -y ansible-core >/dev/null
  fi
  inv=$WORK/inventory.ini
  {
    echo "[farm]"
    cat "$FARM_ADDRS_FILE"
    echo "[farm:vars]"
    echo "ansible_user=root"
    echo "ansible_port=$FARM_PORT"
    echo "ansible_ssh_private_key_file=$FARM_KEY"
    echo "ansible_python_interpreter=/usr/bin/python3"
    echo "ansible_ssh_common_args='-o UserKnownHostsFile=$FARM_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o KexAlgorithms=curve25519-sha256 -o IdentitiesOnly=yes'"
  } >"$inv"
  mkdir -p "$WORK/ansible-tree"
  t=$(now_ms)
  rc=0
  ANSIBLE_PIPELINING=True ANSIBLE_FORKS=$FORKS ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_GATHERING=explicit \
    ANSIBLE_LOCAL_TEMP=$WORK/ansible-local ANSIBLE_SSH_CONTROL_PATH_DIR=$WORK/cp \
    ansible farm -i "$inv" -m setup -f "$FORKS" -t "$WORK/ansible-tree" >"$WORK/ansible.out" 2>&1 || rc=$?
  ms=$(($(now_ms) - t))
  ok=$(check_hostnames "$WORK/ansible-tree")
  RESULT[ansible]=$ms
  echo "ansible setup:     $(secs "$ms") s   ($ok/$COUNT hosts with facts, rc $rc)"
fi

if ((!SKIP_SSH)); then
  mkdir -p "$WORK/ssh-out"
  t=$(now_ms)
  rc=0
  xargs -P "$FORKS" -I{} sh -c 'ssh -F "$FARM_SSH_CONFIG" "$1" "$FARM_FACTS_CMD" >"$2/$1" 2>&1' _ {} "$WORK/ssh-out" \
    <"$FARM_ADDRS_FILE" || rc=$?
  ms=$(($(now_ms) - t))
  ok=$(check_boot_ids "$WORK/ssh-out")
  RESULT[ssh_loop]=$ms
  echo "ssh loop (xargs):  $(secs "$ms") s   ($ok/$COUNT hosts with facts, rc $rc)"
fi

for c in "${CONTENDERS[@]}"; do
  name=contender cmd=$c
  if [[ $c =~ ^([A-Za-z0-9_.-]+)=(.*)$ ]]; then name=${BASH_REMATCH[1]} cmd=${BASH_REMATCH[2]}; fi
  t=$(now_ms)
  rc=0
  bash -c "$cmd" || rc=$?
  ms=$(($(now_ms) - t))
  RESULT[$name]=$ms
  echo "$(printf '%-18s' "$name:") $(secs "$ms") s   (rc $rc)"
  ((rc == 0)) || echo "  $name failed (exit $rc)" >&2
done

[[ -n $start_ms ]] && echo "farm start ($COUNT hosts): $(secs "$start_ms") s"
if [[ -n ${RESULT[ansible]:-} && -n ${RESULT[ssh_loop]:-} ]]; then
  awk -v a="${RESULT[ansible]}" -v s="${RESULT[ssh_loop]}" 'BEGIN { printf "ansible / ssh loop: %.1fx\n", a / s }'
fi
for k in "${!RESULT[@]}"; do
  [[ $k == ansible || $k == ssh_loop ]] && continue
  [[ -n ${RESULT[ansible]:-} ]] && awk -v a="${RESULT[ansible]}" -v c="${RESULT[$k]}" -v n="$k" 'BEGIN { printf "ansible / %s: %.1fx\n", n, a / c }'
  [[ -n ${RESULT[ssh_loop]:-} ]] && awk -v a="${RESULT[ssh_loop]}" -v c="${RESULT[$k]}" -v n="$k" 'BEGIN { printf "ssh loop / %s: %.1fx\n", n, a / c }'
done
if [[ -n $JSON ]]; then
  {
    printf '{"hosts":%d,"forks":%d' "$COUNT" "$FORKS"
    [[ -n $start_ms ]] && printf ',"farm_start_ms":%d' "$start_ms"
    for k in "${!RESULT[@]}"; do printf ',"%s_ms":%d' "$k" "${RESULT[$k]}"; done
    printf '}\n'
  } >"$JSON"
fi
