/* metav1.Status parsing and errno mapping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kube_error.h"

static void test_status_with_causes(void **state) {
    (void)state;
    const char *body =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
        "\"message\":\"Host.commissaire.io \\\"h1\\\" is invalid\",\"reason\":\"Invalid\","
        "\"details\":{\"name\":\"h1\",\"causes\":[{\"reason\":\"FieldValueRequired\","
        "\"message\":\"Required value\",\"field\":\"spec.address\"},"
        "{\"reason\":\"FieldValueInvalid\",\"message\":\"bad\",\"field\":\"spec.port\"}]},"
        "\"code\":422}";
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_error_from_response(&e, 422, body, strlen(body)), -EINVAL);
    assert_int_equal(e.http_code, 422);
    assert_string_equal(e.reason, "Invalid");
    assert_string_equal(e.message, "Host.commissaire.io \"h1\" is invalid");
    assert_int_equal(e.n_causes, 2);
    assert_string_equal(e.causes[0].field, "spec.address");
    assert_string_equal(e.causes[0].reason, "FieldValueRequired");
    assert_string_equal(e.causes[1].message, "bad");
    assert_true(kube_error_is_invalid(&e));
    assert_false(kube_error_is_conflict(&e));
    kube_error_done(&e);
    assert_null(e.message);
    assert_int_equal(e.n_causes, 0);
}

static void test_conflict_vs_already_exists(void **state) {
    (void)state;
    const char *c = "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"stale\",\"code\":409}";
    const char *a = "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"message\":\"x\",\"code\":409}";
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_error_from_response(&e, 409, c, strlen(c)), -ESTALE);
    assert_true(kube_error_is_conflict(&e));
    assert_false(kube_error_is_already_exists(&e));
    assert_int_equal(kube_error_from_response(&e, 409, a, strlen(a)), -EEXIST);
    assert_true(kube_error_is_already_exists(&e));
    assert_false(kube_error_is_conflict(&e));
    kube_error_done(&e);
}

static void test_gone_and_retry_after(void **state) {
    (void)state;
    const char *g = "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old\",\"code\":410}";
    const char *t = "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"code\":429,"
                    "\"details\":{\"retryAfterSeconds\":3}}";
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_error_from_response(&e, 410, g, strlen(g)), -ERANGE);
    assert_true(kube_error_is_gone(&e));
    assert_int_equal(e.retry_after_ms, -1);
    assert_int_equal(kube_error_from_response(&e, 429, t, strlen(t)), -EBUSY);
    assert_int_equal(e.retry_after_ms, 3000);
    kube_error_done(&e);
}

static void test_non_status_body(void **state) {
    (void)state;
    const char *html = "<html>\n<body>\x1b[31mBad gateway</body></html>";
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_error_from_response(&e, 502, html, strlen(html)), -EIO);
    assert_string_equal(e.reason, "Unknown");
    /* control characters are stripped, newlines become spaces */
    assert_null(strchr(e.message, '\x1b'));
    assert_null(strchr(e.message, '\n'));
    assert_non_null(strstr(e.message, "Bad gateway"));
    assert_int_equal(kube_error_from_response(&e, 404, NULL, 0), -ENOENT);
    assert_string_equal(e.reason, "NotFound");
    assert_string_equal(e.message, "HTTP 404 NotFound");
    assert_true(kube_error_is_not_found(&e));
    /* a huge body is quoted, not kept whole */
    char big[1000];
    memset(big, 'x', sizeof(big));
    assert_int_equal(kube_error_from_response(&e, 500, big, sizeof(big)), -EIO);
    assert_true(strlen(e.message) <= 200);
    kube_error_done(&e);
}

static void test_errno_table(void **state) {
    (void)state;
    assert_int_equal(kube_error_errno(0, NULL), -EIO);
    assert_int_equal(kube_error_errno(200, NULL), 0);
    assert_int_equal(kube_error_errno(400, NULL), -EINVAL);
    assert_int_equal(kube_error_errno(401, NULL), -EACCES);
    assert_int_equal(kube_error_errno(403, NULL), -EPERM);
    assert_int_equal(kube_error_errno(404, NULL), -ENOENT);
    assert_int_equal(kube_error_errno(409, NULL), -ESTALE);
    assert_int_equal(kube_error_errno(409, "AlreadyExists"), -EEXIST);
    assert_int_equal(kube_error_errno(410, NULL), -ERANGE);
    assert_int_equal(kube_error_errno(429, NULL), -EBUSY);
    assert_int_equal(kube_error_errno(503, NULL), -EIO);
    assert_int_equal(kube_error_errno(504, NULL), -ETIMEDOUT);
    assert_int_equal(kube_error_errno(418, NULL), -EPROTO);
}

static void test_set_and_move(void **state) {
    (void)state;
    struct kube_error a, b;
    kube_error_init(&a);
    kube_error_init(&b);
    kube_error_set(&a, 0, NULL, "connect to %s failed", "x");
    assert_true(kube_error_is_transport(&a));
    kube_error_move(&b, &a);
    assert_null(a.message);
    assert_string_equal(b.message, "connect to x failed");
    kube_error_set(NULL, 0, NULL, "ignored");
    kube_error_done(&b);
    kube_error_done(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_with_causes),
        cmocka_unit_test(test_conflict_vs_already_exists),
        cmocka_unit_test(test_gone_and_retry_after),
        cmocka_unit_test(test_non_status_body),
        cmocka_unit_test(test_errno_table),
        cmocka_unit_test(test_set_and_move),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
