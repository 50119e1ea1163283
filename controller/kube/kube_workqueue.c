/* kube_workqueue: the delaying, rate-limited, deduplicating queue.
 *
 * Every key known to the queue has one item in a hash map, carrying the client-go states as
 * flags: DIRTY (needs processing: it is in the ready FIFO, or will be put there by done()),
 * PROCESSING (a worker has it) and a pending timer (its index in a min-heap ordered by due time).
 * An item that is in none of these states and has no requeue count is freed, so memory follows
 * the keys in flight, not every key ever seen.
 *
 * Timers need no thread of their own: getters wait on a condition variable (CLOCK_MONOTONIC)
 * until the earliest due time, and whoever holds the lock moves due timers to the FIFO first. */
#include "kube_workqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_backoff.h"
#include "cm_time.h"

enum {
    F_DIRTY = 1,
    F_PROCESSING = 2,
};

struct item {
    struct item *hnext;  /* hash chain */
    struct item *qnext;  /* ready FIFO link */
    char *key;
    unsigned flags;
    unsigned requeues;
    int64_t due_ms;      /* pending timer's due time, valid when heap_idx != NO_TIMER */
    size_t heap_idx;
};
#define NO_TIMER ((size_t)-1)

struct kube_workqueue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct kube_workqueue_options opts;
    struct item **buckets;
    size_t n_buckets, n_items;
    struct item *qhead, *qtail; /* ready FIFO */
    size_t qlen, processing;
    struct item **heap;
    size_t heap_len, heap_alloc;
    int shutdown;
};

void kube_workqueue_options_init(struct kube_workqueue_options *o) {
    o->base_delay_ms = 5;
    o->max_delay_ms = 1000000;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static struct item *lookup(struct kube_workqueue *q, const char *key) {
    for (struct item *it = q->buckets[hash_str(key) & (q->n_buckets - 1)]; it; it = it->hnext)
        if (strcmp(it->key, key) == 0)
            return it;
    return NULL;
}

static int grow(struct kube_workqueue *q) {
    size_t n = q->n_buckets * 2;
    struct item **b = calloc(n, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < q->n_buckets; i++) {
        struct item *it = q->buckets[i];
        while (it) {
            struct item *next = it->hnext;
            size_t j = hash_str(it->key) & (n - 1);
            it->hnext = b[j];
            b[j] = it;
            it = next;
        }
    }
    free(q->buckets);
    q->buckets = b;
    q->n_buckets = n;
    return 0;
}

static struct item *lookup_or_add(struct kube_workqueue *q, const char *key) {
    struct item *it = lookup(q, key);
    if (it)
        return it;
    if (q->n_items >= q->n_buckets && grow(q) < 0)
        return NULL;
    it = calloc(1, sizeof(*it));
    if (!it)
        return NULL;
    it->key = strdup(key);
    if (!it->key) {
        free(it);
        return NULL;
    }
    it->heap_idx = NO_TIMER;
    size_t j = hash_str(key) & (q->n_buckets - 1);
    it->hnext = q->buckets[j];
    q->buckets[j] = it;
    q->n_items++;
    return it;
}

/* Frees it when nothing refers to it any more. */
static void maybe_release(struct kube_workqueue *q, struct item *it) {
    if (it->flags || it->requeues || it->heap_idx != NO_TIMER)
        return;
    struct item **pp = &q->buckets[hash_str(it->key) & (q->n_buckets - 1)];
    while (*pp != it)
        pp = &(*pp)->hnext;
    *pp = it->hnext;
    q->n_items--;
    free(it->key);
    free(it);
}

/* ---- min-heap of timers --------------------------------------------------------------- */

static void heap_swap(struct kube_workqueue *q, size_t a, size_t b) {
    struct item *t = q->heap[a];
    q->heap[a] = q->heap[b];
    q->heap[b] = t;
    q->heap[a]->heap_idx = a;
    q->heap[b]->heap_idx = b;
}

static void heap_up(struct kube_workqueue *q, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (q->heap[p]->due_ms <= q->heap[i]->due_ms)
            break;
        heap_swap(q, i, p);
        i = p;
    }
}

static void heap_down(struct kube_workqueue *q, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->heap_len && q->heap[l]->due_ms < q->heap[m]->due_ms)
            m = l;
        if (r < q->heap_len && q->heap[r]->due_ms < q->heap[m]->due_ms)
            m = r;
        if (m == i)
            return;
        heap_swap(q, i, m);
        i = m;
    }
}

