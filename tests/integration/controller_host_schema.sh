#!/usr/bin/env bash
# Bad Hosts, Clusters, Networks and ContainerManagers are rejected by the API server (the CRD
# schemas) with a message naming the field, before the controller ever sees them; a good Host
# is accepted and gets its defaults.
set -euo pipefail
source "$(dirname "$0")/controller_host_lib.sh"

ct_setup

reject() { # DESCRIPTION FIELD_IN_MESSAGE YAML
    local out
    if out=$(kubectl apply -f - 2>&1 <<<"$3"); then
        ct_fail "$1 was accepted: $out"
    fi
    [[ $out == *"$2"* ]] || ct_fail "$1: the error does not name $2: $out"
}
meta="metadata: {name: h1, namespace: $NS}"
hdr="apiVersion: commissaire.io/v1alpha1"

reject "Host without address" "spec.address" "$hdr
kind: Host
$meta
spec: {sshKeySecretRef: {name: k}}"
reject "Host without key" "spec.sshKeySecretRef" "$hdr
kind: Host
$meta
spec: {address: 10.0.0.1}"
reject "Host with port 70000" "spec.port" "$hdr
kind: Host
$meta
spec: {address: 10.0.0.1, port: 70000, sshKeySecretRef: {name: k}}"
reject "Host with a malformed host key" "spec.hostKey" "$hdr
kind: Host
$meta
spec: {address: 10.0.0.1, hostKey: 'MD5:aa:bb', sshKeySecretRef: {name: k}}"
reject "Host with a bad address" "spec.address" "$hdr
kind: Host
$meta
spec: {address: 'not an address!', sshKeySecretRef: {name: k}}"
reject "Host with a bad remote user" "spec.remoteUser" "$hdr
kind: Host
$meta
spec: {address: 10.0.0.1, remoteUser: 'root; rm -rf /', sshKeySecretRef: {name: k}}"
reject "ContainerManager of an unknown type" "spec.type" "$hdr
kind: ContainerManager
metadata: {name: cm, namespace: $NS}
spec: {type: mesos}"
reject "Network of an unknown type" "spec.type" "$hdr
kind: Network
metadata: {name: net1, namespace: $NS}
spec: {type: calico}"
reject "Cluster naming an invalid network" "spec.network" "$hdr
kind: Cluster
metadata: {name: c, namespace: $NS}
spec: {network: 'Not_A_Name'}"

# A good Host is accepted and defaulted.
kubectl apply -f - >/dev/null <<YAML
$hdr
kind: Host
$meta
spec: {address: 10.0.0.1, sshKeySecretRef: {name: k}}
YAML
ct_expect_eq "default port" "$(ct_jp host h1 .spec.port)" 22
ct_expect_eq "default user" "$(ct_jp host h1 .spec.remoteUser)" root
ct_expect_eq "default key name" "$(ct_jp host h1 .spec.sshKeySecretRef.key)" ssh-privatekey
ct_expect_eq "default cleanup" "$(ct_jp host h1 .spec.cleanupOnDelete)" false
ct_log "PASS"
