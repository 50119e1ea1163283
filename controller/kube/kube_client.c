/* kube_client: blocking REST requests with a handle pool, rate limiting and retries.
 *
 * Each request borrows a CURL easy handle from a small pool: a libcurl easy handle keeps its own
 * connection cache, so returning it to the pool keeps the TCP/TLS connection alive for the next
 * request of any thread while no two threads ever use one handle at once. Handles beyond the
 * pool's size are cleaned up after use, which bounds idle connections.
 *
 * Retry policy (kube__client_do): 429 and 503 mean the server did not process the request, so
 * they are retried for every verb; other 5xx are retried for idempotent verbs (GET, PUT with its
 * resourceVersion, DELETE) and, for POST/PATCH, only when the server sent Retry-After; a failure
 * to connect is retried for every verb (nothing was sent), other transport failures only for
 * idempotent verbs. */
#include "kube_client.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cm_b64.h"
#include "cm_backoff.h"
#include "cm_buf.h"
#include "cm_json.h"
#include "cm_time.h"
#include "kube_client_internal.h"
#include "kube_config.h"
#include "kube_error.h"
#include "kube_ratelimit.h"
#include "kube_token.h"
#include "kube_url.h"

#define POOL_MAX 8
#define HEADER_LINE_MAX 8192

const struct kube_resource KUBE_RES_CONFIGMAPS = {"", "v1", "configmaps", 1};
const struct kube_resource KUBE_RES_SECRETS = {"", "v1", "secrets", 1};
const struct kube_resource KUBE_RES_EVENTS = {"", "v1", "events", 1};
const struct kube_resource KUBE_RES_NAMESPACES = {"", "v1", "namespaces", 0};
const struct kube_resource KUBE_RES_NODES = {"", "v1", "nodes", 0};
const struct kube_resource KUBE_RES_PODS = {"", "v1", "pods", 1};
const struct kube_resource KUBE_RES_LEASES = {"coordination.k8s.io", "v1", "leases", 1};

struct blob {
    char *data;
    size_t len;
};

struct stat_entry {
    char verb[8];
    int code;
    uint64_t count;
};

struct kube_client {
    char *server;
    char *namespace;
    char *user_agent;
    struct kube_client_options opts;
    struct kube_token *token;
    char *ca_file;
    struct blob ca_data;
    int insecure;
    char *cert_file, *key_file;
    struct blob cert_data, key_data;

    pthread_mutex_t pool_lock;
    CURL *pool[POOL_MAX];
    size_t n_pool;

    pthread_mutex_t rl_lock;
    struct kube_bucket bucket;
    int64_t throttled_ms;

    pthread_mutex_t stats_lock;
    struct stat_entry *stats;
    size_t n_stats, alloc_stats;
};

void kube_client_options_init(struct kube_client_options *o) {
    memset(o, 0, sizeof(*o));
    o->qps = 5;
    o->burst = 10;
    o->max_retries = 5;
    o->backoff_base_ms = 200;
    o->backoff_cap_ms = 10000;
    o->timeout_ms = 30000;
    o->connect_timeout_ms = 10000;
    o->max_body = 64u * 1024 * 1024;
    o->user_agent = NULL;
}

void kube_delete_options_init(struct kube_delete_options *o) {
    memset(o, 0, sizeof(*o));
    o->grace_period_seconds = -1;
}

const char *kube_patch_type_content_type(enum kube_patch_type t) {
    switch (t) {
    case KUBE_PATCH_MERGE: return "application/merge-patch+json";
    case KUBE_PATCH_JSON: return "application/json-patch+json";
    case KUBE_PATCH_STRATEGIC: return "application/strategic-merge-patch+json";
    case KUBE_PATCH_APPLY: return "application/apply-patch+yaml";
    }
    return "application/merge-patch+json";
}

