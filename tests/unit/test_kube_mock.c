#include "test_kube_mock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 64

struct mock {
    int lfd;
    int port;
    mock_handler h;
    void *ud;
    pthread_t accept_thread;
    atomic_int stop;
    pthread_mutex_t lock;
    int fds[MAX_CONNS];
    pthread_t threads[MAX_CONNS];
    int n;
};

struct conn {
    struct mock *m;
    int fd;
};

static int read_request(int fd, struct mock_req *req, char *buf, size_t cap, size_t *have) {
    /* reads until the end of headers */
    for (;;) {
        buf[*have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t hdr_len = (size_t)(end - buf) + 4;
            memset(req, 0, sizeof(*req));
            sscanf(buf, "%15s %2047s", req->method, req->path);
            size_t clen = 0;
            for (char *line = strstr(buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
                if (strncasecmp(line, "Content-Length:", 15) == 0)
                    clen = strtoul(line + 15, NULL, 10);
                else if (strncasecmp(line, "Authorization:", 14) == 0)
                    sscanf(line + 14, " %511[^\r]", req->auth);
                else if (strncasecmp(line, "Content-Type:", 13) == 0)
                    sscanf(line + 13, " %127[^\r]", req->ctype);
            }
            while (*have < hdr_len + clen) {
                ssize_t n = read(fd, buf + *have, cap - 1 - *have);
                if (n <= 0)
                    return -1;
                *have += (size_t)n;
            }
            req->body = malloc(clen + 1);
            memcpy(req->body, buf + hdr_len, clen);
            req->body[clen] = '\0';
            req->body_len = clen;
            memmove(buf, buf + hdr_len + clen, *have - hdr_len - clen);
            *have -= hdr_len + clen;
            return 0;
        }
        if (*have >= cap - 1)
            return -1;
        ssize_t n = read(fd, buf + *have, cap - 1 - *have);
        if (n <= 0)
            return -1;
        *have += (size_t)n;
    }
}

static void *conn_thread(void *arg) {
    struct conn *c = arg;
    size_t cap = 1 << 20, have = 0;
    char *buf = malloc(cap);
    for (int seq = 0; !atomic_load(&c->m->stop); seq++) {
        struct mock_req req;
        if (read_request(c->fd, &req, buf, cap, &have) < 0)
            break;
        req.conn_seq = seq;
        int close_it = c->m->h(c->m, c->fd, &req, c->m->ud);
        free(req.body);
        if (close_it)
            break;
    }
    free(buf);
    shutdown(c->fd, SHUT_RDWR);
    free(c);
    return NULL;
}

static void *accept_thread(void *arg) {
    struct mock *m = arg;
    while (!atomic_load(&m->stop)) {
        struct pollfd p = {.fd = m->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(m->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&m->lock);
        if (m->n >= MAX_CONNS) {
            pthread_mutex_unlock(&m->lock);
            close(fd);
            continue;
        }
        struct conn *c = malloc(sizeof(*c));
        c->m = m;
        c->fd = fd;
        m->fds[m->n] = fd;
        pthread_create(&m->threads[m->n], NULL, conn_thread, c);
        m->n++;
        pthread_mutex_unlock(&m->lock);
    }
    return NULL;
}

struct mock *mock_start(mock_handler h, void *ud) {
    struct mock *m = calloc(1, sizeof(*m));
    m->h = h;
    m->ud = ud;
    pthread_mutex_init(&m->lock, NULL);
    m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(m->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(m->lfd, 64) < 0) {
        perror("mock bind");
        abort();
    }
    socklen_t l = sizeof(a);
    getsockname(m->lfd, (struct sockaddr *)&a, &l);
    m->port = ntohs(a.sin_port);
    pthread_create(&m->accept_thread, NULL, accept_thread, m);
    return m;
}

int mock_port(struct mock *m) {
    return m->port;
}

int mock_stopping(struct mock *m) {
    return atomic_load(&m->stop);
}

void mock_drop_connections(struct mock *m) {
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->n; i++)
        shutdown(m->fds[i], SHUT_RDWR);
    pthread_mutex_unlock(&m->lock);
}

void mock_stop(struct mock *m) {
    atomic_store(&m->stop, 1);
    pthread_join(m->accept_thread, NULL);
    close(m->lfd);
    mock_drop_connections(m);
    for (int i = 0; i < m->n; i++) {
        pthread_join(m->threads[i], NULL);
        close(m->fds[i]);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void mock_write_kubeconfig(struct mock *m, const char *path, const char *token,
                           const char *token_file) {
    FILE *f = fopen(path, "w");
    fprintf(f,
            "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
            "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
            "contexts: [{name: t, context: {cluster: c, user: u, namespace: ns1}}]\n"
            "users: [{name: u, user: {",
            m->port);
    if (token)
        fprintf(f, "token: '%s'%s", token, token_file ? ", " : "");
    if (token_file)
        fprintf(f, "tokenFile: '%s'", token_file);
    fprintf(f, "}}]\n");
    fclose(f);
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void mock_reply(int fd, int code, const char *extra, const char *body) {
    char head[1024];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
                     code, bl, extra ? extra : "");
    write_all(fd, head, (size_t)n);
    if (bl)
        write_all(fd, body, bl);
}

void mock_chunked_start(int fd) {
    const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n";
    write_all(fd, h, strlen(h));
}

int mock_chunk(int fd, const char *data) {
    char head[32];
    size_t n = strlen(data);
    int hl = snprintf(head, sizeof(head), "%zx\r\n", n);
    if (send(fd, head, (size_t)hl, MSG_NOSIGNAL) != hl)
        return -1;
    if (send(fd, data, n, MSG_NOSIGNAL) != (ssize_t)n)
        return -1;
    if (send(fd, "\r\n", 2, MSG_NOSIGNAL) != 2)
        return -1;
    return 0;
}

void mock_chunked_end(int fd) {
    write_all(fd, "0\r\n\r\n", 5);
}
