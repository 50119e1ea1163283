#!/bin/bash
# `farm.sh stop` leaves nothing: no host process (sessions included), no supervisor, no listener,
# no mount, and it releases the address range. Two farms started at once get disjoint ranges.
set -euo pipefail
source "$(dirname "$0")/hostfarm_lib.sh"

farm_start 3 mixed
dir=$FARM_DIR
second=$(mktemp -d /tmp/hostfarm.XXXXXX)
cleanup2() { "$FARM_SH" stop --dir "$second" >/dev/null 2>&1 || true; rm -rf "$second"; }
trap 'cleanup2; farm_stop' EXIT
"$FARM_SH" start --dir "$second" --count 2 --os debian >/dev/null
source "$second/farm.conf"
[[ $FARM_BASE != "$(sed -n 's/^FARM_BASE=//p' "$dir/farm.conf")" ]] || fail "two farms share a range"
source "$dir/farm.conf"

step "a farm with open sessions"
pids=()
for a in "${FARM_ADDRS[@]}"; do
  farm_ssh "$a" 'sleep 300' >/dev/null 2>&1 &
  pids+=($!)
done
for f in "$dir"/hosts/*/loop.pid "$dir"/hosts/*/ns.pid "$dir"/hosts/*/init.pid; do pids+=("$(cat "$f")"); done
sleep 0.5
# pid:starttime — a PID may be reused by an unrelated process on a busy machine.
starts=()
for p in "${pids[@]}"; do starts+=("$p:$(awk '{print $22}' "/proc/$p/stat")"); done
listeners=$(ss -Hltn | grep -c " ${FARM_BASE//./\\.}\.[0-9]*:$FARM_PORT " || true)
expect_eq "listening hosts" "$listeners" 3
[[ -d /run/hostfarm-ranges/$FARM_BASE ]] || fail "range not locked"

step "stop"
"$FARM_SH" stop --dir "$dir"
sleep 0.2
for ps in "${starts[@]}"; do
  p=${ps%%:*}
  read -r st start < <(awk '{print $3, $22}' "/proc/$p/stat" 2>/dev/null) || continue
  if [[ $start == "${ps#*:}" && $st != Z ]]; then
    fail "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) survived the stop"
  fi
done
# Any process with an argument equal to the farm dir (supervisors, helpers) or naming a file in
# it (the sessions' ssh clients, which must have died with their hosts).
# (The pattern is written so that grep's own arguments do not match it.)
re="[${dir:0:1}]${dir:1}"; re=${re//./\\.}
left=$(grep -lszE -- "^$re(/.*)?\$" /proc/[0-9]*/cmdline | grep -v "^/proc/$$/" || true)
expect_eq "processes naming the farm dir" "$left" ""
expect_eq "listeners" "$(ss -Hltn | grep -c " ${FARM_BASE//./\\.}\.[0-9]*:$FARM_PORT " || true)" 0
grep -qF "$dir" /proc/self/mountinfo && fail "a farm mount leaked into this namespace"
[[ ! -d /run/hostfarm-ranges/$FARM_BASE ]] || fail "range lock not released"
for a in "${FARM_ADDRS[@]}"; do expect_eq "$a status" "$(farm_state "$a" status)" stopped; done

step "the other farm is untouched, and stopping twice is fine"
source "$second/farm.conf"
for a in $("$FARM_SH" addrs --dir "$second"); do
  expect_eq "second farm $a" "$(ssh -F "$second/ssh_config" "$a" true >/dev/null 2>&1; echo $?)" 0
done
"$FARM_SH" stop --dir "$dir" >/dev/null
echo PASS
