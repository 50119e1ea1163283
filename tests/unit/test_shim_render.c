/* The resource → REST record mapping (api-shim/README.md table) and the naming rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "shim_render.h"

static void expect_json(json_t *got, const char *want) {
    char *g = shim_json_text(got);

    if (strcmp(g, want) != 0)
        fail_msg("got  %s\nwant %s", g, want);
    free(g);
    json_decref(got);
}

static void test_names(void **state) {
    char out[264], out2[264];

    (void)state;
    assert_int_equal(shim_k8s_name("10.0.0.1", 253, out, sizeof out), 0);
    assert_string_equal(out, "10.0.0.1");
    assert_int_equal(shim_k8s_name("honeynut", 63, out, sizeof out), 0);
    assert_string_equal(out, "honeynut");
    assert_int_equal(shim_k8s_name("My_Cluster", 63, out, sizeof out), 0);
    assert_non_null(strstr(out, "my-cluster-x"));
    /* Distinct REST names never share an object; the mapping is stable. */
    assert_int_equal(shim_k8s_name("my-cluster", 63, out2, sizeof out2), 0);
    assert_string_not_equal(out, out2);
    assert_int_equal(shim_k8s_name("My_Cluster", 63, out2, sizeof out2), 0);
    assert_string_equal(out, out2);
    assert_int_equal(shim_k8s_name("a_", 63, out, sizeof out), 0);
    assert_int_equal(shim_k8s_name("a-", 63, out2, sizeof out2), 0);
    assert_string_not_equal(out, out2);
    assert_int_equal(shim_k8s_name("fe80::1", 253, out, sizeof out), 0);
    assert_null(strchr(out, ':'));
    assert_int_equal(shim_k8s_name("___", 63, out, sizeof out), 0);
    assert_true(out[0] == 'x');
    {
        char longn[200];

        memset(longn, 'a', sizeof longn - 1);
        longn[sizeof longn - 1] = 0;
        assert_int_equal(shim_k8s_name(longn, 63, out, sizeof out), 0);
        assert_true(strlen(out) <= 63);
    }
    assert_int_equal(shim_k8s_name("a..b", 63, out, sizeof out), 0);
    assert_string_not_equal(out, "a..b");
}

static void test_time(void **state) {
    char out[40];

    (void)state;
    assert_string_equal(shim_render_time("2017-06-26T15:48:18Z", out, sizeof out),
                        "2017-06-26T15:48:18.000000");
    assert_string_equal(shim_render_time("2017-06-26T15:48:18.710Z", out, sizeof out),
                        "2017-06-26T15:48:18.710000");
    assert_string_equal(shim_render_time("2017-06-26T17:48:18+02:00", out, sizeof out),
                        "2017-06-26T15:48:18.000000");
    assert_string_equal(shim_render_time("junk", out, sizeof out), "");
    assert_string_equal(shim_render_time(NULL, out, sizeof out), "");
}

static void test_host(void **state) {
    json_t *h = json_loads("{\"metadata\": {\"name\": \"h\"}, \"spec\": {\"address\": \"10.0.0.1\", "
                           "\"source\": \"ext\"}, \"status\": {\"phase\": \"active\", \"os\": "
                           "\"fedora\", \"cpus\": 4, \"memory\": 1024, \"space\": 2048, "
                           "\"lastCheck\": \"2026-01-01T00:00:00Z\"}}",
                           0, NULL);
    json_t *h0 = json_loads("{\"spec\": {\"address\": \"10.0.0.2\"}}", 0, NULL);

    (void)state;
    expect_json(shim_render_host(h),
                "{\"address\": \"10.0.0.1\", \"status\": \"active\", \"os\": \"fedora\", \"cpus\": 4, "
                "\"memory\": 1024, \"space\": 2048, \"last_check\": \"2026-01-01T00:00:00.000000\", "
                "\"source\": \"ext\"}");
    expect_json(shim_render_host(h0),
                "{\"address\": \"10.0.0.2\", \"status\": \"investigating\", \"os\": \"\", \"cpus\": 0, "
                "\"memory\": 0, \"space\": 0, \"last_check\": \"\", \"source\": \"\"}");
    assert_true(shim_host_available(h, true));
    json_decref(h);
    json_decref(h0);
}

