#!/usr/bin/env bash
# Conformance of API semantics: the same assertions against kube-lite (default) and, when
# KUBECONFIG is set before the test starts, against that (real) cluster. Every request goes
# through `kubectl proxy`, so both see identical HTTP. Covers: NotFound/AlreadyExists/Conflict
# wording, namespaces required for namespaced creates, custom resource validation (422 with
# causes), pruning and defaulting, generation rules and the status subresource, optimistic
# concurrency, watch from a resourceVersion, watch with selectors (DELETED on leaving the
# selection), 410 Expired, finalizers and deletionTimestamp, ownerReferences garbage collection
# (background and orphan), label and field selectors, limit/continue pagination, deletecollection,
# namespace deletion.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib/kubelite.sh"
source "$here/../integration/kubelite_assert.sh"

cleanup() {
    if [[ "${KL_REAL:-0}" == 1 ]]; then
        kubectl delete ns "$NS" --wait=false >/dev/null 2>&1 || true
        kubectl delete crd widgets.klconf.example.com --wait=false >/dev/null 2>&1 || true
    fi
    kt_cleanup
    kl_stop || exit 1
}
trap cleanup EXIT
kl_start --bookmark-interval 1
kt_proxy_start
NS=klconf-$$-$RANDOM
GV=/apis/klconf.example.com/v1
CM=/api/v1/namespaces/$NS/configmaps
W=$GV/namespaces/$NS/widgets

# ---- setup: namespace and CRD ----
kt_api POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}"
kt_expect 201
kt_eq "namespace phase" "$(kt_jq .status.phase)" Active
cat >"$KL_DIR/crd.json" <<'JSON'
{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
 "metadata":{"name":"widgets.klconf.example.com"},
 "spec":{"group":"klconf.example.com","scope":"Namespaced",
  "names":{"plural":"widgets","singular":"widget","kind":"Widget","shortNames":["wdg"]},
  "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
   "additionalPrinterColumns":[{"name":"Color","type":"string","jsonPath":".spec.color"}],
   "schema":{"openAPIV3Schema":{"type":"object","properties":{
     "spec":{"type":"object","required":["color"],"properties":{
       "color":{"type":"string","enum":["red","blue"]},
       "size":{"type":"integer","minimum":1,"maximum":10,"default":3},
       "tags":{"type":"array","maxItems":2,"items":{"type":"string"}}}},
     "status":{"type":"object","properties":{"phase":{"type":"string"}}}}}}}]}}
JSON
kt_api POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$(cat "$KL_DIR/crd.json")"
kt_expect 201
established() {
    kt_api GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.klconf.example.com
    [[ "$(kt_jq '.status.conditions[]? | select(.type=="Established") | .status')" == True ]]
}
kt_retry 30 established || kt_fail "CRD not Established"
served() {
    kt_api GET "$W"
    [[ "$KT_CODE" == 200 ]]
}
kt_retry 30 served || kt_fail "widgets not served: $KT_CODE"
kt_api GET $GV
kt_expect 200
kt_eq "discovery lists widgets" "$(kt_jq '[.resources[].name] | index("widgets") != null')" true
kt_eq "discovery lists widgets/status" "$(kt_jq '[.resources[].name] | index("widgets/status") != null')" true
kt_eq "discovery shortNames" "$(kt_jq '.resources[] | select(.name=="widgets") | .shortNames[0]')" wdg

