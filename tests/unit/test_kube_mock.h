/* test_kube_mock: a tiny scripted HTTP/1.1 server on 127.0.0.1:<free port> for the client,
 * watch and informer unit tests. Each connection runs in its own thread and calls the test's
 * handler once per request; the handler answers with the mock_* helpers. Keep-alive is
 * supported (the handler returns 0) so connection reuse is exercised too. */
#ifndef TEST_KUBE_MOCK_H
#define TEST_KUBE_MOCK_H

#include <stddef.h>

struct mock_req {
    char method[16];
    char path[2048];   /* path with query, as sent */
    char auth[512];    /* Authorization header value or "" */
    char ctype[128];   /* Content-Type or "" */
    char *body;        /* NUL-terminated, may be empty */
    size_t body_len;
    int conn_seq;      /* number of this request on its connection (0-based) */
};

struct mock;
/* Returns 0 to keep the connection open for another request, 1 to close it. */
typedef int (*mock_handler)(struct mock *m, int fd, const struct mock_req *req, void *ud);

struct mock *mock_start(mock_handler h, void *ud);
/* Stops accepting, closes all connections, joins threads. */
void mock_stop(struct mock *m);
int mock_port(struct mock *m);
/* Writes a kubeconfig pointing at the mock (plain http) with the given token to path. */
void mock_write_kubeconfig(struct mock *m, const char *path, const char *token_or_null,
                           const char *token_file_or_null);
/* Aborts every open connection (as a restarting server would). */
void mock_drop_connections(struct mock *m);
/* 1 when stop was requested (streaming handlers should end). */
int mock_stopping(struct mock *m);

/* Sends a whole response with Content-Length. extra_headers: "Name: v\r\n"... or NULL. */
void mock_reply(int fd, int code, const char *extra_headers, const char *body);
/* Starts a chunked 200 response (for watches). */
void mock_chunked_start(int fd);
/* Sends one chunk (returns -1 when the peer is gone). */
int mock_chunk(int fd, const char *data);
/* Ends a chunked response. */
void mock_chunked_end(int fd);

#endif
