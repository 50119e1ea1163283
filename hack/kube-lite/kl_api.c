/* kl_api: request routing, authentication, and the read side of the API (get, list, watch), plus
 * persistence replay. Writes live in kl_write.c.
 *
 * Every request follows the same path: fault injection check, authentication (401 without a
 * valid bearer token), discovery/openapi documents, or the resource path
 *   /api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUB]]
 *   /apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/SUB]]
 * resolved against the store's types under the read lock. */
#include "kl_rbac.h"
#include "kl_req.h"

#include "cm_buf.h"
#include "cm_json.h"
#include "cm_log.h"
#include "kl_auth.h"
#include "kl_fault.h"
#include "kl_http.h"
#include "kl_persist.h"
#include "kl_selector.h"
#include "kl_table.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cm_time.h"

/* ---- small helpers --------------------------------------------------------------------------- */

const char *kl_api_version_of(const char *group, const char *version, char *buf, size_t n) {
    if (group && *group)
        snprintf(buf, n, "%s/%s", group, version);
    else
        snprintf(buf, n, "%s", version);
    return buf;
}

static int storage_is(const struct kl_rq *rq) {
    const struct kl_rversion *sv = kl_rtype_storage(rq->rt);
    return !rq->ver || sv == rq->ver;
}

/* The columns for Table output of this request's type/version. */
static const json_t *table_columns(const struct kl_rq *rq) {
    if (rq->ver && rq->ver->columns)
        return rq->ver->columns;
    return NULL;
}

static const char *include_object(const struct kl_rq *rq) {
    const char *io = kl_http_req_param(rq->req, "includeObject");
    return io && *io ? io : "Metadata";
}

/* Rewrites apiVersion to the requested version (CRDs with several versions, conversion None). */
static void to_request_version(const struct kl_rq *rq, json_t *doc) {
    char av[300];
    if (!storage_is(rq))
        json_object_set_new(doc, "apiVersion",
                            json_string(kl_api_version_of(rq->rt->group, rq->ver->name, av, sizeof(av))));
}

void kl_api_send_doc(struct kl_rq *rq, int code, json_t *doc) {
    to_request_version(rq, doc);
    if (rq->table) {
        json_t *objs[1] = {doc};
        json_t *t = kl_table_build(table_columns(rq), objs, 1, include_object(rq),
                                   cm_json_get_str(doc, "metadata.resourceVersion"), NULL);
        if (t)
            kl_builtin_table_fixup(rq->rt, t, objs, 1);
        if (!t) {
            kl_send_status(rq->conn, 500, "InternalError", "cannot build table");
            return;
        }
        kl_send_json(rq->conn, code, t);
        json_decref(t);
        return;
    }
    kl_send_json(rq->conn, code, doc);
}

void kl_api_send_obj(struct kl_rq *rq, int code, const struct kl_obj *o) {
    if (!rq->table && storage_is(rq)) {
        kl_send_raw(rq->conn, code, o->json, o->len);
        return;
    }
    json_t *doc = kl_obj_parse(o);
    if (!doc) {
        kl_send_status(rq->conn, 500, "InternalError", "out of memory");
        return;
    }
    kl_api_send_doc(rq, code, doc);
    json_decref(doc);
}

/* ---- base64url for continue tokens --------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64url_encode(const char *in, size_t n) {
    char *out = malloc(n * 4 / 3 + 4);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[j++] = b64[(v >> 18) & 63];
        out[j++] = b64[(v >> 12) & 63];
        if (i + 1 < n)
            out[j++] = b64[(v >> 6) & 63];
        if (i + 2 < n)
            out[j++] = b64[v & 63];
    }
    out[j] = 0;
    return out;
}

static char *b64url_decode(const char *in, size_t *ret_n) {
    size_t n = strlen(in);
    char *out = malloc(n * 3 / 4 + 3);
    if (!out)
        return NULL;
    unsigned v = 0;
    int bits = 0;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '=')
            break;
        if (c == '+')
            c = '-';
        if (c == '/')
            c = '_';
        const char *p = c ? strchr(b64, c) : NULL;
        if (!p) {
            free(out);
            return NULL;
        }
        v = (v << 6) | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[j++] = (char)((v >> bits) & 0xff);
        }
    }
    out[j] = 0;
    *ret_n = j;
    return out;
}

/* ---- selectors ------------------------------------------------------------------------------- */

struct filter {
    struct kl_labelsel *labels;
    struct kl_fieldsel *fields;
    int fields_need_parse; /* some field is not metadata.name/namespace */
    const char *name;      /* a single object (watch on a path with a name) */
};

static void filter_done(struct filter *f) {
    kl_labelsel_free(f->labels);
    kl_fieldsel_free(f->fields);
}

