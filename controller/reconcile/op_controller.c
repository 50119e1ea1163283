/* The Operation reconciler. See op_controller.h for the flow and op_plan.h for the state
 * machine. The rules it follows:
 *  - a host's step is written to status before the step's side effect: a round does the work of
 *    the steps status already holds, collects the moves, writes them once, and the side effects
 *    of the new steps happen in the next round (after the write);
 *  - SSH happens only in op_task threads; a reconcile pass makes API calls only, each bounded;
 *  - what only this process knows (a task's result, that it delivered a reboot, facts just
 *    gathered) is tagged with the step it belongs to ("<uid>|<step>|<stepStartedAt>") and is
 *    ignored once the host has moved on; after a restart nothing is known and everything is
 *    re-derived from status and from the host (its boot id against bootIDBefore);
 *  - one writer per Operation (the work queue never hands a key to two workers), so status
 *    writes conflict only with spec edits, which are re-applied on a fresh copy. */
#include "op_controller.h"

#include "cluster_state.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "ctrmgr.h"
#include "host_state.h"
#include "kube_client.h"
#include "kube_error.h"
#include "kube_events.h"
#include "kube_informer.h"
#include "kube_status.h"
#include "node_ops.h"
#include "op_plan.h"
#include "op_spec.h"
#include "op_task.h"
#include "rc_controller.h"
#include "rc_duration.h"
#include "rc_lookup.h"
#include "rc_manager.h"
#include "rc_metrics.h"
#include "sshc_facts.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_FINALIZER "commissaire.io/operation-cleanup"
#define MSG_MAX 1024
#define TAG_MAX 200
/* A task's end enqueues the Operation; this is only the safety net. */
#define TASK_WAIT_MS 30000
#define RETRY_MS 1000
#define POOL_FULL_RETRY_MS 250
/* Status changes in host messages only are written at most this often (see commit()). */
#define MESSAGE_WRITE_MS 1000
/* The least time polls after a delivered reboot only probe, waiting to see the host down. */
#define DOWN_WAIT_MIN_MS 1000
/* A boot id read ahead of the host's turn is used only while younger than this (see
 * read_ahead()). Reads ahead happen only while the Operation runs, so whatever boot id one
 * finds was current after the Operation started, which is all the reboot guard needs; the
 * bound keeps it recent. Long enough for a turn that comes a few loaded minutes later (a
 * loaded farm took 11.5 s per host with 10 s here, and 58 of 100 reads ahead went stale). */
#define READ_AHEAD_MAX_AGE_MS 60000
/* Boot id reads (the first contact of a host's sequence) tried before the host fails. */
/* How long a host may stay unreachable before its turn (nothing done to it yet) before it fails:
 * busy hosts miss a handshake deadline, and a host may still be coming back from a reboot an
 * earlier, canceled or deleted Operation gave it. */
#define BOOTID_RETRY_MS 30000
/* Rounds of (work, write) per pass: enough for a host to go through its quick steps
 * (cordon, drain, uncordon) in one pass, bounded so one Operation cannot hog a worker. */
#define MAX_ROUNDS 8

/* ---- memo: our own latest write of each Operation (see host_controller.c for why) ---- */

struct memo_entry {
    struct memo_entry *next;
    char *key;
    json_t *obj;
};

/* ---- what this process knows about a host of an operation ---- */

enum annot_state { ANNOT_UNKNOWN, ANNOT_ON, ANNOT_OFF };

struct hmem {
    struct hmem *next;
    char *key;                 /* "ns/op|host" (also the op_task key) */
    char reboot_tag[TAG_MAX];  /* the Rebooting step `sent` is about */
    enum op_reboot_sent sent;
    char facts_tag[TAG_MAX];   /* the Verifying step `facts` are for */
    struct sshc_facts facts;
    bool have_facts;
    int64_t last_poll_ms;      /* monotonic, last POLL started */
    int64_t sent_ms;           /* monotonic, when the reboot was found delivered */
    bool seen_down;            /* a POLL found the host unreachable since sent_ms */
    enum annot_state annot;
    bool reserved;             /* Pending, being started (boot id read in flight) */
    char drain_tag[TAG_MAX];   /* the Draining step a DrainBlocked Event was sent for */
    size_t drain_blocked;
    int64_t bootid_fail_since; /* mono ms of the first of consecutive failed boot id reads, 0 */
    bool read_ahead;           /* a BOOTID task or result for it was started ahead of its turn */
    bool read_ahead_started;   /* one was (each host is read ahead at most once) */
    int64_t written_ms;        /* the Operation's own entry (key "ns/op|"): monotonic time of
                                  its latest status write */
};

struct op_ctl {
    struct rc_manager *m;
    const struct rc_env *env;
    struct rc_controller *ctl;
    struct ctrmgr_cache *cms;
    struct op_tasks *tasks;
    int64_t poll_ms, grace_ms, cluster_grace_ms;
    pthread_mutex_t lock; /* memo and hmem lists */
    struct memo_entry *memo;
    struct hmem *hmem;
    struct rc_metric *m_hosts, *m_phases, *m_duration, *m_steps;
};

static void memo_put(struct op_ctl *oc, const char *key, json_t *obj) {
    pthread_mutex_lock(&oc->lock);
    for (struct memo_entry *e = oc->memo; e; e = e->next)
        if (!strcmp(e->key, key)) {
            json_decref(e->obj);
            e->obj = json_incref(obj);
            pthread_mutex_unlock(&oc->lock);
            return;
        }
    struct memo_entry *e = calloc(1, sizeof *e);
    if (e && (e->key = strdup(key))) {
        e->obj = json_incref(obj);
        e->next = oc->memo;
        oc->memo = e;
    } else {
        free(e);
    }
    pthread_mutex_unlock(&oc->lock);
}

static json_t *memo_get(struct op_ctl *oc, const char *key) {
    json_t *obj = NULL;
    pthread_mutex_lock(&oc->lock);
    for (struct memo_entry *e = oc->memo; e; e = e->next)
        if (!strcmp(e->key, key)) {
            obj = json_incref(e->obj);
            break;
        }
    pthread_mutex_unlock(&oc->lock);
    return obj;
}

static void memo_drop(struct op_ctl *oc, const char *key) {
    pthread_mutex_lock(&oc->lock);
    for (struct memo_entry **pe = &oc->memo; *pe; pe = &(*pe)->next)
        if (!strcmp((*pe)->key, key)) {
            struct memo_entry *e = *pe;
            *pe = e->next;
            json_decref(e->obj);
            free(e->key);
            free(e);
            break;
        }
    pthread_mutex_unlock(&oc->lock);
}

/* Entries are created and freed only by the worker reconciling their Operation (one at a
 * time), so a pointer stays valid for the pass without holding the lock; the lock guards the
 * list itself against other Operations' workers. */
static struct hmem *hmem_get(struct op_ctl *oc, const char *key) {
    pthread_mutex_lock(&oc->lock);
    struct hmem *h;
    for (h = oc->hmem; h; h = h->next)
        if (!strcmp(h->key, key))
            break;
    if (!h && (h = calloc(1, sizeof *h))) {
        if ((h->key = strdup(key))) {
            h->next = oc->hmem;
            oc->hmem = h;
        } else {
            free(h);
            h = NULL;
        }
    }
    pthread_mutex_unlock(&oc->lock);
    return h;
}

static void hmem_free(struct hmem *h) {
    if (h->have_facts)
        sshc_facts_done(&h->facts);
    free(h->key);
    free(h);
}

static void hmem_forget(struct op_ctl *oc, const char *prefix) {
    size_t n = strlen(prefix);
    pthread_mutex_lock(&oc->lock);
    for (struct hmem **ph = &oc->hmem; *ph;) {
        if (!strncmp((*ph)->key, prefix, n)) {
            struct hmem *h = *ph;
            *ph = h->next;
            hmem_free(h);
        } else {
            ph = &(*ph)->next;
        }
    }
    pthread_mutex_unlock(&oc->lock);
}

static int rv_parse(const json_t *obj, unsigned long long *ret) {
    const char *s = cm_json_get_str(obj, "metadata.resourceVersion");
    if (!s || !*s)
        return -1;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return -1;
    *ret = v;
    return 0;
}

static json_t *freshest(struct op_ctl *oc, const char *key, const char *ns, const char *name) {
    json_t *cached = kube_informer_get(rc_manager_informer(oc->m, &RC_RES_OPERATIONS), ns, name);
    json_t *mine = memo_get(oc, key);
    if (!cached) {
        json_decref(mine);
        memo_drop(oc, key);
        return NULL;
    }
    unsigned long long a, b;
    if (mine && rv_parse(cached, &a) == 0 && rv_parse(mine, &b) == 0 && b > a &&
        !strcmp(cm_json_get_str(cached, "metadata.uid") ?: "",
                cm_json_get_str(mine, "metadata.uid") ?: "")) {
        json_decref(cached);
        return mine;
    }
    json_decref(mine);
    if (mine)
        memo_drop(oc, key);
    return cached;
}

/* ---- a pass ---- */

struct hctx {
    json_t *entry;     /* status.hosts[i] of the working status (borrowed) */
    const char *name;  /* borrowed from entry */
    json_t *host;      /* the Host object (own reference) or NULL when gone */
    char *key;         /* "ns/op|host" */
    struct hmem *mem;
    struct op_host_flags f;
    const char *node;  /* status.nodeName of the Host (borrowed from host) or NULL */
    bool gone;
    char gone_why[160];
};

struct ev {
    enum kube_event_type type;
    const char *reason;
    char *msg;
};

struct pass {
    struct op_ctl *oc;
    const struct rc_env *env;
    const char *ns, *name;
    char *key;       /* "ns/name" */
    char *prefix;    /* "ns/name|" */
    json_t *op;      /* the current view (own reference); replaced after each write */
    json_t *spec_op; /* the object spec's strings point into (own reference) */
    char uid[80];
    struct op_spec spec;
    json_t *st; /* the working status (own) */
    json_t *cluster, *cm;
    bool managed;
    bool clients_tried;
    struct kube_client *kc, *evict;
    char cm_msg[300];
    struct hctx *h;
    size_t n;
    int64_t wait_ms;
    bool progressed;
    bool no_start; /* paused, canceled or stopped by failures: reserved hosts are released */
    struct ev *evs;
    size_t n_evs;
    int64_t now; /* wall ms, refreshed each round */
};

