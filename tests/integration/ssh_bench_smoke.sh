#!/usr/bin/env bash
# Smoke test of tests/bench/ssh_facts_bench: 24 fact gatherings, 8 at a time, against one
# throwaway sshd with its host key pinned through a known_hosts file; checks the report.
# Usage: ssh_bench_smoke.sh PATH/TO/ssh_facts_bench
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/ssh_lib.sh"
bin=$1
dir=$(mktemp -d)
cleanup() { sshd_stop; rm -rf "$dir"; }
trap cleanup EXIT
sshd_start "$dir"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
out=$("$bin" --key "$dir/key_ed25519" --port "$SSHD_PORT" --known-hosts "$dir/known_hosts" \
  --concurrency 8 --repeat 24 --json 127.0.0.1)
echo "$out"
python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["hosts"] == 24 and r["ok"] == 24 and r["failed"] == 0, r
assert r["kex"] == "curve25519-sha256", r
assert r["concurrency"] == 8 and r["total_s"] > 0 and r["peak_rss_kib"] > 0, r
PY
# A wrong pinned key fails every host (the bench really verifies host keys).
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$dir/key_wrong.pub")" >"$dir/known_hosts"
if "$bin" --key "$dir/key_ed25519" --port "$SSHD_PORT" --known-hosts "$dir/known_hosts" \
  --concurrency 2 --repeat 2 127.0.0.1 2>"$dir/err"; then
  echo "bench succeeded with a wrong pinned host key" >&2
  exit 1
fi
grep -q HostKeyMismatch "$dir/err"
echo "ok"
