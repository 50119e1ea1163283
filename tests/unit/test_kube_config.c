/* kubeconfig variants, in-cluster config and the token file re-read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube_client.h"
#include "kube_config.h"
#include "kube_error.h"
#include "kube_token.h"

static char dir[256];

static void write_file(const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *path_of(const char *name) {
    static char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_kube_config.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* base64("CA-PEM"), base64("CERT"), base64("KEY") */
static const char KC_TOKEN[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: dev\n"
    "clusters:\n"
    "- name: c1\n"
    "  cluster:\n"
    "    server: https://127.0.0.1:6443/\n"
    "    certificate-authority-data: Q0EtUEVN\n"
    "contexts:\n"
    "- name: dev\n"
    "  context:\n"
    "    cluster: c1\n"
    "    user: u1\n"
    "    namespace: commissaire\n"
    "- name: other\n"
    "  context: {cluster: c2, user: u2}\n"
    "clusters2: []\n"
    "users:\n"
    "- name: u1\n"
    "  user:\n"
    "    token: s3cr3t-token\n"
    "- name: u2\n"
    "  user:\n"
    "    client-certificate-data: Q0VSVA==\n"
    "    client-key-data: S0VZ\n";

static void test_token_and_ca_data(void **state) {
    (void)state;
    write_file("kc", KC_TOKEN);
    struct kube_config *c = NULL;
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_config_load_file(path_of("kc"), NULL, &c, &e), 0);
    assert_string_equal(c->server, "https://127.0.0.1:6443"); /* trailing slash dropped */
    assert_string_equal(c->context, "dev");
    assert_string_equal(c->namespace, "commissaire");
    assert_int_equal(c->ca_data_len, 6);
    assert_memory_equal(c->ca_data, "CA-PEM", 6);
    assert_string_equal(c->token, "s3cr3t-token");
    assert_null(c->token_file);
    assert_int_equal(c->insecure_skip_tls_verify, 0); /* verification on by default */
    kube_config_free(c);
    kube_error_done(&e);
}

static void test_missing_cluster_of_context(void **state) {
    (void)state;
    write_file("kc", KC_TOKEN);
    struct kube_config *c = NULL;
    struct kube_error e;
    kube_error_init(&e);
    /* context "other" names cluster c2, which does not exist */
    assert_int_equal(kube_config_load_file(path_of("kc"), "other", &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "c2"));
    assert_int_equal(kube_config_load_file(path_of("kc"), "nope", &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "nope"));
    kube_error_done(&e);
}

