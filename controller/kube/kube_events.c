/* kube_events: a non-blocking Event recorder with aggregation.
 *
 * record() builds the Event body in the caller's thread (cheap, no I/O) and appends it to a
 * bounded FIFO; one background thread posts them. The aggregation cache maps
 * "uid|kind|ns|name|type|reason|message" to the Event created for it and its count, so a repeat
 * becomes a merge PATCH of count/lastTimestamp, as kubectl describe users expect. The cache is
 * bounded (least recently used entry evicted) and owned by the thread alone: no lock. */
#include "kube_events.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_buf.h"
#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_error.h"

struct pending {
    json_t *event; /* the body to create */
    char *agg_key;
};

struct agg {
    char *key;
    char *ns, *name;
    int64_t count;
    uint64_t used; /* LRU clock */
};

struct kube_events {
    struct kube_client *client;
    char *component, *host, *ns_default;
    size_t queue_max, cache_max;

    pthread_mutex_t lock;
    pthread_cond_t cond;      /* work arrived / stop */
    pthread_cond_t idle_cond; /* queue drained */
    struct pending *q;        /* ring buffer of queue_max */
    size_t q_head, q_len;
    int busy, stop;
    struct kube_events_stats stats;
    pthread_t thread;
    int thread_started;

    /* Thread-only. */
    struct agg *cache;
    size_t n_cache;
    uint64_t clock;
    uint64_t seq;
};

static const char *const TYPE_NAMES[] = {"Normal", "Warning"};

const char *kube_event_type_name(enum kube_event_type t) {
    return (unsigned)t < 2 ? TYPE_NAMES[t] : "Normal";
}

void kube_events_options_init(struct kube_events_options *o) {
    memset(o, 0, sizeof(*o));
    o->ns_default = "default";
    o->queue_max = 256;
    o->cache_max = 1024;
}

/* Truncates s to at most max bytes without cutting a UTF-8 sequence, and replaces bytes that
 * are not valid UTF-8 so jansson accepts the text. */
static void sanitize_utf8(char *s, size_t max) {
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        s[n] = '\0';
    }
    json_t *probe = json_stringn(s, n);
    if (probe) {
        json_decref(probe);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            s[i] = '?';
}

static void agg_free(struct agg *a) {
    free(a->key);
    free(a->ns);
    free(a->name);
}

static void pending_free(struct pending *p) {
    json_decref(p->event);
    free(p->agg_key);
}

static struct agg *agg_find(struct kube_events *rec, const char *key) {
    for (size_t i = 0; i < rec->n_cache; i++)
        if (strcmp(rec->cache[i].key, key) == 0)
            return &rec->cache[i];
    return NULL;
}

static struct agg *agg_insert(struct kube_events *rec, const char *key, const char *ns,
                              const char *name) {
    struct agg *slot;
    if (rec->n_cache < rec->cache_max) {
        slot = &rec->cache[rec->n_cache++];
    } else {
        slot = &rec->cache[0];
        for (size_t i = 1; i < rec->n_cache; i++)
            if (rec->cache[i].used < slot->used)
                slot = &rec->cache[i];
        agg_free(slot);
    }
    memset(slot, 0, sizeof(*slot));
    slot->key = strdup(key);
    slot->ns = strdup(ns);
    slot->name = strdup(name);
    if (!slot->key || !slot->ns || !slot->name) {
        agg_free(slot);
        *slot = rec->cache[--rec->n_cache];
        return NULL;
    }
    return slot;
}

static int create_event(struct kube_events *rec, json_t *ev, const char *agg_key) {
    const char *ns = cm_json_get_str(ev, "metadata.namespace");
    json_t *created = NULL;
    int r = kube_create(rec->client, &KUBE_RES_EVENTS, ns, ev, NULL, &created, NULL);
    if (r < 0)
        return r;
    const char *name = cm_json_get_str(created, "metadata.name");
    struct agg *a = name ? agg_insert(rec, agg_key, ns, name) : NULL;
    if (a) {
        a->count = cm_json_get_int(created, "count", 1);
        a->used = ++rec->clock;
    }
    json_decref(created);
    return 0;
}

