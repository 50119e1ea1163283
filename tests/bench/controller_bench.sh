#!/usr/bin/env bash
# Controller benchmark: N farm hosts (default 200, mixed OSes) created at once in a managed
# cluster -> time until every Host is `active` (target < 30 s for 200), the controller's peak RSS
# (target < 32 MB) and its CPU time per host. A stand-in kubelet reports each Node Ready the
# moment it is registered (the farm has no kubelets).
#
# Usage: tests/bench/controller_bench.sh [--count 200] [--workers 32] [--max-ssh-sessions 64]
#          [--timeout 300] [--json FILE]
# Builds a Release (no sanitizers) controller and kube-lite in $BUILD_DIR (default
# build-bench-ctl) unless CONTROLLER and KUBE_LITE point at binaries.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
COUNT=200 WORKERS=32 SESSIONS=64 TIMEOUT=300 JSON=
while (($#)); do
    case $1 in
    --count) COUNT=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --max-ssh-sessions) SESSIONS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

if [[ -z "${CONTROLLER:-}" || -z "${KUBE_LITE:-}" ]]; then
    BUILD_DIR=${BUILD_DIR:-$REPO/build-bench-ctl}
    # -Wno-error for two -O2-only warnings outside the controller (reported to their owners).
    cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS="-Wno-error=maybe-uninitialized -Wno-error=format-truncation" >/dev/null
    cmake --build "$BUILD_DIR" --target commissaire-controller kube-lite -j2 >/dev/null
    CONTROLLER=$BUILD_DIR/controller/commissaire-controller
    KUBE_LITE=$BUILD_DIR/hack/kube-lite/kube-lite
fi
export KUBE_LITE
unset KUBECONFIG
source "$REPO/tests/integration/lib/kubelite.sh"
FARM_SH=$REPO/hack/hostfarm/farm.sh
NS=commissaire
now_ms() { local us=${EPOCHREALTIME//[!0-9]/}; echo "${us:0:${#us}-3}"; }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

FARM_DIR= CT_PID= KUBELET_PID=
cleanup() {
    set +e
    [[ -n "$KUBELET_PID" ]] && kill "$KUBELET_PID" 2>/dev/null && wait "$KUBELET_PID" 2>/dev/null
    [[ -n "$CT_PID" ]] && kill -TERM "$CT_PID" 2>/dev/null && wait "$CT_PID" 2>/dev/null
    if [[ -n "$FARM_DIR" ]]; then
        "$FARM_SH" stop --dir "$FARM_DIR" >/dev/null 2>&1
        rm -rf "$FARM_DIR"
    fi
    kl_stop >/dev/null 2>&1
}
trap cleanup EXIT

kl_start
kl_apply_crds
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: $NS}
YAML

FARM_DIR=$(mktemp -d /tmp/ctlbench-farm.XXXXXX)
t=$(now_ms)
"$FARM_SH" start --dir "$FARM_DIR" --count "$COUNT" --os mixed --base auto >/dev/null
farm_ms=$(($(now_ms) - t))
mapfile -t ADDRS < <("$FARM_SH" addrs --dir "$FARM_DIR")
PORT=$(sed -n 's/^FARM_PORT=//p' "$FARM_DIR/farm.conf")

kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata: {name: farm-key, namespace: $NS}
type: kubernetes.io/ssh-auth
data:
  ssh-privatekey: $(base64 -w0 "$FARM_DIR/client_key")
---
apiVersion: commissaire.io/v1alpha1
kind: ContainerManager
metadata: {name: k8s, namespace: $NS}
spec: {type: kubernetes, inCluster: true}
---
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: bench, namespace: $NS}
spec: {containerManager: k8s}
YAML

python3 "$REPO/tests/bench/controller_bench_kubelet.py" "$KL_URL" "$KL_TOKEN" "$KL_CA" &
KUBELET_PID=$!

LOG=$KL_DIR/controller.log
"$CONTROLLER" --namespace $NS --metrics-addr 127.0.0.1:0 --log-level info \
    --workers "$WORKERS" --max-ssh-sessions "$SESSIONS" --qps 2000 --burst 4000 \
    --host-check-interval 10m --ssh-connect-timeout 20s >"$LOG" 2>&1 &
CT_PID=$!
port=
for ((i = 0; i < 100; i++)); do
    port=$(sed -n 's/.*msg="serving \/metrics \/healthz \/readyz".* port=\([0-9]*\).*/\1/p' "$LOG" | head -n1)
    [[ -n "$port" ]] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
[[ -n "$port" ]] || { cat "$LOG" >&2; echo "the controller did not start" >&2; exit 1; }

