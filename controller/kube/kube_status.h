/* kube_status: read-modify-write of an object's status with retry on 409 Conflict, and the
 * metav1.Condition helper.
 *
 * kube_status_update() is client-go's retry.RetryOnConflict around Get + mutate + UpdateStatus:
 * GET the object, let mutate_cb change it, PUT it (to the "status" subresource, or to the object
 * itself when opts say so) with the resourceVersion just read; on 409 Conflict do it all again
 * from a fresh GET, up to max_attempts times. Blocking; call from worker threads. */
#ifndef KUBE_STATUS_H
#define KUBE_STATUS_H

#include <jansson.h>
#include <stdint.h>

struct kube_client;
struct kube_error;
struct kube_resource;

/* Changes obj (a fresh, private deep copy the callback may modify freely) in place.
 * Return 0 to write it, 1 when nothing needs writing (no PUT is made; kube_status_update()
 * returns 0 with the object as read), or a negative errno to abort (returned as is).
 * May be called several times (once per attempt): it must be idempotent. */
typedef int (*kube_status_mutate_cb)(json_t *obj, void *userdata);

struct kube_status_options {
    int max_attempts;      /* total tries on conflict. Default 5 */
    int main_resource;     /* 1: PUT the object itself, not the status subresource. Default 0 */
    int64_t conflict_backoff_ms; /* base of a short jittered pause between attempts. Default 10 */
};
void kube_status_options_init(struct kube_status_options *o);

/* Returns 0 with *ret_obj (may be NULL) the object as written (new reference).
 * Errors: mutate_cb's negative return; -ESTALE when every attempt conflicted; any kube_get /
 * kube_update error (e.g. -ENOENT when the object is gone). opts NULL: defaults. */
int kube_status_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
                       const char *name, const struct kube_status_options *opts,
                       kube_status_mutate_cb mutate_cb, void *userdata, json_t **ret_obj,
                       struct kube_error *err);

/* A metav1.Condition to set. Strings borrowed for the call. */
struct kube_condition {
    const char *type;    /* "Ready" (required) */
    const char *status;  /* "True", "False" or "Unknown" (required) */
    const char *reason;  /* CamelCase, required by metav1.Condition; NULL -> "Unknown" */
    const char *message; /* may be NULL -> "" */
    int64_t observed_generation; /* < 0: leave unset */
};

/* Sets cond in status.conditions of obj (creating "status" and "conditions" as needed):
 * replaces the entry of the same type or appends one. lastTransitionTime is set to now_ms
 * (RFC 3339) only when the entry is new or its status changed; otherwise it is kept.
 * Returns 1 when anything changed, 0 when the condition was already exactly so, -EINVAL
 * (missing type/status, status/conditions of the wrong JSON type), -ENOMEM. */
int kube_status_condition_set(json_t *obj, const struct kube_condition *cond, int64_t now_ms);
/* The condition of that type in obj's status.conditions (BORROWED), or NULL. */
json_t *kube_status_condition_get(const json_t *obj, const char *type);
/* 1 when obj's condition of that type has status "True", else 0. */
int kube_status_condition_is_true(const json_t *obj, const char *type);

#endif
