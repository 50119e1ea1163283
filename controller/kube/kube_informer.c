/* kube_informer: list+watch cache with namespace and label indexes.
 *
 * The cache and the indexes are jansson objects used as hash maps: cache maps key -> object,
 * ns_index maps namespace -> {key: true}, label_index maps "labelkey=value" -> {key: true}
 * ('=' cannot occur in a label key, so the joined string is unambiguous). All three change only
 * on the watch thread, under the write lock; readers take the read lock just long enough to
 * json_incref() what they return.
 *
 * Handlers are called after the write lock is released, under handler_lock, which serialises
 * the watch thread's deliveries with the resync thread's. Because only the watch thread writes,
 * the order of deliveries is the order of changes. */
#include "kube_informer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_error.h"
#include "kube_watch.h"

struct kube_informer {
    struct kube_client *client;
    const struct kube_resource *res;
    struct kube_informer_options opts;
    char *ns, *label_selector, *field_selector;
    struct kube_informer_handlers h;

    pthread_rwlock_t cache_lock;
    json_t *cache;       /* key -> object */
    json_t *ns_index;    /* ns -> {key: true} */
    json_t *label_index; /* "k=v" -> {key: true} */

    pthread_mutex_t handler_lock;

    pthread_mutex_t lock; /* synced, stop, stats; with cond */
    pthread_cond_t cond;
    int synced;
    int stopping;
    int started;
    struct kube_informer_stats stats;

    struct kube_watch *watch;
    pthread_t resync_thread;
    int resync_started;
};

void kube_informer_options_init(struct kube_informer_options *o) {
    memset(o, 0, sizeof(*o));
    o->page_limit = 500;
    o->watch_timeout_seconds = 300;
    o->idle_timeout_ms = 90000;
    o->backoff_base_ms = 200;
    o->backoff_cap_ms = 30000;
}

char *kube_informer_key_of(const json_t *obj) {
    const char *name = cm_json_get_str(obj, "metadata.name");
    if (!name || !*name)
        return NULL;
    const char *ns = cm_json_get_str(obj, "metadata.namespace");
    if (!ns || !*ns)
        return strdup(name);
    size_t n = strlen(ns) + strlen(name) + 2;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s/%s", ns, name);
    return k;
}

/* ---- index maintenance (write lock held) ---------------------------------------------- */

static void set_add(json_t *index, const char *set_name, const char *key) {
    json_t *set = json_object_get(index, set_name);
    if (!set) {
        set = json_object();
        if (!set || json_object_set_new(index, set_name, set) < 0)
            return;
    }
    json_object_set_new(set, key, json_true());
}

static void set_del(json_t *index, const char *set_name, const char *key) {
    json_t *set = json_object_get(index, set_name);
    if (!set)
        return;
    json_object_del(set, key);
    if (json_object_size(set) == 0)
        json_object_del(index, set_name);
}

static char *label_pair(const char *k, const json_t *v) {
    const char *s = json_string_value(v);
    if (!s)
        return NULL;
    size_t n = strlen(k) + strlen(s) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s=%s", k, s);
    return p;
}

static void index_obj(struct kube_informer *inf, const char *key, const json_t *obj, int add) {
    const char *ns = cm_json_get_str(obj, "metadata.namespace");
    if (ns && *ns) {
        if (add)
            set_add(inf->ns_index, ns, key);
        else
            set_del(inf->ns_index, ns, key);
    }
    json_t *labels = cm_json_get(obj, "metadata.labels");
    const char *lk;
    json_t *lv;
    json_object_foreach(labels, lk, lv) {
        char *pair = label_pair(lk, lv);
        if (!pair)
            continue;
        if (add)
            set_add(inf->label_index, pair, key);
        else
            set_del(inf->label_index, pair, key);
        free(pair);
    }
}

/* Stores obj under key (obj NULL: removes). Returns the previous object (reference passed to the
 * caller) or NULL. */
static json_t *cache_put(struct kube_informer *inf, const char *key, json_t *obj) {
    json_t *old = json_object_get(inf->cache, key);
    if (old) {
        json_incref(old);
        index_obj(inf, key, old, 0);
    }
    if (obj) {
        if (json_object_set(inf->cache, key, obj) == 0)
            index_obj(inf, key, obj, 1);
    } else {
        json_object_del(inf->cache, key);
    }
    return old;
}

/* ---- handler delivery ------------------------------------------------------------------ */

static void deliver_add(struct kube_informer *inf, json_t *obj) {
    pthread_mutex_lock(&inf->lock);
    inf->stats.adds++;
    pthread_mutex_unlock(&inf->lock);
    if (inf->h.add_cb)
        inf->h.add_cb(obj, inf->h.userdata);
}

