/* The REST client against a scripted HTTP server: auth header, retries on 429/503 with
 * Retry-After, no retry of a failed POST, Status errors, rate limiting, token rotation,
 * pagination, delete options, patch content types, metrics counters. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_time.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_error.h"
#include "test_kube_mock.h"

enum scenario { S_ECHO, S_429_ONCE, S_503_TWICE, S_500_ALWAYS, S_PAGES, S_404 };

struct script {
    pthread_mutex_t lock;
    enum scenario s;
    int calls;
    char last_path[2048], last_auth[512], last_ctype[128], last_method[16];
    char *last_body;
    int conns_seen; /* requests that were the first on their connection */
};
static struct script S = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int handler(struct mock *m, int fd, const struct mock_req *req, void *ud) {
    (void)m;
    (void)ud;
    pthread_mutex_lock(&S.lock);
    int n = S.calls++;
    if (req->conn_seq == 0)
        S.conns_seen++;
    snprintf(S.last_path, sizeof(S.last_path), "%s", req->path);
    snprintf(S.last_auth, sizeof(S.last_auth), "%s", req->auth);
    snprintf(S.last_ctype, sizeof(S.last_ctype), "%s", req->ctype);
    snprintf(S.last_method, sizeof(S.last_method), "%s", req->method);
    free(S.last_body);
    S.last_body = strdup(req->body);
    enum scenario s = S.s;
    pthread_mutex_unlock(&S.lock);
    const char *st429 = "{\"kind\":\"Status\",\"code\":429,\"reason\":\"TooManyRequests\"}";
    const char *st503 = "{\"kind\":\"Status\",\"code\":503,\"reason\":\"ServiceUnavailable\"}";
    const char *st500 = "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\",\"message\":\"boom\"}";
    switch (s) {
    case S_429_ONCE:
        if (n == 0) {
            mock_reply(fd, 429, "Retry-After: 1\r\n", st429);
            return 0;
        }
        break;
    case S_503_TWICE:
        if (n < 2) {
            mock_reply(fd, 503, NULL, st503);
            return 0;
        }
        break;
    case S_500_ALWAYS:
        mock_reply(fd, 500, NULL, st500);
        return 0;
    case S_404:
        mock_reply(fd, 404, NULL,
                   "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\",\"message\":\"configmaps \\\"x\\\" not found\"}");
        return 0;
    case S_PAGES: {
        char body[512];
        if (strstr(req->path, "continue=p2"))
            snprintf(body, sizeof(body), "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":{\"name\":\"c\"}}]}");
        else if (strstr(req->path, "continue=p1"))
            snprintf(body, sizeof(body), "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"p2\"},\"items\":[{\"metadata\":{\"name\":\"b\"}}]}");
        else
            snprintf(body, sizeof(body), "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"p1\"},\"items\":[{\"metadata\":{\"name\":\"a\"}}]}");
        mock_reply(fd, 200, NULL, body);
        return 0;
    }
    case S_ECHO:
        break;
    }
    mock_reply(fd, 200, NULL, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}");
    return 0;
}

struct fixture {
    struct mock *m;
    char dir[64];
    char kc[128];
    struct kube_client *c;
};

static struct kube_client *make_client(struct fixture *f, double qps, int burst,
                                       const char *token, const char *token_file) {
    mock_write_kubeconfig(f->m, f->kc, token, token_file);
    struct kube_config *cfg = NULL;
    struct kube_error e;
    kube_error_init(&e);
    int r = kube_config_load_file(f->kc, NULL, &cfg, &e);
    if (r < 0)
        fail_msg("config: %s", e.message);
    struct kube_client_options o;
    kube_client_options_init(&o);
    o.qps = qps;
    o.burst = burst;
    o.backoff_base_ms = 20;
    o.backoff_cap_ms = 2000;
    o.timeout_ms = 5000;
    struct kube_client *c = NULL;
    assert_int_equal(kube_client_new(cfg, &o, &c, &e), 0);
    kube_config_free(cfg);
    kube_error_done(&e);
    return c;
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_kube_client.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->kc, sizeof(f->kc), "%s/kc", f->dir);
    pthread_mutex_lock(&S.lock);
    S.s = S_ECHO;
    S.calls = 0;
    S.conns_seen = 0;
    pthread_mutex_unlock(&S.lock);
    f->m = mock_start(handler, NULL);
    f->c = make_client(f, 0, 0, "tok-1", NULL);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    kube_client_free(f->c);
    mock_stop(f->m);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(S.last_body);
    S.last_body = NULL;
    free(f);
    return 0;
}

static void set_scenario(enum scenario s) {
    pthread_mutex_lock(&S.lock);
    S.s = s;
    S.calls = 0;
    pthread_mutex_unlock(&S.lock);
}

