/* The metav1.Condition helper. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kube_status.h"

static const char *ltt(json_t *obj, const char *type) {
    return json_string_value(json_object_get(kube_status_condition_get(obj, type),
                                             "lastTransitionTime"));
}

static void test_set_new_and_unchanged(void **state) {
    (void)state;
    json_t *obj = json_object();
    struct kube_condition c = {.type = "Ready", .status = "False", .reason = "Bootstrapping",
                               .message = "step 1", .observed_generation = 3};
    int64_t t1 = 1700000000000, t2 = t1 + 60000, t3 = t2 + 60000;
    assert_int_equal(kube_status_condition_set(obj, &c, t1), 1);
    json_t *e = kube_status_condition_get(obj, "Ready");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(e, "reason")), "Bootstrapping");
    assert_int_equal(json_integer_value(json_object_get(e, "observedGeneration")), 3);
    assert_string_equal(ltt(obj, "Ready"), "2023-11-14T22:13:20Z");
    /* exactly the same again: nothing changes */
    assert_int_equal(kube_status_condition_set(obj, &c, t2), 0);
    assert_string_equal(ltt(obj, "Ready"), "2023-11-14T22:13:20Z");
    /* message changes, status does not: lastTransitionTime kept */
    c.message = "step 2";
    assert_int_equal(kube_status_condition_set(obj, &c, t2), 1);
    assert_string_equal(ltt(obj, "Ready"), "2023-11-14T22:13:20Z");
    assert_false(kube_status_condition_is_true(obj, "Ready"));
    /* status changes: lastTransitionTime moves */
    c.status = "True";
    c.reason = "Active";
    assert_int_equal(kube_status_condition_set(obj, &c, t3), 1);
    assert_string_equal(ltt(obj, "Ready"), "2023-11-14T22:15:20Z");
    assert_true(kube_status_condition_is_true(obj, "Ready"));
    /* a second type is appended, the first untouched */
    struct kube_condition r = {.type = "Reachable", .status = "True", .observed_generation = -1};
    assert_int_equal(kube_status_condition_set(obj, &r, t3), 1);
    assert_int_equal(json_array_size(json_object_get(json_object_get(obj, "status"), "conditions")), 2);
    e = kube_status_condition_get(obj, "Reachable");
    assert_string_equal(json_string_value(json_object_get(e, "reason")), "Unknown");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "");
    assert_null(json_object_get(e, "observedGeneration"));
    assert_null(kube_status_condition_get(obj, "Nope"));
    json_decref(obj);
}

static void test_invalid(void **state) {
    (void)state;
    json_t *obj = json_pack("{s:s}", "status", "weird");
    struct kube_condition c = {.type = "Ready", .status = "True"};
    assert_int_equal(kube_status_condition_set(obj, &c, 0), -EINVAL);
    json_decref(obj);
    obj = json_pack("{s:{s:i}}", "status", "conditions", 1);
    assert_int_equal(kube_status_condition_set(obj, &c, 0), -EINVAL);
    json_decref(obj);
    obj = json_object();
    struct kube_condition no_type = {.status = "True"};
    assert_int_equal(kube_status_condition_set(obj, &no_type, 0), -EINVAL);
    /* status: null and conditions: null are treated as absent */
    json_object_set_new(obj, "status", json_pack("{s:n}", "conditions"));
    assert_int_equal(kube_status_condition_set(obj, &c, 0), 1);
    json_decref(obj);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_new_and_unchanged),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