static void test_cluster(void **state) {
    json_t *c = json_loads("{\"metadata\": {\"name\": \"my-c-x1\", \"annotations\": "
                           "{\"commissaire.io/rest-name\": \"My_C\", \"commissaire.io/rest-status\": "
                           "\"stored\"}}, \"spec\": {\"network\": \"n1\"}}",
                           0, NULL);
    json_t *m = json_loads("[{\"spec\": {\"address\": \"b\"}, \"status\": {\"phase\": \"active\"}},"
                           " {\"spec\": {\"address\": \"a\"}, \"status\": {\"phase\": \"disassociated\"}}]",
                           0, NULL);

    (void)state;
    assert_string_equal(shim_rest_name(c), "My_C");
    expect_json(shim_render_cluster(c, NULL, NULL, "", false, SHIM_CLUSTER_SAFE),
                "{\"name\": \"My_C\", \"status\": \"stored\", \"network\": \"n1\", \"container_manager\": \"\"}");
    expect_json(shim_render_cluster(c, m, "net_1", "cm", false, SHIM_CLUSTER_HOSTSET),
                "{\"name\": \"My_C\", \"status\": \"stored\", \"network\": \"net_1\", \"hostset\": [\"a\", "
                "\"b\"], \"container_manager\": \"cm\"}");
    /* Unmanaged: disassociated hosts count as available (decisions 30). */
    expect_json(shim_render_cluster(c, m, NULL, "", false, SHIM_CLUSTER_GET),
                "{\"name\": \"My_C\", \"status\": \"ok\", \"network\": \"n1\", \"hostset\": [\"a\", \"b\"], "
                "\"container_manager\": \"\", \"hosts\": {\"total\": 2, \"available\": 2, \"unavailable\": 0}}");
    /* Managed: only active ones. */
    expect_json(shim_render_cluster(c, m, NULL, "k", true, SHIM_CLUSTER_GET),
                "{\"name\": \"My_C\", \"status\": \"degraded\", \"network\": \"n1\", \"hostset\": [\"a\", "
                "\"b\"], \"container_manager\": \"k\", \"hosts\": {\"total\": 2, \"available\": 1, "
                "\"unavailable\": 1}}");
    json_decref(m);
    m = json_loads("[{\"spec\": {\"address\": \"a\"}}]", 0, NULL);
    expect_json(shim_render_cluster(c, m, NULL, "", false, SHIM_CLUSTER_GET),
                "{\"name\": \"My_C\", \"status\": \"failed\", \"network\": \"n1\", \"hostset\": [\"a\"], "
                "\"container_manager\": \"\", \"hosts\": {\"total\": 1, \"available\": 0, \"unavailable\": 1}}");
    json_decref(m);
    json_decref(c);
}