static int blob_dup(struct blob *b, const char *data, size_t len) {
    if (!data)
        return 0;
    b->data = malloc(len + 1);
    if (!b->data)
        return -ENOMEM;
    memcpy(b->data, data, len);
    b->data[len] = '\0';
    b->len = len;
    return 0;
}

static void blob_wipe(struct blob *b) {
    if (b->data) {
        explicit_bzero(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
}

static int dup_opt(char **dst, const char *s) {
    if (!s)
        return 0;
    *dst = strdup(s);
    return *dst ? 0 : -ENOMEM;
}

static int check_file(const char *path, const char *what, struct kube_error *err) {
    struct stat st;
    if (path && stat(path, &st) < 0) {
        int r = -errno;
        kube_error_set(err, 0, NULL, "%s %s: %s", what, path, strerror(-r));
        return r;
    }
    return 0;
}

/* The ExecCredential spec.cluster a plugin asks for with provideClusterInfo. */
static char *exec_cluster_json(const struct kube_config *cfg) {
    json_t *o = json_pack("{s:s, s:b}", "server", cfg->server, "insecure-skip-tls-verify",
                          cfg->insecure_skip_tls_verify);
    char *ca = NULL, *text = NULL;
    if (o && cfg->ca_data && cm_b64_encode(cfg->ca_data, cfg->ca_data_len, &ca) == 0)
        json_object_set_new(o, "certificate-authority-data", json_string(ca));
    if (o)
        text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(ca);
    return text;
}

void kube__client_reauth(struct kube_client *c) {
    kube_token_invalidate(c->token);
}

static int token_new(const struct kube_config *cfg, struct kube_token **ret) {
    if (!cfg->exec)
        return kube_token_new(cfg->token, cfg->token_file, ret);
    char *cj = exec_cluster_json(cfg);
    if (!cj)
        return -ENOMEM;
    int r = kube_token_new_exec(cfg->exec, cj, ret);
    free(cj);
    return r;
}

int kube_client_new(const struct kube_config *cfg, const struct kube_client_options *opts,
                    struct kube_client **ret_client, struct kube_error *err) {
    if (!cfg || !cfg->server ||
        (strncmp(cfg->server, "https://", 8) != 0 && strncmp(cfg->server, "http://", 7) != 0)) {
        kube_error_set(err, 0, NULL, "invalid server URL");
        return -EINVAL;
    }
    int r;
    if ((r = check_file(cfg->ca_file, "certificate authority", err)) < 0 ||
        (r = check_file(cfg->client_cert_file, "client certificate", err)) < 0 ||
        (r = check_file(cfg->client_key_file, "client key", err)) < 0 ||
        (r = check_file(cfg->token_file, "token file", err)) < 0)
        return r;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct kube_client *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->pool_lock, NULL);
    pthread_mutex_init(&c->rl_lock, NULL);
    pthread_mutex_init(&c->stats_lock, NULL);
    if (opts)
        c->opts = *opts;
    else
        kube_client_options_init(&c->opts);
    c->opts.user_agent = NULL;
    r = -ENOMEM;
    char ua[64];
    snprintf(ua, sizeof(ua), "commissaire/0.1.0");
    if (dup_opt(&c->server, cfg->server) < 0 ||
        dup_opt(&c->namespace, cfg->namespace ? cfg->namespace : "default") < 0 ||
        dup_opt(&c->user_agent, opts && opts->user_agent ? opts->user_agent : ua) < 0 ||
        dup_opt(&c->ca_file, cfg->ca_file) < 0 || dup_opt(&c->cert_file, cfg->client_cert_file) < 0 ||
        dup_opt(&c->key_file, cfg->client_key_file) < 0 ||
        blob_dup(&c->ca_data, cfg->ca_data, cfg->ca_data_len) < 0 ||
        blob_dup(&c->cert_data, cfg->client_cert_data, cfg->client_cert_data_len) < 0 ||
        blob_dup(&c->key_data, cfg->client_key_data, cfg->client_key_data_len) < 0 ||
        token_new(cfg, &c->token) < 0)
        goto fail;
    size_t sl = strlen(c->server);
    while (sl > 0 && c->server[sl - 1] == '/')
        c->server[--sl] = '\0';
    c->insecure = cfg->insecure_skip_tls_verify;
    if (c->opts.max_body == 0)
        c->opts.max_body = 64u * 1024 * 1024;
    if (c->opts.backoff_cap_ms <= 0)
        c->opts.backoff_cap_ms = 10000;
    kube_bucket_init(&c->bucket, c->opts.qps, c->opts.burst, cm_time_mono_ms());
    /* Fail now rather than at the first request when the token file is unreadable. */
    char *tok = NULL;
    if ((r = kube_token_get(c->token, &tok, err)) < 0)
        goto fail;
    if (tok) {
        explicit_bzero(tok, strlen(tok));
        free(tok);
    }
    *ret_client = c;
    return 0;
fail:
    kube_client_free(c);
    return r;
}

void kube_client_free(struct kube_client *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n_pool; i++)
        curl_easy_cleanup(c->pool[i]);
    free(c->server);
    free(c->namespace);
    free(c->user_agent);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    blob_wipe(&c->ca_data);
    blob_wipe(&c->cert_data);
    blob_wipe(&c->key_data);
    kube_token_free(c->token);
    free(c->stats);
    pthread_mutex_destroy(&c->pool_lock);
    pthread_mutex_destroy(&c->rl_lock);
    pthread_mutex_destroy(&c->stats_lock);
    free(c);
}

