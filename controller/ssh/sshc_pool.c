/* sshc_pool: slot accounting under one mutex; all network I/O (connect, disconnect) outside it.
 *
 * The idle cache is keyed by a SHA-256 over everything that decides what a session is allowed
 * to be: host, port, user, private key text and expected fingerprint. Keeping a digest rather
 * than the key text means the pool holds no copy of any secret. */
#include "sshc_pool.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_time.h"
#include "sshc_int.h"

struct idle {
    struct sshc_session *s;
    int64_t since_ms;
    struct idle *next;
};

struct sshc_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned max;
    int idle_ms;
    unsigned busy;      /* handed out or connecting */
    unsigned n_idle;
    struct idle *idle;  /* newest first */
    struct sshc_pool_stats st;
};

int sshc_pool_new(const struct sshc_pool_opts *o, struct sshc_pool **ret_pool) {
    struct sshc_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->max = o && o->max_sessions ? o->max_sessions : 32;
    p->idle_ms = o && o->idle_ms > 0 ? o->idle_ms : 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->st.max_sessions = p->max;
    *ret_pool = p;
    return 0;
}

static void free_list(struct idle *l) {
    while (l) {
        struct idle *n = l->next;
        sshc_session_free(l->s);
        free(l);
        l = n;
    }
}

void sshc_pool_free(struct sshc_pool *p) {
    if (!p)
        return;
    free_list(p->idle);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void hash_part(EVP_MD_CTX *c, const char *s) {
    size_t n = s ? strlen(s) + 1 : 0; /* include the NUL so parts cannot run together */
    EVP_DigestUpdate(c, s ? s : "", n ? n : 1);
}

static int pool_key(const struct sshc_connect_opts *o, unsigned char key[32]) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c)
        return -ENOMEM;
    uint16_t port = o->port ? o->port : 22;
    unsigned len = 0;
    int ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    hash_part(c, o->host);
    EVP_DigestUpdate(c, &port, sizeof(port));
    hash_part(c, o->user && *o->user ? o->user : "root");
    hash_part(c, o->private_key);
    hash_part(c, o->expected_fingerprint);
    hash_part(c, o->kex);
    ok = ok && EVP_DigestFinal_ex(c, key, &len) && len == 32;
    EVP_MD_CTX_free(c);
    return ok ? 0 : -EIO;
}

/* Moves expired idle sessions to *dead (caller frees them after unlocking). */
static void expire_locked(struct sshc_pool *p, int64_t now, struct idle **dead) {
    for (struct idle **pp = &p->idle; *pp;) {
        struct idle *e = *pp;
        if (now - e->since_ms >= p->idle_ms || !sshc_session_usable(e->s)) {
            *pp = e->next;
            e->next = *dead;
            *dead = e;
            p->n_idle--;
        } else {
            pp = &e->next;
        }
    }
}

/* Removes and returns the oldest idle entry (the list is newest first). */
static struct idle *pop_oldest_locked(struct sshc_pool *p) {
    struct idle **pp = &p->idle;
    while (*pp && (*pp)->next)
        pp = &(*pp)->next;
    struct idle *e = *pp;
    if (e) {
        *pp = NULL;
        p->n_idle--;
    }
    return e;
}

static void note_peak_locked(struct sshc_pool *p) {
    if (p->busy > p->st.peak_in_use)
        p->st.peak_in_use = p->busy;
}

