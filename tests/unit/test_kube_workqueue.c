/* Work queue invariants: dedupe, exclusivity, dirty re-queue, delays, backoff, shutdown. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cm_time.h"
#include "kube_workqueue.h"

static struct kube_workqueue *new_q(int64_t base, int64_t max) {
    struct kube_workqueue_options o;
    kube_workqueue_options_init(&o);
    o.base_delay_ms = base;
    o.max_delay_ms = max;
    struct kube_workqueue *q = NULL;
    assert_int_equal(kube_workqueue_new(&o, &q), 0);
    return q;
}

static char *get_now(struct kube_workqueue *q) {
    char *k = NULL;
    int r = kube_workqueue_get_timeout(q, 0, &k);
    return r == 0 ? k : NULL;
}

static void test_dedupe(void **state) {
    (void)state;
    struct kube_workqueue *q = new_q(5, 1000);
    assert_int_equal(kube_workqueue_add(q, "a"), 0);
    assert_int_equal(kube_workqueue_add(q, "b"), 0);
    assert_int_equal(kube_workqueue_add(q, "a"), 0);
    assert_int_equal(kube_workqueue_len(q), 2);
    char *k1 = get_now(q), *k2 = get_now(q), *k3 = get_now(q);
    assert_string_equal(k1, "a"); /* FIFO order */
    assert_string_equal(k2, "b");
    assert_null(k3);
    kube_workqueue_done(q, k1);
    kube_workqueue_done(q, k2);
    assert_null(get_now(q));
    free(k1);
    free(k2);
    kube_workqueue_free(q);
}

static void test_dirty_requeue(void **state) {
    (void)state;
    struct kube_workqueue *q = new_q(5, 1000);
    kube_workqueue_add(q, "a");
    char *k = get_now(q);
    assert_string_equal(k, "a");
    /* re-added while processing: not handed out again until done */
    kube_workqueue_add(q, "a");
    kube_workqueue_add(q, "a");
    assert_int_equal(kube_workqueue_len(q), 0);
    assert_null(get_now(q));
    assert_int_equal(kube_workqueue_processing_len(q), 1);
    kube_workqueue_done(q, k);
    free(k);
    assert_int_equal(kube_workqueue_len(q), 1);
    k = get_now(q);
    assert_string_equal(k, "a");
    kube_workqueue_done(q, k);
    free(k);
    assert_null(get_now(q)); /* only once, however often it was re-added */
    kube_workqueue_free(q);
}

/* Several workers hammer a few keys; an in-flight counter per key must never exceed 1. */
#define N_KEYS 4
#define N_WORKERS 6
struct hammer {
    struct kube_workqueue *q;
    atomic_int inflight[N_KEYS];
    atomic_int violations;
    atomic_int processed;
};

static void *worker(void *arg) {
    struct hammer *h = arg;
    for (;;) {
        char *k = NULL;
        if (kube_workqueue_get(h->q, &k) < 0)
            return NULL;
        int i = k[1] - '0';
        if (atomic_fetch_add(&h->inflight[i], 1) != 0)
            atomic_fetch_add(&h->violations, 1);
        /* re-add ourselves while processing to exercise the dirty path */
        kube_workqueue_add(h->q, k);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
        atomic_fetch_sub(&h->inflight[i], 1);
        atomic_fetch_add(&h->processed, 1);
        kube_workqueue_done(h->q, k);
        free(k);
    }
}

static void test_no_concurrent_same_key(void **state) {
    (void)state;
    struct hammer h = {.q = new_q(5, 1000)};
    pthread_t th[N_WORKERS];
    for (int i = 0; i < N_WORKERS; i++)
        pthread_create(&th[i], NULL, worker, &h);
    for (int round = 0; round < 200; round++) {
        char key[4] = {'k', (char)('0' + round % N_KEYS), 0, 0};
        kube_workqueue_add(h.q, key);
    }
    int64_t until = cm_time_mono_ms() + 500;
    while (cm_time_mono_ms() < until && atomic_load(&h.processed) < 200) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    kube_workqueue_shutdown(h.q);
    for (int i = 0; i < N_WORKERS; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&h.processed) > 20);
    assert_int_equal(atomic_load(&h.violations), 0);
    kube_workqueue_free(h.q);
}

