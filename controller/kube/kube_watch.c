/* kube_watch: the watch thread.
 *
 * The transfer runs on a private curl multi handle so that the thread can wait for data with
 * curl_multi_poll(), which kube_watch_stop() interrupts with curl_multi_wakeup(): stopping is
 * prompt without polling a flag on a timer. The same easy + multi handles are reused across
 * reconnects so the TCP/TLS connection survives a server-side watch timeout.
 *
 * Exactly-once delivery across reconnects rests on one rule: the resourceVersion to resume from
 * is updated from every event (bookmarks included) on this thread before the next byte is read,
 * and every reconnect passes it. The server then sends only events after it. */
#include "kube_watch.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_backoff.h"
#include "cm_buf.h"
#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_client_internal.h"
#include "kube_error.h"
#include "kube_ratelimit.h"
#include "kube_url.h"

#define ERROR_BODY_MAX (64 * 1024)
#define POLL_MS 250

/* Why the current connection ended, as decided by the callbacks. */
enum conn_end {
    END_NONE,    /* not decided by us: look at the curl result */
    END_GONE,    /* 410: resourceVersion too old, relist */
    END_ERROR,   /* ERROR event (not 410), bad line or over-long line: reconnect with backoff */
    END_IDLE,    /* idle timeout: reconnect */
    END_STOP,    /* kube_watch_stop() */
};

struct kube_watch {
    struct kube_client *client;
    const struct kube_resource *res;
    struct kube_watch_options opts; /* string fields point to the copies below */
    char *ns, *label_selector, *field_selector;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock; /* guards rv, stats, last_err, cond waits */
    pthread_cond_t cond;
    atomic_int stop;
    atomic_int running;
    char *rv;
    struct kube_watch_stats stats;
    struct kube_error last_err;

    /* Thread-only state of the current connection. */
    CURL *easy;
    CURLM *multi;
    struct kube_watch_decoder dec;
    long http_code;
    struct cm_buf err_body; /* body of a non-200 answer */
    enum conn_end end;
    struct kube_error conn_err;
    int64_t last_data_ms;
    int got_event; /* an event arrived on this connection (resets the backoff) */
};

void kube_watch_options_init(struct kube_watch_options *o) {
    memset(o, 0, sizeof(*o));
    o->timeout_seconds = 300;
    o->idle_timeout_ms = 90000;
    o->backoff_base_ms = 200;
    o->backoff_cap_ms = 30000;
    o->max_event_bytes = 16u * 1024 * 1024;
}

static void set_last_error(struct kube_watch *w, struct kube_error *e) {
    pthread_mutex_lock(&w->lock);
    kube_error_move(&w->last_err, e);
    pthread_mutex_unlock(&w->lock);
}

static void set_rv(struct kube_watch *w, const char *rv) {
    char *copy = strdup(rv);
    if (!copy)
        return; /* keep the older one: at worst some events are delivered twice */
    pthread_mutex_lock(&w->lock);
    free(w->rv);
    w->rv = copy;
    pthread_mutex_unlock(&w->lock);
}

/* Waits ms unless stopped. Returns 1 when stopped. */
static int wait_ms(struct kube_watch *w, int64_t ms) {
    int64_t until = cm_time_mono_ms() + ms;
    pthread_mutex_lock(&w->lock);
    while (!atomic_load(&w->stop)) {
        int64_t now = cm_time_mono_ms();
        if (now >= until)
            break;
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000L};
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    int s = atomic_load(&w->stop);
    pthread_mutex_unlock(&w->lock);
    return s;
}

/* ---- stream handling ------------------------------------------------------------------- */

static int status_is_gone(const json_t *st) {
    json_int_t code = json_integer_value(json_object_get(st, "code"));
    const char *reason = json_string_value(json_object_get(st, "reason"));
    return code == 410 || (reason && (strcmp(reason, "Expired") == 0 || strcmp(reason, "Gone") == 0));
}

