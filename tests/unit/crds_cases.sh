#!/usr/bin/env bash
# crds_cases.sh REPO: validates every good case and the samples against the CRD schemas with the
# offline validator (crds_lint.py), and checks every bad case is rejected with the error naming
# the field in its "# expect:" line. The same cases run against kube-lite in
# install_kubelite_crds.
set -euo pipefail
repo=$1
shopt -s nullglob
python3 "$repo/tests/unit/crds_lint.py" "$repo/crds" --cases \
    "$repo/tests/integration/install_crd_cases" "$repo"/manifests/samples/*.yaml
