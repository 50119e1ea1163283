/* Request life cycle (one struct txn per request, owned by the event loop):
 *
 *   LWS_CALLBACK_HTTP        snapshot method, path, headers, peer, client certificate;
 *                            Content-Length > cap → 413 at once (the body is never read)
 *   LWS_CALLBACK_HTTP_BODY   append to a capped buffer
 *   dispatch                 self-auth? fast auth → route → inline handler, or → worker
 *   worker thread            blocking auth (bcrypt, TokenReview, plug-ins) + handler
 *   EVENT_WAIT_CANCELLED     finished txns come back from the workers
 *   (TIMER)                  a delayed 403 for a peer that keeps failing authentication
 *   HTTP_WRITEABLE           headers, then the body in chunks; then the next request
 *
 * A connection may close while its txn sits with a worker: the txn is then marked orphaned and
 * whoever holds it last frees it, so no worker ever touches a dead wsi. */
#include "shim_http.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <libwebsockets.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_buf.h"
#include "cm_log.h"
#include "cm_time.h"
#include "shim_api.h"
#include "shim_auth.h"
#include "shim_config.h"
#include "shim_metrics.h"
#include "shim_ratelimit.h"
#include "shim_request.h"
#include "shim_store.h"

#define MAX_PENDING 4096
/* Most one lws_write() hands the socket. lws sends at most the protocol's tx_packet_size per
 * send() and copies the rest into a buffer of its own (as it does whatever the socket does not
 * take): with its default (4 kB) a 190 kB host list took ~46 send()s, poll rounds and copies. A
 * chunk the size of the socket's usual free space goes out in one send() and rarely leaves a
 * remainder for lws to copy (with many slow readers that copy is where memory goes). */
#ifndef WRITE_CHUNK
#define WRITE_CHUNK (64 * 1024)
#endif
/* Headers and the first part of the body leave in one write: small answers (a host, a cluster)
 * then cost one send() and one writable callback instead of two. */
#define HDR_ROOM 512
#define FIRST_CHUNK (16 * 1024)
#define MAX_HEADERS 24
/* After a stop request: how long answers already being worked on may take to go out. Requests
 * still queued for a worker, and new ones, are answered 503 at once; whatever is left at the
 * deadline is cut when the context is destroyed. */
#ifndef DRAIN_MS
#define DRAIN_MS 2000
#endif

enum txn_state {
    T_RECV,         /* reading the request */
    T_WORKER,       /* with a worker thread */
    T_DELAYED,      /* response ready, held back by the failure rate limit */
    T_READY,        /* response ready, headers not sent */
    T_BODY,         /* headers sent, body being written */
};

struct txn {
    struct shim_http *h;
    struct lws *wsi; /* NULL once orphaned */
    enum txn_state state;
    int64_t t0_ms;
    enum shim_method method;
    char *path;
    struct shim_route_match match;
    char peer[64];
    char client[64];
    char *cert_cn;
    struct shim_auth_header hdrs[MAX_HEADERS];
    size_t n_hdrs;
    struct cm_buf body;
    int64_t content_length;
    int need_auth;
    int auth_failed;
    int close_after;
    const char *content_type;
    struct shim_response resp;
    size_t resp_off;
    int64_t delay_ms;
    /* Shared with workers, under h->mu. */
    int in_worker, in_done, orphaned;
    struct txn *next;
};

struct pss {
    struct txn *t;
};

struct shim_http {
    struct shim_http_deps d;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct shim_ratelimit *rl;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct txn *work_head, *work_tail, *done_head;
    size_t n_pending;
    pthread_t *workers;
    int n_workers;
    int stopping;
    atomic_int stop;
    atomic_int n_txn; /* live txns: the drain waits for them */
    int draining;     /* event loop only: stop requested, answering what is in flight */
    lws_sorted_usec_list_t drain_sul; /* wakes the loop at the drain deadline */
    unsigned char *wbuf; /* LWS_PRE + HDR_ROOM + FIRST_CHUNK scratch, event loop only */
};

