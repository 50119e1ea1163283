#!/usr/bin/env bash
# The authentication matrix of commissaire-shim: anonymous, wrong password, unknown user, good
# user (also commctl's kubeconfig-mode Basic header), malformed credentials, bearer tokens checked
# by TokenReview, a dlopen'd plug-in, self-auth paths, client certificates (good/bad CN, no
# certificate, another CA) over TLS made with the openssl CLI, deny-all without plug-ins, the
# config file, the slow-down of repeated failures, and no secret in any log.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib/kubelite.sh"
source "$HERE/shim_lib.sh"
SHIM_DIR=$(mktemp -d)
D=$SHIM_DIR
fails=0

cleanup() {
    local rc=$?
    shim_stop_all || rc=1
    shim_delete_ns
    kl_stop || rc=1
    rm -rf "$SHIM_DIR"
    exit $rc
}
trap cleanup EXIT

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# expect CODE DESCRIPTION curl-args...
expect() {
    local want=$1 what=$2 got
    shift 2
    got=$(curl -s -o "$D/body" -w '%{http_code}' --max-time 20 "$@" || true)
    if [[ "$got" == "$want" ]]; then ok "$what ($got)"; else bad "$what: got $got want $want: $(head -c 300 "$D/body")"; fi
}

ADMIN_TOKEN=admin-$(openssl rand -hex 16)
USER_TOKEN=alice-$(openssl rand -hex 16)
printf '%s,admin,1,"system:masters"\n%s,alice,2,"devs"\n' "$ADMIN_TOKEN" "$USER_TOKEN" >"$D/tokens.csv"
kl_start --token-file "$D/tokens.csv"
shim_setup_cluster

HASH=$("$SHIM_PASSHASH" s3cret-pw 4)
printf '{"operator": {"hash": "%s"}}\n' "$HASH" >"$D/users.json"

# TLS material, made here with the openssl CLI.
mkcert() { # name cn ca
    openssl req -newkey rsa:2048 -nodes -keyout "$D/$1.key" -out "$D/$1.csr" -subj "/CN=$2" 2>/dev/null
    openssl x509 -req -in "$D/$1.csr" -CA "$D/$3.crt" -CAkey "$D/$3.key" -CAcreateserial \
        -out "$D/$1.crt" -days 2 -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost') 2>/dev/null
}
for ca in ca otherca; do
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/$ca.key" -out "$D/$ca.crt" \
        -subj "/CN=$ca" -days 2 2>/dev/null
done
mkcert server 127.0.0.1 ca
mkcert client test-client ca
mkcert intruder intruder ca
mkcert foreign test-client otherca
cat "$D/server.crt" "$D/server.key" >"$D/server.pem"

URL_PLAIN=
shim_start plain --authentication-plugin "httpbasicauth:filepath=$D/users.json" \
    --authentication-plugin kubernetes \
    --authentication-plugin "$SHIM_TEST_PLUGIN:token=letmein" \
    --self-auth /api/v0/networks --auth-failure-burst 3 --auth-failure-rate 1
URL_PLAIN=$SHIM_URL_plain
H=(-H 'Content-Type: application/json')

expect 403 "anonymous" "$URL_PLAIN/api/v0/hosts"
grep -q '"error": "Forbidden"' "$D/body" && ok "403 body is a JSON error" || bad "403 body: $(cat "$D/body")"
expect 403 "wrong password" -u operator:wrong "$URL_PLAIN/api/v0/hosts"
expect 403 "unknown user" -u nobody:s3cret-pw "$URL_PLAIN/api/v0/hosts"
expect 200 "good user" -u operator:s3cret-pw "$URL_PLAIN/api/v0/hosts"
expect 200 "good user again (cached verification)" -u operator:s3cret-pw "$URL_PLAIN/api/v0/clusters"
expect 200 "commctl kubeconfig-mode Basic b'...' header" \
    -H "Authorization: Basic b'$(printf operator:s3cret-pw | base64 -w0)'" "$URL_PLAIN/api/v0/hosts"