static int on_line(const char *line, size_t len, void *ud) {
    struct kube_watch *w = ud;
    enum kube_watch_event_type type;
    json_t *obj = NULL;
    int r = kube_watch_event_parse(line, len, &type, &obj, &w->conn_err);
    if (r < 0) {
        w->end = END_ERROR;
        return r;
    }
    if (type == KUBE_WATCH_ERROR) {
        char *text = cm_json_dumps(obj);
        kube_error_from_response(&w->conn_err,
                                 (int)json_integer_value(json_object_get(obj, "code")), text,
                                 text ? strlen(text) : 0);
        free(text);
        if (w->conn_err.http_code == 0)
            w->conn_err.http_code = 500;
        w->end = status_is_gone(obj) ? END_GONE : END_ERROR;
        json_decref(obj);
        return -ECONNABORTED;
    }
    const char *rv = cm_json_get_str(obj, "metadata.resourceVersion");
    if (rv && *rv)
        set_rv(w, rv);
    pthread_mutex_lock(&w->lock);
    w->stats.events++;
    if (type == KUBE_WATCH_BOOKMARK)
        w->stats.bookmarks++;
    pthread_mutex_unlock(&w->lock);
    w->got_event = 1;
    w->opts.event_cb(type, obj, w->opts.userdata);
    json_decref(obj);
    return 0;
}

static size_t write_cb(char *p, size_t sz, size_t n, void *ud) {
    struct kube_watch *w = ud;
    size_t len = sz * n;
    w->last_data_ms = cm_time_mono_ms();
    if (w->http_code == 0)
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->http_code);
    if (w->http_code != 200) {
        /* An error answer: keep (the start of) its Status body. */
        size_t room = w->err_body.cap > w->err_body.len ? w->err_body.cap - w->err_body.len : 0;
        cm_buf_append(&w->err_body, p, len < room ? len : room);
        return len;
    }
    if (atomic_load(&w->stop)) {
        w->end = END_STOP;
        return 0;
    }
    int r = kube_watch_decoder_feed(&w->dec, p, len, on_line, w);
    if (r < 0) {
        if (w->end == END_NONE) {
            w->end = END_ERROR;
            if (r == -E2BIG)
                kube_error_set(&w->conn_err, 0, NULL, "watch event larger than %zu bytes",
                               w->dec.max_line);
        }
        return 0; /* abort the transfer */
    }
    return len;
}

static size_t header_cb(char *p, size_t sz, size_t n, void *ud) {
    struct kube_watch *w = ud;
    (void)p;
    w->last_data_ms = cm_time_mono_ms();
    return sz * n;
}

/* Builds the watch URL for the current rv. */
static int build_url(struct kube_watch *w, struct cm_buf *u) {
    pthread_mutex_lock(&w->lock);
    char *rv = w->rv ? strdup(w->rv) : NULL;
    int had = w->rv != NULL;
    pthread_mutex_unlock(&w->lock);
    if (had && !rv)
        return -ENOMEM;
    struct kube_list_options lo = {
        .label_selector = w->label_selector,
        .field_selector = w->field_selector,
        .resource_version = rv,
        .timeout_seconds = w->opts.timeout_seconds,
    };
    int r = kube_url_path(u, w->res, w->ns, NULL, NULL);
    if (r >= 0)
        r = kube_url_list_query(u, &lo, 1, 1);
    free(rv);
    return r;
}

/* Runs one watch connection to its end and classifies the end in w->end / w->conn_err.
 * Returns 0 when the stream ended cleanly (server timeout), -errno otherwise. */
