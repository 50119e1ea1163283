/* Command line + config file of the shim (spec §10.6, §10.8, decisions 25). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim_config.h"

static char dir[] = "/tmp/test_shim_config.XXXXXX";

static int setup(void **state) {
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    char cmd[256];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *write_file(const char *name, const char *text) {
    static char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define ARGV(...) ((char *const[]){ "commissaire-shim", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *const[]){ "commissaire-shim", __VA_ARGS__ }) / sizeof(char *)))
#define LOAD(cfg, err, ...) shim_config_load(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), NULL, (cfg), (err), sizeof(err))

static void test_defaults_and_flags(void **state) {
    struct shim_config c;
    char err[512];

    (void)state;
    assert_int_equal(LOAD(&c, err, "--no-config-file"), 0);
    assert_string_equal(c.listen_interface, "0.0.0.0");
    assert_int_equal(c.listen_port, 8000);
    assert_string_equal(c.namespace_, "commissaire");
    assert_true(c.metrics);
    assert_int_equal(c.n_plugins, 0);
    assert_null(c.config_file);
    shim_config_done(&c);

    assert_int_equal(LOAD(&c, err, "--no-config-file", "-i", "127.0.0.1", "-p", "9000",
                          "--tls-pemfile", "/x.pem", "--tls-clientverifyfile=/ca.pem",
                          "--authentication-plugin", "httpbasicauth:filepath=/u.json,bad,x=a=b",
                          "--authentication-plugin", "commissaire_http.authentication.httpauthclientcert",
                          "--self-auth", "/a", "--self-auth", "/b", "--debug", "--bus-uri",
                          "redis://x", "--bus-exchange", "e", "--kubeconfig", "/k", "--namespace",
                          "ns1", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1",
                          "--log-format", "json", "--no-metrics", "--workers", "8"),
                     0);
    assert_string_equal(c.listen_interface, "127.0.0.1");
    assert_int_equal(c.listen_port, 9000);
    assert_string_equal(c.tls_pemfile, "/x.pem");
    assert_string_equal(c.tls_clientverifyfile, "/ca.pem");
    assert_int_equal(c.n_plugins, 2);
    assert_string_equal(c.plugins[0].module, "httpbasicauth");
    assert_string_equal(json_string_value(json_object_get(c.plugins[0].options, "filepath")), "/u.json");
    assert_null(json_object_get(c.plugins[0].options, "bad")); /* no '=': ignored (REF) */
    assert_string_equal(json_string_value(json_object_get(c.plugins[0].options, "x")), "a=b");
    assert_string_equal(c.plugins[1].module, "commissaire_http.authentication.httpauthclientcert");
    assert_int_equal(json_object_size(c.plugins[1].options), 0);
    assert_int_equal(c.n_self_auths, 2);
    assert_true(c.debug);
    assert_string_equal(c.bus_uri, "redis://x");
    assert_int_equal(c.n_warnings, 2); /* both bus options reported unused */
    assert_string_equal(c.kubeconfig, "/k");
    assert_string_equal(c.namespace_, "ns1");
    assert_int_equal(c.n_trusted, 2);
    assert_string_equal(c.log_format, "json");
    assert_false(c.metrics);
    assert_int_equal(c.workers, 8);
    shim_config_done(&c);
}

static void test_errors(void **state) {
    struct shim_config c;
    char err[512];

    (void)state;
    assert_int_equal(LOAD(&c, err, "--no-config-file", "--bogus"), -EINVAL);
    assert_non_null(strstr(err, "--bogus"));
    assert_int_equal(LOAD(&c, err, "--no-config-file", "-p", "70000"), -EINVAL);
    assert_int_equal(LOAD(&c, err, "--no-config-file", "-p"), -EINVAL);
    assert_int_equal(LOAD(&c, err, "--no-config-file", "--trusted-proxy", "nonsense"), -EINVAL);
    assert_int_equal(LOAD(&c, err, "--no-config-file", "--log-format", "xml"), -EINVAL);
    assert_int_equal(LOAD(&c, err, "--no-config-file", "--tls-clientverifyfile", "/ca"), -EINVAL);
    assert_int_equal(LOAD(&c, err, "--no-config-file", "--authentication-plugin", ":x=y"), -EINVAL);
    assert_int_equal(LOAD(&c, err, "-c", "/nonexistent/commissaire.conf"), -EINVAL);
    assert_non_null(strstr(err, "/nonexistent/commissaire.conf"));
}

