/* rc_manager: the controllers of one process, the informers they share, and what they all use.
 *
 * A controller (rc_controller.h) is a work queue of object keys, N worker threads and a
 * reconcile function. The manager owns one informer per watched resource, shared by every
 * controller that watches it (the Host cache serves the Host, Cluster and Operation
 * controllers), and fans each informer event out to every handler registered for it.
 *
 * Lifecycle, driven by main():
 *   rc_manager_new()                      create, with the shared environment
 *   <kind>_controller_register(m, ...)    each controller registers itself (one call each)
 *   rc_manager_start()                    start informers (both on leaders and on standbys, so
 *                                         a standby takes over with warm caches)
 *   rc_manager_wait_synced()              readiness
 *   rc_manager_set_leading(m, 1)          started leading: every queue gets every cached key
 *                                         again and the workers start
 *   rc_manager_set_leading(m, 0)          lost/released the lease: workers take no new key and
 *                                         park; the reconciles in flight are NOT waited for
 *                                         (they see rc_controller_acting() false and end at
 *                                         their next side effect); queues keep their keys and
 *                                         timers, so a term regained a moment later resumes at
 *                                         once
 *   rc_manager_free()                     stop everything and free
 *
 * Threads: register before rc_manager_start(); afterwards every function is thread-safe except
 * rc_manager_free(). */
#ifndef RC_MANAGER_H
#define RC_MANAGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct hostos_registry;
struct kube_client;
struct kube_events;
struct kube_informer;
struct kube_resource;
struct rc_controller;
struct rc_metrics;
struct sshc_pool;

/* What every reconciler may use. Plain data filled by main(); the pointed-to services are owned
 * by main() and outlive the manager. Read-only after rc_manager_new(). */
struct rc_env {
    struct kube_client *client;       /* the controller's own API client */
    struct kube_client *evict_client; /* same server and identity, no retries: for evictions,
                                         whose 429 means "PDB says not now" (may be NULL) */
    const char *ns;                   /* namespace watched; NULL: all namespaces */
    struct kube_events *events;       /* Event recorder (may be NULL in tests) */
    struct rc_metrics *metrics;       /* metrics registry (may be NULL) */
    struct sshc_pool *ssh;            /* bounded SSH session pool */
    struct hostos_registry *profiles; /* OS profiles */
    int64_t resync_ms;                /* informer resync period; 0: none */
    int64_t host_check_interval_ms;   /* --host-check-interval */
    int64_t host_retry_interval_ms;   /* re-investigation of failed hosts */
    int64_t node_poll_ms;             /* re-visit while waiting for a node to be Ready */
    int64_t decommission_timeout_ms;  /* bound on draining/teardown of a deleted host */
    int ssh_connect_timeout_ms;       /* --ssh-connect-timeout */
    int ssh_command_timeout_ms;       /* --ssh-command-timeout */
    int64_t step_budget_ms;           /* bootstrap work per reconcile pass before requeueing */
};

/* Handlers for informer events, as kube_informer_handlers (objects borrowed, any may be NULL).
 * They run on the informer's thread and must only do quick work (enqueue keys). */
struct rc_watch_handlers {
    void (*add_cb)(json_t *obj, void *userdata);
    void (*update_cb)(json_t *old_obj, json_t *new_obj, void *userdata);
    void (*delete_cb)(json_t *obj, void *userdata);
    void *userdata;
};

struct rc_manager;

/* Creates a manager; env is copied (its pointers are borrowed). Returns 0 or -ENOMEM. */
int rc_manager_new(const struct rc_env *env, struct rc_manager **ret_m);
/* Stops workers, informers and queues, frees controllers and informers. Accepts NULL. */
void rc_manager_free(struct rc_manager *m);
/* The environment (borrowed, valid for the manager's life). */
const struct rc_env *rc_manager_env(const struct rc_manager *m);

/* The shared informer for res in the manager's namespace (res must be a static object, e.g.
 * &RC_RES_HOSTS or &KUBE_RES_NODES; cluster-scoped resources are watched whole), created on
 * first use. Borrowed. NULL on -ENOMEM. Call before rc_manager_start(). */
struct kube_informer *rc_manager_informer(struct rc_manager *m, const struct kube_resource *res);
/* Adds handlers to res's shared informer (creating it). Returns 0 or -ENOMEM. Before start. */
int rc_manager_watch(struct rc_manager *m, const struct kube_resource *res,
                     const struct rc_watch_handlers *h);

/* Starts every informer. Returns 0 or the first error. */
int rc_manager_start(struct rc_manager *m);
/* Waits (up to timeout_ms) until every informer has its first list. Returns 0 or -ETIMEDOUT. */
int rc_manager_wait_synced(struct rc_manager *m, int64_t timeout_ms);
/* 1 when every informer has synced (the /readyz answer). */
bool rc_manager_synced(struct rc_manager *m);
/* Starts (leading true) or stops (false) the workers of every controller. Idempotent, never
 * blocks on reconciles (safe from the leader elector's callbacks). rc_manager_free() waits for
 * the reconciles in flight, which are bounded by the SSH and API timeouts. */
void rc_manager_set_leading(struct rc_manager *m, bool leading);
bool rc_manager_leading(struct rc_manager *m);

/* Adds a controller (called by rc_controller_new(); the manager frees it). */
int rc_manager__add_controller(struct rc_manager *m, struct rc_controller *c);

/* The custom resources of commissaire.io/v1alpha1. */
extern const struct kube_resource RC_RES_HOSTS;
extern const struct kube_resource RC_RES_CLUSTERS;
extern const struct kube_resource RC_RES_OPERATIONS;
extern const struct kube_resource RC_RES_NETWORKS;
extern const struct kube_resource RC_RES_CONTAINERMANAGERS;

#endif
