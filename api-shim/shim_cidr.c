#include "shim_cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static int parse_ip(const char *s, int *family, unsigned char addr[16]) {
    unsigned char a6[16];

    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, a6) == 1) {
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        if (memcmp(a6, mapped, 12) == 0) {
            *family = AF_INET;
            memcpy(addr, a6 + 12, 4);
        } else {
            *family = AF_INET6;
            memcpy(addr, a6, 16);
        }
        return 0;
    }
    return -EINVAL;
}

int shim_cidr_parse(const char *s, struct shim_cidr *ret) {
    char buf[64];
    char *slash, *end;
    struct shim_cidr c = { 0 };
    long p;

    if (!s || strlen(s) >= sizeof buf)
        return -EINVAL;
    memcpy(buf, s, strlen(s) + 1);
    slash = strchr(buf, '/');
    if (slash)
        *slash = 0;
    if (parse_ip(buf, &c.family, c.addr) < 0)
        return -EINVAL;
    c.prefix = c.family == AF_INET ? 32 : 128;
    if (slash) {
        errno = 0;
        p = strtol(slash + 1, &end, 10);
        if (errno || *end || end == slash + 1 || p < 0 || p > (long)c.prefix)
            return -EINVAL;
        c.prefix = (unsigned)p;
    }
    *ret = c;
    return 0;
}

int shim_cidr_contains(const struct shim_cidr *c, const char *ip) {
    unsigned char a[16];
    int fam;
    unsigned full, rem;

    if (!ip || parse_ip(ip, &fam, a) < 0 || fam != c->family)
        return 0;
    full = c->prefix / 8;
    rem = c->prefix % 8;
    if (memcmp(a, c->addr, full) != 0)
        return 0;
    if (rem) {
        unsigned char mask = (unsigned char)(0xff << (8 - rem));

        return (a[full] & mask) == (c->addr[full] & mask);
    }
    return 1;
}

int shim_cidr_list_contains(const struct shim_cidr *v, size_t n, const char *ip) {
    for (size_t i = 0; i < n; i++)
        if (shim_cidr_contains(&v[i], ip))
            return 1;
    return 0;
}

char *shim_peer_normalize(const char *ip, char *out, size_t n) {
    if (!n)
        return out;
    if (strncasecmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.'))
        ip += 7;
    strncpy(out, ip, n - 1);
    out[n - 1] = 0;
    return out;
}

char *shim_client_address(const char *peer, const char *xff, const struct shim_cidr *trusted,
                          size_t n_trusted, char *out, size_t n) {
    char *copy, *tok, *save;
    char **parts = NULL;
    size_t np = 0;

    shim_peer_normalize(peer ? peer : "", out, n);
    if (!xff || !*xff || !shim_cidr_list_contains(trusted, n_trusted, out))
        return out;
    copy = strdup(xff);
    if (!copy)
        return out;
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char **np2 = realloc(parts, (np + 1) * sizeof *parts);

        if (!np2)
            goto done;
        parts = np2;
        while (*tok == ' ' || *tok == '\t')
            tok++;
        for (char *e = tok + strlen(tok); e > tok && (e[-1] == ' ' || e[-1] == '\t'); e--)
            e[-1] = 0;
        parts[np++] = tok;
    }
    /* Walk from the right: skip our own proxies; the first other hop is the client. */
    for (size_t i = np; i-- > 0;) {
        int fam;
        unsigned char a[16];

        if (parse_ip(parts[i], &fam, a) < 0)
            break; /* malformed: trust nothing further */
        if (shim_cidr_list_contains(trusted, n_trusted, parts[i]))
            continue;
        shim_peer_normalize(parts[i], out, n);
        break;
    }
done:
    free(parts);
    free(copy);
    return out;
}
