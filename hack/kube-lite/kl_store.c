#include "kl_store.h"

#include "cm_json.h"
#include "kl_persist.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if __has_include("kl_schema.h")
#include "kl_schema.h"
#endif

const char *const kl_event_type_names[] = {"ADDED", "MODIFIED", "DELETED"};

/* ---- objects ------------------------------------------------------------------------------- */

struct kl_obj *kl_obj_ref(struct kl_obj *o) {
    if (o)
        atomic_fetch_add(&o->ref, 1);
    return o;
}

void kl_obj_unref(struct kl_obj *o) {
    if (!o || atomic_fetch_sub(&o->ref, 1) != 1)
        return;
    free(o->key);
    free(o->ns);
    free(o->uid);
    json_decref(o->labels);
    json_decref(o->owners);
    free(o->json);
    free(o);
}

json_t *kl_obj_parse(const struct kl_obj *o) {
    return json_loadb(o->json, o->len, 0, NULL);
}

/* Builds the stored form of doc. */
static struct kl_obj *obj_new(json_t *doc, int namespaced, uint64_t rv) {
    struct kl_obj *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    atomic_init(&o->ref, 1);
    o->rv = rv;
    const char *ns = namespaced ? cm_json_get_str(doc, "metadata.namespace") : NULL;
    const char *name = cm_json_get_str(doc, "metadata.name");
    const char *uid = cm_json_get_str(doc, "metadata.uid");
    o->ns = strdup(ns ? ns : "");
    if (namespaced) {
        if (asprintf(&o->key, "%s/%s", ns ? ns : "", name ? name : "") < 0)
            o->key = NULL;
    } else {
        o->key = strdup(name ? name : "");
    }
    o->uid = strdup(uid ? uid : "");
    if (o->key)
        o->name = namespaced ? strchr(o->key, '/') + 1 : o->key;
    json_t *labels = cm_json_get(doc, "metadata.labels");
    if (json_is_object(labels) && json_object_size(labels) > 0)
        o->labels = json_deep_copy(labels);
    json_t *owners = cm_json_get(doc, "metadata.ownerReferences");
    if (json_is_array(owners) && json_array_size(owners) > 0)
        o->owners = json_deep_copy(owners);
    o->deleting = cm_json_get_str(doc, "metadata.deletionTimestamp") != NULL;
    json_t *fin = cm_json_get(doc, "metadata.finalizers");
    o->n_finalizers = json_is_array(fin) ? (int)json_array_size(fin) : 0;
    o->json = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!o->ns || !o->key || !o->uid || !o->json) {
        kl_obj_unref(o);
        return NULL;
    }
    o->len = strlen(o->json);
    return o;
}

/* ---- types --------------------------------------------------------------------------------- */

const struct kl_rversion *kl_rtype_version(const struct kl_rtype *rt, const char *version) {
    for (size_t i = 0; i < rt->n_versions; i++)
        if (strcmp(rt->versions[i].name, version) == 0)
            return &rt->versions[i];
    return NULL;
}

const struct kl_rversion *kl_rtype_storage(const struct kl_rtype *rt) {
    for (size_t i = 0; i < rt->n_versions; i++)
        if (rt->versions[i].storage)
            return &rt->versions[i];
    return rt->n_versions ? &rt->versions[0] : NULL;
}

const char *kl_rtype_qualified(const struct kl_rtype *rt, char *buf, size_t n) {
    if (rt->group[0])
        snprintf(buf, n, "%s.%s", rt->resource, rt->group);
    else
        snprintf(buf, n, "%s", rt->resource);
    return buf;
}

void kl_rtype_free(struct kl_rtype *rt) {
    if (!rt)
        return;
    for (size_t i = 0; i < rt->n; i++)
        kl_obj_unref(rt->objs[i]);
    free(rt->objs);
    for (size_t i = 0; i < rt->n_versions; i++) {
        free(rt->versions[i].name);
#if __has_include("kl_schema.h")
        kl_schema_free(rt->versions[i].schema);
#endif
        json_decref(rt->versions[i].raw_schema);
        json_decref(rt->versions[i].columns);
    }
    free(rt->versions);
    free(rt->group);
    free(rt->resource);
    free(rt->singular);
    free(rt->kind);
    free(rt->list_kind);
    json_decref(rt->short_names);
    json_decref(rt->categories);
    json_decref(rt->crd_uid);
    free(rt);
}

int kl_store_add_type(struct kl_store *s, struct kl_rtype *rt) {
    struct kl_rtype **nt = realloc(s->types, (s->n_types + 1) * sizeof(*nt));
    if (!nt)
        return -ENOMEM;
    s->types = nt;
    s->types[s->n_types++] = rt;
    return 0;
}