static void deliver_update(struct kube_informer *inf, json_t *old, json_t *obj) {
    pthread_mutex_lock(&inf->lock);
    inf->stats.updates++;
    pthread_mutex_unlock(&inf->lock);
    if (inf->h.update_cb)
        inf->h.update_cb(old, obj, inf->h.userdata);
}

static void deliver_delete(struct kube_informer *inf, json_t *obj) {
    pthread_mutex_lock(&inf->lock);
    inf->stats.deletes++;
    pthread_mutex_unlock(&inf->lock);
    if (inf->h.delete_cb)
        inf->h.delete_cb(obj, inf->h.userdata);
}

/* ---- watch callbacks (watch thread) ---------------------------------------------------- */

static int on_event(enum kube_watch_event_type type, json_t *obj, void *ud) {
    struct kube_informer *inf = ud;
    if (type == KUBE_WATCH_BOOKMARK || type == KUBE_WATCH_ERROR)
        return 0;
    char *key = kube_informer_key_of(obj);
    if (!key)
        return 0;
    pthread_rwlock_wrlock(&inf->cache_lock);
    json_t *old = cache_put(inf, key, type == KUBE_WATCH_DELETED ? NULL : obj);
    pthread_rwlock_unlock(&inf->cache_lock);
    pthread_mutex_lock(&inf->handler_lock);
    if (type == KUBE_WATCH_DELETED)
        deliver_delete(inf, obj); /* the final state the server sent */
    else if (old)
        deliver_update(inf, old, obj);
    else
        deliver_add(inf, obj);
    pthread_mutex_unlock(&inf->handler_lock);
    json_decref(old);
    free(key);
    return 0;
}

/* A change found by a relist, delivered after the cache was swapped. */
struct change {
    int kind; /* 0 add, 1 update, 2 delete */
    json_t *old, *obj;
};

static int on_relist(char **ret_rv, void *ud) {
    struct kube_informer *inf = ud;
    struct kube_list_options lo = {
        .label_selector = inf->label_selector,
        .field_selector = inf->field_selector,
        .limit = inf->opts.page_limit > 0 ? inf->opts.page_limit : 500,
    };
    json_t *list = NULL;
    int r = kube_list_all(inf->client, inf->res, inf->ns, &lo, &list, NULL);
    if (r < 0)
        return r;
    const char *rv = cm_json_get_str(list, "metadata.resourceVersion");
    char *rv_copy = strdup(rv ? rv : "");
    json_t *items = json_object_get(list, "items");
    size_t n_items = json_array_size(items);
    json_t *fresh = json_object();
    struct change *ch = calloc(n_items + json_object_size(inf->cache) + 1, sizeof(*ch));
    if (!rv_copy || !fresh || !ch) {
        free(rv_copy);
        json_decref(fresh);
        free(ch);
        json_decref(list);
        return -ENOMEM;
    }
    size_t n_ch = 0, i;
    json_t *it;
    json_array_foreach(items, i, it) {
        char *key = kube_informer_key_of(it);
        if (key) {
            json_object_set(fresh, key, it);
            free(key);
        }
    }
    pthread_rwlock_wrlock(&inf->cache_lock);
    /* Deletions first (keys gone from the server), then adds/updates. */
    const char *key;
    json_t *old;
    void *tmp;
    json_object_foreach_safe(inf->cache, tmp, key, old) {
        if (!json_object_get(fresh, key)) {
            ch[n_ch].kind = 2;
            ch[n_ch].obj = json_incref(old);
            n_ch++;
        }
    }
    for (size_t k = 0; k < n_ch; k++) {
        char *dk = kube_informer_key_of(ch[k].obj);
        if (dk) {
            json_decref(cache_put(inf, dk, NULL));
            free(dk);
        }
    }
    json_t *nobj;
    json_object_foreach(fresh, key, nobj) {
        json_t *cur = json_object_get(inf->cache, key);
        if (!cur) {
            json_decref(cache_put(inf, key, nobj));
            ch[n_ch].kind = 0;
            ch[n_ch].obj = json_incref(nobj);
            n_ch++;
            continue;
        }
        const char *a = cm_json_get_str(cur, "metadata.resourceVersion");
        const char *b = cm_json_get_str(nobj, "metadata.resourceVersion");
        if (a && b && strcmp(a, b) == 0)
            continue; /* unchanged: keep the cached object */
        ch[n_ch].kind = 1;
        ch[n_ch].old = cache_put(inf, key, nobj);
        ch[n_ch].obj = json_incref(nobj);
        n_ch++;
    }
    pthread_rwlock_unlock(&inf->cache_lock);
    json_decref(fresh);
    json_decref(list);

    pthread_mutex_lock(&inf->handler_lock);
    for (size_t k = 0; k < n_ch; k++) {
        if (ch[k].kind == 0)
            deliver_add(inf, ch[k].obj);
        else if (ch[k].kind == 1)
            deliver_update(inf, ch[k].old, ch[k].obj);
        else
            deliver_delete(inf, ch[k].obj);
        json_decref(ch[k].old);
        json_decref(ch[k].obj);
    }
    pthread_mutex_unlock(&inf->handler_lock);
    free(ch);

    pthread_mutex_lock(&inf->lock);
    inf->stats.relists++;
    inf->synced = 1;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->lock);
    *ret_rv = rv_copy;
    return 0;
}

