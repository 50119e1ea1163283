/* kubelite_watchers: N concurrent watch streams for the kube-lite benchmark, in one process (100
 * curl processes would measure curl rather than the server). Each watcher is a thread with a
 * blocking TLS connection that counts event lines ('\n' not preceded by '\r'; chunk framing
 * lines end in "\r\n", JSON events in "}\n"). Prints READY once every stream has its response
 * headers, then, when every watcher has seen EXPECTED events or TIMEOUT seconds passed:
 *   watchers=N complete=M events=TOTAL seconds=S
 * where S runs from READY to the last event. Built by tests/bench/kubelite_bench.sh:
 *   cc -O2 -o kubelite_watchers kubelite_watchers.c -lssl -lcrypto -lpthread
 * Usage: kubelite_watchers HOST PORT TOKEN PATH N EXPECTED TIMEOUT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host, *token, *path;
static int port, expected, timeout_s;
static SSL_CTX *ctx;
static atomic_int ready, complete;
static atomic_long total;
static atomic_llong last_ns;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *watcher(void *arg) {
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        return NULL;
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        fprintf(stderr, "TLS handshake failed\n");
        return NULL;
    }
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                     "Accept: application/json\r\n\r\n", path, host, token);
    SSL_write(ssl, req, n);
    char buf[65536];
    int headers = 0, events = 0;
    char prev = 0;
    while (events < expected) {
        int r = SSL_read(ssl, buf, sizeof(buf));
        if (r <= 0)
            break;
        for (int i = 0; i < r; i++) {
            char c = buf[i];
            if (!headers) {
                /* end of headers: "\r\n\r\n"; count it once */
                static __thread int crlf;
                crlf = (c == '\r' || c == '\n') ? crlf + 1 : 0;
                if (crlf == 4) {
                    headers = 1;
                    atomic_fetch_add(&ready, 1);
                }
            } else if (c == '\n' && prev != '\r') {
                events++;
                atomic_fetch_add(&total, 1);
                atomic_store(&last_ns, now_ns());
            }
            prev = c;
        }
    }
    if (events >= expected)
        atomic_fetch_add(&complete, 1);
    SSL_free(ssl);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s HOST PORT TOKEN PATH N EXPECTED TIMEOUT\n", argv[0]);
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    token = argv[3];
    path = argv[4];
    int nw = atoi(argv[5]);
    expected = atoi(argv[6]);
    timeout_s = atoi(argv[7]);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    pthread_t *t = calloc((size_t)nw, sizeof(*t));
    for (int i = 0; i < nw; i++)
        pthread_create(&t[i], NULL, watcher, NULL);
    long long deadline = now_ns() + (long long)timeout_s * 1000000000LL;
    while (atomic_load(&ready) < nw && now_ns() < deadline)
        usleep(10000);
    long long start = now_ns();
    printf("READY %d\n", atomic_load(&ready));
    fflush(stdout);
    for (int i = 0; i < nw; i++)
        pthread_join(t[i], NULL);
    long long last = atomic_load(&last_ns);
    printf("watchers=%d complete=%d events=%ld seconds=%.2f\n", nw, atomic_load(&complete),
           atomic_load(&total), last > start ? (double)(last - start) / 1e9 : 0.0);
    free(t);
    SSL_CTX_free(ctx);
    return 0;
}
