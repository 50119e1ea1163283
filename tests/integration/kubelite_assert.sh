# kubelite_assert.sh: assertion helpers for the kube-lite tests (sourced, after kubelite.sh).
#
#   kt_proxy_start        starts `kubectl proxy --port=0` and sets KT_PROXY (http://127.0.0.1:N);
#                         requests through it work the same against kube-lite and a real cluster.
#   kt_api METHOD PATH [BODY [CONTENT_TYPE]]
#                         sends a request through the proxy; sets KT_CODE and KT_BODY.
#   kt_expect CODE        fails unless KT_CODE is CODE (prints the body).
#   kt_jq FILTER          jq -r FILTER on KT_BODY.
#   kt_eq WHAT GOT WANT   fails unless GOT == WANT.
#   kt_retry SECONDS CMD  runs CMD until it succeeds or SECONDS pass.
#   kt_cleanup            stops the proxy (call from the EXIT trap before kl_stop).
KT_PROXY=
KT_PROXY_PID=
KT_FAILS=0
KT_CHECKS=0

kt_fail() {
    echo "FAIL: $*" >&2
    KT_FAILS=$((KT_FAILS + 1))
}

kt_pass() {
    KT_CHECKS=$((KT_CHECKS + 1))
}

kt_proxy_start() {
    local out="$KL_DIR/proxy.out" i
    kubectl proxy --port=0 --address=127.0.0.1 >"$out" 2>&1 &
    KT_PROXY_PID=$!
    for ((i = 0; i < 100; i++)); do
        if grep -q "Starting to serve on" "$out" 2>/dev/null; then
            KT_PROXY="http://$(sed -n 's/.*Starting to serve on //p' "$out" | head -n1)"
            return 0
        fi
        sleep 0.1
    done
    echo "kubectl proxy did not start: $(cat "$out")" >&2
    return 1
}

kt_cleanup() {
    if [[ -n "$KT_PROXY_PID" ]]; then
        kill "$KT_PROXY_PID" 2>/dev/null || true
        wait "$KT_PROXY_PID" 2>/dev/null || true
        KT_PROXY_PID=
    fi
}

kt_api() {
    local m=$1 p=$2 data=${3-} ct=${4:-application/json} out
    if [[ $# -ge 3 ]]; then
        out=$(curl -sS -X "$m" -H "Content-Type: $ct" --data-binary "$data" -w '\n%{http_code}' "$KT_PROXY$p")
    else
        out=$(curl -sS -X "$m" -w '\n%{http_code}' "$KT_PROXY$p")
    fi
    KT_CODE=${out##*$'\n'}
    KT_BODY=${out%$'\n'*}
}

kt_jq() {
    jq -r "$1" <<<"$KT_BODY"
}

kt_eq() {
    if [[ "$2" == "$3" ]]; then
        kt_pass
    else
        kt_fail "$1: got '$2', want '$3'"
    fi
}

kt_expect() {
    if [[ "$KT_CODE" == "$1" ]]; then
        kt_pass
    else
        kt_fail "HTTP $KT_CODE, want $1: ${KT_BODY:0:600}"
    fi
}

kt_retry() {
    local secs=$1 end
    shift
    end=$((SECONDS + secs))
    while ((SECONDS < end)); do
        if "$@"; then
            return 0
        fi
        sleep 0.2
    done
    "$@"
}

kt_summary() {
    echo "$KT_CHECKS checks passed, $KT_FAILS failed"
    [[ $KT_FAILS == 0 ]]
}
