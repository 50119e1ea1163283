/* The route table against spec §2.4 and §4: every route, parameter classes, slash rules, and
 * what must not match. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "shim_router.h"

static enum shim_route m(enum shim_method meth, const char *path, char *p1, char *p2) {
    struct shim_route_match r;

    shim_router_match(meth, path, strlen(path), &r);
    if (p1) {
        p1[0] = 0;
        if (r.param)
            snprintf(p1, 64, "%.*s", (int)r.param_len, r.param);
    }
    if (p2) {
        p2[0] = 0;
        if (r.param2)
            snprintf(p2, 64, "%.*s", (int)r.param2_len, r.param2);
    }
    return r.route;
}

static void test_every_route(void **state) {
    char a[64], b[64];
    struct {
        enum shim_method meth;
        const char *path;
        enum shim_route want;
        const char *p1, *p2;
    } cases[] = {
        { SHIM_M_GET, "/api/v0/hosts", SHIM_R_HOSTS_LIST, "", "" },
        { SHIM_M_GET, "/api/v0/host/10.0.0.1", SHIM_R_HOST_GET, "10.0.0.1", "" },
        { SHIM_M_PUT, "/api/v0/host/10.0.0.1", SHIM_R_HOST_PUT, "10.0.0.1", "" },
        { SHIM_M_PUT, "/api/v0/host", SHIM_R_HOST_PUT_SELF, "", "" },
        { SHIM_M_GET, "/api/v0/host/h_1.x-y/creds", SHIM_R_HOST_CREDS, "h_1.x-y", "" },
        { SHIM_M_DELETE, "/api/v0/host/10.0.0.1", SHIM_R_HOST_DELETE, "10.0.0.1", "" },
        { SHIM_M_GET, "/api/v0/host/fe80::1/status", SHIM_R_HOST_STATUS, "fe80::1", "" },
        { SHIM_M_GET, "/api/v0/clusters", SHIM_R_CLUSTERS_LIST, "", "" },
        { SHIM_M_GET, "/api/v0/cluster/", SHIM_R_CLUSTERS_LIST, "", "" },
        { SHIM_M_GET, "/api/v0/cluster/c_1-x", SHIM_R_CLUSTER_GET, "c_1-x", "" },
        { SHIM_M_PUT, "/api/v0/cluster/c1", SHIM_R_CLUSTER_PUT, "c1", "" },
        { SHIM_M_DELETE, "/api/v0/cluster/c1", SHIM_R_CLUSTER_DELETE, "c1", "" },
        { SHIM_M_GET, "/api/v0/cluster/c1/hosts", SHIM_R_MEMBERS_GET, "c1", "" },
        { SHIM_M_PUT, "/api/v0/cluster/c1/hosts", SHIM_R_MEMBERS_PUT, "c1", "" },
        { SHIM_M_GET, "/api/v0/cluster/c1/hosts/10.0.0.1", SHIM_R_MEMBER_GET, "c1", "10.0.0.1" },
        { SHIM_M_PUT, "/api/v0/cluster/c1/hosts/10.0.0.1", SHIM_R_MEMBER_PUT, "c1", "10.0.0.1" },
        { SHIM_M_DELETE, "/api/v0/cluster/c1/hosts/10.0.0.1", SHIM_R_MEMBER_DELETE, "c1", "10.0.0.1" },
        { SHIM_M_GET, "/api/v0/networks", SHIM_R_NETWORKS_LIST, "", "" },
        { SHIM_M_GET, "/api/v0/network/n1", SHIM_R_NETWORK_GET, "n1", "" },
        { SHIM_M_PUT, "/api/v0/network/n1", SHIM_R_NETWORK_PUT, "n1", "" },
        { SHIM_M_DELETE, "/api/v0/network/n1", SHIM_R_NETWORK_DELETE, "n1", "" },
        { SHIM_M_GET, "/api/v0/cluster/c1/deploy", SHIM_R_DEPLOY_GET, "c1", "" },
        { SHIM_M_PUT, "/api/v0/cluster/c1/deploy", SHIM_R_DEPLOY_PUT, "c1", "" },
        { SHIM_M_GET, "/api/v0/cluster/c1/upgrade", SHIM_R_UPGRADE_GET, "c1", "" },
        { SHIM_M_PUT, "/api/v0/cluster/c1/upgrade", SHIM_R_UPGRADE_PUT, "c1", "" },
        { SHIM_M_GET, "/api/v0/cluster/c1/restart", SHIM_R_RESTART_GET, "c1", "" },
        { SHIM_M_PUT, "/api/v0/cluster/c1/restart", SHIM_R_RESTART_PUT, "c1", "" },
        { SHIM_M_GET, "/api/v0/containermanagers", SHIM_R_CMS_LIST, "", "" },
        { SHIM_M_GET, "/api/v0/containermanager/cm", SHIM_R_CM_GET, "cm", "" },
        { SHIM_M_PUT, "/api/v0/containermanager/cm", SHIM_R_CM_PUT, "cm", "" },
        { SHIM_M_DELETE, "/api/v0/containermanager/cm", SHIM_R_CM_DELETE, "cm", "" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum shim_route r = m(cases[i].meth, cases[i].path, a, b);

        if (r != cases[i].want)
            fail_msg("%s %s: route %s, want %s", shim_method_name(cases[i].meth), cases[i].path,
                     shim_route_name(r), shim_route_name(cases[i].want));
        assert_string_equal(a, cases[i].p1);
        assert_string_equal(b, cases[i].p2);
    }
}

static void test_trailing_slash(void **state) {
    (void)state;
    /* Optional slash on most routes... */
    assert_int_equal(m(SHIM_M_GET, "/api/v0/hosts/", NULL, NULL), SHIM_R_HOSTS_LIST);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/host/1.2.3.4/", NULL, NULL), SHIM_R_HOST_GET);
    assert_int_equal(m(SHIM_M_PUT, "/api/v0/host/", NULL, NULL), SHIM_R_HOST_PUT_SELF);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/host/x/status/", NULL, NULL), SHIM_R_HOST_STATUS);
    assert_int_equal(m(SHIM_M_PUT, "/api/v0/cluster/c/hosts/h/", NULL, NULL), SHIM_R_MEMBER_PUT);
    /* ...but not on creds and the operation routes (exact only). */
    assert_int_equal(m(SHIM_M_GET, "/api/v0/host/1.2.3.4/creds/", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/cluster/c/restart/", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_PUT, "/api/v0/cluster/c/deploy/", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/cluster/c/upgrade/", NULL, NULL), SHIM_R_NONE);
    /* Only one optional slash. */
    assert_int_equal(m(SHIM_M_GET, "/api/v0/hosts//", NULL, NULL), SHIM_R_NONE);
}

