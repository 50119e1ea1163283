/* Unit tests of Operation spec parsing (op_spec.h): defaults, every rejection the schema may
 * not have made (with its condition reason), and label selectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "op_spec.h"

static json_t *op_of(const char *spec_json) {
    json_error_t e;
    json_t *spec = json_loads(spec_json, 0, &e);
    assert_non_null(spec);
    return json_pack("{s:s,s:s,s:{s:s},s:o}", "apiVersion", "commissaire.io/v1alpha1", "kind",
                     "Operation", "metadata", "name", "op", "spec", spec);
}

/* Parses spec_json; returns the reason ("" when valid). */
static const char *reason_of(const char *spec_json, struct op_spec *ret) {
    static struct op_spec_error err;
    memset(&err, 0, sizeof err);
    json_t *op = op_of(spec_json);
    struct op_spec s;
    int r = op_spec_parse(op, &s, &err);
    if (r == 0 && ret)
        *ret = s;
    /* ret's strings point into op: tests that keep them use valid() below instead. */
    json_decref(op);
    if (r == 0)
        return "";
    assert_int_equal(r, -EINVAL);
    assert_non_null(err.reason);
    assert_true(strlen(err.message) > 0);
    return err.reason;
}

static void test_defaults(void **state) {
    (void)state;
    json_t *op = op_of("{\"cluster\":\"c1\",\"type\":\"restart\"}");
    struct op_spec s;
    struct op_spec_error err;
    assert_int_equal(op_spec_parse(op, &s, &err), 0);
    assert_string_equal(s.cluster, "c1");
    assert_int_equal(s.type, OP_TYPE_RESTART);
    assert_null(s.version);
    assert_int_equal(s.max_unavailable, 1);
    assert_false(s.max_unavailable_percent);
    assert_null(s.host_selector);
    assert_int_equal(s.drain, -1);
    assert_int_equal(s.drain_timeout_ms, 5 * 60 * 1000);
    assert_int_equal(s.host_timeout_ms, 15 * 60 * 1000);
    assert_int_equal(s.failure_policy, OP_POLICY_ABORT);
    assert_int_equal(s.max_failures, 0);
    assert_false(s.paused);
    assert_false(s.cancel);
    json_decref(op);
}

static void test_full(void **state) {
    (void)state;
    json_t *op = op_of("{\"cluster\":\"c1\",\"type\":\"deploy\",\"version\":\"29.20200101.0\","
                       "\"maxUnavailable\":\"25%\",\"drain\":false,\"drainTimeout\":\"90s\","
                       "\"hostTimeout\":\"1h30m\",\"failurePolicy\":\"Continue\","
                       "\"maxFailures\":3,\"paused\":true,\"cancel\":false,"
                       "\"hostSelector\":{\"matchLabels\":{\"rack\":\"a\"}}}");
    struct op_spec s;
    assert_int_equal(op_spec_parse(op, &s, NULL), 0);
    assert_int_equal(s.type, OP_TYPE_DEPLOY);
    assert_string_equal(s.version, "29.20200101.0");
    assert_true(s.max_unavailable_percent);
    assert_int_equal(s.max_unavailable, 25);
    assert_int_equal(s.drain, 0);
    assert_int_equal(s.drain_timeout_ms, 90000);
    assert_int_equal(s.host_timeout_ms, 5400000);
    assert_int_equal(s.failure_policy, OP_POLICY_CONTINUE);
    assert_int_equal(s.max_failures, 3);
    assert_true(s.paused);
    assert_non_null(s.host_selector);
    json_decref(op);
}

