#!/usr/bin/env bash
# crds_cases.sh REPO: validates every good case and the samples against the CRD schemas with the
# offline validator (crds_lint.py), and checks every bad case is rejected with the error naming
# the field in its "# expect:" line. The same cases run against kube-lite in install_crds.
set -euo pipefail
repo=$1
lint="python3 $repo/tests/unit/crds_lint.py $repo/crds"
cases=$repo/tests/integration/install_crd_cases
fail=0 n=0
for f in "$cases"/good/*.yaml "$repo"/manifests/samples/*.yaml; do
    [[ -e $f ]] || continue
    n=$((n + 1))
    $lint --validate "$f" >/dev/null || { echo "FAIL: $f should be valid"; fail=1; }
done
for f in "$cases"/bad/*.yaml; do
    n=$((n + 1))
    want=$(sed -n 's/^# expect: //p' "$f")
    [[ -n $want ]] || { echo "FAIL: $f has no '# expect:' line"; fail=1; continue; }
    $lint --expect-invalid "$f" "$want" >/dev/null || { echo "FAIL: $f"; fail=1; }
done
echo "crds_cases: $n cases checked"
exit $fail