static void txn_free(struct txn *t) {
    if (!t)
        return;
    atomic_fetch_sub(&t->h->n_txn, 1);
    for (size_t i = 0; i < t->n_hdrs; i++) {
        char *v = (char *)t->hdrs[i].value;

        /* Authorization and token headers are secrets: do not leave them in freed memory. */
        lws_explicit_bzero(v, strlen(v));
        free(v);
    }
    free(t->path);
    free(t->cert_cn);
    if (t->body.data)
        lws_explicit_bzero(t->body.data, t->body.len);
    cm_buf_done(&t->body);
    shim_response_done(&t->resp);
    free(t);
}

/* ---- responses ---------------------------------------------------------------------------- */

static void schedule(struct txn *t) {
    if (t->delay_ms > 0) {
        t->state = T_DELAYED;
        lws_set_timer_usecs(t->wsi, t->delay_ms * 1000);
        return;
    }
    t->state = T_READY;
    lws_callback_on_writable(t->wsi);
}

static void set_error(struct txn *t, int status, const char *msg) {
    t->content_type = "application/json";
    shim_response_error(&t->resp, status, msg);
}

static void auth_failed(struct shim_http *h, struct txn *t) {
    t->auth_failed = 1;
    shim_metrics_auth_failure(h->d.metrics);
    t->delay_ms = shim_ratelimit_fail(h->rl, t->client, cm_time_mono_ms());
    /* Same answer whatever failed (no user, wrong password, no credentials): 403 (spec §10.1). */
    set_error(t, 403, "authentication required: the credentials are missing or not accepted");
}

/* Writes the headers and as much of the body as fits FIRST_CHUNK in one lws_write(). */
static int write_first(struct shim_http *h, struct txn *t) {
    unsigned char *start = h->wbuf + LWS_PRE, *p = start, *end = start + HDR_ROOM - 1;
    size_t len, n;
    const char *data = shim_response_data(&t->resp, &len);

    if (lws_add_http_common_headers(t->wsi, (unsigned)t->resp.status,
                                    t->content_type ? t->content_type : "application/json",
                                    len, &p, end))
        return -1;
    if (t->close_after &&
        lws_add_http_header_by_token(t->wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
                                     5, &p, end))
        return -1;
    if (lws_finalize_http_header(t->wsi, &p, end))
        return -1;
    n = len < FIRST_CHUNK ? len : FIRST_CHUNK;
    memcpy(p, data, n);
    p += n;
    /* On HTTP/1.1 (the only protocol offered: alpn http/1.1, no compression, no chunking) headers
     * and body are the same byte stream to lws, so one LWS_WRITE_HTTP carries both. */
    if (lws_write(t->wsi, start, (size_t)(p - start), n == len ? LWS_WRITE_HTTP_FINAL
                                                                : LWS_WRITE_HTTP) < (int)(p - start))
        return -1;
    t->resp_off = n;
    return 0;
}

static void access_log(struct txn *t) {
    char st[8], ms[24];

    if (!cm_log_enabled(CM_LOG_DEBUG))
        return;
    snprintf(st, sizeof st, "%d", t->resp.status);
    snprintf(ms, sizeof ms, "%lld", (long long)(cm_time_mono_ms() - t->t0_ms));
    /* Never the headers or the body: they may carry credentials and keys. */
    cm_log_kv(CM_LOG_DEBUG, "request", "method", shim_method_name(t->method), "path",
              t->path ? t->path : "", "route", shim_route_name(t->match.route), "status", st,
              "ms", ms, "client", t->client, NULL);
}

