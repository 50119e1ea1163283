/* host_int.h: what the files of the Host reconciler share (host_controller.c: the pass,
 * registration, investigation and checks, watches; host_pass.c: status writes, Events, SSH of a
 * pass; host_bootstrap.c: profile steps; host_decommission.c: deletion). Not a public API:
 * other reconcilers use host_ssh.h, node_ops.h and rc_lookup.h.
 * Threads: a struct pass belongs to the worker running it; the memo is locked. */
#ifndef HOST_INT_H
#define HOST_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host_state.h"
#include "kube_events.h"
#include "rc_controller.h"
#include "sshc_facts.h"

struct ctrmgr_cache;
struct host_ssh_failure;
struct rc_env;
struct rc_manager;
struct rc_metric;
struct sshc_session;

#define MSG_MAX 1024
#define OUTPUT_TAIL 300
#define MEMO_BUCKETS 1024
#define POOL_FULL_RETRY_MS 250

/* ---- memo: the newest copy of each Host that our own writes returned ----
 *
 * After a write, the informer's copy lags by a few milliseconds; a pass requeued at once would
 * otherwise act on the state before its own write (e.g. investigate twice). resourceVersions
 * are opaque in principle, but every API server we talk to uses etcd revisions (integers):
 * when both parse, the larger one is newer; otherwise the cache wins. */
struct memo_entry {
    struct memo_entry *next;
    char *key;
    json_t *obj;
};

struct memo {
    pthread_mutex_t lock;
    struct memo_entry *b[MEMO_BUCKETS];
};

struct host_ctl {
    struct rc_manager *m;
    const struct rc_env *env;
    struct rc_controller *ctl;
    struct ctrmgr_cache *cms;
    struct memo memo;
    struct host_timing timing;
    struct rc_metric *m_phase;
};

/* One reconcile pass. */
struct pass {
    struct host_ctl *hc;
    const struct rc_env *env;
    const char *ns, *name;
    char *key;
    json_t *host;    /* the current view (own reference); replaced after each write */
    json_t *cluster; /* may be NULL */
    json_t *cm;      /* may be NULL */
    bool cm_named, managed;
    struct sshc_session *ssh;
    bool ssh_keep;
    struct sshc_facts facts;
    bool have_facts;
    const char *profile; /* matched profile name (catalog-owned) */
    int64_t started_ms;
};

/* A set of status changes, applied in one write. */
struct upd {
    json_t *set;   /* status fields to set */
    json_t *del;   /* status field names to remove */
    json_t *conds; /* condition objects to set */
    int phase;     /* enum host_phase, or -1 to keep */
    char message[MSG_MAX];
    bool has_message;
};

/* memo (see above). put takes its own reference; get returns a new one or NULL. */
void host__memo_put(struct memo *m, const char *key, json_t *obj);
json_t *host__memo_get(struct memo *m, const char *key);
void host__memo_drop(struct memo *m, const char *key);
void host__memo_done(struct memo *m);

/* Building a status update. */
void host__upd_init(struct upd *u);
void host__upd_done(struct upd *u);
void host__upd_message(struct upd *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void host__upd_cond(struct upd *u, const char *type, bool status, const char *reason,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sets status field k; STEALS v. */
void host__upd_set(struct upd *u, const char *k, json_t *v);

/* Makes obj (a reference the pass takes over) the pass's view and remembers it in the memo. */
void host__set_view(struct pass *p, json_t *obj);
/* Writes u (one PUT of the status subresource; GET + re-apply + PUT on a conflict) and logs
 * the phase change. Returns 0 (p->host is the written object), -ENOENT (Host gone), or an
 * error. Every status change goes through here. */
int host__commit(struct pass *p, struct upd *u);
/* An Event about the pass's Host (never with secrets in it). */
void host__event(struct pass *p, enum kube_event_type type, const char *reason, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
/* The result for a failed write: gone -> done, conflict -> short requeue, else error. */
struct rc_result host__result_of_write(int r);
/* Jittered delays of the next retry of a failed host / the next periodic check. */
int64_t host__retry_delay(struct pass *p);
int64_t host__check_delay(struct pass *p);
/* Phase `failed` with reason/message; cond explains it (Reachable, Bootstrapped). */
struct rc_result host__fail(struct pass *p, const char *cond, const char *reason,
                            const char *message);
/* host__fail() on top of u (the pass's pending changes, e.g. facts or bootstrap progress, are
 * written in the same PUT). u may be NULL. */
struct rc_result host__fail_upd(struct pass *p, struct upd *u, const char *cond,
                                const char *reason, const char *message);
struct rc_result host__fail_ssh(struct pass *p, const struct host_ssh_failure *f);
/* SSH of the pass: connect (0, or *ret set: requeue on a full pool, failed host, error),
 * release, gather facts into p->facts (0, or the host failed and *ret is set). */
int host__connect(struct pass *p, struct rc_result *ret);
void host__disconnect(struct pass *p);
int host__gather(struct pass *p, struct rc_result *ret);
/* Runs one command (timeout_ms 0: default): 0 with *ret_exit and the output's tail, or a
 * negative errno (the session failed). */
int host__run(struct pass *p, const char *cmd, int timeout_ms, int *ret_exit, char *tail,
              size_t n);
/* Facts and the host key seen, as status changes. */
void host__facts_to_upd(const struct sshc_facts *f, struct upd *u);
void host__key_to_upd(struct pass *p, struct upd *u);

enum host_phase host__phase_of(const json_t *host);
bool host__has_finalizer(const json_t *host);
bool host__in_list(const json_t *arr, const char *s);
/* The Node name of the host (malloc'ed into *owned, also returned), NULL when none is valid. */
const char *host__node_name_of(const json_t *host, char **owned);
const char *host__or_default(const char *s, const char *def);
const char *host__or_empty(const char *s);
void host__now_str(char *out, size_t n);

/* The actions (host_controller.c, host_bootstrap.c, host_decommission.c). */
struct rc_result host__register(struct pass *p, struct upd *u);
struct rc_result host__bootstrap(struct pass *p, struct upd *u);
struct rc_result host__decommission(struct pass *p);
/* The template variables of the host (free with host_vars_free()); *ret_net_missing when its
 * cluster names a Network that does not exist. */
json_t *host__vars(struct pass *p, bool *ret_net_missing);

#endif
