/* kl_table: the Table form of custom resources (apiextensions-apiserver
 * pkg/registry/customresource/tableconvertor) and the printer-column JSONPath subset.
 *
 * What the real server does, and so do we:
 * - columns: "Name" (string, format name) first, then each additionalPrinterColumn with its
 *   name/type/format/description/priority; a CRD version without columns gets the default
 *   "Age" column (type date, .metadata.creationTimestamp).
 * - cells: the name, then per column the first JSONPath result: string columns print it (maps
 *   and lists as compact JSON, scalars as Go prints them), integer/number/boolean columns
 *   convert JSON values of the matching kind, date columns are rendered by the server as a
 *   human-readable age ("5m10s", HumanDuration) from an RFC 3339 string ("<invalid>" when it
 *   does not parse); anything missing or of another kind is null.
 * - row objects by includeObject: Metadata (the default) as a meta.k8s.io/v1
 *   PartialObjectMetadata, Object as the object, None as no "object" key.
 * Pure functions; thread-safe. */
#include "kl_table.h"

#include "cm_buf.h"
#include "cm_time.h"
#include "kl_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char NAME_DESC[] =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

static const char CREATED_DESC[] =
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients may "
    "not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
    "system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/* ---------------------------------------------------------------------------------------- */
/* JSONPath subset                                                                           */

/* One step of a path. */
struct step {
    enum { ST_FIELD, ST_INDEX, ST_FILTER } kind;
    char *field;  /* ST_FIELD: key; ST_FILTER: the key compared */
    long index;   /* ST_INDEX */
    json_t *eq;   /* ST_FILTER: the value compared with (string or number) */
};

struct path {
    struct step *steps;
    size_t n;
};

static void path_done(struct path *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->steps[i].field);
        json_decref(p->steps[i].eq);
    }
    free(p->steps);
}

static int path_add(struct path *p, struct step s)
{
    struct step *g = realloc(p->steps, (p->n + 1) * sizeof(*p->steps));
    if (!g) {
        free(s.field);
        json_decref(s.eq);
        return -ENOMEM;
    }
    p->steps = g;
    p->steps[p->n++] = s;
    return 0;
}

/* Reads a quoted string ('x' or "x") at *pp; returns a malloc'ed copy or NULL. */
static char *read_quoted(const char **pp)
{
    const char *p = *pp;
    char q = *p++;
    struct cm_buf b;

    cm_buf_init(&b, 0);
    while (*p && *p != q) {
        if (*p == '\\' && p[1]) {
            p++;
        }
        cm_buf_append(&b, p, 1);
        p++;
    }
    if (*p != q) {
        cm_buf_done(&b);
        return NULL;
    }
    *pp = p + 1;
    return cm_buf_steal(&b);
}