# All Hosts at once, as one List.
{
    printf '{"apiVersion":"v1","kind":"List","items":['
    sep=
    for a in "${ADDRS[@]}"; do
        printf '%s{"apiVersion":"commissaire.io/v1alpha1","kind":"Host","metadata":{"name":"%s","namespace":"%s"},"spec":{"address":"%s","port":%s,"cluster":"bench","sshKeySecretRef":{"name":"farm-key"}}}' \
            "$sep" "$a" "$NS" "$a" "$PORT"
        sep=,
    done
    printf ']}'
} >"$KL_DIR/hosts.json"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$CT_PID/stat"; }
# CPU used on the hosts' side: every farm host's sshd (init.pid) with the sessions it has reaped (the
# stand-ins, shells, sftp servers). Load-independent, unlike the wall time.
farm_ticks() {
    local f p s=0 t
    for f in "$FARM_DIR"/hosts/*/init.pid; do
        read -r p <"$f" 2>/dev/null || continue
        t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null) || continue
        s=$((s + ${t:-0}))
    done
    echo "$s"
}
tck=$(getconf CLK_TCK)
cpu0=$(cpu_ticks)
farm0=$(farm_ticks)
t0=$(now_ms)
kubectl create --validate=false -f "$KL_DIR/hosts.json" >/dev/null
create_ms=$(($(now_ms) - t0))

active=0 failed=0 last=0
while :; do
    counts=$(kl_curl "/apis/commissaire.io/v1alpha1/namespaces/$NS/hosts" -f 2>/dev/null |
        jq -r '[.items[].status.phase] | "\(map(select(. == "active")) | length) \(map(select(. == "failed")) | length)"')
    read -r active failed <<<"$counts"
    el=$(($(now_ms) - t0))
    if ((el - last >= 2000)); then
        echo "  $(secs $el)s: $active/$COUNT active, $failed failed" >&2
        last=$el
    fi
    ((active == COUNT)) && break
    if ((el > TIMEOUT * 1000)); then
        echo "timed out after ${TIMEOUT}s: $active/$COUNT active" >&2
        break
    fi
    sleep 0.2
done
total_ms=$(($(now_ms) - t0))
cpu_ms=$((($(cpu_ticks) - cpu0) * 1000 / tck))
rss_kib=$(awk '/^VmHWM/ { print $2 }' "/proc/$CT_PID/status")
metrics=$(curl -sf "http://127.0.0.1:$port/metrics" 2>/dev/null || true)
api=$(awk '/^commissaire_controller_api_requests_total/ { s += $2 } END { print s + 0 }' <<<"$metrics")
ssh_n=$(awk '$1 == "commissaire_controller_ssh_command_duration_seconds_count" { print $2 }' <<<"$metrics")
ssh_sum=$(awk '$1 == "commissaire_controller_ssh_command_duration_seconds_sum" { print $2 }' <<<"$metrics")
# Stop the controller first: its idle SSH sessions close, and the farm's sshds reap them.
kill -TERM "$CT_PID" 2>/dev/null && wait "$CT_PID" 2>/dev/null || true
CT_PID=
sleep 0.5
fcpu_ms=$((($(farm_ticks) - farm0) * 1000 / tck))

echo "controller benchmark: $COUNT hosts (mixed OSes), $WORKERS workers, $SESSIONS SSH sessions, $(nproc) CPUs"
echo "  farm start:                 $(secs $farm_ms) s"
echo "  hosts created (kubectl):    $(secs $create_ms) s"
echo "  all active:                 $(secs $total_ms) s   ($active/$COUNT active, $failed failed; target < 30 s)"
echo "  controller peak RSS:        $((rss_kib / 1024)) MiB ($rss_kib KiB; target < 32 MiB)"
echo "  controller CPU:             $(secs $cpu_ms) s total, $((cpu_ms / COUNT)) ms per host"
echo "  API requests:               $api ($((api / COUNT)) per host): $(awk -F'[{}"]' '/^commissaire_controller_api_requests_total/ { split($0, f, " "); n[$3] += f[2] } END { for (v in n) printf "%s %d  ", v, n[v] }' <<<"$metrics")"
echo "  SSH round trips:            ${ssh_n:-?} (mean $(awk -v s="${ssh_sum:-0}" -v n="${ssh_n:-1}" 'BEGIN { printf "%.0f", s * 1000 / (n ? n : 1) }') ms)"
# What the hosts had to do (load-independent): SSH exec channels, SFTP sessions and stand-in
# commands, from the farm's records.
read -r f_exec f_sftp f_cmd < <(cat "$FARM_DIR"/hosts/*/root/.hostfarm/records.log 2>/dev/null |
    awk '$3 == "exec" { e++ } $3 == "sftp" && $4 == "start" { s++ } $3 == "cmd" { c++ } END { print e + 0, s + 0, c + 0 }')
echo "  host side CPU (farm sshds): $(secs $fcpu_ms) s total, $((fcpu_ms / COUNT)) ms per host"
echo "  host side (farm records):   $f_exec exec channels, $f_sftp SFTP sessions, $f_cmd stand-in commands ($((f_exec / COUNT)) / $((f_sftp / COUNT)) / $((f_cmd / COUNT)) per host)"
echo "  Events by reason:           $(kl_curl "/api/v1/namespaces/$NS/events" -f 2>/dev/null | jq -r '[.items[] | {r: .reason, c: (.count // 1)}] | group_by(.r) | map("\(.[0].r) \(map(.c) | add)") | join("  ")')"
echo "  Host reconciles:            $(awk '$1 == "commissaire_controller_reconcile_total{kind=\"Host\"}" { print $2 }' <<<"$metrics")"
echo "  load average now:           $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "$JSON" ]]; then
    printf '{"hosts":%d,"all_active_ms":%d,"active":%d,"failed":%d,"peak_rss_kib":%d,"cpu_ms":%d,"cpu_ms_per_host":%d,"api_requests":%d}\n' \
        "$COUNT" "$total_ms" "$active" "$failed" "$rss_kib" "$cpu_ms" $((cpu_ms / COUNT)) "$api" >"$JSON"
fi
((active == COUNT))
