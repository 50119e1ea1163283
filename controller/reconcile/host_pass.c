/* The Host reconciler's pass machinery: the memo of our own writes, status updates, Events,
 * failure, and the SSH session of a pass. See host_int.h. */
#include "host_int.h"

#include "cm_backoff.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "ctrmgr.h"
#include "host_profile.h"
#include "host_ssh.h"
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

static size_t memo_hash(const char *s) {
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h % MEMO_BUCKETS;
}

void host__memo_put(struct memo *m, const char *key, json_t *obj) {
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

json_t *host__memo_get(struct memo *m, const char *key) {
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

void host__memo_drop(struct memo *m, const char *key) {
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

void host__memo_done(struct memo *m) {
    for (size_t i = 0; i < MEMO_BUCKETS; i++)
        for (struct memo_entry *e = m->b[i], *n; e; e = n) {
            n = e->next;
            json_decref(e->obj);
            free(e->key);
            free(e);
        }
    pthread_mutex_destroy(&m->lock);
}

void host__upd_init(struct upd *u) {
    memset(u, 0, sizeof *u);
    u->set = json_object();
    u->del = json_array();
    u->conds = json_array();
    u->phase = -1;
}

void host__upd_done(struct upd *u) {
    json_decref(u->set);
    json_decref(u->del);
    json_decref(u->conds);
}

void host__upd_message(struct upd *u, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->message, sizeof u->message, fmt, ap);
    va_end(ap);
    u->has_message = true;
}

void host__upd_cond(struct upd *u, const char *type, bool status, const char *reason,
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

void host__upd_set(struct upd *u, const char *k, json_t *v) { json_object_set_new(u->set, k, v); }

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

void host__set_view(struct pass *p, json_t *obj) {
    json_decref(p->host);
    p->host = obj;
    host__memo_put(&p->hc->memo, p->key, obj);
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
        host__set_view(p, ret);
    } else if (r < 0 && r != -ENOENT) {
        cm_log_kv(CM_LOG_WARN, "host status update failed", "namespace", p->ns, "name", p->name,
                  "error", err.message ? err.message : "", NULL);
        json_decref(ret);
    }
    kube_error_done(&err);
    return r;
}

/* Events need apiVersion/kind, which list items may lack. */
void host__event(struct pass *p, enum kube_event_type type, const char *reason, const char *fmt,
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

const char *host__or_default(const char *s, const char *def) { return s ? s : def; }
const char *host__or_empty(const char *s) { return s ? s : ""; }

enum host_phase host__phase_of(const json_t *host) {
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
int host__commit(struct pass *p, struct upd *u) {
    enum host_phase from = host__phase_of(p->host);
    int r = write_status(p, u);
    if (r == 0 && u->phase >= 0)
        log_phase(p, from, (enum host_phase)u->phase, u->has_message ? u->message : "");
    return r;
}

void host__now_str(char *out, size_t n) { cm_time_format_rfc3339(cm_time_wall_ms(), 1, out, n); }

struct rc_result host__result_of_write(int r) {
    if (r == -ENOENT)
        return rc_done();
    if (r == -ESTALE)
        return rc_requeue_after(100);
    return rc_error(r);
}

int64_t host__retry_delay(struct pass *p) {
    return host_check_delay_ms(p->hc->timing.retry_interval_ms, cm_backoff_rand());
}

int64_t host__check_delay(struct pass *p) {
    return host_check_delay_ms(p->hc->timing.check_interval_ms, cm_backoff_rand());
}

/* ---- failure ---- */

/* Puts the host into `failed` with reason/message; cond is the condition that explains it
 * (Reachable for connection problems, Bootstrapped for step failures). */
struct rc_result host__fail(struct pass *p, const char *cond, const char *reason,
                             const char *message) {
    return host__fail_upd(p, NULL, cond, reason, message);
}

struct rc_result host__fail_upd(struct pass *p, struct upd *given, const char *cond,
                                const char *reason, const char *message) {
    struct upd own;
    struct upd *u = given;
    if (!u) {
        host__upd_init(&own);
        u = &own;
    }
    char ts[40];
    host__now_str(ts, sizeof ts);
    u->phase = HOST_PHASE_FAILED;
    host__upd_message(u, "%s", message);
    host__upd_set(u, "lastCheck", json_string(ts));
    /* Recording the generation stops the spec-changed rule from re-investigating at once:
     * a failed host is retried on the retry interval, like any other. */
    host__upd_set(u, "observedGeneration",
            json_integer(cm_json_get_int(p->host, "metadata.generation", 0)));
    if (cond)
        host__upd_cond(u, cond, false, reason, "%s", message);
    host__upd_cond(u, HOST_COND_READY, false, reason, "%s", message);
    bool changed = host__phase_of(p->host) != HOST_PHASE_FAILED ||
                   strcmp(host__or_empty(cm_json_get_str(p->host, "status.message")), message);
    int r = host__commit(p, u);
    if (u == &own)
        host__upd_done(&own);
    if (changed)
        host__event(p, KUBE_EVENT_WARNING, reason, "%s", message);
    if (r < 0)
        return host__result_of_write(r);
    return rc_requeue_after(host__retry_delay(p));
}

struct rc_result host__fail_ssh(struct pass *p, const struct host_ssh_failure *f) {
    return host__fail(p, HOST_COND_REACHABLE, f->reason ? f->reason : "SSHError", f->message);
}

/* ---- SSH ---- */

/* Connects if not connected. Returns 0, or an rc_result in *ret (pool full or failure). */
int host__connect(struct pass *p, struct rc_result *ret) {
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
    *ret = host__fail_ssh(p, &f);
    return r;
}

void host__disconnect(struct pass *p) {
    host_ssh_release(p->env, p->ssh, p->ssh_keep);
    p->ssh = NULL;
}

/* Gathers facts over the open session. Returns 0 or fails the host (*ret set). */
int host__gather(struct pass *p, struct rc_result *ret) {
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
    *ret = host__fail_ssh(p, &f);
    return r;
}

void host__facts_to_upd(const struct sshc_facts *f, struct upd *u) {
    host__upd_set(u, "os", json_string(f->os_id));
    host__upd_set(u, "osVersion", json_string(f->atomic && f->ostree_version && *f->ostree_version
                                            ? f->ostree_version
                                            : f->os_version_id));
    host__upd_set(u, "atomic", json_boolean(f->atomic));
    host__upd_set(u, "cpus", json_integer(f->cpus));
    host__upd_set(u, "memory", json_integer(f->memory_kib));
    host__upd_set(u, "space", json_integer(f->space_kib));
    host__upd_set(u, "kernel", json_string(f->kernel));
    host__upd_set(u, "bootID", json_string(f->boot_id));
    host__upd_set(u, "hostname", json_string(f->hostname));
}

/* Records the host key seen on first contact, and follows a changed pin. */
void host__key_to_upd(struct pass *p, struct upd *u) {
    const char *fp = sshc_session_fingerprint(p->ssh);
    const char *have = cm_json_get_str(p->host, "status.hostKeyFingerprint");
    if (!fp || (have && !strcmp(have, fp)))
        return;
    host__upd_set(u, "hostKeyFingerprint", json_string(fp));
    if (!have || !*have)
        host__event(p, KUBE_EVENT_NORMAL, "HostKeyRecorded",
              "first contact: recorded host key %s (enforced from now on)", fp);
}


bool host__has_finalizer(const json_t *host) {
    size_t i;
    json_t *f;
    json_array_foreach(cm_json_get(host, "metadata.finalizers"), i, f) {
        if (json_is_string(f) && !strcmp(json_string_value(f), HOST_FINALIZER))
            return true;
    }
    return false;
}


const char *host__node_name_of(const json_t *host, char **owned) {
    *owned = host_node_name(cm_json_get_str(host, "spec.address"));
    if (!*owned)
        *owned = host_node_name(cm_json_get_str(host, "status.hostname"));
    return *owned;
}


bool host__in_list(const json_t *arr, const char *s) {
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
int host__run(struct pass *p, const char *cmd, int timeout_ms, int *ret_exit, char *tail,
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

