#!/usr/bin/env bash
# kube-lite --data-dir: state survives a clean restart and a SIGKILL (writes are fsync'd before
# they are answered), custom resource types come back with their CRDs, resourceVersions keep
# growing, deletes are remembered, and a torn last log line is ignored.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/kubelite.sh"
source "$here/kubelite_assert.sh"
trap 'kl_stop || exit 1' EXIT
if [[ -n "${KUBECONFIG:-}" ]]; then
    echo "persistence is a kube-lite feature: skipping on a real cluster"
    exit 77
fi
kl_start --data-dir @KL_DIR@/data
D="$KL_DIR/data"
kl_apply_crds
kubectl create ns commissaire >/dev/null
kubectl -n commissaire create secret generic key --type=kubernetes.io/ssh-auth --from-literal=ssh-privatekey=K >/dev/null
cat >"$KL_DIR/h.yaml" <<YAML
apiVersion: commissaire.io/v1alpha1
kind: Host
metadata: {name: h1, namespace: commissaire, labels: {a: b}}
spec: {address: 192.0.2.1, sshKeySecretRef: {name: key}}
YAML
kubectl apply -f "$KL_DIR/h.yaml" >/dev/null
kubectl -n commissaire patch host h1 --subresource status --type merge -p '{"status":{"phase":"active"}}' >/dev/null
kubectl -n commissaire create cm gone >/dev/null
kubectl -n commissaire delete cm gone >/dev/null
uid=$(kubectl -n commissaire get host h1 -o jsonpath='{.metadata.uid}')
rv=$(kubectl -n commissaire get host h1 -o jsonpath='{.metadata.resourceVersion}')
listrv=$(kubectl get --raw /api/v1/namespaces/commissaire/configmaps | jq -r .metadata.resourceVersion)

kl_restart --data-dir "$D"
kt_eq "host uid after restart" "$(kubectl -n commissaire get host h1 -o jsonpath='{.metadata.uid}')" "$uid"
kt_eq "host rv after restart" "$(kubectl -n commissaire get host h1 -o jsonpath='{.metadata.resourceVersion}')" "$rv"
kt_eq "status after restart" "$(kubectl -n commissaire get host h1 -o jsonpath='{.status.phase}')" active
kt_eq "deleted stays deleted" "$(kubectl -n commissaire get cm gone -o name 2>/dev/null || true)" ""
kt_eq "secret after restart" "$(kubectl -n commissaire get secret key -o jsonpath='{.data.ssh-privatekey}' | base64 -d)" K
kt_eq "re-apply after restart is a no-op" "$(kubectl apply -f "$KL_DIR/h.yaml")" "host.commissaire.io/h1 unchanged"
newrv=$(kubectl -n commissaire create cm after -o jsonpath='{.metadata.resourceVersion}')
((newrv > listrv)) && kt_pass || kt_fail "resourceVersion went back: $newrv <= $listrv"
kt_eq "CRD established after restart" \
    "$(kubectl get crd hosts.commissaire.io -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" True

# A SIGKILL right after answered writes loses none of them.
for i in $(seq 1 20); do
    kubectl -n commissaire create cm "k$i" >/dev/null
done
kubectl -n commissaire delete cm k20 >/dev/null
kl_crash
printf '{"t":"put","g":"","r":"configmaps","o":{"apiVersion":"v1","kind":"Con' >>"$D/log.jsonl"
kl_restart_after_crash --data-dir "$D"
n=$(kubectl -n commissaire get cm -o name | grep -c '/k[0-9]*$')
kt_eq "writes before SIGKILL" "$n" 19
kt_eq "host after SIGKILL" "$(kubectl -n commissaire get host h1 -o jsonpath='{.spec.address}')" 192.0.2.1
kubectl -n commissaire create cm after-crash >/dev/null && kt_pass || kt_fail "write after crash recovery"
kl_restart --data-dir "$D"
kt_eq "write after recovery persisted" "$(kubectl -n commissaire get cm after-crash -o name)" configmap/after-crash
kt_summary
