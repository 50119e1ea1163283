/* The controller framework (rc_manager + rc_controller on a real kube_workqueue) and the small
 * HTTP endpoint, without an API server: controllers fed by rc_controller_enqueue(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cm_buf.h"
#include "cm_time.h"
#include "rc_controller.h"
#include "rc_httpd.h"
#include "rc_manager.h"
#include "rc_metrics.h"

struct probe {
    pthread_mutex_t lock;
    int calls[8];           /* per key index "ns/kN" */
    int concurrent, max_concurrent;
    int64_t first_ms[8], second_ms[8];
    char last_ns[32];
    int mode;               /* 0: done, 1: requeue_after 150ms once, 2: error twice,
                             * 3: key k6 runs 1.5 s, noting a lost term */
    int fenced;             /* mode 3: k6 saw rc_controller_acting() turn false */
};

static struct rc_result reconcile(struct rc_controller *ctl, const char *ns, const char *name,
                                  void *userdata) {
    struct probe *p = userdata;
    int k = name[1] - '0';
    pthread_mutex_lock(&p->lock);
    int n = ++p->calls[k];
    if (n == 1)
        p->first_ms[k] = cm_time_mono_ms();
    if (n == 2)
        p->second_ms[k] = cm_time_mono_ms();
    snprintf(p->last_ns, sizeof p->last_ns, "%s", ns);
    if (++p->concurrent > p->max_concurrent)
        p->max_concurrent = p->concurrent;
    pthread_mutex_unlock(&p->lock);
    if (p->mode == 3 && k == 6) {
        /* A long pass (a bootstrap script: it cannot be cut short) that watches whether the
         * replica still leads, as a pass does before each side effect. */
        int64_t end = cm_time_mono_ms() + 1500;
        while (cm_time_mono_ms() < end) {
            if (!rc_controller_acting(ctl)) {
                pthread_mutex_lock(&p->lock);
                p->fenced = 1;
                pthread_mutex_unlock(&p->lock);
            }
            usleep(5000);
        }
    }
    usleep(20000); /* hold the key a while so a duplicate would overlap */
    pthread_mutex_lock(&p->lock);
    p->concurrent--;
    pthread_mutex_unlock(&p->lock);
    if (p->mode == 1 && n == 1)
        return rc_requeue_after(150);
    if (p->mode == 2 && n <= 2)
        return rc_error(-EIO);
    return rc_done();
}

static int wait_calls(struct probe *p, int k, int want, int64_t timeout_ms) {
    int64_t end = cm_time_mono_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int n = p->calls[k];
        pthread_mutex_unlock(&p->lock);
        if (n >= want)
            return n;
        if (cm_time_mono_ms() > end)
            return n;
        usleep(5000);
    }
}

static struct rc_manager *new_manager(struct rc_metrics *reg) {
    struct rc_env env = {.metrics = reg};
    struct rc_manager *m = NULL;
    assert_int_equal(rc_manager_new(&env, &m), 0);
    return m;
}

static void test_dedupe_and_exclusive(void **state) {
    struct probe p = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct rc_metrics *reg = rc_metrics_new();
    struct rc_manager *m = new_manager(reg);
    struct rc_controller *c = NULL;
    struct rc_controller_def def = {.kind = "Thing", .workers = 4, .reconcile = reconcile,
                                    .userdata = &p};
    assert_int_equal(rc_controller_new(m, &def, &c), 0);
    assert_int_equal(rc_manager_start(m), 0);
    /* Queued before leading: nothing runs, the key waits. */
    for (int i = 0; i < 5; i++)
        rc_controller_enqueue(c, "ns1/k1");
    usleep(100000);
    assert_int_equal(p.calls[1], 0);
    rc_manager_set_leading(m, true);
    assert_int_equal(wait_calls(&p, 1, 1, 2000), 1);
    usleep(100000);
    assert_int_equal(p.calls[1], 1); /* five adds, one reconcile */
    assert_string_equal(p.last_ns, "ns1");
    /* Adds while processing: handled again later, never on two workers at once. */
    for (int i = 0; i < 20; i++) {
        rc_controller_enqueue_name(c, "ns1", "k2");
        usleep(3000);
    }
    wait_calls(&p, 2, 2, 2000);
    usleep(100000);
    assert_int_equal(p.max_concurrent, 1);
    assert_true(p.calls[2] >= 2 && p.calls[2] < 20);
    assert_true(rc_metric_value(rc_metrics_counter(reg, "commissaire_controller_reconcile_total",
                                                   "", "kind"),
                                "Thing", NULL) >= 3);
    rc_manager_set_leading(m, false);
    assert_false(rc_manager_leading(m));
    rc_manager_free(m);
    rc_metrics_free(reg);
}

