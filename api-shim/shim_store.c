#include "shim_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_error.h"
#include "kube_informer.h"
#include "shim_render.h"

const struct kube_resource SHIM_RES_HOSTS = { SHIM_GROUP, "v1alpha1", "hosts", 1 };
const struct kube_resource SHIM_RES_CLUSTERS = { SHIM_GROUP, "v1alpha1", "clusters", 1 };
const struct kube_resource SHIM_RES_OPERATIONS = { SHIM_GROUP, "v1alpha1", "operations", 1 };
const struct kube_resource SHIM_RES_NETWORKS = { SHIM_GROUP, "v1alpha1", "networks", 1 };
const struct kube_resource SHIM_RES_CMS = { SHIM_GROUP, "v1alpha1", "containermanagers", 1 };

/* How long a deletion hides older watch events for the same name. */
#define TOMBSTONE_MS (5 * 60 * 1000)

struct kind_cache {
    struct shim_store *store;
    enum shim_kind kind;
    pthread_rwlock_t lock;
    json_t *objs;     /* name -> object */
    json_t *tombs;    /* name -> [resourceVersion, mono ms] */
    json_t *by_addr;  /* hosts: address -> name */
    json_t *rendered; /* hosts: name -> REST JSON text (string) */
    uint64_t gen;     /* bumped on every change: invalidates list_text */
    struct shim_blob *list_blob; /* hosts: cached REST JSON array of all hosts */
    uint64_t list_gen;
    pthread_mutex_t list_lock;
    struct kube_informer *inf;
};

struct shim_store {
    atomic_int ready; /* sticky: once every informer has synced, it stays so */
    atomic_uint_fast64_t generation; /* bumped on every change of any kind */
    struct kube_client *client;
    char *ns;
    int watch_nodes;
    struct kind_cache k[SHIM_K_COUNT_];
};

const struct kube_resource *shim_kind_resource(enum shim_kind k) {
    switch (k) {
    case SHIM_K_HOST: return &SHIM_RES_HOSTS;
    case SHIM_K_CLUSTER: return &SHIM_RES_CLUSTERS;
    case SHIM_K_OPERATION: return &SHIM_RES_OPERATIONS;
    case SHIM_K_NETWORK: return &SHIM_RES_NETWORKS;
    case SHIM_K_CM: return &SHIM_RES_CMS;
    case SHIM_K_NODE: return &KUBE_RES_NODES;
    default: return NULL;
    }
}

const char *shim_kind_name(enum shim_kind k) {
    static const char *const names[SHIM_K_COUNT_] = { "hosts", "clusters", "operations",
                                                      "networks", "containermanagers", "nodes" };

    return (unsigned)k < SHIM_K_COUNT_ ? names[k] : "unknown";
}

/* resourceVersion as a number for ordering; -1 when absent or not numeric (then it never
 * blocks an update: an opaque version cannot be ordered). */
static int64_t rv_of(const json_t *o) {
    const char *s = cm_json_get_str(o, "metadata.resourceVersion");
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        return -1;
    return v;
}

/* Called with the write lock held. */
static void index_remove(struct kind_cache *kc, const char *name, json_t *old) {
    if (kc->kind == SHIM_K_HOST && old) {
        const char *addr = cm_json_get_str(old, "spec.address");
        const char *cur = addr ? json_string_value(json_object_get(kc->by_addr, addr)) : NULL;

        if (cur && strcmp(cur, name) == 0)
            json_object_del(kc->by_addr, addr);
        json_object_del(kc->rendered, name);
    }
}

static void forget_locked(struct kind_cache *kc, const char *name, int64_t rv) {
    json_t *old = json_object_get(kc->objs, name);
    int64_t now = cm_time_mono_ms();
    const char *k;
    json_t *v, *tmp;

    if (old) {
        int64_t orv = rv_of(old);

        if (rv >= 0 && orv > rv)
            return; /* the cache already holds something newer (a re-create) */
        if (orv > rv)
            rv = orv;
        json_incref(old);
        json_object_del(kc->objs, name);
        index_remove(kc, name, old);
        json_decref(old);
        kc->gen++;
        atomic_fetch_add(&kc->store->generation, 1);
    }
    json_object_set_new(kc->tombs, name, json_pack("[I, I]", (json_int_t)rv, (json_int_t)now));
    json_object_foreach_safe(kc->tombs, tmp, k, v) {
        if (now - json_integer_value(json_array_get(v, 1)) > TOMBSTONE_MS)
            json_object_del(kc->tombs, k);
    }
}