static void test_add_after_order(void **state) {
    (void)state;
    struct kube_workqueue *q = new_q(5, 1000);
    int64_t t0 = cm_time_mono_ms();
    kube_workqueue_add_after(q, "late", 150);
    kube_workqueue_add_after(q, "early", 50);
    kube_workqueue_add_after(q, "mid", 100);
    assert_int_equal(kube_workqueue_len(q), 0);
    assert_int_equal(kube_workqueue_delayed_len(q), 3);
    const char *want[] = {"early", "mid", "late"};
    int64_t min_at[] = {50, 100, 150};
    for (int i = 0; i < 3; i++) {
        char *k = NULL;
        assert_int_equal(kube_workqueue_get_timeout(q, 2000, &k), 0);
        int64_t el = cm_time_mono_ms() - t0;
        assert_string_equal(k, want[i]);
        assert_true(el >= min_at[i]);
        assert_true(el < min_at[i] + 1000);
        kube_workqueue_done(q, k);
        free(k);
    }
    /* an earlier timer for the same key wins; a later one does not postpone it */
    t0 = cm_time_mono_ms();
    kube_workqueue_add_after(q, "x", 1000);
    kube_workqueue_add_after(q, "x", 30);
    kube_workqueue_add_after(q, "x", 5000);
    char *k = NULL;
    assert_int_equal(kube_workqueue_get_timeout(q, 900, &k), 0);
    assert_string_equal(k, "x");
    assert_true(cm_time_mono_ms() - t0 < 900);
    kube_workqueue_done(q, k);
    free(k);
    assert_int_equal(kube_workqueue_delayed_len(q), 0);
    assert_int_equal(kube_workqueue_get_timeout(q, 50, &k), -ETIMEDOUT);
    kube_workqueue_free(q);
}

/* A getter blocked with nothing queued must be woken by a timer added later, earlier than its
 * current wait. */
static void *delayed_adder(void *arg) {
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    kube_workqueue_add_after(arg, "wake", 30);
    return NULL;
}

static void test_blocked_getter_sees_new_timer(void **state) {
    (void)state;
    struct kube_workqueue *q = new_q(5, 1000);
    pthread_t th;
    int64_t t0 = cm_time_mono_ms();
    pthread_create(&th, NULL, delayed_adder, q);
    char *k = NULL;
    assert_int_equal(kube_workqueue_get_timeout(q, 3000, &k), 0);
    assert_string_equal(k, "wake");
    assert_true(cm_time_mono_ms() - t0 < 1000);
    pthread_join(th, NULL);
    kube_workqueue_done(q, k);
    free(k);
    kube_workqueue_free(q);
}

static void test_rate_limited_backoff(void **state) {
    (void)state;
    struct kube_workqueue *q = new_q(10, 80);
    int64_t want[] = {10, 20, 40, 80, 80, 80};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(kube_workqueue_next_backoff_ms(q, "k"), want[i]);
        assert_int_equal(kube_workqueue_num_requeues(q, "k"), (unsigned)i);
        assert_int_equal(kube_workqueue_add_rate_limited(q, "k"), 0);
    }
    assert_int_equal(kube_workqueue_num_requeues(q, "k"), 6);
    /* it was queued after its (first, shortest) timer */
    char *k = NULL;
    int64_t t0 = cm_time_mono_ms();
    assert_int_equal(kube_workqueue_get_timeout(q, 1000, &k), 0);
    assert_true(cm_time_mono_ms() - t0 <= 200);
    kube_workqueue_done(q, k);
    free(k);
    kube_workqueue_forget(q, "k");
    assert_int_equal(kube_workqueue_num_requeues(q, "k"), 0);
    assert_int_equal(kube_workqueue_next_backoff_ms(q, "k"), 10);
    /* other keys have their own counters */
    assert_int_equal(kube_workqueue_num_requeues(q, "other"), 0);
    kube_workqueue_free(q);
}

static void *blocked_getter(void *arg) {
    char *k = NULL;
    intptr_t r = kube_workqueue_get(arg, &k);
    free(k);
    return (void *)r;
}

static void test_shutdown_wakes_getters(void **state) {
    (void)state;
    struct kube_workqueue *q = new_q(5, 1000);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, blocked_getter, q);
    struct timespec ts = {0, 30000000};
    nanosleep(&ts, NULL);
    kube_workqueue_shutdown(q);
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_int_equal((intptr_t)r, -ESHUTDOWN);
    }
    assert_true(kube_workqueue_is_shutdown(q));
    assert_int_equal(kube_workqueue_add(q, "late"), -ESHUTDOWN);
    assert_int_equal(kube_workqueue_add_after(q, "late", 10), -ESHUTDOWN);
    assert_int_equal(kube_workqueue_add_rate_limited(q, "late"), -ESHUTDOWN);
    kube_workqueue_free(q);
}

static void test_many_keys(void **state) {
    (void)state;
    /* grows the hash table and frees idle items */
    struct kube_workqueue *q = new_q(5, 1000);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "ns/host-%d", i);
        assert_int_equal(kube_workqueue_add(q, key), 0);
    }
    assert_int_equal(kube_workqueue_len(q), 5000);
    for (int i = 0; i < 5000; i++) {
        char *k = get_now(q);
        snprintf(key, sizeof(key), "ns/host-%d", i);
        assert_string_equal(k, key);
        kube_workqueue_done(q, k);
        free(k);
    }
    assert_int_equal(kube_workqueue_len(q), 0);
    kube_workqueue_free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedupe),
        cmocka_unit_test(test_dirty_requeue),
        cmocka_unit_test(test_no_concurrent_same_key),
        cmocka_unit_test(test_add_after_order),
        cmocka_unit_test(test_blocked_getter_sees_new_timer),
        cmocka_unit_test(test_rate_limited_backoff),
        cmocka_unit_test(test_shutdown_wakes_getters),
        cmocka_unit_test(test_many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
