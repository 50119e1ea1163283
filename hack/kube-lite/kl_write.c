/* kl_write: the write side of the API (create, update, patch, delete, eviction, reviews) with
 * the real server's rules: object metadata (uid, creationTimestamp, generation,
 * resourceVersion), optimistic concurrency, the status subresource, finalizers, custom resource
 * pruning/defaulting/validation, and kind-specific admission.
 *
 * Every write runs under the store's write lock from reading the current object to storing the
 * new one, so checks and the write are atomic; fsync and the answer happen after unlocking. */
#include "kl_rbac.h"
#include "kl_req.h"

#include "cm_buf.h"
#include "cm_json.h"
#include "kl_auth.h"
#include "kl_http.h"
#include "kl_patch.h"
#include "kl_pdb.h"
#include "kl_proto.h"
#include "kl_schema.h"
#include "kl_selector.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- validation helpers ---------------------------------------------------------------------- */

static int is_alnum_lower(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_dns_label(const char *s, size_t n) {
    if (n == 0 || n > 63 || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum_lower(s[i]) && s[i] != '-')
            return 0;
    return 1;
}

static int is_dns_subdomain(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return 0;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!is_dns_label(p, len) && !(len > 63 && 0))
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] up to max */
static int is_qualified_part(const char *s, size_t n, size_t max) {
    if (n == 0 || n > max || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

static const char MSG_SUBDOMAIN[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char MSG_LABEL[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
static const char MSG_QNAME[] =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
static const char MSG_LVALUE[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/* Go's %q for the common case of printable ASCII (names and label values). */
static char *goq(const char *s) {
    struct cm_buf b;
    cm_buf_init(&b, 0);
    cm_buf_puts(&b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            cm_buf_printf(&b, "\\%c", *p);
        else if (*p == '\n')
            cm_buf_puts(&b, "\\n");
        else if (*p == '\t')
            cm_buf_puts(&b, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            cm_buf_printf(&b, "\\x%02x", *p);
        else
            cm_buf_append(&b, p, 1);
    }
    cm_buf_puts(&b, "\"");
    return cm_buf_steal(&b);
}

static void check_qualified_name(json_t *causes, const char *field, const char *key) {
    const char *slash = strchr(key, '/');
    char *q = goq(key);
    if (slash) {
        size_t pl = (size_t)(slash - key);
        char *prefix = strndup(key, pl);
        if (prefix && (pl == 0 || !is_dns_subdomain(prefix)))
            kl_cause_add(causes, "FieldValueInvalid", field, "Invalid value: %s: prefix part %s", q,
                      MSG_SUBDOMAIN);
        free(prefix);
        if (!is_qualified_part(slash + 1, strlen(slash + 1), 63))
            kl_cause_add(causes, "FieldValueInvalid", field, "Invalid value: %s: %s", q,
                      strlen(slash + 1) > 63 ? "name part must be no more than 63 characters"
                                             : MSG_QNAME);
    } else if (!is_qualified_part(key, strlen(key), 63)) {
        kl_cause_add(causes, "FieldValueInvalid", field, "Invalid value: %s: %s", q,
                  strlen(key) > 63 ? "name part must be no more than 63 characters" : MSG_QNAME);
    }
    free(q);
}

/* Which name rule a kind uses. */
enum name_rule { NAME_SUBDOMAIN, NAME_LABEL, NAME_PATH };

static enum name_rule name_rule_of(const struct kl_rtype *rt) {
    if (rt->flag == KL_KIND_NAMESPACE || (strcmp(rt->resource, "services") == 0 && !rt->group[0]))
        return NAME_LABEL;
    if (strcmp(rt->group, "rbac.authorization.k8s.io") == 0)
        return NAME_PATH;
    return NAME_SUBDOMAIN;
}

static void validate_meta(const struct kl_rtype *rt, json_t *meta, json_t *causes) {
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (name && *name) {
        char *q = goq(name);
        switch (name_rule_of(rt)) {
        case NAME_LABEL:
            if (!is_dns_label(name, strlen(name)))
                kl_cause_add(causes, "FieldValueInvalid", "metadata.name", "Invalid value: %s: %s", q,
                          strlen(name) > 63 ? "must be no more than 63 characters" : MSG_LABEL);
            break;
        case NAME_SUBDOMAIN:
            if (!is_dns_subdomain(name))
                kl_cause_add(causes, "FieldValueInvalid", "metadata.name", "Invalid value: %s: %s", q,
                          strlen(name) > 253 ? "must be no more than 253 characters"
                                             : MSG_SUBDOMAIN);
            break;
        case NAME_PATH:
            if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                kl_cause_add(causes, "FieldValueInvalid", "metadata.name",
                          "Invalid value: %s: may not be '%s'", q, name);
            else if (strchr(name, '/') || strchr(name, '%'))
                kl_cause_add(causes, "FieldValueInvalid", "metadata.name",
                          "Invalid value: %s: may not contain '%s'", q, strchr(name, '/') ? "/" : "%");
            break;
        }
        free(q);
    }
    json_t *labels = json_object_get(meta, "labels");
    if (labels && !json_is_object(labels) && !json_is_null(labels)) {
        kl_cause_add(causes, "FieldValueTypeInvalid", "metadata.labels",
                  "Invalid value: \"labels\": must be an object");
    }
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v) {
        check_qualified_name(causes, "metadata.labels", k);
        const char *val = json_string_value(v);
        if (!val) {
            kl_cause_add(causes, "FieldValueTypeInvalid", "metadata.labels", "Invalid value: %s: must be a string", "null");
            continue;
        }
        size_t vl = strlen(val);
        if (vl > 0 && !is_qualified_part(val, vl, 63)) {
            char *q = goq(val);
            kl_cause_add(causes, "FieldValueInvalid", "metadata.labels", "Invalid value: %s: %s", q,
                      vl > 63 ? "must be no more than 63 characters" : MSG_LVALUE);
            free(q);
        }
    }
    json_t *ann = json_object_get(meta, "annotations");
    size_t total = 0;
    json_object_foreach(ann, k, v) {
        check_qualified_name(causes, "metadata.annotations", k);
        total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
    }
    if (total > 256 * 1024)
        kl_cause_add(causes, "FieldValueTooLong", "metadata.annotations",
                  "Too long: may not be more than 262144 bytes");
}

/* ---- object helpers -------------------------------------------------------------------------- */

static json_t *meta_of(json_t *doc) {
    json_t *m = json_object_get(doc, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(doc, "metadata", m);
    }
    return m;
}

static void copy_key(json_t *dst, const json_t *src, const char *key) {
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set(dst, key, v);
    else
        json_object_del(dst, key);
}

/* 1 when a and b differ outside metadata (and outside status when skip_status). */
static int spec_changed(const json_t *a, const json_t *b, int skip_status) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v) {
        if (strcmp(k, "metadata") == 0 || (skip_status && strcmp(k, "status") == 0))
            continue;
        if (!json_equal(v, json_object_get(b, k)))
            return 1;
    }
    json_object_foreach((json_t *)b, k, v) {
        if (strcmp(k, "metadata") == 0 || (skip_status && strcmp(k, "status") == 0))
            continue;
        if (!json_object_get(a, k))
            return 1;
    }
    return 0;
}

static int has_status_sub(const struct kl_rq *rq) {
    return rq->ver && rq->ver->status_sub;
}

static int random_suffix(char *out, size_t n) {
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char b[8];
    if (n < 6 || RAND_bytes(b, 5) != 1)
        return -EIO;
    for (int i = 0; i < 5; i++)
        out[i] = alphabet[b[i] % (sizeof(alphabet) - 1)];
    out[5] = 0;
    return 0;
}

static json_t *read_body(struct kl_rq *rq, struct kl_err *err, int allow_array) {
    const char *ct = kl_http_req_header(rq->req, "Content-Type");
    if (ct && strncasecmp(ct, "application/vnd.kubernetes.protobuf", 35) == 0) {
        json_t *doc = NULL;
        char *msg = NULL;
        int r = kl_proto_decode(rq->req->body, rq->req->body_len, &doc, &msg);
        if (r < 0) {
            kl_err_set(err, r == -EPROTONOSUPPORT ? 415 : 400,
                       r == -EPROTONOSUPPORT ? "UnsupportedMediaType" : "BadRequest", NULL, "%s",
                       msg ? msg : "cannot decode protobuf");
            free(msg);
            return NULL;
        }
        return doc;
    }
    if (ct && strncasecmp(ct, "application/json", 16) != 0 && strncasecmp(ct, "*/*", 3) != 0 &&
        !allow_array) {
        kl_err_set(err, 415, "UnsupportedMediaType", NULL,
                   "the body of the request was in an unknown format - accepted media types "
                   "include: application/json, application/yaml");
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(rq->req->body, rq->req->body_len, JSON_DECODE_INT_AS_REAL * 0, &je);
    if (!doc) {
        kl_err_set(err, 400, "BadRequest", NULL, "json: cannot unmarshal request body: %s", je.text);
        return NULL;
    }
    if (!json_is_object(doc) && !(allow_array && json_is_array(doc))) {
        json_decref(doc);
        kl_err_set(err, 400, "BadRequest", NULL,
                   "json: cannot unmarshal %s into Go value of type map[string]interface {}",
                   json_is_array(doc) ? "array" : "value");
        return NULL;
    }
    return doc;
}

/* Fills apiVersion/kind in when absent; refuses another kind or group/version. */
static int check_gvk(struct kl_rq *rq, json_t *doc, struct kl_err *err) {
    char av[300];
    kl_api_version_of(rq->rt->group, rq->ver->name, av, sizeof(av));
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const char *apiv = json_string_value(json_object_get(doc, "apiVersion"));
    if (kind && *kind && strcmp(kind, rq->rt->kind) != 0) {
        kl_err_set(err, 400, "BadRequest", NULL,
                   "the API version in the data (%s) does not match the expected API version (%s)"
                   " or the kind (%s) does not match the expected kind (%s)",
                   apiv ? apiv : "", av, kind, rq->rt->kind);
        return -EINVAL;
    }
    if (apiv && *apiv && strcmp(apiv, av) != 0) {
        kl_err_set(err, 400, "BadRequest", NULL,
                   "the API version in the data (%s) does not match the expected API version (%s)",
                   apiv, av);
        return -EINVAL;
    }
    json_object_set_new(doc, "apiVersion", json_string(av));
    json_object_set_new(doc, "kind", json_string(rq->rt->kind));
    return 0;
}

/* Stores the object under the storage version's apiVersion. */
static void to_storage_version(const struct kl_rtype *rt, json_t *doc) {
    char av[300];
    const struct kl_rversion *sv = kl_rtype_storage(rt);
    json_object_set_new(doc, "apiVersion", json_string(kl_api_version_of(rt->group, sv->name, av, sizeof(av))));
}

/* Lists the paths pruning removed (for fieldValidation=Strict/Warn). */
static void pruned_paths(const json_t *before, const json_t *after, const char *path, json_t *out) {
    if (json_is_object(before) && json_is_object(after)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)before, k, v) {
            char *p = NULL;
            if (asprintf(&p, "%s%s%s", path, *path ? "." : "", k) < 0)
                continue;
            json_t *av = json_object_get(after, k);
            if (!av)
                json_array_append_new(out, json_string(p));
            else
                pruned_paths(v, av, p, out);
            free(p);
        }
    } else if (json_is_array(before) && json_is_array(after)) {
        for (size_t i = 0; i < json_array_size(before) && i < json_array_size(after); i++) {
            char *p = NULL;
            if (asprintf(&p, "%s[%zu]", path, i) < 0)
                continue;
            pruned_paths(json_array_get(before, i), json_array_get(after, i), p, out);
            free(p);
        }
    }
}

/* Prunes, defaults and validates a custom resource, like the real server (in that order).
 * Returns 0 or -EINVAL with err set (422 invalid, or 400 for unknown fields when
 * fieldValidation=Strict). */
static int admit_custom(struct kl_rq *rq, json_t *doc, const char *name, struct kl_err *err) {
    const struct kl_rversion *v = rq->ver;
    if (!v || !v->schema)
        return 0;
    const char *fv = kl_http_req_param(rq->req, "fieldValidation");
    json_t *before = fv && (strcmp(fv, "Strict") == 0 || strcmp(fv, "Warn") == 0)
                         ? json_deep_copy(doc)
                         : NULL;
    kl_schema_prune(v->schema, doc);
    if (before) {
        json_t *paths = json_array();
        pruned_paths(before, doc, "", paths);
        json_decref(before);
        if (json_array_size(paths) > 0 && strcmp(fv, "Strict") == 0) {
            struct cm_buf b;
            cm_buf_init(&b, 0);
            /* the real wording: `Host in version "v1alpha1" cannot be handled as a Host:
             * strict decoding error: unknown field "spec.x", unknown field "spec.y"` */
            cm_buf_printf(&b, "%s in version \"%s\" cannot be handled as a %s: strict decoding error: ",
                          rq->rt->kind, v->name, rq->rt->kind);
            for (size_t i = 0; i < json_array_size(paths); i++)
                cm_buf_printf(&b, "%sunknown field \"%s\"", i ? ", " : "",
                              json_string_value(json_array_get(paths, i)));
            kl_err_set(err, 400, "BadRequest", NULL, "%s", b.data);
            cm_buf_done(&b);
            json_decref(paths);
            return -EINVAL;
        }
        json_decref(paths);
    }
    kl_schema_default(v->schema, doc);
    json_t *causes = json_array();
    if (kl_schema_validate(v->schema, doc, causes) < 0 || json_array_size(causes) > 0) {
        kl_err_invalid(err, rq->rt, name, causes);
        return -EINVAL;
    }
    json_decref(causes);
    return 0;
}

/* Decodes standard base64 strictly. Returns 0 or -EINVAL. */
static int b64_valid(const char *s) {
    size_t n = strlen(s);
    if (n % 4 != 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(isalnum((unsigned char)c) || c == '+' || c == '/' || (c == '=' && i >= n - 2)))
            return -EINVAL;
    }
    return 0;
}

static int config_key_ok(const char *k) {
    if (!*k || strlen(k) > 253)
        return 0;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return 0;
    return strcmp(k, ".") != 0 && strcmp(k, "..") != 0;
}

/* Secrets: stringData folds into data (base64), data must be base64, typed secrets need their
 * keys. ConfigMaps: key syntax. Immutable ones refuse data changes. */
static int admit_data(struct kl_rq *rq, json_t *doc, const json_t *old, const char *name,
                      struct kl_err *err) {
    int secret = !rq->rt->group[0] && strcmp(rq->rt->resource, "secrets") == 0;
    int cm = !rq->rt->group[0] && strcmp(rq->rt->resource, "configmaps") == 0;
    if (!secret && !cm)
        return 0;
    json_t *causes = json_array();
    const char *k;
    json_t *v;
    if (secret) {
        json_t *sd = json_object_get(doc, "stringData");
        if (json_is_object(sd)) {
            json_t *data = json_object_get(doc, "data");
            if (!json_is_object(data)) {
                data = json_object();
                json_object_set_new(doc, "data", data);
            }
            json_object_foreach(sd, k, v) {
                const char *s = json_string_value(v);
                if (!s)
                    continue;
                size_t n = strlen(s);
                unsigned char *enc = malloc(4 * ((n + 2) / 3) + 1);
                if (!enc)
                    continue;
                EVP_EncodeBlock(enc, (const unsigned char *)s, (int)n);
                json_object_set_new(data, k, json_string((char *)enc));
                free(enc);
            }
        }
        json_object_del(doc, "stringData");
        json_t *data = json_object_get(doc, "data");
        json_object_foreach(data, k, v) {
            char field[300];
            snprintf(field, sizeof(field), "data[%s]", k);
            if (!config_key_ok(k))
                kl_cause_add(causes, "FieldValueInvalid", field,
                          "Invalid value: \"%s\": a valid config key must consist of alphanumeric "
                          "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                          "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                          k);
            if (!json_is_string(v) || b64_valid(json_string_value(v)) < 0) {
                json_decref(causes);
                kl_err_set(err, 400, "BadRequest", NULL,
                           "Secret in version \"v1\" cannot be handled as a Secret: illegal "
                           "base64 data at input byte 0");
                return -EINVAL;
            }
        }
        const char *type = json_string_value(json_object_get(doc, "type"));
        if (!type || !*type) {
            type = "Opaque";
            json_object_set_new(doc, "type", json_string(type));
        }
        const char *need1 = NULL, *need2 = NULL;
        if (strcmp(type, "kubernetes.io/ssh-auth") == 0)
            need1 = "ssh-privatekey";
        else if (strcmp(type, "kubernetes.io/tls") == 0)
            need1 = "tls.crt", need2 = "tls.key";
        else if (strcmp(type, "kubernetes.io/dockerconfigjson") == 0)
            need1 = ".dockerconfigjson";
        if (need1 && !json_object_get(data, need1))
            kl_cause_add(causes, "FieldValueRequired", need1[0] == 's' ? "data[ssh-privatekey]" : (need2 ? "data[tls.crt]" : "data[.dockerconfigjson]"),
                      "Required value");
        if (need2 && !json_object_get(data, need2))
            kl_cause_add(causes, "FieldValueRequired", "data[tls.key]", "Required value");
        if (old) {
            const char *ot = json_string_value(json_object_get(old, "type"));
            if (ot && strcmp(ot, type) != 0)
                kl_cause_add(causes, "FieldValueInvalid", "type",
                          "Invalid value: \"%s\": field is immutable", type);
        }
    } else {
        json_object_foreach(json_object_get(doc, "data"), k, v) {
            if (!config_key_ok(k)) {
                char field[300];
                snprintf(field, sizeof(field), "data[%s]", k);
                kl_cause_add(causes, "FieldValueInvalid", field,
                          "Invalid value: \"%s\": a valid config key must consist of alphanumeric "
                          "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                          "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                          k);
            }
        }
    }
    if (old && json_is_true(json_object_get(old, "immutable"))) {
        if (!json_equal(json_object_get(old, "data"), json_object_get(doc, "data")) ||
            !json_equal(json_object_get(old, "binaryData"), json_object_get(doc, "binaryData")))
            kl_cause_add(causes, "FieldValueForbidden", "data",
                      "Forbidden: field is immutable when `immutable` is set");
        if (!json_is_true(json_object_get(doc, "immutable")))
            kl_cause_add(causes, "FieldValueForbidden", "immutable",
                      "Forbidden: field is immutable when `immutable` is set");
    }
    if (json_array_size(causes) > 0) {
        kl_err_invalid(err, rq->rt, name, causes);
        return -EINVAL;
    }
    json_decref(causes);
    return 0;
}

/* ---- namespace checks ------------------------------------------------------------------------ */

static int check_namespace(struct kl_rq *rq, const char *ns, const char *name, struct kl_err *err) {
    struct kl_rtype *nst = kl_store_find_type(&rq->srv->store, "", "namespaces");
    struct kl_obj *o = nst ? kl_store_get(nst, "", ns) : NULL;
    if (!o) {
        kl_err_not_found(err, nst, ns);
        return -ENOENT;
    }
    if (o->deleting) {
        char q[512];
        json_t *d = kl_err_details(rq->rt, name);
        json_object_set_new(d, "causes",
                            json_pack("[{s:s,s:s,s:s}]", "reason", "NamespaceTerminating",
                                      "message", "namespace is being terminated", "field",
                                      "metadata.namespace"));
        kl_err_set(err, 403, "Forbidden", d,
                   "%s \"%s\" is forbidden: unable to create new content in namespace %s because "
                   "it is being terminated",
                   kl_rtype_qualified(rq->rt, q, sizeof(q)), name, ns);
        return -EACCES;
    }
    return 0;
}

/* ---- create ---------------------------------------------------------------------------------- */

static void prepare_new_meta(struct kl_rq *rq, json_t *meta, const char *name) {
    char buf[64];
    json_object_set_new(meta, "name", json_string(name));
    json_object_set_new(meta, "uid", json_string(kl_uuid(buf, sizeof(buf))));
    json_object_set_new(meta, "creationTimestamp", json_string(kl_now(buf, sizeof(buf))));
    json_object_del(meta, "deletionTimestamp");
    json_object_del(meta, "deletionGracePeriodSeconds");
    json_object_del(meta, "selfLink");
    json_object_del(meta, "managedFields");
    if (rq->rt->has_generation || rq->rt->flag == KL_KIND_CUSTOM)
        json_object_set_new(meta, "generation", json_integer(1));
    else
        json_object_del(meta, "generation");
}

/* Kind-specific preparation on create. Returns 0 or -EINVAL with err. Caller holds the lock. */
static int prepare_create_kind(struct kl_rq *rq, json_t *doc, const char *name, struct kl_err *err) {
    switch (rq->rt->flag) {
    case KL_KIND_NAMESPACE: {
        json_t *meta = meta_of(doc);
        json_t *labels = json_object_get(meta, "labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(meta, "labels", labels);
        }
        json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
        json_object_set_new(doc, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
        json_object_set_new(doc, "status", json_pack("{s:s}", "phase", "Active"));
        return 0;
    }
    case KL_KIND_POD:
        json_object_set_new(doc, "status", json_pack("{s:s,s:s}", "phase", "Pending", "qosClass", "BestEffort"));
        return 0;
    case KL_KIND_NODE:
        return 0;
    case KL_KIND_CRD: {
        if (kl_crd_admit(rq->srv, doc, NULL, err) < 0)
            return -EINVAL;
        json_t *meta = meta_of(doc);
        json_t *fin = json_object_get(meta, "finalizers");
        if (!json_is_array(fin)) {
            fin = json_array();
            json_object_set_new(meta, "finalizers", fin);
        }
        json_array_append_new(fin, json_string("customresourcecleanup.apiextensions.k8s.io"));
        char now[64];
        kl_crd_set_status(doc, kl_now(now, sizeof(now)));
        return 0;
    }
    case KL_KIND_PDB:
        json_object_set_new(doc, "status",
                            json_pack("{s:i,s:i,s:i,s:i}", "disruptionsAllowed", 0,
                                      "currentHealthy", 0, "desiredHealthy", 0, "expectedPods", 0));
        return 0;
    case KL_KIND_CUSTOM:
        if (has_status_sub(rq))
            json_object_del(doc, "status");
        return admit_custom(rq, doc, name, err);
    default:
        if (has_status_sub(rq))
            json_object_del(doc, "status");
        return admit_data(rq, doc, NULL, name, err);
    }
}

void kl_write_create(struct kl_rq *rq) {
    struct kl_server *srv = rq->srv;
    struct kl_store *s = &srv->store;
    struct kl_err err = {0};
    struct kl_obj *o = NULL;
    json_t *doc = read_body(rq, &err, 0);
    char *name = NULL;
    int locked = 0;
    if (!doc || check_gvk(rq, doc, &err) < 0)
        goto fail;
    json_t *meta = json_object_get(doc, "metadata");
    if (meta && !json_is_object(meta)) {
        kl_err_set(&err, 400, "BadRequest", NULL, "metadata must be an object");
        goto fail;
    }
    meta = meta_of(doc);
    const char *bname = json_string_value(json_object_get(meta, "name"));
    const char *gen = json_string_value(json_object_get(meta, "generateName"));
    if (bname && *bname) {
        name = strdup(bname);
    } else if (gen && *gen) {
        char suf[8];
        random_suffix(suf, sizeof(suf));
        if (asprintf(&name, "%s%s", gen, suf) < 0)
            name = NULL;
    } else {
        kl_err_invalid(&err, rq->rt, "",
                       json_pack("[{s:s,s:s,s:s}]", "reason", "FieldValueRequired", "message",
                                 "Required value: name or generateName is required", "field",
                                 "metadata.name"));
        goto fail;
    }
    if (!name) {
        kl_err_set(&err, 500, "InternalError", NULL, "out of memory");
        goto fail;
    }
    const char *bns = json_string_value(json_object_get(meta, "namespace"));
    if (rq->rt->namespaced) {
        if (!rq->ns) {
            kl_err_set(&err, 404, "NotFound", json_object(),
                       "the server could not find the requested resource");
            goto fail;
        }
        if (bns && *bns && strcmp(bns, rq->ns) != 0) {
            kl_err_set(&err, 400, "BadRequest", NULL,
                       "the namespace of the provided object does not match the namespace sent "
                       "on the request");
            goto fail;
        }
        json_object_set_new(meta, "namespace", json_string(rq->ns));
    } else {
        json_object_del(meta, "namespace");
    }
    const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
    if (rv && *rv) {
        kl_err_set(&err, 500, "InternalError", NULL,
                   "Internal error occurred: resourceVersion should not be set on objects to be "
                   "created");
        goto fail;
    }
    prepare_new_meta(rq, meta, name);
    json_t *causes = json_array();
    validate_meta(rq->rt, meta, causes);
    if (json_array_size(causes) > 0) {
        kl_err_invalid(&err, rq->rt, name, causes);
        goto fail;
    }
    json_decref(causes);

    pthread_rwlock_wrlock(&s->lock);
    locked = 1;
    if (rq->rt->removed) {
        kl_err_set(&err, 404, "NotFound", json_object(), "the server could not find the requested resource");
        goto fail;
    }
    if (rq->rt->namespaced && check_namespace(rq, rq->ns, name, &err) < 0)
        goto fail;
    if (rq->rt->flag == KL_KIND_CUSTOM && rq->rt->crd_uid) {
        /* A terminating CRD accepts no new objects. */
        struct kl_rtype *crdt = kl_store_find_type(s, "apiextensions.k8s.io", "customresourcedefinitions");
        char crdname[600];
        snprintf(crdname, sizeof(crdname), "%s.%s", rq->rt->resource, rq->rt->group);
        struct kl_obj *co = crdt ? kl_store_get(crdt, "", crdname) : NULL;
        if (co && co->deleting) {
            kl_err_set(&err, 405, "MethodNotAllowed", json_object(),
                       "create not allowed while custom resource definition is terminating");
            goto fail;
        }
    }
    if (kl_store_get(rq->rt, rq->ns, name)) {
        kl_err_already_exists(&err, rq->rt, name);
        goto fail;
    }
    if (prepare_create_kind(rq, doc, name, &err) < 0)
        goto fail;
    to_storage_version(rq->rt, doc);
    if (rq->dry_run) {
        pthread_rwlock_unlock(&s->lock);
        locked = 0;
        json_object_set_new(meta_of(doc), "resourceVersion", json_string(""));
        json_object_del(meta_of(doc), "resourceVersion");
        kl_api_send_doc(rq, 201, doc);
        goto done;
    }
    int r = kl_store_put(s, rq->rt, doc, &o);
    if (r == 0 && rq->rt->flag == KL_KIND_CRD)
        kl_crd_install(srv, doc);
    pthread_rwlock_unlock(&s->lock);
    locked = 0;
    if (r < 0) {
        kl_err_set(&err, 500, "InternalError", NULL, "Internal error occurred: storage failed");
        goto fail;
    }
    kl_store_notify(s);
    if (kl_store_sync(s) < 0) {
        kl_err_set(&err, 500, "InternalError", NULL, "Internal error occurred: fsync failed");
        goto fail;
    }
    kl_api_send_obj(rq, 201, o);
    goto done;
fail:
    if (locked)
        pthread_rwlock_unlock(&s->lock);
    kl_send_err(rq->conn, &err);
done:
    kl_obj_unref(o);
    json_decref(doc);
    free(name);
    kl_err_done(&err);
}

/* ---- update ---------------------------------------------------------------------------------- */

/* Finalizer names in b that are not in a. */
static json_t *new_finalizers(const json_t *a, const json_t *b) {
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(b, i, v) {
        int found = 0;
        size_t j;
        json_t *w;
        json_array_foreach(a, j, w) {
            if (json_equal(v, w))
                found = 1;
        }
        if (!found)
            json_array_append(out, v);
    }
    return out;
}

static int finalizer_count(const json_t *doc) {
    json_t *f = cm_json_get(doc, "metadata.finalizers");
    return json_is_array(f) ? (int)json_array_size(f) : 0;
}

/* The common update path. doc (owned by the caller, changed in place) is the client's new
 * object; old is the current one parsed; status_only for the status subresource. On success
 * *ret_obj is the stored version (or the old one when nothing changed) and *ret_deleted tells
 * whether the update removed the object (last finalizer gone while deleting). Caller holds the
 * write lock. */
static int update_locked(struct kl_rq *rq, struct kl_obj *old_o, json_t *old, json_t **docp,
                         int status_only, struct kl_obj **ret_obj, int *ret_deleted,
                         struct kl_err *err) {
    struct kl_store *s = &rq->srv->store;
    struct kl_rtype *rt = rq->rt;
    json_t *doc = *docp;
    const char *name = old_o->name;
    *ret_deleted = 0;

    json_t *meta = json_object_get(doc, "metadata");
    if (meta && !json_is_object(meta)) {
        kl_err_set(err, 400, "BadRequest", NULL, "metadata must be an object");
        return -EINVAL;
    }
    meta = meta_of(doc);
    const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
    char oldrv[32];
    snprintf(oldrv, sizeof(oldrv), "%llu", (unsigned long long)old_o->rv);
    if (rv && *rv && strcmp(rv, oldrv) != 0) {
        kl_err_conflict(err, rt, name);
        return -ESTALE;
    }
    const char *bname = json_string_value(json_object_get(meta, "name"));
    if (bname && strcmp(bname, name) != 0) {
        kl_err_set(err, 400, "BadRequest", NULL,
                   "the name of the object (%s) does not match the name on the URL (%s)", bname, name);
        return -EINVAL;
    }
    if (rt->namespaced) {
        const char *bns = json_string_value(json_object_get(meta, "namespace"));
        if (bns && *bns && strcmp(bns, old_o->ns) != 0) {
            kl_err_set(err, 400, "BadRequest", NULL,
                       "the namespace of the provided object does not match the namespace sent "
                       "on the request");
            return -EINVAL;
        }
    }

    if (status_only) {
        /* Only status comes from the client (as the real status strategies do). */
        json_t *nd = json_deep_copy(old);
        json_t *st = json_object_get(doc, "status");
        if (st)
            json_object_set(nd, "status", st);
        else
            json_object_del(nd, "status");
        json_decref(doc);
        *docp = doc = nd;
        meta = meta_of(doc);
    } else {
        if (has_status_sub(rq))
            copy_key(doc, old, "status");
        json_t *om = json_object_get(old, "metadata");
        static const char *const keep[] = {"name", "namespace", "uid", "creationTimestamp",
                                           "deletionTimestamp", "deletionGracePeriodSeconds",
                                           "generation", NULL};
        for (size_t i = 0; keep[i]; i++)
            copy_key(meta, om, keep[i]);
        json_object_del(meta, "selfLink");
        json_object_del(meta, "managedFields");
        if (old_o->deleting) {
            json_t *added = new_finalizers(json_object_get(om, "finalizers"),
                                           json_object_get(meta, "finalizers"));
            if (json_array_size(added) > 0) {
                char *list = json_dumps(added, JSON_COMPACT);
                json_t *causes = json_array();
                kl_cause_add(causes, "FieldValueForbidden", "metadata.finalizers",
                          "Forbidden: no new finalizers can be added if the object is being "
                          "deleted, found new finalizers %s",
                          list ? list : "");
                free(list);
                json_decref(added);
                kl_err_invalid(err, rt, name, causes);
                return -EINVAL;
            }
            json_decref(added);
        }
        json_t *causes = json_array();
        validate_meta(rt, meta, causes);
        if (json_array_size(causes) > 0) {
            kl_err_invalid(err, rt, name, causes);
            return -EINVAL;
        }
        json_decref(causes);
    }

    /* Kind-specific rules. */
    switch (rt->flag) {
    case KL_KIND_NAMESPACE: {
        if (!status_only)
            copy_key(doc, old, "spec");
        json_t *labels = json_object_get(meta, "labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(meta, "labels", labels);
        }
        json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
        break;
    }
    case KL_KIND_CRD:
        if (!status_only && kl_crd_admit(rq->srv, doc, old, err) < 0)
            return -EINVAL;
        if (!status_only)
            copy_key(doc, old, "status");
        break;
    case KL_KIND_CUSTOM:
        if (admit_custom(rq, doc, name, err) < 0)
            return -EINVAL;
        break;
    default:
        if (!status_only && admit_data(rq, doc, old, name, err) < 0)
            return -EINVAL;
        break;
    }
    to_storage_version(rt, doc);

    /* generation: bumped when the spec (everything but metadata, and status when it is a
     * subresource) changes. */
    json_int_t g = json_integer_value(cm_json_get(old, "metadata.generation"));
    if (rt->has_generation || rt->flag == KL_KIND_CUSTOM) {
        if (spec_changed(old, doc, has_status_sub(rq) || rt->has_generation))
            g++;
        json_object_set_new(meta, "generation", json_integer(g ? g : 1));
    }

    /* Nothing changed: no write, no event, same resourceVersion (re-apply is a no-op). */
    json_object_set_new(meta, "resourceVersion", json_string(oldrv));
    if (json_equal(doc, old)) {
        *ret_obj = kl_obj_ref(old_o);
        return 0;
    }
    if (rq->dry_run) {
        *ret_obj = NULL;
        return 0;
    }
    if (old_o->deleting && finalizer_count(doc) == 0 && rt->flag != KL_KIND_NAMESPACE) {
        int r = kl_store_remove(s, rt, old_o->ns, name, doc, ret_obj);
        if (r == 0 && rt->flag == KL_KIND_CRD)
            kl_crd_uninstall(rq->srv, doc);
        *ret_deleted = 1;
        return r;
    }
    int r = kl_store_put(s, rt, doc, ret_obj);
    if (r == 0 && rt->flag == KL_KIND_CRD)
        kl_crd_install(rq->srv, doc);
    return r;
}

static void finish_write(struct kl_rq *rq, int code, struct kl_obj *o, json_t *dry_doc) {
    struct kl_store *s = &rq->srv->store;
    kl_store_notify(s);
    kl_gc_kick(rq->srv);
    if (kl_store_sync(s) < 0) {
        kl_send_status(rq->conn, 500, "InternalError", "Internal error occurred: fsync failed");
        return;
    }
    if (o)
        kl_api_send_obj(rq, code, o);
    else
        kl_api_send_doc(rq, code, dry_doc);
}

void kl_write_update(struct kl_rq *rq) {
    struct kl_store *s = &rq->srv->store;
    struct kl_err err = {0};
    struct kl_obj *o = NULL;
    json_t *old = NULL;
    json_t *doc = read_body(rq, &err, 0);
    if (!doc || check_gvk(rq, doc, &err) < 0) {
        kl_send_err(rq->conn, &err);
        goto out;
    }
    pthread_rwlock_wrlock(&s->lock);
    struct kl_obj *old_o = kl_store_get(rq->rt, rq->ns, rq->name);
    if (!old_o) {
        pthread_rwlock_unlock(&s->lock);
        kl_err_not_found(&err, rq->rt, rq->name);
        kl_send_err(rq->conn, &err);
        goto out;
    }
    old = kl_obj_parse(old_o);
    int deleted = 0;
    int r = old ? update_locked(rq, old_o, old, &doc, rq->sub && strcmp(rq->sub, "status") == 0,
                                &o, &deleted, &err)
                : -ENOMEM;
    pthread_rwlock_unlock(&s->lock);
    if (r < 0) {
        if (!err.code)
            kl_err_set(&err, 500, "InternalError", NULL, "Internal error occurred: storage failed");
        kl_send_err(rq->conn, &err);
        goto out;
    }
    finish_write(rq, 200, o, doc);
out:
    kl_obj_unref(o);
    json_decref(doc);
    json_decref(old);
    kl_err_done(&err);
}

/* ---- patch ----------------------------------------------------------------------------------- */

void kl_write_patch(struct kl_rq *rq) {
    struct kl_store *s = &rq->srv->store;
    struct kl_err err = {0};
    struct kl_obj *o = NULL;
    json_t *old = NULL, *target = NULL, *patch = NULL;
    char *perr = NULL;
    const char *ct = kl_http_req_header(rq->req, "Content-Type");
    enum { P_MERGE, P_JSON, P_SMP } type;
    if (ct && strncasecmp(ct, "application/merge-patch+json", 28) == 0)
        type = P_MERGE;
    else if (ct && strncasecmp(ct, "application/json-patch+json", 27) == 0)
        type = P_JSON;
    else if (ct && strncasecmp(ct, "application/strategic-merge-patch+json", 38) == 0)
        type = P_SMP;
    else {
        kl_err_set(&err, 415, "UnsupportedMediaType", NULL,
                   "the body of the request was in an unknown format - accepted media types "
                   "include: application/json-patch+json, application/merge-patch+json, "
                   "application/strategic-merge-patch+json");
        kl_send_err(rq->conn, &err);
        goto out;
    }
    if (type == P_SMP && !kl_patch_strategic_supported(rq->rt->group, rq->rt->kind)) {
        kl_err_set(&err, 415, "UnsupportedMediaType", NULL,
                   "the body of the request was in an unknown format - accepted media types "
                   "include: application/json-patch+json, application/merge-patch+json, "
                   "application/apply-patch+yaml");
        kl_send_err(rq->conn, &err);
        goto out;
    }
    json_error_t je;
    patch = json_loadb(rq->req->body, rq->req->body_len, 0, &je);
    if (!patch || (type == P_JSON ? !json_is_array(patch) : !json_is_object(patch))) {
        kl_err_set(&err, 400, "BadRequest", NULL, "error decoding patch: %s",
                   patch ? (type == P_JSON ? "json: cannot unmarshal object into Go value of type "
                                             "jsonpatch.Patch"
                                           : "json: cannot unmarshal into Go value of type "
                                             "map[string]interface {}")
                         : je.text);
        kl_send_err(rq->conn, &err);
        goto out;
    }
    pthread_rwlock_wrlock(&s->lock);
    struct kl_obj *old_o = kl_store_get(rq->rt, rq->ns, rq->name);
    if (!old_o) {
        pthread_rwlock_unlock(&s->lock);
        kl_err_not_found(&err, rq->rt, rq->name);
        kl_send_err(rq->conn, &err);
        goto out;
    }
    old = kl_obj_parse(old_o);
    target = old ? json_deep_copy(old) : NULL;
    if (target && !kl_rtype_version(rq->rt, rq->ver->name)->storage) {
        char av[300];
        json_object_set_new(target, "apiVersion",
                            json_string(kl_api_version_of(rq->rt->group, rq->ver->name, av, sizeof(av))));
    }
    int r = target ? 0 : -ENOMEM;
    if (r == 0) {
        if (type == P_MERGE)
            r = kl_patch_merge(&target, patch, &perr);
        else if (type == P_JSON)
            r = kl_patch_json(&target, patch, &perr);
        else
            r = kl_patch_strategic(&target, patch, rq->rt->group, rq->rt->kind, &perr);
        if (r < 0) {
            pthread_rwlock_unlock(&s->lock);
            if (type == P_JSON)
                kl_err_set(&err, 422, "Invalid", NULL, "%s", perr ? perr : "the patch could not be applied");
            else
                kl_err_set(&err, 400, "BadRequest", NULL, "%s", perr ? perr : "the patch could not be applied");
            kl_send_err(rq->conn, &err);
            goto out;
        }
    }
    if (r == 0 && !json_is_object(target)) {
        pthread_rwlock_unlock(&s->lock);
        kl_err_set(&err, 400, "BadRequest", NULL, "the patch result is not an object");
        kl_send_err(rq->conn, &err);
        goto out;
    }
    if (r == 0) {
        /* The patched object keeps apiVersion/kind as the path says. */
        char av[300];
        const char *pk = json_string_value(json_object_get(target, "kind"));
        const char *pav = json_string_value(json_object_get(target, "apiVersion"));
        kl_api_version_of(rq->rt->group, rq->ver->name, av, sizeof(av));
        if ((pk && strcmp(pk, rq->rt->kind) != 0) || (pav && strcmp(pav, av) != 0)) {
            pthread_rwlock_unlock(&s->lock);
            kl_err_set(&err, 400, "BadRequest", NULL, "patch changed apiVersion or kind");
            kl_send_err(rq->conn, &err);
            goto out;
        }
    }
    int deleted = 0;
    if (r == 0)
        r = update_locked(rq, old_o, old, &target, rq->sub && strcmp(rq->sub, "status") == 0, &o,
                          &deleted, &err);
    pthread_rwlock_unlock(&s->lock);
    if (r < 0) {
        if (!err.code)
            kl_err_set(&err, 500, "InternalError", NULL, "Internal error occurred: storage failed");
        kl_send_err(rq->conn, &err);
        goto out;
    }
    finish_write(rq, 200, o, target);
out:
    free(perr);
    kl_obj_unref(o);
    json_decref(patch);
    json_decref(target);
    json_decref(old);
    kl_err_done(&err);
}

/* ---- delete ---------------------------------------------------------------------------------- */

static int add_finalizer(json_t *doc, const char *f) {
    json_t *meta = meta_of(doc);
    json_t *fin = json_object_get(meta, "finalizers");
    if (!json_is_array(fin)) {
        fin = json_array();
        json_object_set_new(meta, "finalizers", fin);
    }
    size_t i;
    json_t *v;
    json_array_foreach(fin, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
            return 0;
    }
    return json_array_append_new(fin, json_string(f));
}

/* Deletes o (stored in rt). Caller holds the write lock. *ret_obj gets the resulting version
 * (marked deleting, or the final state), *ret_deleted whether it is gone. */
static int delete_locked(struct kl_server *srv, struct kl_rtype *rt, struct kl_obj *o,
                         const char *policy, struct kl_obj **ret_obj, int *ret_deleted) {
    struct kl_store *s = &srv->store;
    json_t *doc = kl_obj_parse(o);
    int r;
    *ret_deleted = 0;
    if (!doc)
        return -ENOMEM;
    if (o->deleting) {
        /* Already being deleted: nothing more to do until finalizers are gone. */
        *ret_obj = kl_obj_ref(o);
        json_decref(doc);
        return 0;
    }
    if (policy && strcmp(policy, "Orphan") == 0)
        add_finalizer(doc, "orphan");
    else if (policy && strcmp(policy, "Foreground") == 0)
        add_finalizer(doc, "foregroundDeletion");
    if (rt->flag == KL_KIND_NAMESPACE || finalizer_count(doc) > 0) {
        char now[64];
        json_t *meta = meta_of(doc);
        json_object_set_new(meta, "deletionTimestamp", json_string(kl_now(now, sizeof(now))));
        json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(0));
        json_t *g = json_object_get(meta, "generation");
        if (json_is_integer(g))
            json_object_set_new(meta, "generation", json_integer(json_integer_value(g) + 1));
        if (rt->flag == KL_KIND_NAMESPACE)
            cm_json_set(doc, "status.phase", json_string("Terminating"));
        if (rt->flag == KL_KIND_CRD) {
            json_t *conds = cm_json_get(doc, "status.conditions");
            if (json_is_array(conds))
                json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "Terminating",
                                                       "status", "True", "lastTransitionTime", now,
                                                       "reason", "InstanceDeletionPending",
                                                       "message", "CustomResourceDefinition marked for deletion; CR deletion pending"));
        }
        r = kl_store_put(s, rt, doc, ret_obj);
    } else {
        r = kl_store_remove(s, rt, o->ns, o->name, doc, ret_obj);
        if (r == 0) {
            *ret_deleted = 1;
            if (rt->flag == KL_KIND_CRD)
                kl_crd_uninstall(srv, doc);
        }
    }
    json_decref(doc);
    return r;
}

