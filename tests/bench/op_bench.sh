#!/usr/bin/env bash
# op_bench.sh — rolling restart of N farm hosts (default 100), reboot time R s (default 2),
# maxUnavailable W (default 10): prints the measured time against the ideal ceil(N/W) x R
# (10 x 2 s = 20 s; target: within 10 %, so under 22 s) and the controller's CPU time per host.
#
# Usage: tests/bench/op_bench.sh [BUILD_DIR]
#   BUILD_DIR holds hack/kube-lite/kube-lite and controller/commissaire-controller; use a
#   Release build for meaningful CPU figures (default: build-op-rel, else build-op).
#   Env: N, W, R (above), OS (farm OS, default atomic), POLL (controller --node-poll-interval, default 100ms), KUBE_LITE,
#   CONTROLLER (binaries, overriding BUILD_DIR's), LOG_LEVEL (the controller's, default info), KEEP (a directory: the controller log, the
#   farm reboot log and the Operation's JSON are copied there, for a timeline).
# Needs root (the farm). Starts kube-lite, the farm and the controller, and stops them all.
#
# What is measured:
#   operation: status.startedAt -> status.finishedAt (the controller's own account)
#   farm:      first `down` -> last `up` in the farm's reboot log (what the hosts saw)
#   cpu:       controller user+system CPU during the operation, divided by N
# The run also checks correctness: every host rebooted exactly once, at most W down at once.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
export REPO
N=${N:-100}
W=${W:-10}
R=${R:-2}
POLL=${POLL:-100ms}
BUILD=${1:-}
if [[ -z "$BUILD" ]]; then
    BUILD=$REPO/build-op-rel
    [[ -x $BUILD/controller/commissaire-controller ]] || BUILD=$REPO/build-op
fi
# KUBE_LITE / CONTROLLER may also be given one by one (e.g. a Release controller with the
# kube-lite of another build).
export KUBE_LITE=${KUBE_LITE:-$BUILD/hack/kube-lite/kube-lite}
export CONTROLLER=${CONTROLLER:-$BUILD/controller/commissaire-controller}
[[ -x $KUBE_LITE && -x $CONTROLLER ]] || { echo "op_bench: build kube-lite and commissaire-controller in $BUILD first" >&2; exit 2; }
# shellcheck source=../integration/op_lib.sh
source "$REPO/tests/integration/op_lib.sh"

ms_of() { date -u -d "$1" +%s%3N; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

op_setup
op_log "starting $N farm hosts"
# atomic hosts: the farm image ships their packages, so the (unmeasured) bootstrap before the
# operation is the shortest; a restart is the same on every OS.
op_farm "$N" "${OS:-atomic}" --reboot-seconds "$R"
op_secret
op_cluster bench
op_controller --node-poll-interval "$POLL" --workers 32 --max-ssh-sessions 64 --log-level "${LOG_LEVEL:-info}" \
    --qps 2000 --burst 4000 --ssh-connect-timeout 30s --host-check-interval 10m
op_hosts bench "${FARM_ADDRS[@]}"
op_log "waiting for $N hosts to be configured (host lifecycle, not measured)"
op_wait_phase disassociated 900 "${FARM_ADDRS[@]}"
sleep 2 # let the Host reconciler settle

hz=$(getconf CLK_TCK)
cpu0=$(cpu_ticks "$OP_PID")
t0=$(date +%s%3N)
op_create bench bench restart "maxUnavailable: $W" "hostTimeout: 5m"
while ! op_phase_is bench Finished; do
    ph=$(op_phase bench)
    [[ "$ph" == Failed || "$ph" == Canceled ]] && op_fail "the operation ended $ph"
    (($(date +%s%3N) - t0 < 900000)) || op_fail "the operation did not finish in 15 minutes"
    sleep 0.1
done
t1=$(date +%s%3N)
cpu1=$(cpu_ticks "$OP_PID")

j=$(op_json bench)
started=$(ms_of "$(jq -r .status.startedAt <<<"$j")")
finished=$(ms_of "$(jq -r .status.finishedAt <<<"$j")")
op_ms=$((finished - started))
farm_first=$(awk '$3 == "down" { print $1 }' "$FARM_DIR/reboot.log" | sort -n | head -n1)
farm_last=$(awk '$3 == "up" { print $1 }' "$FARM_DIR/reboot.log" | sort -n | tail -n1)
farm_ms=$((farm_last - farm_first))
waves=$(((N + W - 1) / W))
ideal_ms=$((waves * R * 1000))
maxdown=$(op_max_down)
reboots=$(op_reboots_total)
bad=0
for a in "${FARM_ADDRS[@]}"; do [[ $(op_reboot_count "$a") == 1 ]] || bad=$((bad + 1)); done
cpu_ms=$(((cpu1 - cpu0) * 1000 / hz))
# Mean time a host was down (farm view), to separate the farm's own reboot latency from ours.
mean_down=$(awk '$3 == "down" { d[$2] = $1 } $3 == "up" && ($2 in d) { s += $1 - d[$2]; n++; delete d[$2] }
                 END { if (n) printf "%d", s / n; else print 0 }' "$FARM_DIR/reboot.log")

printf '\nop_bench: rolling restart, %d hosts, maxUnavailable %d, reboot time %d s (%s)\n' "$N" "$W" "$R" "$(basename "$BUILD")"
printf '  ideal (%d waves x %d s)        %6.2f s\n' "$waves" "$R" "$(bc -l <<<"$ideal_ms/1000")"
printf '  operation (startedAt..finishedAt) %6.2f s  (%+.1f %% over ideal)\n' "$(bc -l <<<"$op_ms/1000")" "$(bc -l <<<"($op_ms-$ideal_ms)*100/$ideal_ms")"
printf '  farm (first down..last up)     %6.2f s\n' "$(bc -l <<<"$farm_ms/1000")"
printf '  wall (create..Finished seen)   %6.2f s\n' "$(bc -l <<<"($t1-$t0)/1000")"
printf '  mean time a host was down      %6.3f s (farm: reboot time + its sshd start)\n' "$(bc -l <<<"$mean_down/1000")"
printf '  controller CPU                 %6.2f s total, %.1f ms per host\n' "$(bc -l <<<"$cpu_ms/1000")" "$(bc -l <<<"$cpu_ms/$N")"
printf '  max hosts down at once         %d (limit %d)\n' "$maxdown" "$W"
printf '  reboots                        %d (hosts not rebooted exactly once: %d)\n' "$reboots" "$bad"
printf '  load average                   %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "${KEEP:-}" ]]; then
    mkdir -p "$KEEP"
    cp "$FARM_DIR/reboot.log" "$KEEP/reboot.log"
    printf '%s\n' "$j" >"$KEEP/operation.json"
    cp "$OP_LOG" "$KEEP/controller.log"
fi
((maxdown <= W)) || op_fail "more than $W hosts down at once"
((bad == 0)) || op_fail "$bad hosts were not rebooted exactly once"
op_stop_controller