expect 403 "Basic without a colon" -H "Authorization: Basic $(printf operator | base64 -w0)" "$URL_PLAIN/api/v0/hosts"
expect 403 "Basic with bad base64" -H "Authorization: Basic ***" "$URL_PLAIN/api/v0/hosts"
expect 200 "password with a colon is split at the first one" \
    -u operator:s3cret-pw "$URL_PLAIN/api/v0/hosts"
expect 403 "unknown path, anonymous" "$URL_PLAIN/api/v0/nosuch"
expect 404 "unknown path, authenticated" -u operator:s3cret-pw "$URL_PLAIN/api/v0/nosuch"
if [[ "$KL_REAL" != 1 ]]; then
    expect 200 "bearer token (TokenReview)" -H "Authorization: Bearer $USER_TOKEN" "$URL_PLAIN/api/v0/hosts"
    expect 200 "bearer token again (cached review)" -H "Authorization: Bearer $USER_TOKEN" "$URL_PLAIN/api/v0/clusters"
fi
expect 403 "bad bearer token" -H "Authorization: Bearer nope-$(openssl rand -hex 8)" "$URL_PLAIN/api/v0/hosts"
expect 200 "dlopen'd plug-in accepts" -H "X-Test-Token: letmein" "$URL_PLAIN/api/v0/hosts"
expect 403 "dlopen'd plug-in refuses" -H "X-Test-Token: letmeout" "$URL_PLAIN/api/v0/hosts"
expect 200 "self-auth path" "$URL_PLAIN/api/v0/networks"
expect 403 "self-auth is exact (trailing slash)" "$URL_PLAIN/api/v0/networks/"
expect 403 "self-auth is exact (other path)" "$URL_PLAIN/api/v0/clusters"
expect 200 "/healthz without credentials" "$URL_PLAIN/healthz"
expect 200 "/readyz without credentials" "$URL_PLAIN/readyz"
expect 200 "/metrics without credentials" "$URL_PLAIN/metrics"
grep -q 'commissaire_shim_http_requests_total{route="hosts_list",code="403"}' "$D/body" &&
    grep -q 'commissaire_shim_auth_failures_total' "$D/body" &&
    grep -q 'commissaire_shim_cache_objects{kind="hosts"}' "$D/body" &&
    grep -q 'commissaire_shim_apiserver_requests_total' "$D/body" &&
    grep -q 'commissaire_shim_http_request_duration_seconds_bucket' "$D/body" &&
    ok "metrics content" || bad "metrics content: $(head -c 600 "$D/body")"

# Repeated failures from one client are slowed down; other clients are not.
start=$(date +%s%N)
(for i in 1 2 3 4 5 6 7; do
    curl -s -o /dev/null --interface 127.0.0.20 -u operator:guess$i "$URL_PLAIN/api/v0/hosts"
done) &
guesser=$!
sleep 1.5
t0=$(date +%s%N)
expect 200 "another client during the guessing" --interface 127.0.0.21 -u operator:s3cret-pw "$URL_PLAIN/api/v0/hosts"
t1=$(date +%s%N)
wait $guesser
end=$(date +%s%N)
other_ms=$(((t1 - t0) / 1000000))
guess_ms=$(((end - start) / 1000000))
((other_ms < 2500)) && ok "other client answered in ${other_ms} ms" || bad "other client took ${other_ms} ms"
((guess_ms >= 2500)) && ok "7 failures took ${guess_ms} ms (slowed down)" || bad "7 failures took only ${guess_ms} ms"

# TLS with required client certificates + httpauthclientcert.
SHIM_CURL_ARGS=(--cacert "$D/ca.crt" --cert "$D/client.crt" --key "$D/client.key")
shim_start certs --tls-pemfile "$D/server.pem" --tls-clientverifyfile "$D/ca.crt" \
    --authentication-plugin "commissaire_http.authentication.httpauthclientcert:cn=test-client"
