/* Unit tests of hostos template rendering, conditions and version validation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hostos.h"

static json_t *vars(void) {
    json_error_t je;
    json_t *v = json_loads("{\"network\": {\"name\": \"default\", \"type\": \"flannel_etcd\","
                           "  \"options\": {\"etcd_endpoints\": \"http://etcd:2379\", \"n\": 3,"
                           "               \"cfg\": {\"Network\": \"172.16.0.0/12\"}}},"
                           " \"cm\": {\"server_url\": \"https://k8s:6443\", \"insecure\": false,"
                           "          \"token\": \"t\\\"ok\\nen\", \"ratio\": 0.5, \"none\": null},"
                           " \"node\": {\"name\": \"n1\"}}",
                           0, &je);
    assert_non_null(v);
    return v;
}

static char *render_ok(const char *t, const json_t *v) {
    char *out = NULL;
    struct hostos_error err;
    int r = hostos_template_render(t, v, &out, &err);
    if (r < 0)
        fail_msg("render: %s", err.message);
    return out;
}

static void test_substitution(void **state) {
    json_t *v = vars();
    char *o = render_ok("FLANNEL_ETCD_ENDPOINTS=\"{{network.options.etcd_endpoints}}\"\n"
                        "server={{ cm.server_url }} node={{node.name}} n={{network.options.n}} "
                        "insecure={{cm.insecure}} r={{cm.ratio}}\n",
                        v);
    assert_string_equal(o, "FLANNEL_ETCD_ENDPOINTS=\"http://etcd:2379\"\n"
                           "server=https://k8s:6443 node=n1 n=3 insecure=false r=0.5\n");
    free(o);
    /* Text without tags is returned unchanged, braces that are not tags too. */
    o = render_ok("a { b } c }} d {", v);
    assert_string_equal(o, "a { b } c }} d {");
    free(o);
    o = render_ok("", v);
    assert_string_equal(o, "");
    free(o);
    /* {{{{ is a literal {{. */
    o = render_ok("x {{{{not a tag}} y", v);
    assert_string_equal(o, "x {{not a tag}} y");
    free(o);
    json_decref(v);
}

static void test_values_are_not_interpreted(void **state) {
    json_t *v = json_pack("{s:s}", "x", "$(reboot) `id` {{node.name}} ' \"");
    char *o = render_ok("v={{x}}", v);
    /* Inserted verbatim, and not rendered again. */
    assert_string_equal(o, "v=$(reboot) `id` {{node.name}} ' \"");
    free(o);
    json_decref(v);
}

static void test_filters(void **state) {
    json_t *v = vars();
    char *o = render_ok("{{cm.missing | default \"dflt\"}}|{{cm.none | default \"was null\"}}|"
                        "{{cm.server_url | default \"unused\"}}|{{cm.x | default \"\"}}|"
                        "{{cm.x | default \"q\\\"uote\"}}",
                        v);
    assert_string_equal(o, "dflt|was null|https://k8s:6443||q\"uote");
    free(o);
    o = render_ok("{{node.name | base64}} {{cm.absent | default \"\" | base64}} "
                  "{{cm.server_url|base64}}",
                  v);
    assert_string_equal(o, "bjE=  aHR0cHM6Ly9rOHM6NjQ0Mw==");
    free(o);
    o = render_ok("token: {{cm.token | json}}\ncfg: {{network.options.cfg | json}}", v);
    assert_string_equal(o, "token: \"t\\\"ok\\nen\"\ncfg: {\"Network\":\"172.16.0.0/12\"}");
    free(o);
    json_decref(v);
}

static void expect_err(const char *t, const json_t *v, const char *what) {
    char *out = (char *)0x1;
    struct hostos_error err;
    assert_int_equal(hostos_template_render(t, v, &out, &err), -EINVAL);
    assert_ptr_equal(out, (char *)0x1); /* ret untouched on failure */
    if (!strstr(err.message, what))
        fail_msg("'%s' does not mention '%s'", err.message, what);
}

