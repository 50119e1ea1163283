/* kl_store: kube-lite's object store: resource types, objects, the global resourceVersion and
 * the bounded history of watch events.
 *
 * Objects are kept as immutable, reference-counted serialised JSON (struct kl_obj), not as
 * jansson trees: a GET writes the stored bytes as they are, a watch event shares the bytes of
 * the object version it announces, and 10,000 objects cost their text plus a small index
 * (labels, ownerReferences) instead of a tree of allocations each. Writers parse, change and
 * serialise again, which costs microseconds.
 *
 * Locking: one read-write lock for everything (types, objects, resourceVersion, history).
 * Readers take it shared, look up, take a reference and release it before any network I/O.
 * Writers (kl_store_put/_remove) run under the exclusive lock; every write gets the next
 * resourceVersion and exactly one event, so history slot = rv % capacity.
 * Watchers sleep on a condition variable (kl_store_wait) that writers broadcast.
 *
 * Each resource type holds its objects in an array sorted by key ("ns/name", or "name" for
 * cluster-scoped kinds), the order etcd lists them in, so lists and continue tokens are binary
 * searches. Types are never freed while the store lives (a deleted CRD's type is marked
 * removed), so a borrowed struct kl_rtype pointer stays valid. */
#ifndef KL_STORE_H
#define KL_STORE_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct kl_schema;
struct kl_persist;

/* One stored version of an object. Immutable after creation; share with kl_obj_ref(). */
struct kl_obj {
    atomic_int ref;
    uint64_t rv;
    char *key;        /* "ns/name" or "name" */
    char *ns;         /* "" for cluster-scoped */
    const char *name; /* points into key */
    char *uid;
    json_t *labels;   /* metadata.labels or NULL */
    json_t *owners;   /* metadata.ownerReferences or NULL */
    int deleting;     /* metadata.deletionTimestamp is set */
    int n_finalizers;
    size_t len;
    char *json; /* compact serialisation, NUL-terminated */
};

struct kl_obj *kl_obj_ref(struct kl_obj *o);
/* Drops a reference; frees on the last. Accepts NULL. */
void kl_obj_unref(struct kl_obj *o);
/* A new mutable tree parsed from the object's text (NULL on -ENOMEM). */
json_t *kl_obj_parse(const struct kl_obj *o);

/* Special behaviour of some built-in kinds, for the API layer. */
enum kl_kind_flag {
    KL_KIND_PLAIN,     /* nothing special */
    KL_KIND_NAMESPACE, /* namespaces: Terminating, content deletion */
    KL_KIND_POD,       /* pods: eviction, status reset on create */
    KL_KIND_NODE,      /* nodes: status settable on create */
    KL_KIND_CRD,       /* customresourcedefinitions: install/remove types */
    KL_KIND_PDB,       /* poddisruptionbudgets */
    KL_KIND_TOKENREVIEW,
    KL_KIND_SSAR,      /* selfsubjectaccessreviews / subjectaccessreviews */
    KL_KIND_SSR,       /* selfsubjectreviews */
    KL_KIND_CUSTOM,    /* a custom resource */
};

/* One served version of a type. For built-ins only name is set. */
struct kl_rversion {
    char *name;
    int storage;
    int status_sub;           /* has the status subresource */
    struct kl_schema *schema; /* compiled openAPIV3Schema (custom resources), or NULL */
    json_t *raw_schema;       /* the openAPIV3Schema as given, or NULL */
    json_t *columns;          /* additionalPrinterColumns (CRD form), or NULL for defaults */
};

struct kl_rtype {
    char *group;    /* "" for the core group */
    char *resource; /* plural */
    char *singular;
    char *kind;
    char *list_kind;
    int namespaced;
    json_t *short_names; /* array of strings */
    json_t *categories;  /* array of strings */
    struct kl_rversion *versions;
    size_t n_versions;
    enum kl_kind_flag flag;
    int create_only;       /* tokenreviews and the like: POST only, nothing stored */
    int has_generation;    /* metadata.generation is maintained */
    int return_deleted;    /* DELETE answers with the object rather than a Status */
    int removed;           /* the CRD behind it was deleted */
    json_t *crd_uid;       /* custom resources: the owning CRD's uid (string) */
    /* objects, sorted by key; guarded by the store lock */
    struct kl_obj **objs;
    size_t n, alloc;
};

/* The version struct for name, or NULL when the type does not serve it. */
const struct kl_rversion *kl_rtype_version(const struct kl_rtype *rt, const char *version);
/* The storage version (the first when none is marked). */
const struct kl_rversion *kl_rtype_storage(const struct kl_rtype *rt);
/* "hosts.commissaire.io" or "configmaps": the resource as error messages name it. Writes into
 * buf (size n) and returns buf. */
const char *kl_rtype_qualified(const struct kl_rtype *rt, char *buf, size_t n);

enum kl_event_type { KL_EV_ADDED, KL_EV_MODIFIED, KL_EV_DELETED };
extern const char *const kl_event_type_names[];

struct kl_event {
    uint64_t rv;
    enum kl_event_type type;
    struct kl_rtype *rt;
    struct kl_obj *obj;  /* the new version (for DELETED: the last version, with the delete rv) */
    struct kl_obj *prev; /* the version before, or NULL */
};