/* Marks the response sent: metrics, access log, then the next request (or the close). */
static int finish(struct shim_http *h, struct lws *wsi, struct txn *t) {
    shim_metrics_observe(h->d.metrics, t->match.route, t->resp.status,
                         (double)(cm_time_mono_ms() - t->t0_ms) / 1000.0);
    access_log(t);
    if (t->close_after)
        return -1;
    /* Ends this transaction; lws drops the protocol binding (→ txn freed) and reads the next. */
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

static int on_writeable(struct shim_http *h, struct lws *wsi, struct txn *t) {
    size_t left, n, total;
    const char *data = shim_response_data(&t->resp, &total);
    int final;

    if (t->state == T_READY) {
        if (write_first(h, t) < 0)
            return -1;
        t->state = T_BODY;
        if (t->resp_off == total)
            return finish(h, wsi, t);
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (t->state != T_BODY)
        return 0;
    left = total - t->resp_off;
    n = left < WRITE_CHUNK ? left : WRITE_CHUNK;
    final = n == left;
    /* Straight from the response (often the shared, immutable host-list blob): no copy. lws only
     * reads it on HTTP/1.1 (LWS_PRE bytes in front are reserved for framing of other protocols,
     * and resp_off >= FIRST_CHUNK > LWS_PRE keeps even those inside the buffer); whatever the
     * socket does not take lws copies before returning. */
    if (lws_write(wsi, (unsigned char *)(uintptr_t)(data + t->resp_off), n,
                  final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    t->resp_off += n;
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    return finish(h, wsi, t);
}

/* ---- workers ------------------------------------------------------------------------------ */

static void auth_req_of(struct txn *t, struct shim_auth_req *r) {
    r->method = shim_method_name(t->method);
    r->path = t->path;
    r->peer = t->client;
    r->cert_cn = t->cert_cn;
    r->headers = t->hdrs;
    r->n_headers = t->n_hdrs;
}

static void handle(struct shim_http *h, struct txn *t) {
    struct shim_request req = {
        .method = t->method,
        .match = t->match,
        .path = t->path,
        .body = t->body.data,
        .body_len = t->body.len,
        .client_addr = t->client,
    };

    if (t->match.route == SHIM_R_NONE) {
        set_error(t, 404, "no such route");
        return;
    }
    if (!shim_store_ready(h->d.store)) {
        set_error(t, 503, "the shim's caches are not synced with the API server yet");
        return;
    }
    t->content_type = "application/json";
    shim_api_handle(h->d.api, &req, &t->resp);
}

static void *worker_main(void *arg) {
    struct shim_http *h = arg;

    for (;;) {
        struct txn *t;

        pthread_mutex_lock(&h->mu);
        while (!h->work_head && !h->stopping)
            pthread_cond_wait(&h->cv, &h->mu);
        if (!h->work_head) {
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        t = h->work_head;
        h->work_head = t->next;
        if (!h->work_head)
            h->work_tail = NULL;
        h->n_pending--;
        t->next = NULL;
        pthread_mutex_unlock(&h->mu);

        if (t->need_auth) {
            struct shim_auth_req ar;

            auth_req_of(t, &ar);
            if (shim_auth_check(h->d.auth, &ar) != SHIM_AUTH_ACCEPT)
                auth_failed(h, t);
            else
                handle(h, t);
        } else {
            handle(h, t);
        }

        pthread_mutex_lock(&h->mu);
        t->in_worker = 0;
        if (t->orphaned) {
            pthread_mutex_unlock(&h->mu);
            txn_free(t);
            continue;
        }
        t->in_done = 1;
        t->next = h->done_head;
        h->done_head = t;
        pthread_mutex_unlock(&h->mu);
        lws_cancel_service(h->ctx);
    }
}

static void shutting_down(struct txn *t) {
    t->close_after = 1;
    set_error(t, 503, "the shim is shutting down; try again");
    schedule(t);
}

static void to_worker(struct shim_http *h, struct txn *t) {
    pthread_mutex_lock(&h->mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        shutting_down(t);
        return;
    }
    if (h->n_pending >= MAX_PENDING) {
        pthread_mutex_unlock(&h->mu);
        set_error(t, 503, "too many requests in progress; try again");
        schedule(t);
        return;
    }
    t->state = T_WORKER;
    t->in_worker = 1;
    if (h->work_tail)
        h->work_tail->next = t;
    else
        h->work_head = t;
    h->work_tail = t;
    h->n_pending++;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    /* The worker's own calls are bounded; lws must not cut the connection meanwhile. */
    lws_set_timeout(t->wsi, NO_PENDING_TIMEOUT, 0);
}

static void drain_done(struct shim_http *h) {
    struct txn *list, *t;

    pthread_mutex_lock(&h->mu);
    list = h->done_head;
    h->done_head = NULL;
    for (t = list; t; t = t->next)
        t->in_done = 0;
    pthread_mutex_unlock(&h->mu);
    while (list) {
        t = list;
        list = t->next;
        t->next = NULL;
        if (t->orphaned)
            txn_free(t);
        else
            schedule(t);
    }
}

/* ---- requests ----------------------------------------------------------------------------- */

static void release(struct shim_http *h, struct pss *pss) {
    struct txn *t = pss ? pss->t : NULL;

    if (!t)
        return;
    pss->t = NULL;
    pthread_mutex_lock(&h->mu);
    if (t->in_worker || t->in_done) {
        t->orphaned = 1;
        t->wsi = NULL;
        pthread_mutex_unlock(&h->mu);
        return;
    }
    pthread_mutex_unlock(&h->mu);
    txn_free(t);
}

static void add_header(struct txn *t, const char *name, char *value_owned) {
    if (!value_owned)
        return;
    if (t->n_hdrs >= MAX_HEADERS) {
        free(value_owned);
        return;
    }
    t->hdrs[t->n_hdrs].name = name;
    t->hdrs[t->n_hdrs].value = value_owned;
    t->n_hdrs++;
}

static char *hdr_token(struct lws *wsi, enum lws_token_indexes tok) {
    int n = lws_hdr_total_length(wsi, tok);
    char *v;

    if (n <= 0)
        return NULL;
    v = malloc((size_t)n + 1);
    if (v && lws_hdr_copy(wsi, v, n + 1, tok) < 0) {
        free(v);
        return NULL;
    }
    return v;
}

static char *hdr_custom(struct lws *wsi, const char *name) {
    char key[128];
    int n, kn = snprintf(key, sizeof key, "%s:", name);
    char *v;

    if (kn <= 1 || (size_t)kn >= sizeof key)
        return NULL;
    n = lws_hdr_custom_length(wsi, key, kn);
    if (n <= 0)
        return NULL;
    v = malloc((size_t)n + 1);
    if (v && lws_hdr_custom_copy(wsi, v, n + 1, key, kn) < 0) {
        free(v);
        return NULL;
    }
    return v;
}

static void snapshot(struct shim_http *h, struct lws *wsi, struct txn *t) {
    char *cl;

    add_header(t, "authorization", hdr_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION));
    add_header(t, "x-forwarded-for", hdr_token(wsi, WSI_TOKEN_X_FORWARDED_FOR));
    add_header(t, "user-agent", hdr_token(wsi, WSI_TOKEN_HTTP_USER_AGENT));
    add_header(t, "content-type", hdr_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE));
    add_header(t, "x-auth-token", hdr_custom(wsi, "x-auth-token"));
    for (const char *const *x = shim_auth_extra_headers(h->d.auth); x && *x; x++)
        if (!shim_auth_req_header(&(struct shim_auth_req){ .headers = t->hdrs, .n_headers = t->n_hdrs }, *x))
            add_header(t, *x, hdr_custom(wsi, *x));
    t->content_length = -1;
    cl = hdr_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (cl) {
        char *end;
        long long v = strtoll(cl, &end, 10);

        if (end != cl && *end == 0 && v >= 0)
            t->content_length = v;
        free(cl);
    }
    lws_get_peer_simple(wsi, t->peer, sizeof t->peer);
    {
        struct shim_auth_req tmp = { .headers = t->hdrs, .n_headers = t->n_hdrs };

        shim_client_address(t->peer, shim_auth_req_header(&tmp, "x-forwarded-for"),
                            h->d.cfg->trusted, h->d.cfg->n_trusted, t->client, sizeof t->client);
    }
    if (h->d.cfg->tls_clientverifyfile) {
        SSL *ssl = lws_get_ssl(wsi);
        X509 *x = ssl ? SSL_get1_peer_certificate(ssl) : NULL;

        if (x && SSL_get_verify_result(ssl) == X509_V_OK) {
            char cn[256];

            if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
                                          sizeof cn) > 0)
                t->cert_cn = strdup(cn);
        }
        X509_free(x);
    }
}

static int path_is_self_auth(struct shim_http *h, const char *path) {
    for (size_t i = 0; i < h->d.cfg->n_self_auths; i++)
        if (strcmp(h->d.cfg->self_auths[i], path) == 0)
            return 1;
    return 0;
}

static void dispatch(struct shim_http *h, struct txn *t) {
    struct shim_auth_req ar;

    if (t->state != T_RECV)
        return;
    shim_router_match(t->method, t->path, strlen(t->path), &t->match);
    if (h->draining) {
        shutting_down(t);
        return;
    }
    /* Authentication comes before routing (REF): an unknown path without credentials is 403. */
    if (!path_is_self_auth(h, t->path)) {
        auth_req_of(t, &ar);
        switch (shim_auth_check_fast(h->d.auth, &ar)) {
        case SHIM_AUTH_ACCEPT: break;
        case SHIM_AUTH_DENY:
            auth_failed(h, t);
            schedule(t);
            return;
        case SHIM_AUTH_NEEDS_WORKER:
            t->need_auth = 1;
            to_worker(h, t);
            return;
        }
    }
    if (t->match.route == SHIM_R_NONE || !shim_store_ready(h->d.store) ||
        shim_api_route_inline(t->match.route)) {
        handle(h, t);
        schedule(t);
        return;
    }
    to_worker(h, t);
}

static void serve_plain(struct shim_http *h, struct txn *t, const char *path) {
    t->content_type = "application/json";
    if (strcmp(path, "/healthz") == 0) {
        t->resp.status = 200;
        cm_buf_puts(&t->resp.body, "{\"status\": \"ok\"}");
    } else if (strcmp(path, "/readyz") == 0) {
        int ready = shim_store_ready(h->d.store);

        t->resp.status = ready ? 200 : 503;
        cm_buf_puts(&t->resp.body, ready ? "{\"status\": \"ready\"}"
                                         : "{\"status\": \"caches not synced\"}");
    } else {
        t->content_type = "text/plain; version=0.0.4; charset=utf-8";
        t->resp.status = 200;
        if (shim_metrics_render(h->d.metrics, h->d.store, h->d.client, &t->resp.body) < 0)
            set_error(t, 500, "cannot render metrics");
    }
    schedule(t);
}

static enum shim_method method_of(struct lws *wsi) {
    char *uri;
    int ulen;

    switch (lws_http_get_uri_and_method(wsi, &uri, &ulen)) {
    case LWSHUMETH_GET: return SHIM_M_GET;
    case LWSHUMETH_PUT: return SHIM_M_PUT;
    case LWSHUMETH_DELETE: return SHIM_M_DELETE;
    case LWSHUMETH_POST: return SHIM_M_POST;
    default: return SHIM_M_OTHER;
    }
}

static int on_request(struct shim_http *h, struct lws *wsi, struct pss *pss, const char *in,
                      size_t len) {
    struct txn *t;

    release(h, pss);
    t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    atomic_fetch_add(&h->n_txn, 1);
    pss->t = t;
    t->h = h;
    t->wsi = wsi;
    t->t0_ms = cm_time_mono_ms();
    t->state = T_RECV;
    cm_buf_init(&t->body, SHIM_BODY_MAX);
    shim_response_init(&t->resp);
    t->method = method_of(wsi);
    t->path = strndup(in ? in : "", in ? len : 0);
    if (!t->path)
        return -1;
    snapshot(h, wsi, t);

    if ((t->method == SHIM_M_GET) &&
        (strcmp(t->path, "/healthz") == 0 || strcmp(t->path, "/readyz") == 0 ||
         (h->d.cfg->metrics && strcmp(t->path, "/metrics") == 0))) {
        serve_plain(h, t, t->path);
        return 0;
    }
    if (t->content_length < 0 && (t->method == SHIM_M_PUT || t->method == SHIM_M_POST) &&
        lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        /* REF silently ignores a body sent without Content-Length; acting on such a PUT with an
         * empty body would surprise its sender, so refuse it. The unread body ends the
         * connection. */
        t->close_after = 1;
        set_error(t, 411, "a request body needs a Content-Length (chunked bodies are not accepted)");
        schedule(t);
        return 0;
    }
    if (t->content_length > SHIM_BODY_MAX) {
        /* Refuse before reading a byte of it, and close: the unread body must not be taken for
         * the next request. */
        t->close_after = 1;
        set_error(t, 413, "request body larger than 1 MiB");
        schedule(t);
        return 0;
    }
    if (t->content_length > 0) {
        /* Wait for the body, but not for ever (slow senders). */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, h->d.cfg->header_timeout_s);
        return 0;
    }
    dispatch(h, t);
    return 0;
}

