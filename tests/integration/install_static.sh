#!/usr/bin/env bash
# install_static.sh CHECK REPO [CHART_RENDER]: install artefact checks that need no API server.
#   crds-identical      charts/commissaire/crds/ holds exactly the files of crds/ (kustomization
#                       aside), byte for byte.
#   chart-vs-kustomize  the chart (default values) renders the same objects as manifests/ where
#                       they should agree; a deliberately altered rendering is caught.
#   chart-values        non-default values take effect; invalid values are refused by
#                       values.schema.json or the templates' own checks.
#   containerfile       Containerfile: multi-stage, bookworm, runtime libraries only, non-root.
set -euo pipefail
check=$1 repo=$2 render=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

case $check in
crds-identical)
    a=$(cd "$repo/crds" && ls *.yaml | grep -v '^kustomization.yaml$')
    b=$(cd "$repo/charts/commissaire/crds" && ls)
    [[ "$a" == "$b" ]] || fail "file lists differ: crds/ [$a] vs chart [$b]"
    for f in $a; do
        cmp -s "$repo/crds/$f" "$repo/charts/commissaire/crds/$f" ||
            fail "charts/commissaire/crds/$f differs from crds/$f (copy crds/*.yaml into the chart)"
    done
    echo "crds-identical: $(echo "$a" | wc -l) CRDs identical"
    ;;
chart-vs-kustomize)
    kubectl kustomize "$repo/manifests" >"$tmp/kustomize.yaml"
    "$render" commissaire "$repo/charts/commissaire" --namespace commissaire >"$tmp/chart.yaml"
    python3 "$repo/tests/integration/install_compare.py" "$tmp/kustomize.yaml" "$tmp/chart.yaml"
    # The comparison must notice a difference in container args and in RBAC verbs.
    sed 's/- --leader-elect$/- --leader-elected/' "$tmp/chart.yaml" >"$tmp/bad1.yaml"
    if python3 "$repo/tests/integration/install_compare.py" "$tmp/kustomize.yaml" \
        "$tmp/bad1.yaml" 2>/dev/null; then
        fail "comparison missed an altered container argument"
    fi
    sed '0,/verbs: \["get", "list", "watch", "update", "patch"\]/s//verbs: ["get", "list", "watch", "update", "patch", "delete"]/' \
        "$tmp/chart.yaml" >"$tmp/bad2.yaml"
    cmp -s "$tmp/chart.yaml" "$tmp/bad2.yaml" && fail "test setup: RBAC mutation did not apply"
    if python3 "$repo/tests/integration/install_compare.py" "$tmp/kustomize.yaml" \
        "$tmp/bad2.yaml" 2>/dev/null; then
        fail "comparison missed an extra RBAC verb"
    fi
    ;;
chart-values)
    chart=$repo/charts/commissaire
    "$render" commissaire "$chart" -n commissaire \
        -f "$repo/tests/integration/install_fixtures/values-custom.yaml" >"$tmp/custom.yaml"
    python3 "$repo/tests/integration/install_check_values.py" custom "$tmp/custom.yaml"
    "$render" commissaire "$chart" -n commissaire --set shim.enabled=false >"$tmp/noshim.yaml"
    python3 "$repo/tests/integration/install_check_values.py" noshim "$tmp/noshim.yaml"
    # ServiceMonitors for both binaries when the shim does not require client certificates.
    [[ $("$render" commissaire "$chart" --set metrics.serviceMonitor.enabled=true |
        grep -c '^kind: ServiceMonitor$') == 2 ]] || fail "two ServiceMonitors expected"
    # A release with another name gets prefixed names and a matching ServiceAccount binding.
    "$render" prod "$chart" -n ops >"$tmp/prod.yaml"
    grep -q '^  name: prod-commissaire-controller$' "$tmp/prod.yaml" || fail "release name prefix"
    grep -q 'namespace: ops' "$tmp/prod.yaml" || fail "release namespace"
    # Invalid values: refused with a message naming the field.
    expect_refused() {
        local want=$1
        shift
        if "$render" commissaire "$chart" "$@" >/dev/null 2>"$tmp/err"; then
            fail "values accepted: $*"
        fi
        grep -qF -- "$want" "$tmp/err" || { cat "$tmp/err" >&2; fail "no '$want' for: $*"; }
    }
    expect_refused "controller.replicas: Invalid type" --set controller.replicas=two
    expect_refused "shim.port: Must be less than or equal to 65535" --set shim.port=70000
    expect_refused "Additional property replicas is not allowed" --set replicas=3
    expect_refused "image.pullPolicy: must be one of the following" --set image.pullPolicy=Sometimes
    expect_refused "shim.auth.users.bob: Does not match pattern" --set shim.auth.users.bob=plaintext
    expect_refused "controller.replicas must be 1 when controller.leaderElection.enabled is false" \
        --set controller.leaderElection.enabled=false
    expect_refused "shim.tls.certificate (PEM certificate and key) is required" \
        --set shim.tls.create=true
    # NOTES.txt renders (Helm prints it after install).
    "$render" commissaire "$chart" -n commissaire --notes | grep 'kubectl -n commissaire get commissaire' >/dev/null ||
        fail "NOTES.txt did not render"
    echo "chart-values: ok"
    ;;
containerfile)
    cf=$repo/Containerfile
    [[ -f $cf ]] || fail "no Containerfile"
    [[ $(grep -c '^FROM ' "$cf") -ge 2 ]] || fail "not multi-stage"
    grep -q '^FROM docker.io/library/debian:bookworm' "$cf" || fail "not Debian bookworm based"
    final=$(awk '/^FROM /{s=""} {s=s $0 "\n"} END{printf "%s", s}' "$cf")
    for lib in libcurl4 libjansson4 libyaml-0-2 libssh-4 libssl3 libwebsockets17 libcrypt1; do
        grep -q -- "$lib" <<<"$final" || fail "final stage lacks $lib"
    done
    if grep -E -- '-dev\b|cmake|gcc|clang|make ' <<<"$final" | grep -v '^#' | grep . >/dev/null; then
        fail "final stage installs build tools or -dev packages"
    fi
    grep -q '^USER 65532:65532' <<<"$final" || fail "final stage does not run as 65532"
    for b in commissaire-controller commissaire-shim; do
        grep -q "$b" <<<"$final" || fail "final stage lacks $b"
    done
    # The build stage has the headers of every pkg-config module the root CMakeLists requires
    # (configure fails without any of them).
    build=$(awk '/^FROM /{n++} n==1' "$cf")
    for m in CURL:libcurl4-openssl-dev JANSSON:libjansson-dev YAML:libyaml-dev LIBSSH:libssh-dev \
        OPENSSL:libssl-dev LWS:libwebsockets-dev CMOCKA:libcmocka-dev CRYPT:libcrypt-dev; do
        grep -q "pkg_check_modules(${m%%:*} REQUIRED" "$repo/CMakeLists.txt" || continue
        grep -q -- "${m#*:}" <<<"$build" || fail "build stage lacks ${m#*:}"
    done
    grep -q 'ldd' <<<"$final" || fail "final stage does not check the binaries' libraries"
    echo "containerfile: ok"
    ;;
*)
    fail "unknown check $check"
    ;;
esac
