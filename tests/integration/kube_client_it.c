/* kube_client_it: the kube client library end to end against kube-lite (or a real cluster).
 *
 * Usage: kube_client_it KUBECONFIG [ADMIN_URL]
 * ADMIN_URL is kube-lite's fault-injection listener; without it (a real cluster) the tests that
 * need faults (watch close, history drop, injected 5xx/429, renew failures) are skipped and the
 * rest still run. Every test works in its own namespace, deleted at the end. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_b64.h"
#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_error.h"
#include "kube_events.h"
#include "kube_informer.h"
#include "kube_leader.h"
#include "kube_status.h"
#include "kube_watch.h"

static const char *g_kubeconfig;
static const char *g_admin; /* NULL: no fault injection */
static struct kube_client *g_c;
static char g_ns[64];

static const struct kube_resource HOSTS = {"commissaire.io", "v1alpha1", "hosts", 1};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int eventually(int (*cond)(void *), void *arg, int ms) {
    int64_t until = cm_time_mono_ms() + ms;
    while (cm_time_mono_ms() < until) {
        if (cond(arg))
            return 1;
        sleep_ms(20);
    }
    return cond(arg);
}

/* POSTs/DELETEs to kube-lite's admin listener. */
static void admin(const char *method, const char *path) {
    assert_non_null(g_admin);
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", g_admin, path);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, (size_t (*)(char *, size_t, size_t, void *))fwrite);
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, null);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    fclose(null);
    if (rc != CURLE_OK || code >= 300)
        fail_msg("admin %s %s: curl %d http %ld", method, path, rc, code);
}

#define NEED_FAULTS()                                                                            \
    do {                                                                                         \
        if (!g_admin)                                                                            \
            skip();                                                                              \
    } while (0)

static json_t *cm_body(const char *name, const char *label_k, const char *label_v,
                       const char *data_v) {
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind",
                          "ConfigMap", "metadata", "name", name, "namespace", g_ns, "data", "v",
                          data_v);
    if (label_k)
        cm_json_set(o, "metadata.labels", json_pack("{s:s}", label_k, label_v));
    return o;
}

static void create_cm(const char *name, const char *lk, const char *lv, const char *v) {
    json_t *b = cm_body(name, lk, lv, v);
    struct kube_error e;
    kube_error_init(&e);
    int r = kube_create(g_c, &KUBE_RES_CONFIGMAPS, g_ns, b, NULL, NULL, &e);
    if (r < 0)
        fail_msg("create %s: %d %s", name, r, e.message);
    kube_error_done(&e);
    json_decref(b);
}

static void set_cm_data(const char *name, const char *v) {
    json_t *p = json_pack("{s:{s:s}}", "data", "v", v);
    assert_int_equal(kube_patch(g_c, &KUBE_RES_CONFIGMAPS, g_ns, name, NULL, KUBE_PATCH_MERGE,
                                p, NULL, NULL, NULL), 0);
    json_decref(p);
}

static uint64_t stat_count(const char *verb, int code) {
    struct kube_request_stat *st = NULL;
    size_t n = 0;
    assert_int_equal(kube_client_stats(g_c, &st, &n), 0);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].verb, verb) == 0 && st[i].code == code)
            v = st[i].count;
    free(st);
    return v;
}

/* ---- setup ------------------------------------------------------------------------------ */

static int group_setup(void **state) {
    (void)state;
    struct kube_config *cfg = NULL;
    struct kube_error e;
    kube_error_init(&e);
    if (kube_config_load_file(g_kubeconfig, NULL, &cfg, &e) < 0) {
        fprintf(stderr, "kubeconfig: %s\n", e.message);
        return -1;
    }
    struct kube_client_options o;
    kube_client_options_init(&o);
    o.qps = 200;
    o.burst = 400;
    o.backoff_base_ms = 50;
    o.backoff_cap_ms = 2000;
    if (kube_client_new(cfg, &o, &g_c, &e) < 0) {
        fprintf(stderr, "client: %s\n", e.message);
        return -1;
    }
    kube_config_free(cfg);
    snprintf(g_ns, sizeof(g_ns), "kube-it-%d-%lld", (int)getpid(),
             (long long)(cm_time_wall_ms() % 100000));
    json_t *ns = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", g_ns);
    int r = kube_create(g_c, &KUBE_RES_NAMESPACES, NULL, ns, NULL, NULL, &e);
    json_decref(ns);
    if (r < 0) {
        fprintf(stderr, "create namespace: %s\n", e.message);
        return -1;
    }
    kube_error_done(&e);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (g_admin)
        admin("DELETE", "/faults/requests");
    kube_delete(g_c, &KUBE_RES_NAMESPACES, NULL, g_ns, NULL, NULL, NULL);
    kube_client_free(g_c);
    return 0;
}