static int on_body(struct shim_http *h, struct txn *t, const void *in, size_t len) {
    (void)h;
    if (t->state != T_RECV)
        return 0;
    if (cm_buf_append(&t->body, in, len) < 0) {
        t->close_after = 1;
        set_error(t, 413, "request body larger than 1 MiB");
        schedule(t);
    }
    return 0;
}

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len) {
    struct pss *pss = user;
    struct lws_context *ctx;
    struct shim_http *h;

    /* lws's default lets a certificate that failed verification through: refuse it in the
     * handshake, as REF's CERT_REQUIRED does (len is OpenSSL's preverify_ok; wsi is NULL). */
    if (reason == LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION)
        return len ? 0 : 1;
    ctx = wsi ? lws_get_context(wsi) : NULL;
    h = ctx ? lws_context_user(ctx) : NULL;

    if (!h)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_request(h, wsi, pss, in, len);
    case LWS_CALLBACK_HTTP_BODY:
        if (pss && pss->t)
            return on_body(h, pss->t, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (pss && pss->t) {
            lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
            /* REF reads exactly Content-Length bytes; without one the body is ignored. */
            if (pss->t->content_length <= 0)
                cm_buf_reset(&pss->t->body);
            dispatch(h, pss->t);
        }
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss && pss->t)
            return on_writeable(h, wsi, pss->t);
        return 0;
    case LWS_CALLBACK_TIMER:
        if (pss && pss->t && pss->t->state == T_DELAYED) {
            pss->t->state = T_READY;
            lws_callback_on_writable(wsi);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        drain_done(h);
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        release(h, pss);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    /* tx_packet_size: see WRITE_CHUNK (0 would cap each send() at 4 kB). */
    { "http", cb_http, sizeof(struct pss), 0, 0, NULL, WRITE_CHUNK + HDR_ROOM + FIRST_CHUNK },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void lws_log_cb(int level, const char *line) {
    size_t n = strlen(line);
    char *copy = strndup(line, n && line[n - 1] == '\n' ? n - 1 : n);

    cm_log_kv(level == LLL_ERR ? CM_LOG_ERROR : CM_LOG_WARN, "libwebsockets", "detail",
              copy ? copy : line, NULL);
    free(copy);
}

int shim_http_new(const struct shim_http_deps *d, struct shim_http **ret, char *err, size_t n_err) {
    struct shim_http *h = calloc(1, sizeof *h);
    struct lws_context_creation_info info;
    const struct shim_config *cfg = d->cfg;
    int rc = -ENOMEM;

    if (!h)
        goto fail;
    h->d = *d;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->wbuf = malloc(LWS_PRE + HDR_ROOM + FIRST_CHUNK);
    /* By default five free failures, then one more per second; a guesser waits up to 5 s. */
    h->rl = shim_ratelimit_new(cfg->auth_fail_burst, cfg->auth_fail_rate, 5000, 4096);
    if (!h->wbuf || !h->rl)
        goto fail;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_cb);
    memset(&info, 0, sizeof info);
    info.protocols = protocols;
    info.user = h;
    info.port = cfg->listen_port;
    info.iface = (cfg->listen_interface && *cfg->listen_interface &&
                  strcmp(cfg->listen_interface, "0.0.0.0") != 0)
                     ? cfg->listen_interface
                     : NULL;
    if (cfg->listen_interface && strchr(cfg->listen_interface, '.'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.count_threads = 1;
    info.timeout_secs = (unsigned)cfg->header_timeout_s;
    info.timeout_secs_ah_idle = (unsigned)cfg->header_timeout_s;
    info.keepalive_timeout = cfg->idle_timeout_s;
    info.max_http_header_data = 8192; /* Apache's limit; bearer tokens fit easily */
    info.max_http_header_pool = 0;
    info.server_string = "commissaire-shim";
    info.alpn = "http/1.1";
    if (cfg->tls_pemfile) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_pemfile;
        info.ssl_private_key_filepath = cfg->tls_pemfile;
        info.ssl_options_set = (long)(SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1);
        if (cfg->tls_clientverifyfile) {
            info.ssl_ca_filepath = cfg->tls_clientverifyfile;
            info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        }
    }
    h->ctx = lws_create_context(&info);
    if (!h->ctx) {
        snprintf(err, n_err, "cannot listen on %s:%d%s", cfg->listen_interface, cfg->listen_port,
                 cfg->tls_pemfile ? " (or the TLS files cannot be loaded)" : "");
        rc = -EADDRINUSE;
        goto fail;
    }
    h->vh = lws_get_vhost_by_name(h->ctx, "default");
    h->n_workers = cfg->workers;
    h->workers = calloc((size_t)h->n_workers, sizeof *h->workers);
    if (!h->workers)
        goto fail;
    for (int i = 0; i < h->n_workers; i++)
        if (pthread_create(&h->workers[i], NULL, worker_main, h) != 0) {
            h->n_workers = i;
            rc = -EAGAIN;
            snprintf(err, n_err, "cannot start worker threads");
            goto fail;
        }
    *ret = h;
    return 0;
fail:
    if (rc == -ENOMEM)
        snprintf(err, n_err, "out of memory");
    shim_http_free(h);
    return rc;
}

int shim_http_port(const struct shim_http *h) {
    return h->vh ? lws_get_vhost_listen_port(h->vh) : -1;
}

static void drain_wake(lws_sorted_usec_list_t *sul) {
    (void)sul; /* only there to end the loop's wait at the deadline */
}

/* After a stop request: workers take nothing more, what was queued for them and every new
 * request is answered 503 (and the connection closed), answers in flight go out, all within
 * DRAIN_MS. A worker still busy then finishes its one call (each is bounded) before the join. */
static void drain(struct shim_http *h) {
    int64_t deadline = cm_time_mono_ms() + DRAIN_MS;
    struct txn *queued, *t;

    pthread_mutex_lock(&h->mu);
    h->stopping = 1;
    queued = h->work_head;
    h->work_head = h->work_tail = NULL;
    h->n_pending = 0;
    for (t = queued; t; t = t->next)
        t->in_worker = 0;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    h->draining = 1;
    while (queued) {
        t = queued;
        queued = t->next;
        t->next = NULL;
        if (t->orphaned)
            txn_free(t);
        else
            shutting_down(t);
    }
    lws_sul_schedule(h->ctx, 0, &h->drain_sul, drain_wake, (lws_usec_t)DRAIN_MS * 1000);
    while (atomic_load(&h->n_txn) > 0 && cm_time_mono_ms() < deadline)
        if (lws_service(h->ctx, 0) < 0)
            break;
    lws_sul_cancel(&h->drain_sul);
}

void shim_http_run(struct shim_http *h) {
    while (!atomic_load(&h->stop))
        if (lws_service(h->ctx, 0) < 0)
            return;
    drain(h);
}

void shim_http_stop(struct shim_http *h) {
    atomic_store(&h->stop, 1);
    if (h->ctx)
        lws_cancel_service(h->ctx);
}

void shim_http_free(struct shim_http *h) {
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stopping = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; i < h->n_workers; i++)
        pthread_join(h->workers[i], NULL);
    free(h->workers);
    /* Destroying the context closes every connection (→ release()); finished txns still
     * queued are freed afterwards. */
    if (h->ctx)
        lws_context_destroy(h->ctx);
    while (h->done_head) {
        struct txn *t = h->done_head;

        h->done_head = t->next;
        txn_free(t);
    }
    while (h->work_head) {
        struct txn *t = h->work_head;

        h->work_head = t->next;
        txn_free(t);
    }
    shim_ratelimit_free(h->rl);
    free(h->wbuf);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}
