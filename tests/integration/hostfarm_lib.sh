# Assertions shared by the farm's own tests (tests/integration/hostfarm_*.sh).
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib/farm.sh
source "$REPO/tests/integration/lib/farm.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_eq() { [[ $2 == "$3" ]] || fail "$1: got '$2', want '$3'"; }
expect_match() { [[ $2 =~ $3 ]] || fail "$1: '$2' does not match /$3/"; }
expect_contains() { [[ $2 == *"$3"* ]] || fail "$1: '$3' not in: $2"; }
expect_not_contains() { [[ $2 != *"$3"* ]] || fail "$1: '$3' unexpectedly in: $2"; }
step() { echo "== $*"; }

# ssh_rc ADDR CMD — exit status of an ssh command (never fails the script).
ssh_rc() { local rc=0; farm_ssh "$@" >/dev/null 2>&1 || rc=$?; echo "$rc"; }
