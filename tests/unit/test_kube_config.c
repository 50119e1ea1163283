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
#include "kube_exec.h"
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
    assert_int_equal(kube_config_load_data(exec, strlen(exec), NULL, NULL, &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "apiVersion"));
    const char *ap = "current-context: x\n"
                     "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                     "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                     "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n";
    assert_int_equal(kube_config_load_data(ap, strlen(ap), NULL, NULL, &c, &e), -EOPNOTSUPP);
    assert_non_null(strstr(e.message, "exec plugin"));

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

static const char KC_EXEC_HEAD[] = "current-context: x\n"
                                   "clusters: [{name: c, cluster: {server: 'https://h:6443'}}]\n"
                                   "contexts: [{name: x, context: {cluster: c, user: u}}]\n";

static int load_exec(const char *exec_yaml, struct kube_config **c, struct kube_error *e) {
    char text[2048];
    snprintf(text, sizeof text, "%susers: [{name: u, user: {exec: %s}}]\n", KC_EXEC_HEAD,
             exec_yaml);
    write_file("kc-exec", text);
    return kube_config_load_file(path_of("kc-exec"), NULL, c, e);
}

static void test_exec_parse(void **state) {
    (void)state;
    struct kube_config *c = NULL;
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(load_exec("{apiVersion: client.authentication.k8s.io/v1, command: "
                               "./bin/login, args: [token, --cluster, c1], env: [{name: A, "
                               "value: 'x=y'}], provideClusterInfo: true, interactiveMode: "
                               "IfAvailable}",
                               &c, &e),
                     0);
    assert_non_null(c->exec);
    char want[600];
    snprintf(want, sizeof want, "%s/./bin/login", dir); /* relative to the kubeconfig's dir */
    assert_string_equal(c->exec->command, want);
    assert_int_equal(c->exec->n_args, 3);
    assert_string_equal(c->exec->args[2], "c1");
    assert_int_equal(c->exec->n_env, 1);
    assert_string_equal(c->exec->env[0], "A=x=y");
    assert_int_equal(c->exec->provide_cluster_info, 1);
    assert_string_equal(c->exec->api_version, "client.authentication.k8s.io/v1");
    kube_config_free(c);
    c = NULL;
    /* A bare program name is looked up in PATH, not next to the kubeconfig. */
    assert_int_equal(load_exec("{apiVersion: client.authentication.k8s.io/v1beta1, command: "
                               "aws, args: [eks, get-token]}", &c, &e), 0);
    assert_string_equal(c->exec->command, "aws");
    assert_int_equal(c->exec->provide_cluster_info, 0);
    kube_config_free(c);
    c = NULL;
    assert_int_equal(load_exec("{apiVersion: client.authentication.k8s.io/v1, command: x, "
                               "interactiveMode: Always}", &c, &e), -EOPNOTSUPP);
    assert_non_null(strstr(e.message, "terminal"));
    assert_int_equal(load_exec("{apiVersion: client.authentication.k8s.io/v1, command: x, "
                               "env: [{value: 1}]}", &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "env[0]"));
    assert_int_equal(load_exec("{apiVersion: client.authentication.k8s.io/v1, command: x, "
                               "args: [[1]]}", &c, &e), -EINVAL);
    assert_int_equal(load_exec("{apiVersion: v1, command: x}", &c, &e), -EINVAL);
    assert_int_equal(load_exec("{apiVersion: client.authentication.k8s.io/v1}", &c, &e),
                     -EINVAL);
    assert_null(c);
    kube_error_done(&e);
}

