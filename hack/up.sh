#!/usr/bin/env bash
# Starts the whole system locally and shows it working: kube-lite (the API server), the CRDs and
# the cluster configuration of manifests/, commissaire-controller and commissaire-shim as local
# processes, a farm of real-sshd hosts, the samples of manifests/samples/ pointed at the farm —
# then follows the hosts going active and a rolling restart finishing, and prints how to use it.
# The stack keeps running until ./hack/down.sh. Run ./hack/up.sh --help for the options.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

usage() {
    cat <<'EOF'
Usage: ./hack/up.sh [--no-demo] [--hosts N] [--reboot-seconds S] [--help]

Installs what is missing (hack/install-deps.sh), builds into build/ (RelWithDebInfo), and starts
the local stack as background processes:
  kube-lite               the API server (hack/kube-lite), kubeconfig in .stack/kubeconfig
  commissaire-controller  with leader election, metrics on a free loopback port
  commissaire-shim        the Commissaire REST API v0, HTTPS + basic auth on a free port
  kubelet stand-in        reports each farm host's Node Ready while the host is up
  host farm               N real OpenSSH sshd hosts (fedora, centos, rhel, atomic, debian)
then applies the samples (manifests/samples/, pointed at the farm) and follows the hosts going
active and the sample rolling restart finishing. State, logs and pids live in .stack/.
Stop everything with ./hack/down.sh. Needs root (the host farm uses namespaces).

Options:
  --no-demo            only start the stack and the farm (no samples, no restart)
  --hosts N            farm hosts (default 5)
  --reboot-seconds S   how long a farm host stays down when rebooted (default 1)
  -h, --help           this text

Environment:
  UP_NO_DEMO=1         same as --no-demo;  UP_HOSTS, UP_REBOOT_SECONDS as the options
  BUILD_DIR            build directory (default build)
  CM_BIN_DIR           an existing build directory to take the binaries from (no build step)
  CM_KUBE_LITE, CM_CONTROLLER, CM_SHIM, CM_PASSHASH, CM_NSINIT
                       individual binaries (also skip the build when all are given)
  STACK_DIR            state directory (default .stack)
  UP_DEMO_TIMEOUT      seconds the demo may take before up.sh gives up (default 150)
EOF
}

NO_DEMO=${UP_NO_DEMO:-0}
HOSTS=${UP_HOSTS:-5}
REBOOT_S=${UP_REBOOT_SECONDS:-1}
DEMO_TIMEOUT=${UP_DEMO_TIMEOUT:-150}
while (($#)); do
    case $1 in
    --no-demo) NO_DEMO=1 ;;
    --hosts) HOSTS=${2:?--hosts needs a number}; shift ;;
    --reboot-seconds) REBOOT_S=${2:?--reboot-seconds needs a number}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "up: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ $HOSTS =~ ^[1-9][0-9]*$ ]] || { echo "up: --hosts must be a positive number" >&2; exit 2; }

# shellcheck source=lib/stack.sh
source "$REPO/hack/lib/stack.sh"
NS=$STACK_NS

T0=$(date +%s%N)
elapsed() { local now; now=$(date +%s%N); printf '%5.1fs' "$(((now - T0) / 1000000))e-3"; }
say() { printf '[%s] %s\n' "$(elapsed)" "$*"; }
die() {
    printf 'up: %s\n' "$*" >&2
    if [[ -d $STACK_DIR/logs ]]; then
        printf 'up: logs are in %s/logs/; the stack is left running for inspection: ./hack/down.sh stops it\n' "$STACK_DIR" >&2
    fi
    exit 1
}

if stack_running; then
    echo "up: the local stack is already running (state in $STACK_DIR)." >&2
    [[ -f $STACK_DIR/env ]] && echo "up: its settings: source $STACK_DIR/env" >&2
    echo "up: stop it first with ./hack/down.sh" >&2
    exit 1
fi
if [[ $(id -u) != 0 ]]; then
    echo "up: the host farm needs root (mount/PID/UTS namespaces): run sudo ./hack/up.sh" >&2
    exit 1
fi

