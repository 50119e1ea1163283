#!/usr/bin/env bash
# A Host with a good key goes investigating -> bootstrapping -> active (managed cluster, the
# fake kubelet marks its Node Ready) with facts equal to the farm's; every OS profile runs its
# commands in order, and a second run (the Host re-created) changes nothing. The Node is created
# and labelled with the cluster; the Host gets its finalizer and label; metrics and health
# endpoints answer; a trivial container manager leaves hosts disassociated; a container manager
# given by URL + CA + token Secret (here: kube-lite itself) registers through a client of its own.
set -euo pipefail
source "$(dirname "$0")/controller_host_lib.sh"

ct_setup
ct_farm 7 fedora,centos,rhel,atomic,debian,fedora,centos
ct_secret farm-key
kubectl apply -f - >/dev/null <<YAML
apiVersion: commissaire.io/v1alpha1
kind: ContainerManager
metadata: {name: k8s, namespace: $NS}
spec: {type: kubernetes, inCluster: true}
---
apiVersion: commissaire.io/v1alpha1
kind: ContainerManager
metadata: {name: triv, namespace: $NS}
spec: {type: trivial}
---
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: prod, namespace: $NS}
spec: {containerManager: k8s}
---
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: lab, namespace: $NS}
spec: {containerManager: triv}
---
apiVersion: v1
kind: Secret
metadata: {name: remote-creds, namespace: $NS}
data:
  token: $(printf '%s' "$KL_TOKEN" | base64 -w0)
---
apiVersion: commissaire.io/v1alpha1
kind: ContainerManager
metadata: {name: remote, namespace: $NS}
spec:
  type: openshift
  serverURL: "$KL_URL"
  credentialsSecretRef: {name: remote-creds}
  ca: |
$(sed 's/^/    /' "$KL_CA")
---
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: far, namespace: $NS}
spec: {containerManager: remote}
YAML
ct_fake_kubelet
ct_controller

managed=("${FARM_ADDRS[@]:0:5}")
unmanaged=${FARM_ADDRS[5]}
remote=${FARM_ADDRS[6]}
for a in "${managed[@]}"; do ct_host "$a" "cluster: prod"; done
ct_host "$unmanaged" "cluster: lab"
ct_host "$remote" "cluster: far"

ct_wait 20 "the default Network" kubectl -n $NS get network default
ct_expect_eq "default network type" "$(ct_jp network default .spec.type)" flannel_etcd