int kl_api_delete_object(struct kl_server *srv, struct kl_rtype *rt, const char *ns,
                         const char *name, const char *policy) {
    struct kl_store *s = &srv->store;
    pthread_rwlock_wrlock(&s->lock);
    struct kl_obj *o = kl_store_get(rt, ns, name);
    int r = -ENOENT, deleted;
    struct kl_obj *res = NULL;
    if (o)
        r = delete_locked(srv, rt, o, policy, &res, &deleted);
    pthread_rwlock_unlock(&s->lock);
    kl_obj_unref(res);
    if (r == 0) {
        kl_store_notify(s);
        kl_store_sync(s);
    }
    return r;
}

int kl_api_update_object(struct kl_server *srv, struct kl_rtype *rt, json_t *doc) {
    struct kl_store *s = &srv->store;
    const char *ns = cm_json_get_str(doc, "metadata.namespace");
    const char *name = cm_json_get_str(doc, "metadata.name");
    const char *uid = cm_json_get_str(doc, "metadata.uid");
    const char *rv = cm_json_get_str(doc, "metadata.resourceVersion");
    int r;
    pthread_rwlock_wrlock(&s->lock);
    struct kl_obj *o = name ? kl_store_get(rt, ns ? ns : "", name) : NULL;
    if (!o) {
        r = -ENOENT;
    } else if (!uid || strcmp(uid, o->uid) != 0 || !rv || strtoull(rv, NULL, 10) != o->rv) {
        r = -ESTALE;
    } else if (o->deleting && finalizer_count(doc) == 0) {
        r = kl_store_remove(s, rt, o->ns, o->name, doc, NULL);
        if (r == 0 && rt->flag == KL_KIND_CRD)
            kl_crd_uninstall(srv, doc);
    } else {
        r = kl_store_put(s, rt, doc, NULL);
    }
    pthread_rwlock_unlock(&s->lock);
    if (r == 0) {
        kl_store_notify(s);
        kl_store_sync(s);
    }
    return r;
}