/* Parses ".a.b[0]['c.d'][?(@.type=="Ready")].e", optionally inside "{...}". */
static int path_parse(const char *s, struct path *out)
{
    const char *p = s;
    size_t len;
    char *inner = NULL;
    int r = 0;

    memset(out, 0, sizeof(*out));
    if (!s)
        return -EINVAL;
    len = strlen(s);
    if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
        inner = strndup(s + 1, len - 2);
        if (!inner)
            return -ENOMEM;
        p = inner;
    }
    if (*p == '$')
        p++;
    if (!*p) {
        r = -EINVAL;
        goto out;
    }
    while (*p && r == 0) {
        if (*p == '.') {
            struct cm_buf b;
            p++;
            if (*p == '[' || !*p) {
                if (!*p && out->n == 0)
                    break; /* "." alone: the object itself */
                continue;
            }
            cm_buf_init(&b, 0);
            while (*p && *p != '.' && *p != '[') {
                if (*p == '\\' && p[1]) /* \. escapes a dot inside a key */
                    p++;
                cm_buf_append(&b, p, 1);
                p++;
            }
            char *f = cm_buf_steal(&b);
            if (!f || !*f) {
                free(f);
                r = f ? -EINVAL : -ENOMEM;
                break;
            }
            r = path_add(out, (struct step){.kind = ST_FIELD, .field = f});
        } else if (*p == '[') {
            p++;
            if (*p == '\'' || *p == '"') {
                char *f = read_quoted(&p);
                if (!f || *p != ']') {
                    free(f);
                    r = -EINVAL;
                    break;
                }
                p++;
                r = path_add(out, (struct step){.kind = ST_FIELD, .field = f});
            } else if (p[0] == '?' && p[1] == '(' && p[2] == '@' && p[3] == '.') {
                /* [?(@.key=="value")] or [?(@.key==value)] */
                const char *k = p + 4, *e = strstr(k, "==");
                json_t *eq = NULL;
                char *key;
                if (!e) {
                    r = -EINVAL;
                    break;
                }
                key = strndup(k, (size_t)(e - k));
                p = e + 2;
                if (*p == '\'' || *p == '"') {
                    char *v = read_quoted(&p);
                    eq = v ? json_string(v) : NULL;
                    free(v);
                } else {
                    const char *vs = p;
                    while (*p && *p != ')')
                        p++;
                    char *v = strndup(vs, (size_t)(p - vs));
                    eq = v ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;
                    free(v);
                }
                if (!key || !eq || p[0] != ')' || p[1] != ']') {
                    free(key);
                    json_decref(eq);
                    r = -EINVAL;
                    break;
                }
                p += 2;
                r = path_add(out, (struct step){.kind = ST_FILTER, .field = key, .eq = eq});
            } else {
                char *end;
                long idx = strtol(p, &end, 10);
                if (end == p || *end != ']') {
                    r = -EINVAL;
                    break;
                }
                p = end + 1;
                r = path_add(out, (struct step){.kind = ST_INDEX, .index = idx});
            }
        } else {
            r = -EINVAL;
        }
    }
out:
    free(inner);
    if (r < 0)
        path_done(out);
    return r;
}

static const json_t *path_eval(const struct path *p, const json_t *obj)
{
    const json_t *cur = obj;
    for (size_t i = 0; cur && i < p->n; i++) {
        const struct step *s = &p->steps[i];
        if (s->kind == ST_FIELD) {
            cur = json_is_object(cur) ? json_object_get(cur, s->field) : NULL;
        } else if (s->kind == ST_INDEX) {
            long idx = s->index;
            if (!json_is_array(cur))
                return NULL;
            if (idx < 0)
                idx += (long)json_array_size(cur);
            cur = idx >= 0 ? json_array_get(cur, (size_t)idx) : NULL;
        } else {
            const json_t *found = NULL;
            for (size_t j = 0; json_is_array(cur) && j < json_array_size(cur) && !found; j++) {
                json_t *e = json_array_get(cur, j), *v = json_object_get(e, s->field);
                if (v && (json_equal(v, s->eq) ||
                          (json_is_number(v) && json_is_number(s->eq) &&
                           json_number_value(v) == json_number_value(s->eq))))
                    found = e;
            }
            cur = found;
        }
    }
    return cur;
}

json_t *kl_jsonpath_eval(const json_t *obj, const char *jsonpath)
{
    struct path p;
    const json_t *v;

    if (!obj || path_parse(jsonpath, &p) < 0)
        return NULL;
    v = path_eval(&p, obj);
    path_done(&p);
    return v ? json_incref((json_t *)v) : NULL;
}