# ---- dependencies and build ------------------------------------------------------------------
./hack/install-deps.sh

if [[ -n ${CM_BIN_DIR:-} || (-n ${CM_KUBE_LITE:-} && -n ${CM_CONTROLLER:-} && -n ${CM_SHIM:-}) ]]; then
    bd=${CM_BIN_DIR:-}
else
    bd=${BUILD_DIR:-build}
    echo "up: building into $bd/ (log: $bd/up-build.log)"
    mkdir -p "$bd"
    if ! { cmake -S . -B "$bd" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
        cmake --build "$bd" -j"$(nproc)" --target kube-lite commissaire-controller \
            commissaire-shim hostfarm-nsinit shim_passhash; } >"$bd/up-build.log" 2>&1; then
        tail -n 30 "$bd/up-build.log" >&2
        echo "up: the build failed (full log: $bd/up-build.log)" >&2
        exit 1
    fi
fi
KUBE_LITE=${CM_KUBE_LITE:-$bd/hack/kube-lite/kube-lite}
CONTROLLER=${CM_CONTROLLER:-$bd/controller/commissaire-controller}
SHIM=${CM_SHIM:-$bd/api-shim/commissaire-shim}
PASSHASH=${CM_PASSHASH:-$bd/tests/shim_passhash}
NSINIT=${CM_NSINIT:-$bd/hack/hostfarm/hostfarm-nsinit}
for b in "$KUBE_LITE" "$CONTROLLER" "$SHIM"; do
    [[ -x $b ]] || { echo "up: $b is missing or not executable" >&2; exit 1; }
done

T0=$(date +%s%N)
case $STACK_DIR in "" | / | "$HOME") echo "up: refusing STACK_DIR='$STACK_DIR'" >&2; exit 1 ;; esac
rm -rf "$STACK_DIR"
mkdir -p "$STACK_DIR/logs" "$STACK_DIR/pids" "$STACK_DIR/kube-lite" "$STACK_DIR/shim" "$STACK_DIR/demo"
chmod 0700 "$STACK_DIR"
export KUBECONFIG=$STACK_DIR/kubeconfig KUBECACHEDIR=$STACK_DIR/kubecache

# ---- the host farm: started now, in the background, as it needs nothing else -----------------
FARM_DIR=$STACK_DIR/farm
farm_env=()
[[ -x $NSINIT ]] && farm_env=(env "HOSTFARM_NSINIT=$NSINIT")
# In its own session, so the hosts' supervisors are not hung up with the terminal.
"${farm_env[@]}" setsid "$STACK_FARM_SH" start --dir "$FARM_DIR" --count "$HOSTS" --os mixed \
    --reboot-seconds "$REBOOT_S" >"$STACK_DIR/logs/farm.log" 2>&1 &
farm_start_pid=$!

# ---- kube-lite and the cluster configuration of manifests/ -----------------------------------
stack_daemon kube-lite "$KUBE_LITE" --listen 127.0.0.1:0 --kubeconfig-out "$KUBECONFIG" \
    --cert-dir "$STACK_DIR/kube-lite" || die "kube-lite did not start"
for ((i = 0; i < 300; i++)); do
    [[ -s $KUBECONFIG ]] && break
    stack_pid kube-lite >/dev/null || die "kube-lite exited; see $STACK_DIR/logs/kube-lite.log"
    sleep 0.1
done
[[ -s $KUBECONFIG ]] || die "kube-lite wrote no kubeconfig in 30s"
stack_api_init
say "kube-lite              $STACK_API"

kubectl apply -k hack/lib/local-config/ >"$STACK_DIR/logs/apply.log" 2>&1 ||
    { cat "$STACK_DIR/logs/apply.log" >&2; die "applying manifests/ (without workloads) failed"; }
kubectl wait --for=condition=Established --timeout=60s crd/hosts.commissaire.io \
    crd/clusters.commissaire.io crd/operations.commissaire.io crd/networks.commissaire.io \
    crd/containermanagers.commissaire.io >>"$STACK_DIR/logs/apply.log" 2>&1 ||
    die "the CRDs were not Established"
