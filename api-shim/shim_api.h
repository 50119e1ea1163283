/* shim_api: the REST v0 handlers — one function per route, over shim_store (reads) and the
 * API server (writes).
 *
 * Reads that the cache can answer run on the event loop (shim_api_route_inline() says which);
 * everything else (writes, Secret reads) blocks on the API server and runs on a worker thread.
 * A handler always produces a complete response: a JSON body with the status REF uses, or an
 * error body {"error": "<reason phrase>", "message": "..."} (decisions 4). Thread-safe. */
#ifndef SHIM_API_H
#define SHIM_API_H

#include <stddef.h>

#include "cm_buf.h"
#include "shim_router.h"

struct kube_client;
struct shim_store;
struct shim_api;

struct shim_request {
    enum shim_method method;
    struct shim_route_match match; /* parameters point into path */
    const char *path;
    const char *body; /* PUT body (n bytes), may be NULL */
    size_t body_len;
    const char *client_addr; /* the client's address (after trusted X-Forwarded-For) */
};

struct shim_blob;

struct shim_response {
    int status;
    struct cm_buf body;      /* JSON text */
    struct shim_blob *blob;  /* when set, the body instead of `body` (a shared reference) */
};
/* The body to send: blob's or body's bytes. */
const char *shim_response_data(const struct shim_response *r, size_t *ret_len);

void shim_response_init(struct shim_response *r);
void shim_response_done(struct shim_response *r);
/* Replaces the response with the JSON error body for status and message (message may be NULL:
 * the reason phrase is used). */
void shim_response_error(struct shim_response *r, int status, const char *message);

/* Both borrowed for the api's life; ns copied. Returns 0 or -ENOMEM. */
int shim_api_new(struct kube_client *c, struct shim_store *store, const char *ns,
                 struct shim_api **ret);
void shim_api_free(struct shim_api *a);

/* 1 when the route is answered from the cache alone and never blocks. */
int shim_api_route_inline(enum shim_route r);
/* Runs the route's handler. Never fails: errors become error responses. */
void shim_api_handle(struct shim_api *a, const struct shim_request *req, struct shim_response *resp);

#endif
