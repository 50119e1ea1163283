/* op_controller: the Operation reconciler — rolling restart, upgrade and deploy of a Cluster's
 * hosts (issue 5), on top of op_plan (decisions), op_task (SSH work off the workers) and
 * node_ops (cordon, drain, uncordon).
 *
 * Per pass, for one Operation:
 *   1. Invalid spec -> phase Failed with condition Accepted=False and a precise reason.
 *   2. Pending until it is the cluster's turn (one Operation per Cluster, creation order);
 *      then the finalizer is added and the selected hosts (the Cluster's Hosts matching
 *      hostSelector, by name) are recorded as Pending entries of status.hosts[].
 *   3. Rounds of: every host in flight does the work of the step recorded in status (cordon,
 *      drain pass, start or collect an SSH task, node Ready check, uncordon) and may move to its
 *      next step; the plan starts new hosts into the window; ONE status write records every
 *      move; only then do the next round's side effects happen. So each step is in status
 *      before its side effect, and the writes are batched across hosts.
 *   4. Waiting (a reboot, a drain held back by a PodDisruptionBudget, a node not Ready yet, a
 *      task in flight) returns a requeue; a finished task enqueues the Operation at once.
 * What keeps a rolling restart close to (reboot time x waves): the window slides (a host that
 * ends frees its place in the same round); the boot ids of the next window of hosts that are
 * not drained are read ahead in the background (op_task background tasks) over sessions kept
 * for their reboot, so a chosen host goes to Rebooting in the round that chooses it; after a
 * delivered reboot, polls only probe TCP until the host was seen down; the poll that finds the
 * new boot id also gathers the facts, and Verifying's work (recording them on the Host, an API
 * write safe to repeat) is done in that same round; status changes in host messages alone are
 * written at most once a second (steps, boot ids and times are always written at once).
 * While a host is worked on it carries the annotation commissaire.io/operation=<name>, so the
 * Host reconciler leaves its reboots to the operation. The Host's facts (boot id, version, ...)
 * are refreshed by the Verifying step. Cancel and deletion (finalizer
 * commissaire.io/operation-cleanup) uncordon what was cordoned, drop the annotations and mark
 * unfinished hosts Skipped.
 *
 * Events (on the Operation): Started, Cordoning, Draining, DrainBlocked, Executing, Rebooting,
 * Rebooted, WaitingNodeReady, Uncordoning, HostDone, HostFailed, HostSkipped, Paused, Resumed,
 * Finished, Failed, Canceled, Invalid.
 * Metrics: commissaire_operation_hosts{operation,state} (pending, in_progress, succeeded,
 * failed, skipped), commissaire_operations{phase}, commissaire_operation_host_duration_seconds
 * {type} (a host's whole sequence), commissaire_operation_steps_total{step}.
 *
 * Threads: register before rc_manager_start(). */
#ifndef OP_CONTROLLER_H
#define OP_CONTROLLER_H

#include <stdint.h>

struct rc_controller;
struct rc_manager;

struct op_controller_options {
    unsigned ssh_threads;    /* threads running SSH tasks (0: 16) */
    int64_t poll_ms;         /* re-visit while waiting for a host, drain or node (0: the
                                environment's node_poll_ms, i.e. --node-poll-interval) */
    int64_t reboot_grace_ms; /* a restarted controller that cannot tell whether a reboot was
                                delivered waits this long from the step's start before sending
                                it (0: 20 s); see op_plan_reboot() */
    int64_t cluster_grace_ms; /* how long a missing Cluster is waited for before the Operation
                                 fails with ClusterNotFound (0: 10 s) */
};

/* Registers the Operation controller with `workers` reconcile workers (0: 2) and opts (NULL:
 * defaults). *ret_ctl (optional) is borrowed. Returns 0 or a negative errno. */
int operation_controller_register(struct rc_manager *m, unsigned workers,
                                  const struct op_controller_options *opts,
                                  struct rc_controller **ret_ctl);

#endif
