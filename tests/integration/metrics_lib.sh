# metrics_lib.sh: helpers of the operate tests (metrics_*.sh, ha_*.sh): kube-lite + host farm +
# one or more commissaire-controller processes (and a shim), observed from outside through their
# /metrics, the API and the farm's records.
#
# Source after `set -euo pipefail`. Env (set by the .cmake fragments): KUBE_LITE, CONTROLLER,
# REPO; optionally COMMISSAIRE_SHIM, SHIM_PASSHASH, HOSTFARM_NSINIT.
#   ml_setup                  kube-lite, the CRDs, namespace $NS; EXIT trap stops everything
#   ml_farm N OS [args]       farm (FARM_DIR, FARM_ADDRS, FARM_KEY, FARM_PORT), Secret "farm-key"
#   ml_kubelet                the kubelet stand-in (hack/lib/kubelet-standin.sh) for farm Nodes
#   ml_controller NAME [flags]  start a controller; ML_PID[NAME], ML_PORT[NAME], ML_LOG[NAME]
#   ml_stop NAME              SIGTERM, expect exit 0 and no sanitizer report
#   ml_kill NAME              SIGKILL (a crash)
#   ml_scrape URL FILE        GET URL into FILE and validate it as Prometheus text (strict)
#   ml_get FILE SERIES        a series' value from a scraped FILE (0 when absent)
#   ml_sum FILE REGEX         sum of the values of the series whose key matches REGEX
#   ml_families FILE          "name type" per family;  ml_has FILE SERIES: the series exists
#   ml_wait TIMEOUT DESC CMD… retry CMD every 0.2 s until it succeeds, or fail
#   ml_jp KIND NAME PATH      kubectl jsonpath in $NS
#   ml_cr PLURAL NAME [JQ]    the object (or a jq expression of it) read with curl
#   ml_phase_is HOST PHASE    the Host's status.phase is PHASE
#   ml_fail MSG               diagnostics, exit 1

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NS=commissaire
ML_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROMPARSE="python3 $ML_HERE/metrics_promparse.py"
declare -A ML_PID=() ML_PORT=() ML_LOG=()
ML_KUBELET_PID=
ML_EXTRA_PIDS=()

unset KUBECONFIG
# shellcheck source=lib/kubelite.sh
source "$REPO/tests/integration/lib/kubelite.sh"
# shellcheck source=lib/farm.sh
source "$REPO/tests/integration/lib/farm.sh"

ml_log() { echo "[$(date +%T.%3N)] $*" >&2; }

ml_cleanup() {
    local rc=$?
    set +e
    local n p
    for n in "${!ML_PID[@]}"; do
        p=${ML_PID[$n]}
        [[ -n $p ]] && kill -TERM "$p" 2>/dev/null
    done
    for p in "${ML_EXTRA_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    [[ -n $ML_KUBELET_PID ]] && kill -TERM "$ML_KUBELET_PID" 2>/dev/null
    for n in "${!ML_PID[@]}"; do
        p=${ML_PID[$n]}
        [[ -n $p ]] && wait "$p" 2>/dev/null
    done
    for p in "${ML_EXTRA_PIDS[@]}" $ML_KUBELET_PID; do wait "$p" 2>/dev/null; done
    farm_stop >/dev/null 2>&1
    kl_stop || rc=1
    exit $rc
}

ml_setup() {
    trap ml_cleanup EXIT
    kl_start
    kl_apply_crds
    printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}' "$NS" | kubectl apply -f - >/dev/null
}

ml_fail() {
    ml_log "FAIL: $*"
    kubectl -n $NS get hosts,clusters,operations -o wide 2>&1 | head -30 >&2 || true
    local n
    for n in "${!ML_LOG[@]}"; do
        ml_log "controller $n log (tail):"
        tail -n 25 "${ML_LOG[$n]}" >&2
    done
    exit 1
}

ml_wait() {
    local timeout=$1 desc=$2
    shift 2
    local end=$((SECONDS + timeout))
    while ! "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || ml_fail "timed out after ${timeout}s waiting for: $desc"
        sleep 0.2
    done
}

ml_farm() {
    local n=$1 os=$2
    shift 2
    farm_start "$n" "$os" "$@" >/dev/null || ml_fail "the farm did not start"
    # farm_start chained farm_stop in front of our trap, which would then see farm_stop's status
    # instead of the test's; ml_cleanup stops the farm itself, so put it back alone.
    trap ml_cleanup EXIT
    kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata: {name: farm-key, namespace: $NS}
type: kubernetes.io/ssh-auth
data:
  ssh-privatekey: $(base64 -w0 "$FARM_KEY")
EOF
}