/* ---- REST ------------------------------------------------------------------------------- */

static int conflict_injected;

/* Changes data.status on the object; on the first call it also has someone else update the
 * object behind our back, so that our PUT conflicts and must be retried. */
static int mutate_status(json_t *obj, void *ud) {
    int *calls = ud;
    (*calls)++;
    if (!conflict_injected) {
        conflict_injected = 1;
        set_cm_data("crud-a", "changed-by-other");
    }
    json_t *data = json_object_get(obj, "data");
    json_object_set_new(data, "status", json_string("ok"));
    return 0;
}

static void test_crud_conflict_patch(void **state) {
    (void)state;
    struct kube_error e;
    kube_error_init(&e);
    create_cm("crud-a", "app", "it", "1");
    /* duplicate create */
    json_t *dup = cm_body("crud-a", NULL, NULL, "1");
    assert_int_equal(kube_create(g_c, &KUBE_RES_CONFIGMAPS, g_ns, dup, NULL, NULL, &e), -EEXIST);
    assert_true(kube_error_is_already_exists(&e));
    json_decref(dup);

    json_t *a = NULL;
    assert_int_equal(kube_get(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "crud-a", NULL, &a, &e), 0);
    assert_string_equal(cm_json_get_str(a, "data.v"), "1");
    assert_non_null(cm_json_get_str(a, "metadata.uid"));

    /* list with a label selector and pagination */
    for (int i = 0; i < 5; i++) {
        char n[32];
        snprintf(n, sizeof(n), "page-%d", i);
        create_cm(n, "paged", "yes", "p");
    }
    json_t *l = NULL;
    struct kube_list_options lo = {.label_selector = "app=it"};
    assert_int_equal(kube_list(g_c, &KUBE_RES_CONFIGMAPS, g_ns, &lo, &l, &e), 0);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 1);
    json_decref(l);
    struct kube_list_options po = {.label_selector = "paged=yes", .limit = 2};
    assert_int_equal(kube_list(g_c, &KUBE_RES_CONFIGMAPS, g_ns, &po, &l, &e), 0);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 2);
    assert_non_null(cm_json_get_str(l, "metadata.continue"));
    json_decref(l);
    assert_int_equal(kube_list_all(g_c, &KUBE_RES_CONFIGMAPS, g_ns, &po, &l, &e), 0);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 5);
    json_decref(l);

    /* update with a stale resourceVersion conflicts */
    set_cm_data("crud-a", "2");
    json_object_set_new(json_object_get(a, "data"), "v", json_string("stale"));
    assert_int_equal(kube_update(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "crud-a", NULL, a, NULL, NULL, &e), -ESTALE);
    assert_true(kube_error_is_conflict(&e));
    assert_int_equal(e.http_code, 409);
    json_decref(a);

    /* the status helper retries the conflict by re-reading and re-applying */
    struct kube_status_options so;
    kube_status_options_init(&so);
    so.main_resource = 1; /* ConfigMaps have no status subresource */
    int calls = 0;
    json_t *out = NULL;
    assert_int_equal(kube_status_update(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "crud-a", &so,
                                        mutate_status, &calls, &out, &e), 0);
    assert_int_equal(calls, 2);
    assert_string_equal(cm_json_get_str(out, "data.status"), "ok");
    assert_string_equal(cm_json_get_str(out, "data.v"), "changed-by-other"); /* not lost */
    json_decref(out);

    /* merge patch and JSON patch */
    json_t *mp = json_pack("{s:{s:s}}", "data", "m", "merge");
    assert_int_equal(kube_patch(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "crud-a", NULL, KUBE_PATCH_MERGE, mp, NULL, &out, &e), 0);
    assert_string_equal(cm_json_get_str(out, "data.m"), "merge");
    json_decref(out);
    json_decref(mp);
    json_t *jp = json_pack("[{s:s,s:s,s:s},{s:s,s:s}]", "op", "add", "path", "/data/j", "value",
                           "json", "op", "remove", "path", "/data/m");
    assert_int_equal(kube_patch(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "crud-a", NULL, KUBE_PATCH_JSON, jp, NULL, &out, &e), 0);
    assert_string_equal(cm_json_get_str(out, "data.j"), "json");
    assert_null(cm_json_get_str(out, "data.m"));
    json_decref(out);
    json_decref(jp);

    /* delete with a failing precondition, then for real */
    struct kube_delete_options d;
    kube_delete_options_init(&d);
    d.precondition_uid = "00000000-0000-0000-0000-000000000000";
    assert_true(kube_delete(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "crud-a", &d, NULL, &e) < 0);
    assert_int_equal(e.http_code, 409);
    kube_delete_options_init(&d);
    d.propagation_policy = "Background";
    assert_int_equal(kube_delete(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "crud-a", &d, NULL, &e), 0);
    assert_int_equal(kube_get(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "crud-a", NULL, &a, &e), -ENOENT);
    assert_true(kube_error_is_not_found(&e));

    /* raw request */
    json_t *v = NULL;
    assert_int_equal(kube_request(g_c, "GET", "/version", NULL, NULL, &v, &e), 0);
    assert_non_null(cm_json_get_str(v, "gitVersion"));
    json_decref(v);
    kube_error_done(&e);
}

