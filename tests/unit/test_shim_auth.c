/* The authentication chain and the built-in plug-ins (spec §10.1–10.3, decisions 26), the
 * failure rate limit, and client-address handling behind trusted proxies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim_auth.h"
#include "shim_cidr.h"
#include "shim_ratelimit.h"
#include "shim_request.h"

static char hash[128];

static int setup(void **state) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data cd;
    const char *h;

    (void)state;
    memset(&cd, 0, sizeof cd);
    if (!crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof salt))
        return -1;
    h = crypt_rn("pw:with:colons", salt, &cd, sizeof cd);
    if (!h)
        return -1;
    snprintf(hash, sizeof hash, "%s", h);
    return 0;
}

static struct shim_auth *chain(const char *spec_json) {
    json_t *arr = json_loads(spec_json, 0, NULL), *e;
    struct shim_auth_spec specs[8];
    struct shim_auth *a = NULL;
    char err[256] = "", warn[256];
    size_t i, n = json_array_size(arr);

    assert_non_null(arr);
    json_array_foreach(arr, i, e) {
        specs[i].module = (char *)json_string_value(json_object_get(e, "name"));
        specs[i].options = json_object_get(e, "options");
    }
    if (shim_auth_new(specs, n, NULL, 0, NULL, &a, err, sizeof err, warn, sizeof warn) < 0)
        fail_msg("chain: %s", err);
    json_decref(arr);
    return a;
}

static enum shim_auth_verdict check(struct shim_auth *a, const char *authz, const char *cn,
                                    int fast) {
    struct shim_auth_header h[] = { { "authorization", authz } };
    struct shim_auth_req r = { "GET", "/api/v0/hosts", "127.0.0.1", cn, h, authz ? 1 : 0 };

    return fast ? shim_auth_check_fast(a, &r) : shim_auth_check(a, &r);
}

static char *basic(const char *userpass) {
    char *b64 = shim_base64_encode((const unsigned char *)userpass, strlen(userpass)), *out;

    if (asprintf(&out, "Basic %s", b64) < 0)
        out = NULL;
    free(b64);
    return out;
}

static void test_basic(void **state) {
    char spec[512];
    struct shim_auth *a;
    char *good = basic("alice:pw:with:colons"), *wrong = basic("alice:nope"),
         *nouser = basic("bob:pw:with:colons"), *nocolon = basic("alicepw");
    char bytesform[256];

    (void)state;
    snprintf(spec, sizeof spec,
             "[{\"name\": \"commissaire_http.authentication.httpbasicauth\", \"options\": "
             "{\"users\": {\"alice\": {\"hash\": \"%s\"}, \"broken\": {\"hash\": \"xx\"}}}}]",
             hash);
    a = chain(spec);
    assert_int_equal(shim_auth_count(a), 1);
    /* Before a successful verification the event loop cannot decide a Basic header. */
    assert_int_equal(check(a, good, NULL, 1), SHIM_AUTH_NEEDS_WORKER);
    assert_int_equal(check(a, good, NULL, 0), SHIM_AUTH_ACCEPT);
    /* ...afterwards it can (cached verification). */
    assert_int_equal(check(a, good, NULL, 1), SHIM_AUTH_ACCEPT);
    assert_int_equal(check(a, wrong, NULL, 0), SHIM_AUTH_DENY);
    assert_int_equal(check(a, wrong, NULL, 1), SHIM_AUTH_NEEDS_WORKER); /* failures not cached */
    assert_int_equal(check(a, nouser, NULL, 0), SHIM_AUTH_DENY);
    assert_int_equal(check(a, nocolon, NULL, 0), SHIM_AUTH_DENY);
    assert_int_equal(check(a, "Basic !!!", NULL, 0), SHIM_AUTH_DENY);
    assert_int_equal(check(a, "Bearer abc", NULL, 1), SHIM_AUTH_DENY);
    assert_int_equal(check(a, NULL, NULL, 1), SHIM_AUTH_DENY);
    assert_int_equal(check(a, "basic", NULL, 1), SHIM_AUTH_DENY);
    {
        char *b = basic("broken:x");

        assert_int_equal(check(a, b, NULL, 0), SHIM_AUTH_DENY);
        free(b);
    }
    /* Scheme word case-insensitive; commctl's kubeconfig-mode "Basic b'...'" form. */
    snprintf(bytesform, sizeof bytesform, "bAsIc %s", good + 6);
    assert_int_equal(check(a, bytesform, NULL, 0), SHIM_AUTH_ACCEPT);
    snprintf(bytesform, sizeof bytesform, "Basic b'%s'", good + 6);
    assert_int_equal(check(a, bytesform, NULL, 0), SHIM_AUTH_ACCEPT);
    shim_auth_free(a);
    free(good);
    free(wrong);
    free(nouser);
    free(nocolon);
}

