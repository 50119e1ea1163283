/* shim_cidr: address ranges for --trusted-proxy and the client address behind a proxy. Pure. */
#ifndef SHIM_CIDR_H
#define SHIM_CIDR_H

#include <stddef.h>

struct shim_cidr {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
};

/* Parses "10.0.0.0/8", "fd00::/8" or a bare address (a /32 or /128). 0 or -EINVAL. */
int shim_cidr_parse(const char *s, struct shim_cidr *ret);
/* 1 when the textual address ip lies in c (IPv4-mapped IPv6 addresses count as IPv4). */
int shim_cidr_contains(const struct shim_cidr *c, const char *ip);
int shim_cidr_list_contains(const struct shim_cidr *v, size_t n, const char *ip);

/* Normalises a peer address for use as a host address: strips "::ffff:" from IPv4-mapped IPv6.
 * Writes into out (size n). Returns out. */
char *shim_peer_normalize(const char *ip, char *out, size_t n);

/* The client address of a request: peer itself unless peer is a trusted proxy, in which case
 * the right-most X-Forwarded-For entry that is not a trusted proxy (entries to its left could
 * be forged by the client). Falls back to peer when the header is missing or malformed. Writes
 * into out (size n); returns out. */
char *shim_client_address(const char *peer, const char *xff, const struct shim_cidr *trusted,
                          size_t n_trusted, char *out, size_t n);

#endif
