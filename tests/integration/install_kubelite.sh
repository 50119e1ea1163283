#!/usr/bin/env bash
# install_kubelite.sh MODE REPO [CHART_RENDER]: install artefacts applied with the real kubectl
# to kube-lite (tests/integration/lib/kubelite.sh; KUBE_LITE names the binary).
#   crds       CRDs accepted; defaults applied; printer columns, short names and the category
#              work; every good case accepted and every bad case refused naming its field.
#   kustomize  kubectl apply -k manifests/ (twice: the second changes nothing), then the samples.
#   chart      the chart rendered with default and with non-default values applies cleanly,
#              each to a fresh kube-lite, and the objects stored are the rendered ones.
set -euo pipefail
mode=$1 repo=$2 render=${3:-}
export KL_REPO=$repo
# shellcheck source=lib/kubelite.sh
. "$repo/tests/integration/lib/kubelite.sh"
tmp=$(mktemp -d)
cleanup() {
    local rc=$?
    kl_stop || rc=1
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Lines of a repeated `kubectl apply` that report a change. A PodDisruptionBudget is always
# "configured": its spec.selector has patchStrategy "replace", so kubectl's computed patch is
# never empty (the same on a real cluster).
changed_lines() { grep -v ' unchanged$' "$1" | grep -v '^poddisruptionbudget.policy/.* configured$' || true; }
cases=$repo/tests/integration/install_crd_cases
ns=commissaire

kl_start

case $mode in
crds)
    kl_apply_crds
    kubectl create namespace "$ns" >/dev/null
    # One kubectl call per directory (each call pays discovery); errors are matched per object.
    kubectl apply -n "$ns" -f "$cases/good/" >/dev/null 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; fail "a good case was refused"; }
    if kubectl apply -n "$ns" -f "$cases/bad/" >"$tmp/out" 2>"$tmp/err"; then
        fail "every bad case was accepted"
    fi
    [[ -s $tmp/out ]] && { cat "$tmp/out" >&2; fail "bad cases accepted (above)"; }
    n=0
    for f in "$cases"/bad/*.yaml; do
        want=$(sed -n 's/^# expect: //p' "$f")
        name=$(sed -n 's/^  name: //p' "$f" | head -n1)
        line=$(grep -F "\"$name\" is invalid" "$tmp/err" || true)
        [[ -n $line ]] || { cat "$tmp/err" >&2; fail "$(basename "$f"): not refused as invalid"; }
        grep -qF -- "$want" <<<"$line" ||
            { echo "$line" >&2; fail "$(basename "$f"): error does not name '$want'"; }
        n=$((n + 1))
    done
    echo "crds: $n bad cases refused with their field named"
    # The messages operators see for the cases issue 5 names.
    kubectl apply -n "$ns" -f "$cases/bad/op-maxunavailable-150.yaml" 2>&1 | tee "$tmp/m" >/dev/null || true
    grep -q "spec.maxUnavailable" "$tmp/m" && grep -q "should match" "$tmp/m" ||
        { cat "$tmp/m" >&2; fail "maxUnavailable 150% message"; }
    kubectl apply -n "$ns" -f "$cases/bad/host-port-70000.yaml" 2>&1 | tee "$tmp/m" >/dev/null || true
    grep -q "spec.port: Invalid value: 70000" "$tmp/m" || { cat "$tmp/m" >&2; fail "port message"; }
    # Defaults filled by the server.
    h=192.168.150.10
    got=$(kubectl get host "$h" -n "$ns" -o jsonpath='{.spec.port} {.spec.remoteUser} {.spec.sshKeySecretRef.key} {.spec.cleanupOnDelete}')
    [[ $got == "22 root ssh-privatekey false" ]] || fail "Host defaults: '$got'"
    got=$(kubectl get operation restart-half -n "$ns" -o jsonpath='{.spec.maxUnavailable} {.spec.failurePolicy} {.spec.drainTimeout} {.spec.hostTimeout} {.spec.maxFailures} {.spec.paused} {.spec.cancel}')
    [[ $got == "50% Abort 5m 15m 0 false false" ]] || fail "Operation defaults: '$got'"
    got=$(kubectl get cluster empty -n "$ns" -o jsonpath='{.spec.network}')
    [[ $got == default ]] || fail "Cluster default network: '$got'"
    got=$(kubectl get network flannel-server -n "$ns" -o jsonpath='{.spec.options.address}')
    [[ $got == 10.0.0.1:8080 ]] || fail "Network options not preserved: '$got'"
    # Unknown fields: refused under kubectl's default strict field validation, pruned without it,
    # as on a real server.
    printf '%s\n' 'apiVersion: commissaire.io/v1alpha1' 'kind: Cluster' 'metadata: {name: pruned}' \
        'spec: {network: default, bogusField: 1}' >"$tmp/pruned.yaml"
    if kubectl apply -n "$ns" -f "$tmp/pruned.yaml" >/dev/null 2>"$tmp/err"; then
        fail "unknown field accepted under strict validation"
    fi
    grep -q 'unknown field "spec.bogusField"' "$tmp/err" || { cat "$tmp/err" >&2; fail "strict message"; }
    kubectl apply --validate=false -n "$ns" -f "$tmp/pruned.yaml" >/dev/null
    got=$(kubectl get cluster pruned -n "$ns" -o jsonpath='{.spec}')
    [[ $got != *bogusField* ]] || fail "unknown field kept: $got"
    # Printer columns, short names and the category.
    kubectl get hst -n "$ns" >"$tmp/hosts"
    head -n1 "$tmp/hosts" | grep -E '^NAME +ADDRESS +CLUSTER +STATUS +OS +AGE$' >/dev/null ||
        { cat "$tmp/hosts" >&2; fail "Host printer columns"; }
    grep -qE '^node1.example.com +node1.example.com +prod ' "$tmp/hosts" || fail "Host row"
    # (Captured to files first: `kubectl | head` would die of SIGPIPE under pipefail.)
    header() { kubectl get "$1" -n "$ns" >"$tmp/get" && head -n1 "$tmp/get"; }
    header cop | grep -E '^NAME +CLUSTER +TYPE +PHASE +DONE +TOTAL +AGE$' >/dev/null ||
        fail "Operation printer columns"
    header ccl | grep -E '^NAME +STATUS +HOSTS +AVAILABLE +AGE$' >/dev/null || fail "Cluster printer columns"
    header cnet | grep -E '^NAME +TYPE +AGE$' >/dev/null || fail "Network printer columns"
    header ccm | grep -E '^NAME +TYPE +SERVER +AGE$' >/dev/null || fail "ContainerManager printer columns"
    kubectl get commissaire -n "$ns" -o name | sort >"$tmp/all"
    for want in host.commissaire.io/node1.example.com cluster.commissaire.io/empty \
        operation.commissaire.io/deploy-7-1 network.commissaire.io/flannel-server \
        containermanager.commissaire.io/trivial; do
        grep -qx "$want" "$tmp/all" || { cat "$tmp/all" >&2; fail "category lacks $want"; }
    done
    # Status is a subresource: a spec update does not change it, and it validates.
    kubectl patch host "$h" -n "$ns" --subresource=status --type=merge \
        -p '{"status":{"phase":"active","os":"fedora","cpus":2}}' >/dev/null
    got=$(kubectl get host "$h" -n "$ns" -o jsonpath='{.status.phase} {.status.os}')
    [[ $got == "active fedora" ]] || fail "status subresource write: '$got'"
    if kubectl patch host "$h" -n "$ns" --subresource=status --type=merge \
        -p '{"status":{"phase":"sleeping"}}' >/dev/null 2>"$tmp/err"; then
        fail "status phase outside the enum accepted"
    fi
    grep -q "status.phase" "$tmp/err" || { cat "$tmp/err" >&2; fail "status enum message"; }
    kubectl patch host "$h" -n "$ns" --type=merge -p '{"status":{"phase":"failed"},"spec":{"port":2200}}' >/dev/null
    got=$(kubectl get host "$h" -n "$ns" -o jsonpath='{.status.phase} {.spec.port}')
    [[ $got == "active 2200" ]] || fail "main resource update changed status: '$got'"
    echo "crds: ok"
    ;;
kustomize)
    kubectl kustomize "$repo/manifests" >"$tmp/all.yaml"
    kubectl apply -k "$repo/manifests" >"$tmp/out1"
    kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
    kubectl apply -k "$repo/manifests" >"$tmp/out2"
    if [[ -n $(changed_lines "$tmp/out2") ]]; then
        cat "$tmp/out2" >&2
        fail "second apply -k changed something"
    fi
    [[ $(wc -l <"$tmp/out1") -eq $(grep -c '^kind:' "$tmp/all.yaml") ]] ||
        fail "apply -k did not create every object"
    for obj in namespace/commissaire deployment/commissaire-controller deployment/commissaire-shim \
        service/commissaire-shim serviceaccount/commissaire-controller role/commissaire-shim \
        rolebinding/commissaire-controller configmap/commissaire-os-profiles; do
        kubectl get -n "$ns" "$obj" -o name >/dev/null || fail "$obj missing"
    done
    kubectl get clusterrole commissaire-controller -o jsonpath='{.rules[*].resources}' | grep eviction >/dev/null ||
        fail "ClusterRole rules not stored"
    got=$(kubectl get -n "$ns" deploy commissaire-controller -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].args}')
    [[ $got == *'2 '*'--leader-elect'* ]] || fail "controller deployment: $got"
    # The samples as written.
    kubectl apply -k "$repo/manifests/samples" >"$tmp/samples"
    for obj in network/sample-network containermanager/sample-trivial cluster/sample \
        secret/sample-ssh-key host/192.168.122.11 host/192.168.122.12 operation/restart-sample; do
        kubectl get -n "$ns" "$obj" -o name >/dev/null || fail "sample $obj missing"
    done
    got=$(kubectl get -n "$ns" host 192.168.122.12 -o jsonpath='{.spec.port} {.spec.remoteUser}')
    [[ $got == "22 root" ]] || fail "sample host defaults: $got"
    echo "kustomize: ok"
    ;;
chart)
    [[ -x $render ]] || fail "chart-render not built"
    apply_chart() { # name values-args...
        local name=$1
        shift
        "$render" commissaire "$repo/charts/commissaire" --namespace "$ns" "$@" >"$tmp/$name.yaml"
        kubectl create namespace "$ns" >/dev/null
        # CRDs first (helm install does the same), then the rest.
        kubectl apply -f "$tmp/$name.yaml" >"$tmp/$name.out" 2>"$tmp/$name.err" || {
            # A first apply may race the CRD's establishment for kinds it defines.
            kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
            kubectl apply -f "$tmp/$name.yaml" >"$tmp/$name.out" 2>"$tmp/$name.err" ||
                { cat "$tmp/$name.err" >&2; fail "$name: chart output does not apply"; }
        }
        [[ $(wc -l <"$tmp/$name.out") -eq $(grep -c '^kind:' "$tmp/$name.yaml") ]] ||
            { cat "$tmp/$name.out" >&2; fail "$name: not every object was applied"; }
        kubectl apply -f "$tmp/$name.yaml" >"$tmp/$name.out2"
        if [[ -n $(changed_lines "$tmp/$name.out2") ]]; then
            cat "$tmp/$name.out2" >&2
            fail "$name: re-applying changed something"
        fi
    }
    apply_chart default
    got=$(kubectl get -n "$ns" deploy commissaire-controller -o jsonpath='{.spec.replicas}')
    [[ $got == 2 ]] || fail "default: controller replicas $got"
    kubectl get -n "$ns" secret commissaire-shim-auth >/dev/null 2>&1 &&
        fail "default values must not create the auth Secret"
    if [[ $KL_REAL == 1 ]]; then
        echo "chart: real cluster in use: non-default values are applied only to kube-lite"
        exit 0
    fi
    # A fresh kube-lite for the non-default values.
    kl_stop
    unset KUBECONFIG
    kl_start
    kubectl apply -f "$repo/tests/integration/install_fixtures/servicemonitor-crd.yaml" >/dev/null
    kubectl wait --for=condition=Established crd/servicemonitors.monitoring.coreos.com --timeout=60s >/dev/null
    apply_chart custom -f "$repo/tests/integration/install_fixtures/values-custom.yaml"
    got=$(kubectl get -n "$ns" secret custom-auth -o jsonpath='{.data.commissaire\.conf}' | base64 -d)
    [[ $got == *httpauthclientcert* ]] || fail "custom: auth secret content: $got"
    got=$(kubectl get -n "$ns" servicemonitor commissaire-controller -o jsonpath='{.spec.endpoints[0].interval}')
    [[ $got == 15s ]] || fail "custom: ServiceMonitor: $got"
    got=$(kubectl get -n "$ns" deploy commissaire-shim -o jsonpath='{.spec.replicas} {.spec.template.spec.tolerations[0].key}')
    [[ $got == "2 dedicated" ]] || fail "custom: shim deployment: $got"
    echo "chart: ok"
    ;;
*)
    fail "unknown mode $mode"
    ;;
esac
