#!/bin/bash
# Host farm scale benchmark: time to start N hosts (default 200), memory they use (PSS of every
# farm process), CPU they burn while idle, time to stop.
# Usage: tests/bench/farm_start_bench.sh [--count 200] [--idle-seconds 5]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
FARM_SH=$REPO/hack/hostfarm/farm.sh
COUNT=200 IDLE=5
while (($#)); do
  case $1 in
    --count) COUNT=$2; shift 2 ;;
    --idle-seconds) IDLE=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
now_ms() { local us=${EPOCHREALTIME//[!0-9]/}; echo "${us:0:${#us}-3}"; }
DIR=$(mktemp -d /tmp/hostfarm.XXXXXX)
trap '"$FARM_SH" stop --dir "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT

# farm_pids — supervisors, helpers and every process inside the hosts' PID namespaces (sshd
# listeners and their children), without a fork per process.
farm_pids() {
  local f p kids
  for f in "$DIR"/hosts/*/loop.pid "$DIR"/hosts/*/ns.pid "$DIR"/hosts/*/init.pid; do
    read -r p <"$f" || continue
    echo "$p"
    if [[ $f == */init.pid ]] && read -r kids 2>/dev/null <"/proc/$p/task/$p/children"; then
      printf '%s\n' $kids
    fi
  done
}
cpu_ticks() { farm_pids | sed 's|.*|/proc/&/stat|' | xargs cat 2>/dev/null | awk '{ t += $14 + $15 } END { print t + 0 }'; }
echo "farm_start_bench: $COUNT hosts, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
t=$(now_ms)
FARM_TIMING=1 "$FARM_SH" start --dir "$DIR" --count "$COUNT" --os mixed
echo "start: $(($(now_ms) - t)) ms"
sleep 1
read -r pss n < <(farm_pids | sed 's|.*|/proc/&/smaps_rollup|' | xargs cat 2>/dev/null |
  awk '/^Pss:/ { k += $2; n++ } END { print k + 0, n + 0 }')
echo "memory: $((pss / 1024)) MiB PSS in $n processes ($((pss / COUNT)) KiB per host)"
c0=$(cpu_ticks); sleep "$IDLE"; c1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
awk -v d=$((c1 - c0)) -v hz="$hz" -v s="$IDLE" 'BEGIN { printf "idle CPU: %.2f%% of one core over %ds\n", 100 * d / hz / s, s }'
t=$(now_ms)
"$FARM_SH" stop --dir "$DIR" >/dev/null
echo "stop: $(($(now_ms) - t)) ms"
