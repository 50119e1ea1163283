/* hostos templates: {{ dotted.path | filter }} substitution into file content, and the small
 * predicates around it (conditions, version strings).
 *
 * Deliberately tiny (no loops, no conditionals inside a file: a file or step that only applies
 * sometimes has a `when`). Rendering is a pure function of the template and a JSON object, so it
 * is unit-tested without hosts, and the loader runs the same parser with no variables to reject a
 * broken template at load time with its line number. */
#include "hostos_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_buf.h"

int hostos__fail(struct hostos_error *err, int r, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return r;
}

bool hostos_version_valid(const char *v) {
    if (!v || !*v)
        return false;
    size_t n = strlen(v);
    if (n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (i == 0 && !alnum)
            return false;
        if (!alnum && !strchr("._+~:=-", c))
            return false;
    }
    return true;
}

/* Looks up a dotted path. Returns the value or NULL when any part is missing. */
const json_t *hostos__lookup(const json_t *vars, const char *path, size_t n) {
    const json_t *cur = vars;
    const char *p = path, *end = path + n;
    while (cur && p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        const char *ke = dot ? dot : end;
        if (!json_is_object(cur))
            return NULL;
        char key[128];
        size_t kn = (size_t)(ke - p);
        if (kn == 0 || kn >= sizeof(key))
            return NULL;
        memcpy(key, p, kn);
        key[kn] = '\0';
        cur = json_object_get(cur, key);
        p = dot ? dot + 1 : end;
    }
    return cur;
}

/* The text of a scalar value: 1 and *ret (malloc'd), 0 when it is not a scalar. */
static int scalar_text(const json_t *v, char **ret) {
    char *s = NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = strndup(json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
            s = NULL;
        break;
    case JSON_REAL:
        if (asprintf(&s, "%.17g", json_real_value(v)) < 0)
            s = NULL;
        break;
    case JSON_TRUE:
        s = strdup("true");
        break;
    case JSON_FALSE:
        s = strdup("false");
        break;
    default:
        return 0;
    }
    if (!s)
        return -ENOMEM;
    *ret = s;
    return 1;
}

bool hostos_conds_hold(const struct hostos_cond *c, size_t n, const json_t *vars) {
    for (size_t i = 0; i < n; i++) {
        const json_t *v = hostos__lookup(vars, c[i].var, strlen(c[i].var));
        char *text = NULL;
        if (v && !json_is_null(v) && scalar_text(v, &text) != 1)
            return false;
        const char *t = text ? text : "";
        bool any = false;
        for (size_t k = 0; k < c[i].n_values && !any; k++)
            any = strcmp(c[i].values[k], t) == 0;
        free(text);
        if (!any)
            return false;
    }
    return true;
}

static char *base64(const char *s, size_t n) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = t[v >> 6 & 63];
        out[o++] = t[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)u[i] << 16;
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8;
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = t[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

static bool is_path_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
}

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Renders one tag body [p, end) (between the braces) into out. With vars NULL only the syntax
 * is checked. line is the template line of the tag, for messages. */