static void delete_options(struct kl_rq *rq, json_t *opts, const char **ret_policy,
                           const char **ret_uid, const char **ret_rv) {
    const char *policy = kl_http_req_param(rq->req, "propagationPolicy");
    if (opts) {
        const char *p = json_string_value(json_object_get(opts, "propagationPolicy"));
        if (p)
            policy = p;
        json_t *orphan = json_object_get(opts, "orphanDependents");
        if (!policy && json_is_boolean(orphan))
            policy = json_is_true(orphan) ? "Orphan" : "Background";
        *ret_uid = cm_json_get_str(opts, "preconditions.uid");
        *ret_rv = cm_json_get_str(opts, "preconditions.resourceVersion");
        json_t *dr = json_object_get(opts, "dryRun");
        if (json_is_array(dr) && json_array_size(dr) > 0)
            rq->dry_run = 1;
    }
    *ret_policy = policy;
}

void kl_write_delete(struct kl_rq *rq) {
    struct kl_server *srv = rq->srv;
    struct kl_store *s = &srv->store;
    struct kl_err err = {0};
    json_t *opts = NULL;
    struct kl_obj *res = NULL;
    if (rq->req->body_len > 0) {
        struct kl_err berr = {0};
        opts = read_body(rq, &berr, 0);
        kl_err_done(&berr);
        if (!json_is_object(opts)) {
            json_decref(opts);
            kl_send_status(rq->conn, 400, "BadRequest", "invalid DeleteOptions body");
            return;
        }
    }
    const char *policy = NULL, *puid = NULL, *prv = NULL;
    delete_options(rq, opts, &policy, &puid, &prv);
    if (policy && strcmp(policy, "Orphan") != 0 && strcmp(policy, "Background") != 0 &&
        strcmp(policy, "Foreground") != 0) {
        kl_err_set(&err, 422, "Invalid", NULL,
                   "propagationPolicy: Unsupported value: \"%s\": supported values: "
                   "\"Foreground\", \"Background\", \"Orphan\"",
                   policy);
        kl_send_err(rq->conn, &err);
        goto out;
    }
    pthread_rwlock_wrlock(&s->lock);
    struct kl_obj *o = kl_store_get(rq->rt, rq->ns, rq->name);
    if (!o) {
        pthread_rwlock_unlock(&s->lock);
        kl_err_not_found(&err, rq->rt, rq->name);
        kl_send_err(rq->conn, &err);
        goto out;
    }
    char rvbuf[32];
    snprintf(rvbuf, sizeof(rvbuf), "%llu", (unsigned long long)o->rv);
    if ((puid && strcmp(puid, o->uid) != 0) || (prv && strcmp(prv, rvbuf) != 0)) {
        if (puid && strcmp(puid, o->uid) != 0)
            kl_err_set(&err, 409, "Conflict", kl_err_details(rq->rt, rq->name),
                       "Precondition failed: UID in precondition: %s, UID in object meta: %s", puid,
                       o->uid);
        else
            kl_err_set(&err, 409, "Conflict", kl_err_details(rq->rt, rq->name),
                       "Precondition failed: ResourceVersion in precondition: %s, "
                       "ResourceVersion in object meta: %s",
                       prv, rvbuf);
        pthread_rwlock_unlock(&s->lock);
        kl_send_err(rq->conn, &err);
        goto out;
    }
    if (rq->dry_run) {
        res = kl_obj_ref(o);
        pthread_rwlock_unlock(&s->lock);
        kl_api_send_obj(rq, 200, res);
        goto out;
    }
    int deleted = 0;
    int r = delete_locked(srv, rq->rt, o, policy, &res, &deleted);
    pthread_rwlock_unlock(&s->lock);
    if (r < 0) {
        kl_send_status(rq->conn, 500, "InternalError", "Internal error occurred: storage failed");
        goto out;
    }
    kl_store_notify(s);
    kl_gc_kick(srv);
    if (kl_store_sync(s) < 0) {
        kl_send_status(rq->conn, 500, "InternalError", "Internal error occurred: fsync failed");
        goto out;
    }
    if (!deleted || rq->rt->return_deleted || rq->rt->flag == KL_KIND_CUSTOM) {
        kl_api_send_obj(rq, 200, res);
    } else {
        json_t *d = kl_err_details(rq->rt, rq->name);
        json_object_set_new(d, "uid", json_string(res->uid));
        json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:o}", "kind", "Status", "apiVersion", "v1",
                               "metadata", "status", "Success", "details", d);
        kl_send_json(rq->conn, 200, st);
        json_decref(st);
    }
