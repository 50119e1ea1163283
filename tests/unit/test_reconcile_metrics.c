#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_buf.h"
#include "rc_metrics.h"

static char *render(struct rc_metrics *m) {
    struct cm_buf b;
    cm_buf_init(&b, 0);
    assert_int_equal(rc_metrics_render(m, &b), 0);
    return cm_buf_steal(&b);
}

static void test_counter_and_gauge(void **state) {
    struct rc_metrics *m = rc_metrics_new();
    struct rc_metric *c = rc_metrics_counter(m, "x_total", "Things done.", "kind");
    struct rc_metric *g = rc_metrics_gauge(m, "y", "A level.", NULL);
    assert_ptr_equal(rc_metrics_counter(m, "x_total", "again", "kind"), c);
    assert_null(rc_metrics_gauge(m, "x_total", "type clash", NULL));
    rc_metric_inc(c, "Host", NULL);
    rc_metric_add(c, "Host", NULL, 2);
    rc_metric_inc(c, "Clu\"ster", NULL);
    rc_metric_set(g, NULL, NULL, 1.5);
    assert_true(rc_metric_value(c, "Host", NULL) == 3);
    char *t = render(m);
    assert_non_null(strstr(t, "# HELP x_total Things done.\n# TYPE x_total counter\n"));
    assert_non_null(strstr(t, "x_total{kind=\"Host\"} 3\n"));
    assert_non_null(strstr(t, "x_total{kind=\"Clu\\\"ster\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE y gauge\ny 1.5\n"));
    free(t);
    rc_metrics_free(m);
}

static void test_histogram_cumulative(void **state) {
    struct rc_metrics *m = rc_metrics_new();
    const double b[] = {0.1, 1};
    struct rc_metric *h = rc_metrics_histogram(m, "lat_seconds", "Latency.", "kind,code", b, 2);
    rc_metric_observe(h, "a", "200", 0.05);
    rc_metric_observe(h, "a", "200", 0.5);
    rc_metric_observe(h, "a", "200", 5);
    char *t = render(m);
    assert_non_null(strstr(t, "lat_seconds_bucket{kind=\"a\",code=\"200\",le=\"0.1\"} 1\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{kind=\"a\",code=\"200\",le=\"1\"} 2\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{kind=\"a\",code=\"200\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "lat_seconds_sum{kind=\"a\",code=\"200\"} 5.55\n"));
    assert_non_null(strstr(t, "lat_seconds_count{kind=\"a\",code=\"200\"} 3\n"));
    free(t);
    /* unsorted bounds are refused */
    const double bad[] = {1, 0.5};
    assert_null(rc_metrics_histogram(m, "bad", "x", NULL, bad, 2));
    rc_metrics_free(m);
}

static int collected;
static void collect(struct rc_metrics *m, void *userdata) {
    collected++;
    rc_metric_zero(userdata);
    rc_metric_set(userdata, "active", NULL, collected);
}

static void test_collector_runs_before_render(void **state) {
    struct rc_metrics *m = rc_metrics_new();
    struct rc_metric *g = rc_metrics_gauge(m, "hosts", "Hosts by phase.", "phase");
    rc_metric_set(g, "failed", NULL, 9);
    assert_int_equal(rc_metrics_collector_add(m, collect, g), 0);
    char *t = render(m);
    assert_int_equal(collected, 1);
    assert_non_null(strstr(t, "hosts{phase=\"active\"} 1\n"));
    assert_non_null(strstr(t, "hosts{phase=\"failed\"} 0\n"));
    free(t);
    rc_metrics_free(m);
}

static void test_cap_is_an_error(void **state) {
    struct rc_metrics *m = rc_metrics_new();
    struct rc_metric *c = rc_metrics_counter(m, "a_total", "A.", NULL);
    rc_metric_inc(c, NULL, NULL);
    struct cm_buf b;
    cm_buf_init(&b, 16);
    assert_int_equal(rc_metrics_render(m, &b), -E2BIG);
    assert_int_equal(b.len, 0);
    cm_buf_done(&b);
    rc_metric_inc(NULL, NULL, NULL); /* ignored, no crash */
    rc_metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_histogram_cumulative),
        cmocka_unit_test(test_collector_runs_before_render),
        cmocka_unit_test(test_cap_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