static void apply_locked(struct kind_cache *kc, json_t *obj) {
    const char *name = cm_json_get_str(obj, "metadata.name");
    json_t *old, *tomb;
    int64_t rv = rv_of(obj);

    if (!name)
        return;
    if (cm_json_get(obj, "metadata.deletionTimestamp")) {
        forget_locked(kc, name, rv);
        return;
    }
    tomb = json_object_get(kc->tombs, name);
    if (tomb && rv >= 0 && rv <= json_integer_value(json_array_get(tomb, 0)))
        return;
    old = json_object_get(kc->objs, name);
    if (old && rv >= 0 && rv_of(old) > rv)
        return;
    if (tomb)
        json_object_del(kc->tombs, name);
    if (old) {
        json_incref(old);
        index_remove(kc, name, old);
    }
    json_object_set(kc->objs, name, obj);
    if (kc->kind == SHIM_K_HOST) {
        const char *addr = cm_json_get_str(obj, "spec.address");
        json_t *rest = shim_render_host(obj);
        char *text = rest ? shim_json_text(rest) : NULL;

        if (addr)
            json_object_set_new(kc->by_addr, addr, json_string(name));
        if (text)
            json_object_set_new(kc->rendered, name, json_string(text));
        free(text);
        json_decref(rest);
    }
    json_decref(old);
    kc->gen++;
    atomic_fetch_add(&kc->store->generation, 1);
}

void shim_store_apply(struct shim_store *s, enum shim_kind k, json_t *obj) {
    struct kind_cache *kc = &s->k[k];

    if (!obj)
        return;
    pthread_rwlock_wrlock(&kc->lock);
    apply_locked(kc, obj);
    pthread_rwlock_unlock(&kc->lock);
}

void shim_store_forget(struct shim_store *s, enum shim_kind k, const char *name, const json_t *last) {
    struct kind_cache *kc = &s->k[k];

    pthread_rwlock_wrlock(&kc->lock);
    forget_locked(kc, name, last ? rv_of(last) : -1);
    pthread_rwlock_unlock(&kc->lock);
}

static void add_cb(json_t *obj, void *ud) {
    struct kind_cache *kc = ud;

    shim_store_apply(kc->store, kc->kind, obj);
}

static void update_cb(json_t *old_obj, json_t *new_obj, void *ud) {
    struct kind_cache *kc = ud;

    (void)old_obj;
    shim_store_apply(kc->store, kc->kind, new_obj);
}

static void delete_cb(json_t *obj, void *ud) {
    struct kind_cache *kc = ud;
    const char *name = cm_json_get_str(obj, "metadata.name");

    if (name)
        shim_store_forget(kc->store, kc->kind, name, obj);
}

int shim_store_new(struct kube_client *c, const char *ns, int watch_nodes, struct shim_store **ret) {
    struct shim_store *s = calloc(1, sizeof *s);

    if (!s)
        return -ENOMEM;
    s->client = c;
    s->watch_nodes = watch_nodes;
    s->ns = strdup(ns);
    if (!s->ns)
        goto oom;
    for (int i = 0; i < SHIM_K_COUNT_; i++) {
        struct kind_cache *kc = &s->k[i];

        kc->store = s;
        kc->kind = (enum shim_kind)i;
        pthread_rwlock_init(&kc->lock, NULL);
        pthread_mutex_init(&kc->list_lock, NULL);
        kc->objs = json_object();
        kc->tombs = json_object();
        kc->by_addr = json_object();
        kc->rendered = json_object();
        if (!kc->objs || !kc->tombs || !kc->by_addr || !kc->rendered)
            goto oom;
    }
    *ret = s;
    return 0;
oom:
    shim_store_free(s);
    return -ENOMEM;
}