static void test_requeue_after(void **state) {
    struct probe p = {.lock = PTHREAD_MUTEX_INITIALIZER, .mode = 1};
    struct rc_manager *m = new_manager(NULL);
    struct rc_controller *c = NULL;
    struct rc_controller_def def = {.kind = "Thing", .workers = 2, .reconcile = reconcile,
                                    .userdata = &p};
    assert_int_equal(rc_controller_new(m, &def, &c), 0);
    rc_manager_set_leading(m, true);
    rc_controller_enqueue(c, "ns/k3");
    assert_int_equal(wait_calls(&p, 3, 2, 3000), 2);
    int64_t gap = p.second_ms[3] - p.first_ms[3];
    assert_true(gap >= 150 + 20 - 5); /* the requeue delay is honoured (after the 20 ms call) */
    assert_true(gap < 1500);
    rc_manager_free(m);
}

static void test_error_backoff_and_metrics(void **state) {
    struct probe p = {.lock = PTHREAD_MUTEX_INITIALIZER, .mode = 2};
    struct rc_metrics *reg = rc_metrics_new();
    struct rc_manager *m = new_manager(reg);
    struct rc_controller *c = NULL;
    struct rc_controller_def def = {.kind = "Thing", .workers = 1, .reconcile = reconcile,
                                    .userdata = &p};
    assert_int_equal(rc_controller_new(m, &def, &c), 0);
    rc_manager_set_leading(m, true);
    rc_controller_enqueue(c, "k4");
    assert_int_equal(wait_calls(&p, 4, 3, 5000), 3);
    assert_string_equal(p.last_ns, ""); /* cluster-scoped key */
    usleep(100000);                    /* let the third call finish and be counted */
    /* first retry after ~200 ms, second after ~400 ms */
    assert_true(p.second_ms[4] - p.first_ms[4] >= 190);
    struct cm_buf b;
    cm_buf_init(&b, 0);
    assert_int_equal(rc_metrics_render(reg, &b), 0);
    assert_non_null(strstr(b.data, "commissaire_controller_reconcile_errors_total{kind=\"Thing\"} 2"));
    assert_non_null(strstr(b.data, "commissaire_controller_workqueue_depth{kind=\"Thing\"} 0"));
    assert_non_null(strstr(b.data, "commissaire_controller_reconcile_duration_seconds_count{kind=\"Thing\"} 3"));
    cm_buf_done(&b);
    rc_manager_free(m);
    rc_metrics_free(reg);
}

static void test_stop_keeps_queued_keys(void **state) {
    struct probe p = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct rc_manager *m = new_manager(NULL);
    struct rc_controller *c = NULL;
    struct rc_controller_def def = {.kind = "Thing", .workers = 1, .reconcile = reconcile,
                                    .userdata = &p};
    assert_int_equal(rc_controller_new(m, &def, &c), 0);
    rc_manager_set_leading(m, true);
    rc_manager_set_leading(m, false);
    rc_controller_enqueue(c, "ns/k5");
    usleep(300000);
    assert_int_equal(p.calls[5], 0);
    assert_int_equal(rc_controller_queue_len(c), 1);
    rc_manager_set_leading(m, true); /* a new term: the key is still there */
    assert_int_equal(wait_calls(&p, 5, 1, 2000), 1);
    rc_manager_free(m);
}