out:
    kl_obj_unref(res);
    json_decref(opts);
    kl_err_done(&err);
}

void kl_write_delete_collection(struct kl_rq *rq) {
    struct kl_server *srv = rq->srv;
    struct kl_store *s = &srv->store;
    struct kl_labelsel *sel = NULL;
    char *msg = NULL;
    const char *ls = kl_http_req_param(rq->req, "labelSelector");
    if (ls && *ls && kl_labelsel_parse(ls, &sel, &msg) < 0) {
        kl_send_status(rq->conn, 400, "BadRequest", msg ? msg : "invalid label selector");
        free(msg);
        return;
    }
    struct kl_err berr = {0};
    json_t *opts = rq->req->body_len ? read_body(rq, &berr, 0) : NULL;
    kl_err_done(&berr);
    const char *policy = NULL, *puid = NULL, *prv = NULL;
    delete_options(rq, json_is_object(opts) ? opts : NULL, &policy, &puid, &prv);
    struct cm_buf out;
    cm_buf_init(&out, 0);
    char av[300];
    kl_api_version_of(rq->rt->group, rq->ver->name, av, sizeof(av));
    pthread_rwlock_wrlock(&s->lock);
    size_t i = kl_store_lower_bound(rq->rt, rq->rt->namespaced ? rq->ns : NULL, NULL);
    int n = 0;
    cm_buf_printf(&out, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{},\"items\":[",
                  rq->rt->list_kind, av);
    while (i < rq->rt->n) {
        struct kl_obj *o = rq->rt->objs[i];
        if (rq->rt->namespaced && rq->ns && strcmp(o->ns, rq->ns) != 0)
            break;
        if (sel && !kl_labelsel_match(sel, o->labels)) {
            i++;
            continue;
        }
        struct kl_obj *res = NULL;
        int deleted = 0;
        if (rq->dry_run || delete_locked(srv, rq->rt, o, policy, &res, &deleted) < 0) {
            i++;
            continue;
        }
        cm_buf_printf(&out, "%s", n++ ? "," : "");
        cm_buf_append(&out, res->json, res->len);
        kl_obj_unref(res);
        if (!deleted)
            i++;
    }
    pthread_rwlock_unlock(&s->lock);
    cm_buf_puts(&out, "]}");
    kl_store_notify(s);
    kl_gc_kick(srv);
    kl_store_sync(s);
    kl_send_raw(rq->conn, 200, out.data, out.len);
    cm_buf_done(&out);
    json_decref(opts);
    kl_labelsel_free(sel);
}

