/* Token bucket, Retry-After and retry delay maths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kube_ratelimit.h"

static void test_bucket_burst_then_rate(void **state) {
    (void)state;
    struct kube_bucket b;
    kube_bucket_init(&b, 5, 10, 1000);
    /* 10 requests pass at once (burst) ... */
    for (int i = 0; i < 10; i++)
        assert_int_equal(kube_bucket_reserve(&b, 1000), 0);
    /* ... then one every 200 ms (5 qps): reservations queue up in advance. */
    assert_int_equal(kube_bucket_reserve(&b, 1000), 200);
    assert_int_equal(kube_bucket_reserve(&b, 1000), 400);
    assert_int_equal(kube_bucket_reserve(&b, 1000), 600);
    /* after waiting long enough for those, the next one waits 200 ms again */
    assert_int_equal(kube_bucket_reserve(&b, 1600), 200);
}

static void test_bucket_refill_capped(void **state) {
    (void)state;
    struct kube_bucket b;
    kube_bucket_init(&b, 100, 3, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(kube_bucket_reserve(&b, 0), 0);
    assert_true(kube_bucket_reserve(&b, 0) > 0);
    /* an hour idle refills only up to burst */
    int zero = 0;
    for (int i = 0; i < 5; i++)
        zero += kube_bucket_reserve(&b, 3600000) == 0;
    assert_int_equal(zero, 3);
}

static void test_bucket_unlimited(void **state) {
    (void)state;
    struct kube_bucket b;
    kube_bucket_init(&b, 0, 0, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(kube_bucket_reserve(&b, 0), 0);
}

static void test_retry_after(void **state) {
    (void)state;
    int64_t ms = -1;
    assert_int_equal(kube_retry_after_parse("3", 0, 60000, &ms), 0);
    assert_int_equal(ms, 3000);
    assert_int_equal(kube_retry_after_parse(" 120\r\n", 0, 60000, &ms), 0);
    assert_int_equal(ms, 60000); /* capped */
    /* HTTP-date 10 s after "now" */
    int64_t now = 1445412470000; /* Wed, 21 Oct 2015 07:27:50 GMT */
    assert_int_equal(kube_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", now, 60000, &ms), 0);
    assert_int_equal(ms, 10000);
    assert_int_equal(kube_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT\r\n", now + 20000, 60000, &ms), 0);
    assert_int_equal(ms, 0); /* in the past */
    assert_int_equal(kube_retry_after_parse("soon", 0, 60000, &ms), -EINVAL);
    assert_int_equal(kube_retry_after_parse("3x", 0, 60000, &ms), -EINVAL);
    assert_int_equal(kube_retry_after_parse("", 0, 60000, &ms), -EINVAL);
    assert_int_equal(kube_retry_after_parse("Wed, 21 Foo 2015 07:28:00 GMT", 0, 60000, &ms), -EINVAL);
}

static void test_retry_delay(void **state) {
    (void)state;
    /* rnd 0.5 means no jitter: exact exponential growth, capped */
    assert_int_equal(kube_retry_delay_ms(0, 100, 10000, -1, 0.5), 100);
    assert_int_equal(kube_retry_delay_ms(1, 100, 10000, -1, 0.5), 200);
    assert_int_equal(kube_retry_delay_ms(3, 100, 10000, -1, 0.5), 800);
    assert_int_equal(kube_retry_delay_ms(20, 100, 10000, -1, 0.5), 10000);
    /* jitter stays within +/-20% */
    assert_int_equal(kube_retry_delay_ms(3, 100, 10000, -1, 0.0), 640);
    assert_true(kube_retry_delay_ms(3, 100, 10000, -1, 0.999) <= 960);
    /* a larger Retry-After wins, capped */
    assert_int_equal(kube_retry_delay_ms(0, 100, 10000, 3000, 0.5), 3000);
    assert_int_equal(kube_retry_delay_ms(0, 100, 10000, 60000, 0.5), 10000);
    /* a smaller one does not shorten the backoff */
    assert_int_equal(kube_retry_delay_ms(3, 100, 10000, 10, 0.5), 800);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_burst_then_rate),
        cmocka_unit_test(test_bucket_refill_capped),
        cmocka_unit_test(test_bucket_unlimited),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_retry_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