const char *kube_client_namespace(const struct kube_client *c) {
    return c->namespace;
}

const char *kube_client_server(const struct kube_client *c) {
    return c->server;
}

/* ---- internals shared with the watch ------------------------------------------------- */

void kube__client_count(struct kube_client *c, const char *verb, int code) {
    pthread_mutex_lock(&c->stats_lock);
    for (size_t i = 0; i < c->n_stats; i++) {
        if (c->stats[i].code == code && strcmp(c->stats[i].verb, verb) == 0) {
            c->stats[i].count++;
            pthread_mutex_unlock(&c->stats_lock);
            return;
        }
    }
    if (c->n_stats == c->alloc_stats) {
        size_t n = c->alloc_stats ? c->alloc_stats * 2 : 16;
        struct stat_entry *p = realloc(c->stats, n * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&c->stats_lock);
            return;
        }
        c->stats = p;
        c->alloc_stats = n;
    }
    struct stat_entry *e = &c->stats[c->n_stats++];
    snprintf(e->verb, sizeof(e->verb), "%s", verb);
    e->code = code;
    e->count = 1;
    pthread_mutex_unlock(&c->stats_lock);
}

static int stat_cmp(const void *a, const void *b) {
    const struct kube_request_stat *x = a, *y = b;
    int r = strcmp(x->verb, y->verb);
    return r ? r : (x->code > y->code) - (x->code < y->code);
}

int kube_client_stats(struct kube_client *c, struct kube_request_stat **ret_stats,
                      size_t *ret_n) {
    pthread_mutex_lock(&c->stats_lock);
    size_t n = c->n_stats;
    struct kube_request_stat *s = NULL;
    if (n > 0) {
        s = calloc(n, sizeof(*s));
        if (!s) {
            pthread_mutex_unlock(&c->stats_lock);
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            memcpy(s[i].verb, c->stats[i].verb, sizeof(s[i].verb));
            s[i].code = c->stats[i].code;
            s[i].count = c->stats[i].count;
        }
    }
    pthread_mutex_unlock(&c->stats_lock);
    if (n > 1)
        qsort(s, n, sizeof(*s), stat_cmp);
    *ret_stats = s;
    *ret_n = n;
    return 0;
}

