/* The Host state machine's decisions and the Cluster status computation (pure parts). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cluster_state.h"
#include "cm_time.h"
#include "host_state.h"

#define NOW 1800000000000LL /* a fixed wall clock */
static const struct host_timing T = {.check_interval_ms = 60000, .retry_interval_ms = 20000};

/* A Host with the given phase, lastCheck (ms before NOW; < 0: none) and generations. */
static json_t *host(const char *phase, int64_t checked_ago, int gen, int observed) {
    json_t *h = json_pack("{s:{s:s,s:i},s:{s:s}}", "metadata", "name", "h1", "generation", gen,
                          "spec", "address", "10.0.0.1");
    json_t *st = json_pack("{s:s,s:i}", "phase", phase, "observedGeneration", observed);
    if (checked_ago >= 0) {
        char ts[40];
        cm_time_format_rfc3339(NOW - checked_ago, 1, ts, sizeof ts);
        json_object_set_new(st, "lastCheck", json_string(ts));
    }
    json_object_set_new(h, "status", st);
    return h;
}

static enum host_action next(json_t *h, bool managed, int64_t *delay) {
    enum host_action a = host_action_next(h, managed, &T, NOW, delay);
    json_decref(h);
    return a;
}

static void test_phase_names_roundtrip(void **state) {
    for (int p = 0; p < HOST_PHASE__MAX; p++)
        assert_int_equal(host_phase_from_string(host_phase_name(p)), p);
    assert_int_equal(host_phase_from_string("Active"), HOST_PHASE_NONE);
    assert_int_equal(host_phase_from_string(NULL), HOST_PHASE_NONE);
    assert_string_equal(host_phase_name(HOST_PHASE_DISASSOCIATED), "disassociated");
}

static void test_new_host_is_investigated(void **state) {
    json_t *h = json_pack("{s:{s:s,s:i}}", "metadata", "name", "h", "generation", 1);
    assert_int_equal(host_action_next(h, false, &T, NOW, NULL), HOST_ACTION_INVESTIGATE);
    json_decref(h);
    assert_int_equal(next(host("investigating", 1000, 1, 1), false, NULL),
                     HOST_ACTION_INVESTIGATE);
}

static void test_deletion_wins(void **state) {
    json_t *h = host("active", 1000, 1, 1);
    json_object_set_new(json_object_get(h, "metadata"), "deletionTimestamp",
                        json_string("2027-01-01T00:00:00Z"));
    assert_int_equal(next(h, true, NULL), HOST_ACTION_DECOMMISSION);
}

static void test_spec_change_restarts_investigation(void **state) {
    assert_int_equal(next(host("active", 1000, 2, 1), true, NULL), HOST_ACTION_INVESTIGATE);
    assert_int_equal(next(host("failed", 1000, 3, 2), true, NULL), HOST_ACTION_INVESTIGATE);
}

static void test_bootstrapping_continues(void **state) {
    assert_int_equal(next(host("bootstrapping", 1000, 1, 1), false, NULL), HOST_ACTION_BOOTSTRAP);
}

static void test_periodic_check_schedule(void **state) {
    int64_t d = -1;
    /* checked 10 s ago: wait until 85 % of the interval (51 s) has passed */
    assert_int_equal(next(host("active", 10000, 1, 1), true, &d), HOST_ACTION_WAIT);
    assert_int_equal(d, 41000);
    /* a jittered early re-visit (52 s after the check) performs the check */
    assert_int_equal(next(host("active", 52000, 1, 1), true, NULL), HOST_ACTION_CHECK);
    assert_int_equal(next(host("disassociated", 70000, 1, 1), false, NULL), HOST_ACTION_CHECK);
    /* a host never checked is due at once */
    assert_int_equal(next(host("active", -1, 1, 1), true, NULL), HOST_ACTION_CHECK);
}

static void test_registration_follows_cluster(void **state) {
    /* a container manager appeared: register now, not at the next check */
    assert_int_equal(next(host("disassociated", 1000, 1, 1), true, NULL), HOST_ACTION_REGISTER);
    /* it disappeared: leave active */
    assert_int_equal(next(host("active", 1000, 1, 1), false, NULL), HOST_ACTION_REGISTER);
    int64_t d = 0;
    assert_int_equal(next(host("disassociated", 1000, 1, 1), false, &d), HOST_ACTION_WAIT);
    assert_true(d > 0);
}