static int host_mutate(json_t *obj, void *ud) {
    (void)ud;
    struct kube_condition c = {.type = "Ready", .status = "False", .reason = "Investigating",
                               .message = "it", .observed_generation = 1};
    if (kube_status_condition_set(obj, &c, cm_time_wall_ms()) < 0)
        return -EINVAL;
    return cm_json_set(obj, "status.phase", json_string("investigating"));
}

static void test_status_subresource(void **state) {
    (void)state;
    json_t *h = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:{s:s}}}", "apiVersion",
                          "commissaire.io/v1alpha1", "kind", "Host", "metadata", "name", "h1",
                          "namespace", g_ns, "spec", "address", "192.0.2.10", "sshKeySecretRef",
                          "name", "k");
    struct kube_error e;
    kube_error_init(&e);
    int r = kube_create(g_c, &HOSTS, g_ns, h, NULL, NULL, &e);
    if (r < 0)
        fail_msg("create host: %d %s (are the CRDs applied?)", r, e.message);
    json_decref(h);
    json_t *out = NULL;
    assert_int_equal(kube_status_update(g_c, &HOSTS, g_ns, "h1", NULL, host_mutate, NULL, &out, &e), 0);
    assert_string_equal(cm_json_get_str(out, "status.phase"), "investigating");
    assert_non_null(kube_status_condition_get(out, "Ready"));
    json_decref(out);
    /* a status write via the main resource does not change status (the subresource is
     * separate), which proves the helper used /status */
    json_t *g = NULL;
    assert_int_equal(kube_get(g_c, &HOSTS, g_ns, "h1", NULL, &g, &e), 0);
    assert_string_equal(cm_json_get_str(g, "status.phase"), "investigating");
    json_decref(g);
    kube_error_done(&e);
}

static void test_retries_on_injected_errors(void **state) {
    (void)state;
    NEED_FAULTS();
    create_cm("retry-x", NULL, NULL, "1");
    char path[512];
    uint64_t before = stat_count("GET", 503);
    snprintf(path, sizeof(path),
             "/faults/requests?pathPrefix=/api/v1/namespaces/%s/configmaps/retry-x&method=GET&status=503&count=2",
             g_ns);
    admin("POST", path);
    json_t *o = NULL;
    assert_int_equal(kube_get(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "retry-x", NULL, &o, NULL), 0);
    json_decref(o);
    assert_int_equal(stat_count("GET", 503) - before, 2);
    admin("DELETE", "/faults/requests");
    /* 429 with Retry-After: 1 is waited for */
    snprintf(path, sizeof(path),
             "/faults/requests?pathPrefix=/api/v1/namespaces/%s/configmaps/retry-x&method=GET&status=429&retryAfter=1&count=1",
             g_ns);
    admin("POST", path);
    int64_t t0 = cm_time_mono_ms();
    assert_int_equal(kube_get(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "retry-x", NULL, &o, NULL), 0);
    json_decref(o);
    assert_true(cm_time_mono_ms() - t0 >= 900);
    admin("DELETE", "/faults/requests");
}

