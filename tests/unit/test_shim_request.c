/* Request decoding: REF's type rules (spec §3.1), the body outcomes of §2.5 with the decisions'
 * tightening, and the key, address and name rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libssh/libssh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim_request.h"

static char *key_b64; /* base64 of a fresh OpenSSH private key */

static int setup(void **state) {
    ssh_key k = NULL;
    char *pem = NULL;

    (void)state;
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k) != SSH_OK)
        return -1;
    if (ssh_pki_export_privkey_base64(k, NULL, NULL, NULL, &pem) != SSH_OK)
        return -1;
    key_b64 = shim_base64_encode((const unsigned char *)pem, strlen(pem));
    ssh_string_free_char(pem);
    ssh_key_free(k);
    return key_b64 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    free(key_b64);
    return 0;
}

static json_t *parse_ok(const char *text) {
    struct shim_err e = { 0 };
    json_t *v = NULL;

    assert_int_equal(shim_body_parse(text, text ? strlen(text) : 0, &v, &e), 0);
    assert_non_null(v);
    return v;
}

static int parse_status(const char *text, size_t n) {
    struct shim_err e = { 0 };
    json_t *v = NULL;

    if (shim_body_parse(text, n, &v, &e) == 0) {
        json_decref(v);
        return 0;
    }
    assert_null(v);
    assert_true(e.msg[0] != 0);
    return e.status;
}

static void test_body_outcomes(void **state) {
    json_t *v;

    (void)state;
    v = parse_ok(NULL);
    assert_true(json_is_object(v) && json_object_size(v) == 0);
    json_decref(v);
    v = parse_ok("");
    json_decref(v);
    v = parse_ok("{\"a\": 1}");
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
    assert_int_equal(parse_status("\"abc\"", 5), 400);
    assert_int_equal(parse_status("null", 4), 400);
    assert_int_equal(parse_status("42", 2), 400);
    assert_int_equal(parse_status("true", 4), 400);
    assert_int_equal(parse_status("[1,2]", 5), 400);
    assert_int_equal(parse_status("[[\"network\",\"n9\"]]", 19), 400);
    assert_int_equal(parse_status("{", 1), 400);
    assert_int_equal(parse_status("{\"a\": \"\xff\"}", 10), 400); /* not UTF-8 */
    assert_int_equal(parse_status("{} trailing", 11), 400);
    {
        size_t n = SHIM_BODY_MAX + 1;
        char *big = malloc(n);

        memset(big, ' ', n);
        assert_int_equal(parse_status(big, n), 413);
        free(big);
    }
}

