#!/usr/bin/env bash
# Deleting a Host decommissions it: the node is cordoned and drained through the Eviction API
# (a PodDisruptionBudget holds the drain back until it allows it; DaemonSet pods are left
# alone), the Node is deleted, the profile's teardown runs over SSH (cleanupOnDelete), and only
# then is the finalizer released. An unreachable host does not block deletion forever: after
# --decommission-timeout the teardown is skipped with a Warning Event saying so.
set -euo pipefail
source "$(dirname "$0")/controller_host_lib.sh"

ct_setup
ct_farm 2 fedora,debian
ct_secret farm-key
kubectl apply -f - >/dev/null <<YAML
apiVersion: commissaire.io/v1alpha1
kind: ContainerManager
metadata: {name: k8s, namespace: $NS}
spec: {type: kubernetes, inCluster: true}
---
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: prod, namespace: $NS}
spec: {containerManager: k8s}
YAML
ct_fake_kubelet
ct_controller --decommission-timeout 120s
a=${FARM_ADDRS[0]} b=${FARM_ADDRS[1]}
ct_host "$a" "cluster: prod" "cleanupOnDelete: true"
ct_host "$b" "cluster: prod" "cleanupOnDelete: true"
for h in "$a" "$b"; do ct_wait 90 "$h active" ct_phase_is "$h" active; done

# A workload on node A, protected by a PDB that allows no disruption, and a DaemonSet pod
# (owned by a real DaemonSet object, or the garbage collector would remove it).
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: apps}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps, labels: {app: web}}
spec:
  nodeName: "$a"
  containers: [{name: web, image: nginx}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: apps}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
YAML
ds_uid=$(kubectl -n apps get daemonset agent -o jsonpath='{.metadata.uid}')
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: agent
  namespace: apps
  labels: {app: agent}
  ownerReferences:
  - {apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: "$ds_uid", controller: true}
spec:
  nodeName: "$a"
  containers: [{name: agent, image: busybox}]
YAML

from=$(($(ct_farm_cmds "$a" | wc -l) + 1))
kubectl -n $NS delete host "$a" --wait=false >/dev/null
cordoned() { [[ "$(kubectl get node "$a" -o jsonpath='{.spec.unschedulable}')" == true ]]; }
ct_wait 30 "node $a cordoned" cordoned
blocked() {
    kubectl -n $NS get events -o json |
        jq -e --arg n "$a" '[.items[] | select(.involvedObject.name == $n and .reason == "DrainBlocked")] | length > 0' >/dev/null
}
ct_wait 30 "DrainBlocked Event" blocked
sleep 2
kubectl -n apps get pod web >/dev/null 2>&1 || ct_fail "the PDB did not hold the eviction back"
kubectl -n $NS get host "$a" >/dev/null 2>&1 || ct_fail "the Host went away before its node was drained"
kubectl get node "$a" >/dev/null 2>&1 || ct_fail "the Node was deleted before it was drained"

# The budget allows it now: the drain finishes, the node goes, teardown runs, the Host goes.
kubectl -n apps delete pdb web >/dev/null
host_gone() { ! kubectl -n $NS get host "$1" >/dev/null 2>&1; }
ct_wait 60 "Host $a deleted" host_gone "$a"
if kubectl -n apps get pod web >/dev/null 2>&1; then ct_fail "pod web was not evicted"; fi
kubectl -n apps get pod agent >/dev/null 2>&1 || ct_fail "the DaemonSet pod was evicted"
if kubectl get node "$a" >/dev/null 2>&1; then ct_fail "node $a was not deleted"; fi
teardown=$(ct_farm_cmds "$a" | tail -n +"$from")
grep -qx 'systemctl disable --now kubelet kube-proxy' <<<"$teardown" || ct_fail "no kubelet teardown: $teardown"
grep -qx 'systemctl disable --now flanneld' <<<"$teardown" || ct_fail "no flannel teardown: $teardown"
[[ ! -e "$FARM_DIR/hosts/$a/root/var/lib/kubelet/kubeconfig" ]] || ct_fail "the kubelet credentials are still on the host"
for r in NodeDeleted TeardownDone; do
    n=$(kubectl -n $NS get events -o json | jq --arg n "$a" --arg r "$r" '[.items[] | select(.involvedObject.name == $n and .reason == $r)] | length')
    [[ $n -ge 1 ]] || ct_fail "no $r Event for $a"
done
ct_log "drained, node deleted, torn down, finalizer released"

# An unreachable host: deletion completes after the bounded wait, saying what was skipped.
# (A controller restarted with a short bound; all it needs to know is in the objects.)
ct_stop_controller
ct_controller --decommission-timeout 8s
ct_farm_host "$b" unreachable
t0=$SECONDS
kubectl -n $NS delete host "$b" --wait=false >/dev/null
ct_wait 90 "Host $b deleted despite being unreachable" host_gone "$b"
((SECONDS - t0 >= 7)) || ct_fail "the unreachable host was released without waiting"
n=$(kubectl -n $NS get events -o json | jq --arg n "$b" '[.items[] | select(.involvedObject.name == $n and .reason == "TeardownSkipped" and .type == "Warning")] | length')
[[ $n -ge 1 ]] || ct_fail "no TeardownSkipped Warning Event for $b"
if kubectl get node "$b" >/dev/null 2>&1; then ct_fail "node $b was not deleted"; fi

ct_stop_controller
ct_log "PASS"
