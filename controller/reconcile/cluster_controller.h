/* cluster_controller: keeps each Cluster's status (ok/degraded/failed, host counts, conditions)
 * in line with its Hosts. Host changes that can move the numbers (membership, phase) and
 * ContainerManager changes (managed or not) enqueue the clusters concerned.
 * Threads: register before rc_manager_start(). */
#ifndef CLUSTER_CONTROLLER_H
#define CLUSTER_CONTROLLER_H

struct rc_controller;
struct rc_manager;

/* Registers the Cluster controller with workers worker threads (0: 2). *ret_ctl optional,
 * borrowed. Returns 0 or a negative errno. */
int cluster_controller_register(struct rc_manager *m, unsigned workers,
                                struct rc_controller **ret_ctl);

#endif
