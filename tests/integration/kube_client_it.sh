#!/usr/bin/env bash
# kube_client_it.sh BINARY: runs the kube client integration test against kube-lite (started
# here with the shared harness), or against the cluster of $KUBECONFIG when it is set.
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/kubelite.sh
source "$here/lib/kubelite.sh"
if [[ -z "${KUBECONFIG:-}" && ( -z "${KUBE_LITE:-}" || ! -x "${KUBE_LITE:-}" ) ]]; then
    echo "kube-lite is not built and KUBECONFIG is not set: skipping" >&2
    exit 77
fi
trap 'kl_stop' EXIT
kl_start
kl_apply_crds
"$bin" "$KUBECONFIG" "${KL_ADMIN:-}"
