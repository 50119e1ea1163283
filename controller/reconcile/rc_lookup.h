/* rc_lookup: reads of the shared informer caches that several reconcilers need (a cluster's
 * hosts, its container manager, its network). Results are NEW references to READ-ONLY cached
 * objects (json_deep_copy() before changing anything). Membership is Host.spec.cluster (the
 * single source of truth), not the label, which the Host reconciler sets a moment later.
 * Threads: any. */
#ifndef RC_LOOKUP_H
#define RC_LOOKUP_H

#include <jansson.h>
#include <stdbool.h>

struct rc_manager;

/* A new array of the Hosts in ns whose spec.cluster is cluster, sorted by name. NULL: -ENOMEM. */
json_t *rc_lookup_cluster_hosts(struct rc_manager *m, const char *ns, const char *cluster);
/* The cached object ns/name of the resource, or NULL. */
json_t *rc_lookup_cluster(struct rc_manager *m, const char *ns, const char *name);
json_t *rc_lookup_network(struct rc_manager *m, const char *ns, const char *name);
json_t *rc_lookup_containermanager(struct rc_manager *m, const char *ns, const char *name);
/* The ContainerManager named by cluster (an object) or NULL when it names none / it is missing.
 * *ret_named (optional) tells whether the cluster names one at all. */
json_t *rc_lookup_cluster_cm(struct rc_manager *m, const json_t *cluster, bool *ret_named);
/* Registers the informers these lookups read (hosts, clusters, networks, containermanagers).
 * Call before rc_manager_start(). Returns 0 or -ENOMEM. */
int rc_lookup_register(struct rc_manager *m);

#endif
