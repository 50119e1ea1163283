/* shim_store: the shim's read model — informer-fed caches of the commissaire.io resources.
 *
 * Every GET is answered from here, never by a round trip to the API server. Each kind is a map
 * name → immutable object (shared with the informer's cache by reference) under a read-write
 * lock; Hosts also have an address index and their REST JSON pre-rendered, because host reads
 * are the hot path.
 *
 * Read-your-writes: after a write the handler feeds the API server's answer in with
 * shim_store_apply()/shim_store_forget(), so the very next read sees it even if the watch event
 * has not arrived yet. Both sources go through one rule — an object replaces the cached one only
 * if its resourceVersion is not older, and a deletion leaves a tombstone that hides older events
 * for a while — so a late watch event can never bring back a stale state. Objects being deleted
 * (deletionTimestamp set, waiting for finalizers) are treated as gone: REST has no such state.
 *
 * All functions are thread-safe; none blocks on the network except shim_store_start(). */
#ifndef SHIM_STORE_H
#define SHIM_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_buf.h"

struct kube_client;
struct kube_error;
struct kube_resource;

enum shim_kind {
    SHIM_K_HOST,
    SHIM_K_CLUSTER,
    SHIM_K_OPERATION,
    SHIM_K_NETWORK,
    SHIM_K_CM,
    SHIM_K_NODE, /* optional: only Nodes labelled commissaire.io/cluster */
    SHIM_K_COUNT_,
};

extern const struct kube_resource SHIM_RES_HOSTS;
extern const struct kube_resource SHIM_RES_CLUSTERS;
extern const struct kube_resource SHIM_RES_OPERATIONS;
extern const struct kube_resource SHIM_RES_NETWORKS;
extern const struct kube_resource SHIM_RES_CMS;
const struct kube_resource *shim_kind_resource(enum shim_kind k);
const char *shim_kind_name(enum shim_kind k);

struct shim_store;

/* c must outlive the store; ns is copied. Returns 0 or -ENOMEM. */
int shim_store_new(struct kube_client *c, const char *ns, int watch_nodes, struct shim_store **ret);
/* Starts the informers (non-blocking: lists happen on their threads). */
int shim_store_start(struct shim_store *s, struct kube_error *err);
/* 1 once every commissaire.io kind has been listed (the optional Node cache is not waited for). */
int shim_store_ready(struct shim_store *s);
/* Waits for readiness up to timeout_ms. 0 or -ETIMEDOUT. */
int shim_store_wait_ready(struct shim_store *s, int64_t timeout_ms);
/* Stops the informers and frees everything. Accepts NULL. */
void shim_store_free(struct shim_store *s);

/* Feeds an object (borrowed; copied by reference) as the newest known state. */
void shim_store_apply(struct shim_store *s, enum shim_kind k, json_t *obj);
/* Records that name is gone; last (borrowed, may be NULL) is its final state, whose
 * resourceVersion (if any) bounds which later events are stale. */
void shim_store_forget(struct shim_store *s, enum shim_kind k, const char *name, const json_t *last);

/* The cached object (new reference, READ-ONLY) or NULL. */
json_t *shim_store_get(struct shim_store *s, enum shim_kind k, const char *name);
/* The Host whose spec.address is address (new reference, read-only) or NULL. */
json_t *shim_store_host_by_address(struct shim_store *s, const char *address);
/* A new array of references to every cached object of kind k, sorted by name. */
json_t *shim_store_list(struct shim_store *s, enum shim_kind k);
/* Hosts whose spec.cluster is cluster (new array of references, sorted by address). */
json_t *shim_store_cluster_members(struct shim_store *s, const char *cluster);
size_t shim_store_count(struct shim_store *s, enum shim_kind k);
/* A number that changes whenever any cached object changes: answers computed from the cache can
 * be reused while it stays the same. */
uint64_t shim_store_generation(struct shim_store *s);

/* Appends the pre-rendered REST JSON of the host with that address. 0 or -ENOENT/-E2BIG. */
int shim_store_host_json(struct shim_store *s, const char *address, struct cm_buf *out);
/* Appends the REST JSON array of all hosts. 0 or -E2BIG/-ENOMEM. */
int shim_store_hosts_json(struct shim_store *s, struct cm_buf *out);

/* An immutable, reference-counted byte string shared between the cache and responses in flight,
 * so that sixty-four clients reading a 200 kB host list do not hold sixty-four copies. */
struct shim_blob {
    _Atomic int refs;
    size_t len;
    char data[];
};
/* Takes a reference (b may be NULL). Thread-safe. */
struct shim_blob *shim_blob_ref(struct shim_blob *b);
/* Drops a reference; the last one frees. Accepts NULL. */
void shim_blob_unref(struct shim_blob *b);
/* The REST JSON array of all hosts as a new reference, rebuilt only after a host changed.
 * NULL on -ENOMEM. */
struct shim_blob *shim_store_hosts_blob(struct shim_store *s);

#endif