/* ---- resync ----------------------------------------------------------------------------- */

static void *resync_thread(void *arg) {
    struct kube_informer *inf = arg;
    pthread_mutex_lock(&inf->lock);
    int64_t next = cm_time_mono_ms() + inf->opts.resync_ms;
    while (!inf->stopping) {
        int64_t now = cm_time_mono_ms();
        if (now < next) {
            struct timespec ts = {.tv_sec = next / 1000,
                                  .tv_nsec = (long)(next % 1000) * 1000000L};
            pthread_cond_timedwait(&inf->cond, &inf->lock, &ts);
            continue;
        }
        next = now + inf->opts.resync_ms;
        if (!inf->synced)
            continue;
        pthread_mutex_unlock(&inf->lock);
        json_t *all = kube_informer_list(inf);
        size_t i;
        json_t *o;
        pthread_mutex_lock(&inf->handler_lock);
        json_array_foreach(all, i, o) deliver_update(inf, o, o);
        pthread_mutex_unlock(&inf->handler_lock);
        json_decref(all);
        pthread_mutex_lock(&inf->lock);
        inf->stats.resyncs++;
    }
    pthread_mutex_unlock(&inf->lock);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static int dup_opt(char **dst, const char *s) {
    if (!s || !*s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : -ENOMEM;
}

int kube_informer_new(struct kube_client *c, const struct kube_resource *res,
                      const struct kube_informer_options *opts,
                      const struct kube_informer_handlers *handlers,
                      struct kube_informer **ret_informer) {
    struct kube_informer *inf = calloc(1, sizeof(*inf));
    if (!inf)
        return -ENOMEM;
    inf->client = c;
    inf->res = res;
    if (opts)
        inf->opts = *opts;
    else
        kube_informer_options_init(&inf->opts);
    if (handlers)
        inf->h = *handlers;
    pthread_rwlock_init(&inf->cache_lock, NULL);
    pthread_mutex_init(&inf->handler_lock, NULL);
    pthread_mutex_init(&inf->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cond, &ca);
    pthread_condattr_destroy(&ca);
    inf->cache = json_object();
    inf->ns_index = json_object();
    inf->label_index = json_object();
    if (!inf->cache || !inf->ns_index || !inf->label_index ||
        (opts && (dup_opt(&inf->ns, opts->ns) < 0 ||
                  dup_opt(&inf->label_selector, opts->label_selector) < 0 ||
                  dup_opt(&inf->field_selector, opts->field_selector) < 0))) {
        kube_informer_free(inf);
        return -ENOMEM;
    }
    inf->opts.ns = inf->ns;
    inf->opts.label_selector = inf->label_selector;
    inf->opts.field_selector = inf->field_selector;
    *ret_informer = inf;
    return 0;
}

int kube_informer_start(struct kube_informer *inf, struct kube_error *err) {
    if (inf->started)
        return -EALREADY;
    struct kube_watch_options wo;
    kube_watch_options_init(&wo);
    wo.ns = inf->ns;
    wo.label_selector = inf->label_selector;
    wo.field_selector = inf->field_selector;
    if (inf->opts.watch_timeout_seconds > 0)
        wo.timeout_seconds = inf->opts.watch_timeout_seconds;
    if (inf->opts.idle_timeout_ms > 0)
        wo.idle_timeout_ms = inf->opts.idle_timeout_ms;
    if (inf->opts.backoff_base_ms > 0)
        wo.backoff_base_ms = inf->opts.backoff_base_ms;
    if (inf->opts.backoff_cap_ms > 0)
        wo.backoff_cap_ms = inf->opts.backoff_cap_ms;
    wo.event_cb = on_event;
    wo.relist_cb = on_relist;
    wo.userdata = inf;
    pthread_mutex_lock(&inf->lock);
    inf->stopping = 0;
    pthread_mutex_unlock(&inf->lock);
    int r = kube_watch_start(inf->client, inf->res, &wo, &inf->watch, err);
    if (r < 0)
        return r;
    if (inf->opts.resync_ms > 0) {
        if (pthread_create(&inf->resync_thread, NULL, resync_thread, inf) != 0) {
            kube_watch_free(inf->watch);
            inf->watch = NULL;
            return -EAGAIN;
        }
        inf->resync_started = 1;
    }
    inf->started = 1;
    return 0;
}

void kube_informer_stop(struct kube_informer *inf) {
    if (!inf)
        return;
    pthread_mutex_lock(&inf->lock);
    inf->stopping = 1;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->lock);
    if (inf->resync_started) {
        pthread_join(inf->resync_thread, NULL);
        inf->resync_started = 0;
    }
    kube_watch_free(inf->watch);
    inf->watch = NULL;
}

void kube_informer_free(struct kube_informer *inf) {
    if (!inf)
        return;
    kube_informer_stop(inf);
    json_decref(inf->cache);
    json_decref(inf->ns_index);
    json_decref(inf->label_index);
    free(inf->ns);
    free(inf->label_selector);
    free(inf->field_selector);
    pthread_rwlock_destroy(&inf->cache_lock);
    pthread_mutex_destroy(&inf->handler_lock);
    pthread_mutex_destroy(&inf->lock);
    pthread_cond_destroy(&inf->cond);
    free(inf);
}

int kube_informer_has_synced(struct kube_informer *inf) {
    pthread_mutex_lock(&inf->lock);
    int s = inf->synced;
    pthread_mutex_unlock(&inf->lock);
    return s;
}

int kube_informer_wait_synced(struct kube_informer *inf, int64_t timeout_ms) {
    int64_t until = cm_time_mono_ms() + timeout_ms;
    pthread_mutex_lock(&inf->lock);
    while (!inf->synced) {
        if (cm_time_mono_ms() >= until)
            break;
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000L};
        pthread_cond_timedwait(&inf->cond, &inf->lock, &ts);
    }
    int s = inf->synced;
    pthread_mutex_unlock(&inf->lock);
    return s ? 0 : -ETIMEDOUT;
}

