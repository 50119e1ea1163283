/* The Host reconciler. See host_controller.h for the flow; the rules it follows:
 *  - every status write happens BEFORE the side effect it announces (a bootstrap step, a
 *    registration), so a controller killed at any point resumes from status alone;
 *  - a pass accumulates its status changes and writes them once where it can (one PUT of the
 *    status subresource with the resourceVersion it read; a conflict falls back to
 *    GET + re-apply + PUT);
 *  - waiting (pool full, node not Ready, PDB, retry of a failed host) is a requeue;
 *  - the private key and container manager credentials never reach a log, Event or status. */
#include "host_controller.h"

#include "cluster_state.h"
#include "cm_backoff.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "ctrmgr.h"
#include "host_profile.h"
#include "host_ssh.h"
#include "host_state.h"
#include "host_vars.h"
#include "kube_client.h"
#include "kube_error.h"
#include "kube_events.h"
#include "kube_informer.h"
#include "kube_status.h"
#include "node_ops.h"
#include "rc_controller.h"
#include "rc_lookup.h"
#include "rc_manager.h"
#include "rc_metrics.h"
#include "sshc.h"
#include "sshc_facts.h"
#include "sshc_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MAX 1024
#define OUTPUT_TAIL 300
#define MEMO_BUCKETS 1024
#define POOL_FULL_RETRY_MS 250

/* ---- memo: the newest copy of each Host that our own writes returned ----
 *
 * After a write, the informer's copy lags by a few milliseconds; a pass requeued at once would
 * otherwise act on the state before its own write (e.g. investigate twice). resourceVersions
 * are opaque in principle, but every API server we talk to uses etcd revisions (integers):
 * when both parse, the larger one is newer; otherwise the cache wins. */
struct memo_entry {
    struct memo_entry *next;
    char *key;
    json_t *obj;
};

struct memo {
    pthread_mutex_t lock;
    struct memo_entry *b[MEMO_BUCKETS];
};

static size_t memo_hash(const char *s) {
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h % MEMO_BUCKETS;
}

static void memo_put(struct memo *m, const char *key, json_t *obj) {
    size_t h = memo_hash(key);
    pthread_mutex_lock(&m->lock);
    for (struct memo_entry *e = m->b[h]; e; e = e->next)
        if (!strcmp(e->key, key)) {
            json_decref(e->obj);
            e->obj = json_incref(obj);
            pthread_mutex_unlock(&m->lock);
            return;
        }
    struct memo_entry *e = calloc(1, sizeof *e);
    if (e && (e->key = strdup(key))) {
        e->obj = json_incref(obj);
        e->next = m->b[h];
        m->b[h] = e;
    } else {
        free(e);
    }
    pthread_mutex_unlock(&m->lock);
}

static json_t *memo_get(struct memo *m, const char *key) {
    size_t h = memo_hash(key);
    json_t *obj = NULL;
    pthread_mutex_lock(&m->lock);
    for (struct memo_entry *e = m->b[h]; e; e = e->next)
        if (!strcmp(e->key, key)) {
            obj = json_incref(e->obj);
            break;
        }
    pthread_mutex_unlock(&m->lock);
    return obj;
}

static void memo_drop(struct memo *m, const char *key) {
    size_t h = memo_hash(key);
    pthread_mutex_lock(&m->lock);
    for (struct memo_entry **pe = &m->b[h]; *pe; pe = &(*pe)->next)
        if (!strcmp((*pe)->key, key)) {
            struct memo_entry *e = *pe;
            *pe = e->next;
            json_decref(e->obj);
            free(e->key);
            free(e);
            break;
        }
    pthread_mutex_unlock(&m->lock);
}

