/* Watch and informer against a miniature API server (list + watch with history, 410 when the
 * history was dropped, fault switches): reconnect resumes from the last resourceVersion
 * (bookmarks included) without losing or duplicating events, HTTP 410 and ERROR-410 events
 * lead to a relist, the idle timeout reconnects, stop is prompt, and the informer's cache,
 * indexes, handlers, relist diff and resync behave. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_error.h"
#include "kube_informer.h"
#include "kube_watch.h"
#include "test_kube_mock.h"

/* ---- the miniature API server ----------------------------------------------------------- */

#define LOG_MAX 256
struct ev {
    char type[12];
    json_t *obj;
    long rv;
};

static struct {
    pthread_mutex_t lock;
    long rv;          /* current resourceVersion */
    long history_min; /* watches from below this get 410 */
    json_t *objects;  /* name -> object */
    struct ev log[LOG_MAX];
    int n_log;
    int close_gen;    /* bumping it ends all open watches */
    int idle_next;    /* the next watch sends nothing at all */
    int error410_next; /* the next watch sends an ERROR 410 event */
    int bookmark_next; /* the open watch sends a BOOKMARK at the current rv once caught up */
    long watch_rvs[64]; /* resourceVersion requested by each watch */
    int n_watches;
    int lists;
} A = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void api_reset(void) {
    pthread_mutex_lock(&A.lock);
    json_decref(A.objects);
    for (int i = 0; i < A.n_log; i++)
        json_decref(A.log[i].obj);
    A.objects = json_object();
    A.rv = 1;
    A.history_min = 0;
    A.n_log = 0;
    A.close_gen = 0;
    A.idle_next = A.error410_next = A.bookmark_next = 0;
    A.n_watches = 0;
    A.lists = 0;
    pthread_mutex_unlock(&A.lock);
}

/* Creates/updates (labels may be NULL) or deletes (del) an object, logging the event. */
static void api_write(const char *name, const char *label_app, const char *data, int del) {
    pthread_mutex_lock(&A.lock);
    A.rv++;
    char rv[32];
    snprintf(rv, sizeof(rv), "%ld", A.rv);
    json_t *old = json_object_get(A.objects, name);
    const char *type;
    json_t *obj;
    if (del) {
        obj = json_deep_copy(old);
        cm_json_set(obj, "metadata.resourceVersion", json_string(rv));
        json_object_del(A.objects, name);
        type = "DELETED";
    } else {
        obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind",
                        "ConfigMap", "metadata", "name", name, "namespace", "ns1",
                        "resourceVersion", rv, "data", "v", data);
        if (label_app)
            cm_json_set(obj, "metadata.labels", json_pack("{s:s}", "app", label_app));
        type = old ? "MODIFIED" : "ADDED";
        json_object_set(A.objects, name, obj);
    }
    assert_true(A.n_log < LOG_MAX);
    struct ev *e = &A.log[A.n_log++];
    snprintf(e->type, sizeof(e->type), "%s", type);
    e->obj = obj;
    e->rv = A.rv;
    pthread_mutex_unlock(&A.lock);
}

/* A write elsewhere (another namespace): the resourceVersion moves, this watch sees nothing. */
static void api_bump(void) {
    pthread_mutex_lock(&A.lock);
    A.rv++;
    pthread_mutex_unlock(&A.lock);
}

static long query_rv(const char *path) {
    const char *p = strstr(path, "resourceVersion=");
    return p ? strtol(p + 16, NULL, 10) : -1;
}