/* ---- readers ------------------------------------------------------------------------------ */

json_t *kube_informer_get_key(struct kube_informer *inf, const char *key) {
    pthread_rwlock_rdlock(&inf->cache_lock);
    json_t *o = json_incref(json_object_get(inf->cache, key));
    pthread_rwlock_unlock(&inf->cache_lock);
    return o;
}

json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name) {
    if (!name)
        return NULL;
    if (!inf->res->namespaced || !ns || !*ns)
        return kube_informer_get_key(inf, name);
    char small[384];
    size_t n = strlen(ns) + strlen(name) + 2;
    char *key = n <= sizeof(small) ? small : malloc(n);
    if (!key)
        return NULL;
    /* n was sized for the whole key; checking the result tells -O2's truncation warning so. */
    if (snprintf(key, n, "%s/%s", ns, name) >= (int)n) {
        if (key != small)
            free(key);
        return NULL;
    }
    json_t *o = kube_informer_get_key(inf, key);
    if (key != small)
        free(key);
    return o;
}

json_t *kube_informer_list(struct kube_informer *inf) {
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    pthread_rwlock_rdlock(&inf->cache_lock);
    const char *k;
    json_t *o;
    json_object_foreach(inf->cache, k, o) {
        if (json_array_append(arr, o) < 0) {
            pthread_rwlock_unlock(&inf->cache_lock);
            json_decref(arr);
            return NULL;
        }
    }
    pthread_rwlock_unlock(&inf->cache_lock);
    return arr;
}

static json_t *list_set(struct kube_informer *inf, json_t *index, const char *set_name) {
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    pthread_rwlock_rdlock(&inf->cache_lock);
    json_t *set = json_object_get(index, set_name);
    const char *k;
    json_t *v;
    json_object_foreach(set, k, v) {
        json_t *o = json_object_get(inf->cache, k);
        if (o && json_array_append(arr, o) < 0) {
            pthread_rwlock_unlock(&inf->cache_lock);
            json_decref(arr);
            return NULL;
        }
    }
    pthread_rwlock_unlock(&inf->cache_lock);
    return arr;
}

json_t *kube_informer_list_by_namespace(struct kube_informer *inf, const char *ns) {
    if (!ns)
        return json_array();
    return list_set(inf, inf->ns_index, ns);
}

json_t *kube_informer_list_by_label(struct kube_informer *inf, const char *key,
                                    const char *value) {
    if (!key || !value)
        return json_array();
    size_t n = strlen(key) + strlen(value) + 2;
    char *pair = malloc(n);
    if (!pair)
        return NULL;
    snprintf(pair, n, "%s=%s", key, value);
    json_t *arr = list_set(inf, inf->label_index, pair);
    free(pair);
    return arr;
}

size_t kube_informer_count(struct kube_informer *inf) {
    pthread_rwlock_rdlock(&inf->cache_lock);
    size_t n = json_object_size(inf->cache);
    pthread_rwlock_unlock(&inf->cache_lock);
    return n;
}

void kube_informer_get_stats(struct kube_informer *inf, struct kube_informer_stats *ret_stats) {
    pthread_mutex_lock(&inf->lock);
    *ret_stats = inf->stats;
    pthread_mutex_unlock(&inf->lock);
}
