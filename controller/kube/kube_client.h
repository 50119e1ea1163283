/* kube_client: a thread-safe REST client for the Kubernetes API, modelled on client-go's
 * rest.Interface + dynamic client.
 *
 * One client per process, shared by all threads. Each request borrows a CURL easy handle from a
 * pool (so TCP/TLS connections are reused across requests and threads never share a handle) and
 * returns it afterwards. Before each request the client:
 *   - takes a token from a token bucket (qps/burst, client-go defaults 5/10), waiting if needed;
 *   - fetches the bearer token (re-read from its file when it changed, kube_token.h).
 * Retries (up to max_retries, jittered exponential backoff, Retry-After honoured — from the
 * header or the Status' details.retryAfterSeconds):
 *   - 429 and 503 for every verb (the server did not process the request);
 *   - other 5xx for idempotent verbs (GET, PUT, DELETE, HEAD), and for POST/PATCH only when the
 *     server sent Retry-After (a plain 500 on a POST may have been applied);
 *   - connection failures for idempotent verbs, and for every verb when the connection could
 *     not be established at all (nothing was sent).
 *
 * Objects are jansson values. Bodies passed in are BORROWED (serialised before the call
 * returns). Objects returned through ret_* are NEW references the caller must json_decref().
 * A ret_* pointer may be NULL when the caller does not want the result. On failure ret_* is not
 * touched and err (optional) carries the API server's Status or a transport error text.
 *
 * Every request function is thread-safe and blocking; call them from worker threads, never while
 * holding a lock that other threads need quickly. Responses are capped at max_body bytes. */
#ifndef KUBE_CLIENT_H
#define KUBE_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct kube_config;
struct kube_error;
struct kube_client;

/* A kind of object on the API server. Strings are borrowed (usually literals) and must outlive
 * every use. group NULL or "" means the core group (/api/v1). */
struct kube_resource {
    const char *group;    /* "" (core), "apps", "coordination.k8s.io", "commissaire.io" */
    const char *version;  /* "v1", "v1alpha1" */
    const char *resource; /* plural lower-case: "configmaps", "hosts" */
    int namespaced;       /* 1 for namespaced resources, 0 for cluster-scoped ones */
};

/* Frequently used resources (defined in kube_client.c). */
extern const struct kube_resource KUBE_RES_CONFIGMAPS;  /* core/v1 configmaps */
extern const struct kube_resource KUBE_RES_SECRETS;     /* core/v1 secrets */
extern const struct kube_resource KUBE_RES_EVENTS;      /* core/v1 events */
extern const struct kube_resource KUBE_RES_NAMESPACES;  /* core/v1 namespaces (cluster) */
extern const struct kube_resource KUBE_RES_NODES;       /* core/v1 nodes (cluster) */
extern const struct kube_resource KUBE_RES_PODS;        /* core/v1 pods ("eviction" sub) */
extern const struct kube_resource KUBE_RES_LEASES;      /* coordination.k8s.io/v1 leases */

struct kube_client_options {
    double qps;              /* sustained requests per second; <= 0: no limit. Default 5 */
    int burst;               /* bucket size. Default 10 */
    unsigned max_retries;    /* retries after the first attempt (429/5xx/transport). Default 5 */
    int64_t backoff_base_ms; /* first retry delay. Default 200 */
    int64_t backoff_cap_ms;  /* largest retry delay, also caps Retry-After. Default 10000 */
    int64_t timeout_ms;      /* whole-request timeout (not for watches). Default 30000 */
    int64_t connect_timeout_ms; /* Default 10000 */
    size_t max_body;         /* largest response body accepted. Default 64 MiB */
    const char *user_agent;  /* copied. Default "commissaire/<version>" */
};

/* Fills o with the defaults above. */
void kube_client_options_init(struct kube_client_options *o);

/* Creates a client for cfg (copied: cfg may be freed afterwards) with opts (NULL: defaults).
 * Checks that the CA / client certificate files exist and that the token source works; does not
 * contact the server. Returns 0, -EINVAL (bad server URL), -ENOENT (missing file), -ENOMEM.
 * Call curl_global_init() once in main() before creating clients (kube_client_new() calls it
 * too, but it is not thread-safe with other curl users starting at the same time). */
int kube_client_new(const struct kube_config *cfg, const struct kube_client_options *opts,
                    struct kube_client **ret_client, struct kube_error *err);
/* Frees the client. Every request, watch, informer, leader elector and event recorder using it
 * must have been stopped/freed before. Accepts NULL. */
void kube_client_free(struct kube_client *c);
/* The default namespace of the config (context namespace, in-cluster namespace or "default").
 * Borrowed, valid for the client's life. */
const char *kube_client_namespace(const struct kube_client *c);
/* The server base URL ("https://host:port"). Borrowed, valid for the client's life. */
const char *kube_client_server(const struct kube_client *c);

/* Options of list (and of the watch query, see kube_watch.h). All fields optional (NULL / 0). */
struct kube_list_options {
    const char *label_selector;   /* "app=x,tier!=db" */
    const char *field_selector;   /* "metadata.name=x" */
    int64_t limit;                /* page size; 0: server default (all) */
    const char *continue_token;   /* from the previous page's metadata.continue */
    const char *resource_version; /* "0" to allow a cached answer; NULL: most recent */
    int64_t timeout_seconds;      /* server-side timeout (watch); 0: unset */
};

