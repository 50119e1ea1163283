#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cm_time.h"

static void test_roundtrip(void **state) {
    char out[40];
    int64_t ms;
    assert_int_equal(cm_time_parse_rfc3339("2026-11-22T10:11:12Z", &ms), 0);
    assert_string_equal(cm_time_format_rfc3339(ms, 0, out, sizeof out), "2026-11-22T10:11:12Z");
    assert_int_equal(cm_time_parse_rfc3339("2026-11-22T10:11:12.345678Z", &ms), 0);
    assert_string_equal(cm_time_format_rfc3339(ms, 1, out, sizeof out), "2026-11-22T10:11:12.345Z");
}

static void test_offsets(void **state) {
    int64_t a, b;
    assert_int_equal(cm_time_parse_rfc3339("2026-01-01T02:00:00+02:00", &a), 0);
    assert_int_equal(cm_time_parse_rfc3339("2026-01-01T00:00:00Z", &b), 0);
    assert_int_equal(a, b);
}

static void test_rejects_garbage(void **state) {
    int64_t ms = 7;
    assert_int_equal(cm_time_parse_rfc3339("yesterday", &ms), -EINVAL);
    assert_int_equal(cm_time_parse_rfc3339("2026-13-01T00:00:00Z", &ms), -EINVAL);
    assert_int_equal(cm_time_parse_rfc3339("2026-01-01T00:00:00", &ms), -EINVAL);
    assert_int_equal(cm_time_parse_rfc3339("2026-01-01T00:00:00Zjunk", &ms), -EINVAL);
    assert_int_equal(ms, 7);
}

static void test_monotonic_advances(void **state) {
    int64_t a = cm_time_mono_ms();
    int64_t b = cm_time_mono_ms();
    assert_true(b >= a);
    assert_true(cm_time_wall_ms() > 1700000000000LL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_rejects_garbage),
        cmocka_unit_test(test_monotonic_advances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