static void memo_done(struct memo *m) {
    for (size_t i = 0; i < MEMO_BUCKETS; i++)
        for (struct memo_entry *e = m->b[i], *n; e; e = n) {
            n = e->next;
            json_decref(e->obj);
            free(e->key);
            free(e);
        }
    pthread_mutex_destroy(&m->lock);
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

/* ---- controller state ---- */

struct host_ctl {
    struct rc_manager *m;
    const struct rc_env *env;
    struct rc_controller *ctl;
    struct ctrmgr_cache *cms;
    struct memo memo;
    struct host_timing timing;
    struct rc_metric *m_phase;
};

/* One reconcile pass. */
struct pass {
    struct host_ctl *hc;
    const struct rc_env *env;
    const char *ns, *name;
    char *key;
    json_t *host;    /* the current view (own reference); replaced after each write */
    json_t *cluster; /* may be NULL */
    json_t *cm;      /* may be NULL */
    bool cm_named, managed;
    struct sshc_session *ssh;
    bool ssh_keep;
    struct sshc_facts facts;
    bool have_facts;
    const char *profile; /* matched profile name (catalog-owned) */
    int64_t started_ms;
};

/* A set of status changes, applied in one write. */
struct upd {
    json_t *set;   /* status fields to set */
    json_t *del;   /* status field names to remove */
    json_t *conds; /* condition objects to set */
    int phase;     /* enum host_phase, or -1 to keep */
    char message[MSG_MAX];
    bool has_message;
};

static void upd_init(struct upd *u) {
    memset(u, 0, sizeof *u);
    u->set = json_object();
    u->del = json_array();
    u->conds = json_array();
    u->phase = -1;
}

static void upd_done(struct upd *u) {
    json_decref(u->set);
    json_decref(u->del);
    json_decref(u->conds);
}

static void upd_message(struct upd *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void upd_message(struct upd *u, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->message, sizeof u->message, fmt, ap);
    va_end(ap);
    u->has_message = true;
}

static void upd_cond(struct upd *u, const char *type, bool status, const char *reason,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void upd_cond(struct upd *u, const char *type, bool status, const char *reason,
                     const char *fmt, ...) {
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A later call for the same type replaces an earlier one of the same pass. */
    size_t i;
    json_t *c;
    json_array_foreach(u->conds, i, c) {
        if (!strcmp(cm_json_get_str(c, "type"), type)) {
            json_array_remove(u->conds, i);
            break;
        }
    }
    json_array_append_new(u->conds, json_pack("{s:s,s:s,s:s,s:s}", "type", type, "status",
                                              status ? "True" : "False", "reason", reason,
                                              "message", msg));
}

static void upd_set(struct upd *u, const char *k, json_t *v) { json_object_set_new(u->set, k, v); }

/* Applies u to obj (a private copy). Returns 1 when obj already was so, 0 when it changed. */
static int upd_apply(json_t *obj, const struct upd *u) {
    json_t *st = json_object_get(obj, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(obj, "status", st);
    }
    json_t *before = json_deep_copy(st);
    json_object_update(st, u->set);
    size_t i;
    json_t *v;
    json_array_foreach(u->del, i, v) json_object_del(st, json_string_value(v));
    if (u->phase >= 0)
        json_object_set_new(st, "phase", json_string(host_phase_name(u->phase)));
    if (u->has_message)
        json_object_set_new(st, "message", json_string(u->message));
    int64_t gen = cm_json_get_int(obj, "metadata.generation", 0);
    int64_t now = cm_time_wall_ms();
    json_array_foreach(u->conds, i, v) {
        struct kube_condition c = {cm_json_get_str(v, "type"), cm_json_get_str(v, "status"),
                                   cm_json_get_str(v, "reason"), cm_json_get_str(v, "message"),
                                   gen};
        kube_status_condition_set(obj, &c, now);
    }
    int same = before && json_equal(before, json_object_get(obj, "status"));
    json_decref(before);
    return same ? 1 : 0;
}

static int mutate_cb(json_t *obj, void *userdata) { return upd_apply(obj, userdata); }

static void set_view(struct pass *p, json_t *obj) {
    json_decref(p->host);
    p->host = obj;
    memo_put(&p->hc->memo, p->key, obj);
}

/* Writes u. Returns 0 (p->host is the written object), -ENOENT (Host gone), or an error. */
static int write_status(struct pass *p, struct upd *u) {
    json_t *copy = json_deep_copy(p->host);
    if (!copy)
        return -ENOMEM;
    if (upd_apply(copy, u) == 1) {
        json_decref(copy);
        return 0;
    }
    struct kube_error err;
    kube_error_init(&err);
    json_t *ret = NULL;
    int r = kube_update(p->env->client, &RC_RES_HOSTS, p->ns, p->name, "status", copy, NULL, &ret,
                        &err);
    json_decref(copy);
    if (r == -ESTALE) {
        kube_error_done(&err);
        r = kube_status_update(p->env->client, &RC_RES_HOSTS, p->ns, p->name, NULL, mutate_cb, u,
                               &ret, &err);
    }
    if (r == 0 && ret) {
        set_view(p, ret);
    } else if (r < 0 && r != -ENOENT) {
        cm_log_kv(CM_LOG_WARN, "host status update failed", "namespace", p->ns, "name", p->name,
                  "error", err.message ? err.message : "", NULL);
        json_decref(ret);
    }
    kube_error_done(&err);
    return r;
}

/* Events need apiVersion/kind, which list items may lack. */
static void event(struct pass *p, enum kube_event_type type, const char *reason, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
static void event(struct pass *p, enum kube_event_type type, const char *reason, const char *fmt,
                  ...) {
    if (!p->env->events)
        return;
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *ref = json_pack("{s:s,s:s,s:O}", "apiVersion", "commissaire.io/v1alpha1", "kind",
                            "Host", "metadata", json_object_get(p->host, "metadata"));
    if (ref)
        kube_events_record(p->env->events, ref, type, reason, "%s", msg);
    json_decref(ref);
}

static const char *or_default(const char *s, const char *def) { return s ? s : def; }
static const char *or_empty(const char *s) { return s ? s : ""; }

static enum host_phase phase_of(const json_t *host) {
    return host_phase_from_string(cm_json_get_str(host, "status.phase"));
}

static void log_phase(struct pass *p, enum host_phase from, enum host_phase to, const char *msg) {
    if (from == to)
        return;
    cm_log_kv(to == HOST_PHASE_FAILED ? CM_LOG_WARN : CM_LOG_INFO, "host phase", "namespace",
              p->ns, "name", p->name, "from", host_phase_name(from), "to", host_phase_name(to),
              "message", msg, NULL);
}

/* Writes u and logs the phase change it makes. */
static int commit(struct pass *p, struct upd *u) {
    enum host_phase from = phase_of(p->host);
    int r = write_status(p, u);
    if (r == 0 && u->phase >= 0)
        log_phase(p, from, (enum host_phase)u->phase, u->has_message ? u->message : "");
    return r;
}

static void now_str(char *out, size_t n) { cm_time_format_rfc3339(cm_time_wall_ms(), 1, out, n); }

static struct rc_result result_of_write(int r) {
    if (r == -ENOENT)
        return rc_done();
    if (r == -ESTALE)
        return rc_requeue_after(100);
    return rc_error(r);
}

static int64_t retry_delay(struct pass *p) {
    return host_check_delay_ms(p->hc->timing.retry_interval_ms, cm_backoff_rand());
}

static int64_t check_delay(struct pass *p) {
    return host_check_delay_ms(p->hc->timing.check_interval_ms, cm_backoff_rand());
}

/* ---- failure ---- */

/* Puts the host into `failed` with reason/message; cond is the condition that explains it
 * (Reachable for connection problems, Bootstrapped for step failures). */
static struct rc_result fail(struct pass *p, const char *cond, const char *reason,
                             const char *message) {
    struct upd u;
    upd_init(&u);
    char ts[40];
    now_str(ts, sizeof ts);
    u.phase = HOST_PHASE_FAILED;
    upd_message(&u, "%s", message);
    upd_set(&u, "lastCheck", json_string(ts));
    /* Recording the generation stops the spec-changed rule from re-investigating at once:
     * a failed host is retried on the retry interval, like any other. */
    upd_set(&u, "observedGeneration",
            json_integer(cm_json_get_int(p->host, "metadata.generation", 0)));
    if (cond)
        upd_cond(&u, cond, false, reason, "%s", message);
    upd_cond(&u, HOST_COND_READY, false, reason, "%s", message);
    bool changed = phase_of(p->host) != HOST_PHASE_FAILED ||
                   strcmp(or_empty(cm_json_get_str(p->host, "status.message")), message);
    int r = commit(p, &u);
    upd_done(&u);
    if (changed)
        event(p, KUBE_EVENT_WARNING, reason, "%s", message);
    if (r < 0)
        return result_of_write(r);
    return rc_requeue_after(retry_delay(p));
}

static struct rc_result fail_ssh(struct pass *p, const struct host_ssh_failure *f) {
    return fail(p, HOST_COND_REACHABLE, f->reason ? f->reason : "SSHError", f->message);
}

/* ---- SSH ---- */

/* Connects if not connected. Returns 0, or an rc_result in *ret (pool full or failure). */
static int connect(struct pass *p, struct rc_result *ret) {
    if (p->ssh)
        return 0;
    struct host_ssh_failure f;
    int r = host_ssh_connect(p->env, p->host, &p->ssh, &f);
    if (r == 0) {
        p->ssh_keep = true;
        return 0;
    }
    if (r == -EAGAIN) {
        *ret = rc_requeue_after(POOL_FULL_RETRY_MS + (int64_t)(cm_backoff_rand() * 250));
        return r;
    }
    if (!strcmp(f.reason, "SecretUnavailable")) {
        cm_log_kv(CM_LOG_WARN, "cannot read the host's Secret", "namespace", p->ns, "name",
                  p->name, "error", f.message, NULL);
        *ret = rc_error(r);
        return r;
    }
    *ret = fail_ssh(p, &f);
    return r;
}

static void disconnect(struct pass *p) {
    host_ssh_release(p->env, p->ssh, p->ssh_keep);
    p->ssh = NULL;
}

/* Gathers facts over the open session. Returns 0 or fails the host (*ret set). */
static int gather(struct pass *p, struct rc_result *ret) {
    if (p->have_facts) {
        sshc_facts_done(&p->facts);
        p->have_facts = false;
    }
    struct sshc_error err = {0};
    int64_t t0 = cm_time_mono_ms();
    int r = sshc_facts_gather(p->ssh, p->env->ssh_command_timeout_ms < 60000
                                          ? p->env->ssh_command_timeout_ms
                                          : 60000,
                              &p->facts, &err);
    host_ssh_observe(p->env, cm_time_mono_ms() - t0);
    if (r == 0) {
        p->have_facts = true;
        return 0;
    }
    p->ssh_keep = false;
    struct host_ssh_failure f = {.reason = sshc_error_kind_reason(err.kind), .kind = err.kind};
    snprintf(f.message, sizeof f.message, "gathering facts: %s",
             err.message[0] ? err.message : "failed");
    *ret = fail_ssh(p, &f);
    return r;
}

static void facts_to_upd(const struct sshc_facts *f, struct upd *u) {
    upd_set(u, "os", json_string(f->os_id));
    upd_set(u, "osVersion", json_string(f->atomic && f->ostree_version && *f->ostree_version
                                            ? f->ostree_version
                                            : f->os_version_id));
    upd_set(u, "atomic", json_boolean(f->atomic));
    upd_set(u, "cpus", json_integer(f->cpus));
    upd_set(u, "memory", json_integer(f->memory_kib));
    upd_set(u, "space", json_integer(f->space_kib));
    upd_set(u, "kernel", json_string(f->kernel));
    upd_set(u, "bootID", json_string(f->boot_id));
    upd_set(u, "hostname", json_string(f->hostname));
}

/* Records the host key seen on first contact, and follows a changed pin. */
static void host_key_to_upd(struct pass *p, struct upd *u) {
    const char *fp = sshc_session_fingerprint(p->ssh);
    const char *have = cm_json_get_str(p->host, "status.hostKeyFingerprint");
    if (!fp || (have && !strcmp(have, fp)))
        return;
    upd_set(u, "hostKeyFingerprint", json_string(fp));
    if (!have || !*have)
        event(p, KUBE_EVENT_NORMAL, "HostKeyRecorded",
              "first contact: recorded host key %s (enforced from now on)", fp);
}

/* ---- metadata: finalizer and cluster label ---- */

static bool has_finalizer(const json_t *host) {
    size_t i;
    json_t *f;
    json_array_foreach(cm_json_get(host, "metadata.finalizers"), i, f) {
        if (json_is_string(f) && !strcmp(json_string_value(f), HOST_FINALIZER))
            return true;
    }
    return false;
}

/* Returns 0 when nothing was needed or the update worked, else the error. */
static int ensure_metadata(struct pass *p) {
    const char *cluster = cm_json_get_str(p->host, "spec.cluster");
    if (cluster && !*cluster)
        cluster = NULL;
    json_t *labels = cm_json_get(p->host, "metadata.labels");
    const char *label = json_string_value(json_object_get(labels, HOST_LABEL_CLUSTER));
    bool label_ok = cluster ? (label && !strcmp(label, cluster)) : !label;
    bool fin_ok = has_finalizer(p->host);
    if (label_ok && fin_ok)
        return 0;
    json_t *copy = json_deep_copy(p->host);
    if (!copy)
        return -ENOMEM;
    json_t *md = json_object_get(copy, "metadata");
    if (!fin_ok) {
        json_t *fins = json_object_get(md, "finalizers");
        if (!json_is_array(fins)) {
            fins = json_array();
            json_object_set_new(md, "finalizers", fins);
        }
        json_array_append_new(fins, json_string(HOST_FINALIZER));
    }
    if (!label_ok) {
        json_t *l = json_object_get(md, "labels");
        if (!json_is_object(l)) {
            l = json_object();
            json_object_set_new(md, "labels", l);
        }
        if (cluster)
            json_object_set_new(l, HOST_LABEL_CLUSTER, json_string(cluster));
        else
            json_object_del(l, HOST_LABEL_CLUSTER);
    }
    struct kube_error err;
    kube_error_init(&err);
    json_t *ret = NULL;
    int r = kube_update(p->env->client, &RC_RES_HOSTS, p->ns, p->name, NULL, copy, NULL, &ret,
                        &err);
    json_decref(copy);
    if (r == 0 && ret)
        set_view(p, ret);
    else if (r < 0 && r != -ESTALE && r != -ENOENT)
        cm_log_kv(CM_LOG_WARN, "host metadata update failed", "namespace", p->ns, "name", p->name,
                  "error", err.message ? err.message : "", NULL);
    kube_error_done(&err);
    return r;
}

/* ---- registration ---- */

static const char *node_name_of(const json_t *host, char **owned) {
    *owned = host_node_name(cm_json_get_str(host, "spec.address"));
    if (!*owned)
        *owned = host_node_name(cm_json_get_str(host, "status.hostname"));
    return *owned;
}

/* Brings registration in line with the cluster, merging into u (which carries the rest of the
 * pass's changes) and writing it. */
static struct rc_result do_register(struct pass *p, struct upd *u) {
    enum host_phase from = phase_of(p->host);
    /* A copy: every commit() replaces p->host, and with it the strings borrowed from it. */
    char cluster_buf[256];
    snprintf(cluster_buf, sizeof cluster_buf, "%s",
             or_empty(cm_json_get_str(p->host, "spec.cluster")));
    const char *cluster = cluster_buf;
    struct rc_result res;
    if (!p->managed) {
        const char *why, *reason;
        char buf[300];
        if (!*cluster) {
            reason = "NoCluster";
            why = "the host belongs to no cluster";
        } else if (!p->cluster) {
            reason = "ClusterNotFound";
            snprintf(buf, sizeof buf, "cluster %s not found", cluster);
            why = buf;
        } else if (!p->cm_named) {
            reason = "Unmanaged";
            snprintf(buf, sizeof buf, "cluster %s has no container manager", cluster);
            why = buf;
        } else if (!p->cm) {
            reason = "ContainerManagerNotFound";
            snprintf(buf, sizeof buf, "ContainerManager %s of cluster %s not found",
                     cm_json_get_str(p->cluster, "spec.containerManager"), cluster);
            why = buf;
        } else {
            reason = "TrivialContainerManager";
            snprintf(buf, sizeof buf, "ContainerManager %s is trivial: it registers no nodes",
                     cm_json_get_str(p->cm, "metadata.name"));
            why = buf;
        }
        u->phase = HOST_PHASE_DISASSOCIATED;
        upd_message(u, "configured; not registered as a node: %s", why);
        upd_cond(u, HOST_COND_NODE_REGISTERED, false, reason, "%s", why);
        upd_cond(u, HOST_COND_NODE_READY, false, reason, "%s", why);
        upd_cond(u, HOST_COND_READY, true, "Disassociated", "reachable and configured; %s", why);
        json_array_append_new(u->del, json_string("nodeName"));
        int r = commit(p, u);
        if (r < 0)
            return result_of_write(r);
        if (from != HOST_PHASE_DISASSOCIATED)
            event(p, KUBE_EVENT_NORMAL, "Disassociated", "configured; %s", why);
        return rc_requeue_after(check_delay(p));
    }

    char msg[MSG_MAX] = "";
    struct kube_client *kc = NULL;
    int r = ctrmgr_clients(p->env, p->hc->cms, p->cm, &kc, NULL, msg, sizeof msg);
    char *owned = NULL;
    const char *node = node_name_of(p->host, &owned);
    if (r < 0 || !node) {
        const char *reason = r < 0 ? "ContainerManagerUnavailable" : "InvalidNodeName";
        if (!node)
            snprintf(msg, sizeof msg, "no valid node name for address %s",
                     cm_json_get_str(p->host, "spec.address"));
        u->phase = HOST_PHASE_DISASSOCIATED;
        upd_message(u, "configured; cannot register: %s", msg);
        upd_cond(u, HOST_COND_NODE_REGISTERED, false, reason, "%s", msg);
        upd_cond(u, HOST_COND_READY, false, reason, "%s", msg);
        r = commit(p, u);
        if (r == 0)
            event(p, KUBE_EVENT_WARNING, reason, "%s", msg);
        free(owned);
        return r < 0 ? result_of_write(r) : rc_requeue_after(retry_delay(p));
    }

    struct kube_error err;
    kube_error_init(&err);
    bool created = false;
    /* Registration is a side effect: announce it in status first (only once). */
    const char *have_node = cm_json_get_str(p->host, "status.nodeName");
    if (!have_node || strcmp(have_node, node)) {
        upd_set(u, "nodeName", json_string(node));
        upd_message(u, "registering node %s", node);
        if ((r = commit(p, u)) < 0)
            goto out_write;
    }
    r = node_register(kc, node, cluster, &created, &err);
    if (r < 0) {
        snprintf(msg, sizeof msg, "registering node %s: %s", node,
                 err.message ? err.message : strerror(-r));
        u->phase = HOST_PHASE_DISASSOCIATED;
        upd_message(u, "configured; %s", msg);
        upd_cond(u, HOST_COND_NODE_REGISTERED, false, "RegistrationFailed", "%s", msg);
        upd_cond(u, HOST_COND_READY, false, "RegistrationFailed", "%s", msg);
        if ((r = commit(p, u)) < 0)
            goto out_write;
        event(p, KUBE_EVENT_WARNING, "RegistrationFailed", "%s", msg);
        res = rc_requeue_after(retry_delay(p));
        goto out;
    }
    if (created)
        event(p, KUBE_EVENT_NORMAL, "NodeRegistered", "created node %s", node);
    upd_cond(u, HOST_COND_NODE_REGISTERED, true, "Registered", "node %s labelled %s=%s", node,
             HOST_LABEL_CLUSTER, cluster);
    bool ready = false;
    char *reason = NULL;
    kube_error_done(&err);
    r = node_ready(kc, node, &ready, &reason, &err);
    if (r < 0 && r != -ENOENT) {
        snprintf(msg, sizeof msg, "reading node %s: %s", node,
                 err.message ? err.message : strerror(-r));
        upd_cond(u, HOST_COND_NODE_READY, false, "Unknown", "%s", msg);
        upd_cond(u, HOST_COND_READY, false, "NodeStatusUnknown", "%s", msg);
        u->phase = from == HOST_PHASE_ACTIVE ? HOST_PHASE_ACTIVE : HOST_PHASE_DISASSOCIATED;
        if ((r = commit(p, u)) < 0)
            goto out_write;
        res = rc_requeue_after(p->env->node_poll_ms);
        goto out;
    }
    if (ready) {
        u->phase = HOST_PHASE_ACTIVE;
        upd_message(u, "active: node %s is Ready", node);
        upd_cond(u, HOST_COND_NODE_READY, true, reason ? reason : "KubeletReady",
                 "node %s is Ready", node);
        upd_cond(u, HOST_COND_READY, true, "Active", "node %s of cluster %s is Ready", node,
                 cluster);
        res = rc_requeue_after(check_delay(p));
    } else {
        /* Stay disassociated (configured, not yet a Ready node), as Commissaire hosts are
         * between bootstrap and registration; re-visit soon. */
        u->phase = HOST_PHASE_DISASSOCIATED;
        upd_message(u, "node %s registered; waiting for it to report Ready", node);
        upd_cond(u, HOST_COND_NODE_READY, false, reason ? reason : "NodeNotReady",
                 "node %s is not Ready yet", node);
        upd_cond(u, HOST_COND_READY, false, "WaitingForNode", "node %s is not Ready yet", node);
        res = rc_requeue_after(p->env->node_poll_ms);
    }
    free(reason);
    if ((r = commit(p, u)) < 0)
        goto out_write;
    if (ready && from != HOST_PHASE_ACTIVE)
        event(p, KUBE_EVENT_NORMAL, "Active", "node %s is Ready", node);
    if (!ready && from == HOST_PHASE_ACTIVE)
        event(p, KUBE_EVENT_WARNING, "NodeNotReady", "node %s is no longer Ready", node);
    goto out;
out_write:
    res = result_of_write(r);
out:
    kube_error_done(&err);
    free(owned);
    return res;
}

/* ---- bootstrap ---- */

static bool in_list(const json_t *arr, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), s))
            return true;
    }
    return false;
}

