#!/usr/bin/env bash
# Every REST route of commissaire-shim against kube-lite (or $KUBECONFIG's cluster): commctl's
# requests (spec §12.3), errors, idempotency, operations, peer-address registration, the
# membership compare-and-swap race between two shim processes, Node status, read-your-writes;
# plus a cloud-init self-registration generated as commctl's user-data helper does (§12.5).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib/kubelite.sh"
source "$HERE/shim_lib.sh"
SHIM_DIR=$(mktemp -d)

cleanup() {
    local rc=$?
    shim_stop_all || rc=1
    shim_delete_ns
    kl_stop || rc=1
    rm -rf "$SHIM_DIR"
    exit $rc
}
trap cleanup EXIT

kl_start
shim_setup_cluster
ssh-keygen -q -t ed25519 -N '' -f "$SHIM_DIR/key1" -C key1
ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f "$SHIM_DIR/key2" -C key2
HASH=$("$SHIM_PASSHASH" s3cret 4)
printf '{"operator": {"hash": "%s"}}\n' "$HASH" >"$SHIM_DIR/users.json"
COMMON=(--authentication-plugin "httpbasicauth:filepath=$SHIM_DIR/users.json"
        --auth-failure-burst 100000 --auth-failure-rate 100000)
shim_start main "${COMMON[@]}" --trusted-proxy 127.0.0.1/32
shim_start second "${COMMON[@]}"

export SHIM_URL=$SHIM_URL_main SHIM_URL2=$SHIM_URL_second SHIM_NS SHIM_USER=operator \
    SHIM_PASS=s3cret SHIM_KEY1=$SHIM_DIR/key1 SHIM_KEY2=$SHIM_DIR/key2
if [[ "$KL_REAL" == 1 ]]; then
    # A real cluster: everything but the scenario that creates a fake Node object.
    for sc in commctl idempotent errors operations peer cas_race read_your_writes; do
        "$SHIM_ITEST" "$sc"
    done
else
    "$SHIM_ITEST" all
fi

# cloud-init self-registration (spec §12.5): commctl user-data writes this JSON into the
# text/x-commissaire-host part; the part handler on the booting host then sends exactly this
# request (no address: the shim takes the caller's).
curl -sf -u operator:s3cret -X PUT "$SHIM_URL/api/v0/cluster/cloud" \
    -H 'Content-Type: application/json' -d '{}' >/dev/null
cat >"$SHIM_DIR/x-commissaire-host.json" <<JSON
{
 "endpoint": "$SHIM_URL",
 "username": "operator",
 "password": "s3cret",
 "cluster": "cloud",
 "remote_user": "cloud-user",
 "ssh_key_path": "$SHIM_DIR/key1",
 "authorized_keys_path": "$SHIM_DIR/authorized_keys"
}
JSON
cfg=$SHIM_DIR/x-commissaire-host.json
endpoint=$(sed -n 's/^ "endpoint": "\(.*\)",$/\1/p' "$cfg")
body=$(printf '{"remote_user": "%s", "ssh_priv_key": "%s", "cluster": "%s"}' \
    "$(sed -n 's/^ "remote_user": "\(.*\)",$/\1/p' "$cfg")" \
    "$(base64 -w0 "$(sed -n 's/^ "ssh_key_path": "\(.*\)",$/\1/p' "$cfg")")" \
    "$(sed -n 's/^ "cluster": "\(.*\)",$/\1/p' "$cfg")")
status=$(curl -s -o "$SHIM_DIR/reg.out" -w '%{http_code}' --interface 127.0.0.9 -X PUT \
    "$endpoint/api/v0/host" -H 'Content-Type: application/json' -u operator:s3cret -d "$body")
echo "Commissaire response: $status"
[[ "$status" == 201 ]] || { echo "FAIL cloud-init registration: $status $(cat "$SHIM_DIR/reg.out")"; exit 1; }
grep -q '"address": "127.0.0.9"' "$SHIM_DIR/reg.out" || { echo "FAIL: $(cat "$SHIM_DIR/reg.out")"; exit 1; }
members=$(curl -sf -u operator:s3cret "$SHIM_URL/api/v0/cluster/cloud/hosts")
[[ "$members" == '["127.0.0.9"]' ]] || { echo "FAIL cloud members: $members"; exit 1; }
creds=$(curl -sf -u operator:s3cret "$SHIM_URL/api/v0/host/127.0.0.9/creds")
[[ "$creds" == *'"remote_user": "cloud-user"'* ]] || { echo "FAIL creds: $creds"; exit 1; }
echo "ok   cloud-init"
