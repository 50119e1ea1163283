/* URL building and escaping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cm_buf.h"
#include "kube_client.h"
#include "kube_url.h"

static const struct kube_resource HOSTS = {"commissaire.io", "v1alpha1", "hosts", 1};
static const struct kube_resource NODES = {NULL, "v1", "nodes", 0};

static void expect_path(const struct kube_resource *res, const char *ns, const char *name,
                        const char *sub, const char *want) {
    struct cm_buf b;
    cm_buf_init(&b, 0);
    assert_int_equal(kube_url_path(&b, res, ns, name, sub), 0);
    assert_string_equal(b.data, want);
    cm_buf_done(&b);
}

static void test_core_paths(void **state) {
    (void)state;
    expect_path(&KUBE_RES_CONFIGMAPS, "default", NULL, NULL, "/api/v1/namespaces/default/configmaps");
    expect_path(&KUBE_RES_CONFIGMAPS, NULL, NULL, NULL, "/api/v1/configmaps");
    expect_path(&KUBE_RES_CONFIGMAPS, "", NULL, NULL, "/api/v1/configmaps");
    expect_path(&KUBE_RES_CONFIGMAPS, "ns1", "cm1", NULL, "/api/v1/namespaces/ns1/configmaps/cm1");
    expect_path(&KUBE_RES_PODS, "ns1", "p", "eviction", "/api/v1/namespaces/ns1/pods/p/eviction");
}

static void test_group_and_cluster_paths(void **state) {
    (void)state;
    expect_path(&HOSTS, "commissaire", "h1", "status",
                "/apis/commissaire.io/v1alpha1/namespaces/commissaire/hosts/h1/status");
    expect_path(&KUBE_RES_LEASES, "kube-system", "lead",
                NULL, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/lead");
    /* A namespace given for a cluster-scoped resource is ignored. */
    expect_path(&NODES, "ignored", "node-1", "status", "/api/v1/nodes/node-1/status");
    expect_path(&NODES, NULL, NULL, NULL, "/api/v1/nodes");
}

static void test_escaping(void **state) {
    (void)state;
    /* A name must never be able to change the path's structure. */
    expect_path(&KUBE_RES_CONFIGMAPS, "a b", "x/../y?z#w%", NULL,
                "/api/v1/namespaces/a%20b/configmaps/x%2F..%2Fy%3Fz%23w%25");
    expect_path(&KUBE_RES_CONFIGMAPS, "ns", "caf\xc3\xa9", NULL,
                "/api/v1/namespaces/ns/configmaps/caf%C3%A9");
    struct cm_buf b;
    cm_buf_init(&b, 0);
    assert_int_equal(kube_url_escape_query(&b, "a=b,c!=d&e+f g"), 0);
    assert_string_equal(b.data, "a%3Db%2Cc%21%3Dd%26e%2Bf%20g");
    cm_buf_done(&b);
}

static void test_invalid(void **state) {
    (void)state;
    struct cm_buf b;
    cm_buf_init(&b, 0);
    assert_int_equal(kube_url_path(&b, &KUBE_RES_CONFIGMAPS, NULL, "x", NULL), -EINVAL);
    assert_int_equal(kube_url_path(&b, &KUBE_RES_CONFIGMAPS, "ns", "", NULL), -EINVAL);
    assert_int_equal(kube_url_path(&b, &KUBE_RES_CONFIGMAPS, "ns", NULL, "status"), -EINVAL);
    assert_int_equal(kube_url_path(&b, &KUBE_RES_CONFIGMAPS, "ns", "..", NULL), -EINVAL);
    assert_int_equal(kube_url_path(&b, &KUBE_RES_CONFIGMAPS, "..", NULL, NULL), -EINVAL);
    struct kube_resource bad = {"", "", "x", 0};
    assert_int_equal(kube_url_path(&b, &bad, NULL, NULL, NULL), -EINVAL);
    cm_buf_done(&b);
}

static void test_list_query(void **state) {
    (void)state;
    struct cm_buf b;
    cm_buf_init(&b, 0);
    struct kube_list_options o = {.label_selector = "app=web,tier in (a,b)",
                                  .field_selector = "metadata.name=x",
                                  .limit = 500,
                                  .continue_token = "eyJ2Ijoi+/=",
                                  .resource_version = "123",
                                  .timeout_seconds = 30};
    assert_int_equal(kube_url_path(&b, &KUBE_RES_CONFIGMAPS, "ns", NULL, NULL), 0);
    assert_int_equal(kube_url_list_query(&b, &o, 1, 1), 0);
    assert_string_equal(b.data, "/api/v1/namespaces/ns/configmaps?watch=true"
                                "&allowWatchBookmarks=true"
                                "&labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29"
                                "&fieldSelector=metadata.name%3Dx&limit=500"
                                "&continue=eyJ2Ijoi%2B%2F%3D&resourceVersion=123"
                                "&timeoutSeconds=30");
    cm_buf_reset(&b);
    assert_int_equal(kube_url_list_query(&b, NULL, 0, 1), 0);
    assert_int_equal(b.len, 0);
    struct kube_list_options only = {.limit = 2};
    assert_int_equal(kube_url_list_query(&b, &only, 0, 0), 0);
    assert_string_equal(b.data, "?limit=2");
    cm_buf_done(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_paths),
        cmocka_unit_test(test_group_and_cluster_paths),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_list_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