int kl_jsonpath_check(const char *jsonpath, char **ret_err)
{
    struct path p;

    /* validateSimpleJSONPath of the real CRD validation, then our parser. */
    if (!jsonpath || !*jsonpath) {
        kl__set_err(ret_err, "must not be empty");
        return -EINVAL;
    }
    if (jsonpath[0] != '.') {
        kl__set_err(ret_err, "must be a simple json path starting with .");
        return -EINVAL;
    }
    if (path_parse(jsonpath, &p) < 0) {
        kl__set_err(ret_err, "unrecognized column definition \"%s\"", jsonpath);
        return -EINVAL;
    }
    path_done(&p);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Cells                                                                                     */

/* k8s.io/apimachinery/pkg/util/duration.HumanDuration */
static char *human_duration(int64_t ms)
{
    int64_t secs = ms / 1000;
    if (ms < 0 && ms % 1000)
        secs = ms / 1000; /* Go truncates toward zero too */
    if (secs < -1)
        return strdup("<invalid>");
    if (secs < 0)
        return strdup("0s");
    if (secs < 120)
        return kl__strdupf("%llds", (long long)secs);
    int64_t minutes = secs / 60;
    if (minutes < 10) {
        int64_t s = secs % 60;
        return s ? kl__strdupf("%lldm%llds", (long long)minutes, (long long)s) : kl__strdupf("%lldm", (long long)minutes);
    }
    if (minutes < 180)
        return kl__strdupf("%lldm", (long long)minutes);
    int64_t hours = secs / 3600;
    if (hours < 8) {
        int64_t m = minutes % 60;
        return m ? kl__strdupf("%lldh%lldm", (long long)hours, (long long)m) : kl__strdupf("%lldh", (long long)hours);
    }
    if (hours < 48)
        return kl__strdupf("%lldh", (long long)hours);
    if (hours < 24 * 8) {
        int64_t h = hours % 24;
        return h ? kl__strdupf("%lldd%lldh", (long long)(hours / 24), (long long)h)
                 : kl__strdupf("%lldd", (long long)(hours / 24));
    }
    if (hours < 24 * 365 * 2)
        return kl__strdupf("%lldd", (long long)(hours / 24));
    if (hours < 24 * 365 * 8) {
        int64_t dy = (hours / 24) % 365;
        return dy ? kl__strdupf("%lldy%lldd", (long long)(hours / 24 / 365), (long long)dy)
                  : kl__strdupf("%lldy", (long long)(hours / 24 / 365));
    }
    return kl__strdupf("%lldy", (long long)(hours / 24 / 365));
}

/* ConvertToHumanReadableDateType of a timestamp string (empty/absent: "<unknown>"). */
static json_t *age_cell(const char *ts, int64_t now_ms)
{
    int64_t t;
    char *s;
    json_t *j;

    if (!ts || !*ts)
        return json_string("<unknown>");
    if (cm_time_parse_rfc3339(ts, &t) < 0)
        return json_string("<invalid>");
    s = human_duration(now_ms - t);
    j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

static json_t *cell_for(const char *type, const json_t *v, int64_t now_ms)
{
    if (!v || json_is_null(v))
        return json_null();
    if (!strcmp(type, "string")) {
        struct cm_buf b;
        json_t *j;
        cm_buf_init(&b, 0);
        if (json_is_object(v) || json_is_array(v))
            kl__go_json(&b, v);
        else if (json_is_string(v))
            cm_buf_append(&b, json_string_value(v), json_string_length(v));
        else
            kl__go_value(&b, v);
        j = json_stringn(b.data ? b.data : "", b.len);
        cm_buf_done(&b);
        return j;
    }
    if (!strcmp(type, "integer")) {
        if (json_is_integer(v))
            return json_integer(json_integer_value(v));
        if (json_is_real(v))
            return json_integer((json_int_t)json_real_value(v));
    } else if (!strcmp(type, "number")) {
        if (json_is_number(v))
            return json_real(json_number_value(v));
    } else if (!strcmp(type, "boolean")) {
        if (json_is_boolean(v))
            return json_boolean(json_is_true(v));
    } else if (!strcmp(type, "date")) {
        if (json_is_string(v))
            return age_cell(json_string_value(v), now_ms);
    }
    return json_null();
}

/* metav1.PartialObjectMetadata of obj. */
static json_t *partial_metadata(const json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    return json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion", "meta.k8s.io/v1",
                     "metadata", md ? md : json_object());
}

json_t *kl_table_build_at(const json_t *printer_columns, json_t *const *objs, size_t n,
                          const char *include_object, const char *resource_version,
                          const char *continue_token, int64_t now_ms)
{
    json_t *table = NULL, *cols = NULL, *rows = NULL, *meta = NULL, *defcols = NULL;
    struct path *paths = NULL;
    size_t nc;

    if (!include_object || !*include_object)
        include_object = "Metadata";
    if (!json_array_size(printer_columns)) {
        /* serveDefaultColumnsIfEmpty */
        defcols = json_pack("[{s:s, s:s, s:s, s:s}]", "name", "Age", "type", "date", "description", CREATED_DESC,
                            "jsonPath", ".metadata.creationTimestamp");
        if (!defcols)
            return NULL;
        printer_columns = defcols;
    }
    nc = json_array_size(printer_columns);
    paths = calloc(nc ? nc : 1, sizeof(*paths));
    cols = json_array();
    rows = json_array();
    meta = json_object();
    if (!paths || !cols || !rows || !meta)
        goto fail;
    json_array_append_new(cols, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", "Name", "type", "string", "format",
                                          "name", "description", NAME_DESC, "priority", 0));
    for (size_t i = 0; i < nc; i++) {
        json_t *c = json_array_get(printer_columns, i);
        const char *jp = json_string_value(json_object_get(c, "jsonPath"));
        const char *desc = json_string_value(json_object_get(c, "description"));
        char *d = NULL;
        if (!desc || !*desc)
            desc = d = kl__strdupf("Custom resource definition column (in JSONPath format): %s", jp ? jp : "");
        json_array_append_new(
            cols, json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", kl__s(json_string_value(json_object_get(c, "name"))),
                            "type", kl__s(json_string_value(json_object_get(c, "type"))), "format",
                            kl__s(json_string_value(json_object_get(c, "format"))), "description", desc ? desc : "",
                            "priority", (json_int_t)json_integer_value(json_object_get(c, "priority"))));
        free(d);
        if (path_parse(jp, &paths[i]) < 0)
            memset(&paths[i], 0, sizeof(paths[i]));
    }
    for (size_t r = 0; r < n; r++) {
        const json_t *o = objs[r];
        json_t *cells = json_array(), *row;
        const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
        if (!cells)
            goto fail;
        json_array_append_new(cells, json_string(name ? name : ""));
        for (size_t i = 0; i < nc; i++) {
            const char *type = json_string_value(json_object_get(json_array_get(printer_columns, i), "type"));
            const json_t *v = paths[i].n ? path_eval(&paths[i], o) : NULL;
            json_array_append_new(cells, cell_for(type ? type : "", v, now_ms));
        }
        row = json_pack("{s:o}", "cells", cells);
        if (!row)
            goto fail;
        if (!strcmp(include_object, "Object"))
            json_object_set(row, "object", (json_t *)o);
        else if (strcmp(include_object, "None"))
            json_object_set_new(row, "object", partial_metadata(o));
        json_array_append_new(rows, row);
    }
    if (resource_version && *resource_version)
        json_object_set_new(meta, "resourceVersion", json_string(resource_version));
    if (continue_token && *continue_token)
        json_object_set_new(meta, "continue", json_string(continue_token));
    table = json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata", meta,
                      "columnDefinitions", cols, "rows", rows);
    meta = cols = rows = NULL;
fail:
    for (size_t i = 0; paths && i < nc; i++)
        path_done(&paths[i]);
    free(paths);
    json_decref(cols);
    json_decref(rows);
    json_decref(meta);
    json_decref(defcols);
    return table;
}

json_t *kl_table_build(const json_t *printer_columns, json_t *const *objs, size_t n, const char *include_object,
                       const char *resource_version, const char *continue_token)
{
    return kl_table_build_at(printer_columns, objs, n, include_object, resource_version, continue_token,
                             cm_time_wall_ms());
}