static void wait_at_most(struct pass *p, int64_t ms) {
    if (ms < 1)
        ms = 1;
    if (p->wait_ms <= 0 || ms < p->wait_ms)
        p->wait_ms = ms;
}

static void now_str(int64_t ms, char *out, size_t n) { cm_time_format_rfc3339(ms, 1, out, n); }

static int64_t ts_ms(const json_t *obj, const char *path) {
    int64_t ms = 0;
    const char *s = cm_json_get_str(obj, path);
    if (!s || cm_time_parse_rfc3339(s, &ms) < 0)
        return 0;
    return ms;
}

static const char *estr(const json_t *e, const char *k) {
    const char *s = json_string_value(json_object_get(e, k));
    return s ? s : "";
}

static enum op_step step_of(const json_t *e) {
    int s = op_step_from_string(json_string_value(json_object_get(e, "step")));
    return s < 0 ? OP_STEP_PENDING : (enum op_step)s;
}

static void tag_of(const struct pass *p, const struct hctx *h, char *out, size_t n) {
    snprintf(out, n, "%s|%s|%s", p->uid, estr(h->entry, "step"), estr(h->entry, "stepStartedAt"));
}

static void event(struct pass *p, enum kube_event_type type, const char *reason, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
static void event(struct pass *p, enum kube_event_type type, const char *reason, const char *fmt,
                  ...) {
    if (!p->env->events)
        return;
    struct ev *n = realloc(p->evs, (p->n_evs + 1) * sizeof *n);
    if (!n)
        return;
    p->evs = n;
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->evs[p->n_evs] = (struct ev){type, reason, strdup(msg)};
    if (p->evs[p->n_evs].msg)
        p->n_evs++;
}

/* Events announce what status says: they go out after the write that records it. */
static void events_flush(struct pass *p, bool send) {
    json_t *ref = NULL;
    if (send && p->n_evs && p->env->events)
        ref = json_pack("{s:s,s:s,s:O}", "apiVersion", "commissaire.io/v1alpha1", "kind",
                        "Operation", "metadata", json_object_get(p->op, "metadata"));
    for (size_t i = 0; i < p->n_evs; i++) {
        if (ref)
            kube_events_record(p->env->events, ref, p->evs[i].type, p->evs[i].reason, "%s",
                               p->evs[i].msg);
        free(p->evs[i].msg);
    }
    json_decref(ref);
    free(p->evs);
    p->evs = NULL;
    p->n_evs = 0;
}

/* ---- status ---- */

static void set_cond(struct pass *p, const char *type, bool status, const char *reason,
                     const char *msg) {
    json_t *wrap = json_pack("{s:O}", "status", p->st);
    if (!wrap)
        return;
    struct kube_condition c = {type, status ? "True" : "False", reason, msg,
                               cm_json_get_int(p->op, "metadata.generation", 0)};
    kube_status_condition_set(wrap, &c, p->now);
    json_decref(wrap);
}

static enum op_phase phase_of_st(const json_t *st) {
    return op_phase_from_string(json_string_value(json_object_get(st, "phase")));
}

static void st_set_str(json_t *st, const char *k, const char *v) {
    json_object_set_new(st, k, json_string(v));
}

/* Sets the phase, the Complete condition and the message; finishedAt on a terminal phase;
 * an Event when the phase changes. */
static void set_phase(struct pass *p, enum op_phase ph, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_phase(struct pass *p, enum op_phase ph, const char *reason, const char *fmt, ...) {
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    enum op_phase from = phase_of_st(p->st);
    st_set_str(p->st, "phase", op_phase_name(ph));
    st_set_str(p->st, "message", msg);
    set_cond(p, "Complete", ph == OP_PHASE_FINISHED, reason, msg);
    if (op_phase_is_terminal(ph) && !json_object_get(p->st, "finishedAt")) {
        char ts[40];
        now_str(p->now, ts, sizeof ts);
        st_set_str(p->st, "finishedAt", ts);
    }
    if (from == ph)
        return;
    cm_log_kv(ph == OP_PHASE_FAILED ? CM_LOG_WARN : CM_LOG_INFO, "operation phase", "namespace",
              p->ns, "name", p->name, "from", op_phase_name(from), "to", op_phase_name(ph),
              "message", msg, NULL);
    const char *r = NULL;
    enum kube_event_type t = KUBE_EVENT_NORMAL;
    switch (ph) {
    case OP_PHASE_PAUSED: r = "Paused"; break;
    case OP_PHASE_INPROCESS: r = from == OP_PHASE_PAUSED ? "Resumed" : NULL; break;
    case OP_PHASE_FINISHED: r = "Finished"; break;
    case OP_PHASE_FAILED:
        r = "Failed";
        t = KUBE_EVENT_WARNING;
        break;
    case OP_PHASE_CANCELED: r = "Canceled"; break;
    default: break;
    }
    if (r)
        event(p, t, r, "%s", msg);
}

static void count_steps(const json_t *st, size_t c[OP_STEP__MAX]) {
    memset(c, 0, OP_STEP__MAX * sizeof c[0]);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(st, "hosts"), i, e) c[step_of(e)]++;
}

static void update_counters(struct pass *p) {
    size_t c[OP_STEP__MAX], in_flight = 0;
    count_steps(p->st, c);
    for (int s = 0; s < OP_STEP__MAX; s++)
        if (op_step_in_flight((enum op_step)s))
            in_flight += c[s];
    json_object_set_new(p->st, "total",
                        json_integer((json_int_t)json_array_size(json_object_get(p->st, "hosts"))));
    json_object_set_new(p->st, "succeeded", json_integer((json_int_t)c[OP_STEP_DONE]));
    json_object_set_new(p->st, "failed", json_integer((json_int_t)c[OP_STEP_FAILED]));
    json_object_set_new(p->st, "inProgress", json_integer((json_int_t)in_flight));
    json_object_set_new(p->st, "observedGeneration",
                        json_integer(cm_json_get_int(p->op, "metadata.generation", 0)));
}

struct status_put {
    json_t *status;
    const char *uid;
};

static int status_mutate(json_t *obj, void *userdata) {
    struct status_put *sp = userdata;
    const char *uid = cm_json_get_str(obj, "metadata.uid");
    if (!uid || strcmp(uid, sp->uid))
        return -ENOENT; /* deleted and created again: not ours to write */
    if (json_equal(json_object_get(obj, "status"), sp->status))
        return 1;
    json_object_set_new(obj, "status", json_deep_copy(sp->status));
    return 0;
}

/* Writes the working status (counters refreshed). Returns 0 (p->op is the written object),
 * -ENOENT (the Operation is gone), or an error; events queued since the last write go out
 * only on success. */
static int commit(struct pass *p) {
    update_counters(p);
    json_t *cur = json_object_get(p->op, "status");
    if (cur && json_equal(cur, p->st)) {
        events_flush(p, true);
        return 0;
    }
    struct hmem *om = hmem_get(p->oc, p->prefix);
    if (cur && om && om->written_ms > 0 && cm_time_mono_ms() - om->written_ms < MESSAGE_WRITE_MS &&
        op_plan_status_messages_only(cur, p->st)) {
        /* Only hosts' messages changed, and status was written a moment ago: a host's message
         * is its latest word, not a record anything resumes from, so it waits for the next
         * write (a step change, or this message still current MESSAGE_WRITE_MS from now). A
         * write costs the Operation's worker a round trip that other hosts' progress waits
         * behind. */
        events_flush(p, true);
        return 0;
    }
    json_t *copy = json_deep_copy(p->op);
    if (!copy)
        return -ENOMEM;
    json_object_set_new(copy, "status", json_deep_copy(p->st));
    struct kube_error err;
    kube_error_init(&err);
    json_t *ret = NULL;
    int64_t t0 = cm_time_mono_ms();
    int r = kube_update(p->env->client, &RC_RES_OPERATIONS, p->ns, p->name, "status", copy, NULL,
                        &ret, &err);
    json_decref(copy);
    if (cm_log_enabled(CM_LOG_DEBUG)) {
        char d[24];
        snprintf(d, sizeof d, "%lld", (long long)(cm_time_mono_ms() - t0));
        cm_log_kv(CM_LOG_DEBUG, "operation status written", "namespace", p->ns, "name", p->name,
                  "duration_ms", d, NULL);
    }
    if (r == -ESTALE) {
        /* Someone edited the spec meanwhile: status is ours alone, put it on the fresh copy. */
        kube_error_done(&err);
        struct status_put sp = {p->st, p->uid};
        r = kube_status_update(p->env->client, &RC_RES_OPERATIONS, p->ns, p->name, NULL,
                               status_mutate, &sp, &ret, &err);
    }
    if (r == 0 && ret) {
        json_decref(p->op);
        p->op = ret;
        memo_put(p->oc, p->key, ret);
        if (om)
            om->written_ms = cm_time_mono_ms();
        events_flush(p, true);
    } else {
        json_decref(ret);
        events_flush(p, false);
        if (r != -ENOENT)
            cm_log_kv(CM_LOG_WARN, "operation status update failed", "namespace", p->ns, "name",
                      p->name, "error", err.message ? err.message : strerror(-r), NULL);
    }
    kube_error_done(&err);
    return r;
}

static struct rc_result result_of_write(int r) {
    if (r == -ENOENT)
        return rc_done();
    if (r == -ESTALE)
        return rc_requeue_after(100);
    return rc_error(r);
}

/* ---- the cluster's node API ---- */

/* The clients for the cluster's container manager, resolved once per pass. 0 or -errno with
 * p->cm_msg saying why. */
static int node_clients(struct pass *p) {
    if (!p->clients_tried) {
        p->clients_tried = true;
        if (!p->managed) {
            snprintf(p->cm_msg, sizeof p->cm_msg, "the cluster has no container manager");
        } else if (ctrmgr_clients(p->env, p->oc->cms, p->cm, &p->kc, &p->evict, p->cm_msg,
                                  sizeof p->cm_msg) < 0) {
            p->kc = p->evict = NULL;
        }
    }
    return p->kc ? 0 : -EAGAIN;
}

/* ---- Host annotation and finalizer ---- */

static const char *host_annotation(const json_t *host) {
    return json_string_value(
        json_object_get(cm_json_get(host, "metadata.annotations"), HOST_ANNOTATION_OPERATION));
}

static int annotate(struct pass *p, struct hctx *h, bool on) {
    if (!h->host || !h->mem)
        return 0;
    const char *have = host_annotation(h->host);
    bool ours = have && !strcmp(have, p->name);
    if (on && (h->mem->annot == ANNOT_ON || ours)) {
        h->mem->annot = ANNOT_ON;
        return 0;
    }
    if (!on && (h->mem->annot == ANNOT_OFF || !ours)) {
        h->mem->annot = ANNOT_OFF;
        return 0;
    }
    json_t *patch = json_pack("{s:{s:{s:o}}}", "metadata", "annotations",
                              HOST_ANNOTATION_OPERATION,
                              on ? json_string(p->name) : json_null());
    struct kube_error err;
    kube_error_init(&err);
    int r = patch ? kube_patch(p->env->client, &RC_RES_HOSTS, p->ns, h->name, NULL,
                               KUBE_PATCH_MERGE, patch, NULL, NULL, &err)
                  : -ENOMEM;
    json_decref(patch);
    if (r == 0 || r == -ENOENT)
        h->mem->annot = on ? ANNOT_ON : ANNOT_OFF;
    else
        cm_log_kv(CM_LOG_WARN, "cannot annotate host", "namespace", p->ns, "operation", p->name,
                  "host", h->name, "error", err.message ? err.message : strerror(-r), NULL);
    kube_error_done(&err);
    return r == -ENOENT ? 0 : r;
}

static bool has_finalizer(const json_t *obj) {
    size_t i;
    json_t *f;
    json_array_foreach(cm_json_get(obj, "metadata.finalizers"), i, f) {
        if (json_is_string(f) && !strcmp(json_string_value(f), OP_FINALIZER))
            return true;
    }
    return false;
}

/* Adds (on) or removes our finalizer with an update of the whole object (its resourceVersion
 * guards the list). Returns 0, -ESTALE, -ENOENT or an error. */
static int set_finalizer(struct pass *p, bool on) {
    if (has_finalizer(p->op) == on)
        return 0;
    json_t *copy = json_deep_copy(p->op);
    if (!copy)
        return -ENOMEM;
    json_t *md = json_object_get(copy, "metadata");
    json_t *fins = json_object_get(md, "finalizers");
    if (!json_is_array(fins)) {
        fins = json_array();
        json_object_set_new(md, "finalizers", fins);
    }
    if (on) {
        json_array_append_new(fins, json_string(OP_FINALIZER));
    } else {
        for (size_t i = json_array_size(fins); i-- > 0;)
            if (!strcmp(json_string_value(json_array_get(fins, i)) ?: "", OP_FINALIZER))
                json_array_remove(fins, i);
        if (json_array_size(fins) == 0)
            json_object_del(md, "finalizers");
    }
    struct kube_error err;
    kube_error_init(&err);
    json_t *ret = NULL;
    int r = kube_update(p->env->client, &RC_RES_OPERATIONS, p->ns, p->name, NULL, copy, NULL,
                        &ret, &err);
    json_decref(copy);
    if (r == 0 && ret) {
        json_decref(p->op);
        p->op = ret;
        memo_put(p->oc, p->key, ret);
    } else {
        json_decref(ret);
        if (r != -ESTALE && r != -ENOENT)
            cm_log_kv(CM_LOG_WARN, "operation finalizer update failed", "namespace", p->ns,
                      "name", p->name, "error", err.message ? err.message : strerror(-r), NULL);
    }
    kube_error_done(&err);
    return r;
}

/* ---- host contexts ---- */

static void hctx_done(struct pass *p) {
    for (size_t i = 0; i < p->n; i++) {
        json_decref(p->h[i].host);
        free(p->h[i].key);
    }
    free(p->h);
    p->h = NULL;
    p->n = 0;
}

/* (Re)reads every host's Host object and what applies to it. */
static int hctx_refresh(struct pass *p) {
    json_t *hosts = json_object_get(p->st, "hosts");
    size_t n = json_array_size(hosts);
    if (!p->h || p->n != n) {
        hctx_done(p);
        p->h = calloc(n ? n : 1, sizeof *p->h);
        if (!p->h)
            return -ENOMEM;
        p->n = n;
        for (size_t i = 0; i < n; i++) {
            struct hctx *h = &p->h[i];
            h->entry = json_array_get(hosts, i);
            h->name = estr(h->entry, "name");
            if (asprintf(&h->key, "%s%s", p->prefix, h->name) < 0) {
                h->key = NULL;
                return -ENOMEM;
            }
            h->mem = hmem_get(p->oc, h->key);
            if (!h->mem)
                return -ENOMEM;
        }
    }
    struct kube_informer *inf = rc_manager_informer(p->oc->m, &RC_RES_HOSTS);
    for (size_t i = 0; i < n; i++) {
        struct hctx *h = &p->h[i];
        json_decref(h->host);
        h->host = kube_informer_get(inf, p->ns, h->name);
        h->gone = false;
        h->gone_why[0] = '\0';
        if (!h->host) {
            h->gone = true;
            snprintf(h->gone_why, sizeof h->gone_why, "the Host was deleted");
        } else if (cm_json_get_str(h->host, "metadata.deletionTimestamp")) {
            h->gone = true;
            snprintf(h->gone_why, sizeof h->gone_why, "the Host is being deleted");
        } else if (strcmp(cm_json_get_str(h->host, "spec.cluster") ?: "", p->spec.cluster)) {
            h->gone = true;
            snprintf(h->gone_why, sizeof h->gone_why, "the Host left cluster %s",
                     p->spec.cluster);
        } else if (step_of(h->entry) == OP_STEP_PENDING &&
                   !op_selector_matches(p->spec.host_selector,
                                        cm_json_get(h->host, "metadata.labels"))) {
            h->gone = true;
            snprintf(h->gone_why, sizeof h->gone_why, "the Host no longer matches hostSelector");
        }
        h->node = p->managed ? cm_json_get_str(h->host, "status.nodeName") : NULL;
        if (h->node && !*h->node)
            h->node = NULL;
        h->f.drain = p->managed && h->node && p->spec.drain != 0;
        h->f.node_wait = p->managed && h->node;
        h->f.reboot_only = p->spec.type == OP_TYPE_RESTART;
    }
    return 0;
}

/* ---- host steps ---- */

static const char *step_event_reason(enum op_step s) {
    switch (s) {
    case OP_STEP_CORDONING: return "Cordoning";
    case OP_STEP_DRAINING: return "Draining";
    case OP_STEP_EXECUTING: return "Executing";
    case OP_STEP_REBOOTING: return "Rebooting";
    case OP_STEP_VERIFYING: return "Rebooted";
    case OP_STEP_WAITING_NODE_READY: return "WaitingNodeReady";
    case OP_STEP_UNCORDONING: return "Uncordoning";
    case OP_STEP_DONE: return "HostDone";
    case OP_STEP_FAILED: return "HostFailed";
    case OP_STEP_SKIPPED: return "HostSkipped";
    default: return "HostStep";
    }
}

/* The one place a host's step changes: records old -> new with its times and message in the
 * working status (written by the round's commit, before the new step's side effect). */
static void set_step(struct pass *p, struct hctx *h, enum op_step to, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_step(struct pass *p, struct hctx *h, enum op_step to, const char *fmt, ...) {
    char msg[MSG_MAX], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    enum op_step from = step_of(h->entry);
    now_str(p->now, ts, sizeof ts);
    st_set_str(h->entry, "step", op_step_name(to));
    st_set_str(h->entry, "stepStartedAt", ts);
    st_set_str(h->entry, "message", msg);
    if (!json_object_get(h->entry, "startedAt") && to != OP_STEP_SKIPPED)
        st_set_str(h->entry, "startedAt", ts);
    if (op_step_is_terminal(to)) {
        st_set_str(h->entry, "finishedAt", ts);
        if (h->mem)
            h->mem->reserved = false;
    }
    p->progressed = true;
    rc_metric_inc(p->oc->m_steps, op_step_name(to), NULL);
    if (to == OP_STEP_DONE) {
        int64_t started = ts_ms(h->entry, "startedAt");
        if (started > 0)
            rc_metric_observe(p->oc->m_duration, op_type_name(p->spec.type), NULL,
                              (double)(p->now - started) / 1000.0);
    }
    cm_log_kv(to == OP_STEP_FAILED ? CM_LOG_WARN : CM_LOG_INFO, "operation host step",
              "namespace", p->ns, "operation", p->name, "host", h->name, "from",
              op_step_name(from), "to", op_step_name(to), "message", msg, NULL);
    event(p, to == OP_STEP_FAILED ? KUBE_EVENT_WARNING : KUBE_EVENT_NORMAL, step_event_reason(to),
          "host %s: %s", h->name, msg);
}

static void set_host_message(struct hctx *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_host_message(struct hctx *h, const char *fmt, ...) {
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    st_set_str(h->entry, "message", msg);
}

/* Whether the operation cordoned this host's node (and must uncordon it when stopping). */
static bool cordoned_by_us(const struct hctx *h) {
    enum op_step s = step_of(h->entry);
    return h->f.drain && s >= OP_STEP_CORDONING && s <= OP_STEP_UNCORDONING;
}

/* Best effort: the host leaves the operation early (failure, cancel, gone). Returns a note for
 * its message. */
static const char *bring_back(struct pass *p, struct hctx *h) {
    op_tasks_drop(p->oc->tasks, h->key);
    if (h->mem)
        h->mem->reserved = false;
    if (!cordoned_by_us(h))
        return "";
    if (node_clients(p) < 0)
        return "; its node could not be uncordoned (container manager unavailable)";
    struct kube_error err;
    kube_error_init(&err);
    int r = node_set_unschedulable(p->kc, h->node, false, &err);
    kube_error_done(&err);
    return r == 0 || r == -ENOENT ? "; node uncordoned" : "; uncordoning its node failed";
}

static void host_fail(struct pass *p, struct hctx *h, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_fail(struct pass *p, struct hctx *h, const char *fmt, ...) {
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *at = estr(h->entry, "step");
    const char *note = bring_back(p, h);
    set_step(p, h, OP_STEP_FAILED, "%s: %s%s", at, msg, note);
}

static void host_skip(struct pass *p, struct hctx *h, const char *why) {
    enum op_step s = step_of(h->entry);
    const char *note = bring_back(p, h);
    if (s == OP_STEP_PENDING)
        set_step(p, h, OP_STEP_SKIPPED, "not started: %s", why);
    else
        set_step(p, h, OP_STEP_SKIPPED, "stopped at %s: %s%s%s", op_step_name(s), why,
                 op_step_past_command(s) ? " (its command had already been sent)" : "", note);
}

static int64_t remaining_host_time(const struct pass *p, const struct hctx *h) {
    int64_t started = ts_ms(h->entry, "startedAt");
    if (started <= 0)
        return p->spec.host_timeout_ms;
    return started + p->spec.host_timeout_ms - p->now;
}

/* Starts a task for h unless one is in flight. */
static void start_task(struct pass *p, struct hctx *h, struct op_task_spec *ts) {
    char tag[TAG_MAX];
    tag_of(p, h, tag, sizeof tag);
    ts->host = h->host;
    ts->tag = tag;
    ts->op_key = p->key;
    int r = op_tasks_start(p->oc->tasks, h->key, ts);
    if (r == -EALREADY) {
        /* A result nobody asked for is stored (callers take what they expect first): drop it
         * and start again. */
        op_tasks_drop(p->oc->tasks, h->key);
        r = op_tasks_start(p->oc->tasks, h->key, ts);
    }
    wait_at_most(p, r == 0 || r == -EBUSY ? TASK_WAIT_MS : RETRY_MS);
}

static bool take(struct pass *p, struct hctx *h, enum op_task_kind kind,
                 struct op_task_result *res) {
    char tag[TAG_MAX];
    tag_of(p, h, tag, sizeof tag);
    memset(res, 0, sizeof *res);
    return op_tasks_take(p->oc->tasks, h->key, kind, tag, res) == 1;
}

static bool bootid_may_retry(struct hctx *h) {
    int64_t now = cm_time_mono_ms();
    if (!h->mem->bootid_fail_since)
        h->mem->bootid_fail_since = now;
    return now - h->mem->bootid_fail_since < BOOTID_RETRY_MS;
}

/* The host is about to leave for its command (Executing) or its reboot (restart): read its
 * boot id now, and record it with the move (bootIDBefore). */
static void pre_command(struct pass *p, struct hctx *h) {
    struct op_task_result res;
    bool ahead = h->mem->read_ahead;
    if (take(p, h, OP_TASK_BOOTID, &res) &&
        !(ahead && (res.err != 0 || cm_time_mono_ms() - res.done_ms > READ_AHEAD_MAX_AGE_MS))) {
        h->mem->read_ahead = false;
        if (res.err == 0) {
            enum op_step next = h->f.reboot_only ? OP_STEP_REBOOTING : OP_STEP_EXECUTING;
            h->mem->reserved = false;
            json_object_set_new(h->entry, "bootIDBefore", json_string(res.boot_id));
            if (next == OP_STEP_REBOOTING) {
                set_step(p, h, next, "rebooting (boot id %s)", res.boot_id);
                tag_of(p, h, h->mem->reboot_tag, sizeof h->mem->reboot_tag);
                h->mem->sent = OP_REBOOT_NOT_SENT;
            } else {
                set_step(p, h, next, "running the %s command (boot id %s)",
                         op_type_name(p->spec.type), res.boot_id);
            }
        } else if (res.err == -EAGAIN) {
            wait_at_most(p, POOL_FULL_RETRY_MS);
        } else if (res.unreachable && !res.fatal && bootid_may_retry(h)) {
            set_host_message(h, "reading the boot id: %s; retrying", res.message);
            wait_at_most(p, p->oc->poll_ms);
        } else {
            h->mem->reserved = false;
            h->mem->bootid_fail_since = 0;
            host_fail(p, h, "before its %s: %s: %s", op_type_name(p->spec.type),
                      res.reason ? res.reason : "Error", res.message);
        }
        if (res.err == 0)
            h->mem->bootid_fail_since = 0;
        op_task_result_done(&res);
        return;
    }
    if (ahead && !op_tasks_busy(p->oc->tasks, h->key)) {
        /* A read ahead that failed or grew old (it is no failure of the host's sequence, which
         * starts now): read it again. */
        op_task_result_done(&res);
        h->mem->read_ahead = false;
    }
    if (op_tasks_busy(p->oc->tasks, h->key)) {
        op_tasks_promote(p->oc->tasks, h->key); /* a read ahead still queued is needed now */
        wait_at_most(p, TASK_WAIT_MS);
        return;
    }
    struct op_task_spec ts = {.kind = OP_TASK_BOOTID};
    start_task(p, h, &ts);
}

/* Reads ahead the boot ids of the next hosts to start (up to a window of them), in the
 * background, and keeps their sessions: when its turn comes, a host that is not drained goes
 * to Rebooting (or Executing) in the same round as it is chosen, and its reboot goes over the
 * session already open, instead of first waiting for a handshake and a command. A read older
 * than READ_AHEAD_MAX_AGE_MS at the host's turn is done again; each host is read ahead once. */
static void read_ahead(struct pass *p, size_t window) {
    size_t seen = 0;
    for (size_t i = 0; i < p->n && seen < window; i++) {
        struct hctx *h = &p->h[i];
        if (step_of(h->entry) != OP_STEP_PENDING || !h->mem || h->mem->reserved)
            continue;
        seen++;
        if (h->gone || !h->host || h->f.drain || h->mem->read_ahead_started)
            continue;
        if (p->spec.type == OP_TYPE_DEPLOY && json_is_false(cm_json_get(h->host, "status.atomic")))
            continue;
        if (op_tasks_busy(p->oc->tasks, h->key))
            continue;
        h->mem->read_ahead_started = true;
        h->mem->read_ahead = true;
        struct op_task_spec ts = {.kind = OP_TASK_BOOTID, .background = true};
        start_task(p, h, &ts);
    }
}

static void do_cordon(struct pass *p, struct hctx *h) {
    if (!h->f.drain) {
        pre_command(p, h);
        return;
    }
    if (node_clients(p) < 0) {
        set_host_message(h, "waiting for the container manager: %s", p->cm_msg);
        wait_at_most(p, RETRY_MS);
        return;
    }
    struct kube_error err;
    kube_error_init(&err);
    int r = node_set_unschedulable(p->kc, h->node, true, &err);
    if (r == 0 || r == -ENOENT)
        set_step(p, h, OP_STEP_DRAINING, "node %s cordoned%s; draining it", h->node,
                 r == -ENOENT ? " (no such node)" : "");
    else {
        set_host_message(h, "cordoning node %s: %s; retrying", h->node,
                         err.message ? err.message : strerror(-r));
        wait_at_most(p, RETRY_MS);
    }
    kube_error_done(&err);
}

static void do_drain(struct pass *p, struct hctx *h) {
    if (!h->f.drain) {
        pre_command(p, h);
        return;
    }
    /* Drained already in this step (boot id being read): do not list the pods again. */
    if (op_tasks_busy(p->oc->tasks, h->key) || h->mem->reserved) {
        pre_command(p, h);
        return;
    }
    int64_t since = ts_ms(h->entry, "stepStartedAt");
    if (node_clients(p) < 0) {
        set_host_message(h, "waiting for the container manager: %s", p->cm_msg);
        wait_at_most(p, RETRY_MS);
        return;
    }
    struct node_drain_status ds = {0};
    struct kube_error err;
    kube_error_init(&err);
    int r = node_drain(p->evict, h->node, &ds, &err);
    if (r == 0) {
        kube_error_done(&err);
        h->mem->reserved = true; /* drained: remember it while the boot id is read */
        pre_command(p, h);
        return;
    }
    char why[MSG_MAX];
    if (r > 0)
        snprintf(why, sizeof why,
                 "%zu pods still on node %s (%zu evictions refused by a PodDisruptionBudget, "
                 "%zu terminating)",
                 ds.remaining, h->node, ds.blocked, ds.terminating);
    else
        snprintf(why, sizeof why, "draining node %s: %s", h->node,
                 err.message ? err.message : strerror(-r));
    kube_error_done(&err);
    if (since > 0 && p->now - since > p->spec.drain_timeout_ms) {
        char d[24];
        host_fail(p, h, "drain did not finish within %s (drainTimeout): %s",
                  rc_duration_format(p->spec.drain_timeout_ms, d, sizeof d), why);
        return;
    }
    set_host_message(h, "draining: %s", why);
    char tag[TAG_MAX];
    tag_of(p, h, tag, sizeof tag);
    if (r > 0 && ds.blocked && (strcmp(h->mem->drain_tag, tag) || !h->mem->drain_blocked)) {
        snprintf(h->mem->drain_tag, sizeof h->mem->drain_tag, "%s", tag);
        h->mem->drain_blocked = ds.blocked;
        event(p, KUBE_EVENT_NORMAL, "DrainBlocked", "host %s: %s; retrying", h->name, why);
    }
    wait_at_most(p, p->oc->poll_ms);
}

static void do_execute(struct pass *p, struct hctx *h) {
    if (p->spec.type == OP_TYPE_RESTART) {
        /* Not written by this controller (restart has no command step): its reboot needs a
         * fresh boot id first, like any host leaving for its reboot. */
        pre_command(p, h);
        return;
    }
    struct op_task_result res;
    if (take(p, h, OP_TASK_EXEC, &res)) {
        if (res.err == 0 && res.exit_status == 0) {
            json_object_set_new(h->entry, "bootIDBefore", json_string(res.boot_id));
            set_step(p, h, OP_STEP_REBOOTING, "%s done (profile %s); rebooting (boot id %s)",
                     op_type_name(p->spec.type), res.profile, res.boot_id);
            tag_of(p, h, h->mem->reboot_tag, sizeof h->mem->reboot_tag);
            h->mem->sent = OP_REBOOT_NOT_SENT;
        } else if (res.err == -EAGAIN) {
            wait_at_most(p, POOL_FULL_RETRY_MS);
        } else if (res.err == 0) {
            host_fail(p, h, "%s", res.message);
        } else if (res.unreachable && !res.fatal) {
            /* The command is idempotent (package manager, rpm-ostree): run it again once the
             * host answers; hostTimeout bounds the retries. */
            set_host_message(h, "running the %s command: %s; retrying",
                             op_type_name(p->spec.type), res.message);
            wait_at_most(p, p->oc->poll_ms);
        } else {
            host_fail(p, h, "%s: %s", res.reason ? res.reason : "Error", res.message);
        }
        op_task_result_done(&res);
        return;
    }
    if (op_tasks_busy(p->oc->tasks, h->key)) {
        wait_at_most(p, TASK_WAIT_MS);
        return;
    }
    int64_t left = remaining_host_time(p, h);
    int64_t to = p->env->ssh_command_timeout_ms > 0 ? p->env->ssh_command_timeout_ms : 600000;
    struct op_task_spec ts = {
        .kind = OP_TASK_EXEC,
        .cmd = p->spec.type == OP_TYPE_DEPLOY ? OP_CMD_DEPLOY : OP_CMD_UPGRADE,
        .version = p->spec.version,
        .timeout_ms = left > 1000 && left < to ? left : to,
    };
    start_task(p, h, &ts);
}

static void do_verify(struct pass *p, struct hctx *h);

/* How long after a delivered reboot polls only probe until the host was seen down. */
static int64_t down_wait_ms(const struct op_ctl *oc) {
    return oc->poll_ms * 5 > DOWN_WAIT_MIN_MS ? oc->poll_ms * 5 : DOWN_WAIT_MIN_MS;
}

static void do_reboot(struct pass *p, struct hctx *h) {
    struct hmem *m = h->mem;
    char tag[TAG_MAX];
    tag_of(p, h, tag, sizeof tag);
    enum op_reboot_sent sent = strcmp(m->reboot_tag, tag) ? OP_REBOOT_SENT_UNKNOWN : m->sent;
    const char *before = estr(h->entry, "bootIDBefore");
    int64_t mono = cm_time_mono_ms();
    struct op_task_result res;

    if (take(p, h, OP_TASK_REBOOT, &res)) {
        if (res.rebooted) {
            set_step(p, h, OP_STEP_VERIFYING, "back with boot id %s (was %s)", res.boot_id,
                     before);
        } else if (res.sent) {
            snprintf(m->reboot_tag, sizeof m->reboot_tag, "%s", tag);
            m->sent = OP_REBOOT_SENT;
            m->last_poll_ms = mono;
            m->sent_ms = mono;
            m->seen_down = false;
            set_host_message(h, "reboot requested (profile %s); waiting for a new boot id",
                             res.profile);
            wait_at_most(p, p->oc->poll_ms);
        } else if (res.err == -EAGAIN) {
            wait_at_most(p, POOL_FULL_RETRY_MS);
        } else if (res.fatal) {
            host_fail(p, h, "%s: %s", res.reason ? res.reason : "Error", res.message);
        } else {
            /* Not delivered (no connection): still unsent; the guard makes a retry safe. */
            snprintf(m->reboot_tag, sizeof m->reboot_tag, "%s", tag);
            m->sent = OP_REBOOT_NOT_SENT;
            m->last_poll_ms = mono;
            set_host_message(h, "requesting the reboot: %s; retrying", res.message);
            wait_at_most(p, p->oc->poll_ms);
        }
        op_task_result_done(&res);
        return;
    }
    if (op_tasks_busy(p->oc->tasks, h->key)) {
        wait_at_most(p, TASK_WAIT_MS);
        return;
    }
    if (take(p, h, OP_TASK_POLL, &res)) {
        if (res.fatal) {
            host_fail(p, h, "coming back: %s: %s", res.reason ? res.reason : "Error",
                      res.message);
            op_task_result_done(&res);
            return;
        }
        if (res.unreachable)
            m->seen_down = true;
        int64_t since = ts_ms(h->entry, "stepStartedAt");
        struct op_reboot_in in = {
            .boot_before = before,
            .boot_now = res.err == 0 && res.boot_id[0] ? res.boot_id : NULL,
            .sent = sent,
            .step_age_ms = since > 0 ? p->now - since : 0,
            .grace_ms = p->oc->grace_ms,
        };
        switch (op_plan_reboot(&in)) {
        case OP_REBOOT_HAPPENED: {
            int64_t started = ts_ms(h->entry, "stepStartedAt");
            char d[24];
            set_step(p, h, OP_STEP_VERIFYING, "back with boot id %s (was %s) after %s",
                     res.boot_id, before,
                     rc_duration_format(started > 0 ? p->now - started : 0, d, sizeof d));
            if (m->have_facts)
                sshc_facts_done(&m->facts);
            m->facts = res.facts;
            m->have_facts = res.have_facts;
            res.have_facts = false;
            tag_of(p, h, m->facts_tag, sizeof m->facts_tag);
            /* Verifying's work needs nothing but the facts just gathered (recording them on
             * the Host is an API write, safe to repeat if this round's status write is lost):
             * do it now rather than after one more status write. */
            do_verify(p, h);
            break;
        }
        case OP_REBOOT_SEND:
            if (sent == OP_REBOOT_SENT_UNKNOWN) {
                /* Resumed, and the host still runs the recorded boot id after the grace time:
                 * the reboot was never delivered. Record the new attempt first. */
                set_step(p, h, OP_STEP_REBOOTING,
                         "still boot id %s %llds after the step started: requesting the reboot",
                         before, (long long)(in.step_age_ms / 1000));
                tag_of(p, h, m->reboot_tag, sizeof m->reboot_tag);
                m->sent = OP_REBOOT_NOT_SENT;
            } else {
                struct op_task_spec ts = {
                    .kind = OP_TASK_REBOOT,
                    .cmd = p->spec.type == OP_TYPE_RESTART ? OP_CMD_RESTART : OP_CMD_REBOOT,
                    .boot_before = before,
                };
                start_task(p, h, &ts);
            }
            break;
        default:
            if (!in.boot_now)
                set_host_message(h, "waiting for the host to come back: %s", res.message);
            wait_at_most(p, p->oc->poll_ms);
            break;
        }
        op_task_result_done(&res);
        return;
    }
    if (m->last_poll_ms && mono - m->last_poll_ms < p->oc->poll_ms) {
        wait_at_most(p, p->oc->poll_ms - (mono - m->last_poll_ms));
        return;
    }
    m->last_poll_ms = mono;
    if (sent == OP_REBOOT_NOT_SENT) {
        /* The task compares the boot id on the host itself before rebooting it. */
        struct op_task_spec ts = {
            .kind = OP_TASK_REBOOT,
            .cmd = p->spec.type == OP_TYPE_RESTART ? OP_CMD_RESTART : OP_CMD_REBOOT,
            .boot_before = before,
        };
        start_task(p, h, &ts);
        return;
    }
    /* A delivered reboot takes the host down shortly: until a probe has seen it down, a probe
     * that connects is not followed by a handshake (it would race the shutdown, and load the
     * host while it goes down). Bounded, for a reboot faster than the poll interval. */
    struct op_task_spec ts = {
        .kind = OP_TASK_POLL,
        .until_down = sent == OP_REBOOT_SENT && !m->seen_down &&
                      mono - m->sent_ms < down_wait_ms(p->oc),
    };
    start_task(p, h, &ts);
}

struct facts_put {
    const struct sshc_facts *f;
    const char *ts;
};

static int host_facts_mutate(json_t *obj, void *userdata) {
    const struct facts_put *fp = userdata;
    const struct sshc_facts *f = fp->f;
    json_t *st = json_object_get(obj, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(obj, "status", st);
    }
    json_t *before = json_deep_copy(st);
    st_set_str(st, "os", f->os_id ? f->os_id : "");
    st_set_str(st, "osVersion", f->atomic && f->ostree_version && *f->ostree_version
                                    ? f->ostree_version
                                    : (f->os_version_id ? f->os_version_id : ""));
    json_object_set_new(st, "atomic", json_boolean(f->atomic));
    json_object_set_new(st, "cpus", json_integer(f->cpus));
    json_object_set_new(st, "memory", json_integer(f->memory_kib));
    json_object_set_new(st, "space", json_integer(f->space_kib));
    st_set_str(st, "kernel", f->kernel ? f->kernel : "");
    st_set_str(st, "bootID", f->boot_id ? f->boot_id : "");
    st_set_str(st, "hostname", f->hostname ? f->hostname : "");
    int same = before && json_equal(before, st);
    json_decref(before);
    if (same)
        return 1;
    st_set_str(st, "lastCheck", fp->ts);
    return 0;
}

static const char *facts_version(const struct sshc_facts *f) {
    if (f->atomic && f->ostree_version && *f->ostree_version)
        return f->ostree_version;
    return f->os_version_id ? f->os_version_id : "";
}

static void do_verify(struct pass *p, struct hctx *h) {
    struct hmem *m = h->mem;
    char tag[TAG_MAX];
    tag_of(p, h, tag, sizeof tag);
    struct op_task_result res = {0};
    bool have_res = false;
    const struct sshc_facts *f = NULL;
    if (m->have_facts && !strcmp(m->facts_tag, tag)) {
        f = &m->facts;
    } else if (take(p, h, OP_TASK_POLL, &res)) {
        have_res = true;
        if (res.fatal) {
            host_fail(p, h, "%s: %s", res.reason ? res.reason : "Error", res.message);
            goto out;
        }
        if (!res.have_facts) {
            set_host_message(h, "verifying: %s; retrying", res.message);
            wait_at_most(p, p->oc->poll_ms);
            goto out;
        }
        f = &res.facts;
    } else {
        if (op_tasks_busy(p->oc->tasks, h->key)) {
            wait_at_most(p, TASK_WAIT_MS);
            return;
        }
        struct op_task_spec ts = {.kind = OP_TASK_POLL};
        start_task(p, h, &ts);
        return;
    }

    const char *before = estr(h->entry, "bootIDBefore");
    const char *ver = facts_version(f);
    if (*before && f->boot_id && !strcmp(f->boot_id, before)) {
        host_fail(p, h, "the host still runs boot id %s: it did not reboot", before);
        goto consumed;
    }
    if (p->spec.version && p->spec.type != OP_TYPE_RESTART && strcmp(ver, p->spec.version)) {
        host_fail(p, h, "the host runs version %s after the %s, expected %s", ver,
                  op_type_name(p->spec.type), p->spec.version);
        goto consumed;
    }
    char ts[40];
    now_str(p->now, ts, sizeof ts);
    struct facts_put fp = {f, ts};
    struct kube_error err;
    kube_error_init(&err);
    int r = kube_status_update(p->env->client, &RC_RES_HOSTS, p->ns, h->name, NULL,
                               host_facts_mutate, &fp, NULL, &err);
    if (r < 0 && r != -ENOENT) {
        set_host_message(h, "verifying: updating the Host's facts: %s; retrying",
                         err.message ? err.message : strerror(-r));
        kube_error_done(&err);
        wait_at_most(p, RETRY_MS);
        if (have_res && f == &res.facts) {
            /* Keep the facts for the retry (same step, same tag). */
            if (m->have_facts)
                sshc_facts_done(&m->facts);
            m->facts = res.facts;
            m->have_facts = true;
            res.have_facts = false;
            snprintf(m->facts_tag, sizeof m->facts_tag, "%s", tag);
        }
        goto out;
    }
    kube_error_done(&err);
    enum op_step next = op_step_next(OP_STEP_VERIFYING, &h->f);
    set_step(p, h, next, "rebooted (boot id %s -> %s), %s %s%s%s", before, f->boot_id,
             f->os_id ? f->os_id : "", ver,
             next == OP_STEP_WAITING_NODE_READY ? "; waiting for node " : "",
             next == OP_STEP_WAITING_NODE_READY ? h->node : "");
consumed:
    if (f == &m->facts) {
        sshc_facts_done(&m->facts);
        m->have_facts = false;
    }
out:
    if (have_res)
        op_task_result_done(&res);
}

static void do_node_ready(struct pass *p, struct hctx *h) {
    enum op_step next = op_step_next(OP_STEP_WAITING_NODE_READY, &h->f);
    if (!h->f.node_wait) {
        set_step(p, h, next, "no node to wait for");
        return;
    }
    if (node_clients(p) < 0) {
        set_host_message(h, "waiting for the container manager: %s", p->cm_msg);
        wait_at_most(p, RETRY_MS);
        return;
    }
    bool ready = false;
    char *reason = NULL;
    struct kube_error err;
    kube_error_init(&err);
    int r = node_ready(p->kc, h->node, &ready, &reason, &err);
    if (r == 0 && ready) {
        set_step(p, h, next, "node %s is Ready%s", h->node,
                 next == OP_STEP_UNCORDONING ? "; uncordoning it" : "");
    } else {
        set_host_message(h, "waiting for node %s to be Ready: %s", h->node,
                         r == 0 ? (reason ? reason : "NotReady")
                                : (r == -ENOENT ? "no such node"
                                                : (err.message ? err.message : strerror(-r))));
        wait_at_most(p, p->oc->poll_ms);
    }
    free(reason);
    kube_error_done(&err);
}

static void finish_host(struct pass *p, struct hctx *h, const char *note) {
    int64_t started = ts_ms(h->entry, "startedAt");
    char d[24];
    set_step(p, h, OP_STEP_DONE, "done in %s%s",
             rc_duration_format(started > 0 ? p->now - started : 0, d, sizeof d), note);
}

static void do_uncordon(struct pass *p, struct hctx *h) {
    if (!h->f.drain) {
        finish_host(p, h, "");
        return;
    }
    if (node_clients(p) < 0) {
        set_host_message(h, "waiting for the container manager: %s", p->cm_msg);
        wait_at_most(p, RETRY_MS);
        return;
    }
    struct kube_error err;
    kube_error_init(&err);
    int r = node_set_unschedulable(p->kc, h->node, false, &err);
    if (r == 0 || r == -ENOENT) {
        finish_host(p, h, r == 0 ? "; node uncordoned" : "; its node no longer exists");
    } else {
        set_host_message(h, "uncordoning node %s: %s; retrying", h->node,
                         err.message ? err.message : strerror(-r));
        wait_at_most(p, RETRY_MS);
    }
    kube_error_done(&err);
}

/* The work of the step status holds for h (one of the round's side effects). */
static void advance(struct pass *p, struct hctx *h) {
    enum op_step s = step_of(h->entry);
    if (op_step_is_terminal(s))
        return;
    if (h->gone) {
        host_skip(p, h, h->gone_why);
        return;
    }
    if (s == OP_STEP_PENDING) {
        if (!h->mem->reserved)
            return;
        if (p->no_start) {
            /* Chosen before a pause/cancel/failure: nothing happened to it yet; release it. */
            h->mem->reserved = false;
            op_tasks_drop(p->oc->tasks, h->key);
            return;
        }
    } else if (remaining_host_time(p, h) <= 0) {
        char d[24];
        host_fail(p, h, "timed out after %s (hostTimeout); last: %s",
                  rc_duration_format(p->spec.host_timeout_ms, d, sizeof d),
                  estr(h->entry, "message"));
        return;
    }
    if (annotate(p, h, true) < 0) {
        wait_at_most(p, RETRY_MS);
        return;
    }
    switch (s) {
    case OP_STEP_PENDING: pre_command(p, h); break;
    case OP_STEP_CORDONING: do_cordon(p, h); break;
    case OP_STEP_DRAINING: do_drain(p, h); break;
    case OP_STEP_EXECUTING: do_execute(p, h); break;
    case OP_STEP_REBOOTING: do_reboot(p, h); break;
    case OP_STEP_VERIFYING: do_verify(p, h); break;
    case OP_STEP_WAITING_NODE_READY: do_node_ready(p, h); break;
    case OP_STEP_UNCORDONING: do_uncordon(p, h); break;
    default: break;
    }
}

/* The plan chose h (Pending) to start now. */
static void begin(struct pass *p, struct hctx *h) {
    if (p->spec.type == OP_TYPE_DEPLOY && h->host &&
        json_is_false(cm_json_get(h->host, "status.atomic"))) {
        /* Known before touching it: no cordon, no drain for a host that cannot deploy. */
        host_fail(p, h, "deploy needs an rpm-ostree (Atomic) host; %s runs %s %s",
                  h->name, cm_json_get_str(h->host, "status.os") ?: "?",
                  cm_json_get_str(h->host, "status.osVersion") ?: "");
        return;
    }
    enum op_step next = op_step_next(OP_STEP_PENDING, &h->f);
    if (next == OP_STEP_CORDONING) {
        set_step(p, h, OP_STEP_CORDONING, "cordoning node %s", h->node);
        return;
    }
    /* Not drained: the first thing to do is read its boot id, which only a move out of
     * Pending records. Until then it holds a place in the window. */
    h->mem->reserved = true;
    p->progressed = true;
    if (annotate(p, h, true) < 0) {
        wait_at_most(p, RETRY_MS);
        return;
    }
    pre_command(p, h);
}

static const char *first_failure(struct pass *p) {
    for (size_t i = 0; i < p->n; i++)
        if (step_of(p->h[i].entry) == OP_STEP_FAILED)
            return p->h[i].name;
    return NULL;
}

static void apply_phase(struct pass *p, const struct op_plan_out *plan) {
    size_t c[OP_STEP__MAX], flight = 0, total = p->n;
    count_steps(p->st, c);
    for (int s = 0; s < OP_STEP__MAX; s++)
        if (op_step_in_flight((enum op_step)s))
            flight += c[s];
    const char *ff = first_failure(p);
    char failmsg[MSG_MAX] = "";
    if (ff)
        for (size_t i = 0; i < p->n; i++)
            if (!strcmp(p->h[i].name, ff))
                snprintf(failmsg, sizeof failmsg, "host %s failed: %s", ff,
                         estr(p->h[i].entry, "message"));
    switch (plan->phase) {
    case OP_PHASE_FINISHED:
        if (c[OP_STEP_FAILED])
            set_phase(p, OP_PHASE_FINISHED, plan->reason,
                      "%zu of %zu hosts done, %zu failed (maxFailures %lld), %zu skipped; %s",
                      c[OP_STEP_DONE], total, c[OP_STEP_FAILED],
                      (long long)p->spec.max_failures, c[OP_STEP_SKIPPED], failmsg);
        else
            set_phase(p, OP_PHASE_FINISHED, plan->reason, "%zu of %zu hosts done, %zu skipped",
                      c[OP_STEP_DONE], total, c[OP_STEP_SKIPPED]);
        break;
    case OP_PHASE_FAILED:
        set_phase(p, OP_PHASE_FAILED, plan->reason, "%s; %zu done, %zu failed, %zu not done",
                  failmsg, c[OP_STEP_DONE], c[OP_STEP_FAILED], c[OP_STEP_SKIPPED]);
        break;
    case OP_PHASE_CANCELED:
        set_phase(p, OP_PHASE_CANCELED, plan->reason, "canceled: %zu of %zu hosts done, %zu skipped",
                  c[OP_STEP_DONE], total, c[OP_STEP_SKIPPED]);
        break;
    case OP_PHASE_PAUSED:
        set_phase(p, OP_PHASE_PAUSED, plan->reason, "paused: %zu of %zu hosts done, %zu in progress",
                  c[OP_STEP_DONE], total, flight);
        break;
    default:
        if (plan->stopping)
            set_phase(p, OP_PHASE_INPROCESS, plan->reason,
                      "%s; stopping: %zu hosts in progress finish first", failmsg, flight);
        else
            set_phase(p, OP_PHASE_INPROCESS, plan->reason,
                      "%zu of %zu hosts done, %zu in progress, %zu failed", c[OP_STEP_DONE],
                      total, flight, c[OP_STEP_FAILED]);
        break;
    }
}

static void plan_now(struct pass *p, struct op_plan_out *out, size_t *start) {
    enum op_step *steps = calloc(p->n ? p->n : 1, sizeof *steps);
    bool *reserved = calloc(p->n ? p->n : 1, sizeof *reserved);
    if (steps && reserved) {
        for (size_t i = 0; i < p->n; i++) {
            steps[i] = step_of(p->h[i].entry);
            reserved[i] = steps[i] == OP_STEP_PENDING && p->h[i].mem && p->h[i].mem->reserved;
        }
        struct op_plan_in in = {&p->spec, steps, p->n, reserved};
        op_plan_compute(&in, out, start);
    } else {
        memset(out, 0, sizeof *out);
        out->phase = phase_of_st(p->st);
    }
    free(steps);
    free(reserved);
}

/* ---- ends: terminal settling, deletion ---- */

/* A finished Operation: no annotation of ours left on its hosts, no finalizer. */
static struct rc_result settle_terminal(struct pass *p) {
    if (hctx_refresh(p) < 0)
        return rc_error(-ENOMEM);
    for (size_t i = 0; i < p->n; i++)
        if (annotate(p, &p->h[i], false) < 0)
            return rc_requeue_after(RETRY_MS);
    int r = set_finalizer(p, false);
    if (r < 0 && r != -ENOENT)
        return result_of_write(r);
    op_tasks_forget(p->oc->tasks, p->prefix);
    hctx_done(p);
    hmem_forget(p->oc, p->prefix);
    return rc_done();
}

/* Deleted while it may still run: bring back what it cordoned, drop the annotations, then
 * release the finalizer (as cancel, without waiting for anything). */
static struct rc_result finalize(struct pass *p) {
    if (!has_finalizer(p->op)) {
        op_tasks_forget(p->oc->tasks, p->prefix);
        hmem_forget(p->oc, p->prefix);
        return rc_done();
    }
    if (hctx_refresh(p) < 0)
        return rc_error(-ENOMEM);
    size_t n_back = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct hctx *h = &p->h[i];
        if (op_step_is_terminal(step_of(h->entry)))
            continue;
        if (cordoned_by_us(h))
            n_back++;
        bring_back(p, h);
    }
    for (size_t i = 0; i < p->n; i++)
        if (annotate(p, &p->h[i], false) < 0)
            return rc_requeue_after(RETRY_MS);
    int r = set_finalizer(p, false);
    if (r < 0 && r != -ENOENT)
        return result_of_write(r);
    cm_log_kv(CM_LOG_INFO, "operation deleted; cleaned up", "namespace", p->ns, "name",
              p->name, NULL);
    if (n_back && p->env->events) {
        json_t *ref = json_pack("{s:s,s:s,s:O}", "apiVersion", "commissaire.io/v1alpha1", "kind",
                                "Operation", "metadata", json_object_get(p->op, "metadata"));
        if (ref)
            kube_events_record(p->env->events, ref, KUBE_EVENT_NORMAL, "Canceled",
                               "deleted: %zu hosts in progress were brought back", n_back);
        json_decref(ref);
    }
    op_tasks_forget(p->oc->tasks, p->prefix);
    hctx_done(p);
    hmem_forget(p->oc, p->prefix);
    memo_drop(p->oc, p->key);
    return rc_done();
}

/* ---- start ---- */

/* Whether this Operation's turn on its cluster has come; msg says what it waits for. */
static bool queue_turn(struct pass *p, char *msg, size_t n) {
    json_t *all = kube_informer_list_by_namespace(rc_manager_informer(p->oc->m, &RC_RES_OPERATIONS),
                                                  p->ns);
    size_t cnt = json_array_size(all), k = 0, self = (size_t)-1;
    struct op_queue_entry *e = calloc(cnt + 1, sizeof *e);
    json_t **objs = calloc(cnt + 1, sizeof *objs);
    bool ok = true;
    if (!e || !objs)
        goto out;
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o) {
        if (strcmp(cm_json_get_str(o, "spec.cluster") ?: "", p->spec.cluster))
            continue;
        bool me = !strcmp(cm_json_get_str(o, "metadata.name") ?: "", p->name);
        const json_t *src = me ? p->op : o;
        enum op_phase ph = op_phase_from_string(cm_json_get_str(src, "status.phase"));
        e[k] = (struct op_queue_entry){
            .name = cm_json_get_str(src, "metadata.name"),
            .created_ms = ts_ms(src, "metadata.creationTimestamp"),
            .started = ph == OP_PHASE_INPROCESS || ph == OP_PHASE_PAUSED,
            .terminal = op_phase_is_terminal(ph),
        };
        objs[k] = o;
        if (me)
            self = k;
        k++;
    }
    if (self == (size_t)-1) {
        e[k] = (struct op_queue_entry){.name = p->name,
                                       .created_ms = ts_ms(p->op, "metadata.creationTimestamp")};
        self = k++;
    }
    size_t blocker = 0;
    ok = op_plan_may_run(e, k, self, &blocker);
    if (!ok)
        snprintf(msg, n, "waiting for operation %s (%s) of cluster %s", e[blocker].name,
                 cm_json_get_str(objs[blocker], "status.phase") ?: "Pending", p->spec.cluster);
out:
    free(e);
    free(objs);
    json_decref(all);
    return ok;
}

/* Records the selected hosts (Pending) and the start. */
static int snapshot(struct pass *p) {
    json_t *hosts = rc_lookup_cluster_hosts(p->oc->m, p->ns, p->spec.cluster);
    json_t *arr = json_array();
    if (!hosts || !arr) {
        json_decref(hosts);
        json_decref(arr);
        return -ENOMEM;
    }
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h) {
        if (cm_json_get_str(h, "metadata.deletionTimestamp"))
            continue;
        if (!op_selector_matches(p->spec.host_selector, cm_json_get(h, "metadata.labels")))
            continue;
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "name",
                                             cm_json_get_str(h, "metadata.name") ?: "",
                                             "address", cm_json_get_str(h, "spec.address") ?: "",
                                             "step", "Pending"));
    }
    json_decref(hosts);
    char ts[40];
    now_str(p->now, ts, sizeof ts);
    json_object_set_new(p->st, "hosts", arr);
    st_set_str(p->st, "startedAt", ts);
    json_object_del(p->st, "finishedAt");
    set_cond(p, "Accepted", true, "Valid", "the spec is valid");
    char mu[24];
    if (p->spec.max_unavailable_percent)
        snprintf(mu, sizeof mu, "%lld%%", (long long)p->spec.max_unavailable);
    else
        snprintf(mu, sizeof mu, "%lld", (long long)p->spec.max_unavailable);
    event(p, KUBE_EVENT_NORMAL, "Started",
          "%s of %zu hosts of cluster %s, maxUnavailable %s (%zu at once)",
          op_type_name(p->spec.type), json_array_size(arr), p->spec.cluster, mu,
          op_spec_window(&p->spec, json_array_size(arr)));
    return 0;
}