static void test_help(void **state) {
    struct shim_config c;
    char err[512];
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    char *const argv[] = { "commissaire-shim", "--help", NULL };

    (void)state;
    assert_int_equal(shim_config_load(2, argv, f, &c, err, sizeof err), 1);
    fclose(f);
    assert_non_null(strstr(buf, "--authentication-plugin"));
    assert_non_null(strstr(buf, "--trusted-proxy"));
    free(buf);
}

static void test_file(void **state) {
    struct shim_config c;
    char err[512];
    char *p;

    (void)state;
    p = write_file("a.conf",
                   "{\"listen-interface\": \"127.0.0.2\", \"listen_port\": \"8123\",\n"
                   " \"tls-pemfile\": \"/f.pem\", \"debug\": true,\n"
                   " \"authentication-plugins\": [\n"
                   "   {\"name\": \"httpbasicauth\", \"filepath\": \"/u.json\",\n"
                   "    \"users\": {\"a-b\": {\"hash\": \"h\"}}},\n"
                   "   {\"name\": \"commissaire_http.authentication.httpauthclientcert\", \"cn\": \"x\"}],\n"
                   " \"self-auths\": [\"/api/v0/secrets\"],\n"
                   " \"nested-obj\": {\"a-b\": 1}, \"storage-handlers\": [],\n"
                   " \"trusted-proxies\": [\"10.1.0.0/16\"], \"namespace\": \"fromfile\"}\n");
    /* File values are defaults; scalar flags override; lists append. */
    assert_int_equal(LOAD(&c, err, "-c", p, "-p", "9001", "--self-auth", "/x",
                          "--authentication-plugin", "kubernetes"),
                     0);
    assert_string_equal(c.config_file, p);
    assert_string_equal(c.listen_interface, "127.0.0.2");
    assert_int_equal(c.listen_port, 9001);
    assert_string_equal(c.tls_pemfile, "/f.pem");
    assert_true(c.debug);
    assert_string_equal(c.namespace_, "fromfile");
    assert_int_equal(c.n_trusted, 1);
    assert_int_equal(c.n_self_auths, 2);
    assert_string_equal(c.self_auths[0], "/api/v0/secrets");
    assert_string_equal(c.self_auths[1], "/x");
    assert_int_equal(c.n_plugins, 3);
    assert_string_equal(c.plugins[0].module, "httpbasicauth");
    assert_null(json_object_get(c.plugins[0].options, "name"));
    assert_string_equal(json_string_value(json_object_get(c.plugins[0].options, "filepath")), "/u.json");
    /* Inside arrays keys are left alone (REF): the user "a-b" keeps its dash. */
    assert_non_null(json_object_get(json_object_get(c.plugins[0].options, "users"), "a-b"));
    assert_string_equal(json_string_value(json_object_get(c.plugins[1].options, "cn")), "x");
    assert_string_equal(c.plugins[2].module, "kubernetes");
    /* Unknown keys are reported, not fatal. */
    assert_true(c.n_warnings >= 2);
    shim_config_done(&c);

    /* The string port stays usable; bad shapes are start-up errors. */
    p = write_file("b.conf", "{\"listen-port\": \"80x\"}");
    assert_int_equal(LOAD(&c, err, "-c", p), -EINVAL);
    p = write_file("c.conf", "{\"authentication-plugins\": {\"name\": \"x\"}}");
    assert_int_equal(LOAD(&c, err, "-c", p), -EINVAL);
    p = write_file("d.conf", "{\"authentication-plugins\": [{\"filepath\": \"x\"}]}");
    assert_int_equal(LOAD(&c, err, "-c", p), -EINVAL);
    assert_non_null(strstr(err, "name"));
    p = write_file("e.conf", "[1, 2]");
    assert_int_equal(LOAD(&c, err, "-c", p), -EINVAL);
    p = write_file("f.conf", "{\"listen-port\": ");
    assert_int_equal(LOAD(&c, err, "--config-file", p), -EINVAL);
    /* --no-config-file wins over -c. */
    assert_int_equal(LOAD(&c, err, "-c", p, "--no-config-file"), 0);
    assert_null(c.config_file);
    shim_config_done(&c);
}

static void test_normalize(void **state) {
    json_t *in = json_loads("{\"a-b\": {\"c-d\": [ {\"e-f\": 1} ]}}", 0, NULL);
    json_t *out = shim_config_normalize_keys(in);

    (void)state;
    assert_non_null(json_object_get(out, "a_b"));
    assert_non_null(json_object_get(json_object_get(out, "a_b"), "c_d"));
    assert_non_null(json_object_get(json_array_get(json_object_get(json_object_get(out, "a_b"), "c_d"), 0), "e-f"));
    json_decref(in);
    json_decref(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_flags),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_normalize),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