static void test_rejections(void **state) {
    (void)state;
    assert_string_equal(reason_of("{\"type\":\"restart\"}", NULL), "MissingCluster");
    assert_string_equal(reason_of("{\"cluster\":\"\",\"type\":\"restart\"}", NULL),
                        "MissingCluster");
    assert_string_equal(reason_of("{\"cluster\":\"c\",\"type\":\"reboot\"}", NULL),
                        "InvalidType");
    assert_string_equal(reason_of("{\"cluster\":\"c\"}", NULL), "InvalidType");
    assert_string_equal(reason_of("{\"cluster\":\"c\",\"type\":\"deploy\"}", NULL),
                        "MissingVersion");
    assert_string_equal(reason_of("{\"cluster\":\"c\",\"type\":\"deploy\",\"version\":\"\"}", NULL),
                        "MissingVersion");
    /* Nothing a shell could read as syntax or an option reaches a command line. */
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"deploy\",\"version\":\"1; reboot\"}", NULL),
        "InvalidVersion");
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"deploy\",\"version\":\"--force\"}", NULL),
        "InvalidVersion");
    assert_string_equal(reason_of("{\"cluster\":\"c\",\"type\":\"deploy\",\"version\":7}", NULL),
                        "InvalidVersion");
    /* A restart ignores version (it is never used). */
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"version\":\"x y\"}", NULL), "");
    const char *bad_mu[] = {"0", "-1", "\"0%\"", "\"150%\"", "\"101%\"", "\"5\"", "\"%\"",
                            "\"05%\"", "\"1.5%\"", "true", "\" 5%\""};
    for (size_t i = 0; i < sizeof bad_mu / sizeof bad_mu[0]; i++) {
        char buf[200];
        snprintf(buf, sizeof buf, "{\"cluster\":\"c\",\"type\":\"restart\",\"maxUnavailable\":%s}",
                 bad_mu[i]);
        assert_string_equal(reason_of(buf, NULL), "InvalidMaxUnavailable");
    }
    struct op_spec s;
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"maxUnavailable\":\"100%\"}", &s), "");
    assert_int_equal(s.max_unavailable, 100);
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"maxUnavailable\":\"1%\"}", &s), "");
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"maxUnavailable\":7}", &s), "");
    assert_int_equal(s.max_unavailable, 7);
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"drainTimeout\":\"0s\"}", NULL),
        "InvalidDuration");
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"hostTimeout\":\"soon\"}", NULL),
        "InvalidDuration");
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"failurePolicy\":\"Retry\"}", NULL),
        "InvalidFailurePolicy");
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"maxFailures\":-1}", NULL),
        "InvalidMaxFailures");
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"hostSelector\":{\"matchExpressions\":"
                  "[{\"key\":\"a\",\"operator\":\"In\"}]}}",
                  NULL),
        "InvalidHostSelector");
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"hostSelector\":{\"matchExpressions\":"
                  "[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}}",
                  NULL),
        "InvalidHostSelector");
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"hostSelector\":{\"matchExpressions\":"
                  "[{\"key\":\"a\",\"operator\":\"Near\",\"values\":[\"x\"]}]}}",
                  NULL),
        "InvalidHostSelector");
    assert_string_equal(
        reason_of("{\"cluster\":\"c\",\"type\":\"restart\",\"hostSelector\":{\"matchLabels\":"
                  "{\"a\":1}}}",
                  NULL),
        "InvalidHostSelector");
}

static bool matches(const char *sel_json, const char *labels_json) {
    json_t *sel = json_loads(sel_json, 0, NULL);
    json_t *labels = labels_json ? json_loads(labels_json, 0, NULL) : NULL;
    char msg[200];
    assert_int_equal(op_selector_validate(sel, msg, sizeof msg), 0);
    bool m = op_selector_matches(sel, labels);
    json_decref(sel);
    json_decref(labels);
    return m;
}

static void test_selector(void **state) {
    (void)state;
    assert_true(op_selector_matches(NULL, NULL));
    assert_true(matches("{}", "{\"a\":\"1\"}"));
    assert_true(matches("{\"matchLabels\":{\"a\":\"1\"}}", "{\"a\":\"1\",\"b\":\"2\"}"));
    assert_false(matches("{\"matchLabels\":{\"a\":\"1\"}}", "{\"a\":\"2\"}"));
    assert_false(matches("{\"matchLabels\":{\"a\":\"1\"}}", NULL));
    const char *in = "{\"matchExpressions\":[{\"key\":\"rack\",\"operator\":\"In\","
                     "\"values\":[\"a\",\"b\"]}]}";
    assert_true(matches(in, "{\"rack\":\"b\"}"));
    assert_false(matches(in, "{\"rack\":\"c\"}"));
    assert_false(matches(in, "{}"));
    const char *notin = "{\"matchExpressions\":[{\"key\":\"rack\",\"operator\":\"NotIn\","
                        "\"values\":[\"a\"]}]}";
    assert_true(matches(notin, "{\"rack\":\"b\"}"));
    assert_true(matches(notin, "{}")); /* as Kubernetes: a missing label is NotIn */
    assert_false(matches(notin, "{\"rack\":\"a\"}"));
    const char *ex = "{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Exists\"}]}";
    assert_true(matches(ex, "{\"gpu\":\"\"}"));
    assert_false(matches(ex, "{}"));
    const char *dne = "{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"DoesNotExist\"}]}";
    assert_true(matches(dne, "{}"));
    assert_false(matches(dne, "{\"gpu\":\"x\"}"));
    /* matchLabels AND matchExpressions. */
    const char *both = "{\"matchLabels\":{\"a\":\"1\"},\"matchExpressions\":[{\"key\":\"gpu\","
                       "\"operator\":\"Exists\"}]}";
    assert_true(matches(both, "{\"a\":\"1\",\"gpu\":\"y\"}"));
    assert_false(matches(both, "{\"a\":\"1\"}"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_selector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
