/* kl_http: a small HTTP/1.1 server (keep-alive, chunked streaming, optional TLS) with one thread
 * per connection.
 *
 * Why threads and blocking I/O: kube-lite's heavy requests are watches, which mostly wait for an
 * event and then write; a thread per connection keeps each watch a simple loop, and a few hundred
 * threads are cheap. Every request is read fully (headers capped at 64 KiB, bodies at
 * KL_HTTP_MAX_BODY) before the handler runs, on the connection's thread.
 *
 * The handler must answer each request exactly once, with kl_http_respond() or with
 * kl_http_stream_begin()/_write()/_end(). Handlers run concurrently on many threads. */
#ifndef KL_HTTP_H
#define KL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define KL_HTTP_MAX_BODY (16u * 1024u * 1024u)

struct kl_http_server;
struct kl_http_conn;
struct ssl_ctx_st;

struct kl_http_param {
    char *name;  /* decoded */
    char *value; /* decoded; "" when the parameter has no '=' */
};

struct kl_http_req {
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* percent-decoded path, without the query */
    const char *raw_target;
    struct kl_http_param *params; /* query parameters, in order */
    size_t n_params;
    const char *body; /* NUL-terminated (the NUL is not counted) */
    size_t body_len;
    /* headers are reached through kl_http_req_header() */
    void *priv__;
};

/* The value of the first header called name (case-insensitive), BORROWED, or NULL. */
const char *kl_http_req_header(const struct kl_http_req *req, const char *name);
/* The decoded value of the first query parameter called name, BORROWED, or NULL. */
const char *kl_http_req_param(const struct kl_http_req *req, const char *name);

/* Called on the connection's thread for every request; must answer it (see above). */
typedef void (*kl_http_handler_cb)(struct kl_http_conn *conn, const struct kl_http_req *req,
                                   void *userdata);

/* Creates a server listening on addr ("host:port"; port 0 picks one). ssl_ctx (BORROWED, may be
 * NULL for plain HTTP) must outlive the server. No thread runs until kl_http_server_start().
 * Returns 0 and *ret_server, -errno (bind/listen failure: -EADDRINUSE, ...). */
int kl_http_server_new(const char *addr, struct ssl_ctx_st *ssl_ctx, kl_http_handler_cb handler,
                       void *userdata, struct kl_http_server **ret_server);
/* The port actually bound. */
int kl_http_server_port(const struct kl_http_server *server);
/* Starts the accept thread. Returns 0 or -errno. */
int kl_http_server_start(struct kl_http_server *server);
/* Stops accepting, shuts down every open connection (handlers blocked in a write fail, streams
 * see kl_http_conn_closing()), waits for all connection threads and frees the server. Accepts
 * NULL. Must not be called from a handler. */
void kl_http_server_free(struct kl_http_server *server);

/* Sends a whole response. extra_headers (may be NULL) is inserted verbatim and must be
 * "Name: value\r\n" lines. Returns 0 or -EPIPE/-EIO when the peer is gone. */
int kl_http_respond(struct kl_http_conn *conn, int status, const char *content_type,
                    const char *body, size_t len, const char *extra_headers);
/* Starts a chunked response. */
int kl_http_stream_begin(struct kl_http_conn *conn, int status, const char *content_type);
/* Sends one chunk (len > 0). Returns 0 or -EPIPE/-EIO. */
int kl_http_stream_write(struct kl_http_conn *conn, const char *data, size_t len);
/* Ends the chunked response. close_conn: also close the connection after it (watches ended by
 * the fault injector, like an API server going away). */
int kl_http_stream_end(struct kl_http_conn *conn, int close_conn);
/* 1 when the peer closed its side or sent more bytes during a stream (a watch client never
 * does; it only closes), or the server is stopping. Cheap: a zero-timeout poll(). */
int kl_http_conn_closing(struct kl_http_conn *conn);
/* The peer address as text (BORROWED). */
const char *kl_http_conn_peer(const struct kl_http_conn *conn);

#endif
