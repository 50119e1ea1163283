#include "ctrmgr.h"

#include "cm_json.h"
#include "host_ssh.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_error.h"
#include "rc_manager.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    char *key;     /* ns/name */
    char *version; /* cm resourceVersion + "/" + secret resourceVersion */
    struct kube_client *client, *evict;
    int retired;
};

struct ctrmgr_cache {
    pthread_mutex_t lock;
    struct entry *entries;
};

int ctrmgr_cache_new(struct ctrmgr_cache **ret_cache) {
    struct ctrmgr_cache *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    *ret_cache = c;
    return 0;
}

void ctrmgr_cache_free(struct ctrmgr_cache *cache) {
    if (!cache)
        return;
    for (struct entry *e = cache->entries, *n; e; e = n) {
        n = e->next;
        kube_client_free(e->client);
        kube_client_free(e->evict);
        free(e->key);
        free(e->version);
        free(e);
    }
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

static void wipe_free(char *p, size_t n) {
    if (p) {
        explicit_bzero(p, n);
        free(p);
    }
}

/* Reads data[key] of the Secret decoded, or NULL. */
static char *secret_value(const json_t *secret, const char *key, size_t *ret_len) {
    const char *b64 = cm_json_get_str(json_object_get(secret, "data"), key);
    char *out = NULL;
    if (!b64 || host_ssh_base64_decode(b64, &out, ret_len) < 0)
        return NULL;
    return out;
}

static int build(const struct rc_env *env, const json_t *cm, const json_t *secret,
                 struct kube_client **ret_client, struct kube_client **ret_evict, char *msg,
                 size_t n) {
    const char *url = cm_json_get_str(cm, "spec.serverURL");
    if (!url || !*url) {
        snprintf(msg, n, "spec.serverURL is not set");
        return -EINVAL;
    }
    struct kube_config cfg = {0};
    cfg.server = (char *)url;
    cfg.namespace = (char *)"default";
    const char *ca = cm_json_get_str(cm, "spec.ca");
    if (ca && *ca) {
        cfg.ca_data = (char *)ca;
        cfg.ca_data_len = strlen(ca);
    }
    cfg.insecure_skip_tls_verify = cm_json_get_bool(cm, "spec.insecureSkipTLSVerify", 0);
    size_t tok_len = 0, crt_len = 0, key_len = 0;
    char *token = secret ? secret_value(secret, "token", &tok_len) : NULL;
    char *crt = secret ? secret_value(secret, "tls.crt", &crt_len) : NULL;
    char *key = secret ? secret_value(secret, "tls.key", &key_len) : NULL;
    int r = 0;
    if (secret && !token && !(crt && key)) {
        snprintf(msg, n, "credentials Secret has neither \"token\" nor \"tls.crt\"+\"tls.key\"");
        r = -EINVAL;
        goto out;
    }
    if (token) {
        /* Tokens are often stored with a trailing newline (echo > file). */
        while (tok_len && (token[tok_len - 1] == '\n' || token[tok_len - 1] == '\r'))
            token[--tok_len] = '\0';
        cfg.token = token;
    } else if (crt && key) {
        cfg.client_cert_data = crt;
        cfg.client_cert_data_len = crt_len;
        cfg.client_key_data = key;
        cfg.client_key_data_len = key_len;
    }
    struct kube_client_options o;
    kube_client_options_init(&o);
    o.qps = 20;
    o.burst = 40;
    struct kube_error err;
    kube_error_init(&err);
    r = kube_client_new(&cfg, &o, ret_client, &err);
    if (r == 0) {
        o.max_retries = 0;
        r = kube_client_new(&cfg, &o, ret_evict, &err);
        if (r < 0) {
            kube_client_free(*ret_client);
            *ret_client = NULL;
        }
    }
    if (r < 0)
        snprintf(msg, n, "cannot use %s: %s", url, err.message ? err.message : "bad configuration");
    kube_error_done(&err);
out:
    wipe_free(token, tok_len);
    wipe_free(crt, crt_len);
    wipe_free(key, key_len);
    return r;
}

int ctrmgr_clients(const struct rc_env *env, struct ctrmgr_cache *cache, const json_t *cm,
                   struct kube_client **ret_client, struct kube_client **ret_evict, char *msg,
                   size_t n) {
    if (cm_json_get_bool(cm, "spec.inCluster", 0)) {
        if (ret_client)
            *ret_client = env->client;
        if (ret_evict)
            *ret_evict = env->evict_client ? env->evict_client : env->client;
        return 0;
    }
    const char *ns = cm_json_get_str(cm, "metadata.namespace");
    const char *name = cm_json_get_str(cm, "metadata.name");
    const char *secret_name = cm_json_get_str(cm, "spec.credentialsSecretRef.name");
    json_t *secret = NULL;
    int r;
    if (secret_name && *secret_name) {
        struct kube_error err;
        kube_error_init(&err);
        r = kube_get(env->client, &KUBE_RES_SECRETS, ns, secret_name, NULL, &secret, &err);
        if (r < 0)
            snprintf(msg, n, "credentials Secret %s: %s", secret_name,
                     r == -ENOENT ? "not found" : (err.message ? err.message : "API error"));
        kube_error_done(&err);
        if (r < 0)
            return r;
    }
    char *key = NULL, *version = NULL;
    r = -ENOMEM;
    if (asprintf(&key, "%s/%s", ns ? ns : "", name ? name : "") < 0) {
        key = NULL;
        goto out;
    }
    const char *cm_rv = cm_json_get_str(cm, "metadata.resourceVersion");
    const char *s_rv = secret ? cm_json_get_str(secret, "metadata.resourceVersion") : NULL;
    if (asprintf(&version, "%s/%s", cm_rv ? cm_rv : "", s_rv ? s_rv : "") < 0) {
        version = NULL;
        goto out;
    }
    pthread_mutex_lock(&cache->lock);
    for (struct entry *e = cache->entries; e; e = e->next) {
        if (e->retired || strcmp(e->key, key))
            continue;
        if (!strcmp(e->version, version)) {
            if (ret_client)
                *ret_client = e->client;
            if (ret_evict)
                *ret_evict = e->evict;
            pthread_mutex_unlock(&cache->lock);
            r = 0;
            goto out;
        }
        e->retired = 1; /* kept alive: another worker may still be using it */
    }
    pthread_mutex_unlock(&cache->lock);
    struct entry *e = calloc(1, sizeof *e);
    if (!e)
        goto out;
    r = build(env, cm, secret, &e->client, &e->evict, msg, n);
    if (r < 0) {
        free(e);
        goto out;
    }
    e->key = key;
    e->version = version;
    key = version = NULL;
    pthread_mutex_lock(&cache->lock);
    e->next = cache->entries;
    cache->entries = e;
    pthread_mutex_unlock(&cache->lock);
    if (ret_client)
        *ret_client = e->client;
    if (ret_evict)
        *ret_evict = e->evict;
    r = 0;
out:
    free(key);
    free(version);
    if (secret) {
        json_t *data = json_object_get(secret, "data");
        const char *k;
        json_t *v;
        json_object_foreach(data, k, v) {
            if (json_is_string(v))
                explicit_bzero((char *)json_string_value(v), json_string_length(v));
        }
        json_decref(secret);
    }
    return r;
}
