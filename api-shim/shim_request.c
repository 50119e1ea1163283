/* Request decoding follows REF's rules field by field (spec §3.1: strings only accept strings,
 * ints accept integers and booleans, floats are rejected) and then applies the decisions that
 * tighten REF (non-object bodies, URL/body name mismatch, missing or bogus keys → 400). */
#include "shim_request.h"

#include <errno.h>
#include <libssh/libssh.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_b64.h"

void shim_err_set(struct shim_err *e, int status, const char *fmt, ...) {
    va_list ap;

    if (!e)
        return;
    e->status = status;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

const char *shim_http_reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

int shim_body_parse(const char *body, size_t n, json_t **ret, struct shim_err *err) {
    json_error_t jerr;
    json_t *v;

    if (n > SHIM_BODY_MAX) {
        shim_err_set(err, 413, "request body larger than %d bytes", SHIM_BODY_MAX);
        return -EINVAL;
    }
    if (!body || n == 0) {
        *ret = json_object();
        return *ret ? 0 : -ENOMEM;
    }
    v = json_loadb(body, n, JSON_DECODE_ANY, &jerr);
    if (!v) {
        shim_err_set(err, 400, "request body is not valid JSON: %s (line %d, column %d)", jerr.text,
                     jerr.line, jerr.column);
        return -EINVAL;
    }
    if (!json_is_object(v)) {
        shim_err_set(err, 400, "request body must be a JSON object");
        json_decref(v);
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

static int char_name(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

int shim_name_valid(const char *s) {
    size_t n;

    if (!s || !*s)
        return 0;
    for (n = 0; s[n]; n++)
        if (!char_name((unsigned char)s[n]) || n >= SHIM_NAME_MAX)
            return 0;
    return 1;
}

int shim_address_valid(const char *s) {
    size_t n;

    if (!s || !*s)
        return 0;
    for (n = 0; s[n]; n++)
        if ((!char_name((unsigned char)s[n]) && s[n] != '.' && s[n] != ':') || n >= SHIM_NAME_MAX)
            return 0;
    return 1;
}

int shim_base64_decode(const char *s, unsigned char **ret, size_t *ret_len) {
    char *out = NULL;
    int r = cm_b64_decode(s, 0, &out, ret_len);

    if (r == 0)
        *ret = (unsigned char *)out;
    return r;
}

char *shim_base64_encode(const unsigned char *p, size_t n) {
    char *out = NULL;

    return cm_b64_encode(p, n, &out) == 0 ? out : NULL;
}

/* Optional string member: absent → def (may be NULL); present but not a string → 400. */
static int get_opt_str(const json_t *body, const char *key, const char *def, char **ret,
                       struct shim_err *err) {
    json_t *v = json_object_get(body, key);

    if (!v) {
        *ret = def ? strdup(def) : NULL;
        return def && !*ret ? -ENOMEM : 0;
    }
    if (!json_is_string(v)) {
        shim_err_set(err, 400, "'%s' must be a string", key);
        return -EINVAL;
    }
    *ret = strdup(json_string_value(v));
    return *ret ? 0 : -ENOMEM;
}

/* REF's int fields are Python ints: JSON integers and booleans pass, floats and others fail. */
static int check_opt_int(const json_t *body, const char *key, struct shim_err *err) {
    json_t *v = json_object_get(body, key);

    if (v && !json_is_integer(v) && !json_is_boolean(v)) {
        shim_err_set(err, 400, "'%s' must be an integer", key);
        return -EINVAL;
    }
    return 0;
}

static int check_opt_str(const json_t *body, const char *key, struct shim_err *err) {
    json_t *v = json_object_get(body, key);

    if (v && !json_is_string(v)) {
        shim_err_set(err, 400, "'%s' must be a string", key);
        return -EINVAL;
    }
    return 0;
}

/* Python truthiness, for REF's "a falsy cluster means no cluster". */
static int json_truthy(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE: return 0;
    case JSON_TRUE: return 1;
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT: return json_object_size(v) > 0;
    }
    return 0;
}

static int remote_user_valid(const char *u) {
    size_t n = strlen(u);

    if (n == 0 || n > 32 || u[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];

        if (!char_name(c) && c != '.')
            return 0;
    }
    return 1;
}

/* The key must be something the controller can log in with: libssh parses it (unencrypted
 * PEM or OpenSSH format). Keeping this check here turns "stored, fails much later" into a 400. */
static int private_key_valid(const unsigned char *key, size_t n) {
    ssh_key k = NULL;
    int r;

    if (n == 0 || memchr(key, 0, n) || !strstr((const char *)key, "PRIVATE KEY"))
        return 0;
    r = ssh_pki_import_privkey_base64((const char *)key, NULL, NULL, NULL, &k);
    ssh_key_free(k);
    return r == SSH_OK;
}

void shim_host_req_done(struct shim_host_req *r) {
    if (!r)
        return;
    free(r->address);
    free(r->ssh_priv_key);
    if (r->key) {
        /* A private key: do not leave it in freed heap memory. */
        memset(r->key, 0, r->key_len);
        free(r->key);
    }
    free(r->remote_user);
    free(r->cluster);
    free(r->source);
    memset(r, 0, sizeof *r);
}

int shim_host_req_decode(const json_t *body, const char *url_address, const char *peer,
                         struct shim_host_req *ret, struct shim_err *err) {
    struct shim_host_req r = { 0 };
    json_t *v;
    int rc;

    /* Address: body, else URL, else the peer (decisions 2); body != URL → 400 (decisions 33). */
    v = json_object_get(body, "address");
    if (v && !json_is_string(v)) {
        shim_err_set(err, 400, "'address' must be a string");
        rc = -EINVAL;
        goto out;
    }
    if (v && url_address && strcmp(json_string_value(v), url_address) != 0) {
        shim_err_set(err, 400, "'address' in the body differs from the address in the URL");
        rc = -EINVAL;
        goto out;
    }
    if (v)
        r.address = strdup(json_string_value(v));
    else if (url_address)
        r.address = strdup(url_address);
    else if (peer && *peer)
        r.address = strdup(peer);
    else {
        shim_err_set(err, 400, "no address given and the client address is unknown");
        rc = -EINVAL;
        goto out;
    }
    if (!r.address) {
        rc = -ENOMEM;
        goto out;
    }
    if (!shim_address_valid(r.address)) {
        shim_err_set(err, 400, "'address' must match [a-zA-Z0-9-_.:]+ (at most %d characters)",
                     SHIM_NAME_MAX);
        rc = -EINVAL;
        goto out;
    }

    /* Every Host field's type, as REF validates the record it would store. */
    if ((rc = check_opt_str(body, "status", err)) < 0 || (rc = check_opt_str(body, "os", err)) < 0 ||
        (rc = check_opt_str(body, "last_check", err)) < 0 ||
        (rc = check_opt_int(body, "cpus", err)) < 0 || (rc = check_opt_int(body, "memory", err)) < 0 ||
        (rc = check_opt_int(body, "space", err)) < 0)
        goto out;
    if ((rc = get_opt_str(body, "source", "", &r.source, err)) < 0)
        goto out;
    if ((rc = get_opt_str(body, "remote_user", "root", &r.remote_user, err)) < 0)
        goto out;
    if (!remote_user_valid(r.remote_user)) {
        shim_err_set(err, 400, "'remote_user' is not a valid user name");
        rc = -EINVAL;
        goto out;
    }

    v = json_object_get(body, "cluster");
    if (v && json_truthy(v)) {
        if (!json_is_string(v) || !shim_name_valid(json_string_value(v))) {
            shim_err_set(err, 400, "'cluster' must be a cluster name");
            rc = -EINVAL;
            goto out;
        }
        if (!(r.cluster = strdup(json_string_value(v)))) {
            rc = -ENOMEM;
            goto out;
        }
    }

    /* The key: required, base64 of a private key (decisions). Never echoed in messages. */
    v = json_object_get(body, "ssh_priv_key");
    if (!v || !json_is_string(v) || json_string_length(v) == 0) {
        shim_err_set(err, 400, "'ssh_priv_key' (base64 of the SSH private key) is required");
        rc = -EINVAL;
        goto out;
    }
    if (shim_base64_decode(json_string_value(v), &r.key, &r.key_len) < 0) {
        shim_err_set(err, 400, "'ssh_priv_key' is not valid base64");
        rc = -EINVAL;
        goto out;
    }
    if (!private_key_valid(r.key, r.key_len)) {
        shim_err_set(err, 400, "'ssh_priv_key' does not hold an unencrypted SSH private key");
        rc = -EINVAL;
        goto out;
    }
    if (!(r.ssh_priv_key = shim_base64_encode(r.key, r.key_len))) {
        rc = -ENOMEM;
        goto out;
    }
    *ret = r;
    memset(&r, 0, sizeof r);
    rc = 0;
out:
    if (rc == -ENOMEM)
        shim_err_set(err, 500, "out of memory");
    shim_host_req_done(&r);
    return rc;
}

void shim_strv_done(struct shim_strv *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

int shim_strv_contains(const struct shim_strv *s, const char *x) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return 1;
    return 0;
}

int shim_strv_add(struct shim_strv *s, const char *x) {
    char **nv;

    if (shim_strv_contains(s, x))
        return 0;
    nv = realloc(s->v, (s->n + 1) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    s->v = nv;
    if (!(s->v[s->n] = strdup(x)))
        return -ENOMEM;
    s->n++;
    return 0;
}

int shim_strv_set_equal(const struct shim_strv *a, const struct shim_strv *b) {
    /* Both are duplicate-free, so equal sizes plus inclusion is set equality. */
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!shim_strv_contains(b, a->v[i]))
            return 0;
    return 1;
}

/* An array of addresses into a duplicate-free list; anything else → 400. */
static int decode_addr_array(const json_t *v, const char *key, struct shim_strv *out,
                             struct shim_err *err) {
    size_t i;
    json_t *e;

    if (!v) {
        shim_err_set(err, 400, "'%s' is required", key);
        return -EINVAL;
    }
    if (!json_is_array(v)) {
        shim_err_set(err, 400, "'%s' must be an array of host addresses", key);
        return -EINVAL;
    }
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || !shim_address_valid(json_string_value(e))) {
            shim_err_set(err, 400, "'%s' must be an array of host addresses", key);
            return -EINVAL;
        }
        if (shim_strv_add(out, json_string_value(e)) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* A body name must name the object of the URL (decisions 33). */
static int check_body_name(const json_t *body, const char *key, const char *url_name,
                           struct shim_err *err) {
    json_t *v = json_object_get(body, key);

    if (!v)
        return 0;
    if (!json_is_string(v)) {
        shim_err_set(err, 400, "'%s' must be a string", key);
        return -EINVAL;
    }
    if (strcmp(json_string_value(v), url_name) != 0) {
        shim_err_set(err, 400, "'%s' in the body differs from the name in the URL", key);
        return -EINVAL;
    }
    return 0;
}

void shim_cluster_req_done(struct shim_cluster_req *r) {
    if (!r)
        return;
    free(r->name);
    free(r->network);
    free(r->container_manager);
    free(r->status);
    shim_strv_done(&r->hostset);
    memset(r, 0, sizeof *r);
}

int shim_cluster_req_decode(const json_t *body, const char *url_name, struct shim_cluster_req *ret,
                            struct shim_err *err) {
    struct shim_cluster_req r = { 0 };
    json_t *v;
    int rc;

    if ((rc = check_body_name(body, "name", url_name, err)) < 0)
        goto out;
    if (!(r.name = strdup(url_name))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = get_opt_str(body, "network", NULL, &r.network, err)) < 0 ||
        (rc = get_opt_str(body, "container_manager", NULL, &r.container_manager, err)) < 0 ||
        (rc = get_opt_str(body, "status", NULL, &r.status, err)) < 0)
        goto out;
    if (r.network && *r.network && !shim_name_valid(r.network)) {
        shim_err_set(err, 400, "'network' must be a network name");
        rc = -EINVAL;
        goto out;
    }
    if (r.container_manager && *r.container_manager && !shim_name_valid(r.container_manager)) {
        shim_err_set(err, 400, "'container_manager' must be a container manager name");
        rc = -EINVAL;
        goto out;
    }
    v = json_object_get(body, "hostset");
    if (v) {
        r.has_hostset = true;
        if ((rc = decode_addr_array(v, "hostset", &r.hostset, err)) < 0)
            goto out;
    }
    *ret = r;
    memset(&r, 0, sizeof r);
    rc = 0;
out:
    if (rc == -ENOMEM)
        shim_err_set(err, 500, "out of memory");
    shim_cluster_req_done(&r);
    return rc;
}

void shim_members_req_done(struct shim_members_req *r) {
    if (!r)
        return;
    shim_strv_done(&r->old_hosts);
    shim_strv_done(&r->new_hosts);
}

int shim_members_req_decode(const json_t *body, struct shim_members_req *ret,
                            struct shim_err *err) {
    struct shim_members_req r = { 0 };
    int rc;

    if ((rc = decode_addr_array(json_object_get(body, "old"), "old", &r.old_hosts, err)) < 0 ||
        (rc = decode_addr_array(json_object_get(body, "new"), "new", &r.new_hosts, err)) < 0) {
        if (rc == -ENOMEM)
            shim_err_set(err, 500, "out of memory");
        shim_members_req_done(&r);
        return rc;
    }
    *ret = r;
    return 0;
}

int shim_deploy_req_decode(const json_t *body, char **ret_version, struct shim_err *err) {
    json_t *v = json_object_get(body, "version");
    const char *s;

    if (!v || !json_is_string(v) || json_string_length(v) == 0) {
        shim_err_set(err, 400, "'version' (a non-empty string) is required");
        return -EINVAL;
    }
    s = json_string_value(v);
    /* The version ends up in `rpm-ostree deploy VERSION`: refuse anything but a plain token. */
    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr("'\"`$\\;&|<>(){}*?!#~", *p)) {
            shim_err_set(err, 400, "'version' contains characters that are not allowed");
            return -EINVAL;
        }
    if (!(*ret_version = strdup(s))) {
        shim_err_set(err, 500, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

void shim_named_req_done(struct shim_named_req *r) {
    if (!r)
        return;
    free(r->name);
    free(r->type);
    json_decref(r->options);
    memset(r, 0, sizeof *r);
}

static int named_decode(const json_t *body, const char *url_name, const char *def_type,
                        const char *const *types, struct shim_named_req *ret,
                        struct shim_err *err) {
    struct shim_named_req r = { 0 };
    json_t *v;
    int rc, ok = 0;

    if ((rc = check_body_name(body, "name", url_name, err)) < 0)
        goto out;
    if (!(r.name = strdup(url_name))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = get_opt_str(body, "type", def_type, &r.type, err)) < 0)
        goto out;
    for (size_t i = 0; types[i]; i++)
        ok |= strcmp(types[i], r.type) == 0;
    if (!ok) {
        shim_err_set(err, 400, "'type' must be one of the supported types");
        rc = -EINVAL;
        goto out;
    }
    v = json_object_get(body, "options");
    if (v && !json_is_object(v)) {
        shim_err_set(err, 400, "'options' must be an object");
        rc = -EINVAL;
        goto out;
    }
    r.options = v ? json_deep_copy(v) : json_object();
    if (!r.options) {
        rc = -ENOMEM;
        goto out;
    }
    *ret = r;
    memset(&r, 0, sizeof r);
    rc = 0;
out:
    if (rc == -ENOMEM)
        shim_err_set(err, 500, "out of memory");
    shim_named_req_done(&r);
    return rc;
}

int shim_network_req_decode(const json_t *body, const char *url_name, struct shim_named_req *ret,
                            struct shim_err *err) {
    static const char *const types[] = { "flannel_etcd", "flannel_server", NULL };

    return named_decode(body, url_name, "flannel_etcd", types, ret, err);
}

int shim_cm_req_decode(const json_t *body, const char *url_name, struct shim_named_req *ret,
                       struct shim_err *err) {
    static const char *const types[] = { "openshift", "kubernetes", "trivial", NULL };
    int rc = named_decode(body, url_name, "openshift", types, ret, err);
    json_t *v;

    if (rc < 0)
        return rc;
    /* The options the manager reads must have the types it needs (decisions 13). */
    v = json_object_get(ret->options, "server_url");
    if (v && !json_is_string(v))
        goto bad;
    v = json_object_get(ret->options, "token");
    if (v && !json_is_string(v))
        goto bad;
    v = json_object_get(ret->options, "insecure_skip_tls_verify");
    if (v && !json_is_boolean(v))
        goto bad;
    return 0;
bad:
    shim_err_set(err, 400, "container manager option has the wrong type");
    shim_named_req_done(ret);
    return -EINVAL;
}