/* ---- the pass ---- */

static struct rc_result run_rounds(struct pass *p) {
    for (int round = 0; round < MAX_ROUNDS; round++) {
        p->now = cm_time_wall_ms();
        p->progressed = false;
        p->wait_ms = 0;
        p->clients_tried = false;
        if (hctx_refresh(p) < 0)
            return rc_error(-ENOMEM);
        size_t *start = calloc(p->n ? p->n : 1, sizeof *start);
        if (!start)
            return rc_error(-ENOMEM);
        struct op_plan_out plan;
        plan_now(p, &plan, start);
        p->no_start = p->spec.paused || p->spec.cancel || plan.stopping;
        if (!p->spec.cancel)
            for (size_t i = 0; i < p->n; i++)
                advance(p, &p->h[i]);
        plan_now(p, &plan, start);
        if (plan.cancel) {
            for (size_t i = 0; i < p->n; i++)
                if (!op_step_is_terminal(step_of(p->h[i].entry)))
                    host_skip(p, &p->h[i], "the operation was canceled");
        } else if (plan.skip_pending) {
            for (size_t i = 0; i < p->n; i++)
                if (step_of(p->h[i].entry) == OP_STEP_PENDING)
                    host_skip(p, &p->h[i], "the operation stopped after a host failed");
        }
        for (size_t i = 0; i < plan.n_start; i++)
            begin(p, &p->h[start[i]]);
        free(start);
        if (!p->no_start && !plan.cancel && !plan.skip_pending &&
            plan.phase == OP_PHASE_INPROCESS)
            read_ahead(p, plan.window);
        apply_phase(p, &plan);
        int r = commit(p);
        if (r < 0)
            return result_of_write(r);
        if (op_phase_is_terminal(plan.phase))
            return settle_terminal(p);
        if (!p->progressed)
            break;
    }
    if (p->progressed)
        return rc_requeue();
    return p->wait_ms > 0 ? rc_requeue_after(p->wait_ms) : rc_done();
}

