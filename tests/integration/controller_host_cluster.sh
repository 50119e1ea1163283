#!/usr/bin/env bash
# A Cluster's status follows its hosts: ok -> degraded (one host unreachable) -> ok (back),
# failed when none is available; counts and the Ready condition say so. An unmanaged cluster
# with healthy disassociated hosts is ok (decisions #30). A cluster naming a missing container
# manager says so in a condition. Membership is spec.cluster, mirrored in the host label.
set -euo pipefail
source "$(dirname "$0")/controller_host_lib.sh"

ct_setup
ct_farm 3 fedora,centos,debian
ct_secret farm-key
kubectl apply -f - >/dev/null <<YAML
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: c1, namespace: $NS}
spec: {}
---
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: empty, namespace: $NS}
spec: {containerManager: missing-cm}
YAML
ct_controller
for a in "${FARM_ADDRS[@]}"; do ct_host "$a" "cluster: c1"; done

cluster_is() { # NAME STATUS TOTAL AVAILABLE UNAVAILABLE
    [[ "$(ct_jp cluster "$1" '.status.status')/$(ct_jp cluster "$1" '.status.hostsTotal')/$(ct_jp cluster "$1" '.status.hostsAvailable')/$(ct_jp cluster "$1" '.status.hostsUnavailable')" == "$2/$3/$4/$5" ]]
}
ct_wait 90 "c1 ok 3/3" cluster_is c1 ok 3 3 0
ct_expect_eq "c1 Ready" "$(ct_cond cluster c1 Ready status)/$(ct_cond cluster c1 Ready reason)" True/AllHostsAvailable
ct_expect_eq "c1 unmanaged" "$(ct_cond cluster c1 ContainerManagerResolved reason)" Unmanaged
for a in "${FARM_ADDRS[@]}"; do
    ct_expect_eq "$a label" "$(ct_jp host "$a" '.metadata.labels.commissaire\.io/cluster')" c1
done
ct_wait 20 "empty cluster ok" cluster_is empty ok 0 0 0
ct_expect_eq "missing CM" "$(ct_cond cluster empty ContainerManagerResolved status)/$(ct_cond cluster empty ContainerManagerResolved reason)" False/NotFound

ct_farm_host "${FARM_ADDRS[0]}" unreachable
ct_wait 60 "c1 degraded" cluster_is c1 degraded 3 2 1
ct_expect_eq "c1 Ready when degraded" "$(ct_cond cluster c1 Ready status)/$(ct_cond cluster c1 Ready reason)" False/SomeHostsUnavailable
[[ "$(ct_cond cluster c1 Ready message)" == *"${FARM_ADDRS[0]}"* ]] || ct_fail "the condition does not name the unavailable host"

ct_farm_host "${FARM_ADDRS[1]}" unreachable
ct_farm_host "${FARM_ADDRS[2]}" unreachable
ct_wait 60 "c1 failed" cluster_is c1 failed 3 0 3

for a in "${FARM_ADDRS[@]}"; do ct_farm_host "$a" reachable; done
ct_wait 90 "c1 ok again" cluster_is c1 ok 3 3 0

# Leaving the cluster: membership follows spec.cluster (and the label follows it).
kubectl -n $NS patch host "${FARM_ADDRS[2]}" --type=json -p '[{"op":"remove","path":"/spec/cluster"}]' >/dev/null
ct_wait 60 "c1 has 2 hosts" cluster_is c1 ok 2 2 0
label_gone() { [[ -z "$(ct_jp host "${FARM_ADDRS[2]}" '.metadata.labels.commissaire\.io/cluster')" ]]; }
ct_wait 30 "label removed" label_gone

ct_stop_controller
ct_log "PASS"