static int heap_push(struct kube_workqueue *q, struct item *it) {
    if (q->heap_len == q->heap_alloc) {
        size_t n = q->heap_alloc ? q->heap_alloc * 2 : 16;
        struct item **h = realloc(q->heap, n * sizeof(*h));
        if (!h)
            return -ENOMEM;
        q->heap = h;
        q->heap_alloc = n;
    }
    it->heap_idx = q->heap_len;
    q->heap[q->heap_len++] = it;
    heap_up(q, it->heap_idx);
    return 0;
}

static struct item *heap_pop(struct kube_workqueue *q) {
    struct item *top = q->heap[0];
    q->heap_len--;
    if (q->heap_len > 0) {
        q->heap[0] = q->heap[q->heap_len];
        q->heap[0]->heap_idx = 0;
        heap_down(q, 0);
    }
    top->heap_idx = NO_TIMER;
    return top;
}

/* ---- core --------------------------------------------------------------------------- */

int kube_workqueue_new(const struct kube_workqueue_options *opts, struct kube_workqueue **ret_q) {
    struct kube_workqueue *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    if (opts)
        q->opts = *opts;
    else
        kube_workqueue_options_init(&q->opts);
    if (q->opts.max_delay_ms < q->opts.base_delay_ms)
        q->opts.max_delay_ms = q->opts.base_delay_ms;
    q->n_buckets = 64;
    q->buckets = calloc(q->n_buckets, sizeof(*q->buckets));
    if (!q->buckets) {
        free(q);
        return -ENOMEM;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&q->lock, NULL);
    *ret_q = q;
    return 0;
}

