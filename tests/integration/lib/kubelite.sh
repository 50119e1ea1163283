# kubelite.sh: start/stop kube-lite for an integration test, or use a real cluster.
#
# Source it from a bash test (set -euo pipefail), then:
#   kl_start            starts kube-lite on 127.0.0.1:<free port> in a fresh `mktemp -d` dir and
#                       exports KUBECONFIG (admin token), KL_DIR (the temp dir), KL_URL (API base
#                       URL), KL_TOKEN (admin bearer token), KL_CA (CA file), KL_ADMIN (fault
#                       injection base URL, plain HTTP, see hack/kube-lite/README.md),
#                       KUBECACHEDIR (kubectl's discovery cache, per test).
#                       Extra arguments are passed to kube-lite, with @KL_DIR@ replaced by the
#                       temp dir (e.g. kl_start --data-dir @KL_DIR@/data).
#                       Needs KUBE_LITE=path/to/kube-lite (set by add_test ENVIRONMENT).
#   kl_stop             stops it (SIGTERM, waits) and removes KL_DIR; returns non-zero when
#                       kube-lite exited badly or its log has a sanitizer report. Safe to call
#                       twice and when nothing was started; use it in an EXIT trap.
#   kl_restart [args]   stops and starts kube-lite again keeping KL_DIR (for --data-dir tests).
#   kl_crash / kl_restart_after_crash [args]   SIGKILL it, then start it again (durability).
#   kl_apply_crds       kubectl apply -k $KL_REPO/crds/ and waits until they are Established.
#   kl_require_faults   exits 77 (ctest SKIP) when fault injection is unavailable (real cluster).
#   kl_start_as_serviceaccount NAME   kube-lite enforcing RBAC for commissaire/NAME, with
#                       manifests/ applied and KL_SA_KUBECONFIG the account's kubeconfig.
#   kl_admin METHOD PATH [curl args]   calls the admin (fault injection) listener.
#   kl_curl PATH [curl args]            calls the API server with the admin token (kube-lite only;
#                                       no -f: pass -f or -w "%{http_code}" yourself).
#
# The real-cluster rule: if KUBECONFIG is already set when kl_start runs, that cluster is used and
# kube-lite is not started; KL_REAL=1 is exported and KL_ADMIN stays empty, so fault-injection
# tests call kl_require_faults and skip.

