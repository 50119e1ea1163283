/* The chain is an array of entries, each either a built-in (a shim_auth_builtin vtable) or an
 * external shared object adapted to the same vtable shape, so the checking loop has one code
 * path and plug-in order is exactly configuration order (REF). */
#include "shim_auth.h"

#include "commissaire/shim_auth_plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REF_PREFIX "commissaire_http.authentication."

struct ext_state {
    void *dl;
    const struct commissaire_shim_auth_plugin *p;
    void *state;
};

struct entry {
    const struct shim_auth_builtin *vt; /* NULL for an external plug-in */
    struct ext_state *ext;
    void *state;
    char *name;
};

struct shim_auth {
    struct entry *e;
    size_t n;
    char **extra_headers; /* NULL-terminated */
    size_t n_extra_headers;
};

const char *shim_auth_req_header(const struct shim_auth_req *r, const char *name) {
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

const char *shim_auth_scheme(const char *authorization, const char *scheme) {
    size_t n = strlen(scheme);

    if (!authorization)
        return NULL;
    while (*authorization == ' ')
        authorization++;
    if (strncasecmp(authorization, scheme, n) != 0 || authorization[n] != ' ')
        return NULL;
    authorization += n;
    while (*authorization == ' ')
        authorization++;
    return authorization;
}

const char *shim_auth_opt_str(const json_t *options, const char *key, const char *def) {
    json_t *v = json_object_get(options, key);

    return json_is_string(v) ? json_string_value(v) : def;
}

static const char *ext_header_cb(const struct commissaire_shim_auth_request *req, const char *name) {
    return shim_auth_req_header(req->server_private, name);
}

static int ext_check(struct ext_state *x, const struct shim_auth_req *r) {
    struct commissaire_shim_auth_request q = {
        .abi_version = COMMISSAIRE_SHIM_AUTH_ABI_VERSION,
        .struct_size = sizeof q,
        .method = r->method,
        .path = r->path,
        .peer_address = r->peer,
        .client_cert_cn = r->cert_cn,
        .header = ext_header_cb,
        .server_private = r,
    };

    return x->p->authenticate(x->state, &q) == COMMISSAIRE_SHIM_AUTH_ACCEPT;
}

static int add_extra_header(struct shim_auth *a, const char *h) {
    char **nv;

    for (size_t i = 0; i < a->n_extra_headers; i++)
        if (strcasecmp(a->extra_headers[i], h) == 0)
            return 0;
    nv = realloc(a->extra_headers, (a->n_extra_headers + 2) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    a->extra_headers = nv;
    if (!(nv[a->n_extra_headers] = strdup(h)))
        return -ENOMEM;
    for (char *p = nv[a->n_extra_headers]; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    a->n_extra_headers++;
    nv[a->n_extra_headers] = NULL;
    return 0;
}

/* Options as key/value strings for the ABI: non-strings become their JSON text. */
static int ext_open(struct shim_auth *a, const char *path, const json_t *options,
                    struct ext_state **ret, char *err, size_t n_err) {
    struct ext_state *x = calloc(1, sizeof *x);
    struct commissaire_shim_auth_option *opts = NULL;
    char **texts = NULL;
    commissaire_shim_auth_entry_fn entry;
    size_t n = json_object_size(options), i = 0;
    const char *k;
    json_t *v;
    int rc = -ENOMEM;

    if (!x)
        goto out;
    x->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!x->dl) {
        snprintf(err, n_err, "cannot load authentication plug-in %s: %s", path, dlerror());
        rc = -ENOENT;
        goto out;
    }
    *(void **)&entry = dlsym(x->dl, COMMISSAIRE_SHIM_AUTH_ENTRY);
    if (!entry || !(x->p = entry())) {
        snprintf(err, n_err, "%s does not export %s", path, COMMISSAIRE_SHIM_AUTH_ENTRY);
        rc = -EINVAL;
        goto out;
    }
    if (x->p->abi_version != COMMISSAIRE_SHIM_AUTH_ABI_VERSION ||
        x->p->struct_size != sizeof *x->p || !x->p->authenticate) {
        snprintf(err, n_err, "%s: plug-in ABI version %u (size %u) is not the server's %u", path,
                 (unsigned)x->p->abi_version, (unsigned)x->p->struct_size,
                 (unsigned)COMMISSAIRE_SHIM_AUTH_ABI_VERSION);
        rc = -EPROTO;
        goto out;
    }
    opts = calloc(n + 1, sizeof *opts);
    texts = calloc(n + 1, sizeof *texts);
    if (!opts || !texts)
        goto out;
    json_object_foreach((json_t *)options, k, v) {
        opts[i].key = k;
        if (json_is_string(v))
            opts[i].value = json_string_value(v);
        else {
            if (!(texts[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
                goto out;
            opts[i].value = texts[i];
        }
        i++;
    }
    if (x->p->create) {
        char perr[256] = "";

        rc = x->p->create(opts, n, &x->state, perr, sizeof perr);
        if (rc < 0) {
            snprintf(err, n_err, "%s: %s", path, perr[0] ? perr : "plug-in start-up failed");
            goto out;
        }
    }
    for (const char *const *h = x->p->headers; h && *h; h++)
        if ((rc = add_extra_header(a, *h)) < 0)
            goto out;
    *ret = x;
    x = NULL;
    rc = 0;
out:
    if (texts)
        for (i = 0; i < n; i++)
            free(texts[i]);
    free(texts);
    free(opts);
    if (x) {
        if (x->dl)
            dlclose(x->dl);
        free(x);
    }
    return rc;
}

static const struct shim_auth_builtin *find_builtin(const char *name,
                                                    const struct shim_auth_builtin *extra,
                                                    size_t n_extra) {
    static const struct shim_auth_builtin *const core[] = { &shim_auth_httpbasicauth,
                                                             &shim_auth_httpauthclientcert };

    if (strncmp(name, REF_PREFIX, strlen(REF_PREFIX)) == 0)
        name += strlen(REF_PREFIX);
    for (size_t i = 0; i < sizeof core / sizeof core[0]; i++)
        if (strcmp(core[i]->name, name) == 0)
            return core[i];
    for (size_t i = 0; i < n_extra; i++)
        if (strcmp(extra[i].name, name) == 0)
            return &extra[i];
    return NULL;
}

static int is_path(const char *m) {
    size_t n = strlen(m);

    return strchr(m, '/') || (n > 3 && strcmp(m + n - 3, ".so") == 0) || strstr(m, ".so.");
}

int shim_auth_new(const struct shim_auth_spec *specs, size_t n, const struct shim_auth_builtin *extra,
                  size_t n_extra, void *host_ctx, struct shim_auth **ret, char *err, size_t n_err,
                  char *warn, size_t n_warn) {
    struct shim_auth *a = calloc(1, sizeof *a);
    int rc = -ENOMEM;

    if (warn && n_warn)
        warn[0] = 0;
    if (!a)
        goto out;
    a->e = calloc(n + 1, sizeof *a->e);
    a->extra_headers = calloc(1, sizeof *a->extra_headers);
    if (!a->e || !a->extra_headers)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct entry *e = &a->e[i];
        const char *m = specs[i].module;
        json_t *opts = specs[i].options;
        json_t *empty = NULL;

        if (!opts)
            opts = empty = json_object();
        if (!(e->name = strdup(m))) {
            json_decref(empty);
            goto out;
        }
        a->n++;
        if (is_path(m)) {
            rc = ext_open(a, m, opts, &e->ext, err, n_err);
        } else if ((e->vt = find_builtin(m, extra, n_extra))) {
            char perr[512] = "";

            rc = e->vt->create(opts, host_ctx, &e->state, perr, sizeof perr);
            if (rc < 0)
                snprintf(err, n_err, "authentication plug-in %s: %s", m, perr);
            else if (perr[0] && warn && n_warn) {
                size_t used = strlen(warn);

                snprintf(warn + used, n_warn - used, "%s%s: %s", used ? "; " : "", m, perr);
            }
        } else {
            snprintf(err, n_err, "unknown authentication plug-in '%s' (built-ins: httpbasicauth, "
                                 "httpauthclientcert%s; or a path to a .so)",
                     m, n_extra ? ", kubernetes" : "");
            rc = -ENOENT;
        }
        json_decref(empty);
        if (rc < 0)
            goto out;
    }
    *ret = a;
    a = NULL;
    rc = 0;
out:
    if (rc == -ENOMEM && err && n_err)
        snprintf(err, n_err, "out of memory");
    shim_auth_free(a);
    return rc;
}

void shim_auth_free(struct shim_auth *a) {
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        struct entry *e = &a->e[i];

        if (e->vt && e->vt->destroy)
            e->vt->destroy(e->state);
        if (e->ext) {
            if (e->ext->p->destroy)
                e->ext->p->destroy(e->ext->state);
            dlclose(e->ext->dl);
            free(e->ext);
        }
        free(e->name);
    }
    free(a->e);
    for (size_t i = 0; i < a->n_extra_headers; i++)
        free(a->extra_headers[i]);
    free(a->extra_headers);
    free(a);
}

enum shim_auth_verdict shim_auth_check_fast(struct shim_auth *a, const struct shim_auth_req *r) {
    int pending = 0;

    /* Order matters: an earlier plug-in that must block means we cannot know whether a later
     * one's accept is the one REF would pick, but since the first accept wins and accepting is
     * all that matters (no per-plug-in identity), any accept is the same outcome. */
    for (size_t i = 0; i < a->n; i++) {
        int v;

        if (a->e[i].ext) {
            pending = 1;
            continue;
        }
        v = a->e[i].vt->check(a->e[i].state, r, 1);
        if (v == 1)
            return SHIM_AUTH_ACCEPT;
        if (v == -EAGAIN)
            pending = 1;
    }
    return pending ? SHIM_AUTH_NEEDS_WORKER : SHIM_AUTH_DENY;
}

enum shim_auth_verdict shim_auth_check(struct shim_auth *a, const struct shim_auth_req *r) {
    for (size_t i = 0; i < a->n; i++) {
        int v = a->e[i].ext ? ext_check(a->e[i].ext, r) : a->e[i].vt->check(a->e[i].state, r, 0);

        if (v == 1)
            return SHIM_AUTH_ACCEPT;
    }
    return SHIM_AUTH_DENY;
}

const char *const *shim_auth_extra_headers(const struct shim_auth *a) {
    return (const char *const *)a->extra_headers;
}

size_t shim_auth_count(const struct shim_auth *a) {
    return a ? a->n : 0;
}