static void test_cache_sliding(void **state) {
    char spec[512];
    struct shim_auth *a;
    char *good = basic("alice:pw:with:colons");

    (void)state;
    snprintf(spec, sizeof spec,
             "[{\"name\": \"httpbasicauth\", \"options\": {\"cache_ttl\": \"1\", "
             "\"users\": {\"alice\": {\"hash\": \"%s\"}}}}]",
             hash);
    a = chain(spec);
    assert_int_equal(check(a, good, NULL, 0), SHIM_AUTH_ACCEPT);
    /* Each use extends the verification: 3 x 0.6 s > the 1 s TTL, still cached. */
    for (int i = 0; i < 3; i++) {
        usleep(600 * 1000);
        assert_int_equal(check(a, good, NULL, 1), SHIM_AUTH_ACCEPT);
    }
    /* Unused for longer than the TTL: the event loop must ask a worker again. */
    usleep(1200 * 1000);
    assert_int_equal(check(a, good, NULL, 1), SHIM_AUTH_NEEDS_WORKER);
    shim_auth_free(a);
    free(good);
}

static void test_users_file(void **state) {
    char path[] = "/tmp/test_shim_users.XXXXXX", spec[512], warn[256], err[256];
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct shim_auth *a = NULL;
    struct shim_auth_spec s;
    char *good = basic("filed:pw:with:colons"), *inl = basic("inline:pw:with:colons");

    (void)state;
    fprintf(f, "{\"filed\": {\"hash\": \"%s\"}, \"inline\": {\"hash\": \"$2b$04$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}", hash);
    fclose(f);
    /* File users are merged over inline ones (REF). */
    snprintf(spec, sizeof spec,
             "[{\"name\": \"httpbasicauth\", \"options\": {\"filepath\": \"%s\", "
             "\"users\": \"{\\\"inline\\\": {\\\"hash\\\": \\\"%s\\\"}}\"}}]",
             path, hash);
    a = chain(spec);
    assert_int_equal(check(a, good, NULL, 0), SHIM_AUTH_ACCEPT);
    assert_int_equal(check(a, inl, NULL, 0), SHIM_AUTH_DENY);
    shim_auth_free(a);
    unlink(path);
    /* An unreadable file is a warning, not a start-up failure (REF logs and goes on). */
    s.module = "httpbasicauth";
    s.options = json_pack("{s:s}", "filepath", "/nonexistent/users.json");
    assert_int_equal(shim_auth_new(&s, 1, NULL, 0, NULL, &a, err, sizeof err, warn, sizeof warn), 0);
    assert_non_null(strstr(warn, "/nonexistent/users.json"));
    assert_int_equal(check(a, good, NULL, 0), SHIM_AUTH_DENY);
    shim_auth_free(a);
    json_decref(s.options);
    free(good);
    free(inl);
}

static void test_clientcert_and_chain(void **state) {
    struct shim_auth *a;
    char spec[512];
    char *good = basic("alice:pw:with:colons");

    (void)state;
    a = chain("[{\"name\": \"httpauthclientcert\", \"options\": {\"cn\": \"admin\"}}]");
    assert_int_equal(check(a, NULL, "admin", 1), SHIM_AUTH_ACCEPT);
    assert_int_equal(check(a, NULL, "other", 1), SHIM_AUTH_DENY);
    assert_int_equal(check(a, NULL, NULL, 0), SHIM_AUTH_DENY);
    shim_auth_free(a);
    a = chain("[{\"name\": \"httpauthclientcert\"}]"); /* any CN */
    assert_int_equal(check(a, NULL, "whoever", 1), SHIM_AUTH_ACCEPT);
    assert_int_equal(check(a, NULL, NULL, 1), SHIM_AUTH_DENY);
    shim_auth_free(a);
    /* Chain: the first plug-in that accepts wins; certificate OR password. */
    snprintf(spec, sizeof spec,
             "[{\"name\": \"httpauthclientcert\", \"options\": {\"cn\": \"admin\"}},"
             " {\"name\": \"httpbasicauth\", \"options\": {\"users\": {\"alice\": {\"hash\": \"%s\"}}}}]",
             hash);
    a = chain(spec);
    assert_int_equal(check(a, NULL, "admin", 1), SHIM_AUTH_ACCEPT);
    assert_int_equal(check(a, good, NULL, 0), SHIM_AUTH_ACCEPT);
    assert_int_equal(check(a, NULL, "other", 0), SHIM_AUTH_DENY);
    shim_auth_free(a);
    /* No plug-in: deny everything. */
    a = chain("[]");
    assert_int_equal(check(a, good, "admin", 0), SHIM_AUTH_DENY);
    assert_int_equal(check(a, good, "admin", 1), SHIM_AUTH_DENY);
    shim_auth_free(a);
    free(good);
}

static void test_bad_modules(void **state) {
    struct shim_auth *a = NULL;
    struct shim_auth_spec s = { "nosuchplugin", NULL };
    char err[256], warn[256];

    (void)state;
    assert_int_equal(shim_auth_new(&s, 1, NULL, 0, NULL, &a, err, sizeof err, warn, sizeof warn), -ENOENT);
    assert_non_null(strstr(err, "nosuchplugin"));
    assert_null(a);
    s.module = "/nonexistent/plugin.so";
    assert_int_equal(shim_auth_new(&s, 1, NULL, 0, NULL, &a, err, sizeof err, warn, sizeof warn), -ENOENT);
    /* A shared object without the entry point is refused. */
    s.module = "libm.so.6";
    assert_int_equal(shim_auth_new(&s, 1, NULL, 0, NULL, &a, err, sizeof err, warn, sizeof warn), -EINVAL);
    assert_non_null(strstr(err, "commissaire_shim_auth_plugin_v1"));
}