static void process(struct kube_events *rec, struct pending *p) {
    struct agg *a = agg_find(rec, p->agg_key);
    int r;
    int aggregated = 0;
    if (a) {
        json_t *patch = json_pack("{s:I,s:O}", "count", (json_int_t)(a->count + 1),
                                  "lastTimestamp", json_object_get(p->event, "lastTimestamp"));
        r = patch ? kube_patch(rec->client, &KUBE_RES_EVENTS, a->ns, a->name, NULL,
                               KUBE_PATCH_MERGE, patch, NULL, NULL, NULL)
                  : -ENOMEM;
        json_decref(patch);
        if (r == 0) {
            a->count++;
            a->used = ++rec->clock;
            aggregated = 1;
        } else {
            /* The Event expired (events have a TTL) or the patch failed: start a new one. */
            struct agg last = *a;
            *a = rec->cache[--rec->n_cache];
            agg_free(&last);
            r = create_event(rec, p->event, p->agg_key);
        }
    } else {
        r = create_event(rec, p->event, p->agg_key);
    }
    pthread_mutex_lock(&rec->lock);
    if (r < 0)
        rec->stats.failed++;
    else if (aggregated)
        rec->stats.aggregated++;
    else
        rec->stats.created++;
    pthread_mutex_unlock(&rec->lock);
}

static void *events_thread(void *arg) {
    struct kube_events *rec = arg;
    pthread_mutex_lock(&rec->lock);
    for (;;) {
        while (rec->q_len == 0 && !rec->stop)
            pthread_cond_wait(&rec->cond, &rec->lock);
        if (rec->q_len == 0 && rec->stop)
            break;
        if (rec->stop == 2)
            break; /* flush timed out: drop what is left */
        struct pending p = rec->q[rec->q_head];
        rec->q_head = (rec->q_head + 1) % rec->queue_max;
        rec->q_len--;
        rec->busy = 1;
        pthread_mutex_unlock(&rec->lock);
        process(rec, &p);
        pending_free(&p);
        pthread_mutex_lock(&rec->lock);
        rec->busy = 0;
        if (rec->q_len == 0)
            pthread_cond_broadcast(&rec->idle_cond);
    }
    rec->busy = 0;
    pthread_cond_broadcast(&rec->idle_cond);
    pthread_mutex_unlock(&rec->lock);
    return NULL;
}

int kube_events_new(struct kube_client *c, const struct kube_events_options *opts,
                    struct kube_events **ret_rec) {
    if (!c || !opts || !opts->component || !*opts->component)
        return -EINVAL;
    struct kube_events *rec = calloc(1, sizeof(*rec));
    if (!rec)
        return -ENOMEM;
    rec->client = c;
    rec->queue_max = opts->queue_max ? opts->queue_max : 256;
    rec->cache_max = opts->cache_max ? opts->cache_max : 1024;
    pthread_mutex_init(&rec->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rec->cond, &ca);
    pthread_cond_init(&rec->idle_cond, &ca);
    pthread_condattr_destroy(&ca);
    rec->component = strdup(opts->component);
    rec->host = opts->host ? strdup(opts->host) : NULL;
    rec->ns_default = strdup(opts->ns_default && *opts->ns_default ? opts->ns_default : "default");
    rec->q = calloc(rec->queue_max, sizeof(*rec->q));
    rec->cache = calloc(rec->cache_max, sizeof(*rec->cache));
    if (!rec->component || (opts->host && !rec->host) || !rec->ns_default || !rec->q ||
        !rec->cache) {
        kube_events_free(rec, 0);
        return -ENOMEM;
    }
    if (pthread_create(&rec->thread, NULL, events_thread, rec) != 0) {
        kube_events_free(rec, 0);
        return -EAGAIN;
    }
    rec->thread_started = 1;
    *ret_rec = rec;
    return 0;
}

int kube_events_flush(struct kube_events *rec, int64_t timeout_ms) {
    int64_t until = cm_time_mono_ms() + timeout_ms;
    pthread_mutex_lock(&rec->lock);
    while ((rec->q_len > 0 || rec->busy) && cm_time_mono_ms() < until) {
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000L};
        pthread_cond_timedwait(&rec->idle_cond, &rec->lock, &ts);
    }
    int r = rec->q_len > 0 || rec->busy ? -ETIMEDOUT : 0;
    pthread_mutex_unlock(&rec->lock);
    return r;
}

void kube_events_free(struct kube_events *rec, int64_t flush_timeout_ms) {
    if (!rec)
        return;
    if (rec->thread_started) {
        int r = flush_timeout_ms > 0 ? kube_events_flush(rec, flush_timeout_ms) : -ETIMEDOUT;
        pthread_mutex_lock(&rec->lock);
        rec->stop = r < 0 ? 2 : 1;
        pthread_cond_broadcast(&rec->cond);
        pthread_mutex_unlock(&rec->lock);
        pthread_join(rec->thread, NULL);
    }
    for (size_t i = 0; rec->q && i < rec->q_len; i++)
        pending_free(&rec->q[(rec->q_head + i) % rec->queue_max]);
    for (size_t i = 0; rec->cache && i < rec->n_cache; i++)
        agg_free(&rec->cache[i]);
    free(rec->q);
    free(rec->cache);
    free(rec->component);
    free(rec->host);
    free(rec->ns_default);
    pthread_cond_destroy(&rec->cond);
    pthread_cond_destroy(&rec->idle_cond);
    pthread_mutex_destroy(&rec->lock);
    free(rec);
}