static struct rc_result reconcile(struct rc_controller *ctl, const char *ns, const char *name,
                                  void *userdata) {
    (void)ctl;
    struct op_ctl *oc = userdata;
    struct pass p = {.oc = oc, .env = oc->env, .ns = ns, .name = name,
                     .now = cm_time_wall_ms()};
    struct rc_result res = rc_done();
    if (asprintf(&p.key, "%s/%s", ns, name) < 0) {
        p.key = NULL;
        return rc_error(-ENOMEM);
    }
    if (asprintf(&p.prefix, "%s/%s|", ns, name) < 0) {
        p.prefix = NULL;
        free(p.key);
        return rc_error(-ENOMEM);
    }
    p.op = freshest(oc, p.key, ns, name);
    if (!p.op) {
        op_tasks_forget(oc->tasks, p.prefix);
        hmem_forget(oc, p.prefix);
        goto out;
    }
    snprintf(p.uid, sizeof p.uid, "%s", cm_json_get_str(p.op, "metadata.uid") ?: "");
    p.spec_op = json_incref(p.op);
    struct op_spec_error serr = {0};
    int sr = op_spec_parse(p.spec_op, &p.spec, &serr);
    json_t *st = cm_json_get(p.op, "status");
    p.st = json_is_object(st) ? json_deep_copy(st) : json_object();
    if (!p.st) {
        res = rc_error(-ENOMEM);
        goto out;
    }
    if (sr == 0) {
        p.cluster = rc_lookup_cluster(oc->m, ns, p.spec.cluster);
        p.cm = rc_lookup_cluster_cm(oc->m, p.cluster, NULL);
        p.managed = cluster_cm_is_managed(p.cm);
    } else {
        p.spec.cluster = "";
    }

    if (cm_json_get_str(p.op, "metadata.deletionTimestamp")) {
        res = finalize(&p);
        goto out;
    }
    enum op_phase phase = phase_of_st(p.st);
    if (op_phase_is_terminal(phase)) {
        res = settle_terminal(&p);
        goto out;
    }
    if (sr < 0) {
        set_cond(&p, "Accepted", false, serr.reason, serr.message);
        set_phase(&p, OP_PHASE_FAILED, serr.reason, "invalid spec: %s", serr.message);
        event(&p, KUBE_EVENT_WARNING, "Invalid", "%s", serr.message);
        int r = commit(&p);
        res = r < 0 ? result_of_write(r) : settle_terminal(&p);
        goto out;
    }
    if (phase == OP_PHASE_NONE || phase == OP_PHASE_PENDING) {
        char msg[MSG_MAX];
        if (p.spec.cancel) {
            set_cond(&p, "Accepted", true, "Valid", "the spec is valid");
            set_phase(&p, OP_PHASE_CANCELED, "Canceled", "canceled before it started");
            int r = commit(&p);
            res = r < 0 ? result_of_write(r) : settle_terminal(&p);
            goto out;
        }
        if (!p.cluster) {
            int64_t age = p.now - ts_ms(p.op, "metadata.creationTimestamp");
            if (age < oc->cluster_grace_ms) {
                /* Created together with its Cluster, whose informer may lag a moment. */
                res = rc_requeue_after(RETRY_MS);
                goto out;
            }
            snprintf(msg, sizeof msg, "Cluster %s not found in namespace %s", p.spec.cluster,
                     ns);
            set_cond(&p, "Accepted", false, "ClusterNotFound", msg);
            set_phase(&p, OP_PHASE_FAILED, "ClusterNotFound", "%s", msg);
            event(&p, KUBE_EVENT_WARNING, "Invalid", "%s", msg);
            int r = commit(&p);
            res = r < 0 ? result_of_write(r) : settle_terminal(&p);
            goto out;
        }
        if (!queue_turn(&p, msg, sizeof msg)) {
            set_cond(&p, "Accepted", true, "Valid", "the spec is valid");
            set_phase(&p, OP_PHASE_PENDING, "Waiting", "%s", msg);
            int r = commit(&p);
            /* The blocker's end enqueues this one; the re-visit is a safety net. */
            res = r < 0 ? result_of_write(r) : rc_requeue_after(TASK_WAIT_MS);
            goto out;
        }
        int r = set_finalizer(&p, true);
        if (r < 0) {
            res = result_of_write(r);
            goto out;
        }
        if ((r = snapshot(&p)) < 0) {
            res = rc_error(r);
            goto out;
        }
    }
    res = run_rounds(&p);
out:
    hctx_done(&p);
    events_flush(&p, false);
    json_decref(p.st);
    json_decref(p.op);
    json_decref(p.spec_op);
    json_decref(p.cluster);
    json_decref(p.cm);
    free(p.key);
    free(p.prefix);
    return res;
}