static void test_kubeconfig_list_merge(void **state) {
    (void)state;
    char d1[300], d2[300], env[1400];
    snprintf(d1, sizeof d1, "%s/one", dir);
    snprintf(d2, sizeof d2, "%s/two", dir);
    assert_int_equal(mkdir(d1, 0700), 0);
    assert_int_equal(mkdir(d2, 0700), 0);
    /* The first file sets the context and cluster a; the second's cluster a is ignored (first
     * wins), and its user u brings a token file relative to ITS directory. */
    write_file("one/kc", "current-context: x\n"
                         "clusters: [{name: a, cluster: {server: 'https://first:1', "
                         "certificate-authority: ca.crt}}]\n"
                         "contexts: [{name: x, context: {cluster: a, user: u, namespace: n1}}]\n");
    write_file("two/kc", "current-context: y\n"
                         "clusters: [{name: a, cluster: {server: 'https://second:2'}}]\n"
                         "contexts: [{name: x, context: {cluster: a, user: other}}]\n"
                         "users: [{name: u, user: {tokenFile: tok}}]\n");
    snprintf(env, sizeof env, "%s/kc:%s/missing:%s/kc", d1, dir, d2);
    setenv("KUBECONFIG", env, 1);
    struct kube_config *c = NULL;
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_config_load_default(NULL, NULL, &c, &e), 0);
    assert_string_equal(c->context, "x");
    assert_string_equal(c->server, "https://first:1");
    assert_string_equal(c->namespace, "n1");
    char want[700];
    snprintf(want, sizeof want, "%s/ca.crt", d1);
    assert_string_equal(c->ca_file, want);
    snprintf(want, sizeof want, "%s/tok", d2);
    assert_string_equal(c->token_file, want);
    kube_config_free(c);
    c = NULL;
    /* A context only the second file has. */
    assert_int_equal(kube_config_load_default(NULL, "x", &c, &e), 0);
    kube_config_free(c);
    c = NULL;
    /* A broken file in the list is an error naming it, not skipped. */
    write_file("two/kc", "users: [\n");
    assert_int_equal(kube_config_load_default(NULL, NULL, &c, &e), -EINVAL);
    assert_non_null(strstr(e.message, "two/kc"));
    snprintf(env, sizeof env, "%s/none1:%s/none2", dir, dir);
    setenv("KUBECONFIG", env, 1);
    assert_int_equal(kube_config_load_default(NULL, NULL, &c, &e), -ENOENT);
    assert_null(c);
    unsetenv("KUBECONFIG");
    kube_error_done(&e);
}

/* A plugin that counts its runs in a file and answers with token "tok-<run>". $1 = expiry. */
static const char PLUGIN[] =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\")\n"
    "n=$(($(cat \"$d/runs\" 2>/dev/null || echo 0) + 1)); echo $n >\"$d/runs\"\n"
    "printf '%s' \"$KUBERNETES_EXEC_INFO\" >\"$d/info\"; printf '%s' \"$PLUGIN_ENV\" >\"$d/env\"\n"
    "case $MODE in\n"
    "fail) echo '{\"status\":{\"token\":\"leaked-secret\"}}'; echo 'login expired' >&2; exit 3;;\n"
    "wrongver) echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
    "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}'; exit 0;;\n"
    "cert) echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
    "\"status\":{\"clientCertificateData\":\"x\",\"clientKeyData\":\"y\"}}'; exit 0;;\n"
    "garbage) echo 'not json leaked-secret'; exit 0;;\n"
    "slow) exec sleep 30;;\n"
    "esac\n"
    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
    "\"status\":{\"token\":\"tok-%s\",\"expirationTimestamp\":\"%s\"}}\\n' \"$n\" \"$1\"\n";

static struct kube_exec_config *plugin_config(const char *expiry) {
    write_file("plugin", PLUGIN);
    assert_int_equal(chmod(path_of("plugin"), 0755), 0);
    struct kube_exec_config *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    x->command = strdup(path_of("plugin"));
    x->args = calloc(2, sizeof(char *));
    x->args[0] = strdup(expiry);
    x->n_args = 1;
    x->env = calloc(2, sizeof(char *));
    x->env[0] = strdup("PLUGIN_ENV=from-kubeconfig");
    x->n_env = 1;
    x->api_version = strdup("client.authentication.k8s.io/v1");
    x->provide_cluster_info = 1;
    return x;
}

