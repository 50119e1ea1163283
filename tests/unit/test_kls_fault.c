/* kl_fault: matching by path prefix and method, counts, percentages, removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kl_fault.h"

#include <errno.h>

static void test_rules(void **state) {
    (void)state;
    struct kl_fault *f = NULL;
    struct kl_fault_hit hit;
    assert_int_equal(kl_fault_new(&f), 0);
    assert_int_equal(kl_fault_check(f, "GET", "/api/v1/pods", &hit), 0);
    assert_int_equal(kl_fault_add(f, "", NULL, 503, 100, 0, 1, 0), -EINVAL);
    assert_int_equal(kl_fault_add(f, "/x", NULL, 404, 100, 0, 1, 0), -EINVAL);
    assert_int_equal(kl_fault_add(f, "/x", NULL, 503, 0, 0, 1, 0), -EINVAL);
    int id = kl_fault_add(f, "/apis/commissaire.io", "PUT", 503, 100, 0, 7, 2);
    assert_true(id > 0);
    assert_int_equal(kl_fault_check(f, "GET", "/apis/commissaire.io/v1alpha1/hosts", &hit), 0);
    assert_int_equal(kl_fault_check(f, "put", "/apis/commissaire.io/v1alpha1/hosts", &hit), 1);
    assert_int_equal(hit.status, 503);
    assert_int_equal(hit.retry_after, 7);
    assert_int_equal(kl_fault_check(f, "PUT", "/apis/commissaire.io/x", &hit), 1);
    assert_int_equal(kl_fault_check(f, "PUT", "/apis/commissaire.io/x", &hit), 0); /* count 2 */
    json_t *list = kl_fault_list(f);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "matched")), 2);
    json_decref(list);
    int id2 = kl_fault_add(f, "/api", NULL, 0, 100, 250, 1, 0);
    assert_int_equal(kl_fault_check(f, "GET", "/api/v1", &hit), 1);
    assert_int_equal(hit.status, 0);
    assert_int_equal(hit.delay_ms, 250);
    assert_int_equal(kl_fault_remove(f, id2), 0);
    assert_int_equal(kl_fault_remove(f, id2), -ENOENT);
    assert_int_equal(kl_fault_check(f, "GET", "/api/v1", &hit), 0);
    /* about half of the requests for a 50% rule */
    kl_fault_add(f, "/half", NULL, 500, 50, 0, 1, 0);
    int n = 0;
    for (int i = 0; i < 1000; i++)
        n += kl_fault_check(f, "GET", "/half", &hit);
    assert_true(n > 400 && n < 600);
    assert_int_equal(kl_fault_remove(f, 0), 0);
    assert_int_equal(kl_fault_check(f, "GET", "/half", &hit), 0);
    kl_fault_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
