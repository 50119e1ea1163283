/* host_state: the Host state machine's vocabulary and its pure decisions.
 *
 * A Host moves through the Commissaire host statuses, stored in status.phase:
 *
 *   "" -> investigating -> bootstrapping -> disassociated   (no container manager, or trivial)
 *                                        -> active          (node registered and Ready)
 *   any -> failed (reason in the Ready condition) -> investigating again on the next retry
 *   active/disassociated -> bootstrapping when a re-check finds a new boot id (re-verify)
 *
 * Everything here is a pure function of the Host object, the clock and the configuration, so
 * the decisions are unit-tested without SSH or an API server (tests/unit/test_reconcile_host.c).
 * host_reconcile.c performs the side effects the decisions call for. Thread-safe. */
#ifndef HOST_STATE_H
#define HOST_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum host_phase {
    HOST_PHASE_NONE,          /* "" or missing: not yet looked at by the controller */
    HOST_PHASE_INVESTIGATING, /* connecting, checking the host key, gathering facts */
    HOST_PHASE_BOOTSTRAPPING, /* running the OS profile's bootstrap steps (or re-verifying) */
    HOST_PHASE_ACTIVE,        /* configured and its node is registered and Ready */
    HOST_PHASE_DISASSOCIATED, /* configured, not (yet) a Ready node of a container manager */
    HOST_PHASE_FAILED,        /* something went wrong; the Ready condition says what */
    HOST_PHASE__MAX,
};

/* "", "investigating", ... (static strings). */
const char *host_phase_name(enum host_phase p);
/* The phase named s; unknown text and NULL give HOST_PHASE_NONE. */
enum host_phase host_phase_from_string(const char *s);

/* Condition types. */
#define HOST_COND_REACHABLE "Reachable"
#define HOST_COND_BOOTSTRAPPED "Bootstrapped"
#define HOST_COND_NODE_REGISTERED "NodeRegistered"
#define HOST_COND_NODE_READY "NodeReady"
#define HOST_COND_READY "Ready"

/* Labels, annotations and the finalizer the controller owns on Hosts. */
#define HOST_FINALIZER "commissaire.io/host-cleanup"
#define HOST_LABEL_CLUSTER "commissaire.io/cluster"
/* Set by the Operation reconciler on a Host while it restarts/upgrades/deploys it; while it is
 * present the Host reconciler leaves reboots to the operation (no re-verify on a new boot id,
 * no failed phase while the host is down), so the two never fight over one host. */
#define HOST_ANNOTATION_OPERATION "commissaire.io/operation"

/* What the Host reconciler should do next. */
enum host_action {
    HOST_ACTION_DECOMMISSION, /* being deleted: drain, delete node, teardown, drop finalizer */
    HOST_ACTION_INVESTIGATE,  /* connect, check the host key, gather facts, pick the profile */
    HOST_ACTION_BOOTSTRAP,    /* run the next bootstrap step(s) */
    HOST_ACTION_REGISTER,     /* bring node registration in line with the cluster */
    HOST_ACTION_CHECK,        /* periodic re-check (facts, boot id, reachability) is due */
    HOST_ACTION_WAIT,         /* nothing is due: re-visit after *ret_delay_ms */
    HOST_ACTION__MAX,
};
const char *host_action_name(enum host_action a);

struct host_timing {
    int64_t check_interval_ms; /* re-check of active/disassociated hosts (--host-check-interval) */
    int64_t retry_interval_ms; /* re-investigation of failed hosts */
};

/* Decides the next action for host (a Host object) at wall time now_ms. managed says whether
 * the host's cluster has a kubernetes/openshift container manager (resolved by the caller).
 * *ret_delay_ms (optional) is set for HOST_ACTION_WAIT: the time until something is due.
 * A check counts as due slightly (15 %) before the interval ends, so that a jittered early
 * re-visit still performs it instead of scheduling a tiny extra wait. */
enum host_action host_action_next(const json_t *host, bool managed, const struct host_timing *t,
                                  int64_t now_ms, int64_t *ret_delay_ms);

/* The delay before the next periodic check: interval spread by +/-10 % with rnd in [0,1), so
 * that 200 hosts created together do not stay in lock-step forever. */
int64_t host_check_delay_ms(int64_t interval_ms, double rnd);

/* True when the host counts as available for its Cluster's status. With a container manager,
 * only `active` hosts are; without one (decisions #30), hosts that are reachable and configured
 * (`disassociated` or `active`) are. */
bool host_is_available(const json_t *host, bool managed);

/* The Kubernetes Node name for a host address: lower-cased; NULL (and -EINVAL) when the address
 * is not a valid DNS-1123 subdomain (IPv6, underscores). Caller frees the result. */
char *host_node_name(const char *address);

#endif
