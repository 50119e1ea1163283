/* sshc_pool: a bound on concurrent SSH sessions, with a short-lived cache of idle sessions.
 *
 * Every session the controller opens takes a slot; at most max_sessions exist at once (in use
 * plus idle). Reconcilers use sshc_pool_try_get(), which never waits for a slot: when the pool
 * is full it returns -EAGAIN at once and the reconciler requeues the object. sshc_pool_get()
 * can wait (bounded) for programs that prefer blocking (benchmarks, tools).
 *
 * With idle_ms > 0 a session handed back with keep=true stays connected for idle_ms and is
 * reused by the next get for the same host, port, user, private key and expected host key
 * (the key and fingerprint take part in the match, so a changed Secret or pinned key never
 * reuses a session authenticated otherwise). A cached session is dropped when it is handed back
 * unusable, on sshc_pool_invalidate() (host rebooted, key changed), or when it expires. When
 * the pool is full of idle sessions, the oldest idle one is closed to make room.
 *
 * Threading: all functions are thread-safe. Connecting and disconnecting happen outside the
 * pool's lock; only the slot accounting is locked. */
#ifndef SSHC_POOL_H
#define SSHC_POOL_H

#include <stdbool.h>
#include <stdint.h>

struct sshc_connect_opts;
struct sshc_error;
struct sshc_session;
struct sshc_pool;

struct sshc_pool_opts {
    unsigned max_sessions; /* 0 means 32 */
    int idle_ms;           /* keep idle sessions this long; 0 disables reuse */
};

struct sshc_pool_stats {
    unsigned max_sessions;
    unsigned in_use;      /* sessions handed out now */
    unsigned idle;        /* cached idle sessions now */
    unsigned peak_in_use; /* highest in_use + connecting seen */
    uint64_t connects;    /* new sessions opened */
    uint64_t reuses;      /* gets served from the idle cache */
    uint64_t full;        /* try_get calls refused for lack of a slot */
};

/* Creates a pool. Returns 0 and *ret_pool, or -ENOMEM. */
int sshc_pool_new(const struct sshc_pool_opts *opts, struct sshc_pool **ret_pool);
/* Closes idle sessions and frees the pool. Every session handed out must have been put back
 * first. Accepts NULL. */
void sshc_pool_free(struct sshc_pool *p);

/* Takes a slot without waiting and returns a connected session for opts: a cached one if it
 * matches, else a new one (sshc_session_connect(), which blocks up to its connect timeout).
 * Returns 0 and *ret_session (give it back with sshc_pool_put()); -EAGAIN with err kind
 * SSHC_ERR_POOL_FULL when no slot is free; or the connect error (the slot is released). */
int sshc_pool_try_get(struct sshc_pool *p, const struct sshc_connect_opts *opts,
                      struct sshc_session **ret_session, struct sshc_error *err);
/* Same as try_get, but waits up to wait_ms for a slot (-EAGAIN after that). */
int sshc_pool_get(struct sshc_pool *p, const struct sshc_connect_opts *opts, int wait_ms,
                  struct sshc_session **ret_session, struct sshc_error *err);
/* Gives a session back and frees its slot. With keep (and idle_ms > 0 and the session still
 * usable) it is cached; otherwise it is disconnected. Accepts NULL s. */
void sshc_pool_put(struct sshc_pool *p, struct sshc_session *s, bool keep);
/* Closes every idle session to host:port (port 0: any port). */
void sshc_pool_invalidate(struct sshc_pool *p, const char *host, uint16_t port);
/* Closes idle sessions older than idle_ms (get and put also do this). */
void sshc_pool_expire(struct sshc_pool *p);
void sshc_pool_stats(struct sshc_pool *p, struct sshc_pool_stats *ret);

#endif
