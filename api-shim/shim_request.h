/* shim_request: decoding and validating REST request bodies (spec §2.5, §3, §5–§9, decisions).
 *
 * Everything here is pure: a body goes in, a typed request or a 400/413 shim_err comes out, so
 * the router + decoders can be fuzzed and unit-tested without a server. Decoded structs own
 * their strings; free them with the matching _done(). Callable from any thread. */
#ifndef SHIM_REQUEST_H
#define SHIM_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Largest request body accepted; a bigger one is a 413 (issue 6). */
#define SHIM_BODY_MAX (1024 * 1024)
/* Longest address or name we accept: Kubernetes object names stop at 253. */
#define SHIM_NAME_MAX 253

/* An HTTP error to answer with: status plus a one-line message for the JSON error body
 * (decisions 4). The message never contains secrets. */
struct shim_err {
    int status;
    char msg[256];
};

void shim_err_set(struct shim_err *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The reason phrase REF uses as the error text ("Bad Request", ...); "Error" when unknown. */
const char *shim_http_reason(int status);

/* Parses a PUT body of n bytes: empty → an empty object; invalid UTF-8/JSON or anything that is
 * not a JSON object → 400 (decisions: non-object → 400); n > SHIM_BODY_MAX → 413.
 * On success *ret is a new reference. Returns 0 or -EINVAL (err filled). */
int shim_body_parse(const char *body, size_t n, json_t **ret, struct shim_err *err);

/* 1 when s is a valid {address}: [a-zA-Z0-9-_.]+, or an IP literal with ':' (IPv6 peers). */
int shim_address_valid(const char *s);
/* 1 when s is a valid {name}: [a-zA-Z0-9-_]+. */
int shim_name_valid(const char *s);

/* Strict standard base64 (padding optional, CR/LF ignored). Returns 0 with a malloc'd buffer
 * (NUL-terminated, not counted in *ret_len), or -EINVAL. */
int shim_base64_decode(const char *s, unsigned char **ret, size_t *ret_len);
/* Standard base64 with padding; caller frees. NULL on -ENOMEM. */
char *shim_base64_encode(const unsigned char *p, size_t n);

/* PUT /api/v0/host[/{address}] (spec §5.3, decisions 2, 33 and the key rule). */
struct shim_host_req {
    char *address;      /* from the body, else the URL, else the peer */
    char *ssh_priv_key; /* canonical base64 of the key (re-encoded from the decoded bytes) */
    unsigned char *key; /* the decoded private key text */
    size_t key_len;
    char *remote_user;  /* "root" by default */
    char *cluster;      /* NULL: no cluster (absent or falsy) */
    char *source;       /* "" by default */
};
/* url_address: the {address} of the URL or NULL (PUT /api/v0/host); peer: the client's address
 * used when neither body nor URL has one (NULL if unknown). Checks every Host field's type as
 * REF does (ints accept booleans, not floats). A key that is missing or not base64 of a private
 * key → 400. Returns 0 or -EINVAL. */
int shim_host_req_decode(const json_t *body, const char *url_address, const char *peer,
                         struct shim_host_req *ret, struct shim_err *err);
void shim_host_req_done(struct shim_host_req *r);

/* A list of distinct strings. */
struct shim_strv {
    char **v;
    size_t n;
};
void shim_strv_done(struct shim_strv *s);
/* 1 when both hold the same set of strings. */
int shim_strv_set_equal(const struct shim_strv *a, const struct shim_strv *b);
int shim_strv_contains(const struct shim_strv *s, const char *x);
/* Appends a copy of x unless present. 0 or -ENOMEM. */
int shim_strv_add(struct shim_strv *s, const char *x);

/* PUT /api/v0/cluster/{name} (spec §6.3, decisions 11, 33). NULL members were not sent. */
struct shim_cluster_req {
    char *name;
    char *network;
    char *container_manager;
    char *status;
    bool has_hostset;
    struct shim_strv hostset;
};
int shim_cluster_req_decode(const json_t *body, const char *url_name, struct shim_cluster_req *ret,
                            struct shim_err *err);
void shim_cluster_req_done(struct shim_cluster_req *r);

/* PUT /api/v0/cluster/{name}/hosts (spec §7.3): both lists required, arrays of addresses. */
struct shim_members_req {
    struct shim_strv old_hosts;
    struct shim_strv new_hosts;
};
int shim_members_req_decode(const json_t *body, struct shim_members_req *ret, struct shim_err *err);
void shim_members_req_done(struct shim_members_req *r);

/* PUT /api/v0/cluster/{name}/deploy (spec §8.4): version, a non-empty string. Caller frees. */
int shim_deploy_req_decode(const json_t *body, char **ret_version, struct shim_err *err);

/* PUT /api/v0/network/{name} and /api/v0/containermanager/{name} (spec §9): type with default
 * and enum, options an object. */
struct shim_named_req {
    char *name;
    char *type;
    json_t *options; /* owned reference; {} by default */
};
int shim_network_req_decode(const json_t *body, const char *url_name, struct shim_named_req *ret,
                            struct shim_err *err);
/* Types: openshift (default), kubernetes, trivial (decisions 13). */
int shim_cm_req_decode(const json_t *body, const char *url_name, struct shim_named_req *ret,
                       struct shim_err *err);
void shim_named_req_done(struct shim_named_req *r);

#endif
