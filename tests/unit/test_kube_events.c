/* Event recorder against a scripted server: aggregation into count PATCHes, a new Event when
 * the old one is gone, message truncation on a UTF-8 boundary, and a full queue dropping (and
 * counting) instead of blocking the caller. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_events.h"
#include "test_kube_mock.h"

static struct {
    pthread_mutex_t lock;
    int posts, patches;
    int patch_404;  /* answer PATCH with 404 */
    int slow_ms;    /* delay every answer */
    json_t *last_post, *last_patch;
    char last_patch_path[2048];
} E = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int handler(struct mock *m, int fd, const struct mock_req *req, void *ud) {
    (void)m;
    (void)ud;
    pthread_mutex_lock(&E.lock);
    int slow = E.slow_ms, p404 = E.patch_404;
    pthread_mutex_unlock(&E.lock);
    if (slow) {
        struct timespec ts = {slow / 1000, (long)(slow % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    json_t *body = json_loads(req->body, 0, NULL);
    pthread_mutex_lock(&E.lock);
    if (strcmp(req->method, "POST") == 0) {
        E.posts++;
        json_decref(E.last_post);
        E.last_post = json_incref(body);
    } else if (strcmp(req->method, "PATCH") == 0) {
        E.patches++;
        json_decref(E.last_patch);
        E.last_patch = json_incref(body);
        snprintf(E.last_patch_path, sizeof(E.last_patch_path), "%s", req->path);
    }
    pthread_mutex_unlock(&E.lock);
    if (strcmp(req->method, "PATCH") == 0 && p404) {
        mock_reply(fd, 404, NULL, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
    } else {
        char *s = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
        mock_reply(fd, strcmp(req->method, "POST") == 0 ? 201 : 200, NULL, s);
        free(s);
    }
    json_decref(body);
    return 0;
}

struct fixture {
    struct mock *m;
    struct kube_client *c;
    char dir[64];
    struct kube_events *rec;
};

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    pthread_mutex_lock(&E.lock);
    E.posts = E.patches = E.patch_404 = E.slow_ms = 0;
    pthread_mutex_unlock(&E.lock);
    f->m = mock_start(handler, NULL);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_kube_events.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char kc[128];
    snprintf(kc, sizeof(kc), "%s/kc", f->dir);
    mock_write_kubeconfig(f->m, kc, "t", NULL);
    struct kube_config *cfg = NULL;
    assert_int_equal(kube_config_load_file(kc, NULL, &cfg, NULL), 0);
    struct kube_client_options o;
    kube_client_options_init(&o);
    o.qps = 0;
    o.max_retries = 0;
    assert_int_equal(kube_client_new(cfg, &o, &f->c, NULL), 0);
    kube_config_free(cfg);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    kube_events_free(f->rec, 0);
    kube_client_free(f->c);
    mock_stop(f->m);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    json_decref(E.last_post);
    json_decref(E.last_patch);
    E.last_post = E.last_patch = NULL;
    free(f);
    return 0;
}

static struct kube_events *new_rec(struct fixture *f, size_t queue_max) {
    struct kube_events_options o;
    kube_events_options_init(&o);
    o.component = "test";
    o.host = "h";
    o.queue_max = queue_max;
    assert_int_equal(kube_events_new(f->c, &o, &f->rec), 0);
    return f->rec;
}

static json_t *host_obj(void) {
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "apiVersion", "commissaire.io/v1alpha1",
                     "kind", "Host", "metadata", "name", "h1", "namespace", "commissaire",
                     "uid", "u-1", "resourceVersion", "7");
}

static void test_aggregation(void **state) {
    struct fixture *f = *state;
    struct kube_events *rec = new_rec(f, 16);
    json_t *h = host_obj();
    for (int i = 0; i < 3; i++)
        assert_int_equal(kube_events_record(rec, h, KUBE_EVENT_WARNING, "Unreachable", "ssh to %s failed", "h1"), 0);
    assert_int_equal(kube_events_flush(rec, 5000), 0);
    assert_int_equal(E.posts, 1);
    assert_int_equal(E.patches, 2);
    json_t *p = E.last_post;
    assert_string_equal(cm_json_get_str(p, "involvedObject.kind"), "Host");
    assert_string_equal(cm_json_get_str(p, "involvedObject.uid"), "u-1");
    assert_string_equal(cm_json_get_str(p, "involvedObject.namespace"), "commissaire");
    assert_string_equal(cm_json_get_str(p, "metadata.namespace"), "commissaire");
    assert_string_equal(cm_json_get_str(p, "type"), "Warning");
    assert_string_equal(cm_json_get_str(p, "message"), "ssh to h1 failed");
    assert_string_equal(cm_json_get_str(p, "source.component"), "test");
    assert_int_equal(cm_json_get_int(p, "count", 0), 1);
    assert_int_equal(cm_json_get_int(E.last_patch, "count", 0), 3);
    assert_non_null(cm_json_get_str(E.last_patch, "lastTimestamp"));
    char want[256];
    snprintf(want, sizeof(want), "/api/v1/namespaces/commissaire/events/%s",
             cm_json_get_str(p, "metadata.name"));
    assert_string_equal(E.last_patch_path, want);
    /* a different message is a different Event */
    assert_int_equal(kube_events_record(rec, h, KUBE_EVENT_WARNING, "Unreachable", "other"), 0);
    assert_int_equal(kube_events_flush(rec, 5000), 0);
    assert_int_equal(E.posts, 2);
    /* the aggregated Event expired on the server: a new one is created */
    E.patch_404 = 1;
    assert_int_equal(kube_events_record(rec, h, KUBE_EVENT_WARNING, "Unreachable", "other"), 0);
    assert_int_equal(kube_events_flush(rec, 5000), 0);
    assert_int_equal(E.posts, 3);
    struct kube_events_stats st;
    kube_events_get_stats(rec, &st);
    assert_int_equal(st.created, 3);
    assert_int_equal(st.aggregated, 2);
    assert_int_equal(st.dropped, 0);
    /* objects without kind or name are refused */
    json_t *bad = json_pack("{s:{s:s}}", "metadata", "name", "x");
    assert_int_equal(kube_events_record(rec, bad, KUBE_EVENT_NORMAL, "R", "m"), -EINVAL);
    json_decref(bad);
    json_decref(h);
}

static void test_truncation(void **state) {
    struct fixture *f = *state;
    struct kube_events *rec = new_rec(f, 16);
    json_t *h = host_obj();
    /* 2-byte characters: the cut must not split one */
    char big[3001];
    for (int i = 0; i < 3000; i += 2) {
        big[i] = (char)0xC3;
        big[i + 1] = (char)0xA9;
    }
    big[3000] = '\0';
    assert_int_equal(kube_events_record(rec, h, KUBE_EVENT_NORMAL, "Big", "x%s", big), 0);
    assert_int_equal(kube_events_flush(rec, 5000), 0);
    const char *m = cm_json_get_str(E.last_post, "message");
    assert_non_null(m); /* valid UTF-8, or jansson would not have parsed it */
    assert_true(strlen(m) <= KUBE_EVENT_MESSAGE_MAX);
    assert_true(strlen(m) >= KUBE_EVENT_MESSAGE_MAX - 1);
    /* invalid UTF-8 is replaced, not sent */
    assert_int_equal(kube_events_record(rec, h, KUBE_EVENT_NORMAL, "Bad", "a\xff" "b"), 0);
    assert_int_equal(kube_events_flush(rec, 5000), 0);
    assert_string_equal(cm_json_get_str(E.last_post, "message"), "a?b");
    json_decref(h);
}

static void test_full_queue_drops(void **state) {
    struct fixture *f = *state;
    E.slow_ms = 300;
    struct kube_events *rec = new_rec(f, 2);
    json_t *h = host_obj();
    int dropped = 0;
    int64_t worst = 0;
    for (int i = 0; i < 10; i++) {
        int64_t t0 = cm_time_mono_ms();
        int r = kube_events_record(rec, h, KUBE_EVENT_NORMAL, "Spam", "n=%d", i);
        int64_t el = cm_time_mono_ms() - t0;
        if (el > worst)
            worst = el;
        if (r == -EAGAIN)
            dropped++;
        else
            assert_int_equal(r, 0);
    }
    assert_true(worst < 100); /* never waits for the slow server */
    assert_true(dropped >= 6);
    struct kube_events_stats st;
    kube_events_get_stats(rec, &st);
    assert_int_equal(st.dropped, (uint64_t)dropped);
    assert_int_equal(st.queued, (uint64_t)(10 - dropped));
    json_decref(h);
    /* free with a short flush does not hang on the slow server */
    int64_t t0 = cm_time_mono_ms();
    kube_events_free(rec, 100);
    f->rec = NULL;
    assert_true(cm_time_mono_ms() - t0 < 2000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_aggregation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_drops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
