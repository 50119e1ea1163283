#!/usr/bin/env bash
# Stops everything ./hack/up.sh started — the controller, the shim, the kubelet stand-in, the host
# farm and kube-lite — and checks that nothing of the stack is left running. Idempotent: with
# nothing running it says so and succeeds. Logs stay in .stack/logs/ for a look afterwards.
# Usage: ./hack/down.sh   (STACK_DIR overrides .stack)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
case ${1:-} in
-h | --help)
    sed -n '2,5p' "$REPO/hack/down.sh" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
"") ;;
*) echo "down: unknown argument '$1'" >&2; exit 2 ;;
esac
# shellcheck source=lib/stack.sh
source "$REPO/hack/lib/stack.sh"

if [[ ! -d $STACK_DIR ]]; then
    echo "down: nothing to stop (no $STACK_DIR)"
    exit 0
fi

rc=0
stopped=()
# The controller first: it releases its Lease and closes its SSH sessions while the API server
# and the hosts are still there. kube-lite last, as everything else talks to it.
for name in controller shim kubelet-standin; do
    if stack_pid "$name" >/dev/null; then
        stack_stop "$name" 15 && stopped+=("$name") || rc=1
    fi
    rm -f "$STACK_DIR/pids/$name.pid"
done
if [[ -f $STACK_DIR/farm/farm.conf ]]; then
    if stack_farm_running; then
        "$STACK_FARM_SH" stop --dir "$STACK_DIR/farm" >>"$STACK_DIR/logs/farm.log" 2>&1 && stopped+=(farm) || {
            echo "down: the host farm did not stop cleanly (see $STACK_DIR/logs/farm.log)" >&2
            rc=1
        }
    fi
fi
if stack_pid kube-lite >/dev/null; then
    stack_stop kube-lite 15 && stopped+=(kube-lite) || rc=1
fi
rm -f "$STACK_DIR/pids/kube-lite.pid"

# Verify: nothing is left in the stack's sessions (daemons and what they forked, the farm's
# supervisors and hosts) — whatever the cause, down.sh must leave nothing behind.
left=()
for ((i = 0; i < 40; i++)); do
    mapfile -t left < <(stack_session_procs)
    ((${#left[@]} == 0)) && break
    sleep 0.05
done
if ((${#left[@]})); then
    echo "down: processes of the stack were still running; killing: ${left[*]}" >&2
    kill -KILL "${left[@]}" 2>/dev/null || true
    rc=1
fi

# Keep the logs, drop the rest (the farm's host trees, keys, certificates, the password).
if [[ -d $STACK_DIR/farm || -f $STACK_DIR/env ]]; then
    find "$STACK_DIR" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
fi
reports=$(stack_sanitizer_reports)
if [[ -n $reports ]]; then
    echo "down: sanitizer reports in: $reports" >&2
    rc=1
fi
if ((${#stopped[@]})); then
    echo "down: stopped ${stopped[*]} (logs kept in $STACK_DIR/logs/)"
else
    echo "down: nothing was running"
fi
exit $rc
