#!/usr/bin/env bash
# Pod eviction honouring PodDisruptionBudgets (429 TooManyRequests when the budget forbids it),
# the PDB status kube-lite maintains, spec.nodeName field selectors, and the real `kubectl
# cordon` / `kubectl drain` against it. kube-lite only: on a real cluster these pods would run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/kubelite.sh"
source "$here/kubelite_assert.sh"
trap 'kl_stop || exit 1' EXIT
if [[ -n "${KUBECONFIG:-}" ]]; then
    echo "eviction test creates pods: kube-lite only, skipping on a real cluster"
    exit 77
fi
kl_start
NS=evict
kubectl create ns $NS >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
status:
  conditions: [{type: Ready, status: "True"}]
YAML
pod() { # name node ready
    kubectl -n $NS apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: web}}
spec:
  nodeName: $2
  containers: [{name: c, image: nginx}]
YAML
    kubectl -n $NS patch pod "$1" --subresource status --type merge -p \
        "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"$3\"}]}}" >/dev/null
}
pod p1 n1 True
pod p2 n1 True
pod p3 n2 True
pod p4 n2 False
kt_eq "field selector spec.nodeName" "$(kubectl -n $NS get pods --field-selector spec.nodeName=n1 -o name | tr '\n' ' ')" "pod/p1 pod/p2 "
kt_eq "field selector status.phase" "$(kubectl -n $NS get pods --field-selector status.phase=Running -o name | wc -l)" 4
kubectl -n $NS create pdb web --selector=app=web --min-available=2 >/dev/null
status() { [[ "$(kubectl -n $NS get pdb web -o jsonpath='{.status.expectedPods}/{.status.currentHealthy}/{.status.desiredHealthy}/{.status.disruptionsAllowed}')" == "$1" ]]; }
kt_retry 10 status 4/3/2/1 && kt_pass || kt_fail "pdb status: $(kubectl -n $NS get pdb web -o jsonpath='{.status}')"

evict() {
    KT_BODY=$(kl_curl "/api/v1/namespaces/$NS/pods/$1/eviction" -X POST -H 'Content-Type: application/json' \
        -w '\n%{http_code}' --data-binary "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"$1\",\"namespace\":\"$NS\"}}")
    KT_CODE=${KT_BODY##*$'\n'}
    KT_BODY=${KT_BODY%$'\n'*}
}
evict p1
kt_expect 201
kt_eq "evicted pod gone" "$(kubectl -n $NS get pod p1 -o name 2>/dev/null || true)" ""
evict p2
kt_expect 429
kt_eq "429 reason" "$(jq -r .reason <<<"$KT_BODY")" TooManyRequests
kt_eq "429 message" "$(jq -r .message <<<"$KT_BODY")" "Cannot evict pod as it would violate the pod's disruption budget."
kt_eq "429 cause" "$(jq -r '.details.causes[0].reason + ": " + .details.causes[0].message' <<<"$KT_BODY")" \
    "DisruptionBudget: The disruption budget web needs 2 healthy pods and has 2 currently"
# An unready pod may go while the budget is met (IfHealthyBudget).
evict p4
kt_expect 201
evict nope
kt_expect 404
kt_eq "missing pod message" "$(jq -r .message <<<"$KT_BODY")" 'pods "nope" not found'

# kubectl cordon and drain: the drain is blocked by the budget, then succeeds without it.
pod p5 n1 True
out=$(kubectl cordon n1)
kt_eq "cordon output" "$out" "node/n1 cordoned"
kt_eq "cordon" "$(kubectl get node n1 -o jsonpath='{.spec.unschedulable}')" true
out=$(kubectl drain n1 --timeout=4s --ignore-daemonsets --force 2>&1 || true)
grep -q "Cannot evict pod as it would violate the pod's disruption budget" <<<"$out" \
    && kt_pass || kt_fail "drain not blocked: $out"
kubectl -n $NS delete pdb web >/dev/null
kubectl drain n1 --timeout=20s --ignore-daemonsets --force >/dev/null 2>&1 && kt_pass || kt_fail "drain"
kt_eq "node drained" "$(kubectl -n $NS get pods --field-selector spec.nodeName=n1 -o name)" ""
kubectl uncordon n1 >/dev/null
kt_eq "uncordon" "$(kubectl get node n1 -o jsonpath='{.spec.unschedulable}')" ""
kt_summary
