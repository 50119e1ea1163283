/* cluster_state: the Commissaire cluster status computed from the cluster's Hosts (pure).
 *
 *   ok       no host unavailable (an empty cluster is ok, as in REF §6.2)
 *   degraded some but not all hosts unavailable
 *   failed   hosts exist and none is available
 *
 * Availability per host is host_is_available(): `active` with a container manager; reachable
 * and configured (`disassociated` or `active`) without one (decisions #30). Thread-safe. */
#ifndef CLUSTER_STATE_H
#define CLUSTER_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum cluster_health {
    CLUSTER_OK,       /* every host available */
    CLUSTER_DEGRADED, /* some hosts unavailable */
    CLUSTER_FAILED,   /* every host unavailable (and there is at least one) */
    CLUSTER__MAX,
};
/* "ok", "degraded", "failed". */
const char *cluster_health_name(enum cluster_health h);

struct cluster_counts {
    size_t total, available, unavailable;
};

/* Counts hosts[0..n) (Host objects; borrowed) and returns the health. */
enum cluster_health cluster_state_compute(json_t *const *hosts, size_t n, bool managed,
                                          struct cluster_counts *ret_counts);

/* True when a ContainerManager object (NULL: none) makes its cluster "managed": its type is
 * kubernetes or openshift. A trivial manager registers nothing (decisions #13). */
bool cluster_cm_is_managed(const json_t *cm);

#endif