static uint64_t stat_count(struct kube_client *c, const char *verb, int code) {
    struct kube_request_stat *st = NULL;
    size_t n = 0;
    assert_int_equal(kube_client_stats(c, &st, &n), 0);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].verb, verb) == 0 && st[i].code == code)
            v = st[i].count;
    free(st);
    return v;
}

static void test_get_auth_and_reuse(void **state) {
    struct fixture *f = *state;
    json_t *o = NULL;
    struct kube_error e;
    kube_error_init(&e);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kube_get(f->c, &KUBE_RES_CONFIGMAPS, "ns 1", "a/b", NULL, &o, &e), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")), "x");
        json_decref(o);
    }
    assert_string_equal(S.last_path, "/api/v1/namespaces/ns%201/configmaps/a%2Fb");
    assert_string_equal(S.last_auth, "Bearer tok-1");
    assert_string_equal(S.last_method, "GET");
    /* sequential requests reuse one connection */
    assert_int_equal(S.conns_seen, 1);
    assert_int_equal(stat_count(f->c, "GET", 200), 3);
    kube_error_done(&e);
}

static void test_retry_after_429(void **state) {
    struct fixture *f = *state;
    set_scenario(S_429_ONCE);
    int64_t t0 = cm_time_mono_ms();
    json_t *o = NULL;
    assert_int_equal(kube_get(f->c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &o, NULL), 0);
    json_decref(o);
    int64_t el = cm_time_mono_ms() - t0;
    assert_true(el >= 950); /* Retry-After: 1 honoured over the 20 ms backoff */
    assert_int_equal(S.calls, 2);
    assert_int_equal(stat_count(f->c, "GET", 429), 1);
    assert_int_equal(stat_count(f->c, "GET", 200), 1);
}

static void test_retry_503_and_post_500(void **state) {
    struct fixture *f = *state;
    set_scenario(S_503_TWICE);
    json_t *body = json_pack("{s:{s:s}}", "metadata", "name", "n");
    json_t *o = NULL;
    /* 503 means "not processed": even a POST is retried */
    assert_int_equal(kube_create(f->c, &KUBE_RES_CONFIGMAPS, "ns", body, NULL, &o, NULL), 0);
    json_decref(o);
    assert_int_equal(S.calls, 3);
    assert_string_equal(S.last_body, "{\"metadata\":{\"name\":\"n\"}}");
    assert_string_equal(S.last_ctype, "application/json");
    /* 500 on a POST is not retried (it may have been applied) */
    set_scenario(S_500_ALWAYS);
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_create(f->c, &KUBE_RES_CONFIGMAPS, "ns", body, NULL, &o, &e), -EIO);
    assert_int_equal(S.calls, 1);
    assert_int_equal(e.http_code, 500);
    assert_string_equal(e.message, "boom");
    /* 500 on a GET is retried up to max_retries (5) */
    set_scenario(S_500_ALWAYS);
    assert_int_equal(kube_get(f->c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &o, &e), -EIO);
    assert_int_equal(S.calls, 6);
    json_decref(body);
    kube_error_done(&e);
}

static void test_status_error(void **state) {
    struct fixture *f = *state;
    set_scenario(S_404);
    json_t *o = (json_t *)0x1;
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_get(f->c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &o, &e), -ENOENT);
    assert_ptr_equal(o, (json_t *)0x1); /* untouched on failure */
    assert_true(kube_error_is_not_found(&e));
    assert_string_equal(e.message, "configmaps \"x\" not found");
    assert_int_equal(S.calls, 1); /* 4xx is never retried */
    /* argument errors never reach the server */
    assert_int_equal(kube_get(f->c, &KUBE_RES_CONFIGMAPS, NULL, "x", NULL, &o, &e), -EINVAL);
    assert_int_equal(S.calls, 1);
    kube_error_done(&e);
}

static void test_rate_limit(void **state) {
    struct fixture *f = *state;
    struct kube_client *c = make_client(f, 5, 1, "t", NULL);
    int64_t t0 = cm_time_mono_ms();
    for (int i = 0; i < 3; i++) {
        json_t *o = NULL;
        assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &o, NULL), 0);
        json_decref(o);
    }
    /* burst 1 at 5 qps: two waits of 200 ms, whatever the requests themselves cost */
    int64_t el = cm_time_mono_ms() - t0;
    assert_true(el >= 390);
    /* the waiting is accounted (minus what the requests took: allow 150 ms each) */
    assert_true(kube_client_throttled_ms(c) >= 100);
    kube_client_free(c);
}

static void test_token_rotation(void **state) {
    struct fixture *f = *state;
    char tf[128];
    snprintf(tf, sizeof(tf), "%s/token", f->dir);
    FILE *fp = fopen(tf, "w");
    fputs("rot-1\n", fp);
    fclose(fp);
    struct kube_client *c = make_client(f, 0, 0, NULL, tf);
    json_t *o = NULL;
    assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &o, NULL), 0);
    json_decref(o);
    assert_string_equal(S.last_auth, "Bearer rot-1");
    fp = fopen(tf, "w");
    fputs("rotated-2\n", fp);
    fclose(fp);
    assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &o, NULL), 0);
    json_decref(o);
    assert_string_equal(S.last_auth, "Bearer rotated-2");
    kube_client_free(c);
}

