#!/usr/bin/env bash
# RBAC enforcement, driven with the real kubectl: denials carry the real server's 403 Status and
# wording; RoleBindings grant only in their namespace; resourceNames, subresources, Group and
# ServiceAccount subjects, aggregated ClusterRoles; `kubectl auth can-i` (SelfSubjectAccessReview)
# and SubjectAccessReview answer from the same rules. Against a real cluster (KUBECONFIG set) it
# skips: it needs users of its own (a token file).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/kubelite.sh"
source "$here/kubelite_assert.sh"
if [[ -n "${KUBECONFIG:-}" ]]; then
    echo "needs kube-lite's token file users: skipping on a real cluster"
    exit 77
fi
trap 'kt_cleanup; kl_stop || exit 1' EXIT
kl_start
ADMIN=adm-$RANDOM$RANDOM BOB=bob-$RANDOM$RANDOM CAROL=carol-$RANDOM$RANDOM SA=sa-$RANDOM$RANDOM
cat >"$KL_DIR/tokens.csv" <<CSV
$ADMIN,admin,1,"system:masters"
$BOB,bob,2
$CAROL,carol,3,"devs"
$SA,system:serviceaccount:team-a:builder,4
CSV
kl_restart --token-file @KL_DIR@/tokens.csv
kl_apply_crds
as() { local t=$1; shift; kubectl --token="$t" "$@" 2>&1; }
forbidden() { # WHAT WANT_MESSAGE kubectl-args... (run as bob unless TOKEN is set)
    local what=$1 want=$2 out rc=0
    shift 2
    out=$(kubectl --token="${TOKEN:-$BOB}" "$@" 2>&1) || rc=$?
    if [[ $rc == 0 ]]; then kt_fail "$what: allowed: $out"; return; fi
    kt_eq "$what" "$out" "Error from server (Forbidden): $want"
}

forbidden "no binding: list namespaces" \
    'namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group "" at the cluster scope' \
    get namespaces
kt_eq "can-i without a binding" "$(as "$BOB" auth can-i list configmaps -n team-a || true)" no
kt_eq "masters may do anything" "$(as "$ADMIN" auth can-i '*' '*' --all-namespaces)" yes
code=$(curl -sS --cacert "$KL_CA" -o "$KL_DIR/403" -w '%{http_code}' -H "Authorization: Bearer $BOB" \
    "$KL_URL/apis/commissaire.io/v1alpha1/namespaces/team-a/hosts/h1")
kt_eq "403 Status" "$code $(jq -c '[.kind, .status, .reason, .code, .details]' "$KL_DIR/403")" \
    '403 ["Status","Failure","Forbidden",403,{"name":"h1","group":"commissaire.io","kind":"hosts"}]'
kt_eq "403 message" "$(jq -r .message "$KL_DIR/403")" \
    'hosts.commissaire.io "h1" is forbidden: User "bob" cannot get resource "hosts" in API group "commissaire.io" in the namespace "team-a"'