static const char *str_or(const json_t *o, const char *path, const char *def) {
    const char *s = cm_json_get_str(o, path);
    return s ? s : def;
}

int kube_events_record(struct kube_events *rec, const json_t *obj, enum kube_event_type type,
                       const char *reason, const char *fmt, ...) {
    const char *kind = cm_json_get_str(obj, "kind");
    const char *name = cm_json_get_str(obj, "metadata.name");
    if (!kind || !name || !reason || !*reason)
        return -EINVAL;
    const char *obj_ns = str_or(obj, "metadata.namespace", "");
    const char *ev_ns = *obj_ns ? obj_ns : rec->ns_default;
    const char *uid = str_or(obj, "metadata.uid", "");

    struct cm_buf msg;
    cm_buf_init(&msg, 0);
    va_list ap;
    va_start(ap, fmt);
    int r = cm_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    char *m = r < 0 ? NULL : cm_buf_steal(&msg);
    cm_buf_done(&msg);
    if (!m)
        return -ENOMEM;
    sanitize_utf8(m, KUBE_EVENT_MESSAGE_MAX);

    char ts[40];
    cm_time_format_rfc3339(cm_time_wall_ms(), 0, ts, sizeof(ts));
    pthread_mutex_lock(&rec->lock);
    uint64_t seq = ++rec->seq;
    pthread_mutex_unlock(&rec->lock);
    /* client-go names events <object>.<unique hex>; the time keeps names unique across restarts. */
    char ev_name[320];
    snprintf(ev_name, sizeof(ev_name), "%.240s.%llx%04llx", name,
             (unsigned long long)cm_time_wall_ms(), (unsigned long long)(seq & 0xffff));

    json_t *involved = json_pack("{s:s,s:s}", "kind", kind, "name", name);
    if (involved) {
        const char *av = cm_json_get_str(obj, "apiVersion");
        const char *rv = cm_json_get_str(obj, "metadata.resourceVersion");
        if (av)
            json_object_set_new(involved, "apiVersion", json_string(av));
        if (*obj_ns)
            json_object_set_new(involved, "namespace", json_string(obj_ns));
        if (*uid)
            json_object_set_new(involved, "uid", json_string(uid));
        if (rv)
            json_object_set_new(involved, "resourceVersion", json_string(rv));
    }
    json_t *source = json_pack("{s:s}", "component", rec->component);
    if (source && rec->host)
        json_object_set_new(source, "host", json_string(rec->host));
    json_t *ev = involved && source
                     ? json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s,s:s,s:o,s:s,s:s,s:i,s:s,s:s}",
                                 "apiVersion", "v1", "kind", "Event", "metadata", "name", ev_name,
                                 "namespace", ev_ns, "involvedObject", involved, "reason",
                                 reason, "message", m, "type", kube_event_type_name(type),
                                 "source", source, "firstTimestamp", ts, "lastTimestamp", ts,
                                 "count", 1, "reportingComponent", rec->component,
                                 "reportingInstance", rec->host ? rec->host : "")
                     : NULL;
    if (!involved || !source) {
        /* json_pack was not called; when it is, "o" steals both (also on failure). */
        json_decref(involved);
        json_decref(source);
    }
    struct cm_buf key;
    cm_buf_init(&key, 0);
    r = cm_buf_printf(&key, "%s|%s|%s|%s|%s|%s|%s", uid, kind, obj_ns, name,
                      kube_event_type_name(type), reason, m);
    free(m);
    char *agg_key = r < 0 ? NULL : cm_buf_steal(&key);
    cm_buf_done(&key);
    if (!ev || !agg_key) {
        json_decref(ev);
        free(agg_key);
        return -ENOMEM;
    }
    pthread_mutex_lock(&rec->lock);
    if (rec->stop) {
        r = -ESHUTDOWN;
    } else if (rec->q_len >= rec->queue_max) {
        rec->stats.dropped++;
        r = -EAGAIN;
    } else {
        rec->q[(rec->q_head + rec->q_len) % rec->queue_max] =
            (struct pending){.event = ev, .agg_key = agg_key};
        rec->q_len++;
        rec->stats.queued++;
        ev = NULL;
        agg_key = NULL;
        r = 0;
        pthread_cond_signal(&rec->cond);
    }
    pthread_mutex_unlock(&rec->lock);
    json_decref(ev);
    free(agg_key);
    return r;
}

void kube_events_get_stats(struct kube_events *rec, struct kube_events_stats *ret_stats) {
    pthread_mutex_lock(&rec->lock);
    *ret_stats = rec->stats;
    pthread_mutex_unlock(&rec->lock);
}
