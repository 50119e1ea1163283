/* rc_httpd: a tiny HTTP/1.x server for /metrics, /healthz and /readyz.
 *
 * One thread accepts and serves connections one at a time: probes and scrapes are rare and
 * small, and a sequential server cannot run out of threads or memory however many clients
 * connect. Each connection gets a short deadline (reading the request, writing the answer), so a
 * stuck client delays the next one by at most that long. Only GET and HEAD are served; every
 * response closes the connection. Nothing from the request except the path reaches the handler.
 *
 * Threads: rc_httpd_start()/rc_httpd_stop() from one controlling thread; the handler runs on the
 * server thread and must be thread-safe with respect to the rest of the program. */
#ifndef RC_HTTPD_H
#define RC_HTTPD_H

struct cm_buf;
struct rc_httpd;

/* Fills body (capped, empty on entry) for path (without the query string) and returns the HTTP
 * status to send; *ret_content_type may be set to a static string (default text/plain). */
typedef int (*rc_httpd_handler_cb)(const char *path, struct cm_buf *body,
                                   const char **ret_content_type, void *userdata);

/* Listens on addr ("host:port", ":port" for every interface, "[v6]:port"; port 0 picks a free
 * one) and starts the server thread. On success *ret_srv is the server, freed by
 * rc_httpd_stop(). Returns 0, -EINVAL (bad address), or a negative errno from socket/bind. */
int rc_httpd_start(const char *addr, rc_httpd_handler_cb handler, void *userdata,
                   struct rc_httpd **ret_srv);
/* The bound port (useful after asking for port 0). */
int rc_httpd_port(const struct rc_httpd *srv);
/* Stops the thread (waits at most one connection deadline), closes the socket, frees srv.
 * Accepts NULL. */
void rc_httpd_stop(struct rc_httpd *srv);

#endif