# ---- NotFound / AlreadyExists / namespace required ----
kt_api GET "$CM/missing"
kt_expect 404
kt_eq "NotFound reason" "$(kt_jq .reason)" NotFound
kt_eq "NotFound message" "$(kt_jq .message)" 'configmaps "missing" not found'
kt_eq "NotFound details.kind" "$(kt_jq .details.kind)" configmaps
kt_api GET "$W/missing"
kt_expect 404
kt_eq "CR NotFound message" "$(kt_jq .message)" 'widgets.klconf.example.com "missing" not found'
kt_eq "CR NotFound details.group" "$(kt_jq .details.group)" klconf.example.com
kt_api POST "/api/v1/namespaces/nope-$NS/configmaps" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}'
kt_expect 404
kt_eq "namespace required" "$(kt_jq .message)" "namespaces \"nope-$NS\" not found"
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","labels":{"tier":"a","app":"x"}},"data":{"k":"v"}}'
kt_expect 201
kt_eq "resourceVersion set" "$(kt_jq '.metadata.resourceVersion | test("^[0-9]+$")')" true
kt_eq "uid set" "$(kt_jq '.metadata.uid | length > 0')" true
kt_eq "creationTimestamp set" "$(kt_jq '.metadata.creationTimestamp | test("Z$")')" true
RV1=$(kt_jq .metadata.resourceVersion)
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1"}}'
kt_expect 409
kt_eq "AlreadyExists reason" "$(kt_jq .reason)" AlreadyExists
kt_eq "AlreadyExists message" "$(kt_jq .message)" 'configmaps "c1" already exists'
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}'
kt_expect 422
kt_eq "invalid name reason" "$(kt_jq .reason)" Invalid
kt_eq "invalid name field" "$(kt_jq '.details.causes[0].field')" metadata.name
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"gen-"}}'
kt_expect 201
kt_eq "generateName" "$(kt_jq '.metadata.name | test("^gen-[a-z0-9]{5}$")')" true

# ---- optimistic concurrency ----
kt_api GET "$CM/c1"
body=$(kt_jq '.data.k="v2"')
kt_api PUT "$CM/c1" "$body"
kt_expect 200
RV2=$(kt_jq .metadata.resourceVersion)
[[ "$RV2" != "$RV1" ]] && kt_pass || kt_fail "resourceVersion did not change on update"
kt_api PUT "$CM/c1" "$(jq -c '.data.k="stale"' <<<"$body")"
kt_expect 409
kt_eq "Conflict reason" "$(kt_jq .reason)" Conflict
kt_eq "Conflict message" "$(kt_jq .message)" 'Operation cannot be fulfilled on configmaps "c1": the object has been modified; please apply your changes to the latest version and try again'
kt_api GET "$CM/c1"
same=$(kt_jq .)
kt_api PUT "$CM/c1" "$same"
kt_expect 200
kt_eq "no-op update keeps resourceVersion" "$(kt_jq .metadata.resourceVersion)" "$RV2"

# ---- custom resources: validation, pruning, defaulting ----
kt_api POST "$W" '{"apiVersion":"klconf.example.com/v1","kind":"Widget","metadata":{"name":"w-bad"},"spec":{"size":"big","tags":["a","b","c"]}}'
kt_expect 422
kt_eq "CR invalid reason" "$(kt_jq .reason)" Invalid
kt_eq "CR invalid details.kind" "$(kt_jq .details.kind)" Widget
fields=$(kt_jq '[.details.causes[].field] | sort | join(",")')
kt_eq "CR invalid fields" "$fields" "spec.color,spec.size,spec.tags"
kt_eq "CR invalid message prefix" "$(kt_jq '.message | startswith("Widget.klconf.example.com \"w-bad\" is invalid: [")')" true
kt_api POST "$W" '{"apiVersion":"klconf.example.com/v1","kind":"Widget","metadata":{"name":"w-one"},"spec":{}}'
kt_expect 422
kt_eq "CR single cause message" "$(kt_jq .message)" 'Widget.klconf.example.com "w-one" is invalid: spec.color: Required value'
kt_api POST "$W" '{"apiVersion":"klconf.example.com/v1","kind":"Widget","metadata":{"name":"w-enum"},"spec":{"color":"green"}}'
kt_expect 422
kt_eq "enum cause" "$(kt_jq '.details.causes[0].reason')" FieldValueNotSupported
kt_api POST "$W" '{"apiVersion":"klconf.example.com/v1","kind":"Widget","metadata":{"name":"w1","labels":{"team":"a"}},"spec":{"color":"red","extra":1},"junk":true,"status":{"phase":"ignored"}}'
kt_expect 201
kt_eq "pruned spec field" "$(kt_jq '.spec | has("extra")')" false
kt_eq "pruned root field" "$(kt_jq 'has("junk")')" false
kt_eq "defaulted size" "$(kt_jq .spec.size)" 3
kt_eq "status dropped on create" "$(kt_jq 'has("status")')" false
kt_eq "generation 1" "$(kt_jq .metadata.generation)" 1