/* ---- watch ------------------------------------------------------------------------------ */

struct wlog {
    pthread_mutex_t lock;
    char ev[256][48];
    int n;
};

static int w_event(enum kube_watch_event_type t, json_t *obj, void *ud) {
    struct wlog *l = ud;
    if (t == KUBE_WATCH_BOOKMARK)
        return 0;
    pthread_mutex_lock(&l->lock);
    if (l->n < 256)
        snprintf(l->ev[l->n++], 48, "%s %s %s", kube_watch_event_type_name(t),
                 cm_json_get_str(obj, "metadata.name"), cm_json_get_str(obj, "data.v"));
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static int wl_want;
static int wl_has(void *arg) {
    struct wlog *l = arg;
    pthread_mutex_lock(&l->lock);
    int ok = l->n >= wl_want;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

static void test_watch_events_and_reconnect(void **state) {
    (void)state;
    json_t *l = NULL;
    struct kube_list_options lo = {.label_selector = "w=1"};
    assert_int_equal(kube_list(g_c, &KUBE_RES_CONFIGMAPS, g_ns, &lo, &l, NULL), 0);
    char rv[64];
    snprintf(rv, sizeof(rv), "%s", cm_json_get_str(l, "metadata.resourceVersion"));
    json_decref(l);
    struct wlog log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct kube_watch_options o;
    kube_watch_options_init(&o);
    o.ns = g_ns;
    o.label_selector = "w=1";
    o.resource_version = rv;
    o.event_cb = w_event;
    o.userdata = &log;
    o.backoff_base_ms = 50;
    o.backoff_cap_ms = 500;
    struct kube_watch *w = NULL;
    assert_int_equal(kube_watch_start(g_c, &KUBE_RES_CONFIGMAPS, &o, &w, NULL), 0);
    /* expected sequence, written in order */
    char expect[64][48];
    int n_expect = 0;
    for (int round = 0; round < 4; round++) {
        char name[16], v[16];
        snprintf(name, sizeof(name), "w%d", round);
        create_cm(name, "w", "1", "0");
        snprintf(expect[n_expect++], 48, "ADDED %s 0", name);
        uint64_t connects_before = 0;
        for (int k = 1; k <= 3; k++) {
            snprintf(v, sizeof(v), "%d", k);
            set_cm_data(name, v);
            snprintf(expect[n_expect++], 48, "MODIFIED %s %d", name, k);
            if (g_admin && k == 2) {
                /* wait until the watch has caught up so that it is open, then the server
                 * drops every watch; the next write happens while it reconnects */
                wl_want = n_expect;
                assert_true(eventually(wl_has, &log, 10000));
                struct kube_watch_stats st0;
                kube_watch_get_stats(w, &st0);
                connects_before = st0.connects;
                admin("POST", "/faults/watches/close");
            }
        }
        if (g_admin) {
            wl_want = n_expect;
            assert_true(eventually(wl_has, &log, 10000));
            struct kube_watch_stats st1;
            kube_watch_get_stats(w, &st1);
            assert_true(st1.connects > connects_before);
        }
    }
    assert_int_equal(kube_delete(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "w0", NULL, NULL, NULL), 0);
    snprintf(expect[n_expect++], 48, "DELETED w0 3");
    wl_want = n_expect;
    assert_true(eventually(wl_has, &log, 15000));
    sleep_ms(300); /* anything duplicated would arrive now */
    kube_watch_stop(w);
    assert_int_equal(log.n, n_expect);
    for (int i = 0; i < n_expect; i++)
        assert_string_equal(log.ev[i], expect[i]);
    struct kube_watch_stats st;
    kube_watch_get_stats(w, &st);
    if (g_admin)
        assert_true(st.connects >= 5); /* reconnected after each close */
    kube_watch_free(w);
}

/* ---- informer + 410 --------------------------------------------------------------------- */

struct icount {
    pthread_mutex_t lock;
    int adds, updates, deletes;
};

static void i_add(json_t *o, void *ud) {
    (void)o;
    struct icount *c = ud;
    pthread_mutex_lock(&c->lock);
    c->adds++;
    pthread_mutex_unlock(&c->lock);
}
static void i_update(json_t *a, json_t *b, void *ud) {
    (void)a;
    (void)b;
    struct icount *c = ud;
    pthread_mutex_lock(&c->lock);
    c->updates++;
    pthread_mutex_unlock(&c->lock);
}
static void i_delete(json_t *o, void *ud) {
    (void)o;
    struct icount *c = ud;
    pthread_mutex_lock(&c->lock);
    c->deletes++;
    pthread_mutex_unlock(&c->lock);
}

/* The informer's cache equals the server's list (names and resourceVersions). */
static int converged(void *arg) {
    struct kube_informer *inf = arg;
    json_t *l = NULL;
    struct kube_list_options lo = {.label_selector = "inf=yes"};
    if (kube_list_all(g_c, &KUBE_RES_CONFIGMAPS, g_ns, &lo, &l, NULL) < 0)
        return 0;
    json_t *items = json_object_get(l, "items");
    int ok = json_array_size(items) == kube_informer_count(inf);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *c = kube_informer_get(inf, g_ns, cm_json_get_str(it, "metadata.name"));
        if (!c || strcmp(cm_json_get_str(c, "metadata.resourceVersion"),
                         cm_json_get_str(it, "metadata.resourceVersion")) != 0)
            ok = 0;
        json_decref(c);
    }
    json_decref(l);
    return ok;
}

static void test_informer_relist_on_gone(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++) {
        char n[16];
        snprintf(n, sizeof(n), "inf-%d", i);
        create_cm(n, "inf", "yes", "0");
    }
    struct icount c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct kube_informer_options o;
    kube_informer_options_init(&o);
    o.ns = g_ns;
    o.label_selector = "inf=yes";
    o.page_limit = 2; /* exercise paging in the relist */
    o.backoff_base_ms = 50;
    o.backoff_cap_ms = 500;
    struct kube_informer_handlers h = {i_add, i_update, i_delete, &c};
    struct kube_informer *inf = NULL;
    assert_int_equal(kube_informer_new(g_c, &KUBE_RES_CONFIGMAPS, &o, &h, &inf), 0);
    assert_int_equal(kube_informer_start(inf, NULL), 0);
    assert_int_equal(kube_informer_wait_synced(inf, 10000), 0);
    assert_int_equal(kube_informer_count(inf), 3);
    assert_int_equal(c.adds, 3);
    json_t *byl = kube_informer_list_by_label(inf, "inf", "yes");
    assert_int_equal(json_array_size(byl), 3);
    json_decref(byl);

    char rule[512];
    if (g_admin) {
        /* Keep the watch down (its requests fail with 503) while objects change and the
         * history is dropped; when it comes back its resourceVersion is too old (410), so
         * only a relist can tell it what changed, as adds/updates/deletes from the diff. */
        snprintf(rule, sizeof(rule),
                 "/faults/requests?pathPrefix=/api/v1/namespaces/%s/configmaps&method=GET&status=503",
                 g_ns);
        admin("POST", rule);
        admin("POST", "/faults/watches/close");
        sleep_ms(300);
    }
    set_cm_data("inf-0", "1");
    assert_int_equal(kube_delete(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "inf-1", NULL, NULL, NULL), 0);
    create_cm("inf-3", "inf", "yes", "0");
    if (g_admin) {
        admin("POST", "/faults/history/drop");
        admin("DELETE", "/faults/requests");
    }
    assert_true(eventually(converged, inf, 15000));
    sleep_ms(300);
    pthread_mutex_lock(&c.lock);
    assert_int_equal(c.adds, 4);    /* inf-3 once */
    assert_int_equal(c.deletes, 1); /* inf-1 once */
    assert_true(c.updates >= 1);    /* inf-0 */
    pthread_mutex_unlock(&c.lock);
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    if (g_admin) {
        assert_int_equal(st.relists, 2);
        assert_int_equal(c.updates, 1); /* only inf-0 changed: unchanged objects not re-sent */
    }
    kube_informer_free(inf);
}