struct kl_rtype *kl_store_find_type(struct kl_store *s, const char *group, const char *resource) {
    for (size_t i = 0; i < s->n_types; i++) {
        struct kl_rtype *rt = s->types[i];
        if (!rt->removed && strcmp(rt->resource, resource) == 0 && strcmp(rt->group, group) == 0)
            return rt;
    }
    return NULL;
}

/* ---- the sorted object array --------------------------------------------------------------- */

static int key_cmp(const char *a_ns, const char *a_name, const struct kl_obj *b, int namespaced) {
    if (!namespaced)
        return strcmp(a_name, b->key);
    /* compare "a_ns/a_name" with b->key without building the string */
    const char *k = b->key;
    size_t nl = strlen(a_ns);
    int c = strncmp(a_ns, k, nl);
    if (c)
        return c;
    if (k[nl] != '/')
        return (unsigned char)'/' - (unsigned char)k[nl];
    return strcmp(a_name, k + nl + 1);
}

/* Index of the first object whose key is >= ns/name; *found set when equal. */
static size_t find_pos(struct kl_rtype *rt, const char *ns, const char *name, int *found) {
    size_t lo = 0, hi = rt->n;
    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(ns, name, rt->objs[mid], rt->namespaced);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct kl_obj *kl_store_get(struct kl_rtype *rt, const char *ns, const char *name) {
    int found;
    size_t i = find_pos(rt, rt->namespaced ? (ns ? ns : "") : "", name, &found);
    return found ? rt->objs[i] : NULL;
}

size_t kl_store_lower_bound(struct kl_rtype *rt, const char *ns, const char *after) {
    size_t lo = 0, hi = rt->n;
    if (after && *after) {
        /* first key > after */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(rt->objs[mid]->key, after) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (ns && rt->namespaced && lo < rt->n && strcmp(rt->objs[lo]->ns, ns) != 0) {
            /* past or before the namespace: find its start and take the later one */
            int found;
            size_t start = find_pos(rt, ns, "", &found);
            if (start > lo)
                lo = start;
        }
        return lo;
    }
    if (ns && rt->namespaced) {
        int found;
        return find_pos(rt, ns, "", &found);
    }
    return 0;
}

static int objs_insert(struct kl_rtype *rt, size_t pos, struct kl_obj *o) {
    if (rt->n == rt->alloc) {
        size_t na = rt->alloc ? rt->alloc * 2 : 16;
        struct kl_obj **n = realloc(rt->objs, na * sizeof(*n));
        if (!n)
            return -ENOMEM;
        rt->objs = n;
        rt->alloc = na;
    }
    memmove(rt->objs + pos + 1, rt->objs + pos, (rt->n - pos) * sizeof(*rt->objs));
    rt->objs[pos] = o;
    rt->n++;
    return 0;
}

static void objs_erase(struct kl_rtype *rt, size_t pos) {
    memmove(rt->objs + pos, rt->objs + pos + 1, (rt->n - pos - 1) * sizeof(*rt->objs));
    rt->n--;
}

/* ---- store --------------------------------------------------------------------------------- */

int kl_store_init(struct kl_store *s, size_t hist_cap) {
    memset(s, 0, sizeof(*s));
    if (hist_cap < 16)
        hist_cap = 16;
    s->hist = calloc(hist_cap, sizeof(*s->hist));
    if (!s->hist)
        return -ENOMEM;
    s->hist_cap = hist_cap;
    s->hist_floor = 1;
    /* Writer-preferring: a hundred watchers taking the read lock for every event must not
     * starve the writers (glibc prefers readers by default). No thread takes the read lock
     * twice, which this kind forbids. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    atomic_init(&s->ev_seq, 0);
    atomic_init(&s->ev_rv, 0);
    atomic_init(&s->ev_epoch, 0);
    atomic_init(&s->stopping, 0);
    return 0;
}

void kl_event_done(struct kl_event *ev) {
    kl_obj_unref(ev->obj);
    kl_obj_unref(ev->prev);
    memset(ev, 0, sizeof(*ev));
}

void kl_store_done(struct kl_store *s) {
    for (size_t i = 0; i < s->hist_cap; i++)
        kl_event_done(&s->hist[i]);
    free(s->hist);
    for (size_t i = 0; i < s->n_types; i++)
        kl_rtype_free(s->types[i]);
    free(s->types);
    pthread_rwlock_destroy(&s->lock);
}

static int set_rv(json_t *doc, uint64_t rv) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)rv);
    return cm_json_set(doc, "metadata.resourceVersion", json_string(buf));
}

static int log_put(struct kl_store *s, struct kl_rtype *rt, const struct kl_obj *o) {
    if (!s->persist)
        return 0;
    char *line = NULL;
    int n = asprintf(&line, "{\"t\":\"put\",\"g\":\"%s\",\"r\":\"%s\",\"o\":%s}\n", rt->group,
                     rt->resource, o->json);
    if (n < 0)
        return -ENOMEM;
    int r = kl_persist_append(s->persist, line, (size_t)n, &s->persist_off);
    free(line);
    return r;
}

static int log_del(struct kl_store *s, struct kl_rtype *rt, const char *key, uint64_t rv) {
    if (!s->persist)
        return 0;
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:I}", "t", "del", "g", rt->group, "r",
                            rt->resource, "k", key, "rv", (json_int_t)rv);
    char *line = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    if (!line)
        return -ENOMEM;
    size_t n = strlen(line);
    char *l2 = realloc(line, n + 2);
    if (!l2) {
        free(line);
        return -ENOMEM;
    }
    l2[n] = '\n';
    l2[n + 1] = 0;
    int r = kl_persist_append(s->persist, l2, n + 1, &s->persist_off);
    free(l2);
    return r;
}

static void hist_record(struct kl_store *s, uint64_t rv, enum kl_event_type type,
                        struct kl_rtype *rt, struct kl_obj *obj, struct kl_obj *prev) {
    struct kl_event *ev = &s->hist[rv % s->hist_cap];
    kl_event_done(ev);
    ev->rv = rv;
    ev->type = type;
    ev->rt = rt;
    ev->obj = kl_obj_ref(obj);
    ev->prev = kl_obj_ref(prev);
    s->writes++;
}

int kl_store_put(struct kl_store *s, struct kl_rtype *rt, json_t *doc, struct kl_obj **ret_obj) {
    uint64_t rv = s->rv + 1;
    if (set_rv(doc, rv) < 0)
        return -ENOMEM;
    struct kl_obj *o = obj_new(doc, rt->namespaced, rv);
    if (!o)
        return -ENOMEM;
    int found;
    size_t pos = find_pos(rt, o->ns, o->name, &found);
    if (!found && objs_insert(rt, pos, NULL) < 0) {
        kl_obj_unref(o);
        return -ENOMEM;
    }
    int r = log_put(s, rt, o);
    if (r < 0) {
        if (!found)
            objs_erase(rt, pos);
        kl_obj_unref(o);
        return r;
    }
    struct kl_obj *prev = found ? rt->objs[pos] : NULL;
    rt->objs[pos] = o;
    s->rv = rv;
    hist_record(s, rv, found ? KL_EV_MODIFIED : KL_EV_ADDED, rt, o, prev);
    kl_obj_unref(prev);
    if (ret_obj)
        *ret_obj = kl_obj_ref(o);
    return 0;
}

int kl_store_remove(struct kl_store *s, struct kl_rtype *rt, const char *ns, const char *name,
                    json_t *doc, struct kl_obj **ret_obj) {
    int found;
    size_t pos = find_pos(rt, rt->namespaced ? ns : "", name, &found);
    if (!found)
        return -ENOENT;
    uint64_t rv = s->rv + 1;
    if (set_rv(doc, rv) < 0)
        return -ENOMEM;
    struct kl_obj *o = obj_new(doc, rt->namespaced, rv);
    if (!o)
        return -ENOMEM;
    struct kl_obj *prev = rt->objs[pos];
    int r = log_del(s, rt, prev->key, rv);
    if (r < 0) {
        kl_obj_unref(o);
        return r;
    }
    objs_erase(rt, pos);
    s->rv = rv;
    hist_record(s, rv, KL_EV_DELETED, rt, o, prev);
    kl_obj_unref(prev);
    if (ret_obj)
        *ret_obj = kl_obj_ref(o);
    kl_obj_unref(o);
    return 0;
}

int kl_store_load(struct kl_store *s, struct kl_rtype *rt, json_t *doc) {
    const char *rvs = cm_json_get_str(doc, "metadata.resourceVersion");
    uint64_t rv = rvs ? strtoull(rvs, NULL, 10) : 0;
    struct kl_obj *o = obj_new(doc, rt->namespaced, rv);
    if (!o)
        return -ENOMEM;
    int found;
    size_t pos = find_pos(rt, o->ns, o->name, &found);
    if (found) {
        kl_obj_unref(rt->objs[pos]);
        rt->objs[pos] = o;
    } else if (objs_insert(rt, pos, o) < 0) {
        kl_obj_unref(o);
        return -ENOMEM;
    }
    if (rv > s->rv)
        s->rv = rv;
    return 0;
}

void kl_store_remove_type(struct kl_store *s, struct kl_rtype *rt) {
    (void)s;
    for (size_t i = 0; i < rt->n; i++)
        kl_obj_unref(rt->objs[i]);
    rt->n = 0;
    rt->removed = 1;
}

static void futex_wake_all(_Atomic uint32_t *addr) {
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void kl_store_wake_watchers(struct kl_store *s) {
    atomic_fetch_add(&s->ev_seq, 1);
    futex_wake_all(&s->ev_seq);
}

void kl_store_notify(struct kl_store *s) {
    pthread_rwlock_rdlock(&s->lock);
    uint64_t rv = s->rv;
    pthread_rwlock_unlock(&s->lock);
    uint64_t cur = atomic_load(&s->ev_rv);
    while (rv > cur && !atomic_compare_exchange_weak(&s->ev_rv, &cur, rv)) {
    }
    if (rv > cur)
        kl_store_wake_watchers(s);
}

int kl_store_sync(struct kl_store *s) {
    if (!s->persist)
        return 0;
    pthread_rwlock_rdlock(&s->lock);
    uint64_t off = s->persist_off;
    pthread_rwlock_unlock(&s->lock);
    return kl_persist_sync(s->persist, off);
}

int kl_store_wait(struct kl_store *s, uint64_t rv, uint64_t epoch, int timeout_ms) {
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_ms / 1000;
    end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    for (;;) {
        /* Read the sequence first: a wake-up after this point changes it, so the futex wait
         * below returns at once instead of missing the announcement. */
        uint32_t seq = atomic_load(&s->ev_seq);
        if (atomic_load(&s->stopping) || atomic_load(&s->ev_epoch) != epoch)
            return -ECANCELED;
        if (atomic_load(&s->ev_rv) > rv)
            return 1;
        struct timespec now, rel;
        clock_gettime(CLOCK_MONOTONIC, &now);
        rel.tv_sec = end.tv_sec - now.tv_sec;
        rel.tv_nsec = end.tv_nsec - now.tv_nsec;
        if (rel.tv_nsec < 0) {
            rel.tv_sec--;
            rel.tv_nsec += 1000000000L;
        }
        if (rel.tv_sec < 0)
            return atomic_load(&s->ev_rv) > rv ? 1 : 0;
        syscall(SYS_futex, (uint32_t *)&s->ev_seq, FUTEX_WAIT_PRIVATE, seq, &rel, NULL, 0);
    }
}

