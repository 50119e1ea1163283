/* host_controller: the Host lifecycle over SSH — investigate, bootstrap, register, watch,
 * decommission. The decisions are host_state.h's; this module performs them.
 *
 * One reconcile pass looks at the Host (the freshest of the informer's copy and the object our
 * own last write returned, so an immediate requeue never acts on a stale cache), decides the
 * next action and does a bounded amount of work for it:
 *   investigate  connect (host key: pinned, recorded, or first use), gather facts in one round
 *                trip, match an OS profile; then go on bootstrapping in the same pass
 *   bootstrap    run profile steps in order, each check-before-apply, files over SFTP; every
 *                step is recorded in status.bootstrap (and an Event) BEFORE it runs; after
 *                step_budget_ms the pass ends and the key is requeued, so one slow host never
 *                holds a worker for long
 *   register     no container manager (or trivial): disassociated; kubernetes/openshift:
 *                create/label the Node, then re-visit every node_poll_ms until it is Ready
 *   check        every host_check_interval (jittered): refresh facts and lastCheck; a new boot
 *                id re-runs the bootstrap checks (repairing what the reboot lost); an
 *                unreachable host goes failed and is retried every host_retry_interval
 *   decommission cordon + drain (evictions; 429 from a PodDisruptionBudget = re-visit later),
 *                delete the Node, optional teardown, release the finalizer; each part is
 *                skipped with a Warning Event once decommission_timeout has passed
 * SSH capacity is never waited for: a full pool is a short requeue.
 *
 * Threads: register before rc_manager_start(). */
#ifndef HOST_CONTROLLER_H
#define HOST_CONTROLLER_H

struct rc_controller;
struct rc_manager;

/* Registers the Host controller with `workers` threads (0: 8). *ret_ctl optional, borrowed.
 * Also exports commissaire_controller_hosts{phase}. Returns 0 or a negative errno. */
int host_controller_register(struct rc_manager *m, unsigned workers,
                             struct rc_controller **ret_ctl);

#endif
