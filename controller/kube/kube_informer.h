/* kube_informer: list + watch of one collection into an in-memory cache, like client-go's
 * SharedIndexInformer.
 *
 * The cache maps "namespace/name" (just "name" for cluster-scoped objects) to the latest object,
 * with two indexes: by namespace and by label key=value. Cached objects are IMMUTABLE, shared
 * jansson values: a reader gets a new reference (json_incref) under a read lock and must neither
 * modify it nor the objects inside it (json_deep_copy() it first to build an update). jansson's
 * reference counts are atomic, so references can be taken and dropped on any thread.
 *
 * The informer runs a kube_watch (one thread) whose relist callback lists all pages (limit 500)
 * and diffs the result against the cache: new keys -> add, changed resourceVersion -> update,
 * keys no longer present -> delete. A resync thread (if resync_ms > 0) re-delivers every cached
 * object as update(old == new) so that reconcilers converge even if they missed something.
 *
 * Handlers run on the informer's threads, serialised (never two at once), with no cache lock
 * held: a handler may read the cache. They should be quick (typically: add a key to a work
 * queue). Objects passed to handlers are borrowed for the call. Cache reads are thread-safe from
 * any thread and cost a hash lookup under a read lock. */
#ifndef KUBE_INFORMER_H
#define KUBE_INFORMER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct kube_client;
struct kube_error;
struct kube_resource;
struct kube_informer;

struct kube_informer_handlers {
    void (*add_cb)(json_t *obj, void *userdata);                    /* optional */
    void (*update_cb)(json_t *old_obj, json_t *new_obj, void *userdata); /* optional */
    void (*delete_cb)(json_t *obj, void *userdata); /* optional; obj = last known state */
    void *userdata;
};

struct kube_informer_options {
    const char *ns;             /* namespace to watch; NULL/"" = all (copied) */
    const char *label_selector; /* copied; NULL: none */
    const char *field_selector; /* copied; NULL: none */
    int64_t resync_ms;          /* periodic re-delivery; 0 = off. Default 0 */
    int64_t page_limit;         /* list page size. Default 500 */
    int64_t watch_timeout_seconds; /* see kube_watch_options. Default 300 */
    int64_t idle_timeout_ms;       /* see kube_watch_options. Default 90000 */
    int64_t backoff_base_ms;       /* see kube_watch_options. Default 200 */
    int64_t backoff_cap_ms;        /* see kube_watch_options. Default 30000 */
};
void kube_informer_options_init(struct kube_informer_options *o);

/* Creates an informer (not started). c and res must outlive it; opts strings and handlers are
 * copied (handlers may be NULL). Returns 0 or -ENOMEM. */
int kube_informer_new(struct kube_client *c, const struct kube_resource *res,
                      const struct kube_informer_options *opts,
                      const struct kube_informer_handlers *handlers,
                      struct kube_informer **ret_informer);
/* Starts the watch (and resync) threads; the initial list happens on the watch thread, so this
 * does not block on the network. Returns 0, -EALREADY, -ENOMEM, -EAGAIN. */
int kube_informer_start(struct kube_informer *inf, struct kube_error *err);
/* Stops the threads and waits for them; after the return no handler runs. The cache stays
 * readable. Idempotent. Not from a handler. */
void kube_informer_stop(struct kube_informer *inf);
/* Stops and frees (dropping the cache's references). Accepts NULL. */
void kube_informer_free(struct kube_informer *inf);

/* 1 once the first list has been stored in the cache (and its add handlers called). */
int kube_informer_has_synced(struct kube_informer *inf);
/* Waits until synced or timeout_ms passed (no polling: condition variable).
 * Returns 0 or -ETIMEDOUT. */
int kube_informer_wait_synced(struct kube_informer *inf, int64_t timeout_ms);

/* The cached object for ns/name (ns ignored, pass NULL, for cluster-scoped resources) as a new
 * reference (read-only!), or NULL when absent. */
json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name);
/* Same by cache key "ns/name" or "name". */
json_t *kube_informer_get_key(struct kube_informer *inf, const char *key);
/* A new JSON array holding references to all cached objects (order unspecified), or NULL on
 * -ENOMEM. The objects are read-only. */
json_t *kube_informer_list(struct kube_informer *inf);
/* Same restricted to one namespace (uses the namespace index). */
json_t *kube_informer_list_by_namespace(struct kube_informer *inf, const char *ns);
/* Same restricted to objects with label key=value (uses the label index). */
json_t *kube_informer_list_by_label(struct kube_informer *inf, const char *key,
                                    const char *value);
/* Number of cached objects. */
size_t kube_informer_count(struct kube_informer *inf);
/* The cache key of obj ("ns/name" or "name") as a malloc'ed string, or NULL when obj has no
 * metadata.name (or on -ENOMEM). Pure. */
char *kube_informer_key_of(const json_t *obj);

/* Counters for tests and metrics. */
struct kube_informer_stats {
    uint64_t adds, updates, deletes; /* handler deliveries (resync updates included) */
    uint64_t relists;                /* full lists done (first one included) */
    uint64_t resyncs;                /* resync passes */
};
void kube_informer_get_stats(struct kube_informer *inf, struct kube_informer_stats *ret_stats);

#endif