# ---- generation and the status subresource ----
kt_api GET "$W/w1"
obj=$(kt_jq .)
kt_api PUT "$W/w1/status" "$(jq -c '.status={"phase":"Ready"} | .spec.color="blue"' <<<"$obj")"
kt_expect 200
kt_eq "status written via /status" "$(kt_jq .status.phase)" Ready
kt_eq "spec ignored via /status" "$(kt_jq .spec.color)" red
kt_eq "status write keeps generation" "$(kt_jq .metadata.generation)" 1
obj=$(kt_jq .)
kt_api PUT "$W/w1" "$(jq -c '.spec.color="blue" | .status.phase="Hacked"' <<<"$obj")"
kt_expect 200
kt_eq "spec change bumps generation" "$(kt_jq .metadata.generation)" 2
kt_eq "status ignored on main resource" "$(kt_jq .status.phase)" Ready
obj=$(kt_jq .)
kt_api PUT "$W/w1" "$(jq -c '.metadata.labels.extra="yes"' <<<"$obj")"
kt_expect 200
kt_eq "metadata change keeps generation" "$(kt_jq .metadata.generation)" 2
kt_api PATCH "$W/w1" '{"spec":{"size":7}}' application/merge-patch+json
kt_expect 200
kt_eq "merge patch" "$(kt_jq .spec.size)" 7
kt_eq "patch bumps generation" "$(kt_jq .metadata.generation)" 3
kt_api PATCH "$W/w1" '[{"op":"replace","path":"/spec/size","value":8},{"op":"test","path":"/spec/color","value":"blue"}]' application/json-patch+json
kt_expect 200
kt_eq "json patch" "$(kt_jq .spec.size)" 8
kt_api PATCH "$W/w1" '{"spec":{"size":11}}' application/merge-patch+json
kt_expect 422
kt_api PATCH "$W/w1" '{"spec":{"size":2}}' application/strategic-merge-patch+json
kt_expect 415
kt_api PATCH "$W/w1/status" '{"status":{"phase":"Done"}}' application/merge-patch+json
kt_expect 200
kt_eq "status merge patch" "$(kt_jq .status.phase)" Done