int64_t kube_client_throttled_ms(struct kube_client *c) {
    pthread_mutex_lock(&c->rl_lock);
    int64_t v = c->throttled_ms;
    pthread_mutex_unlock(&c->rl_lock);
    return v;
}

static _Thread_local int64_t tl_deadline_ms;

void kube__client_set_deadline(int64_t mono_ms) {
    tl_deadline_ms = mono_ms;
}

static void sleep_ms(int64_t ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void kube__client_throttle(struct kube_client *c) {
    pthread_mutex_lock(&c->rl_lock);
    int64_t wait = kube_bucket_reserve(&c->bucket, cm_time_mono_ms());
    c->throttled_ms += wait;
    pthread_mutex_unlock(&c->rl_lock);
    /* The token is already reserved, so waiting outside the lock keeps others' reservations
     * flowing (each gets its own later slot). */
    sleep_ms(wait);
}

int kube__curl_error(CURLcode rc, const char *errbuf, struct kube_error *err) {
    int r;
    switch (rc) {
    case CURLE_COULDNT_CONNECT: r = -ECONNREFUSED; break;
    case CURLE_COULDNT_RESOLVE_HOST: r = -EHOSTUNREACH; break;
    case CURLE_OPERATION_TIMEDOUT: r = -ETIMEDOUT; break;
    case CURLE_WRITE_ERROR: r = -E2BIG; break;
    case CURLE_OUT_OF_MEMORY: r = -ENOMEM; break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE: r = -EPROTO; break;
    case CURLE_ABORTED_BY_CALLBACK: r = -ECANCELED; break;
    default: r = -EIO; break;
    }
    kube_error_set(err, 0, NULL, "transport error: %s", errbuf && *errbuf ? errbuf
                                                                            : curl_easy_strerror(rc));
    return r;
}

void kube__client_headers_free(struct curl_slist *l) {
    for (struct curl_slist *p = l; p; p = p->next)
        if (strncmp(p->data, "Authorization:", 14) == 0)
            explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

int kube__client_setup(struct kube_client *c, CURL *h, const char *method, const char *path_query,
                       int with_body, const char *content_type, struct curl_slist **ret_headers,
                       struct kube_error *err) {
    struct cm_buf url;
    cm_buf_init(&url, 0);
    if (cm_buf_printf(&url, "%s%s", c->server, path_query) < 0) {
        cm_buf_done(&url);
        return -ENOMEM;
    }
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    cm_buf_done(&url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->opts.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (strcmp(method, "GET") == 0)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    else
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->ca_data.data) {
        struct curl_blob b = {.data = c->ca_data.data, .len = c->ca_data.len,
                              .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->cert_file)
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
    if (c->key_file)
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
    if (c->cert_data.data) {
        struct curl_blob b = {.data = c->cert_data.data, .len = c->cert_data.len,
                              .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (c->key_data.data) {
        struct curl_blob b = {.data = c->key_data.data, .len = c->key_data.len,
                              .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    struct curl_slist *hl = NULL, *t;
    char *tok = NULL;
    int r = kube_token_get(c->token, &tok, err);
    if (r < 0)
        return r;
    if (tok) {
        struct cm_buf a;
        cm_buf_init(&a, 0);
        r = cm_buf_printf(&a, "Authorization: Bearer %s", tok);
        explicit_bzero(tok, strlen(tok));
        free(tok);
        if (r < 0) {
            cm_buf_done(&a);
            return -ENOMEM;
        }
        t = curl_slist_append(hl, a.data);
        explicit_bzero(a.data, a.len);
        cm_buf_done(&a);
        if (!t)
            return -ENOMEM;
        hl = t;
    }
    const char *hdrs[3] = {"Accept: application/json", NULL, NULL};
    char ct[128];
    if (with_body) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
        hdrs[1] = ct;
    }
    for (int i = 0; i < 3 && hdrs[i]; i++) {
        t = curl_slist_append(hl, hdrs[i]);
        if (!t) {
            kube__client_headers_free(hl);
            return -ENOMEM;
        }
        hl = t;
    }
    /* Without this curl sends "Expect: 100-continue" for larger bodies and waits for it. */
    t = curl_slist_append(hl, "Expect:");
    if (!t) {
        kube__client_headers_free(hl);
        return -ENOMEM;
    }
    hl = t;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    *ret_headers = hl;
    return 0;
}

/* ---- one request with retries ---------------------------------------------------------- */

static CURL *pool_get(struct kube_client *c) {
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_pool > 0)
        h = c->pool[--c->n_pool];
    pthread_mutex_unlock(&c->pool_lock);
    if (h)
        curl_easy_reset(h); /* keeps the connection cache, forgets options */
    else
        h = curl_easy_init();
    return h;
}

static void pool_put(struct kube_client *c, CURL *h) {
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_pool < POOL_MAX) {
        c->pool[c->n_pool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    if (h)
        curl_easy_cleanup(h);
}

struct resp {
    struct cm_buf body;
    int64_t retry_after_ms; /* -1 when absent */
};

static size_t body_cb(char *p, size_t sz, size_t n, void *ud) {
    struct resp *rs = ud;
    return cm_buf_append(&rs->body, p, sz * n) < 0 ? 0 : sz * n;
}

static size_t header_cb(char *p, size_t sz, size_t n, void *ud) {
    struct resp *rs = ud;
    size_t len = sz * n;
    if (len > HEADER_LINE_MAX)
        return len;
    if (len >= 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char v[128];
        size_t vl = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
        memcpy(v, p + 12, vl);
        v[vl] = '\0';
        int64_t ms;
        if (kube_retry_after_parse(v, cm_time_wall_ms(), INT64_MAX, &ms) == 0)
            rs->retry_after_ms = ms;
    } else if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        rs->retry_after_ms = -1; /* a new response (e.g. after 100 Continue) */
    }
    return len;
}

static int is_idempotent(const char *method) {
    return strcmp(method, "GET") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "DELETE") == 0 || strcmp(method, "HEAD") == 0;
}

/* Performs method on path_query with an optional body, retrying as described at the top.
 * On a final HTTP answer returns 0 with *ret_code and the body in resp (any code); on a final
 * transport failure returns -errno with err filled. */
static int client_do(struct kube_client *c, const char *method, const char *verb,
                     const char *path_query, const char *body, size_t body_len,
                     const char *content_type, struct resp *rs, int *ret_code,
                     struct kube_error *err) {
    int idem = is_idempotent(method), reauthed = 0;
    for (unsigned attempt = 0;; attempt++) {
        kube__client_throttle(c);
        CURL *h = pool_get(c);
        if (!h)
            return -ENOMEM;
        struct curl_slist *hl = NULL;
        int r = kube__client_setup(c, h, method, path_query, body != NULL, content_type, &hl,
                                   err);
        if (r < 0) {
            pool_put(c, h);
            return r;
        }
        char errbuf[CURL_ERROR_SIZE] = "";
        cm_buf_reset(&rs->body);
        rs->retry_after_ms = -1;
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, rs);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, rs);
        int64_t tmo = c->opts.timeout_ms;
        if (tl_deadline_ms > 0) {
            int64_t left = tl_deadline_ms - cm_time_mono_ms();
            if (left < 1)
                left = 1;
            if (tmo <= 0 || left < tmo)
                tmo = left;
        }
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)tmo);
        if (body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        CURLcode rc = curl_easy_perform(h);
        long code = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        kube__client_headers_free(hl);
        pool_put(c, h);
        kube__client_count(c, verb, (int)code);
        int more = attempt < c->opts.max_retries;
        if (more && tl_deadline_ms > 0 &&
            cm_time_mono_ms() + kube_retry_delay_ms(attempt, c->opts.backoff_base_ms,
                                                    c->opts.backoff_cap_ms, -1, 0.0) >=
                tl_deadline_ms)
            more = 0; /* the caller's deadline would pass before the retry */
        if (rc != CURLE_OK) {
            int sent_nothing = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
            if (rc == CURLE_WRITE_ERROR) {
                kube_error_set(err, 0, NULL, "response body larger than %zu bytes",
                               c->opts.max_body);
                return -E2BIG;
            }
            if (more && (idem || sent_nothing)) {
                sleep_ms(kube_retry_delay_ms(attempt, c->opts.backoff_base_ms,
                                             c->opts.backoff_cap_ms, -1, cm_backoff_rand()));
                continue;
            }
            return kube__curl_error(rc, errbuf, err);
        }
        /* An exec plugin's token may be revoked before its stated expiry: fetch a new one and
         * try once more, as client-go does. */
        if (code == 401 && !reauthed && kube_token_invalidate(c->token)) {
            reauthed = 1;
            continue;
        }
        int retryable = code == 429 || code == 503 ||
                        (code >= 500 && (idem || rs->retry_after_ms >= 0));
        if (more && retryable) {
            int64_t ra = rs->retry_after_ms;
            if (ra < 0) {
                /* Status details.retryAfterSeconds, when only the body carries it. */
                struct kube_error tmp;
                kube_error_init(&tmp);
                kube_error_from_response(&tmp, (int)code, rs->body.data, rs->body.len);
                ra = tmp.retry_after_ms;
                kube_error_done(&tmp);
            }
            sleep_ms(kube_retry_delay_ms(attempt, c->opts.backoff_base_ms, c->opts.backoff_cap_ms,
                                         ra, cm_backoff_rand()));
            continue;
        }
        *ret_code = (int)code;
        return 0;
    }
}

/* Runs a request and turns the answer into a JSON value or a kube_error. */
static int do_json(struct kube_client *c, const char *method, const char *verb,
                   const char *path_query, const json_t *body, const char *content_type,
                   json_t **ret_obj, struct kube_error *err) {
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
            return -ENOMEM;
    }
    struct resp rs;
    cm_buf_init(&rs.body, c->opts.max_body);
    rs.retry_after_ms = -1;
    int code = 0;
    int r = client_do(c, method, verb, path_query, text, text ? strlen(text) : 0, content_type,
                      &rs, &code, err);
    free(text);
    if (r < 0)
        goto out;
    if (code < 200 || code >= 300) {
        r = kube_error_from_response(err, code, rs.body.data, rs.body.len);
        if (r == 0)
            r = -EPROTO;
        if (err && code < 400)
            kube_error_set(err, code, NULL, "unexpected HTTP %d", code);
        if (err && rs.retry_after_ms >= 0)
            err->retry_after_ms = rs.retry_after_ms;
        goto out;
    }
    json_t *v;
    if (rs.body.len == 0) {
        v = json_null();
    } else {
        json_error_t je;
        v = json_loadb(rs.body.data, rs.body.len, 0, &je);
        if (!v) {
            kube_error_set(err, code, NULL, "response is not JSON: %s (line %d)", je.text,
                           je.line);
            r = -EPROTO;
            goto out;
        }
    }
    if (ret_obj)
        *ret_obj = v;
    else
        json_decref(v);
out:
    cm_buf_done(&rs.body);
    return r;
}

