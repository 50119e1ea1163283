# controller_host_lib.sh: shared helpers of the controller integration tests
# (kube-lite + host farm + commissaire-controller, driven with real kubectl).
#
# Source after `set -euo pipefail`. Needs env (set by tests/integration/controller.cmake):
#   KUBE_LITE, CONTROLLER (binary paths), REPO (source tree).
# Provides:
#   ct_setup                start kube-lite, apply CRDs, create the namespace; EXIT trap
#   ct_farm N OS [args]     start N farm hosts (FARM_DIR, FARM_ADDRS array, FARM_KEY)
#   ct_secret NAME          the farm key as a kubernetes.io/ssh-auth Secret
#   ct_host NAME [k: v...]  apply a Host (name = farm address) with extra spec fields
#   ct_controller [flags]   start the controller (CT_PID, CT_LOG, CT_METRICS port)
#   ct_stop_controller      SIGTERM it and check its exit and log (sanitizers)
#   ct_fake_kubelet         background loop that marks every Node Ready (no real kubelets)
#   ct_wait TIMEOUT DESC CMD...  retry CMD until it succeeds
#   ct_jp KIND NAME PATH    kubectl jsonpath shortcut in the test namespace
#   ct_cond KIND NAME TYPE FIELD  a condition's field
#   ct_farm_cmds ADDR       the host's `cmd` records (stand-in invocations), one per line
#   ct_farm_execs ADDR      number of SSH exec requests the host received
#   ct_fail MSG             print diagnostics and exit 1
# Everything started is stopped by the EXIT trap (controller, kubelet loop, farm, kube-lite).

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NS=commissaire
CT_PID=
CT_LOG=
CT_METRICS=
CT_KUBELET_PID=
FARM_DIR=
FARM_ADDRS=()
FARM_KEY=
FARM_SH="$REPO/hack/hostfarm/farm.sh"

unset KUBECONFIG
# shellcheck source=lib/kubelite.sh
source "$REPO/tests/integration/lib/kubelite.sh"

ct_log() { echo "[$(date +%T.%3N)] $*" >&2; }

ct_cleanup() {
    local rc=$?
    set +e
    rm -f "$CT_STATE"
    if [[ -n "$CT_KUBELET_PID" ]]; then
        kill "$CT_KUBELET_PID" 2>/dev/null
        wait "$CT_KUBELET_PID" 2>/dev/null
    fi
    if [[ -n "$CT_PID" ]]; then
        kill -TERM "$CT_PID" 2>/dev/null
        wait "$CT_PID" 2>/dev/null
    fi
    if [[ -n "$FARM_DIR" ]]; then
        "$FARM_SH" stop --dir "$FARM_DIR" >/dev/null 2>&1
        rm -rf "$FARM_DIR"
    fi
    kl_stop || rc=1
    exit $rc
}

# A watchdog outside the test's process tree cleans up when the test is killed with SIGKILL
# (a ctest timeout), which no trap can catch: the farm's hosts are daemons that would
# otherwise stay. It reads what to clean from CT_STATE, which the EXIT trap removes first.
CT_STATE=
ct_watchdog() {
    CT_STATE=$(mktemp /tmp/ct-state.XXXXXX)
    local me=$$
    # Double fork: orphaned at once, the watchdog is no descendant of the test any more, so
    # ctest's kill of the test's process tree spares it.
    ( setsid bash -c '
        while kill -0 '"$me"' 2>/dev/null; do sleep 1; done
        [[ -f "$0" ]] || exit 0
        while read -r kind what; do
            case $kind in
            pid) kill -TERM "$what" 2>/dev/null ;;
            farm) "'"$FARM_SH"'" stop --dir "$what" >/dev/null 2>&1; rm -rf "$what" ;;
            dir) rm -rf "$what" ;;
            esac
        done <"$0"
        rm -f "$0"' "$CT_STATE" </dev/null >/dev/null 2>&1 & )
}
ct_remember() { [[ -n "$CT_STATE" ]] && echo "$1 $2" >>"$CT_STATE"; return 0; }