/* ---- watches ---- */

static void enqueue_cluster_ops(struct op_ctl *oc, const char *ns, const char *cluster) {
    if (!ns || !cluster || !*cluster)
        return;
    json_t *all =
        kube_informer_list_by_namespace(rc_manager_informer(oc->m, &RC_RES_OPERATIONS), ns);
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o) {
        if (strcmp(cm_json_get_str(o, "spec.cluster") ?: "", cluster))
            continue;
        if (op_phase_is_terminal(op_phase_from_string(cm_json_get_str(o, "status.phase"))))
            continue;
        rc_controller_enqueue_name(oc->ctl, ns, cm_json_get_str(o, "metadata.name"));
    }
    json_decref(all);
}

/* An Operation that ends (or goes) frees its cluster for the next one in line. */
static void op_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    const char *a = cm_json_get_str(old_obj, "status.phase");
    const char *b = cm_json_get_str(new_obj, "status.phase");
    if (!strcmp(a ?: "", b ?: ""))
        return;
    enqueue_cluster_ops(userdata, cm_json_get_str(new_obj, "metadata.namespace"),
                        cm_json_get_str(new_obj, "spec.cluster"));
}

static void op_delete(json_t *obj, void *userdata) {
    enqueue_cluster_ops(userdata, cm_json_get_str(obj, "metadata.namespace"),
                        cm_json_get_str(obj, "spec.cluster"));
}

