/* A minimal external authentication plug-in for the tests, built as a shared object and loaded
 * by commissaire-shim with dlopen through the installed ABI header: it accepts a request whose
 * X-Test-Token header equals its "token" option. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commissaire/shim_auth_plugin.h"

struct state {
    char *token;
};

static int create(const struct commissaire_shim_auth_option *o, size_t n, void **ret, char *err,
                  size_t n_err) {
    struct state *s = calloc(1, sizeof *s);

    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(o[i].key, "token"))
            s->token = strdup(o[i].value);
    if (!s->token) {
        snprintf(err, n_err, "option token=... is required");
        free(s);
        return -EINVAL;
    }
    *ret = s;
    return 0;
}

static int authenticate(void *p, const struct commissaire_shim_auth_request *req) {
    struct state *s = p;
    const char *v = req->header(req, "X-Test-Token");

    return v && !strcmp(v, s->token) ? COMMISSAIRE_SHIM_AUTH_ACCEPT : COMMISSAIRE_SHIM_AUTH_DENY;
}

static void destroy(void *p) {
    struct state *s = p;

    if (s)
        free(s->token);
    free(s);
}

static const char *const headers[] = { "x-test-token", NULL };

static const struct commissaire_shim_auth_plugin plugin = {
    .abi_version = COMMISSAIRE_SHIM_AUTH_ABI_VERSION,
    .struct_size = sizeof(struct commissaire_shim_auth_plugin),
    .name = "test-token",
    .headers = headers,
    .create = create,
    .authenticate = authenticate,
    .destroy = destroy,
};

const struct commissaire_shim_auth_plugin *commissaire_shim_auth_plugin_v1(void);
const struct commissaire_shim_auth_plugin *commissaire_shim_auth_plugin_v1(void) {
    return &plugin;
}