static int filter_init(struct kl_rq *rq, struct filter *f, struct kl_err *err) {
    memset(f, 0, sizeof(*f));
    f->name = rq->name;
    const char *ls = kl_http_req_param(rq->req, "labelSelector");
    const char *fs = kl_http_req_param(rq->req, "fieldSelector");
    char *msg = NULL;
    if (ls && *ls && kl_labelsel_parse(ls, &f->labels, &msg) < 0) {
        kl_err_set(err, 400, "BadRequest", NULL, "%s", msg ? msg : "invalid label selector");
        free(msg);
        return -EINVAL;
    }
    if (fs && *fs) {
        if (kl_fieldsel_parse(fs, &f->fields, &msg) < 0) {
            kl_err_set(err, 400, "BadRequest", NULL, "%s", msg ? msg : "invalid field selector");
            free(msg);
            filter_done(f);
            return -EINVAL;
        }
        const char *const *extra = kl_builtin_fields(rq->rt);
        for (size_t i = 0; i < kl_fieldsel_count(f->fields); i++) {
            const char *fld = kl_fieldsel_field(f->fields, i);
            if (strcmp(fld, "metadata.name") == 0 ||
                (strcmp(fld, "metadata.namespace") == 0 && rq->rt->namespaced))
                continue;
            int ok = 0;
            for (size_t k = 0; extra[k]; k++)
                if (strcmp(extra[k], fld) == 0)
                    ok = 1;
            if (!ok) {
                /* The real message, e.g. for hosts: `field label not supported: spec.address` */
                kl_err_set(err, 400, "BadRequest", NULL, "field label not supported: %s", fld);
                filter_done(f);
                return -EINVAL;
            }
            f->fields_need_parse = 1;
        }
    }
    return 0;
}

/* 1 when o passes the filter. */
static int filter_match(const struct filter *f, const struct kl_obj *o) {
    if (f->name && strcmp(o->name, f->name) != 0)
        return 0;
    if (f->labels && !kl_labelsel_match(f->labels, o->labels))
        return 0;
    if (f->fields) {
        json_t *doc;
        if (f->fields_need_parse)
            doc = kl_obj_parse(o);
        else
            doc = json_pack("{s:{s:s,s:s}}", "metadata", "name", o->name, "namespace", o->ns);
        int m = doc && kl_fieldsel_match(f->fields, doc);
        json_decref(doc);
        if (!m)
            return 0;
    }
    return 1;
}

/* ---- get and list ---------------------------------------------------------------------------- */

static void handle_get(struct kl_rq *rq) {
    struct kl_store *s = &rq->srv->store;
    pthread_rwlock_rdlock(&s->lock);
    struct kl_obj *o = kl_obj_ref(kl_store_get(rq->rt, rq->ns, rq->name));
    pthread_rwlock_unlock(&s->lock);
    if (!o) {
        struct kl_err err = {0};
        kl_err_not_found(&err, rq->rt, rq->name);
        kl_send_err(rq->conn, &err);
        kl_err_done(&err);
        return;
    }
    kl_api_send_obj(rq, 200, o);
    kl_obj_unref(o);
}

static int parse_uint(const char *s, uint64_t *ret) {
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || s[0] == '-')
        return -EINVAL;
    *ret = v;
    return 0;
}