static void test_failed_host_retried(void **state) {
    int64_t d = -1;
    assert_int_equal(next(host("failed", 5000, 1, 1), true, &d), HOST_ACTION_WAIT);
    assert_int_equal(d, 20000 - 3000 - 5000);
    assert_int_equal(next(host("failed", 18000, 1, 1), true, NULL), HOST_ACTION_INVESTIGATE);
}

static void test_check_delay_jitter(void **state) {
    assert_int_equal(host_check_delay_ms(60000, 0.5), 60000);
    assert_int_equal(host_check_delay_ms(60000, 0.0), 54000);
    int64_t hi = host_check_delay_ms(60000, 0.9999999);
    assert_true(hi > 65990 && hi <= 66000);
    assert_true(host_check_delay_ms(60000, 5) <= 66000);
}

static void test_availability(void **state) {
    json_t *a = host("active", 0, 1, 1), *d = host("disassociated", 0, 1, 1),
           *f = host("failed", 0, 1, 1), *b = host("bootstrapping", 0, 1, 1);
    assert_true(host_is_available(a, true));
    assert_true(host_is_available(a, false));
    assert_false(host_is_available(d, true));
    assert_true(host_is_available(d, false)); /* decisions #30 */
    assert_false(host_is_available(f, false));
    assert_false(host_is_available(b, false));
    json_decref(a);
    json_decref(d);
    json_decref(f);
    json_decref(b);
}

static void test_cluster_status(void **state) {
    json_t *hs[3] = {host("active", 0, 1, 1), host("disassociated", 0, 1, 1),
                     host("failed", 0, 1, 1)};
    struct cluster_counts c;
    assert_int_equal(cluster_state_compute(hs, 0, true, &c), CLUSTER_OK); /* empty is ok */
    assert_int_equal(c.total, 0);
    assert_int_equal(cluster_state_compute(hs, 1, true, &c), CLUSTER_OK);
    assert_int_equal(cluster_state_compute(hs, 2, true, &c), CLUSTER_DEGRADED);
    assert_int_equal(c.available, 1);
    assert_int_equal(c.unavailable, 1);
    assert_int_equal(cluster_state_compute(hs, 2, false, &c), CLUSTER_OK);
    assert_int_equal(cluster_state_compute(hs, 3, false, &c), CLUSTER_DEGRADED);
    assert_int_equal(c.total, 3);
    assert_int_equal(cluster_state_compute(hs + 1, 2, true, &c), CLUSTER_FAILED);
    assert_int_equal(c.unavailable, 2);
    assert_string_equal(cluster_health_name(CLUSTER_DEGRADED), "degraded");
    for (int i = 0; i < 3; i++)
        json_decref(hs[i]);
}

static void test_cm_managed(void **state) {
    json_t *k = json_pack("{s:{s:s}}", "spec", "type", "kubernetes");
    json_t *o = json_pack("{s:{s:s}}", "spec", "type", "openshift");
    json_t *t = json_pack("{s:{s:s}}", "spec", "type", "trivial");
    assert_true(cluster_cm_is_managed(k));
    assert_true(cluster_cm_is_managed(o));
    assert_false(cluster_cm_is_managed(t));
    assert_false(cluster_cm_is_managed(NULL));
    json_decref(k);
    json_decref(o);
    json_decref(t);
}

static void test_node_name(void **state) {
    char *n = host_node_name("Node-1.Example.COM");
    assert_string_equal(n, "node-1.example.com");
    free(n);
    n = host_node_name("127.0.10.5");
    assert_string_equal(n, "127.0.10.5");
    free(n);
    assert_null(host_node_name("fe80::1"));
    assert_null(host_node_name("-bad.example"));
    assert_null(host_node_name("bad-.example"));
    assert_null(host_node_name("a..b"));
    assert_null(host_node_name(""));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase_names_roundtrip),
        cmocka_unit_test(test_new_host_is_investigated),
        cmocka_unit_test(test_deletion_wins),
        cmocka_unit_test(test_spec_change_restarts_investigation),
        cmocka_unit_test(test_bootstrapping_continues),
        cmocka_unit_test(test_periodic_check_schedule),
        cmocka_unit_test(test_registration_follows_cluster),
        cmocka_unit_test(test_failed_host_retried),
        cmocka_unit_test(test_check_delay_jitter),
        cmocka_unit_test(test_availability),
        cmocka_unit_test(test_cluster_status),
        cmocka_unit_test(test_cm_managed),
        cmocka_unit_test(test_node_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