source "$(dirname "${BASH_SOURCE[0]}")/errtrap.sh"
KL_REPO=${KL_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
KL_PID=
KL_REAL=${KL_REAL:-0}
KL_DIR=${KL_DIR:-}
KL_OWN_DIR=0

kl_log() { echo "kubelite.sh: $*" >&2; }

# _kl_launch: starts the binary in KL_DIR and waits for the kubeconfig and /readyz.
_kl_launch() {
    local args=() a
    for a in "$@"; do
        args+=("${a//@KL_DIR@/$KL_DIR}")
    done
    set -- "${args[@]}"
    rm -f "$KL_DIR/kubeconfig" "$KL_DIR/admin-url"
    "$KUBE_LITE" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
        --kubeconfig-out "$KL_DIR/kubeconfig" --admin-url-out "$KL_DIR/admin-url" \
        --cert-dir "$KL_DIR/pki" "$@" >>"$KL_DIR/kube-lite.log" 2>&1 &
    KL_PID=$!
    local i
    for ((i = 0; i < 300; i++)); do
        if [[ -s "$KL_DIR/kubeconfig" && -s "$KL_DIR/admin-url" ]]; then
            break
        fi
        if ! kill -0 "$KL_PID" 2>/dev/null; then
            kl_log "kube-lite exited during start; log:"
            cat "$KL_DIR/kube-lite.log" >&2
            KL_PID=
            return 1
        fi
        sleep 0.1
    done
    if [[ ! -s "$KL_DIR/kubeconfig" ]]; then
        kl_log "kube-lite did not write its kubeconfig in 30s"
        return 1
    fi
    export KUBECONFIG="$KL_DIR/kubeconfig"
    KL_ADMIN=$(cat "$KL_DIR/admin-url")
    KL_URL=$(sed -n 's/^ *server: *//p' "$KUBECONFIG" | head -n1)
    KL_TOKEN=$(sed -n 's/^ *token: *//p' "$KUBECONFIG" | head -n1)
    KL_CA="$KL_DIR/pki/ca.crt"
    export KL_ADMIN KL_URL KL_TOKEN KL_CA
    for ((i = 0; i < 100; i++)); do
        if kl_curl /readyz -f -o /dev/null 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    kl_log "kube-lite /readyz did not answer"
    return 1
}

kl_start() {
    if [[ -n "${KUBECONFIG:-}" && -z "$KL_PID" ]]; then
        KL_REAL=1
        KL_ADMIN=
        export KL_REAL KL_ADMIN
        KL_DIR=$(mktemp -d)
        KL_OWN_DIR=1
        export KL_DIR
        kl_log "KUBECONFIG is set: using that cluster, not starting kube-lite"
        return 0
    fi
    : "${KUBE_LITE:?KUBE_LITE must point to the kube-lite binary}"
    KL_DIR=$(mktemp -d)
    KL_OWN_DIR=1
    export KL_DIR
    export KUBECACHEDIR="$KL_DIR/kubecache"
    _kl_launch "$@"
}

# _kl_kill: SIGTERM then wait; returns the exit status (SIGKILL after 20s).
_kl_kill() {
    local rc=0 i
    [[ -n "$KL_PID" ]] || return 0
    kill -TERM "$KL_PID" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$KL_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$KL_PID" 2>/dev/null; then
        kl_log "kube-lite did not stop in 20s; killing it"
        kill -KILL "$KL_PID" 2>/dev/null || true
        rc=1
    fi
    wait "$KL_PID" 2>/dev/null || rc=$?
    KL_PID=
    if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$KL_DIR/kube-lite.log" 2>/dev/null; then
        kl_log "sanitizer report in kube-lite's log:"
        grep -A40 -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$KL_DIR/kube-lite.log" >&2 | head -80
        rc=1
    fi
    return $rc
}

kl_restart() {
    [[ "$KL_REAL" == 1 ]] && { kl_log "kl_restart needs kube-lite"; return 1; }
    _kl_kill || { kl_log "kube-lite exited badly before restart"; return 1; }
    _kl_launch "$@"
}

# kl_crash: SIGKILL (no clean shutdown), for durability tests; kl_restart then starts it again.
kl_crash() {
    [[ -n "$KL_PID" ]] || return 0
    kill -KILL "$KL_PID" 2>/dev/null || true
    wait "$KL_PID" 2>/dev/null || true
    KL_PID=
}

kl_restart_after_crash() {
    _kl_launch "$@"
}

kl_stop() {
    local rc=0
    if [[ -n "$KL_PID" ]]; then
        _kl_kill || rc=$?
        if [[ $rc != 0 ]]; then
            kl_log "kube-lite exited with $rc; last log lines:"
            tail -n 30 "$KL_DIR/kube-lite.log" >&2 || true
        fi
    fi
    if [[ "$KL_OWN_DIR" == 1 && -n "$KL_DIR" && -z "${KL_KEEP:-}" ]]; then
        rm -rf "$KL_DIR"
    fi
    KL_OWN_DIR=0
    if [[ "$KL_REAL" != 1 ]]; then
        # what kl_start exported, so that a later kl_start starts a fresh kube-lite
        unset KUBECONFIG KL_ADMIN KL_URL KL_TOKEN KL_CA KUBECACHEDIR
    fi
    return $rc
}

kl_apply_crds() {
    # -k, not -f: crds/ also holds its kustomization.yaml, which is not a resource.
    kubectl apply -k "$KL_REPO/crds/" >/dev/null
    kubectl wait --for=condition=Established --timeout=60s \
        crd/hosts.commissaire.io crd/clusters.commissaire.io crd/operations.commissaire.io \
        crd/networks.commissaire.io crd/containermanagers.commissaire.io >/dev/null
}

# kl_start_as_serviceaccount NAME: kube-lite with RBAC applying to the ServiceAccount
# commissaire/NAME: starts it with a token file (the admin, in system:masters, and that account)
# and --audit-log $KL_DIR/audit.jsonl, applies the CRDs and manifests/ (namespace, accounts,
# RBAC) as admin, and writes KL_SA_KUBECONFIG ($KL_DIR/NAME.kubeconfig), the admin kubeconfig
# with the account's token. Sets KL_SA to the account's user name. kube-lite only (exits 77 on
# a real cluster).
kl_start_as_serviceaccount() {
    local name=$1 out admin sa
    if [[ -n "${KUBECONFIG:-}" ]]; then
        echo "needs kube-lite's token file users: skipping on a real cluster"
        exit 77
    fi
    kl_start
    admin=admin-$(openssl rand -hex 12) sa=sa-$(openssl rand -hex 12)
    KL_SA=system:serviceaccount:commissaire:$name
    printf '%s,admin,1,"system:masters"\n%s,%s,2\n' "$admin" "$sa" "$KL_SA" >"$KL_DIR/tokens.csv"
    kl_restart --token-file @KL_DIR@/tokens.csv --audit-log @KL_DIR@/audit.jsonl
    kl_apply_crds
    kubectl apply -k "$KL_REPO/manifests" >/dev/null
    out=$KL_DIR/$name.kubeconfig
    KL_SA_KUBECONFIG=$out
    sed "s/$admin/$sa/" "$KUBECONFIG" >"$out"
    [[ "$(kubectl --kubeconfig "$out" auth whoami -o jsonpath='{.status.userInfo.username}')" == "$KL_SA" ]]
}

kl_require_faults() {
    if [[ -z "${KL_ADMIN:-}" ]]; then
        kl_log "fault injection needs kube-lite (real cluster in use): skipping"
        exit 77
    fi
}

kl_admin() {
    local method=$1 path=$2
    shift 2
    curl -sS -f -X "$method" "$KL_ADMIN$path" "$@"
}

kl_curl() {
    local path=$1
    shift
    curl -sS --cacert "$KL_CA" -H "Authorization: Bearer $KL_TOKEN" "$KL_URL$path" "$@"
}