ml_kubelet() {
    "$REPO/hack/lib/kubelet-standin.sh" "$KUBECONFIG" "$KL_CA" "$FARM_DIR" 0.3 \
        >"$KL_DIR/kubelet-standin.log" 2>&1 &
    ML_KUBELET_PID=$!
}

# ml_host ADDR CLUSTER [NAME] [SECRET]
ml_host() {
    kubectl apply -f - >/dev/null <<EOF
apiVersion: commissaire.io/v1alpha1
kind: Host
metadata: {name: "${3:-$1}", namespace: $NS}
spec: {address: "$1", port: $FARM_PORT, sshKeySecretRef: {name: ${4:-farm-key}}, cluster: $2}
EOF
}

ml_controller() {
    local name=$1
    shift
    local log=$KL_DIR/controller-$name.log
    ML_LOG[$name]=$log
    POD_NAME=$name "$CONTROLLER" --kubeconfig "$KUBECONFIG" --namespace $NS \
        --metrics-addr 127.0.0.1:0 --host-check-interval 5s --host-retry-interval 2s \
        --node-poll-interval 300ms --ssh-connect-timeout 10s --ssh-command-timeout 60s \
        --qps 200 --burst 400 "$@" >"$log" 2>&1 &
    ML_PID[$name]=$!
    local i port=
    for ((i = 0; i < 150; i++)); do
        port=$(sed -n 's/.*serving \/metrics \/healthz \/readyz.*port[=":]*\([0-9][0-9]*\).*/\1/p' "$log" | head -n1)
        [[ -n $port ]] && break
        kill -0 "${ML_PID[$name]}" 2>/dev/null || { cat "$log" >&2; ml_fail "controller $name exited at start"; }
        sleep 0.1
    done
    [[ -n $port ]] || ml_fail "controller $name did not announce its metrics port"
    ML_PORT[$name]=$port
}

ml_sanitizer_check() { # FILE WHAT
    if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$1"; then
        grep -A30 -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$1" | head -60 >&2
        ml_fail "sanitizer report in $2's log"
    fi
}

ml_stop() {
    local name=$1 pid=${ML_PID[$1]} rc=0
    [[ -n $pid ]] || return 0
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    ML_PID[$name]=
    ml_sanitizer_check "${ML_LOG[$name]}" "controller $name"
    [[ $rc == 0 ]] || ml_fail "controller $name exited with $rc on SIGTERM"
}

ml_kill() {
    local name=$1 pid=${ML_PID[$1]}
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    ML_PID[$name]=
}

# ml_scrape URL FILE [curl args] — also writes FILE.parsed (the parser's normalised dump), which
# ml_get/ml_sum/ml_families read, so python starts once per scrape.
ml_scrape() {
    local url=$1 out=$2
    shift 2
    curl -sS -f --max-time 10 "$@" -o "$out" "$url" || ml_fail "GET $url failed"
    $PROMPARSE "$out" >"$out.parsed" || ml_fail "$url is not valid Prometheus text (saved in $out)"
}

ml_get() { awk -v k="$2" '$1 != "#" && $1 == k { v = $2 } END { print v + 0 }' "$1.parsed"; }
ml_sum() { awk -v re="$2" '$1 != "#" && $1 ~ re { s += $2 } END { print s + 0 }' "$1.parsed"; }
ml_families() { awk '$1 == "#" { print $3, $4 }' "$1.parsed"; }
ml_has() { awk -v k="$2" '$1 == k { f = 1 } END { exit !f }' "$1.parsed"; }
# ml_gt A B: A > B as numbers
ml_gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
ml_jp() { kubectl --request-timeout=15s -n $NS get "$1" "$2" -o jsonpath="{$3}" 2>/dev/null; }
# ml_cr PLURAL NAME [JQ] — a commissaire object through the API directly (curl, no kubectl: the
# polling helpers run it many times on a busy machine).
ml_cr() { kl_curl "/apis/commissaire.io/v1alpha1/namespaces/$NS/$1/$2" --max-time 15 2>/dev/null | jq -r "${3:-.}"; }
ml_phase_is() { [[ $(ml_cr hosts "$1" '.status.phase // ""') == "$2" ]]; }
ml_expect() { [[ "$2" == "$3" ]] || ml_fail "$1: got '$2', want '$3'"; }