static void test_scheme(void **state) {
    (void)state;
    assert_string_equal(shim_auth_scheme("Bearer abc", "bearer"), "abc");
    assert_string_equal(shim_auth_scheme("  bearer   abc", "Bearer"), "abc");
    assert_null(shim_auth_scheme("Bearerabc", "bearer"));
    assert_null(shim_auth_scheme("bearer:abc", "bearer"));
    assert_null(shim_auth_scheme(NULL, "bearer"));
}

static void test_ratelimit(void **state) {
    struct shim_ratelimit *rl = shim_ratelimit_new(3, 1, 5000, 2);

    (void)state;
    /* Three free failures, then delays that grow with the debt, capped. */
    assert_int_equal(shim_ratelimit_fail(rl, "a", 0), 0);
    assert_int_equal(shim_ratelimit_fail(rl, "a", 0), 0);
    assert_int_equal(shim_ratelimit_fail(rl, "a", 0), 0);
    assert_int_equal(shim_ratelimit_fail(rl, "a", 0), 1000);
    assert_int_equal(shim_ratelimit_fail(rl, "a", 0), 2000);
    for (int i = 0; i < 10; i++)
        assert_true(shim_ratelimit_fail(rl, "a", 0) <= 5000);
    /* Another peer is not affected. */
    assert_int_equal(shim_ratelimit_fail(rl, "b", 0), 0);
    /* Time pays the debt back. */
    assert_int_equal(shim_ratelimit_fail(rl, "a", 60000), 0);
    /* The table is bounded: a third peer evicts the stalest. */
    assert_int_equal(shim_ratelimit_fail(rl, "c", 60000), 0);
    shim_ratelimit_free(rl);
}

static void test_cidr(void **state) {
    struct shim_cidr c[3];
    char out[64];

    (void)state;
    assert_int_equal(shim_cidr_parse("10.0.0.0/8", &c[0]), 0);
    assert_int_equal(shim_cidr_parse("127.0.0.1", &c[1]), 0);
    assert_int_equal(shim_cidr_parse("fd00::/8", &c[2]), 0);
    assert_true(shim_cidr_contains(&c[0], "10.2.3.4"));
    assert_false(shim_cidr_contains(&c[0], "11.2.3.4"));
    assert_true(shim_cidr_contains(&c[1], "::ffff:127.0.0.1"));
    assert_false(shim_cidr_contains(&c[1], "127.0.0.2"));
    assert_true(shim_cidr_contains(&c[2], "fd12::1"));
    assert_false(shim_cidr_contains(&c[2], "fe80::1"));
    assert_false(shim_cidr_contains(&c[0], "garbage"));
    assert_int_equal(shim_cidr_parse("10.0.0.0/33", &c[0]), -EINVAL);
    assert_int_equal(shim_cidr_parse("x/8", &c[0]), -EINVAL);
    assert_int_equal(shim_cidr_parse("10.0.0.0/", &c[0]), -EINVAL);
    shim_cidr_parse("10.0.0.0/8", &c[0]);

    assert_string_equal(shim_peer_normalize("::ffff:192.0.2.1", out, sizeof out), "192.0.2.1");
    /* Untrusted peer: X-Forwarded-For ignored. */
    assert_string_equal(shim_client_address("192.0.2.1", "1.1.1.1", c, 2, out, sizeof out), "192.0.2.1");
    /* Trusted proxy: the right-most entry that is not a trusted proxy. */
    assert_string_equal(shim_client_address("127.0.0.1", "1.1.1.1", c, 2, out, sizeof out), "1.1.1.1");
    assert_string_equal(shim_client_address("127.0.0.1", "6.6.6.6, 2.2.2.2, 10.1.1.1", c, 2, out, sizeof out),
                        "2.2.2.2");
    assert_string_equal(shim_client_address("127.0.0.1", "", c, 2, out, sizeof out), "127.0.0.1");
    assert_string_equal(shim_client_address("127.0.0.1", NULL, c, 2, out, sizeof out), "127.0.0.1");
    /* Garbage stops the walk: nothing to the left of it is believed. */
    assert_string_equal(shim_client_address("127.0.0.1", "1.1.1.1, junk", c, 2, out, sizeof out), "127.0.0.1");
    assert_string_equal(shim_client_address("::ffff:127.0.0.1", "3.3.3.3", c, 2, out, sizeof out), "3.3.3.3");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),     cmocka_unit_test(test_cache_sliding),
        cmocka_unit_test(test_users_file),
        cmocka_unit_test(test_clientcert_and_chain), cmocka_unit_test(test_bad_modules),
        cmocka_unit_test(test_scheme),    cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_cidr),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