# ---- watch from a resourceVersion ----
kt_api GET "$CM?labelSelector=wt%3Dyes"
WRV=$(kt_jq .metadata.resourceVersion)
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"wa","labels":{"wt":"yes"}}}'
kt_api PATCH "$CM/wa" '{"data":{"x":"1"}}' application/merge-patch+json
kt_api PATCH "$CM/wa" '{"metadata":{"labels":{"wt":"no"}}}' application/merge-patch+json
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"wb","labels":{"wt":"yes"}}}'
kt_api DELETE "$CM/wb"
events=$(curl -sS -N "$KT_PROXY$CM?watch=1&resourceVersion=$WRV&labelSelector=wt%3Dyes&timeoutSeconds=2" | jq -r '"\(.type) \(.object.metadata.name)"' | tr '\n' ' ')
kt_eq "watch events with selector" "$events" "ADDED wa MODIFIED wa DELETED wa ADDED wb DELETED wb "
events=$(curl -sS -N "$KT_PROXY$CM?watch=1&resourceVersion=$WRV&fieldSelector=metadata.name%3Dwa&timeoutSeconds=2" | jq -r '.type' | tr '\n' ' ')
kt_eq "watch with field selector" "$events" "ADDED MODIFIED MODIFIED "
start=$SECONDS
curl -sS -N "$KT_PROXY$CM?watch=1&timeoutSeconds=1&labelSelector=none%3Dnone" >/dev/null
((SECONDS - start <= 10)) && kt_pass || kt_fail "timeoutSeconds not honoured"
# An old resourceVersion: 410 Gone (Expired), as an HTTP status or an ERROR event.
out=$(curl -sS -N -w '\n%{http_code}' "$KT_PROXY$CM?watch=1&resourceVersion=1&timeoutSeconds=2")
code=${out##*$'\n'}
if [[ $code == 410 ]] || jq -e 'select(.type=="ERROR") | .object.code == 410 and .object.reason == "Expired"' <<<"${out%$'\n'*}" >/dev/null 2>&1; then
    kt_pass
else
    kt_fail "watch from resourceVersion 1 did not give 410: ${out:0:300}"
fi

# ---- finalizers and deletionTimestamp ----
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fin","finalizers":["example.com/hold"]}}'
kt_expect 201
kt_api DELETE "$CM/fin"
kt_expect 200
kt_api GET "$CM/fin"
kt_expect 200
kt_eq "deletionTimestamp set" "$(kt_jq '.metadata.deletionTimestamp != null')" true
kt_api PATCH "$CM/fin" '{"metadata":{"finalizers":["example.com/hold","example.com/new"]}}' application/merge-patch+json
kt_expect 422
kt_api PATCH "$CM/fin" '{"metadata":{"finalizers":null}}' application/merge-patch+json
kt_expect 200
kt_api GET "$CM/fin"
kt_expect 404

# ---- garbage collection ----
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner"}}'
OUID=$(kt_jq .metadata.uid)
kt_api POST "$CM" "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"dep\",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"$OUID\"}]}}"
kt_expect 201
kt_api DELETE "$CM/owner"
kt_expect 200
gone() {
    kt_api GET "$CM/$1"
    [[ $KT_CODE == 404 ]]
}
kt_retry 30 gone dep && kt_pass || kt_fail "dependent not garbage collected"
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner2"}}'
OUID=$(kt_jq .metadata.uid)
kt_api POST "$CM" "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"dep2\",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner2\",\"uid\":\"$OUID\"}]}}"
kt_api DELETE "$CM/owner2" '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Orphan"}'
kt_expect 200
kt_retry 30 gone owner2 && kt_pass || kt_fail "orphaning owner not deleted"
kt_api GET "$CM/dep2"
kt_expect 200
kt_eq "orphan keeps dependent without ownerReferences" "$(kt_jq '.metadata.ownerReferences // [] | length')" 0

kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner3"}}'
OUID=$(kt_jq .metadata.uid)
kt_api POST "$CM" "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"dep3\",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner3\",\"uid\":\"$OUID\",\"blockOwnerDeletion\":true}]}}"
kt_api DELETE "$CM/owner3" '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}'
kt_expect 200
kt_eq "foreground deletion marks the owner" "$(kt_jq '(.metadata.finalizers | index("foregroundDeletion") != null) and .metadata.deletionTimestamp != null')" true
kt_retry 30 gone dep3 && kt_pass || kt_fail "foreground: dependent not deleted"
kt_retry 30 gone owner3 && kt_pass || kt_fail "foreground: owner not deleted after its dependents"

# ---- label and field selectors ----
for n in s1:a s2:b s3:c; do
    kt_api POST "$CM" "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"${n%%:*}\",\"labels\":{\"grp\":\"g\",\"sel\":\"${n##*:}\"}}}"
done
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s4","labels":{"grp":"g","other":"x"}}}'
names() {
    kt_api GET "$CM?$1"
    kt_jq '[.items[].metadata.name] | sort | join(",")'
}
kt_eq "selector =" "$(names 'labelSelector=sel%3Da')" s1
kt_eq "selector ==" "$(names 'labelSelector=sel%3D%3Db')" s2
kt_eq "selector !=" "$(names 'labelSelector=grp,sel!%3Da')" s2,s3,s4
kt_eq "selector in" "$(names 'labelSelector=sel+in+(a,c)')" s1,s3
kt_eq "selector notin" "$(names 'labelSelector=grp,sel+notin+(a,c)')" s2,s4
kt_eq "selector exists" "$(names 'labelSelector=grp,other')" s4
kt_eq "selector !exists" "$(names 'labelSelector=grp%3Dg,!sel')" s4
kt_eq "field selector metadata.name" "$(names 'fieldSelector=metadata.name%3Ds2')" s2
kt_eq "field selector !=" "$(names 'labelSelector=sel&fieldSelector=metadata.name!%3Ds2')" s1,s3
kt_eq "field selector metadata.namespace" "$(names "labelSelector=grp&fieldSelector=metadata.namespace%3D$NS")" s1,s2,s3,s4
kt_api GET "$CM?fieldSelector=spec.nope%3Dx"
kt_expect 400
kt_api GET "$CM?labelSelector=a+b+c"
kt_expect 400

# ---- bookmarks (kube-lite runs with --bookmark-interval 1; real servers send them about once a
# minute, so this part runs on kube-lite only) ----
if [[ "${KL_REAL:-0}" != 1 ]]; then
    out=$(curl -sS -N "$KT_PROXY$CM?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&labelSelector=none%3Dnone")
    kt_eq "periodic BOOKMARK" "$(jq -r 'select(.type=="BOOKMARK") | .object.metadata.resourceVersion | test("^[0-9]+$")' <<<"$out" | head -n1)" true
    kt_eq "BOOKMARK kind" "$(jq -r 'select(.type=="BOOKMARK") | .object.kind' <<<"$out" | head -n1)" ConfigMap
    out=$(curl -sS -N "$KT_PROXY$CM?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2&labelSelector=grp")
    kt_eq "initial events then the end bookmark" \
        "$(jq -r '.type + ":" + (.object.metadata.name // .object.metadata.annotations["k8s.io/initial-events-end"])' <<<"$out" | head -n5 | tr '\n' ' ')" \
        "ADDED:s1 ADDED:s2 ADDED:s3 ADDED:s4 BOOKMARK:true "
fi

# ---- pagination ----
kt_api GET "$CM"
total=$(kt_jq '.items | length')
kt_api GET "$CM?limit=2"
kt_expect 200
kt_eq "page size" "$(kt_jq '.items | length')" 2
kt_eq "remainingItemCount" "$(kt_jq .metadata.remainingItemCount)" $((total - 2))
kt_api GET "$CM?labelSelector=grp&limit=3"
kt_expect 200
CONT=$(kt_jq .metadata.continue)
p1=$(kt_jq '[.items[].metadata.name] | join(",")')
kt_api GET "$CM?labelSelector=grp&limit=3&continue=$CONT"
kt_expect 200
p2=$(kt_jq '[.items[].metadata.name] | join(",")')
kt_eq "pages" "$p1/$p2" "s1,s2,s3/s4"
kt_eq "last page has no continue" "$(kt_jq '.metadata.continue // ""')" ""
kt_api GET "$CM?limit=2&continue=garbage"
kt_expect 400

# ---- deletecollection ----
kt_api DELETE "$CM?labelSelector=grp"
kt_expect 200
kt_eq "deletecollection" "$(names 'labelSelector=grp')" ""

# ---- namespace deletion (a finalizer keeps it Terminating until released) ----
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hold","finalizers":["example.com/hold"]}}'
kt_expect 201
kt_api DELETE "/api/v1/namespaces/$NS"
kt_expect 200
kt_eq "namespace Terminating" "$(kt_jq .status.phase)" Terminating
kt_api POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"late"}}'
kt_expect 403
kt_eq "terminating namespace reason" "$(kt_jq .reason)" Forbidden
held_deleting() {
    kt_api GET "$CM/hold"
    [[ "$(kt_jq '.metadata.deletionTimestamp != null')" == true ]]
}
kt_retry 30 held_deleting && kt_pass || kt_fail "namespace content not being deleted"
kt_api GET "/api/v1/namespaces/$NS"
kt_eq "namespace waits for content" "$(kt_jq .status.phase)" Terminating
kt_api PATCH "$CM/hold" '{"metadata":{"finalizers":null}}' application/merge-patch+json
kt_expect 200
ns_gone() {
    kt_api GET "/api/v1/namespaces/$NS"
    [[ $KT_CODE == 404 ]]
}
kt_retry 60 ns_gone && kt_pass || kt_fail "namespace not deleted"
kt_api DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.klconf.example.com
kt_expect 200
crd_gone() {
    kt_api GET "$GV"
    [[ $KT_CODE == 404 ]]
}
kt_retry 60 crd_gone && kt_pass || kt_fail "CRD group still served after deletion"

kt_summary