static void handle_list(struct kl_rq *rq) {
    struct kl_store *s = &rq->srv->store;
    struct kl_err err = {0};
    struct filter f;
    char *start_key = NULL;
    struct kl_obj **items = NULL;
    size_t n_items = 0, cap_items = 0;
    char *cont = NULL;
    struct cm_buf out;
    cm_buf_init(&out, 0);

    if (filter_init(rq, &f, &err) < 0) {
        kl_send_err(rq->conn, &err);
        kl_err_done(&err);
        return;
    }
    uint64_t limit = 0;
    const char *lim = kl_http_req_param(rq->req, "limit");
    if (lim && *lim && parse_uint(lim, &limit) < 0)
        limit = 0;
    const char *ct = kl_http_req_param(rq->req, "continue");
    uint64_t cont_rv = 0;
    if (ct && *ct) {
        size_t dn;
        char *dec = b64url_decode(ct, &dn);
        json_t *tok = dec ? json_loadb(dec, dn, 0, NULL) : NULL;
        free(dec);
        const char *st = cm_json_get_str(tok, "start");
        if (!st || !json_is_integer(json_object_get(tok, "rv"))) {
            json_decref(tok);
            kl_err_set(&err, 400, "BadRequest", NULL,
                       "continue key is not valid: incorrect encoded start resourceVersion "
                       "(version meta.k8s.io/v1)");
            goto fail;
        }
        start_key = strdup(st);
        cont_rv = (uint64_t)json_integer_value(json_object_get(tok, "rv"));
        json_decref(tok);
    }
    const char *rvm = kl_http_req_param(rq->req, "resourceVersionMatch");
    const char *rvp = kl_http_req_param(rq->req, "resourceVersion");
    if (rvm && *rvm && strcmp(rvm, "NotOlderThan") != 0 && strcmp(rvm, "Exact") != 0) {
        kl_err_set(&err, 400, "BadRequest", NULL,
                   "resourceVersionMatch: Unsupported value: \"%s\": supported values: "
                   "\"Exact\", \"NotOlderThan\"",
                   rvm);
        goto fail;
    }

    pthread_rwlock_rdlock(&s->lock);
    uint64_t list_rv = cont_rv ? cont_rv : s->rv;
    if (rvm && strcmp(rvm, "Exact") == 0) {
        uint64_t want;
        if (parse_uint(rvp, &want) < 0 || want != s->rv) {
            /* Without multi-version storage, only the current state can be listed exactly. */
            pthread_rwlock_unlock(&s->lock);
            kl_err_set(&err, 410, "Expired", NULL,
                       "resourceVersion: Invalid value: \"%s\": too old resource version: %s "
                       "(%llu)",
                       rvp ? rvp : "", rvp ? rvp : "", (unsigned long long)s->rv);
            goto fail;
        }
    }
    const char *ns = rq->rt->namespaced ? rq->ns : NULL;
    size_t i = kl_store_lower_bound(rq->rt, ns, start_key);
    size_t remaining = 0;
    for (; i < rq->rt->n; i++) {
        struct kl_obj *o = rq->rt->objs[i];
        if (ns && strcmp(o->ns, ns) != 0)
            break;
        if (!filter_match(&f, o))
            continue;
        if (limit && n_items == limit) {
            /* one more item exists: the client gets a continue token */
            if (!cont)
                cont = strdup(rq->rt->objs[i - 1]->key);
            if (f.labels || f.fields) {
                remaining = 0;
                break;
            }
            remaining++;
            continue;
        }
        if (n_items == cap_items) {
            cap_items = cap_items ? cap_items * 2 : 64;
            struct kl_obj **ni = realloc(items, cap_items * sizeof(*ni));
            if (!ni) {
                pthread_rwlock_unlock(&s->lock);
                kl_err_set(&err, 500, "InternalError", NULL, "out of memory");
                goto fail;
            }
            items = ni;
        }
        items[n_items++] = kl_obj_ref(o);
    }
    pthread_rwlock_unlock(&s->lock);

    char token_buf[64] = "";
    char *token = NULL;
    if (cont) {
        /* The last returned key, so the next page starts after it (like the real "start"
         * key, which is that key plus a NUL byte). */
        json_t *tok = json_pack("{s:s,s:I,s:s}", "v", "meta.k8s.io/v1", "rv",
                                (json_int_t)list_rv, "start", items[n_items - 1]->key);
        char *raw = tok ? json_dumps(tok, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(tok);
        token = raw ? b64url_encode(raw, strlen(raw)) : NULL;
        free(raw);
    }
    snprintf(token_buf, sizeof(token_buf), "%llu", (unsigned long long)list_rv);

    if (rq->table) {
        json_t **docs = calloc(n_items ? n_items : 1, sizeof(*docs));
        for (size_t k = 0; docs && k < n_items; k++) {
            docs[k] = kl_obj_parse(items[k]);
            if (docs[k])
                to_request_version(rq, docs[k]);
        }
        json_t *t = docs ? kl_table_build(table_columns(rq), docs, n_items, include_object(rq),
                                          token_buf, token)
                         : NULL;
        if (t)
            kl_builtin_table_fixup(rq->rt, t, docs, n_items);
        for (size_t k = 0; docs && k < n_items; k++)
            json_decref(docs[k]);
        free(docs);
        if (t && remaining)
            cm_json_set(t, "metadata.remainingItemCount", json_integer((json_int_t)remaining));
        if (!t)
            kl_send_status(rq->conn, 500, "InternalError", "cannot build table");
        else
            kl_send_json(rq->conn, 200, t);
        json_decref(t);
    } else {
        char av[300];
        kl_api_version_of(rq->rt->group, rq->ver->name, av, sizeof(av));
        int r = cm_buf_printf(&out,
                              "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{"
                              "\"resourceVersion\":\"%s\"",
                              rq->rt->list_kind, av, token_buf);
        if (token)
            r = r ?: cm_buf_printf(&out, ",\"continue\":\"%s\"", token);
        if (remaining)
            r = r ?: cm_buf_printf(&out, ",\"remainingItemCount\":%zu", remaining);
        r = r ?: cm_buf_puts(&out, "},\"items\":[");
        int same = storage_is(rq);
        for (size_t k = 0; k < n_items && r == 0; k++) {
            if (k)
                r = cm_buf_append(&out, ",", 1);
            if (same) {
                r = r ?: cm_buf_append(&out, items[k]->json, items[k]->len);
            } else {
                json_t *d = kl_obj_parse(items[k]);
                if (d)
                    to_request_version(rq, d);
                char *txt = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                json_decref(d);
                r = r ?: (txt ? cm_buf_puts(&out, txt) : -ENOMEM);
                free(txt);
            }
        }
        r = r ?: cm_buf_puts(&out, "]}");
        if (r < 0)
            kl_send_status(rq->conn, 500, "InternalError", "out of memory");
        else
            kl_send_raw(rq->conn, 200, out.data, out.len);
    }
    free(token);
    goto done;
fail:
    kl_send_err(rq->conn, &err);
done:
    for (size_t k = 0; k < n_items; k++)
        kl_obj_unref(items[k]);
    free(items);
    free(cont);
    free(start_key);
    cm_buf_done(&out);
    filter_done(&f);
    kl_err_done(&err);
}

/* ---- watch ----------------------------------------------------------------------------------- */

struct watch {
    struct kl_rq *rq;
    struct filter f;
    struct cm_buf out;
    int first_table; /* the next Table event carries the column definitions */
    const char *ns;
};

/* Appends one event line for object o. */
static int watch_add(struct watch *w, const char *type, const struct kl_obj *o) {
    struct kl_rq *rq = w->rq;
    int r = cm_buf_printf(&w->out, "{\"type\":\"%s\",\"object\":", type);
    if (r < 0)
        return r;
    if (!rq->table && storage_is(rq)) {
        r = cm_buf_append(&w->out, o->json, o->len);
    } else {
        json_t *doc = kl_obj_parse(o);
        if (!doc)
            return -ENOMEM;
        to_request_version(rq, doc);
        json_t *emit = doc;
        if (rq->table) {
            json_t *objs[1] = {doc};
            emit = kl_table_build(table_columns(rq), objs, 1, include_object(rq),
                                  cm_json_get_str(doc, "metadata.resourceVersion"), NULL);
            if (emit)
                kl_builtin_table_fixup(rq->rt, emit, objs, 1);
            if (emit && !w->first_table)
                json_object_set_new(emit, "columnDefinitions", json_array());
            w->first_table = 0;
        }
        char *txt = emit ? json_dumps(emit, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (emit != doc)
            json_decref(emit);
        json_decref(doc);
        r = txt ? cm_buf_puts(&w->out, txt) : -ENOMEM;
        free(txt);
    }
    return r ?: cm_buf_puts(&w->out, "}\n");
}

static int watch_bookmark(struct watch *w, uint64_t rv, int initial_end) {
    char av[300];
    struct kl_rq *rq = w->rq;
    kl_api_version_of(rq->rt->group, rq->ver->name, av, sizeof(av));
    return cm_buf_printf(&w->out,
                         "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
                         "\"metadata\":{\"resourceVersion\":\"%llu\"%s}}}\n",
                         rq->rt->kind, av, (unsigned long long)rv,
                         initial_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}"
                                     : "");
}

static int watch_error(struct watch *w, int code, const char *reason, const char *msg) {
    struct kl_err err = {0};
    kl_err_set(&err, code, reason, NULL, "%s", msg);
    json_t *st = kl_err_status(&err);
    kl_err_done(&err);
    char *txt = st ? json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(st);
    int r = txt ? cm_buf_printf(&w->out, "{\"type\":\"ERROR\",\"object\":%s}\n", txt) : -ENOMEM;
    free(txt);
    return r;
}

static int watch_flush(struct watch *w) {
    if (w->out.len == 0)
        return 0;
    int r = kl_http_stream_write(w->rq->conn, w->out.data, w->out.len);
    cm_buf_reset(&w->out);
    return r;
}

/* Translates a stored event into what this watcher sees (selectors turn changes into ADDED or
 * DELETED, like the real watch cache) and appends it. */
static int watch_event(struct watch *w, const struct kl_event *ev) {
    if (w->ns && strcmp(ev->obj->ns, w->ns) != 0)
        return 0;
    int now = filter_match(&w->f, ev->obj);
    int before = ev->prev ? filter_match(&w->f, ev->prev) : 0;
    switch (ev->type) {
    case KL_EV_ADDED:
        return now ? watch_add(w, "ADDED", ev->obj) : 0;
    case KL_EV_MODIFIED:
        if (now && before)
            return watch_add(w, "MODIFIED", ev->obj);
        if (now)
            return watch_add(w, "ADDED", ev->obj);
        if (before)
            return watch_add(w, "DELETED", ev->obj);
        return 0;
    case KL_EV_DELETED:
        return (before || now) ? watch_add(w, "DELETED", ev->obj) : 0;
    }
    return 0;
}

static int param_true(const struct kl_http_req *req, const char *name) {
    const char *v = kl_http_req_param(req, name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static void handle_watch(struct kl_rq *rq) {
    struct kl_server *srv = rq->srv;
    struct kl_store *s = &srv->store;
    struct kl_err err = {0};
    struct watch w = {.rq = rq, .first_table = 1};
    cm_buf_init(&w.out, 0);
    struct kl_obj **initial = NULL;
    size_t n_initial = 0, cap_initial = 0;

    if (filter_init(rq, &w.f, &err) < 0) {
        kl_send_err(rq->conn, &err);
        kl_err_done(&err);
        cm_buf_done(&w.out);
        return;
    }
    w.ns = rq->rt->namespaced ? rq->ns : NULL;
    const char *rvp = kl_http_req_param(rq->req, "resourceVersion");
    int bookmarks = param_true(rq->req, "allowWatchBookmarks");
    int send_initial = param_true(rq->req, "sendInitialEvents");
    int64_t timeout_ms = (int64_t)srv->max_watch_s * 1000;
    const char *ts = kl_http_req_param(rq->req, "timeoutSeconds");
    uint64_t tsv;
    if (ts && parse_uint(ts, &tsv) == 0 && (int64_t)tsv * 1000 < timeout_ms)
        timeout_ms = (int64_t)tsv * 1000;
    uint64_t epoch = kl_store_epoch(s);

    uint64_t pos = 0;
    int expired = 0;
    char expired_msg[128] = "";
    pthread_rwlock_rdlock(&s->lock);
    int from_now = !rvp || !*rvp || strcmp(rvp, "0") == 0 || send_initial;
    if (from_now) {
        pos = s->rv;
        /* Like the real server for "" and "0" (and sendInitialEvents): synthetic ADDED events
         * for the current state, then the changes after it. */
        size_t i = kl_store_lower_bound(rq->rt, w.ns, NULL);
        for (; i < rq->rt->n; i++) {
            struct kl_obj *o = rq->rt->objs[i];
            if (w.ns && strcmp(o->ns, w.ns) != 0)
                break;
            if (!filter_match(&w.f, o))
                continue;
            if (n_initial == cap_initial) {
                cap_initial = cap_initial ? cap_initial * 2 : 64;
                struct kl_obj **ni = realloc(initial, cap_initial * sizeof(*ni));
                if (!ni)
                    break;
                initial = ni;
            }
            initial[n_initial++] = kl_obj_ref(o);
        }
    } else if (parse_uint(rvp, &pos) < 0) {
        pthread_rwlock_unlock(&s->lock);
        kl_err_set(&err, 400, "BadRequest", NULL, "resourceVersion: Invalid value: \"%s\": must be a non-negative integer", rvp);
        kl_send_err(rq->conn, &err);
        kl_err_done(&err);
        filter_done(&w.f);
        cm_buf_done(&w.out);
        return;
    } else {
        uint64_t oldest = kl_store_oldest(s);
        if (pos + 1 < oldest && pos < s->rv) {
            expired = 1;
            snprintf(expired_msg, sizeof(expired_msg), "too old resource version: %llu (%llu)",
                     (unsigned long long)pos, (unsigned long long)(oldest - 1));
        }
    }
    pthread_rwlock_unlock(&s->lock);

    atomic_fetch_add(&srv->watches, 1);
    int r = kl_http_stream_begin(rq->conn, 200, "application/json");
    if (r == 0 && expired) {
        /* The real watch cache answers 200 and one ERROR event with the 410 Status. */
        watch_error(&w, 410, "Expired", expired_msg);
        watch_flush(&w);
        kl_http_stream_end(rq->conn, 0);
        goto out;
    }
    for (size_t i = 0; i < n_initial && r == 0; i++) {
        r = watch_add(&w, "ADDED", initial[i]);
        if (w.out.len > 256 * 1024)
            r = r ?: watch_flush(&w);
    }
    if (r == 0 && send_initial && bookmarks)
        r = watch_bookmark(&w, pos, 1);
    r = r ?: watch_flush(&w);

    int64_t start = cm_time_mono_ms();
    int64_t next_bookmark = start + srv->bookmark_interval_ms;
    int close_conn = 0;
    struct kl_event evs[256];
    while (r == 0) {
        int64_t now = cm_time_mono_ms();
        if (now - start >= timeout_ms)
            break;
        int64_t wait = timeout_ms - (now - start);
        if (wait > 1000)
            wait = 1000;
        if (bookmarks && next_bookmark - now < wait)
            wait = next_bookmark - now > 0 ? next_bookmark - now : 0;
        int wr = kl_store_wait(s, pos, epoch, (int)wait);
        if (wr == -ECANCELED) {
            close_conn = 1;
            break;
        }
        /* A vanished client shows on the next write; only an idle stream needs a look. */
        if (wr == 0 && kl_http_conn_closing(rq->conn)) {
            close_conn = 1;
            break;
        }
        for (;;) {
            uint64_t scanned = pos;
            pthread_rwlock_rdlock(&s->lock);
            int n = kl_store_events_since(s, rq->rt, pos, evs, 256, &scanned);
            pthread_rwlock_unlock(&s->lock);
            if (n == -ESTALE) {
                char msg[128];
                snprintf(msg, sizeof(msg), "too old resource version: %llu (%llu)",
                         (unsigned long long)pos, (unsigned long long)(kl_store_oldest(s) - 1));
                watch_error(&w, 410, "Expired", msg);
                watch_flush(&w);
                r = -ESTALE;
                break;
            }
            for (int k = 0; k < n; k++) {
                if (r == 0)
                    r = watch_event(&w, &evs[k]);
                kl_event_done(&evs[k]);
            }
            pos = scanned;
            if (r == 0 && w.out.len)
                r = watch_flush(&w);
            if (n < 256 || r < 0)
                break;
        }
        if (r == 0 && bookmarks && cm_time_mono_ms() >= next_bookmark) {
            r = watch_bookmark(&w, pos, 0) ?: watch_flush(&w);
            next_bookmark = cm_time_mono_ms() + srv->bookmark_interval_ms;
        }
    }
    if (r == 0 || r == -ESTALE)
        kl_http_stream_end(rq->conn, close_conn);
out:
    atomic_fetch_sub(&srv->watches, 1);
    for (size_t i = 0; i < n_initial; i++)
        kl_obj_unref(initial[i]);
    free(initial);
    filter_done(&w.f);
    cm_buf_done(&w.out);
}

/* ---- routing --------------------------------------------------------------------------------- */

/* Splits path into segments in rq->segbuf. Returns the count (up to max). */
static size_t split_path(struct kl_rq *rq, const char *path, char **seg, size_t max) {
    rq->segbuf = strdup(path);
    if (!rq->segbuf)
        return 0;
    size_t n = 0;
    char *p = rq->segbuf;
    while (*p && n < max) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        seg[n++] = p;
        char *sl = strchr(p, '/');
        if (!sl)
            break;
        *sl = 0;
        p = sl + 1;
    }
    return n;
}

static int accepts_table(const struct kl_http_req *req) {
    const char *acc = kl_http_req_header(req, "Accept");
    return acc && strstr(acc, "as=Table") != NULL;
}

static void not_found_path(struct kl_http_conn *conn) {
    struct kl_err err = {0};
    kl_err_set(&err, 404, "NotFound", json_object(), "the server could not find the requested resource");
    kl_send_err(conn, &err);
    kl_err_done(&err);
}

static void method_not_allowed(struct kl_rq *rq) {
    struct kl_err err = {0};
    kl_err_set(&err, 405, "MethodNotAllowed", json_object(),
               "the server does not allow this method on the requested resource");
    kl_send_err(rq->conn, &err);
    kl_err_done(&err);
}

/* The RBAC verb of a resource request, or NULL for a method no verb stands for. */
static const char *rbac_verb(const struct kl_rq *rq, int watch) {
    const char *m = rq->req->method;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        return watch ? "watch" : rq->name ? "get" : "list";
    if (strcmp(m, "POST") == 0)
        return "create";
    if (strcmp(m, "PUT") == 0)
        return "update";
    if (strcmp(m, "PATCH") == 0)
        return "patch";
    if (strcmp(m, "DELETE") == 0)
        return rq->name ? "delete" : "deletecollection";
    return NULL;
}

/* One audit.k8s.io/v1 Event line, as the real server writes at level Metadata, with the
 * authorization annotations (what the RBAC exactness test reads). */
static void audit(struct kl_rq *rq, const struct kl_rbac_attrs *a, int allowed, const char *why) {
    json_t *ref = json_pack("{s:s,s:s}", "resource", a->resource, "apiVersion", rq->version);
    if (a->group[0])
        json_object_set_new(ref, "apiGroup", json_string(a->group));
    if (a->ns && *a->ns)
        json_object_set_new(ref, "namespace", json_string(a->ns));
    if (a->name && *a->name)
        json_object_set_new(ref, "name", json_string(a->name));
    if (a->sub && *a->sub)
        json_object_set_new(ref, "subresource", json_string(a->sub));
    json_t *groups = json_deep_copy(a->groups);
    json_array_append_new(groups, json_string("system:authenticated"));
    char ts[40];
    cm_time_format_rfc3339(cm_time_wall_ms(), 6, ts, sizeof ts);
    json_t *ev = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:o},s:o,s:s,s:{s:s,s:s}}", "kind", "Event",
        "apiVersion", "audit.k8s.io/v1", "level", "Metadata", "stage", "ResponseStarted",
        "requestURI", rq->req->path, "verb", a->verb, "user", "username", a->user, "groups",
        groups, "objectRef", ref, "requestReceivedTimestamp", ts, "annotations",
        "authorization.k8s.io/decision", allowed ? "allow" : "forbid",
        "authorization.k8s.io/reason", why ? why : "");
    char *line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!line)
        return;
    pthread_mutex_lock(&rq->srv->audit_mu);
    fprintf(rq->srv->audit, "%s\n", line);
    pthread_mutex_unlock(&rq->srv->audit_mu);
    free(line);
}

