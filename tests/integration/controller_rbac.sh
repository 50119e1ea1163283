#!/usr/bin/env bash
# The shipped least-privilege RBAC (manifests/rbac-controller.yaml) is enough, proved by use:
# kube-lite enforces RBAC; the manifests are applied with `kubectl apply -k manifests/`; the
# controller runs with the token of its ServiceAccount (not admin), with leader election. It
# bootstraps hosts into a managed cluster (Node registration), rolls a restart that cordons,
# evicts a pod and uncordons, and decommissions a host (Node removal). Any request the role does
# not allow is a 403 in the controller's log, and fails this test; a grant it never used fails it
# too (kube-lite's audit log, tests/integration/rbac_exact.py), unless listed with its reason.
# (The chart renders the same RBAC objects: install_chart_vs_kustomize compares them.)
set -euo pipefail
source "$(dirname "$0")/op_lib.sh"

trap op_cleanup EXIT
kl_start_as_serviceaccount commissaire-controller
SA=$KL_SA
# The account really is limited (the test would prove nothing if RBAC let everything through);
# asked with a SubjectAccessReview so that the account itself is never refused.
can() {
    kl_curl /apis/authorization.k8s.io/v1/subjectaccessreviews -X POST -H 'Content-Type: application/json' \
        --data-binary "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\",\"spec\":{\"user\":\"$SA\",\"resourceAttributes\":{\"namespace\":\"$1\",\"verb\":\"$2\",\"resource\":\"$3\"}}}" |
        jq -r .status.allowed
}
[[ "$(can default get secrets)/$(can commissaire list secrets)/$(can commissaire get secrets)" == false/false/true ]] ||
    op_fail "the ServiceAccount's secret access is not what the role says"

op_farm 3 fedora --reboot-seconds 1
op_secret
op_cluster prod k8s
op_fake_kubelet
op_controller --kubeconfig "$KL_SA_KUBECONFIG" --leader-elect \
    --leader-elect-lease-duration 6s --leader-elect-renew-deadline 4s --leader-elect-retry-period 1s
op_hosts prod "${FARM_ADDRS[@]}"
op_wait_phase active 240 "${FARM_ADDRS[@]}"
op_log "3 hosts active as $SA"
for a in "${FARM_ADDRS[@]}"; do
    kubectl get node "$a" >/dev/null 2>&1 || op_fail "node $a was not registered"
done
[[ "$(kubectl -n commissaire get lease commissaire-controller -o jsonpath='{.spec.holderIdentity}')" != "" ]] ||
    op_fail "no lease holder"

kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: default}
spec: {nodeName: "${FARM_ADDRS[0]}", containers: [{name: c, image: nginx}]}
YAML
op_create roll prod restart "maxUnavailable: 1" "drain: true"
op_wait 240 "operation Finished" op_phase_is roll Finished
if kubectl get pod app -n default >/dev/null 2>&1; then op_fail "the pod on ${FARM_ADDRS[0]} was not evicted"; fi
for a in "${FARM_ADDRS[@]}"; do
    [[ "$(kubectl get node "$a" -o jsonpath='{.spec.unschedulable}')" != true ]] || op_fail "$a still cordoned"
done

kubectl -n $NS delete host "${FARM_ADDRS[2]}" --wait=false >/dev/null
gone() { ! kubectl get node "${FARM_ADDRS[2]}" >/dev/null 2>&1 && ! kubectl -n $NS get host "${FARM_ADDRS[2]}" >/dev/null 2>&1; }
op_wait 120 "host and node removed" gone

denied=$(grep -c -E '[Ff]orbidden' "$OP_LOG" || true)
if [[ "$denied" != 0 ]]; then
    grep -E '[Ff]orbidden' "$OP_LOG" | head -20 >&2
    op_fail "the controller was refused $denied time(s): the shipped RBAC is not enough"
fi
op_stop_controller

# ...and exactly enough: every grant of the roles was used by the controller in this run, except
# those listed here, each with its reason.
kubectl -n commissaire get role commissaire-controller -o json >"$KL_DIR/role.json"
kubectl get clusterrole commissaire-controller -o json >"$KL_DIR/clusterrole.json"
#   operations get: only a conflicting status write re-reads the Operation;
#   events patch: only an Event repeated within the aggregation window is patched.
python3 "$REPO/tests/integration/rbac_exact.py" --audit "$KL_DIR/audit.jsonl" --user "$SA" \
    --allow commissaire.io/operations:get --allow /events:patch \
    "$KL_DIR/role.json" "$KL_DIR/clusterrole.json" >&2 || op_fail "the controller's RBAC is not exact"
op_log "PASS"
