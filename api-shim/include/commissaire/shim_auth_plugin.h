/* commissaire/shim_auth_plugin.h: the C ABI for external authentication plug-ins of
 * commissaire-shim (installed header).
 *
 * A plug-in is a shared object named on the command line by its path:
 *
 *     commissaire-shim --authentication-plugin /usr/lib/commissaire/myauth.so:realm=x,level=2
 *
 * It exports one function, COMMISSAIRE_SHIM_AUTH_ENTRY, returning a static description. The
 * server checks abi_version and struct_size before using anything else, so a plug-in built
 * against another version of this header is refused at start-up with a message instead of
 * crashing. Plug-ins are chained exactly like the original Commissaire's: in configuration order,
 * the first that accepts lets the request through; if none accepts the answer is 403.
 *
 * Threading: authenticate() is called from the server's worker threads, possibly several at
 * once, so it must be thread-safe; it may block (network, hashing) since it never runs on the
 * event loop. create() and destroy() run once, on the main thread.
 *
 * Secrets: the request gives access to raw headers (passwords, tokens). A plug-in must never
 * log them; the server never logs what plug-ins return. */
#ifndef COMMISSAIRE_SHIM_AUTH_PLUGIN_H
#define COMMISSAIRE_SHIM_AUTH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change; the server accepts only plug-ins of its version. */
#define COMMISSAIRE_SHIM_AUTH_ABI_VERSION 1u
/* The symbol every plug-in exports: a commissaire_shim_auth_entry_fn. */
#define COMMISSAIRE_SHIM_AUTH_ENTRY "commissaire_shim_auth_plugin_v1"

/* What authenticate() returns. Any other value (e.g. a negative errno for an internal error)
 * counts as DENY and the server logs that the plug-in failed (never the credentials). */
enum commissaire_shim_auth_result {
    COMMISSAIRE_SHIM_AUTH_DENY = 0,   /* not accepted; the next plug-in is asked */
    COMMISSAIRE_SHIM_AUTH_ACCEPT = 1, /* accepted; the request goes through */
};

/* One key=value option from the command line (MODULE:key=value,...) or from the plug-in's
 * object in the config file. Values are strings; a non-string value from the config file is
 * passed as its compact JSON text. */
struct commissaire_shim_auth_option {
    const char *key;
    const char *value;
};

/* The request, as seen by a plug-in. Valid only during the authenticate() call; copy what must
 * outlive it. */
struct commissaire_shim_auth_request {
    uint32_t abi_version; /* COMMISSAIRE_SHIM_AUTH_ABI_VERSION of the server */
    uint32_t struct_size; /* sizeof(struct commissaire_shim_auth_request) of the server */
    const char *method;   /* "GET", "PUT", ... */
    const char *path;     /* percent-decoded path, no query string */
    const char *peer_address; /* client IP (after trusted X-Forwarded-For handling) */
    /* TLS client certificate, verified against --tls-clientverifyfile: its subject commonName,
     * or NULL when there is no verified certificate. */
    const char *client_cert_cn;
    /* The value of a request header (name case-insensitive), or NULL when absent. Headers
     * beyond the common ones (Authorization, X-Auth-Token, X-Forwarded-For, User-Agent) are only
     * available if the plug-in lists them in commissaire_shim_auth_plugin.headers. */
    const char *(*header)(const struct commissaire_shim_auth_request *req, const char *name);
    const void *server_private; /* for header(); do not touch */
};

struct commissaire_shim_auth_plugin {
    uint32_t abi_version; /* must be COMMISSAIRE_SHIM_AUTH_ABI_VERSION */
    uint32_t struct_size; /* must be sizeof(struct commissaire_shim_auth_plugin) */
    const char *name;     /* for logs */
    /* NULL-terminated list of extra request header names the plug-in reads, or NULL. */
    const char *const *headers;
    /* Creates the plug-in's state from its options. Returns 0 and sets *ret_state, or a negative
     * errno and writes a one-line reason into err (size err_len). A start-up failure stops the
     * server. May be NULL (state is then NULL). */
    int (*create)(const struct commissaire_shim_auth_option *options, size_t n_options,
                  void **ret_state, char *err, size_t err_len);
    /* Decides on one request: COMMISSAIRE_SHIM_AUTH_ACCEPT or _DENY. Required. */
    int (*authenticate)(void *state, const struct commissaire_shim_auth_request *req);
    /* Frees the state. May be NULL. */
    void (*destroy)(void *state);
};

typedef const struct commissaire_shim_auth_plugin *(*commissaire_shim_auth_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