static int str_differs(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

/* A Host deleted, leaving its cluster or relabelled: its operations re-plan. */
static void host_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    const char *oc = cm_json_get_str(old_obj, "spec.cluster");
    const char *nc = cm_json_get_str(new_obj, "spec.cluster");
    bool deleting = !cm_json_get_str(old_obj, "metadata.deletionTimestamp") &&
                    cm_json_get_str(new_obj, "metadata.deletionTimestamp");
    json_t *ol = cm_json_get(old_obj, "metadata.labels"), *nl = cm_json_get(new_obj, "metadata.labels");
    bool relabelled = !(ol == nl || (ol && nl && json_equal(ol, nl)));
    if (!deleting && !relabelled && !str_differs(oc, nc))
        return;
    const char *ns = cm_json_get_str(new_obj, "metadata.namespace");
    enqueue_cluster_ops(userdata, ns, oc);
    if (str_differs(oc, nc))
        enqueue_cluster_ops(userdata, ns, nc);
}

static void host_delete(json_t *obj, void *userdata) {
    enqueue_cluster_ops(userdata, cm_json_get_str(obj, "metadata.namespace"),
                        cm_json_get_str(obj, "spec.cluster"));
}

static void task_done(const char *op_key, void *userdata) {
    struct op_ctl *oc = userdata;
    rc_controller_enqueue(oc->ctl, op_key);
}