ct_setup() {
    trap ct_cleanup EXIT
    ct_watchdog
    kl_start
    ct_remember pid "$KL_PID"
    ct_remember dir "$KL_DIR"
    kl_apply_crds
    kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $NS}
EOF
}

ct_fail() {
    ct_log "FAIL: $*"
    kubectl -n $NS get hosts,clusters -o wide 2>&1 | head -40 >&2 || true
    kubectl -n $NS get events --sort-by=.lastTimestamp 2>&1 | tail -30 >&2 || true
    if [[ -n "$CT_LOG" ]]; then
        ct_log "controller log (tail):"
        tail -n 40 "$CT_LOG" >&2
    fi
    exit 1
}

# ct_wait TIMEOUT_S DESCRIPTION CMD...: retries every 0.2 s.
ct_wait() {
    local timeout=$1 desc=$2
    shift 2
    local end=$((SECONDS + timeout))
    while ! "$@" >/dev/null 2>&1; do
        if ((SECONDS >= end)); then
            ct_fail "timed out after ${timeout}s waiting for: $desc"
        fi
        sleep 0.2
    done
}

ct_farm() {
    local n=$1 os=$2
    shift 2
    FARM_DIR=$(mktemp -d)
    "$FARM_SH" start --dir "$FARM_DIR" --count "$n" --os "$os" --base auto "$@" >"$FARM_DIR.log" 2>&1 ||
        { cat "$FARM_DIR.log" >&2; ct_fail "farm did not start"; }
    rm -f "$FARM_DIR.log"
    ct_remember farm "$FARM_DIR"
    mapfile -t FARM_ADDRS < <("$FARM_SH" addrs --dir "$FARM_DIR")
    FARM_KEY="$FARM_DIR/client_key"
    FARM_PORT=$(sed -n 's/^FARM_PORT=//p' "$FARM_DIR/farm.conf" | head -n1)
    FARM_PORT=${FARM_PORT:-2222}
}

ct_farm_host() { "$FARM_SH" host --dir "$FARM_DIR" "$@" >/dev/null; }
# ct_farm_state ADDR KEY: from a snapshot taken by ct_farm_snapshot (farm.sh state is slow).
ct_farm_snapshot() {
    local a
    for a in "${FARM_ADDRS[@]}"; do "$FARM_SH" state --dir "$FARM_DIR" "$a" >"$KL_DIR/farmstate.$a"; done
}
ct_farm_state() {
    [[ -f "$KL_DIR/farmstate.$1" ]] || "$FARM_SH" state --dir "$FARM_DIR" "$1" >"$KL_DIR/farmstate.$1"
    sed -n "s/^$2=//p" "$KL_DIR/farmstate.$1"
}
ct_farm_fact() { cat "$FARM_DIR/hosts/$1/root/.hostfarm/facts/$2"; }
ct_farm_records() { cat "$FARM_DIR/hosts/$1/root/.hostfarm/records.log"; }
ct_farm_cmds() { ct_farm_records "$1" | awk '$3 == "cmd" { $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, ""); print }'; }
ct_farm_execs() { ct_farm_records "$1" | awk '$3 == "exec"' | wc -l; }

ct_secret() {
    kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata: {name: $1, namespace: $NS}
type: kubernetes.io/ssh-auth
data:
  ssh-privatekey: $(base64 -w0 "$FARM_KEY")
EOF
}

# ct_host ADDR [extra spec lines as "key: value"...]
ct_host() {
    local addr=$1
    shift
    {
        printf 'apiVersion: commissaire.io/v1alpha1\nkind: Host\nmetadata: {name: "%s", namespace: %s}\n' "$addr" "$NS"
        printf 'spec:\n  address: "%s"\n  port: %s\n  sshKeySecretRef: {name: farm-key}\n' "$addr" "$FARM_PORT"
        local l
        for l in "$@"; do printf '  %s\n' "$l"; done
    } | kubectl apply -f - >/dev/null
}

