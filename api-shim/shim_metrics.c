#include "shim_metrics.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube_client.h"
#include "shim_store.h"

static const int codes[] = { 200, 201, 400, 403, 404, 405, 408, 409, 413, 429, 500, 503, 0 };
#define NCODES (sizeof codes / sizeof codes[0]) /* the last slot counts every other code */
static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct shim_metrics {
    atomic_uint_fast64_t req[SHIM_R_COUNT_][NCODES];
    atomic_uint_fast64_t hist[SHIM_R_COUNT_][NBUCKETS + 1];
    atomic_uint_fast64_t sum_us[SHIM_R_COUNT_];
    atomic_uint_fast64_t auth_failures;
};

struct shim_metrics *shim_metrics_new(void) {
    return calloc(1, sizeof(struct shim_metrics));
}

void shim_metrics_free(struct shim_metrics *m) {
    free(m);
}

void shim_metrics_observe(struct shim_metrics *m, enum shim_route route, int status,
                          double seconds) {
    size_t c = NCODES - 1, b = NBUCKETS;

    if (!m || (unsigned)route >= SHIM_R_COUNT_)
        return;
    for (size_t i = 0; i + 1 < NCODES; i++)
        if (codes[i] == status)
            c = i;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= buckets[i]) {
            b = i;
            break;
        }
    atomic_fetch_add_explicit(&m->req[route][c], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->hist[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us[route], (uint_fast64_t)(seconds * 1e6),
                              memory_order_relaxed);
}

void shim_metrics_auth_failure(struct shim_metrics *m) {
    if (m)
        atomic_fetch_add_explicit(&m->auth_failures, 1, memory_order_relaxed);
}

int shim_metrics_render(struct shim_metrics *m, struct shim_store *store, struct kube_client *c,
                        struct cm_buf *out) {
    int rc = 0;

#define P(...)                                                                                     \
    do {                                                                                           \
        if (rc == 0)                                                                               \
            rc = cm_buf_printf(out, __VA_ARGS__);                                                  \
    } while (0)
    P("# HELP commissaire_shim_http_requests_total REST requests answered, by route and code.\n"
      "# TYPE commissaire_shim_http_requests_total counter\n");
    for (int r = 0; r < SHIM_R_COUNT_; r++)
        for (size_t i = 0; i < NCODES; i++) {
            uint64_t v = atomic_load(&m->req[r][i]);

            if (!v)
                continue;
            if (codes[i])
                P("commissaire_shim_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                  shim_route_name((enum shim_route)r), codes[i], (unsigned long long)v);
            else
                P("commissaire_shim_http_requests_total{route=\"%s\",code=\"other\"} %llu\n",
                  shim_route_name((enum shim_route)r), (unsigned long long)v);
        }
    P("# HELP commissaire_shim_http_request_duration_seconds Time from request to response.\n"
      "# TYPE commissaire_shim_http_request_duration_seconds histogram\n");
    for (int r = 0; r < SHIM_R_COUNT_; r++) {
        uint64_t cum = 0, tot = 0;
        const char *rn = shim_route_name((enum shim_route)r);

        for (size_t b = 0; b <= NBUCKETS; b++)
            tot += atomic_load(&m->hist[r][b]);
        if (!tot)
            continue;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += atomic_load(&m->hist[r][b]);
            P("commissaire_shim_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
              "%llu\n",
              rn, buckets[b], (unsigned long long)cum);
        }
        P("commissaire_shim_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
          rn, (unsigned long long)tot);
        P("commissaire_shim_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", rn,
          (double)atomic_load(&m->sum_us[r]) / 1e6);
        P("commissaire_shim_http_request_duration_seconds_count{route=\"%s\"} %llu\n", rn,
          (unsigned long long)tot);
    }
    P("# HELP commissaire_shim_auth_failures_total Requests refused by authentication.\n"
      "# TYPE commissaire_shim_auth_failures_total counter\n"
      "commissaire_shim_auth_failures_total %llu\n",
      (unsigned long long)atomic_load(&m->auth_failures));
    if (store) {
        P("# HELP commissaire_shim_cache_objects Objects in the shim's informer caches.\n"
          "# TYPE commissaire_shim_cache_objects gauge\n");
        for (int k = 0; k < SHIM_K_COUNT_; k++)
            P("commissaire_shim_cache_objects{kind=\"%s\"} %zu\n", shim_kind_name((enum shim_kind)k),
              shim_store_count(store, (enum shim_kind)k));
        P("# HELP commissaire_shim_cache_ready 1 when every informer cache has synced.\n"
          "# TYPE commissaire_shim_cache_ready gauge\ncommissaire_shim_cache_ready %d\n",
          shim_store_ready(store));
    }
    if (c) {
        struct kube_request_stat *st = NULL;
        size_t n = 0;

        if (kube_client_stats(c, &st, &n) == 0) {
            P("# HELP commissaire_shim_apiserver_requests_total Requests to the Kubernetes API "
              "server, by verb and code (0: no response).\n"
              "# TYPE commissaire_shim_apiserver_requests_total counter\n");
            for (size_t i = 0; i < n; i++)
                P("commissaire_shim_apiserver_requests_total{verb=\"%s\",code=\"%d\"} %llu\n",
                  st[i].verb, st[i].code, (unsigned long long)st[i].count);
            free(st);
        }
    }
#undef P
    return rc;
}