static int run_connection(struct kube_watch *w) {
    struct cm_buf u;
    cm_buf_init(&u, 0);
    int r = build_url(w, &u);
    if (r < 0) {
        cm_buf_done(&u);
        kube_error_set(&w->conn_err, 0, NULL, "cannot build watch URL");
        return r;
    }
    kube__client_throttle(w->client);
    curl_easy_reset(w->easy);
    struct curl_slist *hl = NULL;
    r = kube__client_setup(w->client, w->easy, "GET", u.data, 0, NULL, &hl, &w->conn_err);
    cm_buf_done(&u);
    if (r < 0)
        return r;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(w->easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(w->easy, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(w->easy, CURLOPT_HEADERDATA, w);
    w->http_code = 0;
    w->end = END_NONE;
    w->got_event = 0;
    cm_buf_reset(&w->err_body);
    kube_watch_decoder_reset(&w->dec);
    w->last_data_ms = cm_time_mono_ms();
    pthread_mutex_lock(&w->lock);
    w->stats.connects++;
    pthread_mutex_unlock(&w->lock);

    CURLcode rc = CURLE_OK;
    int done = 0;
    curl_multi_add_handle(w->multi, w->easy);
    while (!done) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(w->multi, &running);
        if (mc != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(w->multi, &left)))
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == w->easy) {
                rc = msg->data.result;
                done = 1;
            }
        if (done || !running)
            break;
        if (w->end != END_NONE)
            break;
        if (atomic_load(&w->stop)) {
            w->end = END_STOP;
            break;
        }
        if (w->opts.idle_timeout_ms > 0 &&
            cm_time_mono_ms() - w->last_data_ms > w->opts.idle_timeout_ms) {
            w->end = END_IDLE;
            kube_error_set(&w->conn_err, 0, NULL, "watch idle for more than %lld ms",
                           (long long)w->opts.idle_timeout_ms);
            pthread_mutex_lock(&w->lock);
            w->stats.idle_timeouts++;
            pthread_mutex_unlock(&w->lock);
            break;
        }
        curl_multi_poll(w->multi, NULL, 0, POLL_MS, NULL);
    }
    curl_multi_remove_handle(w->multi, w->easy);
    curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(w->easy, CURLOPT_ERRORBUFFER, NULL);
    kube__client_headers_free(hl);
    if (w->http_code == 0)
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &w->http_code);
    kube__client_count(w->client, "WATCH", (int)w->http_code);

    if (w->end == END_STOP)
        return -ECANCELED;
    if (w->end != END_NONE)
        return w->end == END_GONE ? -ERANGE : -ECONNABORTED;
    if (w->http_code != 0 && w->http_code != 200) {
        if (w->http_code == 401)
            kube__client_reauth(w->client);
        r = kube_error_from_response(&w->conn_err, (int)w->http_code, w->err_body.data,
                                     w->err_body.len);
        if (kube_error_is_gone(&w->conn_err))
            w->end = END_GONE;
        else
            w->end = END_ERROR;
        return r < 0 ? r : -EPROTO;
    }
    if (rc != CURLE_OK) {
        w->end = END_ERROR;
        return kube__curl_error(rc, errbuf, &w->conn_err);
    }
    return 0;
}

/* Calls relist_cb until it succeeds or the watch is stopped. Returns 0 or -ECANCELED. */
static int relist(struct kube_watch *w) {
    for (unsigned attempt = 0;; attempt++) {
        if (atomic_load(&w->stop))
            return -ECANCELED;
        char *rv = NULL;
        int r = w->opts.relist_cb(&rv, w->opts.userdata);
        if (r >= 0) {
            pthread_mutex_lock(&w->lock);
            free(w->rv);
            w->rv = rv;
            w->stats.relists++;
            pthread_mutex_unlock(&w->lock);
            return 0;
        }
        free(rv);
        struct kube_error e;
        kube_error_init(&e);
        kube_error_set(&e, 0, NULL, "relist failed: %d", r);
        set_last_error(w, &e);
        if (wait_ms(w, kube_retry_delay_ms(attempt, w->opts.backoff_base_ms,
                                           w->opts.backoff_cap_ms, -1, cm_backoff_rand())))
            return -ECANCELED;
    }
}