/* ---- leader election ---------------------------------------------------------------------- */

struct contender {
    const char *id;
    struct kube_leader *l;
    pthread_mutex_t lock;
    int started, stopped;
};

static void c_started(void *ud) {
    struct contender *c = ud;
    pthread_mutex_lock(&c->lock);
    c->started++;
    pthread_mutex_unlock(&c->lock);
}
static void c_stopped(void *ud) {
    struct contender *c = ud;
    pthread_mutex_lock(&c->lock);
    c->stopped++;
    pthread_mutex_unlock(&c->lock);
}

static void start_contender(struct contender *c, const char *lease, int release) {
    struct kube_leader_options o;
    kube_leader_options_init(&o);
    o.ns = g_ns;
    o.name = lease;
    o.identity = c->id;
    o.lease_duration_ms = 3000;
    o.renew_deadline_ms = 2000;
    o.retry_period_ms = 400;
    o.release_on_stop = release;
    o.started_leading_cb = c_started;
    o.stopped_leading_cb = c_stopped;
    o.userdata = c;
    struct kube_error e;
    kube_error_init(&e);
    int r = kube_leader_start(g_c, &o, &c->l, &e);
    if (r < 0)
        fail_msg("leader start: %s", e.message);
    kube_error_done(&e);
}

static struct contender *g_pair[2];
static int exactly_one_leads(void *arg) {
    (void)arg;
    return kube_leader_is_leader(g_pair[0]->l) + kube_leader_is_leader(g_pair[1]->l) == 1;
}
static int b_leads(void *arg) {
    return kube_leader_is_leader(((struct contender *)arg)->l);
}
static int a_stopped(void *arg) {
    struct contender *c = arg;
    pthread_mutex_lock(&c->lock);
    int s = c->stopped;
    pthread_mutex_unlock(&c->lock);
    return s > 0 && !kube_leader_is_leader(c->l);
}

