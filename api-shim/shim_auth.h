/* shim_auth: the authentication plug-in chain (spec §10.1).
 *
 * A chain is built once at start-up from the configured plug-ins (built-ins by name, external
 * ones by .so path through the installed ABI) and is then read-only, so it may be used from the
 * event loop and from every worker at once.
 *
 * Checking happens in two tiers because the event loop must never block: shim_auth_check_fast()
 * answers only when every plug-in can decide without blocking (a cached bcrypt verification, a
 * client certificate, a missing header); otherwise it says "needs a worker" and the request
 * moves to a worker thread which calls shim_auth_check(). */
#ifndef SHIM_AUTH_H
#define SHIM_AUTH_H

#include <jansson.h>
#include <stddef.h>

/* A snapshot of what plug-ins may look at, taken on the event loop; owned by the caller. */
struct shim_auth_header {
    const char *name; /* lower-case */
    const char *value;
};
struct shim_auth_req {
    const char *method;
    const char *path;
    const char *peer;
    const char *cert_cn; /* verified client certificate CN or NULL */
    const struct shim_auth_header *headers;
    size_t n_headers;
};
/* The value of header name (case-insensitive) or NULL. */
const char *shim_auth_req_header(const struct shim_auth_req *r, const char *name);

/* A built-in plug-in. check() returns 1 accept, 0 deny, or, when fast is set, -EAGAIN if it
 * cannot decide without blocking. host_ctx is handed through from shim_auth_new. */
struct shim_auth_builtin {
    const char *name;
    int (*create)(const json_t *options, void *host_ctx, void **ret_state, char *err, size_t n_err);
    int (*check)(void *state, const struct shim_auth_req *req, int fast);
    void (*destroy)(void *state);
};

/* The built-ins of shimcore. */
extern const struct shim_auth_builtin shim_auth_httpbasicauth;
extern const struct shim_auth_builtin shim_auth_httpauthclientcert;

/* One configured plug-in: module name and its options (an object; values usually strings). */
struct shim_auth_spec {
    char *module;
    json_t *options;
};

struct shim_auth;

/* Builds the chain. Module names: "httpbasicauth", "httpauthclientcert" and the names in
 * extra[] (optionally prefixed "commissaire_http.authentication."), or a path to a .so (contains
 * '/', ends in ".so" or has ".so."). n == 0 builds a deny-all chain (REF). On failure returns a negative
 * errno with a reason in err. Warnings that do not stop start-up (REF ignores an unreadable users
 * file) are appended to warn (may be NULL). */
int shim_auth_new(const struct shim_auth_spec *specs, size_t n, const struct shim_auth_builtin *extra,
                  size_t n_extra, void *host_ctx, struct shim_auth **ret, char *err, size_t n_err,
                  char *warn, size_t n_warn);
void shim_auth_free(struct shim_auth *a);

enum shim_auth_verdict {
    SHIM_AUTH_ACCEPT,      /* a plug-in accepted */
    SHIM_AUTH_DENY,        /* every plug-in denied */
    SHIM_AUTH_NEEDS_WORKER /* some plug-in must block to decide: call shim_auth_check on a worker */
};
/* Never blocks. Safe on the event loop. */
enum shim_auth_verdict shim_auth_check_fast(struct shim_auth *a, const struct shim_auth_req *r);
/* May block. Returns SHIM_AUTH_ACCEPT or SHIM_AUTH_DENY. */
enum shim_auth_verdict shim_auth_check(struct shim_auth *a, const struct shim_auth_req *r);
/* NULL-terminated list (owned by the chain) of extra header names external plug-ins asked for. */
const char *const *shim_auth_extra_headers(const struct shim_auth *a);
size_t shim_auth_count(const struct shim_auth *a);

/* Helpers shared by plug-ins. */
/* Finds "scheme" (case-insensitive) at the start of an Authorization value and returns a pointer
 * to its credentials (after spaces), or NULL. */
const char *shim_auth_scheme(const char *authorization, const char *scheme);
/* A string option: the value when it is a string, else def. */
const char *shim_auth_opt_str(const json_t *options, const char *key, const char *def);

#endif
