/* kl_table_fallback: a minimal kl_table_build()/kl_jsonpath_check() used only while
 * lib/kl_table.c is still a skeleton (CMakeLists.txt decides). Dotted paths with [N] and ['key']
 * only. The real implementation is in lib/kl_table.c. */
#include "kl_table.h"

#include <stdlib.h>
#include <string.h>

json_t *kl_jsonpath_eval(const json_t *obj, const char *path) {
    const json_t *cur = obj;
    const char *p = path;
    char key[256];
    if (*p == '{')
        p++;
    while (cur && *p && *p != '}') {
        if (*p == '.') {
            p++;
            size_t n = strcspn(p, ".[}");
            if (n == 0 || n >= sizeof(key))
                return NULL;
            memcpy(key, p, n);
            key[n] = 0;
            cur = json_object_get(cur, key);
            p += n;
        } else if (*p == '[') {
            p++;
            if (*p == '\'') {
                p++;
                size_t n = strcspn(p, "'");
                if (n >= sizeof(key))
                    return NULL;
                memcpy(key, p, n);
                key[n] = 0;
                cur = json_object_get(cur, key);
                p += n + 1;
            } else {
                cur = json_array_get(cur, (size_t)strtoul(p, NULL, 10));
                p += strcspn(p, "]");
            }
            if (*p == ']')
                p++;
        } else {
            return NULL;
        }
    }
    return cur ? json_incref((json_t *)cur) : NULL;
}

int kl_jsonpath_check(const char *jsonpath, char **ret_err) {
    (void)ret_err;
    return jsonpath && (jsonpath[0] == '.' || jsonpath[0] == '{') ? 0 : -22;
}

json_t *kl_table_build(const json_t *cols, json_t *const *objs, size_t n, const char *io,
                       const char *rv, const char *cont) {
    json_t *t = json_pack("{s:s,s:s,s:{}}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                          "metadata");
    json_t *defs = json_array();
    json_array_append_new(defs, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Name", "type", "string",
                                           "format", "name", "description",
                                           "Name must be unique within a namespace.", "priority", 0));
    size_t i;
    json_t *c;
    if (cols) {
        json_array_foreach(cols, i, c) {
            json_t *d = json_pack("{s:O,s:O,s:s,s:s,s:I}", "name", json_object_get(c, "name"), "type",
                                  json_object_get(c, "type"), "format",
                                  json_string_value(json_object_get(c, "format")) ?: "",
                                  "description",
                                  json_string_value(json_object_get(c, "description")) ?: "",
                                  "priority", json_integer_value(json_object_get(c, "priority")));
            json_array_append_new(defs, d);
        }
    } else {
        json_array_append_new(defs, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Created At", "type",
                                               "date", "format", "", "description",
                                               "CreationTimestamp", "priority", 0));
    }
    json_object_set_new(t, "columnDefinitions", defs);
    json_t *rows = json_array();
    for (size_t k = 0; k < n; k++) {
        json_t *cells = json_array();
        json_t *meta = json_object_get(objs[k], "metadata");
        json_array_append(cells, json_object_get(meta, "name") ?: json_null());
        if (cols) {
            json_array_foreach(cols, i, c) {
                json_t *v = kl_jsonpath_eval(objs[k], json_string_value(json_object_get(c, "jsonPath")));
                json_array_append_new(cells, v ? v : json_null());
            }
        } else {
            json_array_append(cells, json_object_get(meta, "creationTimestamp") ?: json_null());
        }
        json_t *row = json_pack("{s:o}", "cells", cells);
        if (!io || strcmp(io, "Metadata") == 0)
            json_object_set_new(row, "object",
                                json_pack("{s:s,s:s,s:O}", "kind", "PartialObjectMetadata",
                                          "apiVersion", "meta.k8s.io/v1", "metadata", meta));
        else if (strcmp(io, "Object") == 0)
            json_object_set(row, "object", objs[k]);
        json_array_append_new(rows, row);
    }
    json_object_set_new(t, "rows", rows);
    if (rv && *rv)
        json_object_set_new(json_object_get(t, "metadata"), "resourceVersion", json_string(rv));
    if (cont && *cont)
        json_object_set_new(json_object_get(t, "metadata"), "continue", json_string(cont));
    return t;
}