static void test_leader_two_contenders(void **state) {
    (void)state;
    struct contender a = {.id = "it-a", .lock = PTHREAD_MUTEX_INITIALIZER};
    struct contender b = {.id = "it-b", .lock = PTHREAD_MUTEX_INITIALIZER};
    g_pair[0] = &a;
    g_pair[1] = &b;
    start_contender(&a, "it-lease", 1);
    start_contender(&b, "it-lease", 1);
    assert_true(eventually(exactly_one_leads, NULL, 5000));
    /* and it stays exactly one over several renewals */
    for (int i = 0; i < 10; i++) {
        sleep_ms(200);
        assert_true(exactly_one_leads(NULL));
    }
    struct contender *leader = kube_leader_is_leader(a.l) ? &a : &b;
    struct contender *other = leader == &a ? &b : &a;
    char *holder = kube_leader_holder(other->l);
    assert_string_equal(holder, leader->id);
    free(holder);
    /* a clean stop releases the lease: the other takes over well within the lease duration */
    int64_t t0 = cm_time_mono_ms();
    kube_leader_stop(leader->l);
    assert_int_equal(leader->stopped, 1);
    assert_true(eventually(b_leads, other, 3000));
    int64_t took = cm_time_mono_ms() - t0;
    fprintf(stderr, "takeover after release: %lld ms\n", (long long)took);
    assert_true(took < 3000);
    assert_int_equal(other->started, 1);
    kube_leader_free(leader->l);
    kube_leader_free(other->l);
    assert_int_equal(other->stopped, 1);
}

