/* shim_metrics: Prometheus counters of the shim (requests by route and code, latency histogram,
 * authentication failures, cache sizes, API client requests by verb and code).
 * Thread-safe: counters are atomics, so the event loop never waits on a lock to count. */
#ifndef SHIM_METRICS_H
#define SHIM_METRICS_H

#include "cm_buf.h"
#include "shim_router.h"

struct shim_store;
struct kube_client;
struct shim_metrics;

struct shim_metrics *shim_metrics_new(void);
void shim_metrics_free(struct shim_metrics *m);
/* One finished request: route (SHIM_R_NONE for unrouted), HTTP status, duration. */
void shim_metrics_observe(struct shim_metrics *m, enum shim_route route, int status,
                          double seconds);
void shim_metrics_auth_failure(struct shim_metrics *m);
/* Appends the text exposition format; store and client may be NULL. 0 or -ENOMEM/-E2BIG. */
int shim_metrics_render(struct shim_metrics *m, struct shim_store *store, struct kube_client *c,
                        struct cm_buf *out);

#endif