/* Options for create/update/patch. All optional; pass NULL for none. */
struct kube_write_options {
    const char *field_manager; /* fieldManager query parameter (required by apply) */
    int force;                 /* force=true (apply only: take ownership of conflicting fields) */
    int dry_run;               /* dryRun=All */
};

enum kube_patch_type {
    KUBE_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
    KUBE_PATCH_JSON,      /* application/json-patch+json (RFC 6902; patch is an array) */
    KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in types only) */
    KUBE_PATCH_APPLY,     /* application/apply-patch+yaml (JSON is YAML; needs field_manager) */
};
/* The Content-Type for a patch type (static string). */
const char *kube_patch_type_content_type(enum kube_patch_type t);

/* Options of delete, sent as a DeleteOptions body. All optional; pass NULL for none. */
struct kube_delete_options {
    const char *propagation_policy;       /* "Foreground", "Background", "Orphan" or NULL */
    const char *precondition_uid;         /* preconditions.uid or NULL */
    const char *precondition_resource_version; /* preconditions.resourceVersion or NULL */
    int64_t grace_period_seconds;         /* < 0: unset (server default). Set -1 for unset */
};
/* Fills o with "nothing set" (grace period -1). */
void kube_delete_options_init(struct kube_delete_options *o);

/* GET one object (or its subresource: subresource may be NULL). ns is ignored for cluster
 * resources. *ret_obj: new reference. Errors: kube_error_errno() values, -EINVAL for bad
 * arguments, -ENOMEM. */
int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
             const char *name, const char *subresource, json_t **ret_obj, struct kube_error *err);
/* GET a collection (ns NULL/"" = all namespaces for namespaced resources). One page only: the
 * caller follows metadata.continue (or uses kube_list_all()). *ret_list: new reference to the
 * List object ({"items": [...], "metadata": {"resourceVersion", "continue"}}). */
int kube_list(struct kube_client *c, const struct kube_resource *res, const char *ns,
              const struct kube_list_options *opts, json_t **ret_list, struct kube_error *err);
/* Lists all pages (opts->limit per page, 500 when 0) and returns one List whose items are all
 * objects and whose metadata.resourceVersion is the LAST page's (a consistent snapshot: the
 * server serves continue pages from the first page's snapshot). On 410 while paging (the
 * continue token expired) it restarts from the first page once more before failing. */
int kube_list_all(struct kube_client *c, const struct kube_resource *res, const char *ns,
                  const struct kube_list_options *opts, json_t **ret_list,
                  struct kube_error *err);
/* POST body into the collection (ns for namespaced resources). *ret_obj: the created object. */
int kube_create(struct kube_client *c, const struct kube_resource *res, const char *ns,
                const json_t *body, const struct kube_write_options *wopts, json_t **ret_obj,
                struct kube_error *err);
/* POST body to an object's subresource (e.g. pods/NAME/eviction, or a TokenReview-like
 * subresource). *ret_obj: the server's answer. */
int kube_create_subresource(struct kube_client *c, const struct kube_resource *res,
                            const char *ns, const char *name, const char *subresource,
                            const json_t *body, json_t **ret_obj, struct kube_error *err);
/* PUT body (which should carry metadata.resourceVersion for optimistic concurrency: a stale one
 * gives -ESTALE / kube_error_is_conflict) to the object or its subresource ("status", "scale").
 * *ret_obj: the updated object. */
int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
                const char *name, const char *subresource, const json_t *body,
                const struct kube_write_options *wopts, json_t **ret_obj,
                struct kube_error *err);
/* PATCH the object or its subresource with patch of the given type. PATCH is not retried on
 * transport errors after the request may have been sent, nor on a 500 without Retry-After (a
 * JSON patch is not idempotent in general). */
int kube_patch(struct kube_client *c, const struct kube_resource *res, const char *ns,
               const char *name, const char *subresource, enum kube_patch_type type,
               const json_t *patch, const struct kube_write_options *wopts, json_t **ret_obj,
               struct kube_error *err);
/* DELETE the object (dopts NULL: no body). *ret_obj (may be NULL): the server's answer (the
 * object being deleted, or a Status). */
int kube_delete(struct kube_client *c, const struct kube_resource *res, const char *ns,
                const char *name, const struct kube_delete_options *dopts, json_t **ret_obj,
                struct kube_error *err);
/* A raw request: method ("GET", "POST", ...), path with query already escaped ("/version",
 * "/apis/authentication.k8s.io/v1/tokenreviews"), optional body (content_type NULL means
 * application/json). Retries as described above. A 2xx JSON body is returned in *ret_obj
 * (new reference; JSON null when the body is empty); a 2xx non-JSON body is an -EPROTO error. */
int kube_request(struct kube_client *c, const char *method, const char *path,
                 const json_t *body, const char *content_type, json_t **ret_obj,
                 struct kube_error *err);

/* Request counters for metrics, per (verb, HTTP code); code 0 counts transport failures. Each
 * attempt (including retries) counts once. */
struct kube_request_stat {
    char verb[8]; /* "GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE" */
    int code;
    uint64_t count;
};
/* A snapshot copy of the counters: *ret_stats is a malloc'ed array of *ret_n entries sorted by
 * verb then code, freed by the caller with free() (NULL when *ret_n is 0). Thread-safe.
 * Returns 0 or -ENOMEM. */
int kube_client_stats(struct kube_client *c, struct kube_request_stat **ret_stats,
                      size_t *ret_n);
/* Total time (ms) requests spent waiting in the rate limiter since the client was created. */
int64_t kube_client_throttled_ms(struct kube_client *c);

#endif