uint64_t kl_store_epoch(struct kl_store *s) {
    return atomic_load(&s->ev_epoch);
}

void kl_store_close_watches(struct kl_store *s, int stopping) {
    atomic_fetch_add(&s->ev_epoch, 1);
    if (stopping)
        atomic_store(&s->stopping, 1);
    kl_store_wake_watchers(s);
}

uint64_t kl_store_drop_history(struct kl_store *s) {
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < s->hist_cap; i++)
        kl_event_done(&s->hist[i]);
    s->hist_floor = s->rv + 1;
    uint64_t floor = s->hist_floor;
    pthread_rwlock_unlock(&s->lock);
    return floor;
}

uint64_t kl_store_oldest(struct kl_store *s) {
    uint64_t oldest = s->hist_floor;
    if (s->rv >= s->hist_cap && s->rv - s->hist_cap + 1 > oldest)
        oldest = s->rv - s->hist_cap + 1;
    return oldest;
}

int kl_store_events_since(struct kl_store *s, struct kl_rtype *rt, uint64_t after,
                          struct kl_event *out, size_t max, uint64_t *ret_scanned) {
    uint64_t oldest = kl_store_oldest(s);
    if (after + 1 < oldest && after < s->rv)
        return -ESTALE;
    size_t n = 0;
    uint64_t rv = after;
    while (rv < s->rv && n < max) {
        rv++;
        struct kl_event *ev = &s->hist[rv % s->hist_cap];
        if (ev->rv != rv || !ev->obj)
            continue; /* dropped history beyond the floor: nothing to deliver */
        if (rt && ev->rt != rt)
            continue;
        out[n] = *ev;
        kl_obj_ref(ev->obj);
        kl_obj_ref(ev->prev);
        n++;
    }
    *ret_scanned = rv;
    return (int)n;
}
