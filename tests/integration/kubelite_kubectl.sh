#!/usr/bin/env bash
# The real kubectl against kube-lite (or, with KUBECONFIG set, a real cluster): client-side
# apply -f / -k twice (the second is a no-op), strategic merge of built-ins, get -o
# json|yaml|wide|name with the CRDs' printer columns, shortNames and categories, get -w, wait
# --for=condition and --for=delete, patch --type merge, label, annotate, delete, explain,
# `kubectl create` of built-ins (protobuf bodies), auth whoami / can-i.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/kubelite.sh"
source "$here/kubelite_assert.sh"

BG=()
cleanup() {
    for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    if [[ "${KL_REAL:-0}" == 1 ]]; then
        kubectl delete ns "$NS" --wait=false >/dev/null 2>&1 || true
    fi
    kt_cleanup
    kl_stop || exit 1
}
trap cleanup EXIT
kl_start
kl_apply_crds
NS=klctl-$$-$RANDOM
T=$KL_DIR/t
mkdir -p "$T/m" "$T/k"
k() { kubectl -n "$NS" "$@"; }

kubectl create namespace "$NS" >/dev/null && kt_pass || kt_fail "create namespace"
k create secret generic key --type=kubernetes.io/ssh-auth --from-literal=ssh-privatekey=PEM >/dev/null \
    && kt_pass || kt_fail "create secret (protobuf)"
kt_eq "secret data" "$(k get secret key -o jsonpath='{.data.ssh-privatekey}' | base64 -d)" PEM
out=$(k create secret generic bad --type=kubernetes.io/ssh-auth --from-literal=x=y 2>&1 || true)
kt_eq "ssh-auth secret needs its key" "$out" \
    'error: failed to create secret Secret "bad" is invalid: data[ssh-privatekey]: Required value'
k create configmap cfg --from-literal=a=1 >/dev/null && kt_pass || kt_fail "create configmap"

cat >"$T/m/host.yaml" <<YAML
apiVersion: commissaire.io/v1alpha1
kind: Host
metadata:
  name: h1
  labels: {role: web}
spec:
  address: 192.0.2.10
  sshKeySecretRef: {name: key}
  cluster: c1
YAML
cat >"$T/m/cluster.yaml" <<YAML
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata:
  name: c1
spec:
  network: default
YAML
cat >"$T/m/deploy.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1
        env:
        - {name: A, value: "1"}
        - {name: B, value: "2"}
      - name: side
        image: busybox
YAML
out=$(k apply -f "$T/m/")
kt_eq "apply -f creates" "$(grep -c created <<<"$out")" 3
rv1=$(k get host h1 -o jsonpath='{.metadata.resourceVersion}')
out=$(k apply -f "$T/m/")
kt_eq "re-apply is a no-op" "$(grep -c unchanged <<<"$out")" 3
kt_eq "re-apply keeps resourceVersion" "$(k get host h1 -o jsonpath='{.metadata.resourceVersion}')" "$rv1"
# strategic merge patch of a built-in: drop env B and a container; change the image
sed -i -e '/name: B/d' -e 's/nginx:1/nginx:2/' -e '/name: side/,/busybox/d' "$T/m/deploy.yaml"
out=$(k apply -f "$T/m/deploy.yaml")
kt_eq "apply configures" "$out" "deployment.apps/web configured"
kt_eq "SMP image" "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')" nginx:2
kt_eq "SMP env" "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[0].env[*].name}')" A
kt_eq "SMP containers" "$(k get deploy web -o jsonpath='{.spec.template.spec.containers[*].name}')" web
kt_eq "deployment generation" "$(k get deploy web -o jsonpath='{.metadata.generation}')" 2
# merge patch of a custom resource through apply: removing a field
sed -i '/cluster: c1/d' "$T/m/host.yaml"
k apply -f "$T/m/host.yaml" >/dev/null
kt_eq "apply removes a CR field" "$(k get host h1 -o jsonpath='{.spec.cluster}')" ""
kt_eq "CR generation" "$(k get host h1 -o jsonpath='{.metadata.generation}')" 2
kt_eq "CR defaulting" "$(k get host h1 -o jsonpath='{.spec.port}/{.spec.sshKeySecretRef.key}')" 22/ssh-privatekey

cat >"$T/k/kustomization.yaml" <<YAML
namespace: $NS
labels: [{pairs: {from: kustomize}}]
resources: [net.yaml]
YAML
cat >"$T/k/net.yaml" <<YAML
apiVersion: commissaire.io/v1alpha1
kind: Network
metadata: {name: n1}
spec: {type: flannel_etcd, options: {x: "1"}}
YAML
out=$(kubectl apply -k "$T/k")
kt_eq "apply -k" "$out" "network.commissaire.io/n1 created"
out=$(kubectl apply -k "$T/k")
kt_eq "apply -k again" "$out" "network.commissaire.io/n1 unchanged"

