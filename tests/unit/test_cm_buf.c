#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_buf.h"

static void test_append_and_terminate(void **state) {
    struct cm_buf b;
    cm_buf_init(&b, 0);
    assert_int_equal(cm_buf_puts(&b, "hello"), 0);
    assert_int_equal(cm_buf_printf(&b, " %d", 42), 0);
    assert_string_equal(b.data, "hello 42");
    assert_int_equal(b.len, 8);
    cm_buf_consume(&b, 6);
    assert_string_equal(b.data, "42");
    cm_buf_done(&b);
}

static void test_cap_rejects_without_partial_write(void **state) {
    struct cm_buf b;
    cm_buf_init(&b, 8);
    assert_int_equal(cm_buf_puts(&b, "12345678"), 0);
    assert_int_equal(cm_buf_puts(&b, "9"), -E2BIG);
    assert_int_equal(cm_buf_printf(&b, "%s", "x"), -E2BIG);
    assert_string_equal(b.data, "12345678");
    cm_buf_done(&b);
}

static void test_steal_empty_and_full(void **state) {
    struct cm_buf b;
    cm_buf_init(&b, 0);
    char *s = cm_buf_steal(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    cm_buf_puts(&b, "abc");
    s = cm_buf_steal(&b);
    assert_string_equal(s, "abc");
    assert_null(b.data);
    free(s);
    cm_buf_done(&b);
}

static void test_large_growth(void **state) {
    struct cm_buf b;
    cm_buf_init(&b, 1 << 20);
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 1048; i++)
        assert_int_equal(cm_buf_append(&b, chunk, sizeof chunk), 0);
    assert_int_equal(b.len, 1048000);
    assert_int_equal(cm_buf_append(&b, chunk, sizeof chunk), -E2BIG);
    cm_buf_done(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_terminate),
        cmocka_unit_test(test_cap_rejects_without_partial_write),
        cmocka_unit_test(test_steal_empty_and_full),
        cmocka_unit_test(test_large_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
