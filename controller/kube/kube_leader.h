/* kube_leader: leader election on a coordination.k8s.io/v1 Lease, like client-go's
 * leaderelection with a LeaseLock.
 *
 * A contender thread tries every retry_period to acquire the Lease (create it, or take it over
 * when the holder has not renewed it for lease_duration as observed on OUR monotonic clock: the
 * remote renewTime is not trusted because clocks differ). Every write is a PUT carrying the
 * resourceVersion read, so two contenders can never both win: the loser gets a 409.
 * While leading it renews every retry_period; if it cannot renew within renew_deadline it calls
 * stopped_leading_cb (the caller must stop its work at once) and goes back to contending (a
 * later started_leading_cb may follow). Its requests carry the renew deadline, so a hung API
 * server cannot stretch a renewal past it.
 * kube_leader_stop() while leading releases the lease (holderIdentity "" and
 * leaseDurationSeconds 1, like client-go's ReleaseOnCancel) so another contender takes over
 * without waiting for the lease to expire, then calls stopped_leading_cb.
 *
 * Requirements (checked): lease_duration > renew_deadline > retry_period * 1.2 (client-go's
 * JitterFactor), all > 0. Durations are written to the Lease in whole seconds (rounded up).
 * Callbacks run on the contender thread, one at a time; they must not block for long and must
 * not call kube_leader_stop()/kube_leader_free(). */
#ifndef KUBE_LEADER_H
#define KUBE_LEADER_H

#include <stdint.h>

struct kube_client;
struct kube_error;
struct kube_leader;

struct kube_leader_options {
    const char *ns;        /* namespace of the Lease (copied; required) */
    const char *name;      /* Lease name (copied; required) */
    const char *identity;  /* this contender's holderIdentity (copied; required, unique) */
    int64_t lease_duration_ms; /* Default 15000 */
    int64_t renew_deadline_ms; /* Default 10000 */
    int64_t retry_period_ms;   /* Default 2000 */
    int release_on_stop;       /* release the lease in kube_leader_stop(). Default 1 */
    void (*started_leading_cb)(void *userdata); /* became leader: start work (do not block) */
    void (*stopped_leading_cb)(void *userdata); /* lost/released: stop work now */
    void (*new_leader_cb)(const char *identity, void *userdata); /* observed holder changed
                                                                   (optional; may be "") */
    void *userdata;
};
void kube_leader_options_init(struct kube_leader_options *o);

/* Validates opts, creates the elector and starts its thread. c must outlive it.
 * Returns 0, -EINVAL (missing field, bad durations; err says which), -ENOMEM, -EAGAIN.
 * On failure no callback is ever called. */
int kube_leader_start(struct kube_client *c, const struct kube_leader_options *opts,
                      struct kube_leader **ret_leader, struct kube_error *err);
/* Stops contending; if leading, releases the lease (when release_on_stop) and calls
 * stopped_leading_cb before returning. Waits for the thread. Idempotent. Any thread but the
 * callbacks'. */
void kube_leader_stop(struct kube_leader *l);
/* Stops (if needed) and frees. Accepts NULL. */
void kube_leader_free(struct kube_leader *l);
/* 1 while this contender holds the lease (as last renewed). Thread-safe. */
int kube_leader_is_leader(struct kube_leader *l);
/* A malloc'ed copy of the holder last observed (NULL when none known / -ENOMEM). Thread-safe. */
char *kube_leader_holder(struct kube_leader *l);

#endif