# server-side validation through apply
cat >"$T/bad.yaml" <<YAML
apiVersion: commissaire.io/v1alpha1
kind: Host
metadata: {name: bad}
spec: {address: 192.0.2.99, port: "x", sshKeySecretRef: {name: key}}
YAML
out=$(k apply -f "$T/bad.yaml" 2>&1 || true)
grep -q 'is invalid' <<<"$out" && kt_pass || kt_fail "apply of an invalid Host: $out"
sed -i 's/port: "x", //; s/sshKeySecretRef/bogus: 1, sshKeySecretRef/' "$T/bad.yaml"
out=$(k apply -f "$T/bad.yaml" 2>&1 || true)
grep -q 'Host in version "v1alpha1" cannot be handled as a Host: strict decoding error: unknown field "spec.bogus"' <<<"$out" && kt_pass || kt_fail "strict field validation: $out"

# get in every output form
kt_eq "get -o json" "$(k get hosts -o json | jq -r '.kind + " " + (.items | length | tostring)')" "List 1"
kt_eq "get -o yaml" "$(k get host h1 -o yaml | grep -c '^kind: Host$')" 1
kt_eq "get -o name" "$(k get hst -o name)" host.commissaire.io/h1
hdr=$(k get hosts | sed -n 1p | tr -s ' ')
kt_eq "printer columns" "$hdr" "NAME ADDRESS CLUSTER STATUS OS AGE"
hdr=$(k get hosts -o wide | sed -n 1p | tr -s ' ')
grep -q "^NAME ADDRESS CLUSTER STATUS OS AGE" <<<"$hdr" && kt_pass || kt_fail "get -o wide header: $hdr"
kt_eq "category" "$(k get commissaire -o name | sort | tr '\n' ' ')" \
    "cluster.commissaire.io/c1 host.commissaire.io/h1 network.commissaire.io/n1 "
kt_eq "get ns" "$(kubectl get ns "$NS" --no-headers | awk '{print $2}')" Active
kt_eq "get pdb/cm table" "$(k get cm cfg --no-headers | awk '{print $1}')" cfg

# label, annotate, patch
k label host h1 tier=gold >/dev/null
kt_eq "label" "$(k get hosts -l tier=gold -o name)" host.commissaire.io/h1
k label host h1 tier- >/dev/null
kt_eq "label removal" "$(k get hosts -l tier -o name)" ""
out=$(k label host h1 role=db 2>&1 || true)
grep -q "already has a value" <<<"$out" && kt_pass || kt_fail "label without --overwrite: $out"
k label host h1 role=db --overwrite >/dev/null
k annotate host h1 note=hello >/dev/null
kt_eq "annotate" "$(k get host h1 -o jsonpath='{.metadata.annotations.note}')" hello
k patch host h1 --type merge -p '{"spec":{"remoteUser":"admin"}}' >/dev/null
kt_eq "patch --type merge" "$(k get host h1 -o jsonpath='{.spec.remoteUser}')" admin
k patch host h1 --subresource status --type merge -p '{"status":{"phase":"active"}}' >/dev/null
kt_eq "patch status" "$(k get host h1 --no-headers | awk '{print $3}')" active

# get -w sees a change
k get hosts -w --output-watch-events --no-headers >"$T/watch.out" 2>&1 &
BG+=($!)
sleep 2
k patch host h1 --subresource status --type merge -p '{"status":{"os":"fedora"}}' >/dev/null
watched() { grep -q "MODIFIED.*h1.*fedora" "$T/watch.out"; }
kt_retry 15 watched && kt_pass || kt_fail "get -w did not show the change: $(cat "$T/watch.out")"

# wait --for=condition and --for=delete
k wait --for=condition=Ready host/h1 --timeout=30s >"$T/wait.out" 2>&1 &
wpid=$!
sleep 1
k patch host h1 --subresource status --type merge -p \
    '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Test","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' >/dev/null
wait "$wpid" && kt_pass || kt_fail "wait --for=condition: $(cat "$T/wait.out")"
k wait --for=delete host/h1 --timeout=30s >"$T/wait2.out" 2>&1 &
wpid=$!
sleep 1
k delete host h1 >/dev/null
wait "$wpid" && kt_pass || kt_fail "wait --for=delete: $(cat "$T/wait2.out")"
out=$(k get host h1 2>&1 || true)
kt_eq "get after delete" "$out" 'Error from server (NotFound): hosts.commissaire.io "h1" not found'
k delete -f "$T/m/cluster.yaml" >/dev/null && kt_pass || kt_fail "delete -f"

# explain, discovery, auth
kubectl explain hosts.spec.address | grep "IPv4 address" >/dev/null && kt_pass || kt_fail "explain hosts.spec.address"
kubectl explain operations.spec >/dev/null && kt_pass || kt_fail "explain operations.spec"
kubectl api-resources --api-group=commissaire.io -o name | grep -x hosts.commissaire.io >/dev/null \
    && kt_pass || kt_fail "api-resources"
kubectl auth can-i create hosts.commissaire.io -n "$NS" >/dev/null && kt_pass || kt_fail "auth can-i"
kubectl version -o json | jq -e .serverVersion.gitVersion >/dev/null && kt_pass || kt_fail "version"
if [[ "${KL_REAL:-0}" != 1 ]]; then
    kt_eq "auth whoami" "$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}')" admin
fi

kt_summary
