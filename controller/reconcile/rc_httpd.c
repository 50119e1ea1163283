#include "rc_httpd.h"

#include "cm_buf.h"
#include "cm_time.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX 8192
#define BODY_MAX (4 * 1024 * 1024)
#define CONN_DEADLINE_MS 2000

struct rc_httpd {
    int fd;
    int wake[2]; /* written by rc_httpd_stop() to interrupt poll() */
    int port;
    pthread_t thread;
    rc_httpd_handler_cb handler;
    void *userdata;
};

static int split_addr(const char *addr, char **ret_host, char **ret_port) {
    const char *colon;
    char *host;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        host = strndup(addr + 1, (size_t)(end - addr - 1));
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -EINVAL;
        host = strndup(addr, (size_t)(colon - addr));
    }
    if (!host)
        return -ENOMEM;
    if (!colon[1]) {
        free(host);
        return -EINVAL;
    }
    char *port = strdup(colon + 1);
    if (!port) {
        free(host);
        return -ENOMEM;
    }
    *ret_host = host;
    *ret_port = port;
    return 0;
}

static int listen_on(const char *addr, int *ret_fd, int *ret_port) {
    char *host = NULL, *port = NULL;
    int r = split_addr(addr, &host, &port);
    if (r < 0)
        return r;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int fd = -1;
    if (getaddrinfo(*host ? host : NULL, port, &hints, &ai) != 0) {
        r = -EINVAL;
        goto out;
    }
    r = -EADDRNOTAVAIL;
    for (struct addrinfo *p = ai; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, p->ai_addr, p->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        r = -errno;
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        goto out;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *ret_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *ret_fd = fd;
    r = 0;
out:
    if (ai)
        freeaddrinfo(ai);
    free(host);
    free(port);
    return r;
}

/* Waits for fd to become ready for events until the deadline. Returns 1 ready, 0 timeout. */
static int wait_fd(int fd, short events, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - cm_time_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 0;
    }
}

static void write_all(int fd, const char *p, size_t n, int64_t deadline) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLOUT, deadline))
            continue;
        return;
    }
}

static const char *status_text(int code) {
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void serve(struct rc_httpd *s, int fd) {
    int64_t deadline = cm_time_mono_ms() + CONN_DEADLINE_MS;
    char req[REQUEST_MAX + 1];
    size_t len = 0;
    /* Read until the end of the headers; bodies are never expected (GET/HEAD only). */
    while (len < REQUEST_MAX) {
        if (!wait_fd(fd, POLLIN, deadline))
            return;
        ssize_t n = recv(fd, req + len, REQUEST_MAX - len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[len] = '\0';

    struct cm_buf body, head;
    cm_buf_init(&body, BODY_MAX);
    cm_buf_init(&head, 1024);
    const char *ctype = "text/plain; charset=utf-8";
    int code, head_only = 0;
    char *sp1 = strchr(req, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || sp1[1] != '/') {
        code = 400;
        cm_buf_puts(&body, "bad request\n");
    } else {
        *sp1 = '\0';
        *sp2 = '\0';
        char *path = sp1 + 1;
        char *q = strchr(path, '?');
        if (q)
            *q = '\0';
        head_only = !strcmp(req, "HEAD");
        if (strcmp(req, "GET") && !head_only) {
            code = 405;
            cm_buf_puts(&body, "method not allowed\n");
        } else {
            code = s->handler(path, &body, &ctype, s->userdata);
        }
    }
    cm_buf_printf(&head,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n\r\n",
                  code, status_text(code), ctype, body.len);
    write_all(fd, head.data, head.len, deadline);
    if (!head_only && body.len)
        write_all(fd, body.data, body.len, deadline);
    cm_buf_done(&body);
    cm_buf_done(&head);
}

static void *server_main(void *arg) {
    struct rc_httpd *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->wake[0], .events = POLLIN}};
        int n = poll(p, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0)
            continue;
        serve(s, c);
        close(c);
    }
    return NULL;
}

int rc_httpd_start(const char *addr, rc_httpd_handler_cb handler, void *userdata,
                   struct rc_httpd **ret_srv) {
    if (!addr || !handler || !ret_srv)
        return -EINVAL;
    struct rc_httpd *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->fd = -1;
    s->wake[0] = s->wake[1] = -1;
    s->handler = handler;
    s->userdata = userdata;
    int r = listen_on(addr, &s->fd, &s->port);
    if (r < 0)
        goto fail;
    if (pipe2(s->wake, O_CLOEXEC) < 0) {
        r = -errno;
        goto fail;
    }
    fcntl(s->fd, F_SETFL, O_NONBLOCK);
    r = -pthread_create(&s->thread, NULL, server_main, s);
    if (r < 0)
        goto fail;
    *ret_srv = s;
    return 0;
fail:
    if (s->fd >= 0)
        close(s->fd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    free(s);
    return r;
}

int rc_httpd_port(const struct rc_httpd *srv) { return srv ? srv->port : -1; }

void rc_httpd_stop(struct rc_httpd *srv) {
    if (!srv)
        return;
    ssize_t w;
    do
        w = write(srv->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(srv->thread, NULL);
    close(srv->fd);
    close(srv->wake[0]);
    close(srv->wake[1]);
    free(srv);
}