/* ---- eviction -------------------------------------------------------------------------------- */

void kl_write_evict(struct kl_rq *rq) {
    struct kl_server *srv = rq->srv;
    struct kl_store *s = &srv->store;
    struct kl_err err = {0};
    json_t *body = read_body(rq, &err, 0);
    json_t *pod = NULL, *pdb = NULL;
    struct kl_obj *res = NULL;
    int locked = 0;
    if (!body)
        goto fail;
    const char *ename = cm_json_get_str(body, "metadata.name");
    if (ename && strcmp(ename, rq->name) != 0) {
        kl_err_set(&err, 400, "BadRequest", NULL,
                   "name in URL does not match name in Eviction object");
        goto fail;
    }
    pthread_rwlock_wrlock(&s->lock);
    locked = 1;
    struct kl_obj *po = kl_store_get(rq->rt, rq->ns, rq->name);
    if (!po) {
        kl_err_not_found(&err, rq->rt, rq->name);
        goto fail;
    }
    pod = kl_obj_parse(po);
    const char *phase = cm_json_get_str(pod, "status.phase");
    int terminal = phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
    struct kl_rtype *pdbt = kl_store_find_type(s, "policy", "poddisruptionbudgets");
    struct kl_obj *pdbo = NULL;
    if (!terminal && !po->deleting && pdbt) {
        size_t i = kl_store_lower_bound(pdbt, po->ns, NULL);
        int count = 0;
        for (; i < pdbt->n && strcmp(pdbt->objs[i]->ns, po->ns) == 0; i++) {
            json_t *d = kl_obj_parse(pdbt->objs[i]);
            if (d && kl_pdb_selects(d, po)) {
                count++;
                if (!pdbo) {
                    pdbo = pdbt->objs[i];
                    pdb = json_incref(d);
                }
            }
            json_decref(d);
        }
        if (count > 1) {
            kl_err_set(&err, 500, "InternalError", NULL,
                       "This pod has more than one PodDisruptionBudget, which the eviction "
                       "subresource does not support.");
            goto fail;
        }
    }
    if (pdbo) {
        /* The disruption controller's arithmetic, on the pods as they are now. */
        struct kl_pdb_budget b;
        kl_pdb_compute(pdb, rq->rt, po->ns, &b);
        long desired = b.desired, healthy = b.healthy, allowed = b.allowed;
        int this_ready = kl_pod_ready(pod);
        /* IfHealthyBudget (the default): an unready pod may go when the budget is met. */
        int ok = this_ready ? allowed > 0 : healthy >= desired;
        const char *policy = cm_json_get_str(pdb, "spec.unhealthyPodEvictionPolicy");
        if (!this_ready && policy && strcmp(policy, "AlwaysAllow") == 0)
            ok = 1;
        if (!ok) {
            char m[512];
            snprintf(m, sizeof(m),
                     "The disruption budget %s needs %ld healthy pods and has %ld currently",
                     pdbo->name, desired, healthy);
            json_t *d = kl_err_details(rq->rt, rq->name);
            json_object_set_new(d, "causes", json_pack("[{s:s,s:s}]", "reason", "DisruptionBudget",
                                                       "message", m));
            kl_err_set(&err, 429, "TooManyRequests", d,
                       "Cannot evict pod as it would violate the pod's disruption budget.");
            err.retry_after = NULL;
            goto fail;
        }
        if (this_ready) {
            /* Record the disruption like the real eviction does (status.disruptedPods). */
            json_t *pd2 = json_deep_copy(pdb);
            char now[64];
            cm_json_set(pd2, "status.disruptionsAllowed", json_integer(allowed - 1));
            json_t *dp = cm_json_get(pd2, "status.disruptedPods");
            if (!json_is_object(dp)) {
                dp = json_object();
                cm_json_set(pd2, "status.disruptedPods", dp);
            }
            json_object_set_new(dp, rq->name, json_string(kl_now(now, sizeof(now))));
            kl_store_put(s, pdbt, pd2, NULL);
            json_decref(pd2);
        }
    }
    int deleted = 0;
    int r = delete_locked(srv, rq->rt, po, NULL, &res, &deleted);
    pthread_rwlock_unlock(&s->lock);
    locked = 0;
    if (r < 0) {
        kl_err_set(&err, 500, "InternalError", NULL, "Internal error occurred: storage failed");
        goto fail;
    }
    kl_store_notify(s);
    kl_gc_kick(srv);
    kl_store_sync(s);
    json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Success", "code", 201);
    kl_send_json(rq->conn, 201, st);
    json_decref(st);
    goto out;
fail:
    if (locked)
        pthread_rwlock_unlock(&s->lock);
    kl_send_err(rq->conn, &err);
out:
    kl_obj_unref(res);
    json_decref(pdb);
    json_decref(pod);
    json_decref(body);
    kl_err_done(&err);
}

