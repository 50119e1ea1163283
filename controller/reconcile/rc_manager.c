/* The manager keeps one informer per resource and fans its events out to handlers, because
 * kube_informer takes a single handler set at creation while several controllers care about the
 * same objects (Host events feed the Host, Cluster and Operation controllers). */
#include "rc_manager.h"

#include "cm_log.h"
#include "kube_client.h"
#include "kube_error.h"
#include "kube_informer.h"
#include "rc_controller.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const struct kube_resource RC_RES_HOSTS = {"commissaire.io", "v1alpha1", "hosts", 1};
const struct kube_resource RC_RES_CLUSTERS = {"commissaire.io", "v1alpha1", "clusters", 1};
const struct kube_resource RC_RES_OPERATIONS = {"commissaire.io", "v1alpha1", "operations", 1};
const struct kube_resource RC_RES_NETWORKS = {"commissaire.io", "v1alpha1", "networks", 1};
const struct kube_resource RC_RES_CONTAINERMANAGERS = {"commissaire.io", "v1alpha1",
                                                       "containermanagers", 1};

struct dispatch_ctx;

struct shared_informer {
    const struct kube_resource *res;
    struct kube_informer *inf;
    struct dispatch_ctx *ctx; /* the informer's handler userdata; heap, never moves */
    struct rc_watch_handlers *handlers;
    size_t n_handlers;
};

struct rc_manager {
    struct rc_env env;
    char *ns;
    struct shared_informer *informers;
    size_t n_informers;
    struct rc_controller **controllers;
    size_t n_controllers;
    pthread_mutex_t lock; /* leading, start/stop of workers */
    bool leading;
    bool started;
};

int rc_manager_new(const struct rc_env *env, struct rc_manager **ret_m) {
    struct rc_manager *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->env = *env;
    if (env->ns && *env->ns) {
        m->ns = strdup(env->ns);
        if (!m->ns) {
            free(m);
            return -ENOMEM;
        }
    }
    m->env.ns = m->ns;
    pthread_mutex_init(&m->lock, NULL);
    *ret_m = m;
    return 0;
}

const struct rc_env *rc_manager_env(const struct rc_manager *m) { return &m->env; }

/* Informer threads call the dispatchers; the handler lists are fixed once the informers start,
 * so they are read without a lock. The informers array may be reallocated while registering,
 * so a dispatch context names its informer by index, not by pointer. */
struct dispatch_ctx {
    struct rc_manager *m;
    size_t idx;
};

static struct shared_informer *informer_of(struct dispatch_ctx *d) {
    return &d->m->informers[d->idx];
}

static void dispatch_add(json_t *obj, void *userdata) {
    struct dispatch_ctx *d = userdata;
    struct shared_informer *si = informer_of(d);
    for (size_t i = 0; i < si->n_handlers; i++)
        if (si->handlers[i].add_cb)
            si->handlers[i].add_cb(obj, si->handlers[i].userdata);
}

static void dispatch_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    struct dispatch_ctx *d = userdata;
    struct shared_informer *si = informer_of(d);
    for (size_t i = 0; i < si->n_handlers; i++)
        if (si->handlers[i].update_cb)
            si->handlers[i].update_cb(old_obj, new_obj, si->handlers[i].userdata);
}

static void dispatch_delete(json_t *obj, void *userdata) {
    struct dispatch_ctx *d = userdata;
    struct shared_informer *si = informer_of(d);
    for (size_t i = 0; i < si->n_handlers; i++)
        if (si->handlers[i].delete_cb)
            si->handlers[i].delete_cb(obj, si->handlers[i].userdata);
}

static struct shared_informer *find_informer(struct rc_manager *m,
                                             const struct kube_resource *res) {
    for (size_t i = 0; i < m->n_informers; i++)
        if (m->informers[i].res == res)
            return &m->informers[i];
    return NULL;
}

static struct shared_informer *ensure_informer(struct rc_manager *m,
                                               const struct kube_resource *res) {
    struct shared_informer *si = find_informer(m, res);
    if (si)
        return si;
    if (m->started)
        return NULL;
    struct shared_informer *arr =
        realloc(m->informers, (m->n_informers + 1) * sizeof *m->informers);
    if (!arr)
        return NULL;
    m->informers = arr;
    struct dispatch_ctx *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->m = m;
    d->idx = m->n_informers;
    struct kube_informer_options o;
    kube_informer_options_init(&o);
    o.ns = res->namespaced ? m->ns : NULL;
    o.resync_ms = m->env.resync_ms;
    struct kube_informer_handlers h = {.add_cb = dispatch_add,
                                       .update_cb = dispatch_update,
                                       .delete_cb = dispatch_delete,
                                       .userdata = d};
    struct kube_informer *inf = NULL;
    if (kube_informer_new(m->env.client, res, &o, &h, &inf) < 0) {
        free(d);
        return NULL;
    }
    si = &m->informers[m->n_informers++];
    *si = (struct shared_informer){.res = res, .inf = inf, .ctx = d};
    return si;
}

