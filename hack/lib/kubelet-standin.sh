#!/usr/bin/env bash
# kubelet-standin.sh: the node heartbeat of the local stack.
#
# The farm's hosts run no real kubelet, yet the controller registers each of them as a Node of
# the stack's API server and then waits for that Node to report Ready (after bootstrap, and after
# every reboot of a rolling operation). This loop plays the kubelets' part the way a real node
# would look from the API: a Node whose farm host is up reports Ready=True, a Node whose host is
# down (rebooting, unreachable) reports Ready=False, with the time of the change. It only writes
# when the state differs, so an idle stack costs one list request per tick.
#
# Usage: kubelet-standin.sh KUBECONFIG CA_FILE FARM_DIR [INTERVAL_S]
# Started (and stopped) by hack/up.sh / hack/down.sh, and by integration tests (kube-lite's
# admin kubeconfig: a bearer token, and the CA in CA_FILE).
set -uo pipefail
kubeconfig=$1 ca=$2 FARM_DIR=$3
interval=${4:-0.5}
source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"
stack_api_init "$kubeconfig" "$ca"

trap 'exit 0' TERM INT
echo "kubelet-standin: reporting Node readiness from the farm in $FARM_DIR every ${interval}s"
while :; do
    nodes=$(stack_api /api/v1/nodes 2>/dev/null |
        jq -r '.items[]? | [.metadata.name, ((.status.conditions // []) | map(select(.type == "Ready"))[0].status // "Unknown")] | @tsv' 2>/dev/null) || nodes=
    while IFS=$'\t' read -r name ready; do
        [[ -n $name ]] || continue
        host_status=
        read -r host_status 2>/dev/null <"$FARM_DIR/hosts/$name/status" || host_status=
        # Nodes that are not farm hosts are someone else's: leave them alone.
        [[ -n $host_status ]] || continue
        if [[ $host_status == up ]]; then
            want=True reason=KubeletReady msg="kubelet is posting ready status (stand-in)"
        else
            want=False reason=NodeStatusUnknown msg="Kubelet stopped posting node status (host $host_status)"
        fi
        [[ $ready == "$want" ]] && continue
        now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
        body=$(printf '{"status":{"conditions":[{"type":"Ready","status":"%s","reason":"%s","message":"%s","lastHeartbeatTime":"%s","lastTransitionTime":"%s"}]}}' \
            "$want" "$reason" "$msg" "$now" "$now")
        if stack_api "/api/v1/nodes/$name/status" -X PATCH -o /dev/null -f \
            -H 'Content-Type: application/merge-patch+json' -d "$body" 2>/dev/null; then
            echo "$now node $name Ready=$want ($reason)"
        fi
    done <<<"$nodes"
    sleep "$interval"
done
