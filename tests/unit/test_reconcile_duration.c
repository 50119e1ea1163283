#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rc_duration.h"

static int64_t parse(const char *s) {
    int64_t ms = -12345;
    assert_int_equal(rc_duration_parse(s, &ms), 0);
    return ms;
}

static void test_units(void **state) {
    assert_int_equal(parse("60s"), 60000);
    assert_int_equal(parse("5m"), 300000);
    assert_int_equal(parse("1h"), 3600000);
    assert_int_equal(parse("250ms"), 250);
    assert_int_equal(parse("1h30m"), 5400000);
    assert_int_equal(parse("2m3s4ms"), 123004);
    assert_int_equal(parse("1.5s"), 1500);
    assert_int_equal(parse("0.25h"), 900000);
    assert_int_equal(parse("1.23456s"), 1234);
}

static void test_bare_number_is_seconds(void **state) {
    assert_int_equal(parse("90"), 90000);
    assert_int_equal(parse("0"), 0);
}

static void test_rejects(void **state) {
    int64_t ms = 7;
    assert_int_equal(rc_duration_parse("", &ms), -EINVAL);
    assert_int_equal(rc_duration_parse(NULL, &ms), -EINVAL);
    assert_int_equal(rc_duration_parse("-5s", &ms), -EINVAL);
    assert_int_equal(rc_duration_parse("5x", &ms), -EINVAL);
    assert_int_equal(rc_duration_parse("5s3", &ms), -EINVAL);   /* bare number only alone */
    assert_int_equal(rc_duration_parse("1.5", &ms), -EINVAL);   /* fraction needs a unit */
    assert_int_equal(rc_duration_parse("s", &ms), -EINVAL);
    assert_int_equal(rc_duration_parse("1.s", &ms), -EINVAL);
    assert_int_equal(rc_duration_parse(" 5s", &ms), -EINVAL);
    assert_int_equal(rc_duration_parse("99999999999999999999h", &ms), -ERANGE);
    assert_int_equal(rc_duration_parse("9000000000000h", &ms), -ERANGE);
    assert_int_equal(ms, 7);
}

static void test_format(void **state) {
    char b[24];
    assert_string_equal(rc_duration_format(0, b, sizeof b), "0s");
    assert_string_equal(rc_duration_format(250, b, sizeof b), "250ms");
    assert_string_equal(rc_duration_format(45000, b, sizeof b), "45s");
    assert_string_equal(rc_duration_format(5400000, b, sizeof b), "1h30m");
    assert_string_equal(rc_duration_format(1500, b, sizeof b), "1.500s");
    /* round trip */
    int64_t ms;
    assert_int_equal(rc_duration_parse(rc_duration_format(3723004, b, sizeof b), &ms), 0);
    assert_int_equal(ms, 3723004);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_bare_number_is_seconds),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