static int bad_args(struct kube_error *err, int r) {
    if (r == -EINVAL)
        kube_error_set(err, 0, NULL, "invalid request: missing or invalid namespace/name");
    return r;
}

static int add_write_opts(struct cm_buf *u, const struct kube_write_options *w) {
    int r = 0;
    if (!w)
        return 0;
    if (w->field_manager && *w->field_manager)
        r = kube_url_query_add(u, "fieldManager", w->field_manager);
    if (r >= 0 && w->force)
        r = kube_url_query_add(u, "force", "true");
    if (r >= 0 && w->dry_run)
        r = kube_url_query_add(u, "dryRun", "All");
    return r;
}

int kube_request(struct kube_client *c, const char *method, const char *path,
                 const json_t *body, const char *content_type, json_t **ret_obj,
                 struct kube_error *err) {
    if (!method || !path || path[0] != '/') {
        kube_error_set(err, 0, NULL, "invalid request: path must start with /");
        return -EINVAL;
    }
    return do_json(c, method, method, path, body, content_type, ret_obj, err);
}

int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
             const char *name, const char *subresource, json_t **ret_obj, struct kube_error *err) {
    struct cm_buf u;
    cm_buf_init(&u, 0);
    int r = name ? kube_url_path(&u, res, ns, name, subresource) : -EINVAL;
    if (r >= 0)
        r = do_json(c, "GET", "GET", u.data, NULL, NULL, ret_obj, err);
    else
        bad_args(err, r);
    cm_buf_done(&u);
    return r;
}

