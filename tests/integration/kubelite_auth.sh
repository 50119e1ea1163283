#!/usr/bin/env bash
# Authentication: static tokens from --token-file (the real --token-auth-file CSV format),
# 401 for anonymous and unknown tokens, TokenReview answered from the file, the kubeconfig
# written for the first token, and plain HTTP with --http.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/kubelite.sh"
source "$here/kubelite_assert.sh"
trap 'kl_stop || exit 1' EXIT
if [[ -n "${KUBECONFIG:-}" ]]; then
    echo "token file authentication is a kube-lite feature: skipping on a real cluster"
    exit 77
fi
kl_start
cat >"$KL_DIR/tokens.csv" <<'CSV'
# token,user,uid,"groups"
tok-admin-123,alice,uid-1,"system:masters,admins"
tok-shim-456,commissaire-shim,uid-2
CSV
kl_restart --token-file @KL_DIR@/tokens.csv
kt_eq "kubeconfig uses the first token" "$KL_TOKEN" tok-admin-123
kt_eq "whoami" "$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}')" alice
code=$(curl -sS --cacert "$KL_CA" -o "$KL_DIR/anon" -w '%{http_code}' "$KL_URL/api/v1/namespaces")
kt_eq "anonymous is 401" "$code" 401
kt_eq "401 Status" "$(jq -r '.kind + " " + .reason' "$KL_DIR/anon")" "Status Unauthorized"
code=$(curl -sS --cacert "$KL_CA" -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$KL_URL/version")
kt_eq "unknown token is 401" "$code" 401
code=$(curl -sS --cacert "$KL_CA" -o /dev/null -w '%{http_code}' "$KL_URL/readyz")
kt_eq "anonymous /readyz (public info, as the real defaults)" "$code" 200
code=$(curl -sS --cacert "$KL_CA" -o /dev/null -w '%{http_code}' "$KL_URL/apis")
kt_eq "anonymous discovery is 401" "$code" 401
code=$(curl -sS --cacert "$KL_CA" -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok-shim-456' "$KL_URL/api/v1/namespaces")
kt_eq "second token authenticates (403, not 401: RBAC grants it nothing)" "$code" 403
review() {
    kl_curl /apis/authentication.k8s.io/v1/tokenreviews -X POST -H 'Content-Type: application/json' \
        --data-binary "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$1\"}}"
}
out=$(review tok-shim-456)
kt_eq "TokenReview user" "$(jq -r '.status.authenticated|tostring' <<<"$out") $(jq -r .status.user.username <<<"$out") $(jq -r .status.user.uid <<<"$out")" \
    "true commissaire-shim uid-2"
kt_eq "TokenReview groups" "$(jq -r '.status.user.groups | join(",")' <<<"$out")" system:authenticated
out=$(review tok-admin-123)
kt_eq "TokenReview groups from file" "$(jq -r '.status.user.groups | join(",")' <<<"$out")" "system:masters,admins,system:authenticated"
out=$(review wrong)
kt_eq "TokenReview unknown" "$(jq -r '.status.authenticated // false' <<<"$out")" false
kt_eq "TokenReview kind" "$(jq -r .kind <<<"$out")" TokenReview

printf 'bad line without fields\n' >"$KL_DIR/bad.csv"
if "$KUBE_LITE" --listen 127.0.0.1:0 --token-file "$KL_DIR/bad.csv" --http >"$KL_DIR/bad.log" 2>&1; then
    kt_fail "malformed token file accepted"
else
    kt_pass
fi
kl_restart --http
kt_eq "--http kubeconfig" "${KL_URL%%:*}" http
# kubectl sends no bearer token over plain HTTP: --http is a debugging mode without auth.
kt_eq "--http works" "$(kubectl get ns default -o jsonpath='{.metadata.name}')" default
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$KL_URL/api/v1/namespaces")
kt_eq "--http still refuses a wrong token" "$code" 401
kt_summary
