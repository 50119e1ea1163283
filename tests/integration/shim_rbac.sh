#!/usr/bin/env bash
# The shim's shipped RBAC (manifests/rbac-shim.yaml) is enough, proved by use: kube-lite
# enforces RBAC, `kubectl apply -k manifests/` installs it, and both shims run with the token of
# the commissaire-shim ServiceAccount while shim_itest drives every REST route (the same
# scenarios as shim_api, which runs them as admin). A 403 anywhere fails the test, and so does a
# grant the shim never used (tests/integration/rbac_exact.py). The test
# needs kube-lite's token-file users: with KUBECONFIG set (a real cluster) it skips.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib/kubelite.sh"
source "$HERE/shim_lib.sh"
SHIM_DIR=$(mktemp -d)
SHIM_NS=commissaire # where the shim's Role is bound

cleanup() {
    local rc=$?
    shim_stop_all || rc=1
    kl_stop || rc=1
    rm -rf "$SHIM_DIR"
    exit $rc
}
trap cleanup EXIT

kl_start_as_serviceaccount commissaire-shim
SA=$KL_SA

ssh-keygen -q -t ed25519 -N '' -f "$SHIM_DIR/key1" -C key1
ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f "$SHIM_DIR/key2" -C key2
HASH=$("$SHIM_PASSHASH" s3cret 4)
printf '{"operator": {"hash": "%s"}}\n' "$HASH" >"$SHIM_DIR/users.json"
COMMON=(--authentication-plugin "httpbasicauth:filepath=$SHIM_DIR/users.json"
        --auth-failure-burst 100000 --auth-failure-rate 100000)
# shim_start passes the admin kubeconfig; the later --kubeconfig (the ServiceAccount's) wins.
shim_start main "${COMMON[@]}" --trusted-proxy 127.0.0.1/32 --kubeconfig "$KL_SA_KUBECONFIG"
shim_start second "${COMMON[@]}" --kubeconfig "$KL_SA_KUBECONFIG"
sa_token=$(sed -n 's/^ *token: *//p' "$KL_SA_KUBECONFIG")
if grep -qF "$sa_token" "$SHIM_DIR"/*.log; then echo "FAIL: the token in the shim log" >&2; exit 1; fi

export SHIM_URL=$SHIM_URL_main SHIM_URL2=$SHIM_URL_second SHIM_NS SHIM_USER=operator \
    SHIM_PASS=s3cret SHIM_KEY1=$SHIM_DIR/key1 SHIM_KEY2=$SHIM_DIR/key2
"$SHIM_ITEST" all
if grep -E '[Ff]orbidden' "$SHIM_DIR"/*.log >&2; then
    echo "FAIL: the shim was refused by RBAC: manifests/rbac-shim.yaml is not enough" >&2
    exit 1
fi
# ...and exactly enough: every grant was used (kube-lite's audit log), except those listed here.
kubectl -n commissaire get role commissaire-shim -o json >"$SHIM_DIR/role.json"
kubectl get clusterrole commissaire-shim -o json >"$SHIM_DIR/clusterrole.json"
#   operations get: read only on a cache miss (an Operation another replica just created);
#   secrets delete: only when a host is registered again with a different key;
#   tokenreviews create: only with the kubernetes auth plugin (shim_auth tests it).
python3 "$HERE/rbac_exact.py" --audit "$KL_DIR/audit.jsonl" --user "$SA" \
    --allow commissaire.io/operations:get --allow /secrets:delete \
    --allow authentication.k8s.io/tokenreviews:create \
    "$SHIM_DIR/role.json" "$SHIM_DIR/clusterrole.json" >&2 ||
    { echo "FAIL: the shim's RBAC is not exact" >&2; exit 1; }
echo "PASS: every REST scenario as $SA, every grant used"
