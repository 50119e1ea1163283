/* kl_http: see kl_http.h. One accept thread per server; one detached thread per connection,
 * tracked in a list so that kl_http_server_free() can shut every socket down and wait for the
 * threads to leave before freeing anything they use. */
#include "kl_http.h"

#include "cm_buf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HDR_CAP (64u * 1024u)
#define MAX_HEADERS 100
#define IDLE_TIMEOUT_MS (5 * 60 * 1000)
#define MAX_CONNS 4096

struct kl_http_server {
    int fd;
    int port;
    int wake[2]; /* pipe: written by _free() to wake the accept thread */
    SSL_CTX *ssl_ctx;
    kl_http_handler_cb handler;
    void *userdata;
    pthread_t accept_thread;
    int started;
    atomic_int stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* signalled when a connection thread leaves */
    struct kl_http_conn *conns; /* doubly linked list of live connections */
    size_t n_conns;
};

struct header {
    char *name;
    char *value;
};

struct req_priv {
    struct header headers[MAX_HEADERS];
    size_t n_headers;
};

struct kl_http_conn {
    struct kl_http_server *server;
    struct kl_http_conn *prev, *next;
    int fd;
    SSL *ssl;
    char peer[64];
    struct cm_buf in; /* bytes read and not yet consumed */
    int close_after;  /* the current response ends the connection */
    int responded;
    int streaming;
};

static const char *reason_phrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* ---- raw I/O ------------------------------------------------------------------------------ */

