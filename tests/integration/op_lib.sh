# op_lib.sh: helpers of the Operation integration tests (kube-lite + host farm +
# commissaire-controller, driven with real kubectl).
#
# Source after `set -euo pipefail`. Needs env (set by tests/integration/operations.cmake):
#   KUBE_LITE, CONTROLLER (binary paths), REPO (source tree).
# Provides:
#   op_setup                 kube-lite, CRDs, namespace; EXIT trap stopping everything
#   op_farm N OS [args]      N farm hosts on a free loopback range (FARM_DIR, FARM_ADDRS, ...)
#   op_secret                the farm key as the Secret farm-key
#   op_cluster NAME [cm]     a Cluster (with ContainerManager `cm`, created inCluster, if given)
#   op_hosts CLUSTER ADDR... Hosts (name = address) in CLUSTER, one apply
#   op_wait_phase KIND PHASE TIMEOUT ADDR...  Hosts reach a phase
#   op_controller [flags]    start the controller (OP_PID, OP_LOG, OP_METRICS)
#   op_kill_controller       SIGKILL it (no cleanup at all)
#   op_stop_controller       SIGTERM it; fails on a bad exit or a sanitizer report
#   op_fake_kubelet          background loop: each Node Ready iff its farm host is up
#   op_create NAME CLUSTER TYPE [spec lines...]  apply an Operation
#   op_wait TIMEOUT DESC CMD...  retry CMD every 0.2 s
#   op_jp NAME PATH          jsonpath of Operation NAME;  op_host_field OP HOST FIELD
#   op_phase_is NAME PHASE
#   op_fail MSG              diagnostics, exit 1
# Everything started is stopped by the EXIT trap (controller, kubelet loop, watchers, farm,
# kube-lite).

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NS=commissaire
OP_PID=
OP_LOG=
OP_LOGS=()
OP_METRICS=
OP_BG=()
FARM_DIR=
FARM_ADDRS=()
FARM_SH="$REPO/hack/hostfarm/farm.sh"

unset KUBECONFIG
# shellcheck source=lib/kubelite.sh
source "$REPO/tests/integration/lib/kubelite.sh"

op_log() { echo "[$(date +%T.%3N)] $*" >&2; }

op_cleanup() {
    local rc=$? p
    set +e
    for p in "${OP_BG[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [[ -n "$OP_PID" ]]; then
        kill -TERM "$OP_PID" 2>/dev/null
        wait "$OP_PID" 2>/dev/null
    fi
    if [[ -n "$FARM_DIR" ]]; then
        "$FARM_SH" stop --dir "$FARM_DIR" >/dev/null 2>&1
        rm -rf "$FARM_DIR"
    fi
    kl_stop || rc=1
    exit $rc
}

op_setup() {
    trap op_cleanup EXIT
    kl_start
    kl_apply_crds
    kubectl create namespace $NS >/dev/null
}

op_fail() {
    op_log "FAIL: $*"
    kubectl -n $NS get operations -o wide 2>&1 | head -20 >&2 || true
    kubectl -n $NS get operations -o json 2>/dev/null |
        jq -c '.items[] | {name: .metadata.name, phase: .status.phase, message: .status.message,
               hosts: [.status.hosts[]? | {name, step, message}]}' 2>/dev/null | head -c 6000 >&2 || true
    echo >&2
    kubectl -n $NS get hosts 2>&1 | head -20 >&2 || true
    if [[ -n "$FARM_DIR" ]]; then
        op_log "farm reboot log:"
        "$FARM_SH" reboot-log --dir "$FARM_DIR" 2>&1 | tail -30 >&2
    fi
    local l
    for l in "${OP_LOGS[@]}"; do
        op_log "controller log $l (operation lines, tail):"
        grep -E 'operation|error|ERROR|WARN|Sanitizer' "$l" | tail -n 40 >&2 || true
        if [[ -n "${OP_KEEP_LOGS:-}" ]]; then cp "$l" "$OP_KEEP_LOGS/" 2>/dev/null || true; fi
    done
    exit 1
}

# op_wait TIMEOUT_S DESCRIPTION CMD...
op_wait() {
    local timeout=$1 desc=$2
    shift 2
    local end=$((SECONDS + timeout))
    while ! "$@" >/dev/null 2>&1; do
        if ((SECONDS >= end)); then
            op_fail "timed out after ${timeout}s waiting for: $desc"
        fi
        sleep 0.2
    done
}