/* The tail of a command's output, for messages (never the whole thing: it is capped). */
static void output_tail(const struct sshc_result *res, char *out, size_t n) {
    const struct cm_buf *b = res->err.len ? &res->err : &res->out;
    const char *s = b->data ? b->data : "";
    size_t len = b->len;
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
        len--;
    size_t start = len > OUTPUT_TAIL ? len - OUTPUT_TAIL : 0;
    snprintf(out, n, "%s%.*s", start ? "..." : "", (int)(len - start), s + start);
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

/* Runs cmd (timeout_ms 0: the default); returns 0 with *ret_exit, or a negative errno (the
 * session failed or timed out). */
static int run(struct pass *p, const char *cmd, int timeout_ms, int *ret_exit, char *tail,
               size_t n) {
    struct sshc_result res = {0};
    struct sshc_error err = {0};
    int r = host_ssh_exec(p->env, p->ssh, cmd, timeout_ms, &res, &err);
    if (r == 0) {
        *ret_exit = res.exit_status;
        if (tail)
            output_tail(&res, tail, n);
    } else if (tail) {
        snprintf(tail, n, "%s", err.message[0] ? err.message : strerror(-r));
        p->ssh_keep = false;
    }
    sshc_result_done(&res);
    return r;
}

static json_t *network_of(struct pass *p, bool *ret_missing) {
    *ret_missing = false;
    const char *netname = p->cluster ? cm_json_get_str(p->cluster, "spec.network") : NULL;
    if (!netname || !*netname)
        netname = "default";
    json_t *net = rc_lookup_network(p->hc->m, p->ns, netname);
    /* A host outside any cluster uses the built-in default when no "default" Network exists;
     * a cluster naming a missing Network is an error (REF §11.3 step 5). */
    if (!net && p->cluster && strcmp(netname, "default"))
        *ret_missing = true;
    return net;
}

/* Reads data[key] of a Secret, base64-decoded (malloc'ed), or NULL. */
static char *secret_value(const json_t *secret, const char *key) {
    const char *b64 = cm_json_get_str(json_object_get(secret, "data"), key);
    char *out = NULL;
    size_t n;
    if (!b64 || host_ssh_base64_decode(b64, &out, &n) < 0)
        return NULL;
    return out;
}

static void wipe_free(char *s) {
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* The template variables for this host (host_vars.h). *ret_net_missing: the cluster names a
 * Network that does not exist. The kubelet credentials are the container manager's (its
 * credentials Secret, or the REST API's options.token); an inCluster manager hands out none of
 * the controller's own. NULL on -ENOMEM. Free with host_vars_free(). */
static json_t *vars_for(struct pass *p, bool *ret_net_missing) {
    json_t *net = network_of(p, ret_net_missing);
    char *owned = NULL, *token = NULL, *crt = NULL, *key = NULL;
    const char *server = NULL, *ca = NULL;
    if (p->cm) {
        bool in_cluster = cm_json_get_bool(p->cm, "spec.inCluster", 0);
        server = in_cluster ? kube_client_server(p->env->client)
                            : cm_json_get_str(p->cm, "spec.serverURL");
        ca = cm_json_get_str(p->cm, "spec.ca");
        const char *opt_token = cm_json_get_str(p->cm, "spec.options.token");
        const char *sname = cm_json_get_str(p->cm, "spec.credentialsSecretRef.name");
        if (!in_cluster && sname && *sname) {
            json_t *secret = NULL;
            if (kube_get(p->env->client, &KUBE_RES_SECRETS, p->ns, sname, NULL, &secret, NULL) ==
                0) {
                token = secret_value(secret, "token");
                crt = secret_value(secret, "tls.crt");
                key = secret_value(secret, "tls.key");
                host_vars_free(secret); /* wipes the Secret's strings too */
            }
        }
        if (!token && opt_token)
            token = strdup(opt_token);
    }
    struct host_vars_input vi = {.host = p->host, .cluster = p->cluster, .network = net,
                                 .cm = p->cm, .node_name = node_name_of(p->host, &owned),
                                 .server = server, .ca = ca, .token = token, .client_cert = crt,
                                 .client_key = key};
    json_t *vars = host_vars_build(&vi);
    free(owned);
    wipe_free(token);
    wipe_free(crt);
    wipe_free(key);
    json_decref(net);
    return vars;
}

static struct rc_result bootstrap(struct pass *p, struct upd *u) {
    struct rc_result ret;
    char msg[MSG_MAX];
    if (connect(p, &ret) < 0)
        return ret;
    if (!p->profile && !p->have_facts) {
        /* A continued bootstrap: the facts recorded at investigation usually identify the
         * profile (by os-release ID), which saves a round trip; a host matched only through
         * ID_LIKE needs its facts again. */
        struct sshc_facts recorded = {
            .os_id = (char *)or_empty(cm_json_get_str(p->host, "status.os")),
            .os_id_like = (char *)"",
            .atomic = cm_json_get_bool(p->host, "status.atomic", 0),
        };
        if (hp_match(p->env->profiles, &recorded, &p->profile, msg, sizeof msg) < 0)
            p->profile = NULL;
    }
    if (!p->profile && !p->have_facts && gather(p, &ret) < 0)
        return ret;
    if (!p->profile && hp_match(p->env->profiles, &p->facts, &p->profile, msg, sizeof msg) < 0)
        return fail(p, HOST_COND_BOOTSTRAPPED, "UnknownOS", msg);

    bool net_missing;
    json_t *vars = vars_for(p, &net_missing);
    if (net_missing) {
        host_vars_free(vars);
        snprintf(msg, sizeof msg, "Network %s of cluster %s not found",
                 cm_json_get_str(p->cluster, "spec.network"),
                 cm_json_get_str(p->cluster, "metadata.name"));
        return fail(p, HOST_COND_BOOTSTRAPPED, "NetworkNotFound", msg);
    }
    struct hp_plan *plan = NULL;
    int r = vars ? hp_plan_new(p->env->profiles, p->profile, vars, &plan, msg, sizeof msg)
                 : -ENOMEM;
    host_vars_free(vars);
    if (r < 0)
        return fail(p, HOST_COND_BOOTSTRAPPED, "ProfileError", msg);

    json_t *done = json_deep_copy(cm_json_get(p->host, "status.bootstrap.completedSteps"));
    if (!json_is_array(done)) {
        json_decref(done);
        done = json_array();
    }
    size_t n = hp_plan_n_steps(plan), changed = 0;
    int64_t budget_end = p->started_ms + p->env->step_budget_ms;

    /* Every remaining step's check in ONE round trip: checks have no side effects, and on a
     * host that is already configured (a re-verify after a reboot, a second run) this single
     * command is the whole bootstrap. */
    struct sshc_batch_item *checks = calloc(n ? n : 1, sizeof *checks);
    size_t *check_of = calloc(n ? n : 1, sizeof *check_of);
    size_t n_checks = 0;
    bool *precheck_ok = calloc(n ? n : 1, sizeof *precheck_ok);
    if (!checks || !check_of || !precheck_ok) {
        r = -ENOMEM;
        goto out_err;
    }
    for (size_t i = 0; i < n; i++) {
        const struct hp_step *s = hp_plan_step(plan, i);
        if (in_list(done, s->name) || !s->check)
            continue;
        check_of[n_checks] = i;
        checks[n_checks++].command = s->check;
    }
    if (n_checks) {
        struct sshc_error err = {0};
        r = host_ssh_exec_batch(p->env, p->ssh, checks, n_checks, false, 0, &err);
        if (r < 0) {
            sshc_batch_items_done(checks, n_checks);
            snprintf(msg, sizeof msg, "running the bootstrap checks: %s",
                     err.message[0] ? err.message : strerror(-r));
            goto step_failed_ssh;
        }
        for (size_t c = 0; c < n_checks; c++)
            precheck_ok[check_of[c]] = checks[c].ran && checks[c].exit_status == 0;
        sshc_batch_items_done(checks, n_checks);
    }

    for (size_t i = 0; i < n; i++) {
        const struct hp_step *s = hp_plan_step(plan, i);
        if (in_list(done, s->name))
            continue;
        /* A step without files whose check passed is done: no write, no Event. */
        if (s->n_files == 0 && precheck_ok[i]) {
            json_array_append_new(done, json_string(s->name));
            continue;
        }
        if (cm_time_mono_ms() > budget_end) {
            /* Out of time for this pass: record progress and let other hosts have the worker. */
            upd_set(u, "bootstrap", json_pack("{s:s,s:O}", "step", "", "completedSteps", done));
            r = commit(p, u);
            free(checks);
            free(check_of);
            free(precheck_ok);
            json_decref(done);
            hp_plan_free(plan);
            return r < 0 ? result_of_write(r) : rc_requeue();
        }
        /* Announce the step in status before touching the host. A step with files is
         * announced even when nothing will change: uploading is the side effect, though one
         * that writes nothing when the file is already right. */
        upd_set(u, "bootstrap", json_pack("{s:s,s:O}", "step", s->name, "completedSteps", done));
        u->phase = HOST_PHASE_BOOTSTRAPPING;
        upd_message(u, "bootstrapping (profile %s): step %zu/%zu %s", p->profile, i + 1, n,
                    s->name);
        upd_cond(u, HOST_COND_BOOTSTRAPPED, false, "InProgress", "step %zu/%zu %s", i + 1, n,
                 s->name);
        if ((r = commit(p, u)) < 0) {
            free(checks);
            free(check_of);
            free(precheck_ok);
            json_decref(done);
            hp_plan_free(plan);
            return result_of_write(r);
        }
        bool files_changed = false;
        for (size_t f = 0; f < s->n_files; f++) {
            struct sshc_error err = {0};
            bool file_changed = false;
            int64_t t0 = cm_time_mono_ms();
            r = sshc_upload(p->ssh, s->files[f].path, s->files[f].data, s->files[f].len,
                            s->files[f].mode, SSHC_UPLOAD_IF_CHANGED, &file_changed, &err);
            host_ssh_observe(p->env, cm_time_mono_ms() - t0);
            if (r < 0) {
                p->ssh_keep = false;
                snprintf(msg, sizeof msg, "step %s: uploading %s: %s", s->name, s->files[f].path,
                         err.message[0] ? err.message : strerror(-r));
                free(checks);
                free(check_of);
                free(precheck_ok);
                json_decref(done);
                hp_plan_free(plan);
                return fail(p, HOST_COND_BOOTSTRAPPED, "FileTransferFailed", msg);
            }
            files_changed |= file_changed;
        }
        /* A changed file is applied even when the check passes: the check says the service
         * runs, not that it runs with this configuration (e.g. a restart picks it up). */
        if (!files_changed && precheck_ok[i]) {
            json_array_append_new(done, json_string(s->name));
            continue;
        }
        /* apply, then the check again to verify it (a step whose check still fails did not do
         * its job), in one round trip that stops at the first failure. */
        struct sshc_batch_item run2[2] = {{.command = s->apply}, {.command = s->check}};
        size_t nrun = s->check ? 2 : 1;
        struct sshc_error err = {0};
        r = host_ssh_exec_batch(p->env, p->ssh, run2, nrun, true, s->timeout_ms, &err);
        if (r < 0) {
            sshc_batch_items_done(run2, nrun);
            snprintf(msg, sizeof msg, "step %s: %s", s->name,
                     err.message[0] ? err.message : strerror(-r));
            goto step_failed_ssh;
        }
        const char *what = NULL, *cmd = NULL;
        int ex = 0;
        const char *out = "";
        if (run2[0].exit_status != 0) {
            what = "failed";
            cmd = s->apply;
            ex = run2[0].exit_status;
            out = run2[0].output ? run2[0].output : "";
        } else if (nrun == 2 && run2[1].exit_status != 0) {
            what = "check still fails after apply";
            cmd = s->check;
            ex = run2[1].exit_status;
            out = run2[1].output ? run2[1].output : "";
        }
        if (what) {
            size_t len = strlen(out);
            while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
                len--;
            size_t start = len > OUTPUT_TAIL ? len - OUTPUT_TAIL : 0;
            snprintf(msg, sizeof msg, "step %s %s: `%s` exited %d: %s%.*s", s->name, what, cmd,
                     ex, start ? "..." : "", (int)(len - start), out + start);
            for (char *c = msg; *c; c++)
                if (*c == '\n' || *c == '\r')
                    *c = ' ';
            sshc_batch_items_done(run2, nrun);
            free(checks);
            free(check_of);
            free(precheck_ok);
            json_decref(done);
            hp_plan_free(plan);
            return fail(p, HOST_COND_BOOTSTRAPPED, "BootstrapFailed", msg);
        }
        sshc_batch_items_done(run2, nrun);
        event(p, KUBE_EVENT_NORMAL, "BootstrapStep", "step %zu/%zu %s applied (profile %s)",
              i + 1, n, s->name, p->profile);
        changed++;
        json_array_append_new(done, json_string(s->name));
    }
    free(checks);
    free(check_of);
    free(precheck_ok);
    upd_set(u, "bootstrap", json_pack("{s:s,s:O}", "step", "", "completedSteps", done));
    upd_cond(u, HOST_COND_BOOTSTRAPPED, true, "Bootstrapped", "profile %s: %zu steps verified, %zu applied",
             p->profile, n, changed);
    bool was_bootstrapped = kube_status_condition_is_true(p->host, HOST_COND_BOOTSTRAPPED);
    if (!was_bootstrapped || changed)
        event(p, KUBE_EVENT_NORMAL, "Bootstrapped", "profile %s: %zu steps verified, %zu applied",
              p->profile, n, changed);
    json_decref(done);
    hp_plan_free(plan);
    disconnect(p); /* registration needs no SSH; free the slot for other hosts */
    return do_register(p, u);

step_failed_ssh:
    free(checks);
    free(check_of);
    free(precheck_ok);
    json_decref(done);
    hp_plan_free(plan);
    p->ssh_keep = false;
    return fail(p, HOST_COND_REACHABLE, r == -ETIMEDOUT ? "Timeout" : "ProtocolError", msg);
out_err:
    free(checks);
    free(check_of);
    free(precheck_ok);
    json_decref(done);
    hp_plan_free(plan);
    return rc_error(r);
}

/* ---- investigate / check ---- */

static struct rc_result investigate(struct pass *p) {
    struct rc_result ret;
    struct upd u;
    upd_init(&u);
    char msg[MSG_MAX];
    if (phase_of(p->host) == HOST_PHASE_NONE) {
        u.phase = HOST_PHASE_INVESTIGATING;
        upd_message(&u, "connecting to %s:%lld", cm_json_get_str(p->host, "spec.address"),
                    (long long)cm_json_get_int(p->host, "spec.port", 22));
        upd_cond(&u, HOST_COND_READY, false, "Investigating", "investigating the host");
        int r = commit(p, &u);
        upd_done(&u);
        if (r < 0)
            return result_of_write(r);
        upd_init(&u);
    }
    if (connect(p, &ret) < 0 || gather(p, &ret) < 0) {
        upd_done(&u);
        return ret;
    }
    int r = hp_match(p->env->profiles, &p->facts, &p->profile, msg, sizeof msg);
    char ts[40];
    now_str(ts, sizeof ts);
    /* A host that was down (failed) may come back rebooted: say so, the bootstrap that follows
     * re-verifies it like a check would. */
    const char *old_boot = cm_json_get_str(p->host, "status.bootID");
    if (old_boot && *old_boot && strcmp(old_boot, p->facts.boot_id))
        event(p, KUBE_EVENT_NORMAL, "Rebooted",
              "boot id changed (%s -> %s): re-verifying the configuration", old_boot,
              p->facts.boot_id);
    facts_to_upd(&p->facts, &u);
    host_key_to_upd(p, &u);
    upd_set(&u, "lastCheck", json_string(ts));
    upd_cond(&u, HOST_COND_REACHABLE, true, "Connected", "SSH as %s, host key %s, %s",
             or_default(cm_json_get_str(p->host, "spec.remoteUser"), "root"),
             or_default(sshc_session_fingerprint(p->ssh), "?"), or_empty(sshc_session_kex(p->ssh)));
    if (r < 0) {
        /* Record the facts first: they say what the host is, which the message refers to. */
        int w = commit(p, &u);
        upd_done(&u);
        if (w < 0)
            return result_of_write(w);
        return fail(p, HOST_COND_BOOTSTRAPPED, "UnknownOS", msg);
    }
    upd_set(&u, "observedGeneration",
            json_integer(cm_json_get_int(p->host, "metadata.generation", 0)));
    upd_set(&u, "bootstrap", json_pack("{s:s,s:[]}", "step", "", "completedSteps"));
    u.phase = HOST_PHASE_BOOTSTRAPPING;
    upd_message(&u, "bootstrapping with OS profile %s", p->profile);
    upd_cond(&u, HOST_COND_BOOTSTRAPPED, false, "Pending", "profile %s", p->profile);
    upd_cond(&u, HOST_COND_READY, false, "Bootstrapping", "bootstrapping with OS profile %s",
             p->profile);
    if ((r = commit(p, &u)) < 0) {
        upd_done(&u);
        return result_of_write(r);
    }
    event(p, KUBE_EVENT_NORMAL, "Investigated", "%s %s, %lld CPUs, %lld KiB memory: profile %s",
          p->facts.os_id, p->facts.os_version_id, (long long)p->facts.cpus,
          (long long)p->facts.memory_kib, p->profile);
    upd_done(&u);
    upd_init(&u);
    ret = bootstrap(p, &u);
    upd_done(&u);
    return ret;
}

static bool under_operation(const json_t *host) {
    json_t *a = cm_json_get(host, "metadata.annotations");
    const char *op = json_string_value(json_object_get(a, HOST_ANNOTATION_OPERATION));
    return op && *op;
}

static struct rc_result check(struct pass *p) {
    struct rc_result ret;
    /* A periodic check is also a fresh handshake: an idle cached session would hide a changed
     * host key (and the session set-up is part of what "reachable" means). */
    int64_t port = cm_json_get_int(p->host, "spec.port", 22);
    sshc_pool_invalidate(p->env->ssh, cm_json_get_str(p->host, "spec.address"),
                         (uint16_t)(port > 0 && port < 65536 ? port : 22));
    if (connect(p, &ret) < 0 || gather(p, &ret) < 0)
        return ret;
    struct upd u;
    upd_init(&u);
    char ts[40];
    now_str(ts, sizeof ts);
    const char *old_boot = cm_json_get_str(p->host, "status.bootID");
    bool rebooted = old_boot && *old_boot && strcmp(old_boot, p->facts.boot_id);
    facts_to_upd(&p->facts, &u);
    host_key_to_upd(p, &u);
    upd_set(&u, "lastCheck", json_string(ts));
    upd_cond(&u, HOST_COND_REACHABLE, true, "Connected", "SSH as %s, host key %s",
             or_default(cm_json_get_str(p->host, "spec.remoteUser"), "root"),
             or_default(sshc_session_fingerprint(p->ssh), "?"));
    if (rebooted) {
        event(p, KUBE_EVENT_NORMAL, "Rebooted",
              "boot id changed (%s -> %s): re-verifying the configuration", old_boot,
              p->facts.boot_id);
        u.phase = HOST_PHASE_BOOTSTRAPPING;
        upd_message(&u, "host rebooted; re-verifying its configuration");
        upd_set(&u, "bootstrap", json_pack("{s:s,s:[]}", "step", "", "completedSteps"));
        upd_cond(&u, HOST_COND_BOOTSTRAPPED, false, "Reverifying", "host rebooted");
        int r = commit(p, &u);
        upd_done(&u);
        if (r < 0)
            return result_of_write(r);
        upd_init(&u);
        ret = bootstrap(p, &u);
        upd_done(&u);
        return ret;
    }
    disconnect(p);
    ret = do_register(p, &u);
    upd_done(&u);
    return ret;
}

/* ---- decommission ---- */

static struct rc_result decommission(struct pass *p) {
    if (!has_finalizer(p->host))
        return rc_done();
    int64_t deleted_ms = 0;
    cm_time_parse_rfc3339(cm_json_get_str(p->host, "metadata.deletionTimestamp"), &deleted_ms);
    bool expired = cm_time_wall_ms() > deleted_ms + p->env->decommission_timeout_ms;
    const char *node = cm_json_get_str(p->host, "status.nodeName");
    struct kube_error err;
    kube_error_init(&err);
    char msg[MSG_MAX];
    int r;

    if (node && *node && p->managed) {
        struct kube_client *kc = NULL, *evict = NULL;
        r = ctrmgr_clients(p->env, p->hc->cms, p->cm, &kc, &evict, msg, sizeof msg);
        if (r < 0) {
            if (!expired) {
                kube_error_done(&err);
                return rc_requeue_after(retry_delay(p));
            }
            event(p, KUBE_EVENT_WARNING, "DecommissionIncomplete",
                  "skipped draining and deleting node %s: container manager unavailable: %s",
                  node, msg);
        } else {
            bool ready;
            r = node_ready(kc, node, &ready, NULL, &err);
            if (r == 0) {
                node_set_unschedulable(kc, node, true, NULL);
                struct node_drain_status ds;
                kube_error_done(&err);
                r = node_drain(evict, node, &ds, &err);
                if (r != 0 && !expired) {
                    if (r > 0) {
                        char m[64];
                        snprintf(m, sizeof m, "%zu", ds.remaining);
                        cm_log_kv(CM_LOG_INFO, "draining node", "namespace", p->ns, "name",
                                  p->name, "node", node, "remaining", m, NULL);
                        if (ds.blocked)
                            event(p, KUBE_EVENT_NORMAL, "DrainBlocked",
                                  "draining node %s: %zu pods remaining, %zu evictions refused by "
                                  "a PodDisruptionBudget; retrying",
                                  node, ds.remaining, ds.blocked);
                    }
                    kube_error_done(&err);
                    return rc_requeue_after(r > 0 ? p->env->node_poll_ms : retry_delay(p));
                }
                if (r != 0)
                    event(p, KUBE_EVENT_WARNING, "DecommissionIncomplete",
                          "drain of node %s did not finish within %llds; deleting the node anyway",
                          node, (long long)(p->env->decommission_timeout_ms / 1000));
                kube_error_done(&err);
                r = node_delete(kc, node, &err);
                if (r < 0 && !expired) {
                    kube_error_done(&err);
                    return rc_error(r);
                }
                if (r == 0)
                    event(p, KUBE_EVENT_NORMAL, "NodeDeleted", "deleted node %s", node);
                else
                    event(p, KUBE_EVENT_WARNING, "DecommissionIncomplete",
                          "could not delete node %s: %s", node,
                          err.message ? err.message : strerror(-r));
            } else if (r != -ENOENT && !expired) {
                kube_error_done(&err);
                return rc_error(r);
            }
        }
    }

    if (cm_json_get_bool(p->host, "spec.cleanupOnDelete", 0)) {
        struct host_ssh_failure f;
        r = host_ssh_connect(p->env, p->host, &p->ssh, &f);
        if (r == -EAGAIN) {
            kube_error_done(&err);
            return rc_requeue_after(POOL_FULL_RETRY_MS);
        }
        if (r < 0) {
            if (!expired) {
                kube_error_done(&err);
                return rc_requeue_after(retry_delay(p));
            }
            event(p, KUBE_EVENT_WARNING, "TeardownSkipped",
                  "teardown skipped: host unreachable for %llds (%s: %s)",
                  (long long)(p->env->decommission_timeout_ms / 1000), f.reason, f.message);
        } else {
            p->ssh_keep = false;
            struct rc_result rr;
            const char *profile = NULL;
            int failed = 0;
            if (gather(p, &rr) == 0 &&
                hp_match(p->env->profiles, &p->facts, &profile, msg, sizeof msg) == 0) {
                bool net_missing;
                json_t *vars = vars_for(p, &net_missing);
                struct hp_plan *plan = NULL;
                if (hp_plan_new(p->env->profiles, profile, vars, &plan, msg, sizeof msg) == 0) {
                    for (size_t i = 0; i < hp_plan_n_teardown(plan); i++) {
                        const struct hp_step *t = hp_plan_teardown(plan, i);
                        int ex = 1;
                        char tail[OUTPUT_TAIL + 8];
                        if (t->check && run(p, t->check, t->timeout_ms, &ex, tail, sizeof tail) == 0 &&
                            ex == 0)
                            continue; /* already torn down */
                        if (run(p, t->apply, t->timeout_ms, &ex, tail, sizeof tail) < 0 || ex)
                            failed++;
                    }
                    event(p, failed ? KUBE_EVENT_WARNING : KUBE_EVENT_NORMAL, "TeardownDone",
                          "teardown (profile %s): %zu commands, %d failed", profile,
                          hp_plan_n_teardown(plan), failed);
                }
                hp_plan_free(plan);
                host_vars_free(vars);
            }
            disconnect(p);
        }
    }

    /* Release the finalizer. */
    json_t *copy = json_deep_copy(p->host);
    json_t *fins = cm_json_get(copy, "metadata.finalizers");
    for (size_t i = json_array_size(fins); i-- > 0;) {
        json_t *f = json_array_get(fins, i);
        if (json_is_string(f) && !strcmp(json_string_value(f), HOST_FINALIZER))
            json_array_remove(fins, i);
    }
    kube_error_done(&err);
    r = kube_update(p->env->client, &RC_RES_HOSTS, p->ns, p->name, NULL, copy, NULL, NULL, &err);
    json_decref(copy);
    kube_error_done(&err);
    if (r == 0 || r == -ENOENT) {
        cm_log_kv(CM_LOG_INFO, "host decommissioned; finalizer released", "namespace", p->ns,
                  "name", p->name, NULL);
        memo_drop(&p->hc->memo, p->key);
        return rc_done();
    }
    return r == -ESTALE ? rc_requeue_after(100) : rc_error(r);
}

/* ---- the pass ---- */

static json_t *freshest(struct host_ctl *hc, const char *key, const char *ns, const char *name) {
    json_t *cached = kube_informer_get(rc_manager_informer(hc->m, &RC_RES_HOSTS), ns, name);
    json_t *mine = memo_get(&hc->memo, key);
    if (!cached) {
        /* Deleted (the informer saw it go). Our memo may predate the delete: forget it. */
        json_decref(mine);
        memo_drop(&hc->memo, key);
        return NULL;
    }
    unsigned long long a, b;
    if (mine && rv_parse(cached, &a) == 0 && rv_parse(mine, &b) == 0 && b > a) {
        json_decref(cached);
        return mine;
    }
    json_decref(mine);
    if (mine)
        memo_drop(&hc->memo, key); /* the cache caught up */
    return cached;
}

static struct rc_result reconcile(struct rc_controller *ctl, const char *ns, const char *name,
                                  void *userdata) {
    struct host_ctl *hc = userdata;
    struct pass p = {.hc = hc, .env = hc->env, .ns = ns, .name = name,
                     .started_ms = cm_time_mono_ms()};
    if (asprintf(&p.key, "%s/%s", ns, name) < 0)
        return rc_error(-ENOMEM);
    struct rc_result res = rc_done();
    p.host = freshest(hc, p.key, ns, name);
    if (!p.host)
        goto out;
    const char *cluster = cm_json_get_str(p.host, "spec.cluster");
    p.cluster = cluster && *cluster ? rc_lookup_cluster(hc->m, ns, cluster) : NULL;
    p.cm = rc_lookup_cluster_cm(hc->m, p.cluster, &p.cm_named);
    p.managed = cluster_cm_is_managed(p.cm);

    bool deleting = cm_json_get_str(p.host, "metadata.deletionTimestamp") != NULL;
    if (!deleting) {
        int r = ensure_metadata(&p);
        if (r < 0) {
            res = r == -ESTALE || r == -ENOENT ? rc_requeue_after(100) : rc_error(r);
            goto out;
        }
    }
    int64_t delay = 0;
    enum host_action a = host_action_next(p.host, p.managed, &hc->timing, cm_time_wall_ms(), &delay);
    if (under_operation(p.host) &&
        (a == HOST_ACTION_CHECK || a == HOST_ACTION_INVESTIGATE || a == HOST_ACTION_BOOTSTRAP)) {
        /* An Operation owns the host's reboots now; its end (annotation removed) re-enqueues. */
        res = rc_requeue_after(check_delay(&p));
        goto out;
    }
    if (cm_log_enabled(CM_LOG_DEBUG))
        cm_log_kv(CM_LOG_DEBUG, "host reconcile", "namespace", ns, "name", name, "action",
                  host_action_name(a), "phase", cm_json_get_str(p.host, "status.phase"), NULL);
    struct upd u;
    switch (a) {
    case HOST_ACTION_DECOMMISSION: res = decommission(&p); break;
    case HOST_ACTION_INVESTIGATE: res = investigate(&p); break;
    case HOST_ACTION_BOOTSTRAP:
        upd_init(&u);
        res = bootstrap(&p, &u);
        upd_done(&u);
        break;
    case HOST_ACTION_REGISTER:
        upd_init(&u);
        res = do_register(&p, &u);
        upd_done(&u);
        break;
    case HOST_ACTION_CHECK: res = check(&p); break;
    case HOST_ACTION_WAIT:
    default: res = rc_requeue_after(delay > 0 ? delay : 1000); break;
    }
out:
    disconnect(&p);
    if (p.have_facts)
        sshc_facts_done(&p.facts);
    json_decref(p.host);
    json_decref(p.cluster);
    json_decref(p.cm);
    free(p.key);
    return res;
}

/* ---- watches ---- */

static int str_differs(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

static void enqueue_cluster_hosts(struct host_ctl *hc, const char *ns, const char *cluster) {
    json_t *hosts = rc_lookup_cluster_hosts(hc->m, ns, cluster);
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h) {
        rc_controller_enqueue_name(hc->ctl, ns, cm_json_get_str(h, "metadata.name"));
    }
    json_decref(hosts);
}

/* A Cluster's container manager or network decides how its hosts are registered/configured;
 * its status updates (frequent) change nothing for them. */
static void cluster_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    if (!str_differs(cm_json_get_str(old_obj, "spec.containerManager"),
                     cm_json_get_str(new_obj, "spec.containerManager")) &&
        !str_differs(cm_json_get_str(old_obj, "spec.network"),
                     cm_json_get_str(new_obj, "spec.network")))
        return;
    enqueue_cluster_hosts(userdata, cm_json_get_str(new_obj, "metadata.namespace"),
                          cm_json_get_str(new_obj, "metadata.name"));
}

static void cluster_add_delete(json_t *obj, void *userdata) {
    enqueue_cluster_hosts(userdata, cm_json_get_str(obj, "metadata.namespace"),
                          cm_json_get_str(obj, "metadata.name"));
}

static void cm_event(struct host_ctl *hc, const json_t *cm) {
    const char *ns = cm_json_get_str(cm, "metadata.namespace");
    const char *name = cm_json_get_str(cm, "metadata.name");
    json_t *all = kube_informer_list_by_namespace(rc_manager_informer(hc->m, &RC_RES_CLUSTERS), ns);
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c) {
        if (!str_differs(cm_json_get_str(c, "spec.containerManager"), name))
            enqueue_cluster_hosts(hc, ns, cm_json_get_str(c, "metadata.name"));
    }
    json_decref(all);
}