for ns in team-a team-b; do kubectl create namespace $ns >/dev/null; done
kubectl -n team-a create configmap c1 --from-literal=a=1 >/dev/null
kubectl -n team-b create configmap c1 --from-literal=a=1 >/dev/null
kubectl -n team-a create secret generic s1 --from-literal=a=1 >/dev/null
kubectl -n team-a create secret generic s2 --from-literal=a=1 >/dev/null
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cm-reader}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-cm, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cm-reader}
subjects: [{kind: User, name: bob}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: one-secret, namespace: team-a}
rules:
- {apiGroups: [""], resources: [secrets], resourceNames: [s1], verbs: [get]}
- {apiGroups: [commissaire.io], resources: [hosts/status], verbs: [get, patch]}
- {apiGroups: [commissaire.io], resources: [hosts], verbs: [create, get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-one-secret, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: one-secret}
subjects: [{kind: User, name: bob}, {kind: ServiceAccount, name: builder}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: devs-nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-reader}
subjects: [{kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: node-reader}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [list]}
YAML

# A RoleBinding grants in its own namespace only.
kt_eq "RoleBinding: list in its namespace" "$(as "$BOB" -n team-a get configmaps -o name)" configmap/c1
forbidden "RoleBinding: not in another namespace" \
    'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" in the namespace "team-b"' \
    -n team-b get configmaps
forbidden "verb not granted" \
    'configmaps "c1" is forbidden: User "bob" cannot delete resource "configmaps" in API group "" in the namespace "team-a"' \
    -n team-a delete configmap c1
kt_eq "can-i agrees" "$(as "$BOB" auth can-i get configmaps -n team-a) $(as "$BOB" auth can-i get configmaps -n team-b || true)" "yes no"

# resourceNames match only requests that name the object.
kt_eq "resourceNames: the named secret" "$(as "$BOB" -n team-a get secret s1 -o name)" secret/s1
forbidden "resourceNames: another secret" \
    'secrets "s2" is forbidden: User "bob" cannot get resource "secrets" in API group "" in the namespace "team-a"' \
    -n team-a get secret s2
forbidden "resourceNames: never a list" \
    'secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" in the namespace "team-a"' \
    -n team-a get secrets

# Subresources are resources of their own.
cat >"$KL_DIR/h1.yaml" <<'YAML'
apiVersion: commissaire.io/v1alpha1
kind: Host
metadata: {name: h1, namespace: team-a}
spec: {address: 192.0.2.1, sshKeySecretRef: {name: s1}}
YAML
as "$BOB" create -f "$KL_DIR/h1.yaml" >/dev/null && kt_pass || kt_fail "create host"
out=$(as "$BOB" -n team-a patch host h1 --subresource=status --type=merge -p '{"status":{"message":"x"}}') \
    && kt_pass || kt_fail "patch hosts/status: $out"
forbidden "the main resource is not the subresource" \
    'hosts.commissaire.io "h1" is forbidden: User "bob" cannot patch resource "hosts" in API group "commissaire.io" in the namespace "team-a"' \
    -n team-a patch host h1 --type=merge -p '{"spec":{"port":2222}}'

# Group and ServiceAccount subjects (the latter defaulting to the binding's namespace).
kt_eq "Group subject" "$(as "$CAROL" get nodes -o name | wc -l)" 0
forbidden "not in the group" \
    'nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope' get nodes
kt_eq "ServiceAccount subject" "$(as "$SA" -n team-a get secret s1 -o name)" secret/s1
TOKEN=$SA forbidden "ServiceAccount: only its grants" \
    'configmaps is forbidden: User "system:serviceaccount:team-a:builder" cannot list resource "configmaps" in API group "" in the namespace "team-a"' \
    -n team-a get configmaps

# Aggregated ClusterRoles take the rules of the roles they select.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-bits, labels: {agg: "yes"}}
rules:
- {apiGroups: [""], resources: [pods], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aggregate}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {agg: "yes"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-aggregate}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aggregate}
subjects: [{kind: User, name: bob}]
YAML
kt_eq "aggregated ClusterRole" "$(as "$BOB" get pods -A -o name | wc -l)" 0

# SubjectAccessReview: the same decision, asked by someone else.
# (curl: kubectl validates create-only kinds client-side against /openapi/v2, which kube-lite
# does not serve.)
sar() {
    kl_curl /apis/authorization.k8s.io/v1/subjectaccessreviews -X POST -H 'Content-Type: application/json' \
        --data-binary "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\",
 \"spec\":{\"user\":\"$1\",\"groups\":$2,\"resourceAttributes\":{\"namespace\":\"team-a\",\"verb\":\"get\",\"resource\":\"$3\",\"name\":\"$4\"}}}" |
        jq -c '.status'
}
kt_eq "SAR allowed" "$(sar bob '[]' secrets s1)" \
    '{"allowed":true,"reason":"RBAC: allowed by RoleBinding \"bob-one-secret\" of Role \"one-secret\" to User \"bob\""}'
kt_eq "SAR denied" "$(sar bob '[]' secrets s2)" '{"allowed":false}'
kt_eq "SAR by group" "$(sar nobody '["system:masters"]' secrets s2 | jq -r .allowed)" true
kt_summary
