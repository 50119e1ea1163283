/* kl_server: the state shared by kube-lite's request handlers, and the helpers the handler files
 * (kl_api.c, kl_discovery.c, kl_crd.c, kl_gc.c, kl_admin.c, kl_openapi.c) share. Internal to
 * kube-lite; names with a double underscore are not for other programs. */
#ifndef KL_SERVER_H
#define KL_SERVER_H

#include "kl_store.h"

#include <jansson.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>

struct kl_http_conn;
struct kl_http_req;
struct kl_auth;
struct kl_auth_user;
struct kl_fault;
struct cm_buf;

struct kl_server {
    struct kl_store store;
    struct kl_auth *auth;
    struct kl_fault *fault;
    atomic_int watches;            /* open watch streams */
    atomic_uint_least64_t requests; /* requests served */
    int bookmark_interval_ms;      /* BOOKMARK cadence for allowWatchBookmarks watches */
    int max_watch_s;               /* default watch length when timeoutSeconds is absent */
    char *external_url;            /* https://127.0.0.1:PORT, for /api */
    int insecure;                  /* --http: requests without a token act as the first user,
                                    * like the real server's old insecure port (kubectl does not
                                    * send bearer tokens over plain HTTP) */
    /* background work (garbage collector, namespace deletion, CRD establishment) */
    pthread_t gc_thread;
    int gc_started;
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    int gc_kick;
    int gc_stop;
    /* --audit-log: audit.k8s.io/v1 Events (level Metadata) with the authorization decision */
    FILE *audit;
    pthread_mutex_t audit_mu;
};

/* An error answered as a Status object. message is owned (malloc'ed); details is an owned
 * reference or NULL. */
struct kl_err {
    int code;
    const char *reason;
    char *message;
    json_t *details;
    const char *retry_after; /* "1" for 429 with Retry-After, else NULL */
};