/* ---- metrics ---- */

static void collect(struct rc_metrics *reg, void *userdata) {
    (void)reg;
    struct op_ctl *oc = userdata;
    json_t *all = kube_informer_list(rc_manager_informer(oc->m, &RC_RES_OPERATIONS));
    size_t phases[OP_PHASE__MAX] = {0};
    rc_metric_zero(oc->m_hosts);
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o) {
        const json_t *st = cm_json_get(o, "status");
        phases[phase_of_st(st)]++;
        size_t c[OP_STEP__MAX], flight = 0;
        count_steps(st, c);
        if (!json_array_size(json_object_get(st, "hosts")))
            continue;
        for (int s = 0; s < OP_STEP__MAX; s++)
            if (op_step_in_flight((enum op_step)s))
                flight += c[s];
        char key[512];
        snprintf(key, sizeof key, "%s/%s", cm_json_get_str(o, "metadata.namespace") ?: "",
                 cm_json_get_str(o, "metadata.name") ?: "");
        rc_metric_set(oc->m_hosts, key, "pending", (double)c[OP_STEP_PENDING]);
        rc_metric_set(oc->m_hosts, key, "in_progress", (double)flight);
        rc_metric_set(oc->m_hosts, key, "succeeded", (double)c[OP_STEP_DONE]);
        rc_metric_set(oc->m_hosts, key, "failed", (double)c[OP_STEP_FAILED]);
        rc_metric_set(oc->m_hosts, key, "skipped", (double)c[OP_STEP_SKIPPED]);
    }
    json_decref(all);
    for (int ph = 0; ph < OP_PHASE__MAX; ph++)
        rc_metric_set(oc->m_phases, ph == OP_PHASE_NONE ? "New" : op_phase_name(ph), NULL,
                      (double)phases[ph]);
}

