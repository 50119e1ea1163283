#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_json.h"

static void test_get_paths(void **state) {
    const char *t = "{\"metadata\":{\"name\":\"a\",\"generation\":3,\"x\":true},\"spec\":1}";
    json_t *o = cm_json_loadb(t, strlen(t), NULL, 0);
    assert_non_null(o);
    assert_string_equal(cm_json_get_str(o, "metadata.name"), "a");
    assert_int_equal(cm_json_get_int(o, "metadata.generation", -1), 3);
    assert_int_equal(cm_json_get_int(o, "metadata.name", -1), -1);
    assert_int_equal(cm_json_get_bool(o, "metadata.x", 0), 1);
    assert_null(cm_json_get(o, "spec.inner"));
    assert_null(cm_json_get_str(o, "nope.name"));
    json_decref(o);
}

static void test_set_creates_and_refuses(void **state) {
    json_t *o = json_object();
    assert_int_equal(cm_json_set(o, "status.conditions.count", json_integer(2)), 0);
    assert_int_equal(cm_json_get_int(o, "status.conditions.count", 0), 2);
    json_object_set_new(o, "leaf", json_string("x"));
    assert_int_equal(cm_json_set(o, "leaf.sub", json_integer(1)), -EINVAL);
    char *s = cm_json_dumps(o);
    assert_string_equal(s, "{\"status\":{\"conditions\":{\"count\":2}},\"leaf\":\"x\"}");
    free(s);
    json_decref(o);
}

static void test_load_error_message(void **state) {
    char err[200];
    assert_null(cm_json_loadb("{\"a\":", 5, err, sizeof err));
    assert_non_null(strstr(err, "invalid JSON"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_paths),
        cmocka_unit_test(test_set_creates_and_refuses),
        cmocka_unit_test(test_load_error_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