static void *watch_thread(void *arg) {
    struct kube_watch *w = arg;
    unsigned attempt = 0;
    pthread_mutex_lock(&w->lock);
    int need_list = w->rv == NULL && w->opts.relist_cb != NULL;
    pthread_mutex_unlock(&w->lock);
    if (need_list && relist(w) < 0)
        goto out;
    while (!atomic_load(&w->stop)) {
        kube_error_done(&w->conn_err);
        int r = run_connection(w);
        if (r == -ECANCELED || atomic_load(&w->stop))
            break;
        if (w->got_event)
            attempt = 0;
        if (r == 0) {
            attempt = 0;
            continue; /* clean end (server timeout): resume at once */
        }
        set_last_error(w, &w->conn_err);
        if (w->end == END_GONE) {
            pthread_mutex_lock(&w->lock);
            w->stats.gone++;
            pthread_mutex_unlock(&w->lock);
            if (!w->opts.relist_cb)
                break;
            if (relist(w) < 0)
                break;
            attempt = 0;
            continue;
        }
        if (w->end == END_IDLE) {
            attempt = 0;
            continue;
        }
        if (wait_ms(w, kube_retry_delay_ms(attempt, w->opts.backoff_base_ms,
                                           w->opts.backoff_cap_ms, -1, cm_backoff_rand())))
            break;
        attempt++;
    }
out:
    atomic_store(&w->running, 0);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static int dup_opt(char **dst, const char *s) {
    if (!s || !*s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : -ENOMEM;
}

int kube_watch_start(struct kube_client *c, const struct kube_resource *res,
                     const struct kube_watch_options *opts, struct kube_watch **ret_watch,
                     struct kube_error *err) {
    if (!c || !res || !opts || !opts->event_cb) {
        kube_error_set(err, 0, NULL, "watch: missing client, resource or event callback");
        return -EINVAL;
    }
    struct kube_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->client = c;
    w->res = res;
    w->opts = *opts;
    struct kube_watch_options def;
    kube_watch_options_init(&def);
    if (w->opts.backoff_base_ms <= 0)
        w->opts.backoff_base_ms = def.backoff_base_ms;
    if (w->opts.backoff_cap_ms <= 0)
        w->opts.backoff_cap_ms = def.backoff_cap_ms;
    if (w->opts.max_event_bytes == 0)
        w->opts.max_event_bytes = def.max_event_bytes;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    kube_error_init(&w->last_err);
    kube_error_init(&w->conn_err);
    kube_watch_decoder_init(&w->dec, w->opts.max_event_bytes);
    cm_buf_init(&w->err_body, ERROR_BODY_MAX);
    int r = -ENOMEM;
    if (dup_opt(&w->ns, opts->ns) < 0 || dup_opt(&w->label_selector, opts->label_selector) < 0 ||
        dup_opt(&w->field_selector, opts->field_selector) < 0 ||
        dup_opt(&w->rv, opts->resource_version) < 0)
        goto fail;
    w->opts.ns = w->ns;
    w->opts.label_selector = w->label_selector;
    w->opts.field_selector = w->field_selector;
    w->opts.resource_version = NULL;
    w->easy = curl_easy_init();
    w->multi = curl_multi_init();
    if (!w->easy || !w->multi)
        goto fail;
    atomic_store(&w->running, 1);
    if (pthread_create(&w->thread, NULL, watch_thread, w) != 0) {
        r = -EAGAIN;
        goto fail;
    }
    w->thread_started = 1;
    *ret_watch = w;
    return 0;
fail:
    atomic_store(&w->running, 0);
    kube_watch_free(w);
    return r;
}

void kube_watch_stop(struct kube_watch *w) {
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->stop, 1);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    if (w->multi)
        curl_multi_wakeup(w->multi);
    if (w->thread_started) {
        pthread_join(w->thread, NULL);
        w->thread_started = 0;
    }
}

void kube_watch_free(struct kube_watch *w) {
    if (!w)
        return;
    kube_watch_stop(w);
    if (w->multi)
        curl_multi_cleanup(w->multi);
    if (w->easy)
        curl_easy_cleanup(w->easy);
    kube_watch_decoder_done(&w->dec);
    cm_buf_done(&w->err_body);
    kube_error_done(&w->last_err);
    kube_error_done(&w->conn_err);
    free(w->ns);
    free(w->label_selector);
    free(w->field_selector);
    free(w->rv);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int kube_watch_is_running(struct kube_watch *w) {
    return atomic_load(&w->running);
}

char *kube_watch_resource_version(struct kube_watch *w) {
    pthread_mutex_lock(&w->lock);
    char *rv = w->rv ? strdup(w->rv) : NULL;
    pthread_mutex_unlock(&w->lock);
    return rv;
}

void kube_watch_get_stats(struct kube_watch *w, struct kube_watch_stats *ret_stats) {
    pthread_mutex_lock(&w->lock);
    *ret_stats = w->stats;
    pthread_mutex_unlock(&w->lock);
}

int kube_watch_last_error(struct kube_watch *w, struct kube_error *err) {
    pthread_mutex_lock(&w->lock);
    int r = 0;
    if (w->last_err.message || w->last_err.http_code) {
        r = w->last_err.http_code ? kube_error_errno(w->last_err.http_code, w->last_err.reason)
                                  : -EIO;
        if (err) {
            kube_error_done(err);
            err->http_code = w->last_err.http_code;
            err->reason = w->last_err.reason ? strdup(w->last_err.reason) : NULL;
            err->message = w->last_err.message ? strdup(w->last_err.message) : NULL;
            err->retry_after_ms = w->last_err.retry_after_ms;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return r;
}
