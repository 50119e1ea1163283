/* shim_http: the libwebsockets HTTP/1.1 (optionally TLS) front end of commissaire-shim.
 *
 * One event-loop thread accepts connections, parses requests, enforces the limits (body cap →
 * 413, header/body/idle timeouts), authenticates what it can without blocking and answers cache
 * reads directly. Requests that must block (writes, bcrypt, TokenReview, Secret reads) go to a
 * fixed pool of worker threads; their responses come back to the loop through a queue and
 * lws_cancel_service(). Responses to failed authentication from a peer that keeps failing are
 * delayed with a timer (shim_ratelimit), which never holds up other clients. */
#ifndef SHIM_HTTP_H
#define SHIM_HTTP_H

#include <stddef.h>

struct shim_config;
struct shim_auth;
struct shim_api;
struct shim_store;
struct shim_metrics;
struct kube_client;

struct shim_http_deps {
    const struct shim_config *cfg; /* all borrowed for the server's life */
    struct shim_auth *auth;
    struct shim_api *api;
    struct shim_store *store;
    struct shim_metrics *metrics;
    struct kube_client *client; /* for /metrics; may be NULL */
};

struct shim_http;

/* Creates the listener (binds the port) and starts the workers. 0 or a negative errno with a
 * reason in err. Main thread. */
int shim_http_new(const struct shim_http_deps *d, struct shim_http **ret, char *err, size_t n_err);
/* The bound TCP port. */
int shim_http_port(const struct shim_http *h);
/* Runs the event loop until shim_http_stop(). Main thread. */
void shim_http_run(struct shim_http *h);
/* Asks the loop to return; callable from any thread (not from a signal handler). */
void shim_http_stop(struct shim_http *h);
/* Stops the workers and frees everything. Accepts NULL. */
void shim_http_free(struct shim_http *h);

#endif