static int peer_closed(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) > 0) {
        char c;
        return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
    }
    return 0;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int serve_watch(struct mock *m, int fd, const char *path) {
    long from = query_rv(path);
    pthread_mutex_lock(&A.lock);
    if (A.n_watches < 64)
        A.watch_rvs[A.n_watches++] = from;
    int gen = A.close_gen;
    int idle = A.idle_next, err410 = A.error410_next;
    A.idle_next = A.error410_next = 0;
    int gone = from >= 0 && from < A.history_min;
    pthread_mutex_unlock(&A.lock);
    if (gone) {
        mock_reply(fd, 410, NULL,
                   "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old resource version\"}");
        return 0;
    }
    mock_chunked_start(fd);
    if (err410) {
        mock_chunk(fd, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n");
        mock_chunked_end(fd);
        return 0;
    }
    long sent = from < 0 ? 0 : from;
    while (!mock_stopping(m)) {
        if (peer_closed(fd))
            return 1;
        pthread_mutex_lock(&A.lock);
        if (A.close_gen != gen) {
            pthread_mutex_unlock(&A.lock);
            mock_chunked_end(fd);
            return 0;
        }
        char *out = NULL;
        for (int i = 0; !idle && i < A.n_log && !out; i++) {
            if (A.log[i].rv > sent) {
                json_t *e = json_pack("{s:s,s:O}", "type", A.log[i].type, "object", A.log[i].obj);
                char *s = json_dumps(e, JSON_COMPACT);
                json_decref(e);
                size_t n = strlen(s);
                out = malloc(n + 2);
                memcpy(out, s, n);
                out[n] = '\n';
                out[n + 1] = '\0';
                free(s);
                sent = A.log[i].rv;
            }
        }
        if (!out && !idle && A.bookmark_next) {
            /* caught up: every event up to A.rv was sent, so a bookmark may say so */
            A.bookmark_next = 0;
            out = malloc(160);
            snprintf(out, 160, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"%ld\"}}}\n", A.rv);
            sent = A.rv;
        }
        pthread_mutex_unlock(&A.lock);
        if (out) {
            /* split every event in two chunks to exercise the decoder across writes */
            size_t half = strlen(out) / 2;
            char c = out[half];
            out[half] = '\0';
            int r = mock_chunk(fd, out);
            out[half] = c;
            if (r == 0)
                r = mock_chunk(fd, out + half);
            free(out);
            if (r < 0)
                return 1;
            continue;
        }
        sleep_ms(5);
    }
    return 1;
}

static int api_handler(struct mock *m, int fd, const struct mock_req *req, void *ud) {
    (void)ud;
    if (strncmp(req->path, "/api/v1/namespaces/ns1/configmaps", 33) != 0) {
        mock_reply(fd, 404, NULL, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
        return 0;
    }
    if (strstr(req->path, "watch=true"))
        return serve_watch(m, fd, req->path);
    pthread_mutex_lock(&A.lock);
    A.lists++;
    json_t *items = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(A.objects, k, v) json_array_append(items, v);
    char rv[32];
    snprintf(rv, sizeof(rv), "%ld", A.rv);
    json_t *list = json_pack("{s:s,s:{s:s},s:o}", "kind", "ConfigMapList", "metadata",
                             "resourceVersion", rv, "items", items);
    pthread_mutex_unlock(&A.lock);
    char *s = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    mock_reply(fd, 200, NULL, s);
    free(s);
    return 0;
}

/* ---- fixture ---------------------------------------------------------------------------- */

struct fixture {
    struct mock *m;
    struct kube_client *c;
    char dir[64];
    struct kube_watch *w;      /* freed by teardown even when an assertion failed */
    struct kube_informer *inf; /* same */
};
static struct fixture *cur_fixture;

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    api_reset();
    f->m = mock_start(api_handler, NULL);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_kube_watch.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char kc[128];
    snprintf(kc, sizeof(kc), "%s/kc", f->dir);
    mock_write_kubeconfig(f->m, kc, "t", NULL);
    struct kube_config *cfg = NULL;
    assert_int_equal(kube_config_load_file(kc, NULL, &cfg, NULL), 0);
    struct kube_client_options o;
    kube_client_options_init(&o);
    o.qps = 0;
    o.backoff_base_ms = 10;
    assert_int_equal(kube_client_new(cfg, &o, &f->c, NULL), 0);
    kube_config_free(cfg);
    *state = f;
    cur_fixture = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    kube_watch_free(f->w);
    kube_informer_free(f->inf);
    kube_client_free(f->c);
    mock_stop(f->m);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    api_reset();
    free(f);
    return 0;
}

/* Waits up to ms for cond() to become true. */
static int eventually(int (*cond)(void *), void *arg, int ms) {
    int64_t until = cm_time_mono_ms() + ms;
    while (cm_time_mono_ms() < until) {
        if (cond(arg))
            return 1;
        sleep_ms(5);
    }
    return cond(arg);
}

/* ---- watch tests ------------------------------------------------------------------------ */

struct seen {
    pthread_mutex_t lock;
    char names[128][32]; /* "TYPE name data" per event */
    int n;
    int relists;
    long relist_rv;
};

static int on_event(enum kube_watch_event_type t, json_t *obj, void *ud) {
    struct seen *s = ud;
    if (t == KUBE_WATCH_BOOKMARK)
        return 0;
    pthread_mutex_lock(&s->lock);
    if (s->n < 128)
        snprintf(s->names[s->n++], 32, "%s %s %s", kube_watch_event_type_name(t),
                 cm_json_get_str(obj, "metadata.name"), cm_json_get_str(obj, "data.v"));
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int on_relist(char **ret_rv, void *ud) {
    struct seen *s = ud;
    pthread_mutex_lock(&A.lock);
    long rv = A.rv;
    pthread_mutex_unlock(&A.lock);
    pthread_mutex_lock(&s->lock);
    s->relists++;
    s->relist_rv = rv;
    pthread_mutex_unlock(&s->lock);
    char b[32];
    snprintf(b, sizeof(b), "%ld", rv);
    *ret_rv = strdup(b);
    return 0;
}

static int seen_n;
static int has_n(void *arg) {
    struct seen *s = arg;
    pthread_mutex_lock(&s->lock);
    int ok = s->n >= seen_n;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static int watches_at_least(void *arg) {
    int want = *(int *)arg;
    pthread_mutex_lock(&A.lock);
    int ok = A.n_watches >= want;
    pthread_mutex_unlock(&A.lock);
    return ok;
}

static int rv_is_5(void *arg) {
    char *rv = kube_watch_resource_version(arg);
    int ok = rv && strcmp(rv, "5") == 0;
    free(rv);
    return ok;
}

static struct kube_watch *start_watch(struct fixture *f, struct seen *s, const char *rv,
                                      int relist, int64_t idle_ms) {
    struct kube_watch_options o;
    kube_watch_options_init(&o);
    o.ns = "ns1";
    o.resource_version = rv;
    o.event_cb = on_event;
    o.relist_cb = relist ? on_relist : NULL;
    o.userdata = s;
    o.backoff_base_ms = 10;
    o.backoff_cap_ms = 100;
    if (idle_ms)
        o.idle_timeout_ms = idle_ms;
    struct kube_watch *w = NULL;
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_watch_start(f->c, &KUBE_RES_CONFIGMAPS, &o, &w, &e), 0);
    kube_error_done(&e);
    f->w = w;
    return w;
}

static void test_watch_reconnect_exactly_once(void **state) {
    struct fixture *f = *state;
    struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    api_write("a", NULL, "1", 0); /* rv 2 */
    struct kube_watch *w = start_watch(f, &s, "2", 0, 0);
    api_write("b", NULL, "1", 0); /* rv 3 */
    api_write("a", NULL, "2", 0); /* rv 4 */
    seen_n = 2;
    assert_true(eventually(has_n, &s, 3000));
    /* rv moves to 5 without an event for us; a bookmark tells the watch */
    api_bump();
    pthread_mutex_lock(&A.lock);
    A.bookmark_next = 1;
    pthread_mutex_unlock(&A.lock);
    assert_true(eventually(rv_is_5, w, 3000));
    /* the server ends every watch; events written meanwhile must arrive once */
    pthread_mutex_lock(&A.lock);
    A.close_gen++;
    pthread_mutex_unlock(&A.lock);
    api_write("c", NULL, "1", 0); /* rv 6 */
    int two = 2;
    assert_true(eventually(watches_at_least, &two, 3000));
    seen_n = 3;
    assert_true(eventually(has_n, &s, 3000));
    api_write("b", NULL, "2", 0); /* rv 7 */
    mock_drop_connections(f->m); /* an abrupt close this time */
    api_write("b", NULL, "", 1);  /* rv 8: delete */
    seen_n = 5;
    if (!eventually(has_n, &s, 5000)) {
        for (int i = 0; i < s.n; i++)
            fprintf(stderr, "seen %s\n", s.names[i]);
        for (int i = 0; i < A.n_watches; i++)
            fprintf(stderr, "watch rv %ld\n", A.watch_rvs[i]);
        struct kube_error e;
        kube_error_init(&e);
        kube_watch_last_error(w, &e);
        fprintf(stderr, "last error %d %s\n", e.http_code, e.message);
        kube_error_done(&e);
        fail();
    }
    sleep_ms(100);
    kube_watch_stop(w);
    const char *want[] = {"ADDED b 1", "MODIFIED a 2", "ADDED c 1", "MODIFIED b 2", "DELETED b 2"};
    assert_int_equal(s.n, 5); /* nothing duplicated */
    for (int i = 0; i < 5; i++)
        assert_string_equal(s.names[i], want[i]);
    /* every reconnect resumed from the last resourceVersion seen, the bookmark's included */
    assert_int_equal(A.watch_rvs[0], 2);
    assert_int_equal(A.watch_rvs[1], 5);
    char *rv = kube_watch_resource_version(w);
    assert_string_equal(rv, "8");
    free(rv);
    struct kube_watch_stats st;
    kube_watch_get_stats(w, &st);
    assert_true(st.connects >= 3);
    kube_watch_free(w);
    f->w = NULL;
}

static void test_watch_gone_relists(void **state) {
    struct fixture *f = *state;
    struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    api_write("a", NULL, "1", 0); /* rv 2 */
    api_write("a", NULL, "2", 0); /* rv 3 */
    pthread_mutex_lock(&A.lock);
    A.history_min = 3; /* watching from 2 is too old */
    pthread_mutex_unlock(&A.lock);
    struct kube_watch *w = start_watch(f, &s, "2", 1, 0);
    int two = 2;
    assert_true(eventually(watches_at_least, &two, 3000));
    pthread_mutex_lock(&s.lock);
    assert_int_equal(s.relists, 1);
    pthread_mutex_unlock(&s.lock);
    assert_int_equal(A.watch_rvs[1], 3); /* resumed from the relist's rv */
    /* now an ERROR 410 event in the stream */
    pthread_mutex_lock(&A.lock);
    A.error410_next = 1;
    A.close_gen++;
    pthread_mutex_unlock(&A.lock);
    int four = 4;
    assert_true(eventually(watches_at_least, &four, 3000));
    pthread_mutex_lock(&s.lock);
    assert_int_equal(s.relists, 2);
    pthread_mutex_unlock(&s.lock);
    struct kube_watch_stats st;
    kube_watch_get_stats(w, &st);
    assert_int_equal(st.gone, 2);
    assert_int_equal(st.relists, 2);
    kube_watch_free(w);
    f->w = NULL;

    /* without relist_cb a 410 ends the watch */
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    w = start_watch(f, &s, "1", 0, 0);
    int64_t until = cm_time_mono_ms() + 3000;
    while (kube_watch_is_running(w) && cm_time_mono_ms() < until)
        sleep_ms(5);
    assert_false(kube_watch_is_running(w));
    struct kube_error e;
    kube_error_init(&e);
    assert_int_equal(kube_watch_last_error(w, &e), -ERANGE);
    assert_true(kube_error_is_gone(&e));
    kube_error_done(&e);
    kube_watch_free(w);
    f->w = NULL;
}

static void test_watch_idle_timeout_and_stop(void **state) {
    struct fixture *f = *state;
    struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_mutex_lock(&A.lock);
    A.idle_next = 1;
    pthread_mutex_unlock(&A.lock);
    api_write("a", NULL, "1", 0); /* rv 2, withheld by the idle watch */
    struct kube_watch *w = start_watch(f, &s, "1", 0, 300);
    seen_n = 1;
    /* the idle connection is dropped after 300 ms and the event comes on the next one */
    assert_true(eventually(has_n, &s, 3000));
    struct kube_watch_stats st;
    kube_watch_get_stats(w, &st);
    assert_int_equal(st.idle_timeouts, 1);
    assert_int_equal(A.watch_rvs[1], 1);
    /* stop is prompt while a connection is open and quiet */
    int64_t t0 = cm_time_mono_ms();
    kube_watch_stop(w);
    assert_true(cm_time_mono_ms() - t0 < 1000);
    assert_false(kube_watch_is_running(w));
    kube_watch_free(w);
    f->w = NULL;
}

/* ---- informer tests --------------------------------------------------------------------- */

struct counts {
    pthread_mutex_t lock;
    int adds, updates, deletes, resync_updates;
    char last_update_old[16], last_update_new[16];
};

static void inf_add(json_t *o, void *ud) {
    struct counts *c = ud;
    (void)o;
    pthread_mutex_lock(&c->lock);
    c->adds++;
    pthread_mutex_unlock(&c->lock);
}

static void inf_update(json_t *old, json_t *nw, void *ud) {
    struct counts *c = ud;
    pthread_mutex_lock(&c->lock);
    if (old == nw) {
        c->resync_updates++;
    } else {
        c->updates++;
        snprintf(c->last_update_old, 16, "%s", cm_json_get_str(old, "data.v"));
        snprintf(c->last_update_new, 16, "%s", cm_json_get_str(nw, "data.v"));
    }
    pthread_mutex_unlock(&c->lock);
}

static void inf_delete(json_t *o, void *ud) {
    struct counts *c = ud;
    (void)o;
    pthread_mutex_lock(&c->lock);
    c->deletes++;
    pthread_mutex_unlock(&c->lock);
}

struct want {
    struct counts *c;
    int adds, updates, deletes;
};

static int counts_are(void *arg) {
    struct want *w = arg;
    pthread_mutex_lock(&w->c->lock);
    int ok = w->c->adds == w->adds && w->c->updates == w->updates && w->c->deletes == w->deletes;
    pthread_mutex_unlock(&w->c->lock);
    return ok;
}

static struct kube_informer *start_informer(struct fixture *f, struct counts *c, int64_t resync) {
    struct kube_informer_options o;
    kube_informer_options_init(&o);
    o.ns = "ns1";
    o.resync_ms = resync;
    o.backoff_base_ms = 10;
    o.backoff_cap_ms = 100;
    struct kube_informer_handlers h = {inf_add, inf_update, inf_delete, c};
    struct kube_informer *inf = NULL;
    assert_int_equal(kube_informer_new(f->c, &KUBE_RES_CONFIGMAPS, &o, &h, &inf), 0);
    f->inf = inf;
    assert_int_equal(kube_informer_start(inf, NULL), 0);
    assert_int_equal(kube_informer_wait_synced(inf, 5000), 0);
    return inf;
}

static void test_informer_cache_and_relist_diff(void **state) {
    struct fixture *f = *state;
    struct counts c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    api_write("a", "web", "1", 0);
    api_write("b", "db", "1", 0);
    struct kube_informer *inf = start_informer(f, &c, 0);
    assert_true(kube_informer_has_synced(inf));
    assert_int_equal(kube_informer_count(inf), 2);
    struct want w = {&c, 2, 0, 0};
    assert_true(eventually(counts_are, &w, 1000));
    json_t *a = kube_informer_get(inf, "ns1", "a");
    assert_non_null(a);
    assert_string_equal(cm_json_get_str(a, "data.v"), "1");
    json_decref(a);
    assert_null(kube_informer_get(inf, "ns1", "zzz"));
    json_t *web = kube_informer_list_by_label(inf, "app", "web");
    assert_int_equal(json_array_size(web), 1);
    json_decref(web);
    json_t *ns = kube_informer_list_by_namespace(inf, "ns1");
    assert_int_equal(json_array_size(ns), 2);
    json_decref(ns);

    /* watch events: add, update (label moves index), delete */
    api_write("c", "web", "1", 0);
    api_write("a", "db", "2", 0);
    api_write("b", NULL, "", 1);
    w = (struct want){&c, 3, 1, 1};
    assert_true(eventually(counts_are, &w, 3000));
    assert_string_equal(c.last_update_old, "1");
    assert_string_equal(c.last_update_new, "2");
    web = kube_informer_list_by_label(inf, "app", "web");
    assert_int_equal(json_array_size(web), 1); /* only c now */
    assert_string_equal(cm_json_get_str(json_array_get(web, 0), "metadata.name"), "c");
    json_decref(web);
    json_t *db = kube_informer_list_by_label(inf, "app", "db");
    assert_int_equal(json_array_size(db), 1);
    json_decref(db);
    assert_null(kube_informer_get_key(inf, "ns1/b"));

    /* a reference taken before an update stays valid and unchanged after it */
    json_t *held = kube_informer_get(inf, "ns1", "c");

    /* while the watch is down, history is lost and objects change: relist must diff */
    pthread_mutex_lock(&A.lock);
    int lists_before = A.lists;
    pthread_mutex_unlock(&A.lock);
    api_write("d", "web", "1", 0); /* add */
    api_write("c", "web", "2", 0); /* update */
    api_write("a", NULL, "", 1);   /* delete */
    pthread_mutex_lock(&A.lock);
    A.history_min = A.rv + 1;
    A.close_gen++;
    pthread_mutex_unlock(&A.lock);
    /* events may arrive by watch or by relist depending on timing; either way each change is
     * delivered exactly once */
    w = (struct want){&c, 4, 2, 2};
    assert_true(eventually(counts_are, &w, 5000));
    sleep_ms(100);
    assert_true(counts_are(&w));
    assert_int_equal(kube_informer_count(inf), 2);
    assert_string_equal(cm_json_get_str(held, "data.v"), "1");
    json_decref(held);
    json_t *all = kube_informer_list(inf);
    assert_int_equal(json_array_size(all), 2);
    json_decref(all);
    (void)lists_before;
    kube_informer_free(inf);
    f->inf = NULL;
}

static void test_informer_relist_emits_diff(void **state) {
    struct fixture *f = *state;
    struct counts c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    api_write("a", NULL, "1", 0);
    api_write("b", NULL, "1", 0);
    api_write("c", NULL, "1", 0);
    struct kube_informer *inf = start_informer(f, &c, 0);
    struct want w = {&c, 3, 0, 0};
    assert_true(eventually(counts_are, &w, 1000));
    int one = 1;
    assert_true(eventually(watches_at_least, &one, 3000));
    /* make the watch see nothing (idle stream), change the store, drop the history, then end
     * the watch: the changes can only be learnt by the relist after 410 */
    pthread_mutex_lock(&A.lock);
    A.close_gen++;
    A.idle_next = 1;
    pthread_mutex_unlock(&A.lock);
    int two = 2;
    assert_true(eventually(watches_at_least, &two, 3000));
    api_write("a", NULL, "2", 0);
    api_write("b", NULL, "", 1);
    api_write("d", NULL, "1", 0);
    pthread_mutex_lock(&A.lock);
    A.history_min = A.rv + 1;
    A.close_gen++;
    pthread_mutex_unlock(&A.lock);
    w = (struct want){&c, 4, 1, 1};
    assert_true(eventually(counts_are, &w, 5000));
    struct kube_informer_stats st;
    kube_informer_get_stats(inf, &st);
    assert_int_equal(st.relists, 2);
    assert_string_equal(c.last_update_new, "2");
    json_t *d = kube_informer_get_key(inf, "ns1/d");
    assert_non_null(d);
    json_decref(d);
    kube_informer_free(inf);
    f->inf = NULL;
}

static int resynced(void *arg) {
    struct counts *c = arg;
    pthread_mutex_lock(&c->lock);
    int ok = c->resync_updates >= 4;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

static void test_informer_resync(void **state) {
    struct fixture *f = *state;
    struct counts c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    api_write("a", NULL, "1", 0);
    api_write("b", NULL, "1", 0);
    struct kube_informer *inf = start_informer(f, &c, 100);
    /* two objects re-delivered every 100 ms */
    assert_true(eventually(resynced, &c, 2000));
    assert_int_equal(c.updates, 0);
    kube_informer_stop(inf);
    pthread_mutex_lock(&c.lock);
    int n = c.resync_updates;
    pthread_mutex_unlock(&c.lock);
    sleep_ms(250);
    assert_int_equal(c.resync_updates, n); /* no handler after stop */
    assert_int_equal(kube_informer_count(inf), 2); /* cache still readable */
    kube_informer_free(inf);
    f->inf = NULL;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watch_reconnect_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_gone_relists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_idle_timeout_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_informer_cache_and_relist_diff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_informer_relist_emits_diff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_informer_resync, setup, teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(A.objects);
    return r;
}