/* Answers 403 (the real server's Status and wording) and returns 0 when RBAC denies. */
static int authorized(struct kl_rq *rq, int watch) {
    const char *verb = rbac_verb(rq, watch);
    if (!verb)
        return 1; /* answered 405 later */
    struct kl_rbac_attrs a = {.user = rq->user->name, .groups = rq->user->groups, .verb = verb,
                              .resource_request = 1, .group = rq->group,
                              .resource = rq->resource, .sub = rq->sub, .ns = rq->ns,
                              .name = rq->name};
    char why[1024] = "", q[300];
    int ok = kl_rbac_allowed(&rq->srv->store, &a, rq->srv->audit ? why : NULL, sizeof why);
    if (rq->srv->audit)
        audit(rq, &a, ok, why);
    if (ok)
        return 1;
    struct kl_err err = {0};
    kl_rtype_qualified(rq->rt, q, sizeof q);
    kl_rbac_denial(&a, why, sizeof why);
    if (rq->name)
        kl_err_set(&err, 403, "Forbidden", kl_err_details(rq->rt, rq->name),
                   "%s \"%s\" is forbidden: %s", q, rq->name, why);
    else
        kl_err_set(&err, 403, "Forbidden", kl_err_details(rq->rt, NULL), "%s is forbidden: %s", q,
                   why);
    kl_send_err(rq->conn, &err);
    kl_err_done(&err);
    return 0;
}

