# shim_lib.sh: start/stop commissaire-shim for integration tests (source after kubelite.sh).
#
#   shim_setup_cluster     applies the CRDs and creates the namespace $SHIM_NS (default
#                          commissaire-test-$$) on the API server of $KUBECONFIG
#   shim_start NAME [args] starts $COMMISSAIRE_SHIM on 127.0.0.1:<free port> with the kubeconfig
#                          and namespace, extra args appended; waits for /readyz; exports
#                          SHIM_URL_<NAME> and remembers the pid. Logs in $SHIM_DIR/NAME.log.
#   shim_stop_all          SIGTERM to every shim started, waits, and fails when a shim exited
#                          badly or logged a sanitizer report. Use it in the EXIT trap.
#   shim_kcurl PATH [args] curl to the API server with the admin token (kube-lite or real).
#   SHIM_WITH_CONFIG=1     (env) do not pass --no-config-file (the test passes -c FILE)
#   SHIM_CURL_ARGS=(...)   extra curl arguments for the readiness probe (client certificates)

SHIM_NS=${SHIM_NS:-commissaire-test-$$}
SHIM_PIDS=()
SHIM_NAMES=()
SHIM_DIR=${SHIM_DIR:-}

shim_kcurl() {
    local path=$1
    shift
    local server token ca
    server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
    if [[ "${KL_REAL:-0}" != 1 ]]; then
        curl -sS --cacert "$KL_CA" -H "Authorization: Bearer $KL_TOKEN" "$server$path" "$@"
    else
        kubectl get --raw "$path"
    fi
}

shim_setup_cluster() {
    local f
    for f in "$KL_REPO"/crds/commissaire.io_*.yaml; do
        kubectl apply --validate=false -f "$f" >/dev/null
    done
    kubectl wait --for=condition=Established crd/hosts.commissaire.io crd/clusters.commissaire.io \
        crd/operations.commissaire.io crd/networks.commissaire.io \
        crd/containermanagers.commissaire.io --timeout=60s >/dev/null
    printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}' "$SHIM_NS" |
        kubectl create -f - >/dev/null 2>&1 ||
        shim_kcurl /api/v1/namespaces -X POST -H 'Content-Type: application/json' \
            -d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$SHIM_NS\"}}" >/dev/null
}

shim_start() {
    local name=$1
    shift
    : "${COMMISSAIRE_SHIM:?COMMISSAIRE_SHIM must point to the commissaire-shim binary}"
    [[ -n "$SHIM_DIR" ]] || SHIM_DIR=$(mktemp -d)
    rm -f "$SHIM_DIR/$name.port"
    local noconf=--no-config-file
    [[ "${SHIM_WITH_CONFIG:-0}" == 1 ]] && noconf=--debug
    # Tests want the per-request debug log; SHIM_DEBUG=0 (the benchmark) runs the production way.
    local debug=(--debug)
    [[ "${SHIM_DEBUG:-1}" == 0 ]] && debug=()
    "$COMMISSAIRE_SHIM" "$noconf" --listen-interface 127.0.0.1 --listen-port 0 \
        --port-file "$SHIM_DIR/$name.port" --kubeconfig "$KUBECONFIG" --namespace "$SHIM_NS" \
        "${debug[@]}" "$@" >>"$SHIM_DIR/$name.log" 2>&1 &
    local pid=$!
    SHIM_PIDS+=("$pid")
    SHIM_NAMES+=("$name")
    local i port=
    for ((i = 0; i < 300; i++)); do
        if [[ -s "$SHIM_DIR/$name.port" ]]; then
            port=$(cat "$SHIM_DIR/$name.port")
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "shim $name exited during start:" >&2
            cat "$SHIM_DIR/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    [[ -n "$port" ]] || { echo "shim $name did not start" >&2; return 1; }
    local scheme=http
    local a
    for a in "$@"; do [[ "$a" == --tls-pemfile ]] && scheme=https; done
    local url="$scheme://127.0.0.1:$port"
    local -a extra=()
    [[ -n "${SHIM_CURL_ARGS+x}" ]] && extra=("${SHIM_CURL_ARGS[@]}")
    printf -v "SHIM_URL_$name" '%s' "$url"
    export "SHIM_URL_$name"
    for ((i = 0; i < 300; i++)); do
        if curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "${extra[@]}" \
            "$url/readyz" 2>/dev/null | grep 200 >/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "shim $name never became ready:" >&2
    tail -20 "$SHIM_DIR/$name.log" >&2
    return 1
}

# Removes the test namespace (matters on a real cluster; kube-lite goes away anyway).
shim_delete_ns() {
    if [[ "${KL_REAL:-0}" == 1 ]]; then
        kubectl delete namespace "$SHIM_NS" --wait=false >/dev/null 2>&1 || true
    fi
}

shim_stop_all() {
    local rc=0 i pid
    for i in "${!SHIM_PIDS[@]}"; do
        pid=${SHIM_PIDS[$i]}
        kill -TERM "$pid" 2>/dev/null || true
    done
    for i in "${!SHIM_PIDS[@]}"; do
        pid=${SHIM_PIDS[$i]}
        local st=0
        wait "$pid" 2>/dev/null || st=$?
        if [[ $st != 0 ]]; then
            echo "shim ${SHIM_NAMES[$i]} exited with $st" >&2
            rc=1
        fi
        if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' \
            "$SHIM_DIR/${SHIM_NAMES[$i]}.log" 2>/dev/null; then
            echo "sanitizer report in shim ${SHIM_NAMES[$i]}'s log:" >&2
            grep -A40 -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' \
                "$SHIM_DIR/${SHIM_NAMES[$i]}.log" | head -80 >&2
            rc=1
        fi
    done
    SHIM_PIDS=()
    SHIM_NAMES=()
    return $rc
}
