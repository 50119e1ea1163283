/* kube_workqueue: client-go's rate-limited, delaying work queue of string keys.
 *
 * Invariants (the reason it exists):
 *  - dedupe: a key queued several times before a worker takes it is handed out once;
 *  - exclusivity: a key handed to a worker is never handed to another until that worker calls
 *    kube_workqueue_done(); if it is added meanwhile it is marked dirty and re-queued by done();
 *  - delays: add_after() keeps a timer heap; getters wait on a condition variable with a timed
 *    wait until the earliest timer (no sleep-polling, no timer thread);
 *  - per-key backoff: add_rate_limited() delays by base*2^requeues capped at max; forget() resets;
 *  - shutdown: wakes every getter, which return -ESHUTDOWN; later adds are ignored.
 * Keys are copied. All functions are thread-safe. */
#ifndef KUBE_WORKQUEUE_H
#define KUBE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

struct kube_workqueue;

struct kube_workqueue_options {
    int64_t base_delay_ms; /* first rate-limited delay. Default 5 (client-go) */
    int64_t max_delay_ms;  /* cap of the rate-limited delay. Default 1000000 (client-go) */
};
void kube_workqueue_options_init(struct kube_workqueue_options *o);

/* Creates a queue (opts NULL: defaults). Returns 0 or -ENOMEM. */
int kube_workqueue_new(const struct kube_workqueue_options *opts, struct kube_workqueue **ret_q);
/* Frees the queue. No thread may be using it any more (shut down and join workers first).
 * Accepts NULL. */
void kube_workqueue_free(struct kube_workqueue *q);

/* Queues key now (no-op if already queued; marked dirty if being processed).
 * Returns 0, -ESHUTDOWN, -ENOMEM. */
int kube_workqueue_add(struct kube_workqueue *q, const char *key);
/* Queues key after delay_ms (<= 0: now). An earlier pending timer for the same key wins (like
 * client-go). Returns 0, -ESHUTDOWN, -ENOMEM. */
int kube_workqueue_add_after(struct kube_workqueue *q, const char *key, int64_t delay_ms);
/* Queues key after its backoff (base * 2^n, capped, n = number of rate-limited adds since the
 * last forget) and counts one more requeue. Returns 0, -ESHUTDOWN, -ENOMEM. */
int kube_workqueue_add_rate_limited(struct kube_workqueue *q, const char *key);
/* The delay the next add_rate_limited(key) would use (for logs and tests). */
int64_t kube_workqueue_next_backoff_ms(struct kube_workqueue *q, const char *key);
/* Resets key's backoff (call after a successful processing). */
void kube_workqueue_forget(struct kube_workqueue *q, const char *key);
/* Rate-limited adds of key since the last forget. */
unsigned kube_workqueue_num_requeues(struct kube_workqueue *q, const char *key);

/* Blocks until a key is ready, and hands it out: *ret_key is a malloc'ed copy the caller frees
 * AFTER calling kube_workqueue_done(q, key). Returns 0 or -ESHUTDOWN (queue shut down: the
 * worker should exit; keys still queued are dropped). */
int kube_workqueue_get(struct kube_workqueue *q, char **ret_key);
/* Same with a timeout: -ETIMEDOUT when nothing was ready within timeout_ms. */
int kube_workqueue_get_timeout(struct kube_workqueue *q, int64_t timeout_ms, char **ret_key);
/* Marks key processed; if it was added while processing, it is queued again now. */
void kube_workqueue_done(struct kube_workqueue *q, const char *key);

/* Shuts the queue down: every blocked getter returns -ESHUTDOWN, adds are refused. Idempotent. */
void kube_workqueue_shutdown(struct kube_workqueue *q);
int kube_workqueue_is_shutdown(struct kube_workqueue *q);
/* Keys ready now (the depth metric; delayed and in-process keys not included). */
size_t kube_workqueue_len(struct kube_workqueue *q);
/* Keys waiting on a timer. */
size_t kube_workqueue_delayed_len(struct kube_workqueue *q);
/* Keys currently being processed. */
size_t kube_workqueue_processing_len(struct kube_workqueue *q);

#endif