ct_controller() {
    CT_LOG=$(mktemp "${KL_DIR}/controller.XXXX.log")
    "$CONTROLLER" --namespace $NS --metrics-addr 127.0.0.1:0 --log-level debug \
        --host-check-interval 3s --host-retry-interval 2s --node-poll-interval 300ms \
        --ssh-connect-timeout 3s --ssh-command-timeout 30s --qps 200 --burst 400 \
        --builtin-profiles-dir "$REPO/controller/hostos/profiles" "$@" >"$CT_LOG" 2>&1 &
    CT_PID=$!
    ct_remember pid "$CT_PID"
    local i
    for ((i = 0; i < 100; i++)); do
        CT_METRICS=$(sed -n 's/.*msg="serving \/metrics \/healthz \/readyz".* port=\([0-9]*\).*/\1/p' "$CT_LOG" | head -n1)
        [[ -n "$CT_METRICS" ]] && break
        kill -0 "$CT_PID" 2>/dev/null || { cat "$CT_LOG" >&2; ct_fail "controller exited at start"; }
        sleep 0.1
    done
    [[ -n "$CT_METRICS" ]] || ct_fail "controller did not announce its metrics port"
}

ct_stop_controller() {
    [[ -n "$CT_PID" ]] || return 0
    kill -TERM "$CT_PID"
    local rc=0
    wait "$CT_PID" || rc=$?
    # Forget the pid so that the watchdog never signals a process that reused it.
    [[ -n "$CT_STATE" ]] && sed -i "/^pid $CT_PID\$/d" "$CT_STATE"
    CT_PID=
    if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$CT_LOG"; then
        grep -A30 -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$CT_LOG" | head -60 >&2
        ct_fail "sanitizer report in the controller log"
    fi
    [[ $rc == 0 ]] || ct_fail "controller exited with $rc on SIGTERM"
}

# The farm has no kubelets: this stands in for them by reporting every Node Ready.
ct_fake_kubelet() {
    (
        set +e
        while :; do
            for n in $(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
                awk '$2 != "True" { print $1 }'); do
                kubectl patch node "$n" --subresource=status --type=merge \
                    -p '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"fake kubelet"}]}}' >/dev/null 2>&1
            done
            sleep 0.5
        done
    ) &
    CT_KUBELET_PID=$!
    ct_remember pid "$CT_KUBELET_PID"
}

ct_jp() { kubectl -n $NS get "$1" "$2" -o jsonpath="{$3}" 2>/dev/null; }
# ct_hosts_snapshot, then ct_h NAME JQ_PATH / ct_hcond NAME TYPE FIELD read from it (one
# kubectl call instead of one per field).
ct_hosts_snapshot() { kubectl -n $NS get hosts -o json >"$KL_DIR/hosts.json"; }
ct_h() { jq -r --arg n "$1" ".items[] | select(.metadata.name == \$n) | ($2) | if . == null then \"\" else tostring end" "$KL_DIR/hosts.json"; }
ct_hcond() { ct_h "$1" ".status.conditions[]? | select(.type == \"$2\") | .$3"; }
ct_cond() { kubectl -n $NS get "$1" "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].$4}" 2>/dev/null; }
ct_phase_is() { [[ "$(ct_jp host "$1" .status.phase)" == "$2" ]]; }
ct_reason_is() { [[ "$(ct_cond host "$1" Ready reason)" == "$2" ]]; }
ct_metric() { curl -sf "http://127.0.0.1:$CT_METRICS/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# ct_expect_eq WHAT GOT WANT
ct_expect_eq() { [[ "$2" == "$3" ]] || ct_fail "$1: got '$2', want '$3'"; }
