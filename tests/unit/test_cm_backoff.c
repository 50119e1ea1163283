#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_backoff.h"

static void test_doubles_until_cap(void **state) {
    assert_int_equal(cm_backoff_delay_ms(100, 5000, 0), 100);
    assert_int_equal(cm_backoff_delay_ms(100, 5000, 1), 200);
    assert_int_equal(cm_backoff_delay_ms(100, 5000, 5), 3200);
    assert_int_equal(cm_backoff_delay_ms(100, 5000, 6), 5000);
    assert_int_equal(cm_backoff_delay_ms(100, 5000, 4000000000u), 5000);
    assert_int_equal(cm_backoff_delay_ms(0, 5000, 3), 0);
}

static void test_jitter_bounds(void **state) {
    assert_int_equal(cm_backoff_jitter_ms(1000, 10000, 0.5, 0.0), 500);
    assert_int_equal(cm_backoff_jitter_ms(1000, 10000, 0.5, 0.5), 1000);
    assert_int_equal(cm_backoff_jitter_ms(1000, 1200, 0.5, 0.999), 1200);
    assert_int_equal(cm_backoff_jitter_ms(1000, 10000, 0.0, 0.9), 1000);
    for (int i = 0; i < 1000; i++) {
        double r = cm_backoff_rand();
        assert_true(r >= 0.0 && r < 1.0);
        int64_t d = cm_backoff_jitter_ms(1000, 10000, 0.2, r);
        assert_true(d >= 800 && d <= 1200);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_until_cap),
        cmocka_unit_test(test_jitter_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