/* Sets err (freeing what it held). The message is printf-formatted. */
void kl_err_set(struct kl_err *err, int code, const char *reason, json_t *details,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void kl_err_done(struct kl_err *err);
/* `hosts.commissaire.io "x" not found` with details {name, group, kind: resource}. */
void kl_err_not_found(struct kl_err *err, const struct kl_rtype *rt, const char *name);
void kl_err_already_exists(struct kl_err *err, const struct kl_rtype *rt, const char *name);
void kl_err_conflict(struct kl_err *err, const struct kl_rtype *rt, const char *name);
/* 422: `Kind.group "name" is invalid: <causes>`; causes (array of {reason,message,field}) is
 * STOLEN. */
void kl_err_invalid(struct kl_err *err, const struct kl_rtype *rt, const char *name,
                    json_t *causes);
/* Appends {reason, message (printf-formatted), field} to causes, for kl_err_invalid(). */
void kl_cause_add(json_t *causes, const char *reason, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* details {name, group, kind: resource} (new reference). */
json_t *kl_err_details(const struct kl_rtype *rt, const char *name);
/* A Status object for err (new reference). */
json_t *kl_err_status(const struct kl_err *err);

/* Answers err as a Status. */
void kl_send_err(struct kl_http_conn *conn, const struct kl_err *err);
/* Answers a Status built on the spot. */
void kl_send_status(struct kl_http_conn *conn, int code, const char *reason, const char *message);
/* Answers doc (BORROWED) as JSON. */
void kl_send_json(struct kl_http_conn *conn, int code, const json_t *doc);
/* Answers raw JSON text. */
void kl_send_raw(struct kl_http_conn *conn, int code, const char *json, size_t len);

/* Discovery documents (kl_discovery.c). Each answers the request itself. Caller holds nothing. */
void kl_discovery_serve(struct kl_server *srv, struct kl_http_conn *conn,
                        const struct kl_http_req *req, int *ret_handled);
/* OpenAPI documents (kl_openapi.c). */
void kl_openapi_serve(struct kl_server *srv, struct kl_http_conn *conn,
                      const struct kl_http_req *req);

/* Registers the built-in types (kl_builtin.c). Caller is alone. Returns 0 or -ENOMEM. */
int kl_builtin_register(struct kl_store *store);
/* The printer columns (CRD additionalPrinterColumns form) kube-lite uses for a built-in type,
 * BORROWED from a static table, or NULL for the default Name/Age. */
const json_t *kl_builtin_columns(const struct kl_rtype *rt);
/* The field selector paths a type supports beyond metadata.name/namespace (NULL-terminated). */
const char *const *kl_builtin_fields(const struct kl_rtype *rt);
/* Fills in the Table cells of nodes and pods that the real printers compute (node Status and
 * Roles, pod Ready and Restarts); rows are in the order of docs. Other kinds: no change. */
void kl_builtin_table_fixup(const struct kl_rtype *rt, json_t *table, json_t *const *docs, size_t n);
/* Releases the column tables at exit. */
void kl_builtin_done(void);

/* CRDs (kl_crd.c). */
/* Validates a CRD about to be stored (create or update; old is NULL on create), filling in
 * defaults in place. Returns 0 or -EINVAL with err set (422). Caller holds the write lock. */
int kl_crd_admit(struct kl_server *srv, json_t *crd, const json_t *old, struct kl_err *err);
/* Makes the CRD's resources served (create) or updates versions/schemas (update). Caller holds
 * the write lock. Returns 0 or -errno. */
int kl_crd_install(struct kl_server *srv, const json_t *crd);
/* Stops serving the CRD's resources (its objects must be gone). Caller holds the write lock. */
void kl_crd_uninstall(struct kl_server *srv, const json_t *crd);
/* The status the CRD should have once installed (conditions NamesAccepted, Established;
 * acceptedNames), set in place on crd. */
void kl_crd_set_status(json_t *crd, const char *now);
/* Frees CRD version tables retired by updates (at exit). */
void kl_crd_cleanup(void);

/* Background work (kl_gc.c). */
int kl_gc_start(struct kl_server *srv);
void kl_gc_stop(struct kl_server *srv);
/* Asks the background thread for a pass soon (after deletes). Any thread. */
void kl_gc_kick(struct kl_server *srv);

/* The API server's write operations, shared by the handlers and the background thread.
 * Each takes the write lock itself. */
/* Deletes ns/name of rt like a DELETE with propagation policy "Background" (finalizers honoured:
 * only marks it deleting when it has some). Returns 0, -ENOENT, -errno. */
int kl_api_delete_object(struct kl_server *srv, struct kl_rtype *rt, const char *ns,
                         const char *name, const char *policy);
/* Replaces the stored object by doc (BORROWED) if its uid and resourceVersion still match
 * (background updates lose races rather than overwrite). Deletes it when it is deleting and has
 * no finalizers left. Returns 0, -ESTALE (changed meanwhile), -ENOENT. */
int kl_api_update_object(struct kl_server *srv, struct kl_rtype *rt, json_t *doc);

/* Persistence replay record callback (kl_api.c); userdata is the server. */
int kl_api_replay_cb(json_t *rec, void *userdata);
/* Writes every object as put records into out, CRDs and namespaces first. Caller holds a lock. */
int kl_api_snapshot(struct kl_server *srv, struct cm_buf *out);
/* Compacts the persistence log into a new snapshot when it has at least threshold bytes (0:
 * always). Takes the write lock. Returns 0 or -errno. */
int kl_api_compact(struct kl_server *srv, uint64_t threshold);

/* The main request handler (kl_api.c); userdata is the server. */
void kl_api_handle(struct kl_http_conn *conn, const struct kl_http_req *req, void *userdata);
/* The admin (fault injection) handler (kl_admin.c); userdata is the server. */
void kl_admin_handle(struct kl_http_conn *conn, const struct kl_http_req *req, void *userdata);

/* Helpers. */
/* RFC 3339 "now" (seconds precision) into buf (>= 32 bytes). */
const char *kl_now(char *buf, size_t n);
/* A random RFC 4122 v4 uuid into buf (>= 37 bytes). */
const char *kl_uuid(char *buf, size_t n);

#endif
