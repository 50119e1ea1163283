#!/usr/bin/env bash
# The README's first command, end to end: ./hack/up.sh starts the local stack (with the binaries
# ctest already built, in a private STACK_DIR so a developer's own stack is left alone), its demo
# brings the sample hosts active and finishes the sample rolling restart; after up.sh has
# returned the stack keeps serving kubectl, the REST API and /metrics; a second up.sh refuses;
# ./hack/down.sh stops everything and leaves nothing running (no process of the stack, nothing
# listening on its ports or farm addresses), and a second down.sh is a no-op.
set -euo pipefail
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${CM_KUBE_LITE:?}" "${CM_CONTROLLER:?}" "${CM_SHIM:?}"
work=$(mktemp -d)
export STACK_DIR=$work/stack
export UP_DEMO_TIMEOUT=${UP_DEMO_TIMEOUT:-200}
log() { echo "[$(date +%T.%3N)] $*" >&2; }
fail() {
    log "FAIL: $*"
    for f in "$STACK_DIR"/logs/*.log; do
        [[ -f $f ]] || continue
        log "--- $f (tail)"
        tail -n 15 "$f" >&2
    done
    exit 1
}
cleanup() {
    local rc=$?
    "$REPO/hack/down.sh" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT

# ---- up ----------------------------------------------------------------------------------
t0=$(date +%s%3N)
"$REPO/hack/up.sh" >"$work/up.out" 2>&1 </dev/null || { cat "$work/up.out" >&2; fail "up.sh failed"; }
t1=$(date +%s%3N)
cat "$work/up.out"
log "up.sh (no build: ctest's binaries) took $(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100)) s"
for want in "all 5 hosts active" "operation restart-sample Finished: 5/5 hosts restarted" \
    "export KUBECONFIG=$STACK_DIR/kubeconfig" "curl --cacert $STACK_DIR/shim/tls.crt" "./hack/down.sh"; do
    grep -qF -- "$want" "$work/up.out" || fail "up.sh did not print '$want'"
done
[[ $(grep -c 'rebooted 1 time(s)' "$work/up.out") == 5 ]] || fail "not every host rebooted exactly once"

# ---- the stack outlives up.sh ----------------------------------------------------------------
# shellcheck disable=SC1091
source "$STACK_DIR/env"
export KUBECACHEDIR=$work/kubecache
phases=$(kubectl -n commissaire get hosts -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | sort | uniq -c | awk '{print $2 "=" $1}')
[[ $phases == "active=5" ]] || fail "hosts after up.sh: $phases"
[[ $(kubectl -n commissaire get cop restart-sample -o jsonpath='{.status.phase}') == Finished ]] ||
    fail "the sample Operation is not Finished"
[[ $(kubectl get nodes -o name | wc -l) == 5 ]] || fail "expected 5 Nodes"
rest=(curl -sS -f --max-time 10 --cacert "$COMMISSAIRE_CACERT" -u "$COMMISSAIRE_USER:$COMMISSAIRE_PASSWORD")
"${rest[@]}" "$COMMISSAIRE_URL/api/v0/clusters" | jq -e 'index("sample") != null' >/dev/null ||
    fail "GET /api/v0/clusters does not list sample"
"${rest[@]}" "$COMMISSAIRE_URL/api/v0/cluster/sample" | jq -e '.hosts.available == 5 and .hosts.total == 5' >/dev/null ||
    fail "GET /api/v0/cluster/sample: $("${rest[@]}" "$COMMISSAIRE_URL/api/v0/cluster/sample")"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$COMMISSAIRE_CACERT" -u "$COMMISSAIRE_USER:wrong" "$COMMISSAIRE_URL/api/v0/clusters")
[[ $code == 403 ]] || fail "a wrong password got $code"
curl -sS -f "$COMMISSAIRE_METRICS/metrics" -o "$work/metrics"
python3 "$REPO/tests/integration/metrics_promparse.py" "$work/metrics" >/dev/null || fail "controller /metrics invalid"
grep -q '^commissaire_controller_leader 1' "$work/metrics" || fail "the stack's controller does not lead"
log "the stack serves kubectl, REST and /metrics after up.sh returned"

if "$REPO/hack/up.sh" >"$work/up2.out" 2>&1 </dev/null; then fail "a second up.sh did not refuse"; fi
grep -q "already running" "$work/up2.out" || fail "second up.sh: $(cat "$work/up2.out")"

# What must be gone afterwards.
. "$STACK_DIR/farm/farm.conf"
farm_base=$FARM_BASE
ports=("${COMMISSAIRE_URL##*:}" "${COMMISSAIRE_METRICS##*:}")
kl_server=$(sed -n 's/^ *server: *//p' "$KUBECONFIG" | head -n1)
ports+=("${kl_server##*:}")
pids=()
for f in "$STACK_DIR"/pids/*.pid; do read -r p _ <"$f"; pids+=("$p"); done
[[ ${#pids[@]} == 4 ]] || fail "expected 4 daemons recorded, got ${#pids[@]}"
ss -ltnH | grep " $farm_base\." >/dev/null || fail "the farm is not listening on $farm_base.* (test would prove nothing)"

# ---- down ------------------------------------------------------------------------------------
"$REPO/hack/down.sh" >"$work/down.out" 2>&1 || { cat "$work/down.out" >&2; fail "down.sh failed"; }
cat "$work/down.out"
grep -q "stopped controller shim kubelet-standin farm kube-lite" "$work/down.out" || fail "down.sh did not stop everything"
left=$(pgrep -af -- "$STACK_DIR" || true)
[[ -z $left ]] || fail "processes left: $left"
for p in "${pids[@]}"; do
    [[ ! -e /proc/$p ]] || [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) == Z ]] || fail "daemon pid $p still alive"
done
if ss -ltnH | grep " $farm_base\." >/dev/null; then fail "something still listens on the farm's $farm_base.*"; fi
for port in "${ports[@]}"; do
    if ss -ltnH "sport = :$port" | grep . >/dev/null; then fail "port $port still listening"; fi
done
[[ -d $STACK_DIR/logs && ! -e $STACK_DIR/farm && ! -e $STACK_DIR/env ]] || fail "down.sh should keep only the logs"
"$REPO/hack/down.sh" >"$work/down2.out" 2>&1 || fail "a second down.sh failed"
grep -q "nothing" "$work/down2.out" || fail "second down.sh: $(cat "$work/down2.out")"
log "PASS: up.sh end to end in $(((t1 - t0) / 1000)) s, down.sh left nothing running"
