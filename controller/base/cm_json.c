#include "cm_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *cm_json_get(const json_t *obj, const char *path) {
    const json_t *cur = obj;
    const char *p = path;
    while (cur && *p) {
        if (!json_is_object(cur))
            return NULL;
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        cur = json_object_getn(cur, p, n);
        p += n;
        if (*p == '.')
            p++;
    }
    return (json_t *)cur;
}

const char *cm_json_get_str(const json_t *obj, const char *path) {
    return json_string_value(cm_json_get(obj, path));
}

int64_t cm_json_get_int(const json_t *obj, const char *path, int64_t def) {
    json_t *v = cm_json_get(obj, path);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

int cm_json_get_bool(const json_t *obj, const char *path, int def) {
    json_t *v = cm_json_get(obj, path);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

int cm_json_set(json_t *obj, const char *path, json_t *value) {
    json_t *cur = obj;
    const char *p = path;
    if (!value)
        return -ENOMEM;
    for (;;) {
        if (!json_is_object(cur)) {
            json_decref(value);
            return -EINVAL;
        }
        const char *dot = strchr(p, '.');
        if (!dot)
            return json_object_set_new(cur, p, value) ? -ENOMEM : 0;
        size_t n = (size_t)(dot - p);
        json_t *next = json_object_getn(cur, p, n);
        if (!next) {
            next = json_object();
            if (!next || json_object_setn_new(cur, p, n, next)) {
                json_decref(value);
                return -ENOMEM;
            }
        }
        cur = next;
        p = dot + 1;
    }
}

char *cm_json_dumps(const json_t *v) {
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *cm_json_loadb(const char *text, size_t n, char *err_out, size_t n_err) {
    json_error_t e;
    json_t *v = json_loadb(text, n, JSON_DECODE_ANY, &e);
    if (!v && err_out && n_err)
        snprintf(err_out, n_err, "invalid JSON at line %d column %d: %s", e.line, e.column, e.text);
    return v;
}