int kube_list(struct kube_client *c, const struct kube_resource *res, const char *ns,
              const struct kube_list_options *opts, json_t **ret_list, struct kube_error *err) {
    struct cm_buf u;
    cm_buf_init(&u, 0);
    int r = kube_url_path(&u, res, ns, NULL, NULL);
    if (r >= 0)
        r = kube_url_list_query(&u, opts, 0, 0);
    if (r >= 0)
        r = do_json(c, "GET", "LIST", u.data, NULL, NULL, ret_list, err);
    else
        bad_args(err, r);
    cm_buf_done(&u);
    return r;
}

int kube_list_all(struct kube_client *c, const struct kube_resource *res, const char *ns,
                  const struct kube_list_options *opts, json_t **ret_list,
                  struct kube_error *err) {
    struct kube_list_options o = {0};
    if (opts)
        o = *opts;
    if (o.limit <= 0)
        o.limit = 500;
    const char *first_rv = o.resource_version;
    int restarted = 0;
    json_t *all = NULL, *page = NULL;
    int r;
again:
    json_decref(all);
    all = json_array();
    if (!all)
        return -ENOMEM;
    o.continue_token = NULL;
    o.resource_version = first_rv;
    char *cont = NULL;
    for (;;) {
        page = NULL;
        r = kube_list(c, res, ns, &o, &page, err);
        if (r < 0) {
            int was_continuing = o.continue_token != NULL;
            free(cont);
            if (r == -ERANGE && was_continuing && !restarted) {
                restarted = 1; /* the continue token expired: start over once */
                goto again;
            }
            json_decref(all);
            return r;
        }
        json_t *items = json_object_get(page, "items");
        if (json_is_array(items) && json_array_extend(all, items) < 0) {
            free(cont);
            json_decref(page);
            json_decref(all);
            return -ENOMEM;
        }
        const char *next = cm_json_get_str(page, "metadata.continue");
        free(cont);
        cont = NULL;
        if (!next || !*next)
            break;
        if (!(cont = strdup(next))) {
            json_decref(page);
            json_decref(all);
            return -ENOMEM;
        }
        json_decref(page);
        o.continue_token = cont;
        /* resourceVersion must not be combined with continue (the token carries it). */
        o.resource_version = NULL;
    }
    /* page is the last page: reuse it as the envelope (kind, apiVersion, metadata). */
    json_object_del(json_object_get(page, "metadata"), "continue");
    json_object_del(json_object_get(page, "metadata"), "remainingItemCount");
    if (json_object_set_new(page, "items", all) < 0) {
        json_decref(page);
        return -ENOMEM;
    }
    if (ret_list)
        *ret_list = page;
    else
        json_decref(page);
    return 0;
}