static void test_operation(void **state) {
    json_t *op = json_loads(
        "{\"metadata\": {\"name\": \"o\", \"creationTimestamp\": \"2026-01-01T00:00:00Z\"},"
        " \"spec\": {\"cluster\": \"c\", \"type\": \"deploy\", \"version\": \"7.2.6\"},"
        " \"status\": {\"phase\": \"InProcess\", \"startedAt\": \"2026-01-01T00:00:05Z\", \"hosts\": ["
        "  {\"name\": \"h1\", \"address\": \"10.0.0.1\", \"step\": \"Done\"},"
        "  {\"name\": \"h2\", \"address\": \"10.0.0.2\", \"step\": \"Draining\"},"
        "  {\"name\": \"h3\", \"step\": \"Failed\"},"
        "  {\"name\": \"h4\", \"address\": \"10.0.0.4\", \"step\": \"Skipped\"},"
        "  {\"name\": \"h5\", \"address\": \"10.0.0.5\", \"step\": \"Pending\"}]}}",
        0, NULL);
    json_t *fresh = json_loads("{\"metadata\": {\"name\": \"o\", \"creationTimestamp\": "
                               "\"2026-01-01T00:00:00Z\"}, \"spec\": {\"cluster\": \"c\", \"type\": "
                               "\"restart\"}}",
                               0, NULL);

    (void)state;
    expect_json(shim_render_operation(op, "C_1"),
                "{\"name\": \"C_1\", \"status\": \"in_process\", \"version\": \"7.2.6\", \"deployed\": "
                "[\"10.0.0.1\"], \"in_process\": [\"10.0.0.2\", \"h3\"], \"started_at\": "
                "\"2026-01-01T00:00:05.000000\", \"finished_at\": \"\"}");
    assert_true(shim_operation_active(op));
    expect_json(shim_render_operation(fresh, "c"),
                "{\"name\": \"c\", \"status\": \"in_process\", \"restarted\": [], \"in_process\": [], "
                "\"started_at\": \"2026-01-01T00:00:00.000000\", \"finished_at\": \"\"}");
    json_object_set_new(json_object_get(fresh, "spec"), "type", json_string("upgrade"));
    json_object_set_new(fresh, "status", json_pack("{s:s, s:s}", "phase", "Finished", "finishedAt",
                                                   "2026-01-01T01:00:00Z"));
    expect_json(shim_render_operation(fresh, "c"),
                "{\"name\": \"c\", \"status\": \"finished\", \"upgraded\": [], \"in_process\": [], "
                "\"started_at\": \"2026-01-01T00:00:00.000000\", \"finished_at\": "
                "\"2026-01-01T01:00:00.000000\"}");
    assert_false(shim_operation_active(fresh));
    json_object_set_new(json_object_get(fresh, "status"), "phase", json_string("Canceled"));
    assert_string_equal(shim_operation_status(fresh), "failed");
    json_object_set_new(json_object_get(fresh, "status"), "phase", json_string("Paused"));
    assert_true(shim_operation_active(fresh));
    json_decref(op);
    json_decref(fresh);
}

static void test_network_cm(void **state) {
    json_t *n = json_loads("{\"metadata\": {\"name\": \"n\"}, \"spec\": {\"type\": \"flannel_server\", "
                           "\"options\": {\"address\": \"1.2.3.4:8080\"}}}",
                           0, NULL);
    json_t *cm = json_loads("{\"metadata\": {\"name\": \"k\"}, \"spec\": {\"type\": \"kubernetes\", "
                            "\"serverURL\": \"https://k:6443\", \"insecureSkipTLSVerify\": true}}",
                            0, NULL);
    json_t *cm2 = json_loads("{\"metadata\": {\"name\": \"o\"}, \"spec\": {\"type\": \"openshift\", "
                             "\"serverURL\": \"https://o\", \"options\": {\"server_url\": "
                             "\"https://o\", \"certificate_path\": \"/c\"}}}",
                             0, NULL);

    (void)state;
    expect_json(shim_render_network(n), "{\"name\": \"n\", \"type\": \"flannel_server\", \"options\": "
                                        "{\"address\": \"1.2.3.4:8080\"}}");
    expect_json(shim_render_cm(cm, NULL), "{\"name\": \"k\", \"type\": \"kubernetes\", \"options\": "
                                          "{\"server_url\": \"https://k:6443\", "
                                          "\"insecure_skip_tls_verify\": true}}");
    expect_json(shim_render_cm(cm2, "tok"),
                "{\"name\": \"o\", \"type\": \"openshift\", \"options\": {\"server_url\": "
                "\"https://o\", \"certificate_path\": \"/c\", \"token\": \"tok\"}}");
    json_decref(n);
    json_decref(cm);
    json_decref(cm2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),     cmocka_unit_test(test_time),
        cmocka_unit_test(test_host),      cmocka_unit_test(test_cluster),
        cmocka_unit_test(test_operation), cmocka_unit_test(test_network_cm),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