op_farm() {
    local n=$1 os=$2
    shift 2
    FARM_DIR=$(mktemp -d /tmp/opfarm.XXXXXX)
    "$FARM_SH" start --dir "$FARM_DIR" --count "$n" --os "$os" --base auto "$@" >"$FARM_DIR.log" 2>&1 ||
        { cat "$FARM_DIR.log" >&2; rm -f "$FARM_DIR.log"; op_fail "farm did not start"; }
    rm -f "$FARM_DIR.log"
    mapfile -t FARM_ADDRS < <("$FARM_SH" addrs --dir "$FARM_DIR")
    FARM_KEY="$FARM_DIR/client_key"
    FARM_PORT=$(sed -n 's/^FARM_PORT=//p' "$FARM_DIR/farm.conf" | head -n1)
    FARM_PORT=${FARM_PORT:-2222}
}

op_farm_host() { "$FARM_SH" host --dir "$FARM_DIR" "$@" >/dev/null; }
op_farm_state() { "$FARM_SH" state --dir "$FARM_DIR" "$1" | sed -n "s/^$2=//p"; }
op_farm_boot_id() { cat "$FARM_DIR/hosts/$1/root/.hostfarm/facts/boot_id"; }
op_farm_status() { cat "$FARM_DIR/hosts/$1/status" 2>/dev/null; }
op_reboot_count() { awk -v a="$1" '$2 == a && $3 == "down" && $4 == "reboot" { n++ } END { print n + 0 }' "$FARM_DIR/reboot.log"; }
op_reboots_total() { awk '$3 == "down" && $4 == "reboot" { n++ } END { print n + 0 }' "$FARM_DIR/reboot.log"; }
op_max_down() { "$FARM_SH" max-down --dir "$FARM_DIR"; }

op_secret() {
    kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata: {name: farm-key, namespace: $NS}
type: kubernetes.io/ssh-auth
data:
  ssh-privatekey: $(base64 -w0 "$FARM_KEY")
EOF
}

# op_cluster NAME [CM]: a Cluster; with CM, also a kubernetes ContainerManager CM that is
# kube-lite itself (inCluster), so Nodes live next to the commissaire objects.
op_cluster() {
    local name=$1 cm=${2:-}
    if [[ -n "$cm" ]]; then
        kubectl apply -f - >/dev/null <<EOF
apiVersion: commissaire.io/v1alpha1
kind: ContainerManager
metadata: {name: $cm, namespace: $NS}
spec: {type: kubernetes, inCluster: true}
---
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: $name, namespace: $NS}
spec: {containerManager: $cm}
EOF
    else
        kubectl apply -f - >/dev/null <<EOF
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: $name, namespace: $NS}
spec: {}
EOF
    fi
}

# op_hosts CLUSTER ADDR...
op_hosts() {
    local cluster=$1 a
    shift
    for a in "$@"; do
        printf -- '---\napiVersion: commissaire.io/v1alpha1\nkind: Host\nmetadata: {name: "%s", namespace: %s}\n' "$a" "$NS"
        printf 'spec:\n  address: "%s"\n  port: %s\n  sshKeySecretRef: {name: farm-key}\n  cluster: %s\n' "$a" "$FARM_PORT" "$cluster"
    done | kubectl apply -f - >/dev/null
}

_op_hosts_in_phase() {
    local phase=$1 a
    shift
    local got
    got=$(op_hosts_json | jq -r '.items[] | .metadata.name + "=" + (.status.phase // "")')
    for a in "$@"; do grep -qx "$a=$phase" <<<"$got" || return 1; done
}
# op_wait_phase PHASE TIMEOUT ADDR...
op_wait_phase() {
    local phase=$1 t=$2
    shift 2
    op_wait "$t" "hosts $phase" _op_hosts_in_phase "$phase" "$@"
}

# op_controller [extra flags]: short intervals so the suite stays fast.
op_controller() {
    OP_LOG=$(mktemp "${KL_DIR}/controller.XXXX.log")
    OP_LOGS+=("$OP_LOG")
    "$CONTROLLER" --namespace $NS --metrics-addr 127.0.0.1:0 --log-level info \
        --host-check-interval 60s --host-retry-interval 2s --node-poll-interval 200ms \
        --ssh-connect-timeout 10s --ssh-command-timeout 60s --qps 500 --burst 1000 \
        --builtin-profiles-dir "$REPO/controller/hostos/profiles" "$@" >"$OP_LOG" 2>&1 &
    OP_PID=$!
    local i
    OP_METRICS=
    for ((i = 0; i < 100; i++)); do
        OP_METRICS=$(sed -n 's/.*msg="serving \/metrics \/healthz \/readyz".* port=\([0-9]*\).*/\1/p' "$OP_LOG" | head -n1)
        [[ -n "$OP_METRICS" ]] && break
        kill -0 "$OP_PID" 2>/dev/null || { cat "$OP_LOG" >&2; op_fail "controller exited at start"; }
        sleep 0.1
    done
    [[ -n "$OP_METRICS" ]] || op_fail "controller did not announce its metrics port"
}