static int conn_write_all(struct kl_http_conn *c, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w;
        if (c->ssl) {
            int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (r <= 0) {
                ERR_clear_error();
                return -EPIPE;
            }
            w = r;
        } else {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -EPIPE;
            }
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads what is available (blocking until at least one byte, up to timeout_ms) into c->in.
 * Returns bytes read, 0 on EOF, -ETIMEDOUT, -E2BIG when the buffer cap is hit, -EIO. */
static ssize_t conn_fill(struct kl_http_conn *c, int timeout_ms) {
    char tmp[16384];
    if (!(c->ssl && SSL_pending(c->ssl) > 0)) {
        int waited = 0;
        for (;;) {
            if (atomic_load(&c->server->stopping))
                return 0;
            struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
            int slice = 1000;
            int r = poll(&pfd, 1, slice);
            if (r < 0 && errno != EINTR)
                return -EIO;
            if (r > 0)
                break;
            waited += slice;
            if (timeout_ms >= 0 && waited >= timeout_ms)
                return -ETIMEDOUT;
        }
    }
    ssize_t n;
    if (c->ssl) {
        int r = SSL_read(c->ssl, tmp, sizeof(tmp));
        if (r <= 0) {
            int e = SSL_get_error(c->ssl, r);
            ERR_clear_error();
            if (e == SSL_ERROR_WANT_READ)
                return -EAGAIN;
            return 0;
        }
        n = r;
    } else {
        do {
            n = recv(c->fd, tmp, sizeof(tmp), 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return errno == ECONNRESET ? 0 : -EIO;
        if (n == 0)
            return 0;
    }
    int r = cm_buf_append(&c->in, tmp, (size_t)n);
    if (r < 0)
        return r;
    return n;
}

/* ---- parsing ------------------------------------------------------------------------------- */

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes of s into a new string; plus_space turns '+' into ' ' (queries). */
static char *url_decode(const char *s, size_t n, int plus_space) {
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (plus_space && s[i] == '+') {
            out[j++] = ' ';
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = 0;
    return out;
}

static void params_free(struct kl_http_req *req) {
    for (size_t i = 0; i < req->n_params; i++) {
        free(req->params[i].name);
        free(req->params[i].value);
    }
    free(req->params);
    req->params = NULL;
    req->n_params = 0;
}

static int parse_query(struct kl_http_req *req, const char *q) {
    size_t cap = 0;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n > 0) {
            const char *eq = memchr(q, '=', n);
            if (req->n_params == cap) {
                cap = cap ? cap * 2 : 8;
                if (cap > 256)
                    return -E2BIG;
                struct kl_http_param *np = realloc(req->params, cap * sizeof(*np));
                if (!np)
                    return -ENOMEM;
                req->params = np;
            }
            struct kl_http_param *p = &req->params[req->n_params];
            p->name = url_decode(q, eq ? (size_t)(eq - q) : n, 1);
            p->value = eq ? url_decode(eq + 1, n - (size_t)(eq - q) - 1, 1) : strdup("");
            if (!p->name || !p->value) {
                free(p->name);
                free(p->value);
                return -ENOMEM;
            }
            req->n_params++;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

const char *kl_http_req_header(const struct kl_http_req *req, const char *name) {
    const struct req_priv *p = req->priv__;
    for (size_t i = 0; i < p->n_headers; i++)
        if (strcasecmp(p->headers[i].name, name) == 0)
            return p->headers[i].value;
    return NULL;
}

const char *kl_http_req_param(const struct kl_http_req *req, const char *name) {
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

static void trim(char **s) {
    char *b = *s;
    while (*b == ' ' || *b == '\t')
        b++;
    char *e = b + strlen(b);
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = 0;
    *s = b;
}

/* Decodes a chunked body starting at c->in.data+off. Returns 0 with the body in *out and the
 * total consumed length in *ret_end; -EAGAIN when more bytes are needed; -EINVAL, -E2BIG. */
static int decode_chunked(struct kl_http_conn *c, size_t off, struct cm_buf *out,
                          size_t *ret_end) {
    size_t pos = off;
    cm_buf_reset(out);
    for (;;) {
        char *line_end = memmem(c->in.data + pos, c->in.len - pos, "\r\n", 2);
        if (!line_end)
            return -EAGAIN;
        char *endp;
        unsigned long sz = strtoul(c->in.data + pos, &endp, 16);
        if (endp == c->in.data + pos)
            return -EINVAL;
        pos = (size_t)(line_end - c->in.data) + 2;
        if (sz == 0) {
            /* trailers until an empty line */
            for (;;) {
                char *le = memmem(c->in.data + pos, c->in.len - pos, "\r\n", 2);
                if (!le)
                    return -EAGAIN;
                size_t ll = (size_t)(le - (c->in.data + pos));
                pos += ll + 2;
                if (ll == 0) {
                    *ret_end = pos;
                    return 0;
                }
            }
        }
        if (sz > KL_HTTP_MAX_BODY)
            return -E2BIG;
        if (c->in.len - pos < sz + 2)
            return -EAGAIN;
        int r = cm_buf_append(out, c->in.data + pos, sz);
        if (r < 0)
            return r;
        pos += sz + 2;
    }
}

static int send_simple(struct kl_http_conn *c, int status, const char *msg) {
    c->close_after = 1;
    return kl_http_respond(c, status, "text/plain", msg, strlen(msg), NULL);
}

/* Reads and handles one request. Returns 0 to keep the connection, <0 to close it. */
static int conn_one_request(struct kl_http_conn *c) {
    char *hend;
    for (;;) {
        hend = c->in.len ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
        if (hend)
            break;
        if (c->in.len >= HDR_CAP) {
            send_simple(c, 431, "request headers too large\n");
            return -E2BIG;
        }
        ssize_t n = conn_fill(c, IDLE_TIMEOUT_MS);
        if (n == -EAGAIN)
            continue;
        if (n <= 0)
            return n == 0 ? -EPIPE : (int)n;
    }
    size_t hlen = (size_t)(hend - c->in.data) + 4;
    char *head = strndup(c->in.data, hlen - 4);
    if (!head)
        return -ENOMEM;

    struct req_priv priv = {0};
    struct kl_http_req req = {.priv__ = &priv};
    struct cm_buf body;
    cm_buf_init(&body, KL_HTTP_MAX_BODY);
    char *path = NULL;
    int r = 0;

    /* head is our own NUL-terminated copy: split it in place into lines. */
    char *line = head;
    char *nl = strchr(line, '\n');
    char *rest = NULL;
    if (nl) {
        *nl = 0;
        rest = nl + 1;
    }
    char *method = line, *target = NULL, *version = NULL;
    char *sp1 = strchr(line, ' ');
    if (sp1) {
        *sp1 = 0;
        target = sp1 + 1;
        char *sp2 = strchr(target, ' ');
        if (sp2) {
            *sp2 = 0;
            version = sp2 + 1;
            trim(&version);
        }
    }
    if (!target || !version || strncmp(version, "HTTP/1.", 7) != 0) {
        send_simple(c, 400, "malformed request line\n");
        r = -EINVAL;
        goto out;
    }
    int http10 = strcmp(version, "HTTP/1.0") == 0;
    while (rest && *rest) {
        char *h = rest;
        nl = strchr(h, '\n');
        if (nl) {
            *nl = 0;
            rest = nl + 1;
        } else {
            rest = NULL;
        }
        char *colon = strchr(h, ':');
        if (!colon)
            continue;
        *colon = 0;
        char *val = colon + 1;
        trim(&val);
        char *name = h;
        trim(&name);
        if (priv.n_headers < MAX_HEADERS)
            priv.headers[priv.n_headers++] = (struct header){name, val};
    }
    req.method = method;
    req.raw_target = target;
    char *q = strchr(target, '?');
    path = url_decode(target, q ? (size_t)(q - target) : strlen(target), 0);
    if (!path) {
        r = -ENOMEM;
        goto out;
    }
    req.path = path;
    if (q && (r = parse_query(&req, q + 1)) < 0) {
        send_simple(c, 400, "bad query\n");
        goto out;
    }

    const char *conn_hdr = kl_http_req_header(&req, "Connection");
    c->close_after = http10 ? !(conn_hdr && strcasecmp(conn_hdr, "keep-alive") == 0)
                            : (conn_hdr && strcasecmp(conn_hdr, "close") == 0);

    const char *expect = kl_http_req_header(&req, "Expect");
    const char *te = kl_http_req_header(&req, "Transfer-Encoding");
    const char *cl = kl_http_req_header(&req, "Content-Length");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if ((r = conn_write_all(c, cont, sizeof(cont) - 1)) < 0)
            goto out;
    }
    size_t consumed = hlen;
    if (te && strcasecmp(te, "chunked") == 0) {
        for (;;) {
            size_t end;
            r = decode_chunked(c, hlen, &body, &end);
            if (r == 0) {
                consumed = end;
                break;
            }
            if (r != -EAGAIN) {
                send_simple(c, r == -E2BIG ? 413 : 400, "bad chunked body\n");
                goto out;
            }
            ssize_t n = conn_fill(c, 30000);
            if (n == -EAGAIN)
                continue;
            if (n <= 0) {
                r = -EPIPE;
                goto out;
            }
        }
    } else if (cl) {
        char *endp;
        unsigned long long len = strtoull(cl, &endp, 10);
        if (*endp || endp == cl) {
            send_simple(c, 400, "bad Content-Length\n");
            r = -EINVAL;
            goto out;
        }
        if (len > KL_HTTP_MAX_BODY) {
            send_simple(c, 413, "request body too large\n");
            r = -E2BIG;
            goto out;
        }
        while (c->in.len - hlen < len) {
            ssize_t n = conn_fill(c, 30000);
            if (n == -EAGAIN)
                continue;
            if (n <= 0) {
                r = -EPIPE;
                goto out;
            }
        }
        if ((r = cm_buf_append(&body, c->in.data + hlen, (size_t)len)) < 0)
            goto out;
        consumed = hlen + (size_t)len;
    }
    req.body = body.data ? body.data : "";
    req.body_len = body.len;

    c->responded = 0;
    c->streaming = 0;
    c->server->handler(c, &req, c->server->userdata);
    if (!c->responded) {
        /* A handler bug must not leave the client hanging. */
        send_simple(c, 500, "no response\n");
    }
    cm_buf_consume(&c->in, consumed);
    r = c->close_after ? -EPIPE : 0;
out:
    params_free(&req);
    cm_buf_done(&body);
    free(path);
    free(head);
    return r;
}

/* ---- responses ----------------------------------------------------------------------------- */

int kl_http_respond(struct kl_http_conn *c, int status, const char *content_type, const char *body,
                    size_t len, const char *extra_headers) {
    struct cm_buf out;
    cm_buf_init(&out, 0);
    c->responded = 1;
    int r = cm_buf_printf(&out,
                          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                          "Cache-Control: no-cache, private\r\n%s%s\r\n",
                          status, reason_phrase(status), content_type ? content_type : "text/plain",
                          len, extra_headers ? extra_headers : "",
                          c->close_after ? "Connection: close\r\n" : "");
    if (r == 0 && len <= 65536)
        r = cm_buf_append(&out, body, len);
    if (r == 0)
        r = conn_write_all(c, out.data, out.len);
    if (r == 0 && len > 65536)
        r = conn_write_all(c, body, len);
    cm_buf_done(&out);
    if (r < 0)
        c->close_after = 1;
    return r;
}

int kl_http_stream_begin(struct kl_http_conn *c, int status, const char *content_type) {
    char head[512];
    c->responded = 1;
    c->streaming = 1;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"
                     "Cache-Control: no-cache, private\r\n\r\n",
                     status, reason_phrase(status), content_type);
    int r = conn_write_all(c, head, (size_t)n);
    if (r < 0)
        c->close_after = 1;
    return r;
}

int kl_http_stream_write(struct kl_http_conn *c, const char *data, size_t len) {
    char pre[32];
    if (len == 0)
        return 0;
    int n = snprintf(pre, sizeof(pre), "%zx\r\n", len);
    struct cm_buf out;
    cm_buf_init(&out, 0);
    int r = cm_buf_append(&out, pre, (size_t)n);
    if (r == 0)
        r = cm_buf_append(&out, data, len);
    if (r == 0)
        r = cm_buf_append(&out, "\r\n", 2);
    if (r == 0)
        r = conn_write_all(c, out.data, out.len);
    cm_buf_done(&out);
    if (r < 0)
        c->close_after = 1;
    return r;
}

int kl_http_stream_end(struct kl_http_conn *c, int close_conn) {
    if (close_conn)
        c->close_after = 1;
    int r = conn_write_all(c, "0\r\n\r\n", 5);
    if (r < 0)
        c->close_after = 1;
    return r;
}

int kl_http_conn_closing(struct kl_http_conn *c) {
    if (atomic_load(&c->server->stopping))
        return 1;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
    int r = poll(&pfd, 1, 0);
    if (r < 0)
        return errno == EINTR ? 0 : 1;
    return r > 0 && (pfd.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

const char *kl_http_conn_peer(const struct kl_http_conn *c) {
    return c->peer;
}

/* ---- connection threads -------------------------------------------------------------------- */

static void conn_free(struct kl_http_conn *c) {
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    close(c->fd);
    cm_buf_done(&c->in);
    free(c);
}

static void *conn_thread(void *arg) {
    struct kl_http_conn *c = arg;
    struct kl_http_server *s = c->server;
    int ok = 1;
    if (s->ssl_ctx) {
        struct timeval tv = {.tv_sec = 10};
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        c->ssl = SSL_new(s->ssl_ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_accept(c->ssl) != 1) {
            ERR_clear_error();
            ok = 0;
        }
        tv.tv_sec = 0;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    while (ok && !atomic_load(&s->stopping)) {
        if (conn_one_request(c) < 0)
            break;
    }
    pthread_mutex_lock(&s->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    conn_free(c);
    return NULL;
}

static void *accept_thread(void *arg) {
    struct kl_http_server *s = arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 1024 * 1024);
    while (!atomic_load(&s->stopping)) {
        struct pollfd pfd[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->wake[0], .events = POLLIN}};
        int r = poll(pfd, 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents)
            break;
        if (!(pfd[0].revents & POLLIN))
            continue;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                poll(NULL, 0, 100); /* let connections close before trying again */
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct kl_http_conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->server = s;
        c->fd = fd;
        cm_buf_init(&c->in, HDR_CAP + KL_HTTP_MAX_BODY + 65536);
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        }
        snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);

        pthread_mutex_lock(&s->mu);
        if (s->n_conns >= MAX_CONNS) {
            pthread_mutex_unlock(&s->mu);
            conn_free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        pthread_t t;
        if (pthread_create(&t, &attr, conn_thread, c) != 0) {
            s->conns = c->next;
            if (s->conns)
                s->conns->prev = NULL;
            s->n_conns--;
            pthread_mutex_unlock(&s->mu);
            conn_free(c);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

/* ---- server lifecycle ---------------------------------------------------------------------- */

int kl_http_server_new(const char *addr, SSL_CTX *ssl_ctx, kl_http_handler_cb handler,
                       void *userdata, struct kl_http_server **ret_server) {
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(host))
        return -EINVAL;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    /* "[::1]:0" style */
    char *h = host;
    if (h[0] == '[') {
        h++;
        char *rb = strchr(h, ']');
        if (rb)
            *rb = 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(*h ? h : NULL, colon + 1, &hints, &ai) != 0 || !ai)
        return -EINVAL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        freeaddrinfo(ai);
        return -e;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(ai);
        return -e;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    struct kl_http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        return -ENOMEM;
    }
    if (pipe2(s->wake, O_CLOEXEC) < 0) {
        int e = errno;
        close(fd);
        free(s);
        return -e;
    }
    s->fd = fd;
    s->port = port;
    s->ssl_ctx = ssl_ctx;
    s->handler = handler;
    s->userdata = userdata;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    *ret_server = s;
    return 0;
}

int kl_http_server_port(const struct kl_http_server *s) {
    return s->port;
}

int kl_http_server_start(struct kl_http_server *s) {
    int r = pthread_create(&s->accept_thread, NULL, accept_thread, s);
    if (r != 0)
        return -r;
    s->started = 1;
    return 0;
}

void kl_http_server_free(struct kl_http_server *s) {
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    if (write(s->wake[1], "x", 1) < 0) {
        /* the accept thread also checks `stopping` after every poll */
    }
    if (s->started)
        pthread_join(s->accept_thread, NULL);
    pthread_mutex_lock(&s->mu);
    while (s->n_conns > 0) {
        for (struct kl_http_conn *c = s->conns; c; c = c->next)
            shutdown(c->fd, SHUT_RDWR);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    close(s->fd);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
