/* Built-in plug-ins of shimcore: httpbasicauth (spec §10.2) and httpauthclientcert (§10.3).
 *
 * httpbasicauth verifies bcrypt hashes with libxcrypt's crypt_rn. bcrypt is deliberately slow
 * (~0.25 s at cost 12), far too slow to run per request on the event loop, so a successful
 * verification is remembered for a short time under a SHA-256 of (user, password, stored hash):
 * the cache holds no password, a changed hash misses, and failures are never cached (so guessing
 * always pays the full bcrypt cost, on a worker). Unknown users are checked against a dummy hash
 * of the same cost so that timing does not tell whether a user exists. */
#include "shim_auth.h"
#include "shim_request.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_time.h"

#define VCACHE_SLOTS 1024

struct vcache_ent {
    unsigned char key[32];
    int64_t expires_ms; /* 0: empty */
};

struct basic_state {
    json_t *users;    /* user -> {"hash": "..."} */
    char *dummy_hash; /* same cost as the users' hashes */
    int64_t ttl_ms;
    pthread_mutex_t lock;
    struct vcache_ent cache[VCACHE_SLOTS];
};

static int load_users_text(json_t *into, const char *text, size_t n, char *why, size_t n_why) {
    json_error_t jerr;
    json_t *u = json_loadb(text, n, 0, &jerr);
    const char *k;
    json_t *v;

    if (!u || !json_is_object(u)) {
        snprintf(why, n_why, "users are not a JSON object: %s", u ? "wrong type" : jerr.text);
        json_decref(u);
        return -EINVAL;
    }
    json_object_foreach(u, k, v) json_object_set(into, k, v);
    json_decref(u);
    return 0;
}

static int load_users_file(json_t *into, const char *path, char *why, size_t n_why) {
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t n = 0, alloc = 0;
    int rc;

    if (!f) {
        snprintf(why, n_why, "cannot read users file %s: %s", path, strerror(errno));
        return -errno;
    }
    for (;;) {
        size_t got;

        if (n + 4096 > alloc) {
            char *nb;

            if (alloc > 16 * 1024 * 1024) {
                snprintf(why, n_why, "users file %s is too large", path);
                free(buf);
                fclose(f);
                return -E2BIG;
            }
            nb = realloc(buf, alloc = alloc * 2 + 4096);
            if (!nb) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, alloc - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    rc = load_users_text(into, buf ? buf : "", n, why, n_why);
    free(buf);
    return rc;
}

/* bcrypt cost of "$2b$12$...", or -1. */
static int bcrypt_cost(const char *h) {
    if (!h || strlen(h) < 7 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$')
        return -1;
    if (h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9')
        return -1;
    return (h[4] - '0') * 10 + (h[5] - '0');
}

static char *make_dummy_hash(int cost) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = calloc(1, sizeof *cd);
    char *out = NULL, *h;

    if (!cd)
        return NULL;
    if (crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, salt, sizeof salt)) {
        h = crypt_rn("commissaire-dummy-password", salt, cd, sizeof *cd);
        if (h && h[0] != '*')
            out = strdup(h);
    }
    free(cd);
    return out;
}

static void basic_destroy(void *p) {
    struct basic_state *s = p;

    if (!s)
        return;
    json_decref(s->users);
    free(s->dummy_hash);
    pthread_mutex_destroy(&s->lock);
    OPENSSL_cleanse(s->cache, sizeof s->cache);
    free(s);
}

static int basic_create(const json_t *opts, void *host_ctx, void **ret, char *err, size_t n_err) {
    struct basic_state *s = calloc(1, sizeof *s);
    json_t *inline_users = json_object_get(opts, "users");
    const char *path = shim_auth_opt_str(opts, "filepath", NULL);
    const char *ttl =
        shim_auth_opt_str(opts, "cache_ttl", shim_auth_opt_str(opts, "cache-ttl", NULL));
    const char *k;
    json_t *v;
    int cost = -1;

    (void)host_ctx;
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->ttl_ms = 300 * 1000;
    if (ttl)
        s->ttl_ms = strtoll(ttl, NULL, 10) * 1000;
    s->users = json_object();
    if (!s->users)
        goto oom;
    /* Inline users first, the file's merged over them (REF). Inline users arrive as an object
     * from the config file or as JSON text through the generic option path. */
    if (json_is_object(inline_users))
        json_object_update(s->users, inline_users);
    else if (json_is_string(inline_users) &&
             load_users_text(s->users, json_string_value(inline_users),
                             json_string_length(inline_users), err, n_err) < 0) {
        basic_destroy(s);
        return -EINVAL;
    }
    /* REF logs an unreadable users file and goes on with the other users: a warning. */
    if (path)
        load_users_file(s->users, path, err, n_err);
    json_object_foreach(s->users, k, v) {
        int c = bcrypt_cost(json_string_value(json_object_get(v, "hash")));

        if (c > 0) {
            cost = c;
            break;
        }
    }
    s->dummy_hash = make_dummy_hash(cost > 0 ? cost : 12);
    if (!s->dummy_hash)
        goto oom;
    *ret = s;
    return 0;
oom:
    basic_destroy(s);
    return -ENOMEM;
}

/* Parses "Basic <b64>" (and commctl's Python-bytes form "Basic b'<b64>'"), splitting at the
 * first colon (spec §10.2 RECOMMENDED). Returns the decoded buffer (free with cleanse) or NULL. */
static unsigned char *parse_basic(const char *hdr, const char **ret_user, const char **ret_pw,
                                  size_t *ret_len) {
    const char *cred = shim_auth_scheme(hdr, "basic");
    char *tok;
    unsigned char *dec = NULL;
    size_t n, dn;
    char *colon;

    if (!cred || !*cred)
        return NULL;
    n = strlen(cred);
    while (n > 0 && cred[n - 1] == ' ')
        n--;
    if (n >= 3 && cred[0] == 'b' && cred[1] == '\'' && cred[n - 1] == '\'') {
        cred += 2;
        n -= 3;
    }
    if (!(tok = strndup(cred, n)))
        return NULL;
    if (shim_base64_decode(tok, &dec, &dn) < 0) {
        free(tok);
        return NULL;
    }
    free(tok);
    colon = memchr(dec, ':', dn);
    if (!colon || memchr(dec, 0, dn)) {
        OPENSSL_cleanse(dec, dn);
        free(dec);
        return NULL;
    }
    *colon = 0;
    *ret_user = (const char *)dec;
    *ret_pw = colon + 1;
    *ret_len = dn;
    return dec;
}

static void cache_key(const char *user, const char *pw, const char *hash, unsigned char out[32]) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 32;

    memset(out, 0, 32);
    if (!c)
        return;
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, user, strlen(user) + 1);
    EVP_DigestUpdate(c, pw, strlen(pw) + 1);
    EVP_DigestUpdate(c, hash, strlen(hash));
    EVP_DigestFinal_ex(c, out, &n);
    EVP_MD_CTX_free(c);
}