/* ---- registration ---- */

static void op_ctl_free(void *userdata) {
    struct op_ctl *oc = userdata;
    if (!oc)
        return;
    op_tasks_free(oc->tasks); /* first: its threads enqueue into the controller */
    ctrmgr_cache_free(oc->cms);
    for (struct memo_entry *e = oc->memo, *n; e; e = n) {
        n = e->next;
        json_decref(e->obj);
        free(e->key);
        free(e);
    }
    for (struct hmem *h = oc->hmem, *n; h; h = n) {
        n = h->next;
        hmem_free(h);
    }
    pthread_mutex_destroy(&oc->lock);
    free(oc);
}

static const double duration_buckets[] = {1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800};

int operation_controller_register(struct rc_manager *m, unsigned workers,
                                  const struct op_controller_options *opts,
                                  struct rc_controller **ret_ctl) {
    struct op_controller_options o = {0};
    if (opts)
        o = *opts;
    struct op_ctl *oc = calloc(1, sizeof *oc);
    if (!oc)
        return -ENOMEM;
    oc->m = m;
    oc->env = rc_manager_env(m);
    pthread_mutex_init(&oc->lock, NULL);
    oc->poll_ms = o.poll_ms > 0 ? o.poll_ms
                                : (oc->env->node_poll_ms > 0 ? oc->env->node_poll_ms : 2000);
    oc->grace_ms = o.reboot_grace_ms > 0 ? o.reboot_grace_ms : 20000;
    oc->cluster_grace_ms = o.cluster_grace_ms > 0 ? o.cluster_grace_ms : 10000;
    int r = ctrmgr_cache_new(&oc->cms);
    if (r < 0 || (r = rc_lookup_register(m)) < 0 ||
        (r = op_tasks_new(oc->env, o.ssh_threads, task_done, oc, &oc->tasks)) < 0) {
        op_ctl_free(oc);
        return r;
    }
    struct rc_controller_def def = {
        .kind = "Operation",
        .resource = &RC_RES_OPERATIONS,
        .workers = workers ? workers : 2,
        .reconcile = reconcile,
        .userdata = oc,
        .free_cb = op_ctl_free,
    };
    if ((r = rc_controller_new(m, &def, &oc->ctl)) < 0) {
        op_ctl_free(oc);
        return r;
    }
    struct rc_watch_handlers oh = {NULL, op_update, op_delete, oc};
    struct rc_watch_handlers hh = {NULL, host_update, host_delete, oc};
    if ((r = rc_manager_watch(m, &RC_RES_OPERATIONS, &oh)) < 0 ||
        (r = rc_manager_watch(m, &RC_RES_HOSTS, &hh)) < 0)
        return r;
    if (oc->env->metrics) {
        struct rc_metrics *reg = oc->env->metrics;
        oc->m_hosts = rc_metrics_gauge(reg, "commissaire_operation_hosts",
                                       "Hosts of each Operation by state.", "operation,state");
        oc->m_phases = rc_metrics_gauge(reg, "commissaire_operations",
                                        "Operations by phase (New: not looked at yet).",
                                        "phase");
        oc->m_duration = rc_metrics_histogram(
            reg, "commissaire_operation_host_duration_seconds",
            "Time one host took through its whole sequence (cordon to uncordon), by type.",
            "type", duration_buckets, sizeof duration_buckets / sizeof duration_buckets[0]);
        oc->m_steps = rc_metrics_counter(reg, "commissaire_operation_steps_total",
                                         "Host step transitions recorded, by step entered.",
                                         "step");
        rc_metrics_collector_add(reg, collect, oc);
    }
    if (ret_ctl)
        *ret_ctl = oc->ctl;
    return 0;
}