/* ---- reviews --------------------------------------------------------------------------------- */

static json_t *user_info(const struct kl_auth_user *u) {
    json_t *groups = json_deep_copy(u->groups);
    json_array_append_new(groups, json_string("system:authenticated"));
    return json_pack("{s:s,s:s,s:o}", "username", u->name, "uid", u->uid, "groups", groups);
}

void kl_write_review(struct kl_rq *rq) {
    struct kl_err err = {0};
    json_t *doc = read_body(rq, &err, 0);
    if (!doc || check_gvk(rq, doc, &err) < 0) {
        kl_send_err(rq->conn, &err);
        kl_err_done(&err);
        json_decref(doc);
        return;
    }
    json_t *meta = meta_of(doc);
    json_object_set_new(meta, "creationTimestamp", json_null());
    json_t *status = NULL;
    switch (rq->rt->flag) {
    case KL_KIND_TOKENREVIEW: {
        const char *token = cm_json_get_str(doc, "spec.token");
        const struct kl_auth_user *u = kl_auth_lookup(rq->srv->auth, token);
        if (u) {
            status = json_pack("{s:b,s:o}", "authenticated", 1, "user", user_info(u));
            json_t *aud = cm_json_get(doc, "spec.audiences");
            if (json_is_array(aud) && json_array_size(aud) > 0)
                json_object_set(status, "audiences", aud);
        } else {
            status = json_pack("{s:{}}", "user");
            if (token && *token)
                json_object_set_new(status, "error", json_string("invalid bearer token"));
        }
        if (!json_object_get(doc, "spec"))
            json_object_set_new(doc, "spec", json_object());
        break;
    }
    case KL_KIND_SSR:
        status = json_pack("{s:o}", "userInfo", user_info(rq->user));
        break;
    case KL_KIND_SSAR:
    default: {
        /* selfsubjectaccessreviews ask about the caller, subjectaccessreviews about spec.user
         * and spec.groups. */
        int self = strncmp(rq->resource, "self", 4) == 0;
        json_t *ra = cm_json_get(doc, "spec.resourceAttributes");
        json_t *nra = cm_json_get(doc, "spec.nonResourceAttributes");
        json_t *groups = self ? rq->user->groups : cm_json_get(doc, "spec.groups");
        json_t *none = json_array();
        struct kl_rbac_attrs a = {
            .user = self ? rq->user->name : cm_json_get_str(doc, "spec.user"),
            .groups = groups ? groups : none,
            .resource_request = ra != NULL,
            .verb = cm_json_get_str(ra ? ra : nra, "verb"),
            .group = cm_json_get_str(ra, "group"),
            .resource = cm_json_get_str(ra, "resource"),
            .sub = cm_json_get_str(ra, "subresource"),
            .ns = cm_json_get_str(ra, "namespace"),
            .name = cm_json_get_str(ra, "name"),
            .path = cm_json_get_str(nra, "path"),
        };
        char why[1024] = "";
        if (!a.user)
            a.user = "";
        if (!a.verb)
            a.verb = "";
        if (!a.group)
            a.group = "";
        if (!a.resource)
            a.resource = "";
        if (!a.path)
            a.path = "";
        if ((ra || nra) && kl_rbac_allowed(&rq->srv->store, &a, why, sizeof why))
            status = json_pack("{s:b,s:s}", "allowed", 1, "reason", why);
        else
            status = json_pack("{s:b}", "allowed", 0);
        json_decref(none);
        break;
    }
    }
    json_object_set_new(doc, "status", status);
    kl_send_json(rq->conn, 201, doc);
    json_decref(doc);
}