static void test_base64(void **state) {
    unsigned char *d = NULL;
    size_t n = 0;
    char *e;

    (void)state;
    assert_int_equal(shim_base64_decode("aGVsbG8=", &d, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(d, "hello", 5);
    free(d);
    assert_int_equal(shim_base64_decode("aGVsbG8", &d, &n), 0); /* padding optional */
    free(d);
    assert_int_equal(shim_base64_decode("aGVs\nbG8=\r\n", &d, &n), 0); /* line breaks ignored */
    assert_int_equal(n, 5);
    free(d);
    assert_int_equal(shim_base64_decode("aGVsbG8=x", &d, &n), -EINVAL);
    assert_int_equal(shim_base64_decode("a*b=", &d, &n), -EINVAL);
    assert_int_equal(shim_base64_decode("aGVsbG9=", &d, &n), -EINVAL); /* non-zero pad bits */
    assert_int_equal(shim_base64_decode("a", &d, &n), -EINVAL);
    assert_int_equal(shim_base64_decode("", &d, &n), 0);
    assert_int_equal(n, 0);
    free(d);
    e = shim_base64_encode((const unsigned char *)"hello", 5);
    assert_string_equal(e, "aGVsbG8=");
    free(e);
    e = shim_base64_encode((const unsigned char *)"hi!", 3);
    assert_string_equal(e, "aGkh");
    free(e);
}

static int host_decode(const char *body, const char *url, const char *peer,
                       struct shim_host_req *q) {
    struct shim_err e = { 0 };
    json_t *b = parse_ok(body);
    int rc = shim_host_req_decode(b, url, peer, q, &e);

    json_decref(b);
    return rc < 0 ? e.status : 0;
}

static void test_host(void **state) {
    struct shim_host_req q = { 0 };
    char body[4096];

    (void)state;
    snprintf(body, sizeof body, "{\"ssh_priv_key\": \"%s\"}", key_b64);
    assert_int_equal(host_decode(body, "10.0.0.1", "127.0.0.1", &q), 0);
    assert_string_equal(q.address, "10.0.0.1");
    assert_string_equal(q.remote_user, "root");
    assert_string_equal(q.source, "");
    assert_null(q.cluster);
    assert_string_equal(q.ssh_priv_key, key_b64);
    assert_non_null(strstr((char *)q.key, "PRIVATE KEY"));
    shim_host_req_done(&q);

    /* No URL address: body, else the peer (decisions 2). */
    assert_int_equal(host_decode(body, NULL, "192.0.2.7", &q), 0);
    assert_string_equal(q.address, "192.0.2.7");
    shim_host_req_done(&q);
    assert_int_equal(host_decode(body, NULL, NULL, &q), 400);
    snprintf(body, sizeof body, "{\"ssh_priv_key\": \"%s\", \"address\": \"h1.example\"}", key_b64);
    assert_int_equal(host_decode(body, NULL, "192.0.2.7", &q), 0);
    assert_string_equal(q.address, "h1.example");
    shim_host_req_done(&q);
    assert_int_equal(host_decode(body, "h2.example", NULL, &q), 400); /* decisions 33 */
    assert_int_equal(host_decode(body, "h1.example", NULL, &q), 0);
    shim_host_req_done(&q);

    /* Every field, REF's type rules. */
    snprintf(body, sizeof body,
             "{\"ssh_priv_key\": \"%s\", \"remote_user\": \"cloud-user\", \"cluster\": \"c1\", "
             "\"status\": \"active\", \"os\": \"fedora\", \"cpus\": true, \"memory\": 4, "
             "\"space\": 5, \"last_check\": \"\", \"source\": \"ext\", \"host\": 1}",
             key_b64);
    assert_int_equal(host_decode(body, "10.0.0.1", NULL, &q), 0);
    assert_string_equal(q.remote_user, "cloud-user");
    assert_string_equal(q.cluster, "c1");
    assert_string_equal(q.source, "ext");
    shim_host_req_done(&q);
    const char *bad[] = { "\"cpus\": \"four\"", "\"memory\": 4.0", "\"space\": null",
                          "\"status\": 1", "\"os\": []", "\"remote_user\": null",
                          "\"remote_user\": \"a b\"", "\"remote_user\": \"\"", "\"cluster\": 5",
                          "\"cluster\": \"a.b\"", "\"source\": 2", "\"last_check\": {}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, "{\"ssh_priv_key\": \"%s\", %s}", key_b64, bad[i]);
        if (host_decode(body, "10.0.0.1", NULL, &q) != 400)
            fail_msg("accepted %s", bad[i]);
    }
    /* Falsy cluster = none (REF). */
    snprintf(body, sizeof body, "{\"ssh_priv_key\": \"%s\", \"cluster\": \"\"}", key_b64);
    assert_int_equal(host_decode(body, "10.0.0.1", NULL, &q), 0);
    assert_null(q.cluster);
    shim_host_req_done(&q);
    snprintf(body, sizeof body, "{\"ssh_priv_key\": \"%s\", \"cluster\": null}", key_b64);
    assert_int_equal(host_decode(body, "10.0.0.1", NULL, &q), 0);
    assert_null(q.cluster);
    shim_host_req_done(&q);

    /* The key: required, base64, of a private key. */
    assert_int_equal(host_decode("{}", "10.0.0.1", NULL, &q), 400);
    assert_int_equal(host_decode("{\"ssh_priv_key\": \"\"}", "10.0.0.1", NULL, &q), 400);
    assert_int_equal(host_decode("{\"ssh_priv_key\": 5}", "10.0.0.1", NULL, &q), 400);
    assert_int_equal(host_decode("{\"ssh_priv_key\": \"%%%\"}", "10.0.0.1", NULL, &q), 400);
    assert_int_equal(host_decode("{\"ssh_priv_key\": \"aGVsbG8=\"}", "10.0.0.1", NULL, &q), 400);
    /* "-----BEGIN RSA PRIVATE KEY-----\ngarbage\n-----END RSA PRIVATE KEY-----" */
    assert_int_equal(host_decode("{\"ssh_priv_key\": \"LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpn"
                                 "YXJiYWdlCi0tLS0tRU5EIFJTQSBQUklWQVRFIEtFWS0tLS0t\"}",
                                 "10.0.0.1", NULL, &q),
                     400);
    /* Addresses: the {address} class plus ':' for IPv6 peers. */
    assert_int_equal(host_decode(body, NULL, "fe80::1", &q), 0);
    assert_string_equal(q.address, "fe80::1");
    shim_host_req_done(&q);
    assert_int_equal(host_decode(body, NULL, "a/b", &q), 400);
    assert_true(shim_address_valid("10.0.0.1"));
    assert_true(shim_address_valid("Host_1.example-x"));
    assert_false(shim_address_valid(""));
    assert_false(shim_address_valid("a b"));
    assert_false(shim_address_valid("a%b"));
    assert_true(shim_name_valid("c_1-X"));
    assert_false(shim_name_valid("c.1"));
    {
        char longname[300];

        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        assert_false(shim_name_valid(longname));
        assert_false(shim_address_valid(longname));
    }
}

static int cluster_decode(const char *body, struct shim_cluster_req *q) {
    struct shim_err e = { 0 };
    json_t *b = parse_ok(body);
    int rc = shim_cluster_req_decode(b, "c1", q, &e);

    json_decref(b);
    return rc < 0 ? e.status : 0;
}

static void test_cluster(void **state) {
    struct shim_cluster_req q = { 0 };

    (void)state;
    assert_int_equal(cluster_decode("{}", &q), 0);
    assert_string_equal(q.name, "c1");
    assert_null(q.network);
    assert_null(q.container_manager);
    assert_null(q.status);
    assert_false(q.has_hostset);
    shim_cluster_req_done(&q);
    assert_int_equal(cluster_decode("{\"type\": \"kubernetes\", \"network\": \"default\", "
                                    "\"container_manager\": \"\", \"status\": \"x\", "
                                    "\"hostset\": [\"10.0.0.1\", \"10.0.0.1\"]}",
                                    &q),
                     0);
    assert_string_equal(q.network, "default");
    assert_string_equal(q.container_manager, "");
    assert_string_equal(q.status, "x");
    assert_true(q.has_hostset);
    assert_int_equal(q.hostset.n, 1); /* duplicates collapse */
    shim_cluster_req_done(&q);
    assert_int_equal(cluster_decode("{\"network\": 5}", &q), 400);
    assert_int_equal(cluster_decode("{\"network\": \"a.b\"}", &q), 400);
    assert_int_equal(cluster_decode("{\"container_manager\": []}", &q), 400);
    assert_int_equal(cluster_decode("{\"hostset\": \"x\"}", &q), 400);
    assert_int_equal(cluster_decode("{\"hostset\": [1]}", &q), 400);
    assert_int_equal(cluster_decode("{\"name\": \"other\"}", &q), 400);
    assert_int_equal(cluster_decode("{\"name\": \"c1\"}", &q), 0);
    shim_cluster_req_done(&q);
}

static int members_decode(const char *body, struct shim_members_req *q) {
    struct shim_err e = { 0 };
    json_t *b = parse_ok(body);
    int rc = shim_members_req_decode(b, q, &e);

    json_decref(b);
    return rc < 0 ? e.status : 0;
}

static void test_members(void **state) {
    struct shim_members_req q = { 0 };
    struct shim_strv a = { 0 }, b = { 0 };

    (void)state;
    assert_int_equal(members_decode("{\"old\": [\"b\", \"a\", \"a\"], \"new\": []}", &q), 0);
    assert_int_equal(q.old_hosts.n, 2);
    assert_int_equal(q.new_hosts.n, 0);
    shim_members_req_done(&q);
    assert_int_equal(members_decode("{\"old\": []}", &q), 400);
    assert_int_equal(members_decode("{\"new\": []}", &q), 400);
    assert_int_equal(members_decode("{\"old\": null, \"new\": []}", &q), 400);
    assert_int_equal(members_decode("{\"old\": 5, \"new\": []}", &q), 400);
    assert_int_equal(members_decode("{\"old\": \"ab\", \"new\": []}", &q), 400);
    assert_int_equal(members_decode("{\"old\": [], \"new\": [\"a b\"]}", &q), 400);
    /* Set comparison: order and duplicates do not matter. */
    shim_strv_add(&a, "x");
    shim_strv_add(&a, "y");
    shim_strv_add(&b, "y");
    shim_strv_add(&b, "x");
    shim_strv_add(&b, "x");
    assert_true(shim_strv_set_equal(&a, &b));
    shim_strv_add(&b, "z");
    assert_false(shim_strv_set_equal(&a, &b));
    shim_strv_done(&a);
    shim_strv_done(&b);
}

static void test_deploy_named(void **state) {
    struct shim_err e = { 0 };
    struct shim_named_req q = { 0 };
    char *v = NULL;
    json_t *b;

    (void)state;
    b = parse_ok("{\"version\": \"7.2.6\"}");
    assert_int_equal(shim_deploy_req_decode(b, &v, &e), 0);
    assert_string_equal(v, "7.2.6");
    free(v);
    json_decref(b);
    const char *bad[] = { "{}", "{\"version\": 7.2}", "{\"version\": \"\"}",
                          "{\"version\": \"1;reboot\"}", "{\"version\": \"a b\"}",
                          "{\"version\": \"$(x)\"}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = parse_ok(bad[i]);
        assert_int_equal(shim_deploy_req_decode(b, &v, &e), -EINVAL);
        assert_int_equal(e.status, 400);
        json_decref(b);
    }

    b = parse_ok("{}");
    assert_int_equal(shim_network_req_decode(b, "n1", &q, &e), 0);
    assert_string_equal(q.type, "flannel_etcd");
    assert_int_equal(json_object_size(q.options), 0);
    shim_named_req_done(&q);
    assert_int_equal(shim_cm_req_decode(b, "cm", &q, &e), 0);
    assert_string_equal(q.type, "openshift");
    shim_named_req_done(&q);
    json_decref(b);
    b = parse_ok("{\"type\": \"flannel_server\", \"options\": {\"address\": \"1.2.3.4:8080\"}}");
    assert_int_equal(shim_network_req_decode(b, "n1", &q, &e), 0);
    assert_string_equal(json_string_value(json_object_get(q.options, "address")), "1.2.3.4:8080");
    shim_named_req_done(&q);
    json_decref(b);
    const char *badnet[] = { "{\"type\": \"flanneld_service\"}", "{\"options\": []}",
                             "{\"type\": 1}", "{\"name\": \"n2\"}" };
    for (size_t i = 0; i < sizeof badnet / sizeof badnet[0]; i++) {
        b = parse_ok(badnet[i]);
        assert_int_equal(shim_network_req_decode(b, "n1", &q, &e), -EINVAL);
        json_decref(b);
    }
    const char *goodcm[] = { "{\"type\": \"kubernetes\"}", "{\"type\": \"trivial\"}",
                             "{\"options\": {\"server_url\": \"https://x\", \"token\": \"t\", "
                             "\"insecure_skip_tls_verify\": true, \"extra\": [1]}}" };
    for (size_t i = 0; i < sizeof goodcm / sizeof goodcm[0]; i++) {
        b = parse_ok(goodcm[i]);
        assert_int_equal(shim_cm_req_decode(b, "cm", &q, &e), 0);
        shim_named_req_done(&q);
        json_decref(b);
    }
    const char *badcm[] = { "{\"type\": \"swarm\"}", "{\"options\": {\"server_url\": 1}}",
                            "{\"options\": {\"token\": {}}}",
                            "{\"options\": {\"insecure_skip_tls_verify\": \"yes\"}}" };
    for (size_t i = 0; i < sizeof badcm / sizeof badcm[0]; i++) {
        b = parse_ok(badcm[i]);
        assert_int_equal(shim_cm_req_decode(b, "cm", &q, &e), -EINVAL);
        json_decref(b);
    }
}

static void test_reasons(void **state) {
    struct shim_err e = { 0 };

    (void)state;
    assert_string_equal(shim_http_reason(400), "Bad Request");
    assert_string_equal(shim_http_reason(403), "Forbidden");
    assert_string_equal(shim_http_reason(404), "Not Found");
    assert_string_equal(shim_http_reason(405), "Method Not Allowed");
    assert_string_equal(shim_http_reason(409), "Conflict");
    assert_string_equal(shim_http_reason(413), "Request Entity Too Large");
    assert_string_equal(shim_http_reason(599), "Error");
    shim_err_set(&e, 409, "x %d", 5);
    assert_int_equal(e.status, 409);
    assert_string_equal(e.msg, "x 5");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_outcomes), cmocka_unit_test(test_base64),
        cmocka_unit_test(test_host),          cmocka_unit_test(test_cluster),
        cmocka_unit_test(test_members),       cmocka_unit_test(test_deploy_named),
        cmocka_unit_test(test_reasons),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