static void test_leader_expiry_and_lost_lease(void **state) {
    (void)state;
    struct contender a = {.id = "it-c", .lock = PTHREAD_MUTEX_INITIALIZER};
    struct contender b = {.id = "it-d", .lock = PTHREAD_MUTEX_INITIALIZER};
    g_pair[0] = &a;
    g_pair[1] = &b;
    /* a leads alone first; it stops WITHOUT releasing (a crash): b must wait for expiry */
    start_contender(&a, "it-lease2", 0);
    assert_true(eventually(b_leads, &a, 5000));
    start_contender(&b, "it-lease2", 1);
    sleep_ms(1000);
    assert_false(kube_leader_is_leader(b.l));
    int64_t t0 = cm_time_mono_ms();
    kube_leader_stop(a.l);
    assert_true(eventually(b_leads, &b, 6000));
    int64_t took = cm_time_mono_ms() - t0;
    fprintf(stderr, "takeover after expiry: %lld ms\n", (long long)took);
    assert_true(took >= 1500);           /* not before the lease could have expired */
    assert_true(took <= 3000 + 2 * 500 + 500); /* lease duration + retry jitter */
    kube_leader_free(a.l);
    if (!g_admin) {
        kube_leader_free(b.l);
        return;
    }
    /* renewals fail: b must give up leadership by its renew deadline */
    char path[512];
    snprintf(path, sizeof(path),
             "/faults/requests?pathPrefix=/apis/coordination.k8s.io/v1/namespaces/%s/leases&method=PUT&status=500",
             g_ns);
    admin("POST", path);
    t0 = cm_time_mono_ms();
    assert_true(eventually(a_stopped, &b, 6000));
    took = cm_time_mono_ms() - t0;
    fprintf(stderr, "stopped leading after renew failures: %lld ms\n", (long long)took);
    assert_true(took <= 2000 + 400 + 1000);
    admin("DELETE", "/faults/requests");
    kube_leader_free(b.l);
}

/* ---- events ------------------------------------------------------------------------------ */

static void test_events_aggregate(void **state) {
    (void)state;
    create_cm("ev-target", NULL, NULL, "1");
    json_t *obj = NULL;
    assert_int_equal(kube_get(g_c, &KUBE_RES_CONFIGMAPS, g_ns, "ev-target", NULL, &obj, NULL), 0);
    struct kube_events_options o;
    kube_events_options_init(&o);
    o.component = "kube-client-it";
    o.host = "testhost";
    struct kube_events *rec = NULL;
    assert_int_equal(kube_events_new(g_c, &o, &rec), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(kube_events_record(rec, obj, KUBE_EVENT_WARNING, "Unreachable", "host %s unreachable", "a"), 0);
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(kube_events_record(rec, obj, KUBE_EVENT_NORMAL, "Big", "%s", big), 0);
    assert_int_equal(kube_events_flush(rec, 10000), 0);
    struct kube_events_stats st;
    kube_events_get_stats(rec, &st);
    assert_int_equal(st.created, 2);
    assert_int_equal(st.aggregated, 2);
    assert_int_equal(st.failed, 0);
    kube_events_free(rec, 1000);
    json_decref(obj);

    json_t *l = NULL;
    assert_int_equal(kube_list(g_c, &KUBE_RES_EVENTS, g_ns, NULL, &l, NULL), 0);
    int seen_unreachable = 0, seen_big = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(l, "items"), i, ev) {
        const char *reason = cm_json_get_str(ev, "reason");
        if (strcmp(reason, "Unreachable") == 0) {
            seen_unreachable++;
            assert_int_equal(cm_json_get_int(ev, "count", 0), 3);
            assert_string_equal(cm_json_get_str(ev, "type"), "Warning");
            assert_string_equal(cm_json_get_str(ev, "involvedObject.name"), "ev-target");
            assert_string_equal(cm_json_get_str(ev, "involvedObject.kind"), "ConfigMap");
            assert_string_equal(cm_json_get_str(ev, "source.component"), "kube-client-it");
        } else if (strcmp(reason, "Big") == 0) {
            seen_big++;
            assert_int_equal(strlen(cm_json_get_str(ev, "message")), 1024);
        }
    }
    assert_int_equal(seen_unreachable, 1);
    assert_int_equal(seen_big, 1);
    json_decref(l);
}

/* ---- exec credential plugins ------------------------------------------------------------ */