static void test_no_match(void **state) {
    (void)state;
    assert_int_equal(m(SHIM_M_GET, "/api/v0/cluster/my.cluster", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/network/a.b", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/host/fe80::1", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0//hosts", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/cluster", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/status", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/secrets", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/API/v0/hosts", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/host/", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/host//creds", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "/api/v0/hostsX", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_GET, "", NULL, NULL), SHIM_R_NONE);
    /* Methods: no POST/PATCH/HEAD route; a known path with another method is not a match. */
    assert_int_equal(m(SHIM_M_POST, "/api/v0/host/1.2.3.4", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_OTHER, "/api/v0/hosts", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_DELETE, "/api/v0/hosts", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_PUT, "/api/v0/clusters", NULL, NULL), SHIM_R_NONE);
    assert_int_equal(m(SHIM_M_DELETE, "/api/v0/cluster/c/restart", NULL, NULL), SHIM_R_NONE);
    {
        const char p[] = "/api/v0/host/a\0b";
        struct shim_route_match r;

        assert_int_equal(shim_router_match(SHIM_M_GET, p, sizeof p - 1, &r), -2 /* ENOENT */);
        assert_int_equal(r.route, SHIM_R_NONE);
    }
}

static void test_names(void **state) {
    (void)state;
    assert_int_equal(shim_method_parse("GET"), SHIM_M_GET);
    assert_int_equal(shim_method_parse("PUT"), SHIM_M_PUT);
    assert_int_equal(shim_method_parse("DELETE"), SHIM_M_DELETE);
    assert_int_equal(shim_method_parse("get"), SHIM_M_OTHER);
    assert_int_equal(shim_method_parse(NULL), SHIM_M_OTHER);
    assert_string_equal(shim_route_name(SHIM_R_HOST_GET), "host_get");
    assert_string_equal(shim_route_name((enum shim_route)999), "none");
    assert_true(shim_route_is_write(SHIM_R_MEMBERS_PUT));
    assert_true(shim_route_is_write(SHIM_R_CM_DELETE));
    assert_false(shim_route_is_write(SHIM_R_HOSTS_LIST));
    for (int r = 1; r < SHIM_R_COUNT_; r++)
        assert_string_not_equal(shim_route_name((enum shim_route)r), "none");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route),
        cmocka_unit_test(test_trailing_slash),
        cmocka_unit_test(test_no_match),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