static int cache_hit(struct basic_state *s, const unsigned char key[32]) {
    uint32_t slot;
    int hit;

    memcpy(&slot, key, sizeof slot);
    slot %= VCACHE_SLOTS;
    pthread_mutex_lock(&s->lock);
    hit = s->cache[slot].expires_ms > cm_time_mono_ms() &&
          CRYPTO_memcmp(s->cache[slot].key, key, 32) == 0;
    /* Sliding expiry: a credential in use stays verified. A fixed expiry would make every
     * client of a busy credential miss at the same moment and queue a bcrypt each. It is safe
     * because the key covers the stored hash: a changed users entry can never hit. */
    if (hit)
        s->cache[slot].expires_ms = cm_time_mono_ms() + s->ttl_ms;
    pthread_mutex_unlock(&s->lock);
    return hit;
}

static void cache_put(struct basic_state *s, const unsigned char key[32]) {
    uint32_t slot;

    if (s->ttl_ms <= 0)
        return;
    memcpy(&slot, key, sizeof slot);
    slot %= VCACHE_SLOTS;
    pthread_mutex_lock(&s->lock);
    memcpy(s->cache[slot].key, key, 32);
    s->cache[slot].expires_ms = cm_time_mono_ms() + s->ttl_ms;
    pthread_mutex_unlock(&s->lock);
}

/* Constant-time comparison of the recomputed hash with the stored one. */
static int bcrypt_verify(const char *pw, const char *hash) {
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *h;
    int ok = 0;

    if (!cd)
        return 0;
    h = crypt_rn(pw, hash, cd, sizeof *cd);
    if (h && h[0] != '*' && strlen(h) == strlen(hash))
        ok = CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
    OPENSSL_cleanse(cd, sizeof *cd);
    free(cd);
    return ok;
}

static int basic_check(void *p, const struct shim_auth_req *r, int fast) {
    struct basic_state *s = p;
    const char *user, *pw, *hash;
    unsigned char key[32];
    unsigned char *dec;
    size_t dn;
    int ok;

    dec = parse_basic(shim_auth_req_header(r, "authorization"), &user, &pw, &dn);
    if (!dec)
        return 0;
    hash = json_string_value(json_object_get(json_object_get(s->users, user), "hash"));
    if (hash && bcrypt_cost(hash) > 0) {
        cache_key(user, pw, hash, key);
        if (cache_hit(s, key)) {
            ok = 1;
            goto out;
        }
    }
    if (fast) {
        ok = -EAGAIN;
        goto out;
    }
    if (!hash || bcrypt_cost(hash) <= 0) {
        /* Same work as for a real user, same answer as a wrong password. */
        bcrypt_verify(pw, s->dummy_hash);
        ok = 0;
        goto out;
    }
    ok = bcrypt_verify(pw, hash);
    if (ok)
        cache_put(s, key);
out:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(dec, dn);
    free(dec);
    return ok;
}

const struct shim_auth_builtin shim_auth_httpbasicauth = {
    .name = "httpbasicauth",
    .create = basic_create,
    .check = basic_check,
    .destroy = basic_destroy,
};

struct cert_state {
    char *cn;
};

static int cert_create(const json_t *opts, void *host_ctx, void **ret, char *err, size_t n_err) {
    struct cert_state *s = calloc(1, sizeof *s);
    const char *cn = shim_auth_opt_str(opts, "cn", NULL);

    (void)host_ctx;
    (void)err;
    (void)n_err;
    if (!s)
        return -ENOMEM;
    if (cn && !(s->cn = strdup(cn))) {
        free(s);
        return -ENOMEM;
    }
    *ret = s;
    return 0;
}

static int cert_check(void *p, const struct shim_auth_req *r, int fast) {
    struct cert_state *s = p;

    (void)fast;
    if (!r->cert_cn)
        return 0;
    return !s->cn || strcmp(s->cn, r->cert_cn) == 0;
}

static void cert_destroy(void *p) {
    struct cert_state *s = p;

    if (s)
        free(s->cn);
    free(s);
}

const struct shim_auth_builtin shim_auth_httpauthclientcert = {
    .name = "httpauthclientcert",
    .create = cert_create,
    .check = cert_check,
    .destroy = cert_destroy,
};