static void cm_add_delete(json_t *obj, void *userdata) { cm_event(userdata, obj); }
static void cm_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    if (cm_json_get_int(old_obj, "metadata.generation", 0) !=
        cm_json_get_int(new_obj, "metadata.generation", 0))
        cm_event(userdata, new_obj);
}

static void collect_phases(struct rc_metrics *reg, void *userdata) {
    struct host_ctl *hc = userdata;
    json_t *all = kube_informer_list(rc_manager_informer(hc->m, &RC_RES_HOSTS));
    size_t counts[HOST_PHASE__MAX] = {0};
    size_t i;
    json_t *h;
    json_array_foreach(all, i, h) counts[phase_of(h)]++;
    json_decref(all);
    for (int ph = 0; ph < HOST_PHASE__MAX; ph++)
        rc_metric_set(hc->m_phase, ph == HOST_PHASE_NONE ? "pending" : host_phase_name(ph), NULL,
                      (double)counts[ph]);
}

static void host_ctl_free(void *userdata) {
    struct host_ctl *hc = userdata;
    ctrmgr_cache_free(hc->cms);
    memo_done(&hc->memo);
    free(hc);
}

int host_controller_register(struct rc_manager *m, unsigned workers,
                             struct rc_controller **ret_ctl) {
    struct host_ctl *hc = calloc(1, sizeof *hc);
    if (!hc)
        return -ENOMEM;
    hc->m = m;
    hc->env = rc_manager_env(m);
    hc->timing.check_interval_ms = hc->env->host_check_interval_ms;
    hc->timing.retry_interval_ms = hc->env->host_retry_interval_ms;
    pthread_mutex_init(&hc->memo.lock, NULL);
    int r = ctrmgr_cache_new(&hc->cms);
    if (r < 0 || (r = rc_lookup_register(m)) < 0) {
        host_ctl_free(hc);
        return r;
    }
    struct rc_controller_def def = {
        .kind = "Host",
        .resource = &RC_RES_HOSTS,
        .workers = workers ? workers : 8,
        .reconcile = reconcile,
        .userdata = hc,
        .free_cb = host_ctl_free,
    };
    if ((r = rc_controller_new(m, &def, &hc->ctl)) < 0) {
        host_ctl_free(hc);
        return r;
    }
    struct rc_watch_handlers ch = {cluster_add_delete, cluster_update, cluster_add_delete, hc};
    struct rc_watch_handlers mh = {cm_add_delete, cm_update, cm_add_delete, hc};
    if ((r = rc_manager_watch(m, &RC_RES_CLUSTERS, &ch)) < 0 ||
        (r = rc_manager_watch(m, &RC_RES_CONTAINERMANAGERS, &mh)) < 0)
        return r;
    if (hc->env->metrics) {
        hc->m_phase = rc_metrics_gauge(hc->env->metrics, "commissaire_controller_hosts",
                                       "Hosts by phase (pending: not looked at yet).", "phase");
        rc_metrics_collector_add(hc->env->metrics, collect_phases, hc);
    }
    if (ret_ctl)
        *ret_ctl = hc->ctl;
    return 0;
}