static void test_list_all_pages(void **state) {
    struct fixture *f = *state;
    set_scenario(S_PAGES);
    json_t *l = NULL;
    struct kube_list_options lo = {.label_selector = "a=b", .limit = 1};
    assert_int_equal(kube_list_all(f->c, &KUBE_RES_CONFIGMAPS, "ns", &lo, &l, NULL), 0);
    json_t *items = json_object_get(l, "items");
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(items, 2), "metadata"), "name")), "c");
    assert_null(json_object_get(json_object_get(l, "metadata"), "continue"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion")), "10");
    assert_int_equal(S.calls, 3);
    assert_string_equal(S.last_path, "/api/v1/namespaces/ns/configmaps?labelSelector=a%3Db&limit=1&continue=p2");
    assert_int_equal(stat_count(f->c, "LIST", 200), 3);
    json_decref(l);
}

static void test_delete_and_patch(void **state) {
    struct fixture *f = *state;
    struct kube_delete_options d;
    kube_delete_options_init(&d);
    d.propagation_policy = "Foreground";
    d.precondition_resource_version = "42";
    assert_int_equal(kube_delete(f->c, &KUBE_RES_CONFIGMAPS, "ns", "x", &d, NULL, NULL), 0);
    assert_string_equal(S.last_method, "DELETE");
    json_t *b = json_loads(S.last_body, 0, NULL);
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(b, "propagationPolicy")), "Foreground");
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "preconditions"), "resourceVersion")), "42");
    assert_null(json_object_get(b, "gracePeriodSeconds"));
    json_decref(b);

    json_t *p = json_pack("[{s:s,s:s,s:s}]", "op", "replace", "path", "/data/a", "value", "1");
    struct kube_write_options w = {.field_manager = "commissaire"};
    assert_int_equal(kube_patch(f->c, &KUBE_RES_CONFIGMAPS, "ns", "x", "status", KUBE_PATCH_JSON, p, &w, NULL, NULL), 0);
    assert_string_equal(S.last_method, "PATCH");
    assert_string_equal(S.last_ctype, "application/json-patch+json");
    assert_string_equal(S.last_path, "/api/v1/namespaces/ns/configmaps/x/status?fieldManager=commissaire");
    json_decref(p);
    assert_string_equal(kube_patch_type_content_type(KUBE_PATCH_MERGE), "application/merge-patch+json");
    assert_string_equal(kube_patch_type_content_type(KUBE_PATCH_STRATEGIC), "application/strategic-merge-patch+json");
    assert_string_equal(kube_patch_type_content_type(KUBE_PATCH_APPLY), "application/apply-patch+yaml");

    json_t *v = NULL;
    assert_int_equal(kube_request(f->c, "GET", "/version", NULL, NULL, &v, NULL), 0);
    assert_string_equal(S.last_path, "/version");
    json_decref(v);
}

static void test_transport_error(void **state) {
    struct fixture *f = *state;
    struct kube_config cfg = {.server = (char *)"http://127.0.0.1:1"};
    struct kube_client_options o;
    kube_client_options_init(&o);
    o.max_retries = 2;
    o.backoff_base_ms = 10;
    struct kube_client *c = NULL;
    assert_int_equal(kube_client_new(&cfg, &o, &c, NULL), 0);
    struct kube_error e;
    kube_error_init(&e);
    json_t *x = NULL;
    assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &x, &e), -ECONNREFUSED);
    assert_true(kube_error_is_transport(&e));
    assert_int_equal(stat_count(c, "GET", 0), 3); /* first try + 2 retries */
    kube_error_done(&e);
    kube_client_free(c);
    (void)f;
}

struct par {
    struct kube_client *c;
    int fails;
};

static void *par_worker(void *arg) {
    struct par *p = arg;
    for (int i = 0; i < 25; i++) {
        json_t *o = NULL;
        if (kube_get(p->c, &KUBE_RES_CONFIGMAPS, "ns", "x", NULL, &o, NULL) != 0)
            p->fails++;
        json_decref(o);
    }
    return NULL;
}

static void test_threads_share_client(void **state) {
    struct fixture *f = *state;
    pthread_t th[4];
    struct par p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (struct par){.c = f->c};
        pthread_create(&th[i], NULL, par_worker, &p[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].fails, 0);
    }
    assert_int_equal(stat_count(f->c, "GET", 200), 100);
    /* the pool keeps connections: far fewer than one per request */
    assert_true(S.conns_seen <= 8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_auth_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_429, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_503_and_post_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_all_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_patch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_share_client, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
