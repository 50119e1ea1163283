/* Workers live as long as the controller. Losing leadership does not end them: it clears
 * `acting`, after which a worker takes no new key (one it was handed meanwhile goes back to the
 * queue) and parks until the next term or shutdown. Stopping therefore never waits for the
 * reconciles in flight (a bootstrap pass can run for minutes), so a replica that loses its Lease
 * and wins it back a moment later carries on at once instead of draining first; the passes in
 * flight see rc_controller_acting() turn false and end early at their next side effect. The
 * queue and its timers survive a stop, and the keys are still there when this replica leads
 * again. */
#include "rc_controller.h"

#include "cm_log.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_informer.h"
#include "kube_workqueue.h"
#include "rc_manager.h"
#include "rc_metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKER_POLL_MS 200

struct rc_controller {
    struct rc_manager *m;
    struct rc_controller_def def;
    char *kind;
    struct kube_workqueue *q;
    pthread_t *threads;
    unsigned n_running;        /* threads created (they live until shutdown) */
    atomic_bool run;           /* leading: take keys */
    atomic_bool quit;          /* shutdown: exit */
    pthread_mutex_t park_lock; /* parked workers wait on park for run or quit */
    pthread_cond_t park;
    struct rc_metric *m_total, *m_errors, *m_duration, *m_depth, *m_retries;
};

static const double duration_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,    2.5,   5,    10,  30};

static void split_key(char *key, const char **ret_ns, const char **ret_name) {
    char *slash = strchr(key, '/');
    if (slash) {
        *slash = '\0';
        *ret_ns = key;
        *ret_name = slash + 1;
    } else {
        *ret_ns = "";
        *ret_name = key;
    }
}

static void process(struct rc_controller *c, const char *key) {
    char *copy = strdup(key);
    if (!copy) {
        kube_workqueue_add_rate_limited(c->q, key);
        return;
    }
    const char *ns, *name;
    split_key(copy, &ns, &name);
    int64_t t0 = cm_time_mono_ms();
    struct rc_result r = c->def.reconcile(c, ns, name, c->def.userdata);
    double secs = (double)(cm_time_mono_ms() - t0) / 1000.0;
    rc_metric_inc(c->m_total, c->kind, NULL);
    rc_metric_observe(c->m_duration, c->kind, NULL, secs);
    switch (r.kind) {
    case RC_RESULT_DONE:
        kube_workqueue_forget(c->q, key);
        break;
    case RC_RESULT_REQUEUE:
        kube_workqueue_forget(c->q, key);
        kube_workqueue_add(c->q, key);
        break;
    case RC_RESULT_REQUEUE_AFTER:
        kube_workqueue_forget(c->q, key);
        kube_workqueue_add_after(c->q, key, r.after_ms);
        break;
    case RC_RESULT_ERROR: {
        rc_metric_inc(c->m_errors, c->kind, NULL);
        rc_metric_inc(c->m_retries, c->kind, NULL);
        char backoff[32], errs[16];
        snprintf(backoff, sizeof backoff, "%lld",
                 (long long)kube_workqueue_next_backoff_ms(c->q, key));
        snprintf(errs, sizeof errs, "%d", r.err);
        cm_log_kv(CM_LOG_WARN, "reconcile failed; retrying with backoff", "kind", c->kind,
                  "namespace", ns, "name", name, "errno", errs, "backoff_ms", backoff, NULL);
        kube_workqueue_add_rate_limited(c->q, key);
        break;
    }
    }
    free(copy);
}

static void park(struct rc_controller *c) {
    pthread_mutex_lock(&c->park_lock);
    while (!atomic_load(&c->run) && !atomic_load(&c->quit))
        pthread_cond_wait(&c->park, &c->park_lock);
    pthread_mutex_unlock(&c->park_lock);
}

static void *worker_main(void *arg) {
    struct rc_controller *c = arg;
    while (!atomic_load(&c->quit)) {
        if (!atomic_load(&c->run)) {
            park(c);
            continue;
        }
        char *key = NULL;
        int r = kube_workqueue_get_timeout(c->q, WORKER_POLL_MS, &key);
        if (r == -ETIMEDOUT)
            continue;
        if (r < 0)
            break;
        if (!atomic_load(&c->run)) {
            /* Leadership ended while we waited: not ours to act on. Marked dirty while still
             * ours, the key is queued again by done(). */
            kube_workqueue_add(c->q, key);
        } else {
            process(c, key);
        }
        kube_workqueue_done(c->q, key);
        free(key);
    }
    return NULL;
}

static void enqueue_obj(struct rc_controller *c, json_t *obj) {
    char *key = kube_informer_key_of(obj);
    if (key)
        kube_workqueue_add(c->q, key);
    free(key);
}

static void on_add(json_t *obj, void *userdata) { enqueue_obj(userdata, obj); }
static void on_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    enqueue_obj(userdata, new_obj);
}
static void on_delete(json_t *obj, void *userdata) { enqueue_obj(userdata, obj); }

static void collect_depth(struct rc_metrics *reg, void *userdata) {
    struct rc_controller *c = userdata;
    rc_metric_set(c->m_depth, c->kind, NULL, (double)kube_workqueue_len(c->q));
}