struct kube_informer *rc_manager_informer(struct rc_manager *m, const struct kube_resource *res) {
    struct shared_informer *si = ensure_informer(m, res);
    return si ? si->inf : NULL;
}

int rc_manager_watch(struct rc_manager *m, const struct kube_resource *res,
                     const struct rc_watch_handlers *h) {
    struct shared_informer *si = ensure_informer(m, res);
    if (!si)
        return m->started ? -EBUSY : -ENOMEM;
    struct rc_watch_handlers *arr = realloc(si->handlers, (si->n_handlers + 1) * sizeof *arr);
    if (!arr)
        return -ENOMEM;
    si->handlers = arr;
    si->handlers[si->n_handlers++] = *h;
    return 0;
}

int rc_manager__add_controller(struct rc_manager *m, struct rc_controller *c) {
    struct rc_controller **arr =
        realloc(m->controllers, (m->n_controllers + 1) * sizeof *m->controllers);
    if (!arr)
        return -ENOMEM;
    m->controllers = arr;
    m->controllers[m->n_controllers++] = c;
    return 0;
}

int rc_manager_start(struct rc_manager *m) {
    m->started = true;
    for (size_t i = 0; i < m->n_informers; i++) {
        struct kube_error err;
        kube_error_init(&err);
        int r = kube_informer_start(m->informers[i].inf, &err);
        if (r < 0) {
            cm_log_kv(CM_LOG_ERROR, "informer start failed", "resource",
                      m->informers[i].res->resource, "error",
                      err.message ? err.message : "", NULL);
            kube_error_done(&err);
            return r;
        }
        kube_error_done(&err);
    }
    return 0;
}

int rc_manager_wait_synced(struct rc_manager *m, int64_t timeout_ms) {
    for (size_t i = 0; i < m->n_informers; i++)
        if (kube_informer_wait_synced(m->informers[i].inf, timeout_ms) < 0)
            return -ETIMEDOUT;
    return 0;
}

bool rc_manager_synced(struct rc_manager *m) {
    for (size_t i = 0; i < m->n_informers; i++)
        if (!kube_informer_has_synced(m->informers[i].inf))
            return false;
    return true;
}

/* Every cached key goes back in the queue when leadership (re)starts: another leader may have
 * changed anything meanwhile, and timers from the previous term may have been lost. */
static void enqueue_all(struct rc_manager *m, struct rc_controller *c) {
    const struct kube_resource *res = rc_controller__resource(c);
    if (!res)
        return;
    struct shared_informer *si = find_informer(m, res);
    if (!si)
        return;
    json_t *all = kube_informer_list(si->inf);
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) {
        char *key = kube_informer_key_of(obj);
        if (key)
            rc_controller_enqueue(c, key);
        free(key);
    }
    json_decref(all);
}

void rc_manager_set_leading(struct rc_manager *m, bool leading) {
    pthread_mutex_lock(&m->lock);
    if (leading != m->leading) {
        m->leading = leading;
        for (size_t i = 0; i < m->n_controllers; i++) {
            if (leading) {
                enqueue_all(m, m->controllers[i]);
                rc_controller__start(m->controllers[i]);
            } else {
                rc_controller__stop(m->controllers[i]);
            }
        }
        cm_log_kv(CM_LOG_INFO, leading ? "workers started" : "workers stopped", NULL);
    }
    pthread_mutex_unlock(&m->lock);
}

bool rc_manager_leading(struct rc_manager *m) {
    pthread_mutex_lock(&m->lock);
    bool l = m->leading;
    pthread_mutex_unlock(&m->lock);
    return l;
}

void rc_manager_free(struct rc_manager *m) {
    if (!m)
        return;
    rc_manager_set_leading(m, false);
    for (size_t i = 0; i < m->n_controllers; i++)
        rc_controller__shutdown(m->controllers[i]);
    for (size_t i = 0; i < m->n_informers; i++)
        kube_informer_stop(m->informers[i].inf);
    for (size_t i = 0; i < m->n_controllers; i++)
        rc_controller__free(m->controllers[i]);
    for (size_t i = 0; i < m->n_informers; i++) {
        kube_informer_free(m->informers[i].inf);
        free(m->informers[i].ctx);
        free(m->informers[i].handlers);
    }
    free(m->informers);
    free(m->controllers);
    pthread_mutex_destroy(&m->lock);
    free(m->ns);
    free(m);
}