say "applied                CRDs, namespace $NS, ServiceAccounts, RBAC, ConfigMap (manifests/)"

# ---- commissaire-shim: HTTPS with a self-signed certificate, basic auth + bearer tokens -------
SHIM_DIR=$STACK_DIR/shim
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$SHIM_DIR/tls.key" -out "$SHIM_DIR/tls.crt" >/dev/null 2>&1 ||
    die "openssl could not make the shim's certificate"
cat "$SHIM_DIR/tls.crt" "$SHIM_DIR/tls.key" >"$SHIM_DIR/tls.pem"
chmod 0600 "$SHIM_DIR/tls.key" "$SHIM_DIR/tls.pem"
SHIM_USER=admin
SHIM_PASSWORD=$(openssl rand -hex 12)
if [[ -x $PASSHASH ]]; then
    hash=$("$PASSHASH" "$SHIM_PASSWORD" 10)
else
    hash=$(python3 -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))' "$SHIM_PASSWORD" 2>/dev/null) ||
        die "no bcrypt tool: build the shim_passhash target"
fi
printf '{"%s": {"hash": "%s"}}\n' "$SHIM_USER" "$hash" >"$SHIM_DIR/users.json"
printf '%s\n' "$SHIM_PASSWORD" >"$SHIM_DIR/password"
chmod 0600 "$SHIM_DIR/users.json" "$SHIM_DIR/password"
cat >"$SHIM_DIR/commissaire.conf" <<EOF
{
  "listen-interface": "127.0.0.1",
  "tls-pemfile": "$SHIM_DIR/tls.pem",
  "authentication-plugins": [
    {"name": "httpbasicauth", "filepath": "$SHIM_DIR/users.json"},
    {"name": "kubernetes"}
  ],
  "kubeconfig": "$KUBECONFIG",
  "namespace": "$NS"
}
EOF
stack_daemon shim "$SHIM" --config-file "$SHIM_DIR/commissaire.conf" --listen-port 0 \
    --port-file "$SHIM_DIR/port" || die "commissaire-shim did not start"

# ---- commissaire-controller ------------------------------------------------------------------
stack_daemon controller "$CONTROLLER" --kubeconfig "$KUBECONFIG" --namespace "$NS" \
    --leader-elect --metrics-addr 127.0.0.1:0 --log-format text \
    --profiles-configmap commissaire-os-profiles \
    --host-check-interval 30s --node-poll-interval 500ms --ssh-connect-timeout 5s ||
    die "commissaire-controller did not start"
SHIM_PORT= METRICS_PORT=
for ((i = 0; i < 300; i++)); do
    [[ -z $SHIM_PORT && -s $SHIM_DIR/port ]] && SHIM_PORT=$(cat "$SHIM_DIR/port")
    [[ -z $METRICS_PORT ]] && METRICS_PORT=$(stack_metrics_port)
    [[ -n $SHIM_PORT && -n $METRICS_PORT ]] && break
    stack_pid shim >/dev/null || die "commissaire-shim exited; see $STACK_DIR/logs/shim.log"
    stack_pid controller >/dev/null || die "commissaire-controller exited; see $STACK_DIR/logs/controller.log"
    sleep 0.1