static void handle_resource(struct kl_rq *rq, char **seg, size_t n) {
    /* seg: [namespaces, NS,] RESOURCE [, NAME [, SUB]] ; a leading "watch" is the old form */
    int legacy_watch = 0;
    size_t i = 0;
    if (n > 0 && strcmp(seg[0], "watch") == 0) {
        legacy_watch = 1;
        i = 1;
    }
    if (n - i >= 3 && strcmp(seg[i], "namespaces") == 0 &&
        !(n - i == 3 && (strcmp(seg[i + 2], "status") == 0 || strcmp(seg[i + 2], "finalize") == 0))) {
        rq->ns = seg[i + 1];
        i += 2;
    }
    if (i >= n) {
        not_found_path(rq->conn);
        return;
    }
    rq->resource = seg[i];
    rq->name = i + 1 < n ? seg[i + 1] : NULL;
    rq->sub = i + 2 < n ? seg[i + 2] : NULL;
    if (i + 3 < n) {
        not_found_path(rq->conn);
        return;
    }
    struct kl_store *s = &rq->srv->store;
    pthread_rwlock_rdlock(&s->lock);
    rq->rt = kl_store_find_type(s, rq->group, rq->resource);
    rq->ver = rq->rt ? kl_rtype_version(rq->rt, rq->version) : NULL;
    pthread_rwlock_unlock(&s->lock);
    if (!rq->rt || !rq->ver || (rq->ns && !rq->rt->namespaced && strcmp(rq->resource, "namespaces") != 0)) {
        not_found_path(rq->conn);
        return;
    }
    if (!rq->rt->namespaced)
        rq->ns = NULL;
    if (rq->sub) {
        int ok = (strcmp(rq->sub, "status") == 0 && rq->ver->status_sub) ||
                 (strcmp(rq->sub, "eviction") == 0 && rq->rt->flag == KL_KIND_POD) ||
                 (strcmp(rq->sub, "finalize") == 0 && rq->rt->flag == KL_KIND_NAMESPACE);
        if (!ok) {
            not_found_path(rq->conn);
            return;
        }
    }
    if (!authorized(rq, legacy_watch || param_true(rq->req, "watch")))
        return;
    rq->table = accepts_table(rq->req);
    const char *dr = kl_http_req_param(rq->req, "dryRun");
    rq->dry_run = dr && strcmp(dr, "All") == 0;
    const char *m = rq->req->method;
    int watch = legacy_watch || param_true(rq->req, "watch");

    if (rq->rt->create_only) {
        if (strcmp(m, "POST") == 0 && !rq->name)
            kl_write_review(rq);
        else
            method_not_allowed(rq);
        return;
    }
    if (strcmp(m, "GET") == 0) {
        if (watch)
            handle_watch(rq);
        else if (rq->name)
            handle_get(rq);
        else
            handle_list(rq);
    } else if (strcmp(m, "POST") == 0) {
        if (rq->sub && strcmp(rq->sub, "eviction") == 0)
            kl_write_evict(rq);
        else if (!rq->name)
            kl_write_create(rq);
        else
            method_not_allowed(rq);
    } else if (strcmp(m, "PUT") == 0) {
        if (rq->name && (!rq->sub || strcmp(rq->sub, "eviction") != 0))
            kl_write_update(rq);
        else
            method_not_allowed(rq);
    } else if (strcmp(m, "PATCH") == 0) {
        if (rq->name && (!rq->sub || strcmp(rq->sub, "status") == 0))
            kl_write_patch(rq);
        else
            method_not_allowed(rq);
    } else if (strcmp(m, "DELETE") == 0) {
        if (rq->name && !rq->sub)
            kl_write_delete(rq);
        else if (!rq->name)
            kl_write_delete_collection(rq);
        else
            method_not_allowed(rq);
    } else {
        method_not_allowed(rq);
    }
}

