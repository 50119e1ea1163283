/* ctrmgr: API clients for the clusters that ContainerManagers point at.
 *
 * A ContainerManager with inCluster: true is the cluster the controller runs in: its clients are
 * the controller's own. Otherwise a client is built from spec.serverURL, spec.ca /
 * insecureSkipTLSVerify and the credentials Secret (data "token", or "tls.crt" + "tls.key"),
 * and cached under the ContainerManager's namespace/name together with the resourceVersions of
 * the manager and its Secret, so that edits to either take effect on the next use. Credentials
 * are held in memory only (inside the client), never logged.
 *
 * Each entry has two clients: a normal one and one with retries disabled, for evictions: a 429
 * answer there means "a PodDisruptionBudget says not now", to be retried by requeue, not by a
 * worker sleeping in the client's retry loop.
 *
 * Clients are never freed while the cache lives (a replaced entry is retired, not freed), so a
 * worker may keep using a client it got while another worker refreshes the entry.
 * Threads: thread-safe. */
#ifndef CTRMGR_H
#define CTRMGR_H

#include <jansson.h>

struct kube_client;
struct rc_env;
struct ctrmgr_cache;

/* Creates an empty cache. Returns 0 or -ENOMEM. */
int ctrmgr_cache_new(struct ctrmgr_cache **ret_cache);
/* Frees every client (none may be in use). Accepts NULL. */
void ctrmgr_cache_free(struct ctrmgr_cache *cache);

/* The clients for ContainerManager cm (borrowed object). *ret_client / *ret_evict (either may
 * be NULL) are borrowed for the cache's life. Returns 0; -ENOENT when the credentials Secret is
 * missing; -EINVAL when the manager cannot be used (no serverURL, Secret without token or
 * certificate, bad URL) with msg (n bytes) saying why; or a kube error. */
int ctrmgr_clients(const struct rc_env *env, struct ctrmgr_cache *cache, const json_t *cm,
                   struct kube_client **ret_client, struct kube_client **ret_evict, char *msg,
                   size_t n);

#endif
