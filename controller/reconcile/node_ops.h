/* node_ops: what the controller does to Kubernetes Nodes, for the Host reconciler (register,
 * wait for Ready, decommission) and the Operation reconciler (cordon, drain, uncordon).
 *
 * Every function is one short, bounded series of API calls and never waits for the cluster to
 * change: draining reports how many pods are left, and the caller re-visits later (a requeue).
 * The client is the container manager's (the controller's own for inCluster managers).
 * Threads: any worker thread. */
#ifndef NODE_OPS_H
#define NODE_OPS_H

#include <stdbool.h>
#include <stddef.h>

struct kube_client;
struct kube_error;

/* Makes sure Node `node` exists and carries the label commissaire.io/cluster=cluster: creates it
 * when the kubelet has not registered it yet, otherwise patches the label if it differs.
 * *ret_created (optional) tells whether it was created. Returns 0 or a kube error. */
int node_register(struct kube_client *c, const char *node, const char *cluster,
                  bool *ret_created, struct kube_error *err);

/* Reads the Node's Ready condition: *ret_ready 1 when status True; *ret_reason (optional,
 * malloc'ed, caller frees) is the condition's reason or "NoReadyCondition". Returns 0,
 * -ENOENT when the Node does not exist, or a kube error. */
int node_ready(struct kube_client *c, const char *node, bool *ret_ready, char **ret_reason,
               struct kube_error *err);

/* Sets (cordon) or clears (uncordon) spec.unschedulable. -ENOENT when there is no such Node. */
int node_set_unschedulable(struct kube_client *c, const char *node, bool unschedulable,
                           struct kube_error *err);

struct node_drain_status {
    size_t evicted;     /* evictions accepted by this call */
    size_t blocked;     /* evictions refused (429: a PodDisruptionBudget does not allow it) */
    size_t terminating; /* pods already on their way out */
    size_t remaining;   /* pods still on the node that must go (includes the above) */
    size_t skipped;     /* DaemonSet and mirror pods, which drain leaves alone (as kubectl) */
};

/* One drain pass: lists the pods bound to node (all namespaces) and asks the Eviction API to
 * evict each one that must go (not DaemonSet-owned, not a mirror pod, not finished, not
 * already terminating). Returns 0 when nothing remains, 1 when pods remain (see *ret_status:
 * the caller re-visits later, e.g. after a PodDisruptionBudget allows more), or a kube error. */
int node_drain(struct kube_client *c, const char *node, struct node_drain_status *ret_status,
               struct kube_error *err);

/* Deletes the Node; a Node that is already gone is success. */
int node_delete(struct kube_client *c, const char *node, struct kube_error *err);

#endif