static int get(struct sshc_pool *p, const struct sshc_connect_opts *o, bool wait, int wait_ms,
               struct sshc_session **ret_session, struct sshc_error *err) {
    sshc__error_clear(err);
    if (!p || !o || !ret_session)
        return sshc__fail(err, SSHC_ERR_INVALID, -EINVAL, "pool and options are required");
    unsigned char key[32];
    int r = pool_key(o, key);
    if (r < 0)
        return sshc__fail(err, SSHC_ERR_SYSTEM, r, "cannot compute the session cache key");

    struct idle *dead = NULL;
    struct sshc_session *hit = NULL;
    int64_t deadline = cm_time_mono_ms() + (wait_ms > 0 ? wait_ms : 0);

    pthread_mutex_lock(&p->mu);
    for (;;) {
        expire_locked(p, cm_time_mono_ms(), &dead);
        for (struct idle **pp = &p->idle; *pp; pp = &(*pp)->next) {
            if (memcmp((*pp)->s->pool_key, key, sizeof(key)) == 0) {
                struct idle *e = *pp;
                *pp = e->next;
                p->n_idle--;
                hit = e->s;
                free(e);
                break;
            }
        }
        if (hit) {
            p->st.reuses++;
            break;
        }
        if (p->busy + p->n_idle < p->max)
            break;
        if (p->n_idle > 0) {
            struct idle *e = pop_oldest_locked(p);
            e->next = dead;
            dead = e;
            break;
        }
        int64_t left = deadline - cm_time_mono_ms();
        if (!wait || left <= 0) {
            p->st.full++;
            pthread_mutex_unlock(&p->mu);
            free_list(dead);
            return sshc__fail(err, SSHC_ERR_POOL_FULL, -EAGAIN,
                              "all %u SSH sessions are in use", p->max);
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (left % 1000) * 1000000;
        ts.tv_sec += left / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    p->busy++;
    note_peak_locked(p);
    pthread_mutex_unlock(&p->mu);
    free_list(dead);

    if (hit) {
        *ret_session = hit;
        return 0;
    }
    struct sshc_session *s = NULL;
    r = sshc_session_connect(o, &s, err);
    if (r < 0) {
        pthread_mutex_lock(&p->mu);
        p->busy--;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return r;
    }
    memcpy(s->pool_key, key, sizeof(key));
    s->pool_key_set = true;
    pthread_mutex_lock(&p->mu);
    p->st.connects++;
    pthread_mutex_unlock(&p->mu);
    *ret_session = s;
    return 0;
}

int sshc_pool_try_get(struct sshc_pool *p, const struct sshc_connect_opts *opts,
                      struct sshc_session **ret_session, struct sshc_error *err) {
    return get(p, opts, false, 0, ret_session, err);
}

int sshc_pool_get(struct sshc_pool *p, const struct sshc_connect_opts *opts, int wait_ms,
                  struct sshc_session **ret_session, struct sshc_error *err) {
    return get(p, opts, true, wait_ms, ret_session, err);
}

void sshc_pool_put(struct sshc_pool *p, struct sshc_session *s, bool keep) {
    if (!p || !s)
        return;
    struct idle *e = NULL;
    if (keep && p->idle_ms > 0 && s->pool_key_set && sshc_session_usable(s))
        e = malloc(sizeof(*e));
    struct idle *dead = NULL;
    pthread_mutex_lock(&p->mu);
    p->busy--;
    if (e) {
        e->s = s;
        e->since_ms = cm_time_mono_ms();
        e->next = p->idle;
        p->idle = e;
        p->n_idle++;
        s = NULL;
    }
    expire_locked(p, cm_time_mono_ms(), &dead);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    sshc_session_free(s);
    free_list(dead);
}

void sshc_pool_invalidate(struct sshc_pool *p, const char *host, uint16_t port) {
    if (!p || !host)
        return;
    struct idle *dead = NULL;
    pthread_mutex_lock(&p->mu);
    for (struct idle **pp = &p->idle; *pp;) {
        struct idle *e = *pp;
        if (strcmp(sshc_session_host(e->s), host) == 0 &&
            (port == 0 || sshc_session_port(e->s) == port)) {
            *pp = e->next;
            e->next = dead;
            dead = e;
            p->n_idle--;
        } else {
            pp = &e->next;
        }
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    free_list(dead);
}

void sshc_pool_expire(struct sshc_pool *p) {
    if (!p)
        return;
    struct idle *dead = NULL;
    pthread_mutex_lock(&p->mu);
    expire_locked(p, cm_time_mono_ms(), &dead);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    free_list(dead);
}

void sshc_pool_stats(struct sshc_pool *p, struct sshc_pool_stats *ret) {
    pthread_mutex_lock(&p->mu);
    *ret = p->st;
    ret->in_use = p->busy;
    ret->idle = p->n_idle;
    pthread_mutex_unlock(&p->mu);
}
