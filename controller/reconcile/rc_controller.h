/* rc_controller: one reconciling controller = a work queue of "namespace/name" keys, N worker
 * threads and a reconcile function, like controller-runtime's Reconciler.
 *
 * The reconcile function is given a key and looks the object up itself (usually in the shared
 * informer cache): it must converge from whatever state it finds, because keys are deduplicated
 * and events can be missed or coalesced. It returns what should happen next:
 *   rc_done()               nothing scheduled (backoff for the key is reset)
 *   rc_requeue()            run again as soon as a worker is free (more work is pending)
 *   rc_requeue_after(ms)    run again later: waiting is a scheduled re-visit, never a sleep
 *   rc_error(-errno)        failed: retried with per-key exponential backoff, counted as error
 * The queue never hands one key to two workers at once, so a reconcile function owns its object
 * for the duration of the call.
 *
 * Metrics (when the environment has a registry), label kind = def.kind:
 *   commissaire_controller_reconcile_total, commissaire_controller_reconcile_errors_total,
 *   commissaire_controller_reconcile_duration_seconds (histogram),
 *   commissaire_controller_workqueue_depth, commissaire_controller_workqueue_retries_total.
 *
 * Threads: rc_controller_new() before rc_manager_start(); enqueue functions from any thread. */
#ifndef RC_CONTROLLER_H
#define RC_CONTROLLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct kube_resource;
struct rc_controller;
struct rc_manager;

enum rc_result_kind {
    RC_RESULT_DONE,          /* converged */
    RC_RESULT_REQUEUE,       /* again now */
    RC_RESULT_REQUEUE_AFTER, /* again after after_ms */
    RC_RESULT_ERROR,         /* failed with err: retry with backoff */
};

struct rc_result {
    enum rc_result_kind kind;
    int64_t after_ms; /* RC_RESULT_REQUEUE_AFTER */
    int err;          /* RC_RESULT_ERROR: negative errno */
};

static inline struct rc_result rc_done(void) { return (struct rc_result){RC_RESULT_DONE, 0, 0}; }
static inline struct rc_result rc_requeue(void) {
    return (struct rc_result){RC_RESULT_REQUEUE, 0, 0};
}
static inline struct rc_result rc_requeue_after(int64_t ms) {
    return (struct rc_result){RC_RESULT_REQUEUE_AFTER, ms, 0};
}
static inline struct rc_result rc_error(int err) {
    return (struct rc_result){RC_RESULT_ERROR, 0, err < 0 ? err : -err};
}

/* ns is "" for cluster-scoped objects. ctl is the controller (for enqueueing others, reaching
 * the manager). Runs on a worker thread. */
typedef struct rc_result (*rc_reconcile_cb)(struct rc_controller *ctl, const char *ns,
                                            const char *name, void *userdata);

struct rc_controller_def {
    const char *kind;        /* "Host": logs and the metrics label (copied) */
    /* Primary resource: every add/update/delete of it enqueues the object's own key, and all
     * cached keys are enqueued when the manager starts leading. NULL: none (the controller is
     * fed only through rc_controller_enqueue()). Must be a static object. */
    const struct kube_resource *resource;
    unsigned workers;        /* worker threads (0 means 1) */
    rc_reconcile_cb reconcile;
    void *userdata;
    /* Called when the manager frees the controller (to free userdata). Optional. */
    void (*free_cb)(void *userdata);
};

/* Creates a controller from def and hands it to m (which frees it). *ret_ctl (optional) is
 * borrowed. Returns 0, -EINVAL, -ENOMEM. */
int rc_controller_new(struct rc_manager *m, const struct rc_controller_def *def,
                      struct rc_controller **ret_ctl);

/* Queue a key ("ns/name", or "name" for cluster-scoped objects) now / after delay_ms.
 * Ignored after shutdown. */
void rc_controller_enqueue(struct rc_controller *c, const char *key);
void rc_controller_enqueue_after(struct rc_controller *c, const char *key, int64_t delay_ms);
/* Queue ns/name (builds the key). */
void rc_controller_enqueue_name(struct rc_controller *c, const char *ns, const char *name);

struct rc_manager *rc_controller_manager(struct rc_controller *c);
const char *rc_controller_kind(const struct rc_controller *c);

/* True while this replica leads (the workers take keys). A reconcile in flight when leadership
 * is lost sees it turn false: it should return (rc_requeue()) before its next side effect, as the
 * new leader acts on the object now. Any thread. */
bool rc_controller_acting(const struct rc_controller *c);

/* Keys ready / delayed / in process, for tests and the depth metric. */
size_t rc_controller_queue_len(struct rc_controller *c);

/* Internal to the reconcile library (used by rc_manager.c). */
void rc_controller__start(struct rc_controller *c);
void rc_controller__stop(struct rc_controller *c);
void rc_controller__shutdown(struct rc_controller *c);
void rc_controller__free(struct rc_controller *c);
const struct kube_resource *rc_controller__resource(const struct rc_controller *c);

#endif