int rc_controller_new(struct rc_manager *m, const struct rc_controller_def *def,
                      struct rc_controller **ret_ctl) {
    if (!m || !def || !def->kind || !def->reconcile)
        return -EINVAL;
    struct rc_controller *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->m = m;
    c->def = *def;
    if (!c->def.workers)
        c->def.workers = 1;
    pthread_mutex_init(&c->park_lock, NULL);
    pthread_cond_init(&c->park, NULL);
    c->kind = strdup(def->kind);
    c->threads = calloc(c->def.workers, sizeof *c->threads);
    /* Errors back off from 200 ms to 60 s: long enough not to hammer a broken API server or
     * host, short enough that a transient failure heals within a minute. */
    struct kube_workqueue_options qo;
    kube_workqueue_options_init(&qo);
    qo.base_delay_ms = 200;
    qo.max_delay_ms = 60000;
    int r = -ENOMEM;
    if (!c->kind || !c->threads || kube_workqueue_new(&qo, &c->q) < 0)
        goto fail;
    struct rc_metrics *reg = rc_manager_env(m)->metrics;
    if (reg) {
        c->m_total = rc_metrics_counter(reg, "commissaire_controller_reconcile_total",
                                        "Reconciles run, per kind.", "kind");
        c->m_errors = rc_metrics_counter(reg, "commissaire_controller_reconcile_errors_total",
                                         "Reconciles that returned an error, per kind.", "kind");
        c->m_retries = rc_metrics_counter(reg, "commissaire_controller_workqueue_retries_total",
                                          "Keys re-queued with backoff after an error.", "kind");
        c->m_duration = rc_metrics_histogram(
            reg, "commissaire_controller_reconcile_duration_seconds",
            "Time spent in one reconcile, per kind.", "kind", duration_buckets,
            sizeof duration_buckets / sizeof duration_buckets[0]);
        c->m_depth = rc_metrics_gauge(reg, "commissaire_controller_workqueue_depth",
                                      "Keys ready to be processed, per kind.", "kind");
        rc_metric_set(c->m_depth, c->kind, NULL, 0);
        rc_metric_add(c->m_total, c->kind, NULL, 0);
        rc_metric_add(c->m_errors, c->kind, NULL, 0);
        if (rc_metrics_collector_add(reg, collect_depth, c) < 0)
            goto fail;
    }
    if (def->resource) {
        struct rc_watch_handlers h = {on_add, on_update, on_delete, c};
        if ((r = rc_manager_watch(m, def->resource, &h)) < 0)
            goto fail;
    }
    if ((r = rc_manager__add_controller(m, c)) < 0)
        goto fail;
    if (ret_ctl)
        *ret_ctl = c;
    return 0;
fail:
    /* A registered watch handler would point at freed memory; registration failures happen
     * only before start, and main() treats them as fatal, freeing the manager first. */
    kube_workqueue_free(c->q);
    pthread_cond_destroy(&c->park);
    pthread_mutex_destroy(&c->park_lock);
    free(c->threads);
    free(c->kind);
    free(c);
    return r;
}

void rc_controller_enqueue(struct rc_controller *c, const char *key) {
    if (c && key)
        kube_workqueue_add(c->q, key);
}

void rc_controller_enqueue_after(struct rc_controller *c, const char *key, int64_t delay_ms) {
    if (c && key)
        kube_workqueue_add_after(c->q, key, delay_ms);
}

void rc_controller_enqueue_name(struct rc_controller *c, const char *ns, const char *name) {
    if (!c || !name)
        return;
    char *key = NULL;
    if (ns && *ns) {
        if (asprintf(&key, "%s/%s", ns, name) < 0)
            return;
    } else {
        key = strdup(name);
    }
    if (key)
        kube_workqueue_add(c->q, key);
    free(key);
}

struct rc_manager *rc_controller_manager(struct rc_controller *c) { return c->m; }
const char *rc_controller_kind(const struct rc_controller *c) { return c->kind; }
size_t rc_controller_queue_len(struct rc_controller *c) { return kube_workqueue_len(c->q); }
const struct kube_resource *rc_controller__resource(const struct rc_controller *c) {
    return c->def.resource;
}

bool rc_controller_acting(const struct rc_controller *c) { return atomic_load(&c->run); }

void rc_controller__start(struct rc_controller *c) {
    if (atomic_load(&c->quit))
        return;
    pthread_mutex_lock(&c->park_lock);
    atomic_store(&c->run, true);
    pthread_cond_broadcast(&c->park);
    pthread_mutex_unlock(&c->park_lock);
    /* Workers still alive from an earlier term just carry on; only the first term starts them. */
    for (unsigned i = c->n_running; i < c->def.workers; i++) {
        if (pthread_create(&c->threads[i], NULL, worker_main, c) != 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot start worker thread", "kind", c->kind, NULL);
            break;
        }
        c->n_running++;
    }
}

void rc_controller__stop(struct rc_controller *c) {
    pthread_mutex_lock(&c->park_lock);
    atomic_store(&c->run, false);
    pthread_mutex_unlock(&c->park_lock);
}

void rc_controller__shutdown(struct rc_controller *c) {
    pthread_mutex_lock(&c->park_lock);
    atomic_store(&c->run, false);
    atomic_store(&c->quit, true);
    pthread_cond_broadcast(&c->park);
    pthread_mutex_unlock(&c->park_lock);
    /* Waits for the reconciles in flight: they are bounded by the SSH and API timeouts. */
    for (unsigned i = 0; i < c->n_running; i++)
        pthread_join(c->threads[i], NULL);
    c->n_running = 0;
    kube_workqueue_shutdown(c->q);
}

void rc_controller__free(struct rc_controller *c) {
    if (!c)
        return;
    rc_controller__shutdown(c);
    if (c->def.free_cb)
        c->def.free_cb(c->def.userdata);
    kube_workqueue_free(c->q);
    pthread_cond_destroy(&c->park);
    pthread_mutex_destroy(&c->park_lock);
    free(c->threads);
    free(c->kind);
    free(c);
}