int kube_create(struct kube_client *c, const struct kube_resource *res, const char *ns,
                const json_t *body, const struct kube_write_options *wopts, json_t **ret_obj,
                struct kube_error *err) {
    struct cm_buf u;
    cm_buf_init(&u, 0);
    int r = kube_url_path(&u, res, ns, NULL, NULL);
    if (r >= 0 && res->namespaced && (!ns || !*ns))
        r = -EINVAL;
    if (r >= 0 && (r = add_write_opts(&u, wopts)) >= 0)
        r = do_json(c, "POST", "POST", u.data, body, NULL, ret_obj, err);
    else
        bad_args(err, r);
    cm_buf_done(&u);
    return r;
}

int kube_create_subresource(struct kube_client *c, const struct kube_resource *res,
                            const char *ns, const char *name, const char *subresource,
                            const json_t *body, json_t **ret_obj, struct kube_error *err) {
    struct cm_buf u;
    cm_buf_init(&u, 0);
    int r = name && subresource ? kube_url_path(&u, res, ns, name, subresource) : -EINVAL;
    if (r >= 0)
        r = do_json(c, "POST", "POST", u.data, body, NULL, ret_obj, err);
    else
        bad_args(err, r);
    cm_buf_done(&u);
    return r;
}

int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
                const char *name, const char *subresource, const json_t *body,
                const struct kube_write_options *wopts, json_t **ret_obj,
                struct kube_error *err) {
    struct cm_buf u;
    cm_buf_init(&u, 0);
    int r = name ? kube_url_path(&u, res, ns, name, subresource) : -EINVAL;
    if (r >= 0 && (r = add_write_opts(&u, wopts)) >= 0)
        r = do_json(c, "PUT", "PUT", u.data, body, NULL, ret_obj, err);
    else
        bad_args(err, r);
    cm_buf_done(&u);
    return r;
}