for a in "${managed[@]}"; do ct_wait 90 "$a active" ct_phase_is "$a" active; done
ct_wait 30 "$unmanaged disassociated" ct_phase_is "$unmanaged" disassociated
ct_wait 60 "$remote active" ct_phase_is "$remote" active
ct_log "all hosts settled"
ct_hosts_snapshot
verify() { python3 "$REPO/tests/integration/controller_host_verify.py" "$@"; }
verify facts "$KL_DIR/hosts.json" "$FARM_DIR" "${FARM_ADDRS[@]}" || ct_fail "facts differ from the farm's"
kubectl get nodes -o json >"$KL_DIR/nodes.json"
# One line per host: label nodeName Ready/reason NodeRegistered NodeReady, and its Node's label.
jq -r '.items[] | [.metadata.name, .metadata.labels["commissaire.io/cluster"], .status.nodeName,
    ([.status.conditions[] | select(.type == "Ready") | "\(.status)/\(.reason)"] | first),
    ([.status.conditions[] | select(.type == "NodeRegistered") | .status] | first),
    ([.status.conditions[] | select(.type == "NodeReady") | .status] | first)] | map(. // "-") | join(" ")' \
    "$KL_DIR/hosts.json" >"$KL_DIR/hosts.table"
jq -r '.items[] | "\(.metadata.name) \(.metadata.labels["commissaire.io/cluster"] // "-")"' "$KL_DIR/nodes.json" >"$KL_DIR/nodes.table"
for a in "${managed[@]}"; do
    ct_expect_eq "$a registration" "$(awk -v a="$a" '$1 == a' "$KL_DIR/hosts.table")" "$a prod $a True/Active True True"
    ct_expect_eq "node $a label" "$(awk -v a="$a" '$1 == a { print $2 }' "$KL_DIR/nodes.table")" prod
done
ct_expect_eq "$remote label on its node" \
    "$(jq -r --arg n "$remote" '.items[] | select(.metadata.name == $n) | .metadata.labels["commissaire.io/cluster"]' "$KL_DIR/nodes.json")" far
# The kubelet of the remote cluster got that cluster's server and token in its kubeconfig.
kc="$FARM_DIR/hosts/$remote/root/var/lib/kubelet/kubeconfig"
grep -qF "server: \"$KL_URL\"" "$kc" || ct_fail "kubelet kubeconfig lacks the server URL"
grep -qF "token: \"$KL_TOKEN\"" "$kc" || ct_fail "kubelet kubeconfig lacks the token"
ct_expect_eq "kubeconfig mode" "$(stat -c %a "$kc")" 600
if grep -qF "$KL_TOKEN" "$CT_LOG"; then ct_fail "the container manager token is in the controller log"; fi
ct_expect_eq "$unmanaged Ready" "$(ct_hcond "$unmanaged" Ready status)/$(ct_hcond "$unmanaged" Ready reason)" True/Disassociated
ct_expect_eq "$unmanaged NodeRegistered reason" "$(ct_hcond "$unmanaged" NodeRegistered reason)" TrivialContainerManager
[[ -z "$(jq -r --arg n "$unmanaged" '.items[] | select(.metadata.name == $n) | .metadata.name' "$KL_DIR/nodes.json")" ]] ||
    ct_fail "a trivial manager registered a node"

# Each profile's commands, in order: the farm's records minus the read-only checks must be
# exactly the applicable steps' apply commands.
specs=()
for a in "${managed[@]}" "$remote"; do specs+=("$a=1"); done
specs+=("$unmanaged=0")
verify cmds "$FARM_DIR" "$REPO/controller/hostos/profiles" "${specs[@]}" ||
    ct_fail "commands differ from the profiles'"
kubectl -n $NS get events -o json >"$KL_DIR/events.json"
for a in "${FARM_ADDRS[@]}"; do
    n=$(jq --arg n "$a" '[.items[] | select(.involvedObject.name == $n and .reason == "BootstrapStep")] | length' "$KL_DIR/events.json")
    [[ $n -ge 1 ]] || ct_fail "$a: no BootstrapStep Event"
done
ct_log "every profile ran its commands in order"

# Metrics and health.
curl -sf "http://127.0.0.1:$CT_METRICS/healthz" | grep -x ok >/dev/null || ct_fail "/healthz"
curl -sf "http://127.0.0.1:$CT_METRICS/readyz" | grep -x ok >/dev/null || ct_fail "/readyz"
metrics=$(curl -sf "http://127.0.0.1:$CT_METRICS/metrics")
# Every sample line is "name{labels} value": the Prometheus text format.
bad=$(grep -vE '^#|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? [-+0-9.eEInf]+$' <<<"$metrics" || true)
[[ -z "$bad" ]] || ct_fail "metrics lines not in Prometheus text format: $bad"
ct_expect_eq "hosts active" "$(ct_metric 'commissaire_controller_hosts{phase="active"}')" 6
ct_expect_eq "hosts disassociated" "$(ct_metric 'commissaire_controller_hosts{phase="disassociated"}')" 1
ct_expect_eq "leader" "$(ct_metric commissaire_controller_leader)" 1
for m in 'commissaire_controller_reconcile_total{kind="Host"}' \
    'commissaire_controller_ssh_command_duration_seconds_count' \
    'commissaire_controller_api_requests_total{verb="PUT",code="200"}'; do
    v=$(ct_metric "$m")
    [[ -n "$v" && "$v" != 0 ]] || ct_fail "metric $m is '$v'"
done
grep -q 'commissaire_controller_reconcile_duration_seconds_bucket{kind="Host",le="+Inf"}' <<<"$metrics" || ct_fail "no reconcile histogram"
grep -q 'commissaire_controller_workqueue_depth{kind="Cluster"}' <<<"$metrics" || ct_fail "no queue depth"

# Secrets never reach the log (the log runs at debug level here).
keyline=$(sed -n 2p "$FARM_KEY")
if grep -qF "$keyline" "$CT_LOG"; then ct_fail "the private key is in the controller log"; fi

# Second run: two Hosts (one traditional, one Debian) are deleted (finalizer released) and
# created again; re-investigation and bootstrap must only check, never change anything.
again=("${FARM_ADDRS[0]}" "${FARM_ADDRS[4]}")
verify count "$FARM_DIR" "${again[@]}" >"$KL_DIR/since"
kubectl -n $NS delete host "${again[@]}" --timeout=90s >/dev/null
for a in "${again[@]}"; do ct_host "$a" "cluster: prod"; done
for a in "${again[@]}"; do ct_wait 90 "$a active again" ct_phase_is "$a" active; done
verify cmds "$FARM_DIR" "$REPO/controller/hostos/profiles" --since "$KL_DIR/since" "${again[0]}=1" "${again[1]}=1" ||
    ct_fail "the second run changed a host"
for a in "${again[@]}"; do
    [[ $(ct_farm_cmds "$a" | wc -l) -gt $(awk -v a="$a" '$1 == a { print $2 }' "$KL_DIR/since") ]] ||
        ct_fail "$a: the second run checked nothing"
done
ct_log "second run changed nothing"

ct_stop_controller
ct_log "PASS"