struct kl_store {
    pthread_rwlock_t lock;
    uint64_t rv;
    struct kl_rtype **types;
    size_t n_types;
    /* history: slot rv % hist_cap holds the event of rv, for rv in [first retained, rv] */
    struct kl_event *hist;
    size_t hist_cap;
    uint64_t hist_floor; /* events with rv < floor are gone */
    /* Watcher wake-ups: a futex on ev_seq rather than a condition variable, because a
     * broadcast to a hundred watchers would make each re-take the condition's mutex in turn
     * (a convoy that dominated the cost of delivering events). */
    _Atomic uint32_t ev_seq;    /* bumped on every announcement */
    _Atomic uint64_t ev_rv;     /* last rv announced to watchers */
    _Atomic uint64_t ev_epoch;  /* bumped to end every watch (fault injection, shutdown) */
    atomic_int stopping;
    struct kl_persist *persist; /* NULL: in memory only */
    uint64_t persist_off;       /* log offset of the last write (for kl_store_sync) */
    uint64_t writes;            /* number of writes since start */
};

/* Initialises an empty store with a history of hist_cap events. Returns 0 or -ENOMEM. */
int kl_store_init(struct kl_store *s, size_t hist_cap);
/* Frees everything (types, objects, history). No thread may use the store any more. */
void kl_store_done(struct kl_store *s);

/* Adds a type (the store takes ownership of rt). Caller holds the write lock (or is alone). */
int kl_store_add_type(struct kl_store *s, struct kl_rtype *rt);
/* The served, non-removed type for group/resource, or NULL. Caller holds the lock. */
struct kl_rtype *kl_store_find_type(struct kl_store *s, const char *group, const char *resource);
/* Frees a type that was never added. */
void kl_rtype_free(struct kl_rtype *rt);

/* The stored object ns/name (ns "" for cluster-scoped), BORROWED under the lock, or NULL. */
struct kl_obj *kl_store_get(struct kl_rtype *rt, const char *ns, const char *name);
/* Index of the first object whose key is > after (after NULL or "": from the start), limited to
 * namespace ns (NULL: all). Objects of namespace ns are contiguous from there. */
size_t kl_store_lower_bound(struct kl_rtype *rt, const char *ns, const char *after);

/* Stores doc (BORROWED; its metadata.resourceVersion is set to the new rv in place) as the new
 * version of its object: assigns the next resourceVersion, replaces or inserts, records the event
 * (ADDED when new, else MODIFIED) and appends to the persistence log. Caller holds the write
 * lock. Returns 0 and, when ret_obj is not NULL, a new reference in *ret_obj; -ENOMEM, -EIO
 * (log write failed: nothing changed). */
int kl_store_put(struct kl_store *s, struct kl_rtype *rt, json_t *doc, struct kl_obj **ret_obj);
/* Removes ns/name, publishing doc (BORROWED, the final state; its resourceVersion is set to the
 * delete's rv) as the DELETED event. Caller holds the write lock. Returns 0, -ENOENT, -ENOMEM,
 * -EIO. When ret_obj is not NULL it gets a new reference to the final version. */
int kl_store_remove(struct kl_store *s, struct kl_rtype *rt, const char *ns, const char *name,
                    json_t *doc, struct kl_obj **ret_obj);
/* Inserts an object read from persistence without a new rv or event. Caller is alone. */
int kl_store_load(struct kl_store *s, struct kl_rtype *rt, json_t *doc);
/* Removes every object of rt and marks it removed (after its CRD is gone; no events: the
 * objects were deleted one by one before). Caller holds the write lock. */
void kl_store_remove_type(struct kl_store *s, struct kl_rtype *rt);

/* Wakes every watcher so that it re-checks the history (after dropping it). */
void kl_store_wake_watchers(struct kl_store *s);
/* Wakes watchers after writes; call after releasing the write lock. */
void kl_store_notify(struct kl_store *s);
/* Makes writes durable (fsync of the log up to the last write); call after releasing the write
 * lock and before answering. Returns 0 or -EIO. No-op without persistence. */
int kl_store_sync(struct kl_store *s);

/* Sleeps until an event after rv exists, the epoch changes, the store stops, or timeout_ms
 * passes. Returns 1 when there may be events, 0 on timeout, -ECANCELED when the epoch changed
 * or the store is stopping. */
int kl_store_wait(struct kl_store *s, uint64_t rv, uint64_t epoch, int timeout_ms);
/* The current watch epoch. */
uint64_t kl_store_epoch(struct kl_store *s);
/* Ends every watch (fault injection, shutdown). */
void kl_store_close_watches(struct kl_store *s, int stopping);
/* Forgets the history: the oldest watchable rv becomes the current one. Returns it. */
uint64_t kl_store_drop_history(struct kl_store *s);

/* Copies up to max events with rv > after (of rt only, when rt is not NULL) into out, with
 * references taken (release with kl_event_done). Caller holds the read lock. Returns the count
 * (>= 0) and sets *ret_scanned to the highest rv examined; -ESTALE when events after `after` are
 * no longer retained (the caller answers 410 Expired). */
int kl_store_events_since(struct kl_store *s, struct kl_rtype *rt, uint64_t after,
                          struct kl_event *out, size_t max, uint64_t *ret_scanned);
void kl_event_done(struct kl_event *ev);
/* The oldest rv from which a watch can still resume (rv >= this - 1 is fine). */
uint64_t kl_store_oldest(struct kl_store *s);

#endif