int kube_patch(struct kube_client *c, const struct kube_resource *res, const char *ns,
               const char *name, const char *subresource, enum kube_patch_type type,
               const json_t *patch, const struct kube_write_options *wopts, json_t **ret_obj,
               struct kube_error *err) {
    struct cm_buf u;
    cm_buf_init(&u, 0);
    int r = name && patch ? kube_url_path(&u, res, ns, name, subresource) : -EINVAL;
    if (r >= 0 && (r = add_write_opts(&u, wopts)) >= 0)
        r = do_json(c, "PATCH", "PATCH", u.data, patch, kube_patch_type_content_type(type),
                    ret_obj, err);
    else
        bad_args(err, r);
    cm_buf_done(&u);
    return r;
}

int kube_delete(struct kube_client *c, const struct kube_resource *res, const char *ns,
                const char *name, const struct kube_delete_options *d, json_t **ret_obj,
                struct kube_error *err) {
    struct cm_buf u;
    cm_buf_init(&u, 0);
    json_t *body = NULL;
    int r = name ? kube_url_path(&u, res, ns, name, NULL) : -EINVAL;
    if (r < 0) {
        bad_args(err, r);
        goto out;
    }
    if (d) {
        body = json_pack("{s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
        if (!body) {
            r = -ENOMEM;
            goto out;
        }
        if (d->propagation_policy)
            json_object_set_new(body, "propagationPolicy", json_string(d->propagation_policy));
        if (d->grace_period_seconds >= 0)
            json_object_set_new(body, "gracePeriodSeconds",
                                json_integer(d->grace_period_seconds));
        if (d->precondition_uid || d->precondition_resource_version) {
            json_t *pre = json_object();
            if (d->precondition_uid)
                json_object_set_new(pre, "uid", json_string(d->precondition_uid));
            if (d->precondition_resource_version)
                json_object_set_new(pre, "resourceVersion",
                                    json_string(d->precondition_resource_version));
            json_object_set_new(body, "preconditions", pre);
        }
    }
    r = do_json(c, "DELETE", "DELETE", u.data, body, NULL, ret_obj, err);
out:
    json_decref(body);
    cm_buf_done(&u);
    return r;
}