static void test_errors(void **state) {
    json_t *v = vars();
    expect_err("a\nb {{network.options.etcd_prefix}}", v,
               "line 2: variable network.options.etcd_prefix is not set");
    expect_err("{{cm.none}}", v, "cm.none is not set");
    expect_err("{{network.options}}", v, "object or list (use | json)");
    expect_err("{{network.options | base64}}", v, "base64 needs text");
    expect_err("x {{node.name", v, "unterminated {{");
    expect_err("x {{node.name\n}}", v, "unterminated {{");
    expect_err("{{ }}", v, "expected a variable name");
    expect_err("{{node.name | upper}}", v, "unknown filter 'upper'");
    expect_err("{{node.name | default dflt}}", v, "quoted");
    expect_err("{{node.name | default \"x}}", v, "unterminated default");
    expect_err("{{node.name node}}", v, "unexpected 'n'");
    expect_err("{{.name}}", v, "expected a variable name");
    /* Without variables every tag needs a default. */
    char *o = NULL;
    struct hostos_error err;
    assert_int_equal(hostos_template_render("{{a | default \"z\"}}", NULL, &o, &err), 0);
    assert_string_equal(o, "z");
    free(o);
    expect_err("{{a}}", NULL, "a is not set");
    json_decref(v);
}

static void test_conditions(void **state) {
    json_t *v = vars();
    const char *etcd[] = {"flannel_etcd"};
    const char *mgr[] = {"kubernetes", "openshift"};
    const char *empty[] = {""};
    const char *f[] = {"false"};
    struct hostos_cond c1 = {.var = "network.type", .values = etcd, .n_values = 1};
    struct hostos_cond c2 = {.var = "cm.type", .values = mgr, .n_values = 2};
    struct hostos_cond c3 = {.var = "cm.type", .values = empty, .n_values = 1};
    struct hostos_cond c4 = {.var = "cm.insecure", .values = f, .n_values = 1};
    assert_true(hostos_conds_hold(&c1, 1, v));
    assert_true(hostos_conds_hold(NULL, 0, v));
    /* A missing variable reads as "". */
    assert_false(hostos_conds_hold(&c2, 1, v));
    assert_true(hostos_conds_hold(&c3, 1, v));
    assert_true(hostos_conds_hold(&c4, 1, v));
    json_object_set_new(json_object_get(v, "cm"), "type", json_string("openshift"));
    assert_true(hostos_conds_hold(&c2, 1, v));
    struct hostos_cond both[2] = {c1, c2};
    assert_true(hostos_conds_hold(both, 2, v));
    json_object_set_new(json_object_get(v, "network"), "type", json_string("flannel_server"));
    assert_false(hostos_conds_hold(both, 2, v));
    json_decref(v);
}

static void test_version_valid(void **state) {
    assert_true(hostos_version_valid("29.20191126.0"));
    assert_true(hostos_version_valid("7.9"));
    assert_true(hostos_version_valid("1.2.3-4.fc29~rc1+git:abc"));
    assert_true(hostos_version_valid("revision=0123abcd"));
    assert_false(hostos_version_valid(""));
    assert_false(hostos_version_valid(NULL));
    assert_false(hostos_version_valid("-r"));          /* an option */
    assert_false(hostos_version_valid("--reboot"));
    assert_false(hostos_version_valid(".hidden"));
    assert_false(hostos_version_valid("1.0; reboot"));
    assert_false(hostos_version_valid("1.0'"));
    assert_false(hostos_version_valid("$(id)"));
    assert_false(hostos_version_valid("1.0 2.0"));
    assert_false(hostos_version_valid("1.0\n"));
    assert_false(hostos_version_valid("a/b"));
    char lng[200];
    memset(lng, 'a', sizeof(lng));
    lng[128] = '\0';
    assert_true(hostos_version_valid(lng));
    lng[128] = 'a';
    lng[129] = '\0';
    assert_false(hostos_version_valid(lng));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_substitution),
        cmocka_unit_test(test_values_are_not_interpreted),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_version_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