/* Lease lost and won back while a long reconcile is in flight (the stall seen under load: the
 * replica drained every pass in flight before it could lead again, and nothing moved for
 * minutes). Stopping must not wait for the pass; the pass must see that it no longer acts;
 * nothing new runs while not leading; and after the regain queued and delayed keys run at
 * once, without waiting for the old pass. */
static void test_regain_while_reconcile_in_flight(void **state) {
    struct probe p = {.lock = PTHREAD_MUTEX_INITIALIZER, .mode = 3};
    (void)state;
    struct rc_manager *m = new_manager(NULL);
    struct rc_controller *c = NULL;
    struct rc_controller_def def = {.kind = "Thing", .workers = 2, .reconcile = reconcile,
                                    .userdata = &p};
    assert_int_equal(rc_controller_new(m, &def, &c), 0);
    rc_manager_set_leading(m, true);
    assert_true(rc_controller_acting(c));
    rc_controller_enqueue(c, "ns/k6");
    assert_int_equal(wait_calls(&p, 6, 1, 2000), 1); /* in flight now */
    rc_controller_enqueue_after(c, "ns/k2", 300);   /* a delayed requeue of the old term */
    int64_t t0 = cm_time_mono_ms();
    rc_manager_set_leading(m, false);
    assert_true(cm_time_mono_ms() - t0 < 500); /* did not wait for k6 */
    assert_false(rc_controller_acting(c));
    rc_controller_enqueue(c, "ns/k7");
    usleep(400000); /* k2's timer is due meanwhile */
    pthread_mutex_lock(&p.lock);
    assert_int_equal(p.calls[7], 0); /* not leading: nothing new runs */
    assert_int_equal(p.calls[2], 0);
    assert_int_equal(p.fenced, 1);   /* the pass in flight saw the term end */
    pthread_mutex_unlock(&p.lock);
    int64_t t1 = cm_time_mono_ms();
    rc_manager_set_leading(m, true);
    assert_int_equal(wait_calls(&p, 7, 1, 1000), 1);
    assert_int_equal(wait_calls(&p, 2, 1, 1000), 1);
    assert_true(cm_time_mono_ms() - t1 < 1000); /* k6 is still in flight: no drain first */
    assert_int_equal(p.calls[6], 1);
    rc_manager_free(m);
}

static int handler(const char *path, struct cm_buf *body, const char **ret_ct, void *ud) {
    if (!strcmp(path, "/metrics")) {
        *ret_ct = "text/plain; version=0.0.4";
        cm_buf_puts(body, "x_total 1\n");
        return 200;
    }
    cm_buf_puts(body, "nope\n");
    return 404;
}

static char *http_get(int port, const char *req) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_true(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    struct cm_buf b;
    cm_buf_init(&b, 1 << 20);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        cm_buf_append(&b, buf, (size_t)n);
    close(fd);
    return cm_buf_steal(&b);
}

static void test_httpd(void **state) {
    struct rc_httpd *s = NULL;
    assert_int_equal(rc_httpd_start("127.0.0.1:0", handler, NULL, &s), 0);
    int port = rc_httpd_port(s);
    assert_true(port > 0);
    char *r = http_get(port, "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4\r\n"));
    assert_non_null(strstr(r, "Content-Length: 10\r\n"));
    assert_non_null(strstr(r, "\r\n\r\nx_total 1\n"));
    free(r);
    r = http_get(port, "GET /nothing HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 404"));
    free(r);
    r = http_get(port, "POST /metrics HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 405"));
    free(r);
    r = http_get(port, "garbage\r\n\r\n");
    assert_non_null(strstr(r, "HTTP/1.1 400"));
    free(r);
    r = http_get(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, "Content-Length: 10\r\n"));
    assert_null(strstr(r, "x_total"));
    free(r);
    rc_httpd_stop(s);
    assert_int_equal(rc_httpd_start("nonsense", handler, NULL, &s), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedupe_and_exclusive),
        cmocka_unit_test(test_requeue_after),
        cmocka_unit_test(test_error_backoff_and_metrics),
        cmocka_unit_test(test_stop_keeps_queued_keys),
        cmocka_unit_test(test_regain_while_reconcile_in_flight),
        cmocka_unit_test(test_httpd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