static const char *bearer_token(const struct kl_http_req *req) {
    const char *a = kl_http_req_header(req, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return a;
}

void kl_api_handle(struct kl_http_conn *conn, const struct kl_http_req *req, void *userdata) {
    struct kl_server *srv = userdata;
    atomic_fetch_add(&srv->requests, 1);

    struct kl_fault_hit hit;
    if (srv->fault && kl_fault_check(srv->fault, req->method, req->path, &hit)) {
        if (hit.delay_ms > 0)
            poll(NULL, 0, hit.delay_ms);
        if (hit.status) {
            struct kl_err err = {0};
            char ra[16];
            snprintf(ra, sizeof(ra), "%d", hit.retry_after);
            const char *reason = hit.status == 429   ? "TooManyRequests"
                                 : hit.status == 503 ? "ServiceUnavailable"
                                                     : "InternalError";
            json_t *details = NULL;
            if (hit.status != 500)
                details = json_pack("{s:i}", "retryAfterSeconds", hit.retry_after);
            kl_err_set(&err, hit.status, reason, details, "%s",
                       hit.status == 429   ? "Too many requests, please try again later."
                       : hit.status == 503 ? "The server is currently unable to handle the request"
                                           : "Internal error occurred: injected fault");
            if (hit.status != 500)
                err.retry_after = ra;
            kl_send_err(conn, &err);
            kl_err_done(&err);
            return;
        }
    }

    const char *token = bearer_token(req);
    const struct kl_auth_user *user = kl_auth_lookup(srv->auth, token);
    if (!user && !token && srv->insecure)
        user = kl_auth_first(srv->auth);
    /* Like the real server's defaults (anonymous auth on, system:public-info-viewer): health
     * and version answer requests without a token; a wrong token is refused everywhere. */
    const char *p0 = req->path;
    int public_info = !token && (strcmp(p0, "/healthz") == 0 || strcmp(p0, "/livez") == 0 ||
                                 strcmp(p0, "/readyz") == 0 || strcmp(p0, "/version") == 0);
    if (!user && !public_info) {
        kl_send_status(conn, 401, "Unauthorized", "Unauthorized");
        return;
    }
    const char *p = req->path;
    if (strcmp(p, "/healthz") == 0 || strcmp(p, "/livez") == 0 || strcmp(p, "/readyz") == 0 ||
        strncmp(p, "/healthz/", 9) == 0 || strncmp(p, "/livez/", 7) == 0 ||
        strncmp(p, "/readyz/", 8) == 0) {
        kl_http_respond(conn, 200, "text/plain; charset=utf-8", "ok", 2, NULL);
        return;
    }
    if (strncmp(p, "/openapi/", 9) == 0) {
        kl_openapi_serve(srv, conn, req);
        return;
    }
    if (strcmp(req->method, "GET") == 0) {
        int handled = 0;
        kl_discovery_serve(srv, conn, req, &handled);
        if (handled)
            return;
    }

    struct kl_rq rq = {.srv = srv, .conn = conn, .req = req, .user = user};
    char *seg[12];
    size_t n = split_path(&rq, p, seg, 12);
    if (n >= 3 && strcmp(seg[0], "api") == 0) {
        rq.group = "";
        rq.version = seg[1];
        handle_resource(&rq, seg + 2, n - 2);
    } else if (n >= 4 && strcmp(seg[0], "apis") == 0) {
        rq.group = seg[1];
        rq.version = seg[2];
        handle_resource(&rq, seg + 3, n - 3);
    } else {
        not_found_path(conn);
    }
    free(rq.segbuf);
}

/* ---- persistence ----------------------------------------------------------------------------- */

int kl_api_replay_cb(json_t *rec, void *userdata) {
    struct kl_server *srv = userdata;
    struct kl_store *s = &srv->store;
    const char *t = cm_json_get_str(rec, "t");
    const char *g = cm_json_get_str(rec, "g");
    const char *r = cm_json_get_str(rec, "r");
    if (!t || !g || !r)
        return 0;
    struct kl_rtype *rt = kl_store_find_type(s, g, r);
    if (strcmp(t, "put") == 0) {
        json_t *o = json_object_get(rec, "o");
        if (!rt || !json_is_object(o))
            return 0;
        int e = kl_store_load(s, rt, o);
        if (e < 0)
            return e;
        if (rt->flag == KL_KIND_CRD)
            kl_crd_install(srv, o);
        return 0;
    }
    if (strcmp(t, "del") == 0) {
        const char *k = cm_json_get_str(rec, "k");
        json_int_t rv = json_integer_value(json_object_get(rec, "rv"));
        if ((uint64_t)rv > s->rv)
            s->rv = (uint64_t)rv;
        if (!rt || !k)
            return 0;
        char *key = strdup(k);
        if (!key)
            return -ENOMEM;
        char *slash = rt->namespaced ? strchr(key, '/') : NULL;
        const char *ns = "", *name = key;
        if (slash) {
            *slash = 0;
            ns = key;
            name = slash + 1;
        }
        struct kl_obj *o = kl_store_get(rt, ns, name);
        json_t *doc = o && rt->flag == KL_KIND_CRD ? kl_obj_parse(o) : NULL;
        /* Replay removes without events: there is no watcher yet. */
        if (o) {
            json_t *fin = kl_obj_parse(o);
            if (fin) {
                uint64_t save = s->rv;
                struct kl_persist *p = s->persist;
                s->persist = NULL;
                kl_store_remove(s, rt, ns, name, fin, NULL);
                s->persist = p;
                s->rv = save > (uint64_t)rv ? save : (uint64_t)rv;
                json_decref(fin);
            }
        }
        if (doc) {
            kl_crd_uninstall(srv, doc);
            json_decref(doc);
        }
        free(key);
    }
    return 0;
}

int kl_api_snapshot(struct kl_server *srv, struct cm_buf *out) {
    struct kl_store *s = &srv->store;
    for (size_t t = 0; t < s->n_types; t++) {
        struct kl_rtype *rt = s->types[t];
        if (rt->removed)
            continue;
        for (size_t i = 0; i < rt->n; i++) {
            int r = cm_buf_printf(out, "{\"t\":\"put\",\"g\":\"%s\",\"r\":\"%s\",\"o\":", rt->group,
                                  rt->resource);
            r = r ?: cm_buf_append(out, rt->objs[i]->json, rt->objs[i]->len);
            r = r ?: cm_buf_puts(out, "}\n");
            if (r < 0)
                return r;
        }
    }
    /* A record that carries the current resourceVersion, so that deletes at the end of the log
     * are not forgotten: replay takes the highest rv it sees. */
    return cm_buf_printf(out, "{\"t\":\"del\",\"g\":\"\",\"r\":\"\",\"k\":\"\",\"rv\":%llu}\n",
                         (unsigned long long)s->rv);
}

int kl_api_compact(struct kl_server *srv, uint64_t threshold) {
    struct kl_store *s = &srv->store;
    if (!s->persist)
        return 0;
    int r = 0;
    pthread_rwlock_wrlock(&s->lock);
    if (kl_persist_log_size(s->persist) >= threshold) {
        struct cm_buf snap;
        cm_buf_init(&snap, 0);
        r = kl_api_snapshot(srv, &snap);
        if (r == 0)
            r = kl_persist_compact(s->persist, &snap);
        s->persist_off = 0;
        cm_buf_done(&snap);
    }
    pthread_rwlock_unlock(&s->lock);
    return r;
}