void kube_workqueue_free(struct kube_workqueue *q) {
    if (!q)
        return;
    for (size_t i = 0; i < q->n_buckets; i++) {
        struct item *it = q->buckets[i];
        while (it) {
            struct item *next = it->hnext;
            free(it->key);
            free(it);
            it = next;
        }
    }
    free(q->buckets);
    free(q->heap);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static void fifo_push(struct kube_workqueue *q, struct item *it) {
    it->qnext = NULL;
    if (q->qtail)
        q->qtail->qnext = it;
    else
        q->qhead = it;
    q->qtail = it;
    q->qlen++;
}

/* client-go's Add, under the lock. */
static void add_locked(struct kube_workqueue *q, struct item *it) {
    if (it->flags & F_DIRTY)
        return;
    it->flags |= F_DIRTY;
    if (it->flags & F_PROCESSING)
        return;
    fifo_push(q, it);
    pthread_cond_signal(&q->cond);
}

int kube_workqueue_add(struct kube_workqueue *q, const char *key) {
    pthread_mutex_lock(&q->lock);
    int r = 0;
    if (q->shutdown) {
        r = -ESHUTDOWN;
    } else {
        struct item *it = lookup_or_add(q, key);
        if (it)
            add_locked(q, it);
        else
            r = -ENOMEM;
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

static int add_after_locked(struct kube_workqueue *q, const char *key, int64_t delay_ms) {
    if (q->shutdown)
        return -ESHUTDOWN;
    struct item *it = lookup_or_add(q, key);
    if (!it)
        return -ENOMEM;
    if (delay_ms <= 0) {
        add_locked(q, it);
        return 0;
    }
    int64_t due = cm_time_mono_ms() + delay_ms;
    if (it->heap_idx != NO_TIMER) {
        if (it->due_ms <= due)
            return 0; /* an earlier timer is already pending */
        it->due_ms = due;
        heap_up(q, it->heap_idx);
    } else {
        it->due_ms = due;
        if (heap_push(q, it) < 0) {
            maybe_release(q, it);
            return -ENOMEM;
        }
    }
    /* Waiters sleep until the old earliest deadline: wake them all to recompute it. */
    pthread_cond_broadcast(&q->cond);
    return 0;
}

int kube_workqueue_add_after(struct kube_workqueue *q, const char *key, int64_t delay_ms) {
    pthread_mutex_lock(&q->lock);
    int r = add_after_locked(q, key, delay_ms);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static int64_t backoff_locked(struct kube_workqueue *q, struct item *it) {
    unsigned n = it ? it->requeues : 0;
    return cm_backoff_delay_ms(q->opts.base_delay_ms, q->opts.max_delay_ms, n);
}

int kube_workqueue_add_rate_limited(struct kube_workqueue *q, const char *key) {
    pthread_mutex_lock(&q->lock);
    int r;
    struct item *it = q->shutdown ? NULL : lookup_or_add(q, key);
    if (q->shutdown) {
        r = -ESHUTDOWN;
    } else if (!it) {
        r = -ENOMEM;
    } else {
        int64_t d = backoff_locked(q, it);
        it->requeues++;
        r = add_after_locked(q, key, d);
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

int64_t kube_workqueue_next_backoff_ms(struct kube_workqueue *q, const char *key) {
    pthread_mutex_lock(&q->lock);
    int64_t d = backoff_locked(q, lookup(q, key));
    pthread_mutex_unlock(&q->lock);
    return d;
}

void kube_workqueue_forget(struct kube_workqueue *q, const char *key) {
    pthread_mutex_lock(&q->lock);
    struct item *it = lookup(q, key);
    if (it) {
        it->requeues = 0;
        maybe_release(q, it);
    }
    pthread_mutex_unlock(&q->lock);
}

unsigned kube_workqueue_num_requeues(struct kube_workqueue *q, const char *key) {
    pthread_mutex_lock(&q->lock);
    struct item *it = lookup(q, key);
    unsigned n = it ? it->requeues : 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Moves due timers to the FIFO; returns the next due time or INT64_MAX. */
static int64_t fire_timers_locked(struct kube_workqueue *q, int64_t now) {
    while (q->heap_len > 0 && q->heap[0]->due_ms <= now) {
        struct item *it = heap_pop(q);
        add_locked(q, it);
    }
    return q->heap_len > 0 ? q->heap[0]->due_ms : INT64_MAX;
}

static void abs_time(int64_t mono_ms, struct timespec *ts) {
    ts->tv_sec = mono_ms / 1000;
    ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}

int kube_workqueue_get_timeout(struct kube_workqueue *q, int64_t timeout_ms, char **ret_key) {
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : cm_time_mono_ms() + timeout_ms;
    int r = 0;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->shutdown) {
            r = -ESHUTDOWN;
            break;
        }
        int64_t now = cm_time_mono_ms();
        int64_t next = fire_timers_locked(q, now);
        if (q->qhead) {
            struct item *it = q->qhead;
            char *k = strdup(it->key);
            if (!k) {
                r = -ENOMEM;
                break;
            }
            q->qhead = it->qnext;
            if (!q->qhead)
                q->qtail = NULL;
            q->qlen--;
            it->flags = (it->flags & ~(unsigned)F_DIRTY) | F_PROCESSING;
            q->processing++;
            if (q->qhead)
                pthread_cond_signal(&q->cond); /* more is ready: wake another worker */
            *ret_key = k;
            break;
        }
        if (now >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        int64_t until = next < deadline ? next : deadline;
        if (until == INT64_MAX) {
            pthread_cond_wait(&q->cond, &q->lock);
        } else {
            struct timespec ts;
            abs_time(until, &ts);
            pthread_cond_timedwait(&q->cond, &q->lock, &ts);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

int kube_workqueue_get(struct kube_workqueue *q, char **ret_key) {
    return kube_workqueue_get_timeout(q, -1, ret_key);
}

void kube_workqueue_done(struct kube_workqueue *q, const char *key) {
    pthread_mutex_lock(&q->lock);
    struct item *it = lookup(q, key);
    if (it && (it->flags & F_PROCESSING)) {
        it->flags &= ~(unsigned)F_PROCESSING;
        q->processing--;
        if ((it->flags & F_DIRTY) && !q->shutdown) {
            fifo_push(q, it);
            pthread_cond_signal(&q->cond);
        } else {
            it->flags &= ~(unsigned)F_DIRTY;
            maybe_release(q, it);
        }
    }
    pthread_mutex_unlock(&q->lock);
}

void kube_workqueue_shutdown(struct kube_workqueue *q) {
    pthread_mutex_lock(&q->lock);
    q->shutdown = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

int kube_workqueue_is_shutdown(struct kube_workqueue *q) {
    pthread_mutex_lock(&q->lock);
    int s = q->shutdown;
    pthread_mutex_unlock(&q->lock);
    return s;
}

size_t kube_workqueue_len(struct kube_workqueue *q) {
    pthread_mutex_lock(&q->lock);
    fire_timers_locked(q, cm_time_mono_ms());
    size_t n = q->qlen;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t kube_workqueue_delayed_len(struct kube_workqueue *q) {
    pthread_mutex_lock(&q->lock);
    size_t n = q->heap_len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t kube_workqueue_processing_len(struct kube_workqueue *q) {
    pthread_mutex_lock(&q->lock);
    size_t n = q->processing;
    pthread_mutex_unlock(&q->lock);
    return n;
}