done
[[ -n $SHIM_PORT ]] || die "commissaire-shim did not report its port"
[[ -n $METRICS_PORT ]] || die "commissaire-controller did not report its metrics port"
SHIM_URL=https://127.0.0.1:$SHIM_PORT
wait_ok() { # wait_ok URL [curl args] — until it answers 200 (30s)
    local url=$1 i
    shift
    for ((i = 0; i < 300; i++)); do
        curl -sf -o /dev/null --max-time 2 "$@" "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
wait_ok "http://127.0.0.1:$METRICS_PORT/readyz" || die "the controller's /readyz never answered 200"
wait_ok "$SHIM_URL/readyz" --cacert "$SHIM_DIR/tls.crt" || die "the shim's /readyz never answered 200"
say "commissaire-controller metrics http://127.0.0.1:$METRICS_PORT/metrics (leader election on)"
say "commissaire-shim       $SHIM_URL (user $SHIM_USER)"

# ---- the farm is needed from here on ---------------------------------------------------------
wait "$farm_start_pid" || { tail -n 20 "$STACK_DIR/logs/farm.log" >&2; die "the host farm did not start"; }
mapfile -t FARM_ADDRS < <("$STACK_FARM_SH" addrs --dir "$FARM_DIR")
# The supervisors' session (setsid made farm.sh its leader): down.sh checks it is empty.
read -r loop_pid <"$FARM_DIR/hosts/${FARM_ADDRS[0]}/loop.pid"
stat=$(cat "/proc/$loop_pid/stat")
stat=${stat##*) }
read -r _ _ _ farm_sid _ <<<"$stat"
echo "$farm_sid" >>"$STACK_DIR/pids/sessions"
FARM_PORT=$(sed -n 's/^FARM_PORT=//p' "$FARM_DIR/farm.conf" | head -n1)
say "host farm              ${#FARM_ADDRS[@]} hosts ${FARM_ADDRS[0]}..${FARM_ADDRS[-1]} port $FARM_PORT ($(awk '{print $2}' "$FARM_DIR/hosts.list" | paste -sd, -))"

# The farm's client key becomes the sample's Secret (created, not applied, so the key is not
# copied into a last-applied-configuration annotation).
kubectl -n "$NS" create secret generic sample-ssh-key --type=kubernetes.io/ssh-auth \
    --from-file=ssh-privatekey="$FARM_DIR/client_key" >/dev/null ||
    die "cannot create the SSH key Secret"
stack_daemon kubelet-standin "$REPO/hack/lib/kubelet-standin.sh" "$KUBECONFIG" \
    "$STACK_DIR/kube-lite/ca.crt" "$FARM_DIR" 0.5 ||
    die "the kubelet stand-in did not start"

cat >"$STACK_DIR/env" <<EOF
# The local stack's settings: source $STACK_DIR/env
export KUBECONFIG=$KUBECONFIG
export COMMISSAIRE_URL=$SHIM_URL
export COMMISSAIRE_CACERT=$SHIM_DIR/tls.crt
export COMMISSAIRE_USER=$SHIM_USER
export COMMISSAIRE_PASSWORD=$SHIM_PASSWORD
export COMMISSAIRE_METRICS=http://127.0.0.1:$METRICS_PORT
export FARM_DIR=$FARM_DIR
EOF
chmod 0600 "$STACK_DIR/env"

usage_text() {
    cat <<EOF

The stack is running (state and logs in $STACK_DIR/). To use it:

  export KUBECONFIG=$KUBECONFIG     # or: source $STACK_DIR/env
  kubectl -n $NS get hosts,clusters,operations      # short names: hst, ccl, cop
  kubectl get nodes
  kubectl -n $NS get events --sort-by=.lastTimestamp

The Commissaire REST API (user $SHIM_USER, password in $SHIM_DIR/password):

  curl --cacert $SHIM_DIR/tls.crt -u $SHIM_USER:$SHIM_PASSWORD $SHIM_URL/api/v0/clusters
  curl --cacert $SHIM_DIR/tls.crt -u $SHIM_USER:$SHIM_PASSWORD $SHIM_URL/api/v0/hosts
  curl --cacert $SHIM_DIR/tls.crt -u $SHIM_USER:$SHIM_PASSWORD -X PUT $SHIM_URL/api/v0/cluster/sample/restart

Metrics: curl http://127.0.0.1:$METRICS_PORT/metrics  (shim: $SHIM_URL/metrics)
Farm hosts: ssh -F $FARM_DIR/ssh_config ${FARM_ADDRS[0]}   ($STACK_FARM_SH status --dir $FARM_DIR)
Stop everything: ./hack/down.sh
EOF
}

if [[ $NO_DEMO == 1 ]]; then
    say "stack up (no demo). Apply the samples with the farm's addresses to try it."
    usage_text
    exit 0
fi

# ---- the demo: samples on the farm ------------------------------------------------------------
# network.yaml and containermanager.yaml are applied as written. The sample Cluster uses the
# "trivial" container manager, which registers nothing (hosts end disassociated); here it is
# pointed at a "kubernetes" one for the stack's own API server, so the hosts become Nodes and go
# active. The Hosts are the farm's; the Secret was made from the farm key above.
{
    cat <<EOF
# Generated by hack/up.sh from manifests/samples/ for the local farm.
apiVersion: commissaire.io/v1alpha1
kind: ContainerManager
metadata: {name: local, namespace: $NS}
spec: {type: kubernetes, inCluster: true}
---
apiVersion: commissaire.io/v1alpha1
kind: Cluster
metadata: {name: sample, namespace: $NS}
spec: {network: sample-network, containerManager: local}
EOF
    for a in "${FARM_ADDRS[@]}"; do
        printf -- '---\napiVersion: commissaire.io/v1alpha1\nkind: Host\nmetadata: {name: "%s", namespace: %s}\n' "$a" "$NS"
        printf 'spec:\n  address: "%s"\n  port: %s\n  remoteUser: root\n  sshKeySecretRef: {name: sample-ssh-key}\n  cluster: sample\n' "$a" "$FARM_PORT"
    done
} >"$STACK_DIR/demo/samples.yaml"
kubectl apply -f manifests/samples/network.yaml -f manifests/samples/containermanager.yaml \
    -f "$STACK_DIR/demo/samples.yaml" >>"$STACK_DIR/logs/apply.log" 2>&1 ||
    die "applying the samples failed (see $STACK_DIR/logs/apply.log)"
say "applied                samples: Network sample-network, Cluster sample, ${#FARM_ADDRS[@]} Hosts (.stack/demo/samples.yaml)"

# ---- progress display -------------------------------------------------------------------------
TTY=0
[[ -t 1 ]] && TTY=1
SPIN='|/-\'
tick=0
declare -A host_seen=() op_seen=()
status_line=
show() { # an event line; on a terminal the status line is redrawn below it
    ((TTY)) && printf '\r\033[K'
    say "$*"
}
redraw() {
    ((TTY)) || return 0
    tick=$((tick + 1))
    printf '\r\033[K%s %s  %s' "${SPIN:tick%4:1}" "$(elapsed)" "$status_line"
}

HOSTS_ACTIVE=0 HOSTS_FAILED=0
poll_hosts() {
    local rows name phase os ver step msg key n=0 f=0
    rows=$(stack_cr hosts 2>/dev/null | jq -r '.items[]? | [.metadata.name, (.status.phase // "pending"),
        (.status.os // ""), (.status.osVersion // ""), (.status.bootstrap.step // ""),
        (.status.message // "")] | join("\u001f")' 2>/dev/null) || return 0
    # A unit separator, not a tab: tabs are IFS white space, so empty fields would collapse.
    while IFS=$'\x1f' read -r name phase os ver step msg; do
        [[ -n $name ]] || continue
        # Between two bootstrap steps the step is empty: not worth a line.
        [[ $phase == bootstrapping && -z $step && ${host_seen[$name]:-} == bootstrapping/* ]] &&
            step=${host_seen[$name]#bootstrapping/}
        key="$phase/$step"
        if [[ ${host_seen[$name]:-} != "$key" ]]; then
            host_seen[$name]=$key
            case $phase in
            bootstrapping) show "host $name  $phase${step:+  step $step}  ($os $ver)" ;;
            failed) show "host $name  FAILED: $msg" ;;
            *) show "host $name  $phase${os:+  ($os $ver)}" ;;
            esac
        fi
        [[ $phase == active ]] && n=$((n + 1))
        [[ $phase == failed ]] && f=$((f + 1))
    done <<<"$rows"
    HOSTS_ACTIVE=$n HOSTS_FAILED=$f
    status_line="hosts active: $n/${#FARM_ADDRS[@]}"
}

OP=restart-sample OP_PHASE= OP_DONE=0 OP_TOTAL=0
poll_op() {
    local js rows name step msg
    js=$(stack_cr operations "$OP" 2>/dev/null) || return 0
    read -r OP_PHASE OP_DONE OP_TOTAL < <(jq -r '[(.status.phase // "Pending"), (.status.succeeded // 0), (.status.total // 0)] | @tsv' <<<"$js" 2>/dev/null) || return 0
    # Hosts first, so "Finished" comes after the last host's "Done".
    rows=$(jq -r '.status.hosts[]? | [.name, (.step // ""), (.message // "")] | join("\u001f")' <<<"$js" 2>/dev/null) || rows=
    while IFS=$'\x1f' read -r name step msg; do
        [[ -n $name && ${op_seen[$name]:-} != "$step" ]] || continue
        op_seen[$name]=$step
        show "  restart $name  $step${msg:+  ($msg)}"
    done <<<"$rows"
    if [[ ${op_seen[_phase]:-} != "$OP_PHASE" ]]; then
        op_seen[_phase]=$OP_PHASE
        show "operation $OP  $OP_PHASE"
    fi
    status_line="operation $OP: $OP_PHASE $OP_DONE/$OP_TOTAL"
}

deadline=$((SECONDS + DEMO_TIMEOUT))
while :; do
    poll_hosts
    redraw
    ((HOSTS_ACTIVE == ${#FARM_ADDRS[@]})) && break
    ((SECONDS < deadline)) || { ((TTY)) && echo; die "hosts did not all go active in ${DEMO_TIMEOUT}s (kubectl -n $NS get hosts)"; }
    sleep 0.5
done
((TTY)) && printf '\r\033[K'
say "all ${#FARM_ADDRS[@]} hosts active; their Nodes:"
kubectl get nodes --no-headers 2>/dev/null | sed 's/^/           /'

# Boot ids before the restart, to show each host really rebooted (exactly once).
declare -A boot_before=()
for a in "${FARM_ADDRS[@]}"; do boot_before[$a]=$(cat "$FARM_DIR/hosts/$a/root/.hostfarm/facts/boot_id"); done
kubectl apply -f manifests/samples/operation-restart.yaml >>"$STACK_DIR/logs/apply.log" 2>&1 ||
    die "applying manifests/samples/operation-restart.yaml failed"
say "applied                manifests/samples/operation-restart.yaml (restart, maxUnavailable 1)"
while :; do
    poll_op
    redraw
    case $OP_PHASE in
    Finished) break ;;
    Failed | Canceled) ((TTY)) && echo; die "operation $OP ended $OP_PHASE (kubectl -n $NS describe cop $OP)" ;;
    esac
    ((SECONDS < deadline)) || { ((TTY)) && echo; die "operation $OP did not finish in ${DEMO_TIMEOUT}s total (kubectl -n $NS get cop $OP -o yaml)"; }
    sleep 0.5
done
((TTY)) && printf '\r\033[K'
say "operation $OP Finished: $OP_DONE/$OP_TOTAL hosts restarted"
for a in "${FARM_ADDRS[@]}"; do
    n=$(awk -v a="$a" '$2 == a && $3 == "down" && $4 == "reboot" { n++ } END { print n + 0 }' "$FARM_DIR/reboot.log")
    printf '           %-15s rebooted %s time(s), boot id %.8s… -> %.8s…\n' "$a" "$n" \
        "${boot_before[$a]}" "$(cat "$FARM_DIR/hosts/$a/root/.hostfarm/facts/boot_id")"
done
say "at most $("$STACK_FARM_SH" max-down --dir "$FARM_DIR") host(s) were down at once (farm reboot log)"
echo
echo "The same, through the Commissaire REST API:"
echo "  GET /api/v0/cluster/sample         $(curl -sS --cacert "$SHIM_DIR/tls.crt" -u "$SHIM_USER:$SHIM_PASSWORD" "$SHIM_URL/api/v0/cluster/sample" 2>&1)"
echo "  GET /api/v0/cluster/sample/restart $(curl -sS --cacert "$SHIM_DIR/tls.crt" -u "$SHIM_USER:$SHIM_PASSWORD" "$SHIM_URL/api/v0/cluster/sample/restart" 2>&1)"
say "demo done"
usage_text