/* A kubeconfig whose user is an exec plugin (path relative to the kubeconfig, as managed
 * clusters ship them). The plugin's first answer is a revoked token, its later ones the real
 * one: the client must take the 401, run the plugin again and succeed; kubectl must accept the
 * same kubeconfig. */
static void test_exec_plugin_reauth(void **state) {
    (void)state;
    struct kube_config *cfg = NULL;
    assert_int_equal(kube_config_load_file(g_kubeconfig, NULL, &cfg, NULL), 0);
    if (!cfg->token) {
        kube_config_free(cfg);
        skip(); /* a real cluster's user without a static token: nothing to hand the plugin */
    }
    char dir[] = "/tmp/kube-it-exec.XXXXXX", path[300], cmd[700];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/plugin", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\n"
          "d=$(dirname \"$0\")\n"
          "n=$(($(cat \"$d/runs\" 2>/dev/null || echo 0) + 1)); echo $n >\"$d/runs\"\n"
          "t=$GOOD; [ $n = 1 ] && t=revoked-token\n"
          "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
          "\"ExecCredential\",\"status\":{\"token\":\"%s\"}}\\n' \"$t\"\n",
          f);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    snprintf(path, sizeof path, "%s/kubeconfig", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: c\n"
               "  cluster:\n    server: %s\n", cfg->server);
    if (cfg->ca_file)
        fprintf(f, "    certificate-authority: %s\n", cfg->ca_file);
    if (cfg->ca_data) {
        char *b64 = NULL;
        assert_int_equal(cm_b64_encode(cfg->ca_data, cfg->ca_data_len, &b64), 0);
        fprintf(f, "    certificate-authority-data: %s\n", b64);
        free(b64);
    }
    if (cfg->insecure_skip_tls_verify)
        fprintf(f, "    insecure-skip-tls-verify: true\n");
    fprintf(f, "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
               "users:\n- name: u\n  user:\n    exec:\n"
               "      apiVersion: client.authentication.k8s.io/v1\n"
               "      command: ./plugin\n"
               "      interactiveMode: Never\n"
               "      env: [{name: GOOD, value: \"%s\"}]\n", cfg->token);
    fclose(f);
    kube_config_free(cfg);

    struct kube_config *ec = NULL;
    struct kube_client *c = NULL;
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_config_load_file(path, NULL, &ec, &e), 0);
    assert_int_equal(kube_client_new(ec, NULL, &c, &e), 0); /* run 1: the revoked token */
    kube_config_free(ec);
    json_t *ns = NULL;
    assert_int_equal(kube_get(c, &KUBE_RES_NAMESPACES, NULL, g_ns, NULL, &ns, &e), 0);
    assert_string_equal(cm_json_get_str(ns, "metadata.name"), g_ns);
    json_decref(ns);
    snprintf(cmd, sizeof cmd, "%s/runs", dir);
    f = fopen(cmd, "r");
    assert_non_null(f);
    int runs = 0;
    assert_int_equal(fscanf(f, "%d", &runs), 1);
    fclose(f);
    assert_int_equal(runs, 2); /* once at start, once after the 401, not per request */
    assert_int_equal(kube_get(c, &KUBE_RES_NAMESPACES, NULL, g_ns, NULL, &ns, &e), 0);
    json_decref(ns);
    kube_client_free(c);
    kube_error_done(&e);
    /* The reference client reads the same kubeconfig the same way. */
    snprintf(cmd, sizeof cmd, "kubectl --kubeconfig %s get namespace %s -o name >/dev/null",
             path, g_ns);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s KUBECONFIG [ADMIN_URL]\n", argv[0]);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_kubeconfig = argv[1];
    g_admin = argc > 2 && argv[2][0] ? argv[2] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud_conflict_patch),
        cmocka_unit_test(test_status_subresource),
        cmocka_unit_test(test_retries_on_injected_errors),
        cmocka_unit_test(test_watch_events_and_reconnect),
        cmocka_unit_test(test_informer_relist_on_gone),
        cmocka_unit_test(test_leader_two_contenders),
        cmocka_unit_test(test_leader_expiry_and_lost_lease),
        cmocka_unit_test(test_events_aggregate),
        cmocka_unit_test(test_exec_plugin_reauth),
    };
    int r = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return r;
}