static char *read_back(const char *name) {
    static char buf[4096];
    FILE *f = fopen(path_of(name), "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void test_exec_token_cache(void **state) {
    (void)state;
    struct kube_exec_config *x = plugin_config("2999-01-01T00:00:00Z");
    struct kube_token *t = NULL;
    assert_int_equal(kube_token_new_exec(x, "{\"server\":\"https://h:6443\"}", &t), 0);
    kube_exec_config_free(x); /* the source keeps its own copy */
    char *s = NULL;
    assert_int_equal(kube_token_get(t, &s, NULL), 0);
    assert_string_equal(s, "tok-1");
    free(s);
    assert_int_equal(kube_token_get(t, &s, NULL), 0);
    assert_string_equal(s, "tok-1"); /* cached until it expires */
    free(s);
    assert_string_equal(read_back("runs"), "1\n");
    assert_string_equal(read_back("env"), "from-kubeconfig");
    const char *info = read_back("info");
    assert_non_null(strstr(info, "\"kind\":\"ExecCredential\""));
    assert_non_null(strstr(info, "\"interactive\":false"));
    assert_non_null(strstr(info, "\"server\":\"https://h:6443\""));
    /* A 401: the next get runs the plugin again. */
    assert_int_equal(kube_token_invalidate(t), 1);
    assert_int_equal(kube_token_get(t, &s, NULL), 0);
    assert_string_equal(s, "tok-2");
    free(s);
    kube_token_free(t);

    /* An expired (or about to expire) token is never reused. */
    x = plugin_config("2000-01-01T00:00:00Z");
    assert_int_equal(kube_token_new_exec(x, NULL, &t), 0);
    kube_exec_config_free(x);
    assert_int_equal(kube_token_get(t, &s, NULL), 0);
    assert_string_equal(s, "tok-3");
    free(s);
    assert_int_equal(kube_token_get(t, &s, NULL), 0);
    assert_string_equal(s, "tok-4");
    free(s);
    kube_token_free(t);

    /* Static and file sources cannot be refreshed by a retry. */
    assert_int_equal(kube_token_new("static", NULL, &t), 0);
    assert_int_equal(kube_token_invalidate(t), 0);
    kube_token_free(t);
}

static void test_exec_failures(void **state) {
    (void)state;
    struct kube_exec_config *x = plugin_config("2999-01-01T00:00:00Z");
    struct kube_error e;
    kube_error_init(&e);
    char *tok = NULL;
    int64_t exp = 0;
    static const struct {
        const char *mode;
        int rc;
        const char *says;
    } cases[] = {
        {"fail", -EPROTO, "exit status 3"},
        {"wrongver", -EPROTO, "apiVersion"},
        {"cert", -EOPNOTSUPP, "client certificate"},
        {"garbage", -EPROTO, "not JSON"},
        {"slow", -ETIMEDOUT, "no answer within"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("MODE", cases[i].mode, 1);
        assert_int_equal(kube_exec_run(x, NULL, 500, &tok, &exp, &e), cases[i].rc);
        assert_non_null(strstr(e.message, cases[i].says));
        assert_non_null(strstr(e.message, "plugin")); /* names the plugin */
        assert_null(strstr(e.message, "leaked-secret")); /* never the plugin's output */
        assert_null(tok);
    }
    unsetenv("MODE");
    free(x->command);
    x->command = strdup("/nonexistent/kubelogin");
    assert_int_equal(kube_exec_run(x, NULL, 500, &tok, &exp, &e), -ENOENT);
    assert_non_null(strstr(e.message, "/nonexistent/kubelogin"));
    assert_int_equal(kube_exec_run(x, NULL, 500, &tok, &exp, &e), -ENOENT);
    kube_exec_config_free(x);
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
        cmocka_unit_test_setup_teardown(test_exec_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kubeconfig_list_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_token_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
