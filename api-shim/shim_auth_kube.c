#include "shim_auth_kube.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_error.h"

#define SLOTS 1024

struct slot {
    unsigned char key[32];
    int64_t expires_ms;
};

struct kauth {
    struct kube_client *c;
    int64_t ttl_ms;
    char *audience; /* optional spec.audiences[0] */
    pthread_mutex_t lock;
    struct slot cache[SLOTS];
};

static int kauth_create(const json_t *opts, void *host_ctx, void **ret, char *err, size_t n_err) {
    struct kauth *k;
    const char *ttl = shim_auth_opt_str(opts, "cache_ttl", shim_auth_opt_str(opts, "cache-ttl", NULL));
    const char *aud = shim_auth_opt_str(opts, "audience", NULL);

    if (!host_ctx) {
        snprintf(err, n_err, "no API server client");
        return -EINVAL;
    }
    k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->c = host_ctx;
    k->ttl_ms = (ttl ? strtoll(ttl, NULL, 10) : 10) * 1000;
    if (aud && !(k->audience = strdup(aud))) {
        free(k);
        return -ENOMEM;
    }
    pthread_mutex_init(&k->lock, NULL);
    *ret = k;
    return 0;
}

static void kauth_destroy(void *p) {
    struct kauth *k = p;

    if (!k)
        return;
    pthread_mutex_destroy(&k->lock);
    OPENSSL_cleanse(k->cache, sizeof k->cache);
    free(k->audience);
    free(k);
}

static void token_key(const char *tok, unsigned char out[32]) {
    unsigned int n = 32;

    memset(out, 0, 32);
    EVP_Digest(tok, strlen(tok), out, &n, EVP_sha256(), NULL);
}

static int cached(struct kauth *k, const unsigned char key[32]) {
    uint32_t s;
    int hit;

    memcpy(&s, key, sizeof s);
    s %= SLOTS;
    pthread_mutex_lock(&k->lock);
    hit = k->cache[s].expires_ms > cm_time_mono_ms() && CRYPTO_memcmp(k->cache[s].key, key, 32) == 0;
    pthread_mutex_unlock(&k->lock);
    return hit;
}

static void remember(struct kauth *k, const unsigned char key[32]) {
    uint32_t s;

    if (k->ttl_ms <= 0)
        return;
    memcpy(&s, key, sizeof s);
    s %= SLOTS;
    pthread_mutex_lock(&k->lock);
    memcpy(k->cache[s].key, key, 32);
    k->cache[s].expires_ms = cm_time_mono_ms() + k->ttl_ms;
    pthread_mutex_unlock(&k->lock);
}

static int kauth_check(void *p, const struct shim_auth_req *r, int fast) {
    struct kauth *k = p;
    const char *tok = shim_auth_scheme(shim_auth_req_header(r, "authorization"), "bearer");
    unsigned char key[32];
    json_t *review, *res = NULL;
    struct kube_error e;
    int ok = 0, rc;

    if (!tok || !*tok)
        return 0;
    token_key(tok, key);
    if (cached(k, key))
        return 1;
    if (fast)
        return -EAGAIN;
    review = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind",
                       "TokenReview", "spec", "token", tok);
    if (!review)
        return 0;
    if (k->audience)
        cm_json_set(review, "spec.audiences", json_pack("[s]", k->audience));
    kube_error_init(&e);
    rc = kube_request(k->c, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review, NULL,
                      &res, &e);
    json_decref(review);
    if (rc < 0)
        cm_log_kv(CM_LOG_WARN, "TokenReview failed", "error", e.message ? e.message : "", NULL);
    else if (cm_json_get_bool(res, "status.authenticated", 0) == 1) {
        ok = 1;
        remember(k, key);
    }
    json_decref(res);
    kube_error_done(&e);
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

const struct shim_auth_builtin shim_auth_kubernetes = {
    .name = "kubernetes",
    .create = kauth_create,
    .check = kauth_check,
    .destroy = kauth_destroy,
};
