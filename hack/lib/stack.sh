# stack.sh: shared shell of the local stack (hack/up.sh, hack/down.sh, tests/integration/stack_*).
#
# The local stack is a handful of daemons (kube-lite, commissaire-controller, commissaire-shim, a
# node-heartbeat stand-in, and the host farm's supervisors) that must outlive up.sh and be found
# again, exactly, by down.sh. Each is started in its own session (setsid, so closing the terminal
# does not hang it up) and recorded in $STACK_DIR/pids/NAME.pid as "PID STARTTIME", where
# STARTTIME is field 22 of /proc/PID/stat: a PID alone may have been reused by an unrelated
# process by the time down.sh runs, the pair cannot. Nothing here ever kills by name.
#
# Source it from bash with `set -euo pipefail`. Variables (override from the environment):
#   STACK_DIR   state, logs and pids (default: .stack/ in the repository, git-ignored)
#   STACK_NS    namespace of the commissaire objects (default commissaire)

STACK_REPO=${STACK_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STACK_DIR=${STACK_DIR:-$STACK_REPO/.stack}
# Absolute, because down.sh recognises the stack's processes by it.
[[ $STACK_DIR == /* ]] || STACK_DIR=$PWD/$STACK_DIR
STACK_NS=${STACK_NS:-commissaire}
STACK_FARM_SH=${STACK_FARM_SH:-$STACK_REPO/hack/hostfarm/farm.sh}

stack_log() { printf '%s\n' "$*" >&2; }

# stack_proc_start PID — the process's start time in clock ticks since boot, or nothing.
stack_proc_start() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    # The command name (field 2) may hold spaces; fields after the last ')' are fixed.
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    printf '%s' "${20}"
}

# stack_daemon NAME CMD [ARGS...] — starts CMD detached in a new session with its output in
# $STACK_DIR/logs/NAME.log and records it. Prints nothing; returns 1 if it exited at once.
stack_daemon() {
    local name=$1
    shift
    mkdir -p "$STACK_DIR/pids" "$STACK_DIR/logs"
    # Without job control a background child is never a process-group leader, so setsid execs
    # CMD in place (no fork) and $! is CMD's own PID.
    setsid "$@" </dev/null >>"$STACK_DIR/logs/$name.log" 2>&1 &
    local pid=$! st
    st=$(stack_proc_start "$pid")
    [[ -n $st ]] || { stack_log "$name exited at once; log:"; tail -n 20 "$STACK_DIR/logs/$name.log" >&2; return 1; }
    printf '%s %s\n' "$pid" "$st" >"$STACK_DIR/pids/$name.pid"
    echo "$pid" >>"$STACK_DIR/pids/sessions"
}

# stack_session_procs — PIDs of live processes in the stack's sessions (one per daemon, recorded
# in $STACK_DIR/pids/sessions by stack_daemon and up.sh): whatever a daemon forked, and did not
# move to a session of its own, is found this way, without matching anything by name.
stack_session_procs() {
    local f=$STACK_DIR/pids/sessions file stat pid sid
    [[ -f $f ]] || return 0
    local -A ours=()
    while read -r sid; do [[ -n $sid ]] && ours[$sid]=1; done <"$f"
    for file in /proc/[0-9]*/stat; do
        read -r stat 2>/dev/null <"$file" || continue
        pid=${stat%% *}
        stat=${stat##*) }
        # shellcheck disable=SC2086
        set -- $stat
        # fields after the command name: state ppid pgrp session ...
        [[ $1 != Z && -n ${ours[$4]:-} && $pid != "$$" && $pid != "$BASHPID" ]] && echo "$pid"
    done
    return 0
}

# stack_pid NAME — the recorded PID if that very process is still alive (not a zombie).
stack_pid() {
    local f=$STACK_DIR/pids/$1.pid pid st state
    [[ -f $f ]] || return 1
    read -r pid st <"$f" || return 1
    [[ -n $pid && $(stack_proc_start "$pid") == "$st" ]] || return 1
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
    [[ $state != Z ]] || return 1
    printf '%s' "$pid"
}

# stack_stop NAME [GRACE_S] — SIGTERM, wait up to GRACE_S (10) seconds, then SIGKILL.
# Idempotent. Returns 1 only if the process survived SIGKILL.
stack_stop() {
    local name=$1 grace=${2:-10} pid i
    pid=$(stack_pid "$name") || { rm -f "$STACK_DIR/pids/$name.pid"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 20; i++)); do
        stack_pid "$name" >/dev/null || break
        sleep 0.05
    done
    if stack_pid "$name" >/dev/null; then
        stack_log "down: $name (pid $pid) did not stop in ${grace}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            stack_pid "$name" >/dev/null || break
            sleep 0.05
        done
        stack_pid "$name" >/dev/null && return 1
    fi
    rm -f "$STACK_DIR/pids/$name.pid"
    return 0
}

# stack_running — true when any recorded daemon (or the farm) is alive.
stack_running() {
    local f
    for f in "$STACK_DIR"/pids/*.pid; do
        [[ -f $f ]] || continue
        f=${f##*/}
        stack_pid "${f%.pid}" >/dev/null && return 0
    done
    stack_farm_running
}

stack_farm_running() {
    local p pid
    for p in "$STACK_DIR"/farm/hosts/*/loop.pid; do
        [[ -f $p ]] || continue
        read -r pid <"$p" 2>/dev/null || continue
        kill -0 "$pid" 2>/dev/null && return 0
    done
    return 1
}

# stack_sanitizer_reports — prints the log files that hold an ASan/UBSan/LSan report.
stack_sanitizer_reports() {
    grep -lE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$STACK_DIR"/logs/*.log 2>/dev/null || true
}

# ---- talking to the API server without forking kubectl (the progress display polls) ---------

# stack_api_init [KUBECONFIG CA_FILE] — reads server and token from the kubeconfig (default the
# stack's); the CA file defaults to the stack's kube-lite CA.
stack_api_init() {
    local kc=${1:-$STACK_DIR/kubeconfig}
    STACK_API=$(sed -n 's/^ *server: *//p' "$kc" | head -n1)
    STACK_TOKEN=$(sed -n 's/^ *token: *//p' "$kc" | head -n1)
    STACK_CA=${2:-$STACK_DIR/kube-lite/ca.crt}
}

# stack_api PATH [curl args] — GET (by default) against the API server with the admin token.
stack_api() {
    local path=$1
    shift
    curl -sS --max-time 10 --cacert "$STACK_CA" -H "Authorization: Bearer $STACK_TOKEN" "$@" "$STACK_API$path"
}

# stack_cr KIND [NAME] — a commissaire resource (list or one object) as JSON.
stack_cr() {
    stack_api "/apis/commissaire.io/v1alpha1/namespaces/$STACK_NS/$1${2:+/$2}"
}

# stack_metrics_port — the controller's metrics port, from its start-up log line.
stack_metrics_port() {
    sed -n 's/.*serving \/metrics \/healthz \/readyz.* port=\([0-9]*\).*/\1/p' \
        "$STACK_DIR/logs/controller.log" 2>/dev/null | head -n1
}