static int render_tag(const char *p, const char *end, const json_t *vars, bool check_only,
                      struct cm_buf *out, int line, struct hostos_error *err) {
    p = skip_ws(p, end);
    const char *path = p;
    while (p < end && is_path_char(*p))
        p++;
    size_t pn = (size_t)(p - path);
    if (pn == 0 || path[0] == '.' || path[pn - 1] == '.')
        return hostos__fail(err, -EINVAL, "template line %d: expected a variable name in {{ }}",
                            line);
    char *value = NULL;    /* text so far; NULL while missing */
    const json_t *v = check_only ? NULL : hostos__lookup(vars, path, pn);
    bool missing = !v || json_is_null(v);
    bool structured = v && (json_is_object(v) || json_is_array(v));
    int r = 0;
    if (!check_only && !missing && !structured) {
        r = scalar_text(v, &value);
        if (r < 0)
            return hostos__fail(err, r, "out of memory");
        r = 0;
    }
    for (;;) {
        p = skip_ws(p, end);
        if (p == end)
            break;
        if (*p != '|') {
            r = hostos__fail(err, -EINVAL, "template line %d: unexpected '%c' after %.*s", line,
                             *p, (int)pn, path);
            goto out;
        }
        p = skip_ws(p + 1, end);
        const char *f = p;
        while (p < end && is_path_char(*p))
            p++;
        size_t fn = (size_t)(p - f);
        if (fn == 7 && memcmp(f, "default", 7) == 0) {
            p = skip_ws(p, end);
            if (p == end || *p != '"') {
                r = hostos__fail(err, -EINVAL,
                                 "template line %d: default needs a \"quoted\" text", line);
                goto out;
            }
            struct cm_buf d;
            cm_buf_init(&d, 0);
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                if (cm_buf_append(&d, p, 1) < 0) {
                    cm_buf_done(&d);
                    r = hostos__fail(err, -ENOMEM, "out of memory");
                    goto out;
                }
            }
            if (p == end) {
                cm_buf_done(&d);
                r = hostos__fail(err, -EINVAL, "template line %d: unterminated default text",
                                 line);
                goto out;
            }
            p++;
            if (!check_only && missing) {
                free(value);
                value = cm_buf_steal(&d);
                missing = false;
                if (!value) {
                    r = hostos__fail(err, -ENOMEM, "out of memory");
                    goto out;
                }
            }
            cm_buf_done(&d);
        } else if ((fn == 6 && memcmp(f, "base64", 6) == 0) ||
                   (fn == 4 && memcmp(f, "json", 4) == 0)) {
            if (check_only || missing)
                continue;
            char *nv = NULL;
            if (fn == 6) {
                if (structured) {
                    r = hostos__fail(err, -EINVAL,
                                     "template line %d: %.*s is an object or list (base64 needs "
                                     "text)",
                                     line, (int)pn, path);
                    goto out;
                }
                nv = base64(value, strlen(value));
            } else if (structured) {
                nv = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
                structured = false;
            } else {
                json_t *s = json_string(value);
                nv = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
                json_decref(s);
            }
            if (!nv) {
                r = hostos__fail(err, -ENOMEM, "cannot encode %.*s", (int)pn, path);
                goto out;
            }
            free(value);
            value = nv;
        } else {
            r = hostos__fail(err, -EINVAL,
                             "template line %d: unknown filter '%.*s' (default, base64, json)",
                             line, (int)fn, f);
            goto out;
        }
    }
    if (check_only)
        goto out;
    if (missing) {
        r = hostos__fail(err, -EINVAL, "template line %d: variable %.*s is not set", line,
                         (int)pn, path);
        goto out;
    }
    if (structured) {
        r = hostos__fail(err, -EINVAL,
                         "template line %d: %.*s is an object or list (use | json)", line,
                         (int)pn, path);
        goto out;
    }
    if (cm_buf_puts(out, value) < 0)
        r = hostos__fail(err, -ENOMEM, "out of memory");
out:
    free(value);
    return r;
}

int hostos__template_run(const char *tmpl, const json_t *vars, bool check_only, char **ret,
                         struct hostos_error *err) {
    struct cm_buf out;
    cm_buf_init(&out, 0);
    int r = cm_buf_append(&out, "", 0);
    int line = 1;
    const char *p = tmpl;
    while (r == 0 && *p) {
        const char *open = strstr(p, "{{");
        const char *stop = open ? open : p + strlen(p);
        for (const char *q = p; q < stop; q++)
            line += *q == '\n';
        if (!check_only && cm_buf_append(&out, p, (size_t)(stop - p)) < 0)
            r = hostos__fail(err, -ENOMEM, "out of memory");
        if (!open || r < 0)
            break;
        if (strncmp(open, "{{{{", 4) == 0) {
            if (!check_only && cm_buf_puts(&out, "{{") < 0)
                r = hostos__fail(err, -ENOMEM, "out of memory");
            p = open + 4;
            continue;
        }
        const char *close = strstr(open + 2, "}}");
        const char *nl = strchr(open + 2, '\n');
        if (!close || (nl && nl < close)) {
            r = hostos__fail(err, -EINVAL, "template line %d: unterminated {{", line);
            break;
        }
        r = render_tag(open + 2, close, vars, check_only, &out, line, err);
        p = close + 2;
    }
    if (r < 0 || check_only) {
        cm_buf_done(&out);
        return r;
    }
    *ret = cm_buf_steal(&out);
    return *ret ? 0 : hostos__fail(err, -ENOMEM, "out of memory");
}

int hostos_template_render(const char *tmpl, const json_t *vars, char **ret,
                           struct hostos_error *err) {
    if (!tmpl || !ret)
        return hostos__fail(err, -EINVAL, "template and result are required");
    if (!vars) {
        /* Rendering with no variables: every tag needs a default. */
        json_t *e = json_object();
        if (!e)
            return hostos__fail(err, -ENOMEM, "out of memory");
        int r = hostos__template_run(tmpl, e, false, ret, err);
        json_decref(e);
        return r;
    }
    return hostos__template_run(tmpl, vars, false, ret, err);
}