static void test_client_cert_data_and_files(void **state) {
    (void)state;
    const char *kc = "current-context: x\n"
                     "clusters: [{name: c, cluster: {server: 'https://h:1', "
                     "insecure-skip-tls-verify: true}}]\n"
                     "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                     "users: [{name: u, user: {client-certificate-data: Q0VSVA==, "
                     "client-key-data: S0VZ}}]\n";
    struct kube_config *c = NULL;
    assert_int_equal(kube_config_load_data(kc, strlen(kc), NULL, NULL, &c, NULL), 0);
    assert_int_equal(c->insecure_skip_tls_verify, 1);
    assert_int_equal(c->client_cert_data_len, 4);
    assert_memory_equal(c->client_cert_data, "CERT", 4);
    assert_memory_equal(c->client_key_data, "KEY", 3);
    assert_string_equal(c->namespace, "default");
    kube_config_free(c);

    const char *kf = "current-context: x\n"
                     "clusters: [{name: c, cluster: {server: 'https://h:1', "
                     "certificate-authority: pki/ca.crt}}]\n"
                     "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                     "users: [{name: u, user: {client-certificate: /abs/tls.crt, "
                     "client-key: rel/tls.key, tokenFile: tok}}]\n";
    assert_int_equal(kube_config_load_data(kf, strlen(kf), "/etc/kc", NULL, &c, NULL), 0);
    /* relative paths resolve against the kubeconfig's directory, absolute ones stay */
    assert_string_equal(c->ca_file, "/etc/kc/pki/ca.crt");
    assert_string_equal(c->client_cert_file, "/abs/tls.crt");
    assert_string_equal(c->client_key_file, "/etc/kc/rel/tls.key");
    assert_string_equal(c->token_file, "/etc/kc/tok");
    assert_null(c->token);
    kube_config_free(c);
}

static void test_errors(void **state) {
    (void)state;
    struct kube_config *c = NULL;
    struct kube_error e;
    kube_error_init(&e);
    const char *no_ctx = "clusters: []\ncontexts: []\nusers: []\n";
    assert_int_equal(kube_config_load_data(no_ctx, strlen(no_ctx), NULL, NULL, &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "current-context"));

    const char *cert_only = "current-context: x\n"
                            "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                            "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                            "users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]\n";
    assert_int_equal(kube_config_load_data(cert_only, strlen(cert_only), NULL, NULL, &c, &e), -EINVAL);

    const char *bad64 = "current-context: x\n"
                        "clusters: [{name: c, cluster: {server: 'https://h', "
                        "certificate-authority-data: '!!notbase64'}}]\n"
                        "contexts: [{name: x, context: {cluster: c}}]\n";
    assert_int_equal(kube_config_load_data(bad64, strlen(bad64), NULL, NULL, &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "base64"));

    const char *no_server = "current-context: x\n"
                            "clusters: [{name: c, cluster: {}}]\n"
                            "contexts: [{name: x, context: {cluster: c}}]\n";
    assert_int_equal(kube_config_load_data(no_server, strlen(no_server), NULL, NULL, &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "server"));

    const char *exec = "current-context: x\n"
                       "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                       "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                       "users: [{name: u, user: {exec: {command: aws}}}]\n";
    assert_int_equal(kube_config_load_data(exec, strlen(exec), NULL, NULL, &c, &e), -EOPNOTSUPP);

    assert_int_equal(kube_config_load_file(path_of("absent"), NULL, &c, &e), -ENOENT);
    assert_non_null(strstr(e.message, "absent"));
    kube_error_done(&e);
}

static void test_malformed_yaml_has_line(void **state) {
    (void)state;
    /* line 4 has a tab-indented, unclosed flow mapping */
    write_file("bad", "apiVersion: v1\n"
                      "users:\n"
                      "- name: u\n"
                      "  user: {token: hunter2-secret, [\n"
                      "current-context: x\n");
    struct kube_config *c = NULL;
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_config_load_file(path_of("bad"), NULL, &c, &e), -EINVAL);
    assert_null(c);
    assert_non_null(strstr(e.message, "line "));
    assert_non_null(strstr(e.message, "bad")); /* the file is named */
    assert_null(strstr(e.message, "hunter2")); /* the secret is not */
    kube_error_done(&e);

    const char *indent = "a: 1\n b: 2\nc: [\n";
    assert_int_equal(kube_config_load_data(indent, strlen(indent), NULL, NULL, &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "line 2"));
    kube_error_done(&e);

    const char *alias = "a: &x 1\nb: *x\n";
    assert_int_equal(kube_config_load_data(alias, strlen(alias), NULL, NULL, &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "line 2"));
    kube_error_done(&e);
}

static void test_in_cluster(void **state) {
    (void)state;
    struct kube_config *c = NULL;
    struct kube_error e;
    kube_error_init(&e);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    assert_int_equal(kube_config_load_in_cluster(dir, &c, &e), -ENOENT);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    /* no token file yet */
    assert_int_equal(kube_config_load_in_cluster(dir, &c, &e), -ENOENT);
    write_file("token", "sa-token\n");
    write_file("ca.crt", "PEM");
    write_file("namespace", "commissaire\n");
    assert_int_equal(kube_config_load_in_cluster(dir, &c, &e), 0);
    assert_string_equal(c->server, "https://10.96.0.1:443");
    assert_string_equal(c->namespace, "commissaire");
    assert_string_equal(c->token_file, path_of("token"));
    assert_string_equal(c->ca_file, path_of("ca.crt"));
    assert_null(c->token); /* read through the file so that rotation is seen */
    kube_config_free(c);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    unlink(path_of("namespace"));
    assert_int_equal(kube_config_load_in_cluster(dir, &c, &e), 0);
    assert_string_equal(c->server, "https://[fd00::1]:443");
    assert_string_equal(c->namespace, "default");
    kube_config_free(c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    kube_error_done(&e);
}

static void test_default_lookup(void **state) {
    (void)state;
    write_file("kc", KC_TOKEN);
    char env[700];
    snprintf(env, sizeof(env), "%s:/nonexistent/second", path_of("kc"));
    setenv("KUBECONFIG", env, 1);
    struct kube_config *c = NULL;
    assert_int_equal(kube_config_load_default(NULL, NULL, &c, NULL), 0);
    assert_string_equal(c->context, "dev");
    kube_config_free(c);
    /* an explicit path wins over KUBECONFIG */
    assert_int_equal(kube_config_load_default(path_of("absent"), NULL, &c, NULL), -ENOENT);
    unsetenv("KUBECONFIG");
}

static void test_token_file_reread(void **state) {
    (void)state;
    write_file("tok", "first-token\n");
    struct kube_token *t = NULL;
    assert_int_equal(kube_token_new("static", path_of("tok"), &t), 0);
    char *s = NULL;
    assert_int_equal(kube_token_get(t, &s, NULL), 0);
    assert_string_equal(s, "first-token"); /* file wins, whitespace trimmed */
    free(s);
    /* rotation: replaced by a new file (as the kubelet does) */
    write_file("tok.new", "second-token-rotated");
    char from[512];
    snprintf(from, sizeof(from), "%s", path_of("tok.new")); /* path_of() reuses its buffer */
    assert_int_equal(rename(from, path_of("tok")), 0);
    assert_int_equal(kube_token_get(t, &s, NULL), 0);
    assert_string_equal(s, "second-token-rotated");
    free(s);
    /* an unreadable file is an error, not a stale token */
    unlink(path_of("tok"));
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_token_get(t, &s, &e), -ENOENT);
    assert_null(strstr(e.message, "second-token"));
    kube_error_done(&e);
    kube_token_free(t);

    assert_int_equal(kube_token_new("only-static", NULL, &t), 0);
    assert_int_equal(kube_token_get(t, &s, NULL), 0);
    assert_string_equal(s, "only-static");
    free(s);
    kube_token_free(t);
    assert_int_equal(kube_token_new(NULL, NULL, &t), 0);
    s = (char *)"x";
    assert_int_equal(kube_token_get(t, &s, NULL), 0);
    assert_null(s);
    kube_token_free(t);
}

static void test_client_new_checks_files(void **state) {
    (void)state;
    struct kube_config cfg = {.server = (char *)"https://127.0.0.1:1",
                              .ca_file = (char *)"/nonexistent/ca.crt"};
    struct kube_client *cl = NULL;
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_client_new(&cfg, NULL, &cl, &e), -ENOENT);
    assert_non_null(strstr(e.message, "/nonexistent/ca.crt"));
    cfg.ca_file = NULL;
    cfg.server = (char *)"ftp://x";
    assert_int_equal(kube_client_new(&cfg, NULL, &cl, &e), -EINVAL);
    cfg.server = (char *)"https://127.0.0.1:1/";
    cfg.namespace = (char *)"ns1";
    assert_int_equal(kube_client_new(&cfg, NULL, &cl, &e), 0);
    assert_string_equal(kube_client_server(cl), "https://127.0.0.1:1");
    assert_string_equal(kube_client_namespace(cl), "ns1");
    kube_client_free(cl);
    kube_error_done(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_and_ca_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_cluster_of_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_cert_data_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_yaml_has_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_file_reread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_new_checks_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