int shim_store_start(struct shim_store *s, struct kube_error *err) {
    for (int i = 0; i < SHIM_K_COUNT_; i++) {
        struct kind_cache *kc = &s->k[i];
        struct kube_informer_options o;
        struct kube_informer_handlers h = { add_cb, update_cb, delete_cb, kc };
        int rc;

        if (i == SHIM_K_NODE && !s->watch_nodes)
            continue;
        kube_informer_options_init(&o);
        if (i == SHIM_K_NODE)
            /* Only the nodes commissaire registered: a big cluster's other nodes are none of
             * the shim's business and would only cost memory. */
            o.label_selector = SHIM_LABEL_CLUSTER;
        else
            o.ns = s->ns;
        rc = kube_informer_new(s->client, shim_kind_resource((enum shim_kind)i), &o, &h, &kc->inf);
        if (rc < 0)
            return rc;
        rc = kube_informer_start(kc->inf, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int shim_store_ready(struct shim_store *s) {
    if (atomic_load_explicit(&s->ready, memory_order_acquire))
        return 1;
    for (int i = 0; i < SHIM_K_NODE; i++)
        if (!s->k[i].inf || !kube_informer_has_synced(s->k[i].inf))
            return 0;
    atomic_store_explicit(&s->ready, 1, memory_order_release);
    return 1;
}

int shim_store_wait_ready(struct shim_store *s, int64_t timeout_ms) {
    int64_t end = cm_time_mono_ms() + timeout_ms;

    for (int i = 0; i < SHIM_K_NODE; i++) {
        int64_t left = end - cm_time_mono_ms();

        if (!s->k[i].inf || left < 0 || kube_informer_wait_synced(s->k[i].inf, left) < 0)
            return -ETIMEDOUT;
    }
    return 0;
}

void shim_store_free(struct shim_store *s) {
    if (!s)
        return;
    for (int i = 0; i < SHIM_K_COUNT_; i++)
        if (s->k[i].inf)
            kube_informer_stop(s->k[i].inf);
    for (int i = 0; i < SHIM_K_COUNT_; i++) {
        struct kind_cache *kc = &s->k[i];

        kube_informer_free(kc->inf);
        json_decref(kc->objs);
        json_decref(kc->tombs);
        json_decref(kc->by_addr);
        json_decref(kc->rendered);
        shim_blob_unref(kc->list_blob);
        pthread_rwlock_destroy(&kc->lock);
        pthread_mutex_destroy(&kc->list_lock);
    }
    free(s->ns);
    free(s);
}

json_t *shim_store_get(struct shim_store *s, enum shim_kind k, const char *name) {
    struct kind_cache *kc = &s->k[k];
    json_t *o;

    pthread_rwlock_rdlock(&kc->lock);
    o = json_incref(json_object_get(kc->objs, name));
    pthread_rwlock_unlock(&kc->lock);
    return o;
}

json_t *shim_store_host_by_address(struct shim_store *s, const char *address) {
    struct kind_cache *kc = &s->k[SHIM_K_HOST];
    const char *name;
    json_t *o = NULL;

    pthread_rwlock_rdlock(&kc->lock);
    name = json_string_value(json_object_get(kc->by_addr, address));
    if (name)
        o = json_incref(json_object_get(kc->objs, name));
    pthread_rwlock_unlock(&kc->lock);
    return o;
}

static int cmp_key(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted keys of an object; called with a lock held; the strings belong to the object. */
static const char **sorted_keys(json_t *obj, size_t *ret_n) {
    size_t n = json_object_size(obj), i = 0;
    const char **keys = calloc(n + 1, sizeof *keys);
    const char *k;
    json_t *v;

    if (!keys)
        return NULL;
    json_object_foreach(obj, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_key);
    *ret_n = n;
    return keys;
}

json_t *shim_store_list(struct shim_store *s, enum shim_kind k) {
    struct kind_cache *kc = &s->k[k];
    json_t *arr = json_array();
    const char **keys;
    size_t n = 0;

    if (!arr)
        return NULL;
    pthread_rwlock_rdlock(&kc->lock);
    keys = sorted_keys(kc->objs, &n);
    for (size_t i = 0; keys && i < n; i++)
        json_array_append(arr, json_object_get(kc->objs, keys[i]));
    pthread_rwlock_unlock(&kc->lock);
    if (!keys) {
        json_decref(arr);
        return NULL;
    }
    free(keys);
    return arr;
}

json_t *shim_store_cluster_members(struct shim_store *s, const char *cluster) {
    struct kind_cache *kc = &s->k[SHIM_K_HOST];
    json_t *arr = json_array(), *v;
    const char *k;

    if (!arr)
        return NULL;
    pthread_rwlock_rdlock(&kc->lock);
    /* A scan: with a thousand hosts it is a few microseconds, cheaper than keeping an index
     * consistent across membership moves. */
    json_object_foreach(kc->objs, k, v) {
        const char *c = cm_json_get_str(v, "spec.cluster");

        if (c && strcmp(c, cluster) == 0)
            json_array_append(arr, v);
    }
    pthread_rwlock_unlock(&kc->lock);
    return arr;
}

uint64_t shim_store_generation(struct shim_store *s) {
    return atomic_load(&s->generation);
}

size_t shim_store_count(struct shim_store *s, enum shim_kind k) {
    struct kind_cache *kc = &s->k[k];
    size_t n;

    pthread_rwlock_rdlock(&kc->lock);
    n = json_object_size(kc->objs);
    pthread_rwlock_unlock(&kc->lock);
    return n;
}

int shim_store_host_json(struct shim_store *s, const char *address, struct cm_buf *out) {
    struct kind_cache *kc = &s->k[SHIM_K_HOST];
    const char *name;
    json_t *text;
    int rc = -ENOENT;

    pthread_rwlock_rdlock(&kc->lock);
    name = json_string_value(json_object_get(kc->by_addr, address));
    text = name ? json_object_get(kc->rendered, name) : NULL;
    if (text)
        rc = cm_buf_append(out, json_string_value(text), json_string_length(text));
    pthread_rwlock_unlock(&kc->lock);
    return rc;
}

struct shim_blob *shim_blob_ref(struct shim_blob *b) {
    if (b)
        atomic_fetch_add(&b->refs, 1);
    return b;
}

void shim_blob_unref(struct shim_blob *b) {
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

struct shim_blob *shim_store_hosts_blob(struct shim_store *s) {
    struct kind_cache *kc = &s->k[SHIM_K_HOST];
    struct shim_blob *out = NULL;

    pthread_rwlock_rdlock(&kc->lock);
    pthread_mutex_lock(&kc->list_lock);
    /* The whole array is rebuilt only after a host changed; between changes every GET of the
     * list shares it. */
    if (!kc->list_blob || kc->list_gen != kc->gen) {
        struct cm_buf b;
        const char **keys;
        size_t n = 0;
        int rc;

        cm_buf_init(&b, 0);
        keys = sorted_keys(kc->rendered, &n);
        rc = keys ? cm_buf_puts(&b, "[") : -ENOMEM;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            json_t *t = json_object_get(kc->rendered, keys[i]);

            if (i)
                rc = cm_buf_puts(&b, ", ");
            if (rc == 0)
                rc = cm_buf_append(&b, json_string_value(t), json_string_length(t));
        }
        if (rc == 0)
            rc = cm_buf_puts(&b, "]");
        free(keys);
        if (rc == 0) {
            struct shim_blob *nb = malloc(sizeof *nb + b.len + 1);

            if (nb) {
                atomic_init(&nb->refs, 1);
                nb->len = b.len;
                memcpy(nb->data, b.data, b.len + 1);
                shim_blob_unref(kc->list_blob);
                kc->list_blob = nb;
                kc->list_gen = kc->gen;
            }
        }
        cm_buf_done(&b);
    }
    if (kc->list_gen == kc->gen)
        out = shim_blob_ref(kc->list_blob);
    pthread_mutex_unlock(&kc->list_lock);
    pthread_rwlock_unlock(&kc->lock);
    return out;
}

int shim_store_hosts_json(struct shim_store *s, struct cm_buf *out) {
    struct shim_blob *b = shim_store_hosts_blob(s);
    int rc;

    if (!b)
        return -ENOMEM;
    rc = cm_buf_append(out, b->data, b->len);
    shim_blob_unref(b);
    return rc;
}
