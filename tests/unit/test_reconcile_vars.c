/* Template variables from Host/Cluster/Network/ContainerManager, and the Secret decoding used
 * for SSH keys and container manager credentials. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_json.h"
#include "host_ssh.h"
#include "host_vars.h"

static json_t *host(void) {
    return json_pack("{s:{s:s},s:{s:s,s:s},s:{s:s,s:s,s:s}}", "metadata", "name", "h1", "spec",
                     "address", "10.1.2.3", "cluster", "prod", "status", "hostname", "node-a",
                     "os", "fedora", "osVersion", "38");
}

static const char *var(json_t *v, const char *path) {
    const char *s = cm_json_get_str(v, path);
    assert_non_null(s);
    return s;
}

static void test_defaults_without_cluster(void **state) {
    json_t *h = host();
    struct host_vars_input in = {.host = h};
    json_t *v = host_vars_build(&in);
    assert_string_equal(var(v, "host.address"), "10.1.2.3");
    assert_string_equal(var(v, "host.name"), "h1");
    assert_string_equal(var(v, "host.hostname"), "node-a");
    assert_string_equal(var(v, "host.os"), "fedora");
    assert_string_equal(var(v, "cluster.name"), "");
    /* REF: no cluster -> the built-in default network, flannel_etcd without options */
    assert_string_equal(var(v, "network.type"), "flannel_etcd");
    assert_string_equal(var(v, "network.name"), "default");
    assert_true(json_is_object(cm_json_get(v, "network.options")));
    assert_int_equal(json_object_size(cm_json_get(v, "network.options")), 0);
    assert_string_equal(var(v, "cm.type"), "");
    assert_string_equal(var(v, "cm.server_url"), "");
    assert_string_equal(var(v, "cm.insecure_skip_tls_verify"), "false");
    host_vars_free(v);
    json_decref(h);
}

static void test_network_and_cm(void **state) {
    json_t *h = host();
    json_t *cl = json_pack("{s:{s:s}}", "metadata", "name", "prod");
    json_t *net = json_pack("{s:{s:s},s:{s:s,s:{s:s}}}", "metadata", "name", "overlay", "spec",
                            "type", "flannel_server", "options", "address", "10.0.0.9:8080");
    json_t *cm = json_pack("{s:{s:s},s:{s:s,s:b}}", "metadata", "name", "k8s", "spec", "type",
                           "kubernetes", "insecureSkipTLSVerify", 1);
    struct host_vars_input in = {.host = h, .cluster = cl, .network = net, .cm = cm,
                                 .node_name = "10.1.2.3", .server = "https://api:6443",
                                 .ca = "-----BEGIN CERTIFICATE-----", .token = "s3cret",
                                 .client_cert = "CERT", .client_key = "KEY"};
    json_t *v = host_vars_build(&in);
    assert_string_equal(var(v, "cluster.name"), "prod");
    assert_string_equal(var(v, "network.name"), "overlay");
    assert_string_equal(var(v, "network.type"), "flannel_server");
    assert_string_equal(var(v, "network.options.address"), "10.0.0.9:8080");
    assert_string_equal(var(v, "node.name"), "10.1.2.3");
    assert_string_equal(var(v, "cm.server_url"), "https://api:6443");
    assert_string_equal(var(v, "cm.ca"), "-----BEGIN CERTIFICATE-----");
    assert_string_equal(var(v, "cm.token"), "s3cret");
    assert_string_equal(var(v, "cm.client_cert"), "CERT");
    assert_string_equal(var(v, "cm.client_key"), "KEY");
    assert_string_equal(var(v, "cm.insecure_skip_tls_verify"), "true");
    assert_string_equal(var(v, "cm.type"), "kubernetes");
    assert_string_equal(var(v, "cm.name"), "k8s");
    /* The options are a copy: the cached Network is never modified. */
    json_object_set_new(cm_json_get(v, "network.options"), "x", json_true());
    assert_null(cm_json_get(net, "spec.options.x"));
    host_vars_free(v);
    json_decref(net);
    json_decref(cm);
    json_decref(cl);
    json_decref(h);
}

static void test_base64(void **state) {
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(host_ssh_base64_decode("aGVsbG8gd29ybGQ=", &out, &n), 0);
    assert_int_equal(n, 11);
    assert_string_equal(out, "hello world");
    free(out);
    assert_int_equal(host_ssh_base64_decode("aGVsbG8\ngd29ybGQ", &out, &n), 0); /* no padding */
    assert_string_equal(out, "hello world");
    free(out);
    assert_int_equal(host_ssh_base64_decode("", &out, &n), 0);
    assert_int_equal(n, 0);
    free(out);
    out = (char *)0x1;
    assert_int_equal(host_ssh_base64_decode("aGV*bG8=", &out, &n), -EINVAL);
    assert_int_equal(host_ssh_base64_decode("aGVsb", &out, &n), -EINVAL); /* lone char */
    assert_int_equal(host_ssh_base64_decode("aG=Vs", &out, &n), -EINVAL); /* data after pad */
    assert_ptr_equal(out, (char *)0x1);
}

static void test_expected_fingerprint(void **state) {
    const char *pin = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const char *seen = "SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
    json_t *h = json_pack("{s:{},s:{}}", "spec", "status");
    assert_null(host_ssh_expected_fingerprint(h)); /* first contact: trust on first use */
    cm_json_set(h, "status.hostKeyFingerprint", json_string(seen));
    assert_string_equal(host_ssh_expected_fingerprint(h), seen); /* then enforced */
    cm_json_set(h, "spec.hostKey", json_string(pin));
    assert_string_equal(host_ssh_expected_fingerprint(h), pin); /* a pin wins */
    json_decref(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_without_cluster),
        cmocka_unit_test(test_network_and_cm),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_expected_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