op_kill_controller() {
    [[ -n "$OP_PID" ]] || return 0
    kill -KILL "$OP_PID"
    wait "$OP_PID" 2>/dev/null || true
    OP_PID=
}

op_stop_controller() {
    [[ -n "$OP_PID" ]] || return 0
    kill -TERM "$OP_PID"
    local rc=0 l
    wait "$OP_PID" || rc=$?
    OP_PID=
    for l in "${OP_LOGS[@]}"; do
        if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$l"; then
            grep -A30 -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$l" | head -60 >&2
            op_fail "sanitizer report in the controller log $l"
        fi
    done
    [[ $rc == 0 ]] || op_fail "controller exited with $rc on SIGTERM"
}

# The farm has no kubelets: this stands in for them. A Node is Ready while its farm host is up
# and NotReady while it is down (rebooting), as a kubelet would report it. curl, not kubectl:
# it runs several times a second.
op_fake_kubelet() {
    (
        set +e
        while :; do
            while read -r n cur; do
                [[ -n "$n" ]] || continue
                want=False
                [[ "$(cat "$FARM_DIR/hosts/$n/status" 2>/dev/null)" == up ]] && want=True
                [[ "$cur" == "$want" ]] && continue
                kl_curl "/api/v1/nodes/$n/status" -X PATCH -H 'Content-Type: application/merge-patch+json' \
                    --data-binary "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"$want\",\"reason\":\"FakeKubelet\",\"message\":\"fake kubelet\"}]}}" \
                    -o /dev/null 2>/dev/null
            done < <(kl_curl /api/v1/nodes 2>/dev/null |
                jq -r '.items[] | .metadata.name + " " + ([.status.conditions[]? | select(.type == "Ready") | .status][0] // "none")' 2>/dev/null)
            sleep 0.2
        done
    ) &
    OP_BG+=($!)
}

# op_json NAME: the Operation as JSON (one request; query it with jq).
op_json() { kl_curl "/apis/commissaire.io/v1alpha1/namespaces/$NS/operations/$1"; }
# op_hosts_json: every Host as JSON.
op_hosts_json() { kl_curl "/apis/commissaire.io/v1alpha1/namespaces/$NS/hosts"; }

# op_create NAME CLUSTER TYPE [spec lines "key: value"...]
op_create() {
    local name=$1 cluster=$2 type=$3 l
    shift 3
    {
        printf 'apiVersion: commissaire.io/v1alpha1\nkind: Operation\nmetadata: {name: %s, namespace: %s}\n' "$name" "$NS"
        printf 'spec:\n  cluster: %s\n  type: %s\n' "$cluster" "$type"
        for l in "$@"; do printf '  %s\n' "$l"; done
    } | kubectl apply -f - >/dev/null
}

op_jp() { kubectl -n $NS get operation "$1" -o jsonpath="{$2}" 2>/dev/null; }
# op_phase NAME: status.phase via the API (fast; used in wait loops).
op_phase() { kl_curl "/apis/commissaire.io/v1alpha1/namespaces/$NS/operations/$1" 2>/dev/null | jq -r '.status.phase // ""'; }
op_phase_is() { [[ "$(op_phase "$1")" == "$2" ]]; }
# op_host_field OP HOST FIELD
op_host_field() { op_json "$1" | jq -r --arg h "$2" --arg f "$3" '.status.hosts[]? | select(.name == $h) | .[$f] // ""'; }
op_host_step_is() { [[ "$(op_host_field "$1" "$2" step)" == "$3" ]]; }
op_metric() { curl -sf "http://127.0.0.1:$OP_METRICS/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
op_expect_eq() { [[ "$2" == "$3" ]] || op_fail "$1: got '$2', want '$3'"; }
op_events() { kubectl -n $NS get events --field-selector "involvedObject.kind=Operation,involvedObject.name=$1" -o jsonpath='{range .items[*]}{.reason}{" "}{.message}{"\n"}{end}' 2>/dev/null; }