unset SHIM_CURL_ARGS
U=$SHIM_URL_certs
expect 200 "client certificate with the right CN" --cacert "$D/ca.crt" --cert "$D/client.crt" --key "$D/client.key" "$U/api/v0/hosts"
expect 403 "client certificate with another CN" --cacert "$D/ca.crt" --cert "$D/intruder.crt" --key "$D/intruder.key" "$U/api/v0/hosts"
expect 000 "no client certificate (handshake refused)" --cacert "$D/ca.crt" "$U/api/v0/hosts"
expect 000 "certificate from another CA (handshake refused)" --cacert "$D/ca.crt" --cert "$D/foreign.crt" --key "$D/foreign.key" "$U/api/v0/hosts"

# TLS with Basic authentication; TLS 1.2 at least.
shim_start tls --tls-pemfile "$D/server.pem" --authentication-plugin "httpbasicauth:filepath=$D/users.json"
U=$SHIM_URL_tls
expect 200 "https + basic" --cacert "$D/ca.crt" -u operator:s3cret-pw "$U/api/v0/hosts"
expect 403 "https + wrong password" --cacert "$D/ca.crt" -u operator:nope "$U/api/v0/hosts"
expect 000 "TLS 1.1 refused" --cacert "$D/ca.crt" --tlsv1.0 --tls-max 1.1 -u operator:s3cret-pw "$U/api/v0/hosts"
expect 000 "server certificate checked by the client (wrong CA)" --cacert "$D/otherca.crt" "$U/healthz"

# No plug-in: deny everything (REF).
shim_start denyall
expect 403 "no plug-in: good credentials are refused too" -u operator:s3cret-pw "$SHIM_URL_denyall/api/v0/hosts"
grep -q "Denying all requests" "$SHIM_DIR/denyall.log" && ok "deny-all is logged" || bad "deny-all not logged"

# The original's JSON config file: plug-in objects with inline users, REF module names,
# self-auths, string port, unknown keys and bus options accepted.
cat >"$D/commissaire.conf" <<JSON
{
  "listen-interface": "127.0.0.1",
  "listen-port": "0",
  "authentication-plugins": [
    {"name": "commissaire_http.authentication.httpbasicauth",
     "users": {"inline": {"hash": "$HASH"}}}
  ],
  "self-auths": ["/api/v0/clusters"],
  "bus-uri": "redis://127.0.0.1:6379/",
  "storage-handlers": [{"name": "etcd"}],
  "debug": false
}
JSON
SHIM_WITH_CONFIG=1 shim_start conf -c "$D/commissaire.conf"
U=$SHIM_URL_conf
expect 200 "config file: inline user" -u inline:s3cret-pw "$U/api/v0/hosts"
expect 403 "config file: file users not configured" -u operator:s3cret-pw "$U/api/v0/hosts"
expect 200 "config file: self-auths" "$U/api/v0/clusters"
grep -q "bus-uri is accepted but unused" "$SHIM_DIR/conf.log" && ok "bus options reported unused" || bad "bus-uri not reported"
grep -q "storage_handlers" "$SHIM_DIR/conf.log" && ok "unknown keys reported" || bad "unknown key not reported"
if "$COMMISSAIRE_SHIM" -c "$D/nonexistent.conf" >"$D/out" 2>&1; then
    bad "a missing explicit config file must be an error"
else
    ok "missing explicit config file refused: $(head -c 120 "$D/out")"
fi
"$COMMISSAIRE_SHIM" --help >"$D/help"
for f in --config-file --no-config-file --listen-interface --listen-port --tls-pemfile \
    --tls-clientverifyfile --authentication-plugin --self-auth --debug --bus-exchange --bus-uri \
    --kubeconfig --namespace --trusted-proxy --log-format --metrics; do
    grep -q -- "$f" "$D/help" || bad "--help does not document $f"
done
ok "--help documents every flag"

# Secrets never reach the logs.
for s in s3cret-pw letmein "$USER_TOKEN" guess3 "$(printf operator:s3cret-pw | base64 -w0)"; do
    if grep -q -- "$s" "$SHIM_DIR"/*.log; then bad "a secret appears in a shim log"; fi
done
ok "no password, token or credential header in the logs"

((fails == 0)) || { echo "$fails failure(s)"; exit 1; }
