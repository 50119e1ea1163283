/* kl_schema: structural schemas of CustomResourceDefinitions, as apiextensions-apiserver
 * applies them.
 *
 * The real server runs three passes over a custom resource, and so do we, in the same order of
 * concerns: pruning (pkg/apiserver/schema/pruning), defaulting including the removal of
 * non-nullable nulls (pkg/apiserver/schema/defaulting), and validation by kube-openapi's
 * SchemaValidator followed by the x-kubernetes-list-type and embedded-resource checks. The
 * validation reproduces kube-openapi's validator order per schema node (type, allOf/anyOf/
 * oneOf/not, string, format, number, array, enum, object) and its messages, and converts them to
 * field errors exactly as kubeOpenAPIResultToFieldErrors does, so that the causes of a 422 read
 * the same as a real server's.
 *
 * Known, deliberate differences (also in README.md):
 * - x-kubernetes-validations (CEL) are accepted and ignored; the real server evaluates them.
 * - pattern uses POSIX extended regular expressions after translating the common ECMA/RE2
 *   escapes (\d \w \s and their negations inside and outside brackets, \. etc., (?:...),
 *   non-greedy quantifiers, \uXXXX). Look-around and back-references are refused when the
 *   schema is compiled. Matching is byte-wise, so "." matches one byte of a multi-byte rune.
 * - Where Go iterates a map (properties, additionalProperties), the real server reports errors
 *   in random order; we report them in sorted key order.
 * - anyOf/oneOf report the errors of the branch with the fewest errors, where kube-openapi picks
 *   the branch with the highest internal "match count"; the summary error is the same.
 * - Validation ratcheting (CRDValidationRatcheting) is not implemented: updates are validated
 *   like creates.
 *
 * Thread-safety: a compiled schema is read-only after kl_schema_new(); regexec() on a shared
 * regex_t is thread-safe in glibc. */
#include "kl_schema.h"

#include "cm_buf.h"
#include "kl_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* JSON types of the schema "type" keyword, as a bit set. */
enum {
    TY_OBJECT = 1 << 0,
    TY_ARRAY = 1 << 1,
    TY_STRING = 1 << 2,
    TY_INTEGER = 1 << 3,
    TY_NUMBER = 1 << 4,
    TY_BOOLEAN = 1 << 5,
};

enum list_type {
    LIST_NONE,   /* no x-kubernetes-list-type */
    LIST_ATOMIC, /* the list is one value */
    LIST_SET,    /* scalar items, unique */
    LIST_MAP,    /* object items, unique by x-kubernetes-list-map-keys */
};

enum addl_mode {
    ADDL_NONE,   /* additionalProperties not given */
    ADDL_TRUE,   /* additionalProperties: true */
    ADDL_FALSE,  /* additionalProperties: false */
    ADDL_SCHEMA, /* additionalProperties: {schema} */
};

struct snode;

struct sprop {
    const char *name; /* borrowed from the schema's JSON */
    struct snode *node;
};

struct snode {
    const json_t *raw;  /* this node's JSON, borrowed from kl_schema.root */
    unsigned types;     /* TY_* accepted; 0 means any */
    const char *type_names; /* the type list as Go joins it: "integer,string" */
    bool nullable;
    bool preserve_unknown; /* x-kubernetes-preserve-unknown-fields: true */
    bool embedded;         /* x-kubernetes-embedded-resource: true */
    bool int_or_string;

    struct sprop *props; /* sorted by name */
    size_t n_props;
    struct snode *items;
    enum addl_mode addl;
    struct snode *addl_schema;

    const json_t *required; /* array of strings or NULL */
    const json_t *enumv;    /* array or NULL */
    const json_t *def;      /* default or NULL */

    const char *pattern;
    regex_t re;
    bool has_re;

    bool has_min, has_max, excl_min, excl_max, has_mult, unique;
    double min, max, mult;
    int64_t min_len, max_len, min_items, max_items, min_props, max_props; /* -1: unset */
    const char *format; /* a supported format as written in the schema, or NULL */

    struct snode **all_of, **any_of, **one_of;
    size_t n_all_of, n_any_of, n_one_of;
    struct snode *not_;

    enum list_type list_type;
    const json_t *list_map_keys;
};

struct kl_schema {
    json_t *root_json; /* owned deep copy of the openAPIV3Schema */
    struct snode *root;
};

/* ---------------------------------------------------------------------------------------- */
/* ECMA-262 / RE2 pattern translation to POSIX ERE                                           */

/* Appends the POSIX bracket content for a class escape (\d, \w, \s) inside a bracket. */
static int class_in_bracket(struct cm_buf *b, char c)
{
    switch (c) {
    case 'd': return cm_buf_puts(b, "0-9");
    case 'w': return cm_buf_puts(b, "A-Za-z0-9_");
    case 's': return cm_buf_puts(b, "[:space:]");
    }
    return -EINVAL;
}

static int utf8_put(struct cm_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return cm_buf_append(b, u, n);
}

/* Parses a hex escape of exactly n digits at p. Returns the value or -1. */
static long hex_n(const char *p, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)p[i]))
            return -1;
        v = v * 16 + (isdigit((unsigned char)p[i]) ? p[i] - '0' : (tolower((unsigned char)p[i]) - 'a' + 10));
    }
    return v;
}

/* Translates one bracket expression starting after '[' at *pp. POSIX brackets treat backslash
 * literally and need ']' first and '-' last, so the items are collected and re-emitted in a
 * safe order. Returns 0 or -EINVAL. */
static int translate_bracket(const char **pp, struct cm_buf *out)
{
    const char *p = *pp;
    struct cm_buf items, classes;
    bool negate = false, has_rbracket = false, has_dash = false, has_caret = false;
    int r = 0;

    cm_buf_init(&items, 0);
    cm_buf_init(&classes, 0);
    if (*p == '^') {
        negate = true;
        p++;
    }
    bool first = true;
    while (*p && (*p != ']' || first)) { /* a leading ] is a literal, as in RE2 */
        unsigned char c;
        bool literal_set = false;
        first = false;
        if (*p == '[' && p[1] == ':') {
            const char *e = strstr(p + 2, ":]");
            if (!e) {
                r = -EINVAL;
                goto out;
            }
            r = cm_buf_append(&classes, p, (size_t)(e + 2 - p));
            p = e + 2;
            continue;
        }
        if (*p == '\\') {
            p++;
            if (!*p) {
                r = -EINVAL;
                goto out;
            }
            if (strchr("dws", *p)) {
                r = class_in_bracket(&classes, *p);
                p++;
                continue;
            }
            if (strchr("DWS", *p)) {
                /* A negated class inside a bracket has no POSIX equivalent. */
                r = -EINVAL;
                goto out;
            }
            if (*p == 'n') c = '\n';
            else if (*p == 't') c = '\t';
            else if (*p == 'r') c = '\r';
            else if (*p == 'u' && hex_n(p + 1, 4) >= 0) {
                long cp = hex_n(p + 1, 4);
                p += 5;
                if (cp >= 0x80) {
                    r = -EINVAL; /* non-ASCII in a bracket cannot be expressed byte-wise */
                    goto out;
                }
                c = (unsigned char)cp;
                literal_set = true;
                goto have_char;
            } else if (*p == 'x' && hex_n(p + 1, 2) >= 0) {
                c = (unsigned char)hex_n(p + 1, 2);
                p += 3;
                literal_set = true;
                goto have_char;
            } else if (isalnum((unsigned char)*p)) {
                r = -EINVAL;
                goto out;
            } else
                c = (unsigned char)*p;
            p++;
            literal_set = true;
        } else {
            c = (unsigned char)*p++;
        }
    have_char:
        (void)literal_set;
        /* A range a-z (the '-' not last) */
        if (*p == '-' && p[1] && p[1] != ']') {
            unsigned char hi;
            p++;
            if (*p == '\\') {
                p++;
                if (!*p || isalnum((unsigned char)*p)) {
                    r = -EINVAL;
                    goto out;
                }
            }
            hi = (unsigned char)*p++;
            if (hi < c) {
                r = -EINVAL;
                goto out;
            }
            /* Ranges are emitted as explicit pairs; ']' '-' '^' as endpoints are rare enough to
             * refuse rather than reorder. */
            if (c == ']' || hi == ']' || c == '-' || hi == '-' || c == '^' || c == '[' || hi == '[') {
                r = -EINVAL;
                goto out;
            }
            char rng[3] = {(char)c, '-', (char)hi};
            r = cm_buf_append(&items, rng, 3);
            if (r)
                goto out;
            continue;
        }
        if (c == ']')
            has_rbracket = true;
        else if (c == '-')
            has_dash = true;
        else if (c == '^')
            has_caret = true;
        else if (c == '[' && (*p == ':' || *p == '.' || *p == '='))
            r = cm_buf_puts(&items, "[");
        else
            r = cm_buf_append(&items, &c, 1);
        if (r)
            goto out;
    }
    if (*p != ']') {
        r = -EINVAL;
        goto out;
    }
    p++;
    r = cm_buf_puts(out, negate ? "[^" : "[");
    if (!r && has_rbracket)
        r = cm_buf_puts(out, "]");
    if (!r && items.len)
        r = cm_buf_append(out, items.data, items.len);
    if (!r && classes.len)
        r = cm_buf_append(out, classes.data, classes.len);
    if (!r && has_caret) {
        /* '^' must not come first: if nothing precedes it, it can only be alone. */
        if (!has_rbracket && !items.len && !classes.len && !has_dash && !negate) {
            cm_buf_reset(out);
            r = -EINVAL; /* caller re-emits as an escaped literal below */
        } else
            r = cm_buf_puts(out, "^");
    }
    if (!r && has_dash)
        r = cm_buf_puts(out, "-");
    if (!r && !has_rbracket && !items.len && !classes.len && !has_dash && !has_caret)
        r = -EINVAL; /* empty bracket */
    if (!r)
        r = cm_buf_puts(out, "]");
out:
    cm_buf_done(&items);
    cm_buf_done(&classes);
    *pp = p;
    return r;
}

/* Translates an ECMA-262/RE2 pattern into POSIX ERE. Returns a malloc'ed string or NULL when
 * the pattern uses a construct we cannot express (the caller reports it as invalid). */
static char *translate_pattern(const char *pat)
{
    struct cm_buf out;
    const char *p = pat;
    int r = 0;

    cm_buf_init(&out, 0);
    while (!r && *p) {
        char c = *p;
        if (c == '\\') {
            p++;
            switch (*p) {
            case 'd': r = cm_buf_puts(&out, "[0-9]"); break;
            case 'D': r = cm_buf_puts(&out, "[^0-9]"); break;
            case 'w': r = cm_buf_puts(&out, "[A-Za-z0-9_]"); break;
            case 'W': r = cm_buf_puts(&out, "[^A-Za-z0-9_]"); break;
            case 's': r = cm_buf_puts(&out, "[[:space:]]"); break;
            case 'S': r = cm_buf_puts(&out, "[^[:space:]]"); break;
            case 'n': r = cm_buf_puts(&out, "\n"); break;
            case 't': r = cm_buf_puts(&out, "\t"); break;
            case 'r': r = cm_buf_puts(&out, "\r"); break;
            case 'b': case 'B': r = cm_buf_puts(&out, (*p == 'b') ? "\\b" : "\\B"); break;
            case 'u': {
                long cp = hex_n(p + 1, 4);
                if (cp < 0) {
                    r = -EINVAL;
                    break;
                }
                p += 4;
                if (cp < 0x80 && strchr(".[]{}()\\*+?|^$", (int)cp))
                    r = cm_buf_printf(&out, "\\%c", (char)cp);
                else
                    r = utf8_put(&out, (unsigned long)cp);
                break;
            }
            case 'x': {
                long cp = hex_n(p + 1, 2);
                if (cp < 0) {
                    r = -EINVAL;
                    break;
                }
                p += 2;
                if (cp < 0x80 && strchr(".[]{}()\\*+?|^$", (int)cp))
                    r = cm_buf_printf(&out, "\\%c", (char)cp);
                else
                    r = utf8_put(&out, (unsigned long)cp);
                break;
            }
            case 0: r = -EINVAL; break;
            default:
                if (isalnum((unsigned char)*p)) {
                    r = -EINVAL; /* back-references, \p{..}, \A, \z: not supported */
                } else if (strchr(".[]{}()\\*+?|^$", *p)) {
                    char e[2] = {'\\', *p};
                    r = cm_buf_append(&out, e, 2);
                } else {
                    r = cm_buf_append(&out, p, 1); /* \/ \- \: ... are the literal */
                }
            }
            if (*p)
                p++;
            continue;
        }
        if (c == '[') {
            p++;
            r = translate_bracket(&p, &out);
            continue;
        }
        if (c == '(' && p[1] == '?') {
            if (p[2] == ':') {
                r = cm_buf_puts(&out, "(");
                p += 3;
                continue;
            }
            r = -EINVAL; /* look-around, named groups, flags */
            continue;
        }
        if ((c == '*' || c == '+' || c == '?' || c == '}') && p[1] == '?') {
            /* Non-greedy quantifiers match the same strings for a yes/no answer. */
            r = cm_buf_append(&out, p, 1);
            p += 2;
            continue;
        }
        r = cm_buf_append(&out, p, 1);
        p++;
    }
    if (r) {
        cm_buf_done(&out);
        return NULL;
    }
    return cm_buf_steal(&out);
}

/* ---------------------------------------------------------------------------------------- */
/* Compilation                                                                               */

static void node_free(struct snode *n);

static void node_free_list(struct snode **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        node_free(l[i]);
    free(l);
}

static void node_free(struct snode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_props; i++)
        node_free(n->props[i].node);
    free(n->props);
    node_free(n->items);
    node_free(n->addl_schema);
    node_free_list(n->all_of, n->n_all_of);
    node_free_list(n->any_of, n->n_any_of);
    node_free_list(n->one_of, n->n_one_of);
    node_free(n->not_);
    if (n->has_re)
        regfree(&n->re);
    free((char *)n->type_names);
    free(n);
}

static int cmp_prop(const void *a, const void *b)
{
    return strcmp(((const struct sprop *)a)->name, ((const struct sprop *)b)->name);
}

/* Formats supported for CRDs (apiextensions-apiserver pkg/apiserver/validation/formats.go);
 * every other format is stripped before validation, i.e. ignored, like int32 or int64. The
 * names are compared after removing '-', as the real server normalises them. */
static const char *const supported_formats[] = {
    "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid",
    "uuid3", "uuid4", "uuid5", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor",
    "rgbcolor", "byte", "password", "date", "duration", "datetime", NULL,
};

static bool format_normalized_eq(const char *a, const char *norm)
{
    for (;; a++) {
        if (*a == '-')
            continue;
        if (tolower((unsigned char)*a) != *norm)
            return false;
        if (!*a)
            return true;
        norm++;
    }
}

static const char *format_supported(const char *f)
{
    for (size_t i = 0; supported_formats[i]; i++)
        if (format_normalized_eq(f, supported_formats[i]))
            return supported_formats[i];
    return NULL;
}

static int64_t get_count(const json_t *s, const char *key)
{
    json_t *v = json_object_get(s, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) >= 0)
        return (int64_t)json_real_value(v);
    return -1;
}

static bool get_num(const json_t *s, const char *key, double *ret)
{
    json_t *v = json_object_get(s, key);
    if (!json_is_number(v))
        return false;
    *ret = json_number_value(v);
    return true;
}

static int node_compile(const json_t *s, struct snode **ret, char **ret_err, const char *where);

static int compile_list(const json_t *arr, struct snode ***ret_list, size_t *ret_n, char **ret_err,
                        const char *where)
{
    size_t n = json_array_size(arr);
    struct snode **l;

    *ret_list = NULL;
    *ret_n = 0;
    if (!json_is_array(arr) || n == 0)
        return 0;
    l = calloc(n, sizeof(*l));
    if (!l)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int r = node_compile(json_array_get(arr, i), &l[i], ret_err, where);
        if (r < 0) {
            node_free_list(l, i);
            return r;
        }
    }
    *ret_list = l;
    *ret_n = n;
    return 0;
}

static int node_compile(const json_t *s, struct snode **ret, char **ret_err, const char *where)
{
    struct snode *n;
    const char *t;
    json_t *v;
    int r = 0;

    if (!json_is_object(s)) {
        kl__set_err(ret_err, "%s: schema must be an object", where);
        return -EINVAL;
    }
    n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->raw = s;
    n->min_len = get_count(s, "minLength");
    n->max_len = get_count(s, "maxLength");
    n->min_items = get_count(s, "minItems");
    n->max_items = get_count(s, "maxItems");
    n->min_props = get_count(s, "minProperties");
    n->max_props = get_count(s, "maxProperties");

    n->int_or_string = json_is_true(json_object_get(s, "x-kubernetes-int-or-string"));
    t = json_string_value(json_object_get(s, "type"));
    if (n->int_or_string) {
        /* The real server turns x-kubernetes-int-or-string into type [integer, string]. */
        n->types = TY_INTEGER | TY_STRING;
        n->type_names = strdup("integer,string");
    } else if (t && *t) {
        if (!strcmp(t, "object")) n->types = TY_OBJECT;
        else if (!strcmp(t, "array")) n->types = TY_ARRAY;
        else if (!strcmp(t, "string")) n->types = TY_STRING;
        else if (!strcmp(t, "integer")) n->types = TY_INTEGER;
        else if (!strcmp(t, "number")) n->types = TY_NUMBER;
        else if (!strcmp(t, "boolean")) n->types = TY_BOOLEAN;
        else {
            kl__set_err(ret_err, "%s: unsupported type %s", where, t);
            r = -EINVAL;
            goto fail;
        }
        n->type_names = strdup(t);
    }
    if (n->types && !n->type_names) {
        r = -ENOMEM;
        goto fail;
    }
    n->nullable = json_is_true(json_object_get(s, "nullable"));
    n->preserve_unknown = json_is_true(json_object_get(s, "x-kubernetes-preserve-unknown-fields"));
    n->embedded = json_is_true(json_object_get(s, "x-kubernetes-embedded-resource"));

    v = json_object_get(s, "properties");
    if (json_is_object(v) && json_object_size(v)) {
        const char *k;
        json_t *ps;
        n->props = calloc(json_object_size(v), sizeof(*n->props));
        if (!n->props) {
            r = -ENOMEM;
            goto fail;
        }
        json_object_foreach(v, k, ps) {
            n->props[n->n_props].name = k;
            r = node_compile(ps, &n->props[n->n_props].node, ret_err, k);
            if (r < 0)
                goto fail;
            n->n_props++;
        }
        qsort(n->props, n->n_props, sizeof(*n->props), cmp_prop);
    }
    v = json_object_get(s, "items");
    if (json_is_object(v)) {
        r = node_compile(v, &n->items, ret_err, "items");
        if (r < 0)
            goto fail;
    }
    v = json_object_get(s, "additionalProperties");
    if (json_is_true(v))
        n->addl = ADDL_TRUE;
    else if (json_is_false(v))
        n->addl = ADDL_FALSE;
    else if (json_is_object(v)) {
        n->addl = ADDL_SCHEMA;
        r = node_compile(v, &n->addl_schema, ret_err, "additionalProperties");
        if (r < 0)
            goto fail;
    }
    v = json_object_get(s, "required");
    n->required = json_is_array(v) && json_array_size(v) ? v : NULL;
    v = json_object_get(s, "enum");
    n->enumv = json_is_array(v) ? v : NULL;
    n->def = json_object_get(s, "default");

    n->pattern = json_string_value(json_object_get(s, "pattern"));
    if (n->pattern && *n->pattern) {
        char *ere = translate_pattern(n->pattern);
        if (!ere || regcomp(&n->re, ere, REG_EXTENDED | REG_NOSUB) != 0) {
            free(ere);
            kl__set_err(ret_err, "%s: pattern %s is not supported by kube-lite", where, n->pattern);
            r = -EINVAL;
            goto fail;
        }
        free(ere);
        n->has_re = true;
    }
    n->has_min = get_num(s, "minimum", &n->min);
    n->has_max = get_num(s, "maximum", &n->max);
    n->excl_min = json_is_true(json_object_get(s, "exclusiveMinimum"));
    n->excl_max = json_is_true(json_object_get(s, "exclusiveMaximum"));
    n->has_mult = get_num(s, "multipleOf", &n->mult);
    n->unique = json_is_true(json_object_get(s, "uniqueItems"));
    t = json_string_value(json_object_get(s, "format"));
    n->format = t && format_supported(t) ? t : NULL;

    if ((r = compile_list(json_object_get(s, "allOf"), &n->all_of, &n->n_all_of, ret_err, "allOf")) < 0 ||
        (r = compile_list(json_object_get(s, "anyOf"), &n->any_of, &n->n_any_of, ret_err, "anyOf")) < 0 ||
        (r = compile_list(json_object_get(s, "oneOf"), &n->one_of, &n->n_one_of, ret_err, "oneOf")) < 0)
        goto fail;
    v = json_object_get(s, "not");
    if (json_is_object(v) && (r = node_compile(v, &n->not_, ret_err, "not")) < 0)
        goto fail;

    t = json_string_value(json_object_get(s, "x-kubernetes-list-type"));
    if (t && !strcmp(t, "atomic")) n->list_type = LIST_ATOMIC;
    else if (t && !strcmp(t, "set")) n->list_type = LIST_SET;
    else if (t && !strcmp(t, "map")) n->list_type = LIST_MAP;
    v = json_object_get(s, "x-kubernetes-list-map-keys");
    n->list_map_keys = json_is_array(v) ? v : NULL;

    *ret = n;
    return 0;
fail:
    node_free(n);
    return r;
}

int kl_schema_new(const json_t *openapi_v3_schema, struct kl_schema **ret_schema, char **ret_err)
{
    struct kl_schema *s;
    int r;

    if (!json_is_object(openapi_v3_schema)) {
        kl__set_err(ret_err, "openAPIV3Schema must be an object");
        return -EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->root_json = json_deep_copy(openapi_v3_schema);
    if (!s->root_json) {
        free(s);
        return -ENOMEM;
    }
    r = node_compile(s->root_json, &s->root, ret_err, "openAPIV3Schema");
    if (r < 0) {
        kl_schema_free(s);
        return r;
    }
    *ret_schema = s;
    return 0;
}

void kl_schema_free(struct kl_schema *schema)
{
    if (!schema)
        return;
    node_free(schema->root);
    json_decref(schema->root_json);
    free(schema);
}

static const struct snode *node_prop(const struct snode *n, const char *name)
{
    struct sprop key = {.name = name};
    const struct sprop *p;

    if (!n || !n->n_props)
        return NULL;
    p = bsearch(&key, n->props, n->n_props, sizeof(*n->props), cmp_prop);
    return p ? p->node : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Pruning (apiextensions-apiserver pkg/apiserver/schema/pruning/algorithm.go)               */

struct prune_ctx {
    json_t *unknown; /* array of paths of pruned fields, or NULL */
    struct cm_buf path;
};

static void prune(json_t *x, const struct snode *s, struct prune_ctx *c, bool root);

static void record_unknown(struct prune_ctx *c, const char *key)
{
    char *p;

    if (!c->unknown)
        return;
    if (c->path.len)
        p = kl__strdupf("%s.%s", c->path.data, key);
    else
        p = strdup(key);
    if (p)
        json_array_append_new(c->unknown, json_string(p));
    free(p);
}

/* The apiVersion/kind/metadata of an embedded resource (and of the root) are kept when they
 * have the right JSON type; the server validates them separately. */
static bool embedded_meta_kept(const char *k, const json_t *v)
{
    if (!strcmp(k, "apiVersion") || !strcmp(k, "kind"))
        return json_is_string(v);
    if (!strcmp(k, "metadata"))
        return json_is_object(v);
    return false;
}

static void skip_prune(json_t *x, const struct snode *s, struct prune_ctx *c, bool embedded_root)
{
    size_t saved = c->path.len;

    if (!s)
        return;
    if (json_is_object(x)) {
        const char *k;
        json_t *v;
        json_object_foreach(x, k, v) {
            const struct snode *p;
            if ((s->embedded || embedded_root) && embedded_meta_kept(k, v))
                continue;
            p = node_prop(s, k);
            if (!p && s->addl == ADDL_SCHEMA)
                p = s->addl_schema;
            if (!p)
                continue;
            cm_buf_printf(&c->path, "%s%s", saved ? "." : "", k);
            prune(v, p, c, false);
            c->path.len = saved;
            if (c->path.data)
                c->path.data[saved] = 0;
        }
    } else if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++) {
            cm_buf_printf(&c->path, "[%zu]", i);
            skip_prune(json_array_get(x, i), s->items, c, false);
            c->path.len = saved;
            if (c->path.data)
                c->path.data[saved] = 0;
        }
    }
}

static void prune(json_t *x, const struct snode *s, struct prune_ctx *c, bool root)
{
    size_t saved = c->path.len;

    if (s && s->preserve_unknown) {
        skip_prune(x, s, c, root);
        return;
    }
    if (json_is_object(x)) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(x, tmp, k, v) {
            const struct snode *p = NULL;
            if (s && (s->embedded || root) && embedded_meta_kept(k, v))
                continue;
            if (s) {
                p = node_prop(s, k);
                if (!p && (s->addl == ADDL_SCHEMA || s->addl == ADDL_TRUE)) {
                    /* additionalProperties: true has no schema: the value is kept but pruned
                     * like an unspecified node (Structural == nil). */
                    cm_buf_printf(&c->path, "%s%s", saved ? "." : "", k);
                    prune(v, s->addl_schema, c, false);
                    c->path.len = saved;
                    if (c->path.data)
                        c->path.data[saved] = 0;
                    continue;
                }
            }
            if (p) {
                cm_buf_printf(&c->path, "%s%s", saved ? "." : "", k);
                prune(v, p, c, false);
                c->path.len = saved;
                if (c->path.data)
                    c->path.data[saved] = 0;
                continue;
            }
            if (!(root && (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "metadata"))))
                record_unknown(c, k);
            json_object_del(x, k);
        }
    } else if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++) {
            cm_buf_printf(&c->path, "[%zu]", i);
            prune(json_array_get(x, i), s ? s->items : NULL, c, false);
            c->path.len = saved;
            if (c->path.data)
                c->path.data[saved] = 0;
        }
    }
}

void kl_schema_prune_report(const struct kl_schema *schema, json_t *obj, json_t *unknown_fields)
{
    struct prune_ctx c = {.unknown = json_is_array(unknown_fields) ? unknown_fields : NULL};

    if (!schema || !obj)
        return;
    cm_buf_init(&c.path, 0);
    prune(obj, schema->root, &c, true);
    cm_buf_done(&c.path);
}

void kl_schema_prune(const struct kl_schema *schema, json_t *obj)
{
    kl_schema_prune_report(schema, obj, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Defaulting (pkg/apiserver/schema/defaulting: prunenulls.go and algorithm.go)               */

static bool non_nullable_null(const json_t *x, const struct snode *s)
{
    return json_is_null(x) && s && !s->nullable;
}

/* PruneNonNullableNullsWithoutDefaults: a null for a non-nullable field without a default is
 * dropped, as if the field had not been sent. */
static void prune_nulls(json_t *x, const struct snode *s)
{
    if (!s)
        return;
    if (json_is_object(x)) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(x, tmp, k, v) {
            const struct snode *p = node_prop(s, k);
            if (!p && s->addl == ADDL_SCHEMA)
                p = s->addl_schema;
            if (!p)
                continue;
            if (json_is_null(v) && !p->nullable && !p->def)
                json_object_del(x, k);
            else
                prune_nulls(v, p);
        }
    } else if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++)
            prune_nulls(json_array_get(x, i), s->items);
    }
}

static void apply_defaults(json_t *x, const struct snode *s)
{
    if (!s)
        return;
    if (json_is_object(x)) {
        const char *k;
        json_t *v;
        for (size_t i = 0; i < s->n_props; i++) {
            const struct snode *p = s->props[i].node;
            json_t *cur;
            if (!p->def)
                continue;
            cur = json_object_get(x, s->props[i].name);
            if (!cur || non_nullable_null(cur, p))
                json_object_set_new(x, s->props[i].name, json_deep_copy(p->def));
        }
        json_object_foreach(x, k, v) {
            const struct snode *p = node_prop(s, k);
            if (p) {
                apply_defaults(v, p);
            } else if (s->addl == ADDL_SCHEMA) {
                if (non_nullable_null(v, s->addl_schema) && s->addl_schema->def) {
                    /* The real code defaults the new value but recurses into the old null. */
                    json_object_set_new(x, k, json_deep_copy(s->addl_schema->def));
                    continue;
                }
                apply_defaults(v, s->addl_schema);
            }
        }
    } else if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++) {
            json_t *v = json_array_get(x, i);
            if (non_nullable_null(v, s->items) && s->items->def) {
                json_array_set_new(x, i, json_deep_copy(s->items->def));
                continue;
            }
            apply_defaults(v, s->items);
        }
    }
}

void kl_schema_default(const struct kl_schema *schema, json_t *obj)
{
    if (!schema || !obj)
        return;
    prune_nulls(obj, schema->root);
    apply_defaults(obj, schema->root);
}

/* ---------------------------------------------------------------------------------------- */
/* Formats (kube-openapi pkg/validation/strfmt, as registered in strfmt.Default)             */

static bool all_match(const char *s, const char *ere, int flags)
{
    regex_t re;
    bool ok;

    if (regcomp(&re, ere, REG_EXTENDED | REG_NOSUB | flags) != 0)
        return false;
    ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static bool is_date(const char *s)
{
    int y, m, d, n = 0;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return false;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    return true;
}

/* strfmt.IsDateTime: a valid date, a 't' (any case), then hh:mm:ss[.frac](z|+hh:mm). */
static bool is_datetime(const char *s)
{
    char *low = strdup(s), *t;
    bool ok = false;

    if (!low || strlen(s) < 4)
        goto out;
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    t = strchr(low, 't');
    if (!t || strchr(t + 1, 't'))
        goto out;
    *t = 0;
    if (!is_date(low))
        goto out;
    t++;
    if (!all_match(t, "^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$", 0))
        goto out;
    ok = strncmp(t, "23", 2) <= 0 && strncmp(t + 3, "59", 2) <= 0 && strncmp(t + 6, "59", 2) <= 0;
out:
    free(low);
    return ok;
}

/* Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0". */
static bool is_go_duration(const char *s)
{
    static const char *const units[] = {"ns", "us", "\xc2\xb5s", "\xce\xbcs", "ms", "s", "m", "h", NULL};

    if (*s == '-' || *s == '+')
        s++;
    if (!strcmp(s, "0"))
        return true;
    if (!*s)
        return false;
    while (*s) {
        bool digits = false;
        while (isdigit((unsigned char)*s)) {
            s++;
            digits = true;
        }
        if (*s == '.') {
            s++;
            while (isdigit((unsigned char)*s)) {
                s++;
                digits = true;
            }
        }
        if (!digits)
            return false;
        size_t best = 0;
        for (size_t i = 0; units[i]; i++) {
            size_t l = strlen(units[i]);
            if (!strncmp(s, units[i], l) && l > best &&
                !(l == 1 && units[i][0] == 'm' && s[1] == 's'))
                best = l;
        }
        if (!best)
            return false;
        s += best;
    }
    return true;
}

/* strfmt.ParseDuration's fallback: any "<digits> <unit>" substring with a known unit. */
static bool is_duration(const char *s)
{
    static const char *const units[][4] = {
        {"ns", "nano", NULL}, {"us", "\xc2\xb5s", "micro", NULL}, {"ms", "milli", NULL},
        {"s", "sec", NULL},   {"m", "min", NULL},                 {"h", "hr", "hour", NULL},
        {"d", "day", NULL},   {"w", "wk", "week", NULL},
    };

    if (is_go_duration(s))
        return true;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > s && isdigit((unsigned char)p[-1])))
            continue;
        const char *q = p;
        while (isdigit((unsigned char)*q))
            q++;
        while (isspace((unsigned char)*q))
            q++;
        const char *u = q;
        while (isalpha((unsigned char)*q) || (unsigned char)*q >= 0x80)
            q++;
        if (q == u)
            continue;
        char unit[32];
        size_t l = (size_t)(q - u) < sizeof(unit) - 1 ? (size_t)(q - u) : sizeof(unit) - 1;
        for (size_t i = 0; i < l; i++)
            unit[i] = (char)tolower((unsigned char)u[i]);
        unit[l] = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t last = 0;
            while (units[i][last + 1])
                last++;
            for (size_t j = 0; units[i][j]; j++) {
                if (!strcmp(unit, units[i][j]) ||
                    (j == last && !strncmp(unit, units[i][j], strlen(units[i][j]))))
                    return true;
            }
        }
    }
    return false;
}

static bool is_hostname(const char *s)
{
    /* strfmt.HostnamePattern with \p{S}\p{L} reduced to ASCII letters/digits. */
    static const char *pat =
        "^([a-zA-Z0-9]((-?[a-zA-Z0-9]{0,62})?)|([a-zA-Z0-9](([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)"
        "(\\.)){1,}([a-zA-Z0-9])(-?[a-zA-Z0-9]){1,62})$";
    if (!all_match(s, pat, 0) || strlen(s) > 255)
        return false;
    for (const char *p = s; *p;) {
        const char *e = strchr(p, '.');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > 63)
            return false;
        p += l + (e ? 1 : 0);
        if (!e)
            break;
    }
    return true;
}

static bool is_ip(const char *s, int af)
{
    unsigned char buf[16];
    if (af == AF_INET && !strchr(s, '.'))
        return false;
    if (af == AF_INET6 && !strchr(s, ':'))
        return false;
    if (af == AF_INET6 && inet_pton(AF_INET, s, buf) == 1)
        return false;
    return inet_pton(af, s, buf) == 1;
}

static bool is_cidr(const char *s)
{
    const char *slash = strchr(s, '/');
    char addr[64];
    char *end;
    long bits;
    bool v6;

    if (!slash || (size_t)(slash - s) >= sizeof(addr) || !slash[1])
        return false;
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = 0;
    v6 = strchr(addr, ':') != NULL;
    if (!is_ip(addr, v6 ? AF_INET6 : AF_INET))
        return false;
    for (const char *p = slash + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    bits = strtol(slash + 1, &end, 10);
    return bits <= (v6 ? 128 : 32) && !(slash[1] == '0' && slash[2]);
}

static bool is_mac(const char *s)
{
    return all_match(s, "^([0-9a-fA-F]{2}[:-]){5}([0-9a-fA-F]{2})$", 0) ||
           all_match(s, "^([0-9a-fA-F]{2}[:-]){7}([0-9a-fA-F]{2})$", 0) ||
           all_match(s, "^([0-9a-fA-F]{2}[:-]){19}([0-9a-fA-F]{2})$", 0) ||
           all_match(s, "^([0-9a-fA-F]{4}\\.){2}([0-9a-fA-F]{4})$", 0) ||
           all_match(s, "^([0-9a-fA-F]{4}\\.){3}([0-9a-fA-F]{4})$", 0) ||
           all_match(s, "^([0-9a-fA-F]{4}\\.){9}([0-9a-fA-F]{4})$", 0);
}

static bool is_isbn10(const char *s)
{
    int sum = 0, n = 0;
    for (; *s; s++) {
        if (*s == '-' || *s == ' ')
            continue;
        if (n < 9 && isdigit((unsigned char)*s))
            sum += (*s - '0') * (10 - n);
        else if (n == 9 && (isdigit((unsigned char)*s) || *s == 'X'))
            sum += *s == 'X' ? 10 : *s - '0';
        else
            return false;
        n++;
    }
    return n == 10 && sum % 11 == 0;
}

static bool is_isbn13(const char *s)
{
    int sum = 0, n = 0;
    for (; *s; s++) {
        if (*s == '-' || *s == ' ')
            continue;
        if (!isdigit((unsigned char)*s) || n >= 13)
            return false;
        sum += (*s - '0') * ((n % 2) ? 3 : 1);
        n++;
    }
    return n == 13 && sum % 10 == 0;
}

static bool is_creditcard(const char *s)
{
    char digits[64];
    size_t n = 0;
    int sum = 0;

    for (; *s; s++) {
        if (isdigit((unsigned char)*s)) {
            if (n + 1 >= sizeof(digits))
                return false;
            digits[n++] = *s;
        }
    }
    digits[n] = 0;
    if (!all_match(digits, "^(4[0-9]{12}([0-9]{3})?|5[1-5][0-9]{14}|(222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[0-9]{12}|6(011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(0[0-5]|[68][0-9])[0-9]{11}|(2131|1800|35[0-9]{3})[0-9]{11}|6[27][0-9]{14})$", 0))
        return false;
    for (size_t i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (i % 2) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

static bool is_base64(const char *s)
{
    return all_match(s, "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$", 0);
}

static bool is_email(const char *s)
{
    /* net/mail.ParseAddress, simplified: an optional display name with <addr>, and an
     * addr-spec local@domain without spaces. */
    const char *lt = strchr(s, '<');
    char *addr;
    bool ok;

    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1])
            return false;
        addr = strndup(lt + 1, (size_t)(gt - lt - 1));
    } else
        addr = strdup(s);
    if (!addr)
        return false;
    ok = all_match(addr, "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+$", 0) &&
         addr[0] != '.' && !strstr(addr, "..") && strchr(addr, '@')[1] != '.';
    free(addr);
    return ok;
}

static bool is_uri(const char *s)
{
    /* url.ParseRequestURI: an absolute URI (scheme:...) or an absolute path, no spaces or
     * control characters. */
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    if (*s == '/')
        return true;
    return all_match(s, "^[A-Za-z][A-Za-z0-9+.-]*:", 0) && !all_match(s, "^[A-Za-z][A-Za-z0-9+.-]*:$", 0);
}

static bool format_valid(const char *norm, const char *s)
{
    if (!strcmp(norm, "password")) return true;
    if (!strcmp(norm, "date")) return is_date(s);
    if (!strcmp(norm, "datetime")) return is_datetime(s);
    if (!strcmp(norm, "duration")) return is_duration(s);
    if (!strcmp(norm, "byte")) return is_base64(s);
    if (!strcmp(norm, "hostname")) return is_hostname(s);
    if (!strcmp(norm, "ipv4")) return is_ip(s, AF_INET);
    if (!strcmp(norm, "ipv6")) return is_ip(s, AF_INET6);
    if (!strcmp(norm, "cidr")) return is_cidr(s);
    if (!strcmp(norm, "mac")) return is_mac(s);
    if (!strcmp(norm, "email")) return is_email(s);
    if (!strcmp(norm, "uri")) return is_uri(s);
    if (!strcmp(norm, "bsonobjectid")) return all_match(s, "^[0-9a-fA-F]{24}$", 0);
    if (!strcmp(norm, "uuid"))
        return all_match(s, "^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", REG_ICASE);
    if (!strcmp(norm, "uuid3"))
        return all_match(s, "^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$", REG_ICASE);
    if (!strcmp(norm, "uuid4"))
        return all_match(s, "^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", REG_ICASE);
    if (!strcmp(norm, "uuid5"))
        return all_match(s, "^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", REG_ICASE);
    if (!strcmp(norm, "isbn")) return is_isbn10(s) || is_isbn13(s);
    if (!strcmp(norm, "isbn10")) return is_isbn10(s);
    if (!strcmp(norm, "isbn13")) return is_isbn13(s);
    if (!strcmp(norm, "creditcard")) return is_creditcard(s);
    if (!strcmp(norm, "ssn")) return all_match(s, "^[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}$", 0);
    if (!strcmp(norm, "hexcolor")) return all_match(s, "^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", 0);
    if (!strcmp(norm, "rgbcolor")) {
        static const char *oct = "(0|[1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5])";
        char *pat = kl__strdupf("^rgb\\([[:space:]]*%s[[:space:]]*,[[:space:]]*%s[[:space:]]*,"
                                "[[:space:]]*%s[[:space:]]*\\)$", oct, oct, oct);
        bool ok = pat && all_match(s, pat, 0);
        free(pat);
        return ok;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Validation (kube-openapi pkg/validation/validate + kubeOpenAPIResultToFieldErrors)         */

/* One validation run: where causes go. */
struct vctx {
    json_t *causes; /* never NULL inside the validator */
};

/* The field of a cause: the kube-openapi error name with a leading '.' removed; "<nil>" for
 * errors that have no name (the anyOf/oneOf/allOf/not summaries), as the real server prints a
 * nil *field.Path. */
static int add_cause(struct vctx *c, const char *reason, struct cm_buf *msg, const char *path)
{
    const char *field = path;
    int r;

    if (field && *field == '.')
        field++;
    r = kl__cause_add(c->causes, reason, msg->data ? msg->data : "", field);
    cm_buf_done(msg);
    return r;
}

/* "Invalid value: <v>: <detail>" with a FieldValueInvalid / FieldValueTypeInvalid reason. */
static int add_invalid(struct vctx *c, const char *reason, const json_t *bad, const char *bad_str,
                       const char *path, const char *detail_fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int add_invalid(struct vctx *c, const char *reason, const json_t *bad, const char *bad_str,
                       const char *path, const char *detail_fmt, ...)
{
    struct cm_buf m;
    va_list ap;

    cm_buf_init(&m, 0);
    cm_buf_puts(&m, "Invalid value: ");
    if (bad)
        kl__go_value(&m, bad);
    else
        kl__go_quote(&m, bad_str ? bad_str : "", strlen(bad_str ? bad_str : ""));
    cm_buf_puts(&m, ": ");
    va_start(ap, detail_fmt);
    cm_buf_vprintf(&m, detail_fmt, ap);
    va_end(ap);
    return add_cause(c, reason, &m, path);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static unsigned json_ty(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return TY_OBJECT;
    case JSON_ARRAY: return TY_ARRAY;
    case JSON_STRING: return TY_STRING;
    case JSON_INTEGER: return TY_INTEGER;
    case JSON_REAL: return TY_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE: return TY_BOOLEAN;
    default: return 0;
    }
}

static bool real_is_int(double f)
{
    return isfinite(f) && f == trunc(f) && fabs(f) < 9.2e18;
}

/* The message subject: kube-openapi prints "<name> in body ..." (name may be empty). */
static const char *subj(const char *path)
{
    return path ? path : "";
}

/* Go %v of a limit that kube-openapi holds as float64 (or int64 after truncation for integer
 * data), into a caller buffer. */
static void fmt_limit(struct cm_buf *b, double v, bool as_int)
{
    if (as_int)
        cm_buf_printf(b, "%lld", (long long)(int64_t)v);
    else
        kl__go_float(b, v);
}

/* swag.IsFloat64AJSONInteger, for multipleOf on floats. */
static bool float_is_json_integer(double f)
{
    double g, diff;
    if (!isfinite(f) || f < -9007199254740991.0 || f > 9007199254740991.0)
        return false;
    g = trunc(f);
    if (f == g)
        return true;
    diff = fabs(f - g);
    return diff / fmin(fabs(f) + fabs(g), 1.7976931348623157e308) < 1e-9;
}

static bool enum_equal(const json_t *data, const json_t *ev)
{
    /* kube-openapi compares after converting the data to the enum value's Go type. */
    if (json_is_number(data) && json_is_number(ev)) {
        if (json_is_integer(ev))
            return json_is_integer(data)
                       ? json_integer_value(data) == json_integer_value(ev)
                       : (int64_t)json_real_value(data) == json_integer_value(ev);
        return json_number_value(data) == json_real_value(ev);
    }
    return json_equal((json_t *)data, (json_t *)ev);
}

static int validate_node(struct vctx *c, const struct snode *s, const json_t *x, const char *path);

static char *child_path(const char *path, const char *key)
{
    return path && *path ? kl__strdupf("%s.%s", path, key) : strdup(key);
}

/* Validates x against sub-schemas into a scratch list of causes; returns how many. */
static size_t validate_into(const struct snode *s, const json_t *x, const char *path, json_t **ret)
{
    struct vctx sub = {.causes = json_array()};
    if (!sub.causes) {
        *ret = NULL;
        return 1;
    }
    validate_node(&sub, s, x, path);
    *ret = sub.causes;
    return json_array_size(sub.causes);
}

static void merge_causes(struct vctx *c, json_t *from)
{
    if (from)
        json_array_extend(c->causes, from);
}

static void summary(struct vctx *c, const char *fmt_, const char *path, const char *extra)
{
    struct cm_buf m, q;
    cm_buf_init(&m, 0);
    cm_buf_init(&q, 0);
    kl__go_quote(&q, subj(path), strlen(subj(path)));
    cm_buf_puts(&m, "Invalid value: \"\": ");
    cm_buf_printf(&m, fmt_, q.data, extra ? extra : "");
    cm_buf_done(&q);
    kl__cause_add(c->causes, "FieldValueInvalid", m.data, "<nil>");
    cm_buf_done(&m);
}

static void validate_props(struct vctx *c, const struct snode *s, const json_t *x, const char *path)
{
    /* anyOf: valid when one branch is; otherwise the summary plus one branch's errors. */
    if (s->n_any_of) {
        json_t *best = NULL;
        size_t best_n = SIZE_MAX;
        bool ok = false;
        for (size_t i = 0; i < s->n_any_of && !ok; i++) {
            json_t *r;
            size_t n = validate_into(s->any_of[i], x, path, &r);
            if (n == 0) {
                ok = true;
                json_decref(best);
                best = NULL;
            } else if (n < best_n) {
                json_decref(best);
                best = r;
                best_n = n;
                r = NULL;
            }
            json_decref(r);
        }
        if (!ok) {
            summary(c, "%s must validate at least one schema (anyOf)", path, NULL);
            merge_causes(c, best);
        }
        json_decref(best);
    }
    if (s->n_one_of) {
        json_t *best = NULL;
        size_t best_n = SIZE_MAX, valid = 0;
        for (size_t i = 0; i < s->n_one_of; i++) {
            json_t *r;
            size_t n = validate_into(s->one_of[i], x, path, &r);
            if (n == 0) {
                valid++;
                json_decref(best);
                best = NULL;
            } else if (valid == 0 && n < best_n) {
                json_decref(best);
                best = r;
                best_n = n;
                r = NULL;
            }
            json_decref(r);
        }
        if (valid != 1) {
            char extra[64];
            if (valid == 0)
                snprintf(extra, sizeof(extra), "Found none valid");
            else
                snprintf(extra, sizeof(extra), "Found %zu valid alternatives", valid);
            summary(c, "%s must validate one and only one schema (oneOf). %s", path, extra);
            merge_causes(c, best);
        }
        json_decref(best);
    }
    if (s->n_all_of) {
        size_t valid = 0;
        for (size_t i = 0; i < s->n_all_of; i++) {
            json_t *r;
            if (validate_into(s->all_of[i], x, path, &r) == 0)
                valid++;
            merge_causes(c, r);
            json_decref(r);
        }
        if (valid != s->n_all_of)
            summary(c, "%s must validate all the schemas (allOf)%s", path, valid == 0 ? ". None validated" : "");
    }
    if (s->not_) {
        json_t *r;
        if (validate_into(s->not_, x, path, &r) == 0)
            summary(c, "%s must not validate the schema (not)", path, NULL);
        json_decref(r);
    }
}

/* kube-openapi's string validator stops at the first failing check of a node, so a too-long
 * value is not also reported for its pattern. */
static void validate_string(struct vctx *c, const struct snode *s, const json_t *x, const char *path)
{
    const char *str = json_string_value(x);
    size_t len = json_string_length(x);
    int64_t runes = (int64_t)kl__utf8_runes(str, len);

    if (s->max_len >= 0 && runes > s->max_len) {
        struct cm_buf m;
        cm_buf_init(&m, 0);
        cm_buf_printf(&m, "Too long: may not be more than %lld %s", (long long)s->max_len,
                      s->max_len == 1 ? "byte" : "bytes");
        add_cause(c, "FieldValueTooLong", &m, path);
        return;
    }
    if (s->min_len >= 0 && runes < s->min_len) {
        add_invalid(c, "FieldValueInvalid", x, NULL, path, "%s in body should be at least %lld chars long",
                    subj(path), (long long)s->min_len);
        return;
    }
    if (s->has_re && (memchr(str, 0, len) || regexec(&s->re, str, 0, NULL, 0) != 0)) {
        add_invalid(c, "FieldValueInvalid", x, NULL, path, "%s in body should match '%s'", subj(path),
                    s->pattern);
        return;
    }
}

static void validate_number(struct vctx *c, const struct snode *s, const json_t *x, const char *path)
{
    bool is_int = json_is_integer(x);
    int64_t iv = is_int ? json_integer_value(x) : 0;
    double fv = json_number_value(x);
    struct cm_buf lim;

    cm_buf_init(&lim, 0);
    if (s->has_mult) {
        bool bad;
        bool int_path = is_int && (int64_t)s->mult != 0;
        if (s->mult < 0) {
            cm_buf_reset(&lim);
            fmt_limit(&lim, s->mult, is_int);
            add_invalid(c, "FieldValueInvalid", x, NULL, path,
                        "factor MultipleOf declared for %s must be positive: %s", subj(path), lim.data);
        } else {
            if (int_path)
                bad = iv % (int64_t)s->mult != 0;
            else
                bad = !float_is_json_integer(s->mult < 1 ? 1 / s->mult * fv : fv / s->mult);
            if (bad) {
                cm_buf_reset(&lim);
                fmt_limit(&lim, s->mult, int_path);
                add_invalid(c, "FieldValueInvalid", x, NULL, path, "%s in body should be a multiple of %s",
                            subj(path), lim.data);
            }
        }
    }
    if (s->has_min) {
        bool bad = is_int ? (s->excl_min ? iv <= (int64_t)s->min : iv < (int64_t)s->min)
                          : (s->excl_min ? fv <= s->min : fv < s->min);
        if (bad) {
            cm_buf_reset(&lim);
            fmt_limit(&lim, s->min, is_int);
            add_invalid(c, "FieldValueInvalid", x, NULL, path, "%s in body should be greater than %s%s",
                        subj(path), s->excl_min ? "" : "or equal to ", lim.data);
        }
    }
    if (s->has_max) {
        bool bad = is_int ? (s->excl_max ? iv >= (int64_t)s->max : iv > (int64_t)s->max)
                          : (s->excl_max ? fv >= s->max : fv > s->max);
        if (bad) {
            cm_buf_reset(&lim);
            fmt_limit(&lim, s->max, is_int);
            add_invalid(c, "FieldValueInvalid", x, NULL, path, "%s in body should be less than %s%s",
                        subj(path), s->excl_max ? "" : "or equal to ", lim.data);
        }
    }
    cm_buf_done(&lim);
}

static void validate_array(struct vctx *c, const struct snode *s, const json_t *x, const char *path)
{
    size_t n = json_array_size(x);

    if (s->items) {
        for (size_t i = 0; i < n; i++) {
            char *p = kl__strdupf("%s[%zu]", subj(path), i);
            if (!p)
                continue;
            validate_node(c, s->items, json_array_get(x, i), p);
            free(p);
        }
    }
    if (s->min_items >= 0 && (int64_t)n < s->min_items) {
        json_t *size = json_integer((json_int_t)n);
        add_invalid(c, "FieldValueInvalid", size, NULL, path, "%s in body should have at least %lld items",
                    subj(path), (long long)s->min_items);
        json_decref(size);
    }
    if (s->max_items >= 0 && (int64_t)n > s->max_items) {
        struct cm_buf m;
        cm_buf_init(&m, 0);
        cm_buf_printf(&m, "Too many: %zu: must have at most %lld %s", n, (long long)s->max_items,
                      s->max_items == 1 ? "item" : "items");
        add_cause(c, "FieldValueTooMany", &m, path);
    }
    if (s->unique) {
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            for (size_t j = 0; j < i && !dup; j++)
                dup = json_equal(json_array_get(x, i), json_array_get(x, j));
        if (dup)
            add_invalid(c, "FieldValueInvalid", NULL, "", path, "%s in body shouldn't contain duplicates",
                        subj(path));
    }
}

static void validate_enum(struct vctx *c, const struct snode *s, const json_t *x, const char *path)
{
    struct cm_buf m;
    size_t n = json_array_size(s->enumv);

    if (!s->enumv || n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (x && enum_equal(x, json_array_get(s->enumv, i)))
            return;
    cm_buf_init(&m, 0);
    cm_buf_puts(&m, "Unsupported value: ");
    kl__go_value(&m, x);
    cm_buf_puts(&m, ": supported values: ");
    for (size_t i = 0; i < n; i++) {
        const json_t *ev = json_array_get(s->enumv, i);
        if (i)
            cm_buf_puts(&m, ", ");
        /* Strings are quoted as they are; other values as their JSON text, quoted. */
        if (json_is_string(ev)) {
            kl__go_quote(&m, json_string_value(ev), json_string_length(ev));
        } else {
            struct cm_buf j;
            cm_buf_init(&j, 0);
            kl__go_json(&j, ev);
            kl__go_quote(&m, j.data ? j.data : "", j.len);
            cm_buf_done(&j);
        }
    }
    add_cause(c, "FieldValueNotSupported", &m, path);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void validate_object(struct vctx *c, const struct snode *s, const json_t *x, const char *path)
{
    size_t nk = json_object_size(x), k = 0;
    const char **keys;
    const char *key;
    json_t *v;

    if (s->min_props >= 0 && (int64_t)nk < s->min_props) {
        json_t *cnt = json_integer((json_int_t)nk);
        add_invalid(c, "FieldValueInvalid", cnt, NULL, path, "%s in body should have at least %lld properties",
                    subj(path), (long long)s->min_props);
        json_decref(cnt);
        return;
    }
    if (s->max_props >= 0 && (int64_t)nk > s->max_props) {
        struct cm_buf m;
        cm_buf_init(&m, 0);
        cm_buf_printf(&m, "Too many: %zu: must have at most %lld %s", nk, (long long)s->max_props,
                      s->max_props == 1 ? "item" : "items");
        add_cause(c, "FieldValueTooMany", &m, path);
        return;
    }
    keys = calloc(nk ? nk : 1, sizeof(*keys));
    if (!keys)
        return;
    json_object_foreach((json_t *)x, key, v) keys[k++] = key;
    qsort(keys, nk, sizeof(*keys), cmp_cstr);

    if (s->addl == ADDL_FALSE) {
        for (size_t i = 0; i < nk; i++) {
            if (node_prop(s, keys[i]))
                continue;
            json_t *kv = json_string(keys[i]);
            add_invalid(c, "FieldValueInvalid", kv, NULL, path, "%s.%s in body is a forbidden property",
                        subj(path), keys[i]);
            json_decref(kv);
        }
    } else if (s->addl == ADDL_SCHEMA) {
        for (size_t i = 0; i < nk; i++) {
            if (node_prop(s, keys[i]))
                continue;
            /* kube-openapi names additional properties o.Path + "." + key, also at the root. */
            char *p = kl__strdupf("%s.%s", subj(path), keys[i]);
            if (p)
                validate_node(c, s->addl_schema, json_object_get(x, keys[i]), p);
            free(p);
        }
    }
    for (size_t i = 0; i < s->n_props; i++) {
        json_t *pv = json_object_get(x, s->props[i].name);
        if (!pv)
            continue;
        char *p = child_path(path, s->props[i].name);
        if (p)
            validate_node(c, s->props[i].node, pv, p);
        free(p);
    }
    for (size_t i = 0; i < json_array_size(s->required); i++) {
        const char *rk = json_string_value(json_array_get(s->required, i));
        if (!rk || json_object_get(x, rk))
            continue;
        char *p = kl__strdupf("%s.%s", subj(path), rk);
        struct cm_buf m;
        cm_buf_init(&m, 0);
        cm_buf_puts(&m, "Required value");
        if (p)
            add_cause(c, "FieldValueRequired", &m, p);
        else
            cm_buf_done(&m);
        free(p);
    }
    free(keys);
}

static int validate_node(struct vctx *c, const struct snode *s, const json_t *x, const char *path)
{
    unsigned xt;

    if (!s)
        return 0;
    if (json_is_null(x)) {
        if (s->types && !s->nullable) {
            json_t *nul = json_string("null");
            add_invalid(c, "FieldValueTypeInvalid", nul, NULL, path, "%s in body must be of type %s: \"null\"",
                        subj(path), s->type_names);
            json_decref(nul);
        }
        validate_enum(c, s, x, path);
        return 0;
    }
    xt = json_ty(x);
    /* typeValidator */
    if (s->types || s->format) {
        bool float_int = xt == TY_NUMBER && real_is_int(json_real_value(x)) && (s->types & TY_INTEGER);
        bool int_float = xt == TY_INTEGER && (s->types & TY_NUMBER);
        const char *fmt_raw = json_string_value(json_object_get(s->raw, "format"));
        bool skip = false;
        if (fmt_raw && s->format && xt != TY_STRING && xt != TY_ARRAY &&
            !((s->types & xt) || float_int || int_float)) {
            /* A string format on a non-string value: kube-openapi reports the format. */
            const char *dfmt = xt == TY_INTEGER ? "int64" : xt == TY_NUMBER ? "float64" : "";
            json_t *dv = json_string(dfmt);
            add_invalid(c, "FieldValueTypeInvalid", dv, NULL, path, "%s in body must be of type %s: \"%s\"",
                        subj(path), fmt_raw, dfmt);
            json_decref(dv);
            skip = true;
        }
        if (!skip && !(s->types & (TY_NUMBER | TY_INTEGER)) && s->format &&
            (xt == TY_STRING || xt == TY_ARRAY))
            skip = true;
        if (!skip && !((s->types & xt) || float_int || int_float)) {
            json_t *tv = json_string(json_kind(x));
            add_invalid(c, "FieldValueTypeInvalid", tv, NULL, path, "%s in body must be of type %s: \"%s\"",
                        subj(path), s->type_names, json_kind(x));
            json_decref(tv);
        }
    }
    validate_props(c, s, x, path);
    if (xt == TY_STRING) {
        validate_string(c, s, x, path);
        if (s->format && !format_valid(format_supported(s->format), json_string_value(x))) {
            struct cm_buf q;
            cm_buf_init(&q, 0);
            kl__go_quote(&q, json_string_value(x), json_string_length(x));
            add_invalid(c, "FieldValueTypeInvalid", x, NULL, path, "%s in body must be of type %s: %s",
                        subj(path), s->format, q.data ? q.data : "");
            cm_buf_done(&q);
        }
    }
    if (xt == TY_INTEGER || xt == TY_NUMBER)
        validate_number(c, s, x, path);
    if (xt == TY_ARRAY)
        validate_array(c, s, x, path);
    validate_enum(c, s, x, path);
    if (xt == TY_OBJECT)
        validate_object(c, s, x, path);
    return 0;
}

/* x-kubernetes-list-type set/map (pkg/apiserver/schema/listtype/validation.go) and the
 * apiVersion/kind of x-kubernetes-embedded-resource objects (schema/objectmeta/validation.go). */
static void add_duplicate(struct vctx *c, const json_t *bad, const char *path)
{
    struct cm_buf m;
    cm_buf_init(&m, 0);
    cm_buf_puts(&m, "Duplicate value: ");
    kl__go_value(&m, bad);
    add_cause(c, "FieldValueDuplicate", &m, path);
}

static bool list_map_key_equal(const json_t *a, const json_t *b, const struct snode *s)
{
    for (size_t k = 0; k < json_array_size(s->list_map_keys); k++) {
        const char *key = json_string_value(json_array_get(s->list_map_keys, k));
        const struct snode *ks = node_prop(s->items, key);
        const json_t *va = json_object_get(a, key), *vb = json_object_get(b, key);
        /* A missing key takes the key field's default, else it is "unspecified" (equal to
         * other unspecified keys). */
        if (!va && ks)
            va = ks->def;
        if (!vb && ks)
            vb = ks->def;
        if (!va || !vb) {
            if (va != vb)
                return false;
            continue;
        }
        if (!json_equal((json_t *)va, (json_t *)vb))
            return false;
    }
    return true;
}

static void validate_lists(struct vctx *c, const struct snode *s, const json_t *x, const char *path);

static void validate_list_type(struct vctx *c, const struct snode *s, const json_t *x, const char *path)
{
    size_t n = json_array_size(x);

    if (s->list_type == LIST_SET && n > 1) {
        for (size_t i = 0; i < n; i++) {
            size_t seen = 0;
            for (size_t j = 0; j < i; j++)
                if (json_equal(json_array_get(x, i), json_array_get(x, j)))
                    seen++;
            /* The real code reports an index the first time a value is seen again. */
            if (seen == 1) {
                char *p = kl__strdupf("%s[%zu]", subj(path), i);
                if (p)
                    add_duplicate(c, json_array_get(x, i), p);
                free(p);
            }
        }
    } else if (s->list_type == LIST_MAP) {
        for (size_t i = 0; i < n; i++) {
            const json_t *it = json_array_get(x, i);
            if (!json_is_object(it) && !json_is_null(it)) {
                char *p = kl__strdupf("%s[%zu]", subj(path), i);
                if (p)
                    add_invalid(c, "FieldValueInvalid", it, NULL, p,
                                "must be an object for an array of list-type map");
                free(p);
                return;
            }
        }
        for (size_t i = 0; n > 1 && i < n; i++) {
            size_t seen = 0;
            const json_t *it = json_array_get(x, i);
            if (!json_is_object(it))
                continue;
            for (size_t j = 0; j < i; j++) {
                const json_t *jt = json_array_get(x, j);
                if (json_is_object(jt) && list_map_key_equal(it, jt, s))
                    seen++;
            }
            if (seen == 1) {
                json_t *keys = json_object();
                for (size_t k = 0; keys && k < json_array_size(s->list_map_keys); k++) {
                    const char *key = json_string_value(json_array_get(s->list_map_keys, k));
                    json_t *kv = key ? json_object_get(it, key) : NULL;
                    if (kv)
                        json_object_set(keys, key, kv);
                }
                char *p = kl__strdupf("%s[%zu]", subj(path), i);
                if (p && keys)
                    add_duplicate(c, keys, p);
                free(p);
                json_decref(keys);
            }
        }
    }
}

static bool dns1035_label_lower(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !isalpha((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)tolower((unsigned char)s[i]);
        if (!(islower(ch) || isdigit(ch) || ch == '-'))
            return false;
    }
    return true;
}

static void validate_embedded(struct vctx *c, const json_t *x, const char *path)
{
    char *pv = child_path(path, "apiVersion"), *pk = child_path(path, "kind");
    json_t *av = json_object_get(x, "apiVersion"), *kv = json_object_get(x, "kind");
    struct cm_buf m;

    if (!pv || !pk)
        goto out;
    if (!av) {
        cm_buf_init(&m, 0);
        cm_buf_puts(&m, "Required value: must not be empty");
        add_cause(c, "FieldValueRequired", &m, pv);
    } else if (!json_is_string(av)) {
        add_invalid(c, "FieldValueInvalid", av, NULL, pv, "must be a string");
    } else if (!json_string_length(av)) {
        add_invalid(c, "FieldValueInvalid", av, NULL, pv, "must not be empty");
    } else {
        /* schema.ParseGroupVersion: "v1" or "group/version", at most one '/'. */
        const char *s = json_string_value(av), *sl = strchr(s, '/');
        if (sl && (strchr(sl + 1, '/') || sl == s || !sl[1]))
            add_invalid(c, "FieldValueInvalid", av, NULL, pv, "unexpected GroupVersion string: %s", s);
    }
    if (!kv) {
        cm_buf_init(&m, 0);
        cm_buf_puts(&m, "Required value: must not be empty");
        add_cause(c, "FieldValueRequired", &m, pk);
    } else if (!json_is_string(kv)) {
        add_invalid(c, "FieldValueInvalid", kv, NULL, pk, "must be a string");
    } else if (!json_string_length(kv)) {
        add_invalid(c, "FieldValueInvalid", kv, NULL, pk, "must not be empty");
    } else if (!dns1035_label_lower(json_string_value(kv))) {
        add_invalid(c, "FieldValueInvalid", kv, NULL, pk,
                    "may have mixed case, but should otherwise match: a lowercase RFC 1035 label must consist of "
                    "lower case alphanumeric characters or '-', start with an alphabetic character, and "
                    "end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
                    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
    }
out:
    free(pv);
    free(pk);
}

static void validate_lists(struct vctx *c, const struct snode *s, const json_t *x, const char *path)
{
    if (!s)
        return;
    if (json_is_object(x)) {
        const char *k;
        json_t *v;
        size_t nk = json_object_size(x), i = 0;
        const char **keys;
        if (s->embedded)
            validate_embedded(c, x, path);
        keys = calloc(nk ? nk : 1, sizeof(*keys));
        if (!keys)
            return;
        json_object_foreach((json_t *)x, k, v) keys[i++] = k;
        qsort(keys, nk, sizeof(*keys), cmp_cstr);
        for (i = 0; i < nk; i++) {
            const struct snode *p = node_prop(s, keys[i]);
            if (!p && s->addl == ADDL_SCHEMA)
                p = s->addl_schema;
            if (!p)
                continue;
            char *cp = child_path(path, keys[i]);
            if (cp)
                validate_lists(c, p, json_object_get(x, keys[i]), cp);
            free(cp);
        }
        free(keys);
    } else if (json_is_array(x)) {
        validate_list_type(c, s, x, path);
        for (size_t i = 0; i < json_array_size(x); i++) {
            char *p = kl__strdupf("%s[%zu]", subj(path), i);
            if (p)
                validate_lists(c, s->items, json_array_get(x, i), p);
            free(p);
        }
    }
}

int kl_schema_validate(const struct kl_schema *schema, const json_t *obj, json_t *causes)
{
    struct vctx c;
    size_t before;
    json_t *own = NULL;

    if (!schema || !obj)
        return -EINVAL;
    if (!json_is_array(causes)) {
        own = json_array();
        if (!own)
            return -ENOMEM;
        causes = own;
    }
    before = json_array_size(causes);
    c.causes = causes;
    validate_node(&c, schema->root, obj, "");
    validate_lists(&c, schema->root, obj, "");
    size_t after = json_array_size(causes);
    json_decref(own);
    return after > before ? -EINVAL : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Structural schema check (apiextensions validation + schema.ValidateStructural)            */

struct sctx {
    json_t *causes;
    size_t count;
};

static void s_add(struct sctx *c, const char *reason, const char *path, const char *body)
{
    kl__cause_add(c->causes, reason, body, path);
    c->count++;
}

static void s_required(struct sctx *c, const char *path, const char *detail)
{
    char *m = kl__strdupf("Required value: %s", detail);
    if (m)
        s_add(c, "FieldValueRequired", path, m);
    free(m);
}

static void s_forbidden(struct sctx *c, const char *path, const char *detail)
{
    char *m = kl__strdupf("Forbidden: %s", detail);
    if (m)
        s_add(c, "FieldValueForbidden", path, m);
    free(m);
}

static void s_invalid(struct sctx *c, const char *path, const json_t *bad, const char *detail)
{
    struct cm_buf m;
    cm_buf_init(&m, 0);
    cm_buf_puts(&m, "Invalid value: ");
    kl__go_value(&m, bad);
    cm_buf_printf(&m, ": %s", detail);
    s_add(c, "FieldValueInvalid", path, m.data ? m.data : "");
    cm_buf_done(&m);
}

enum slevel { LVL_ROOT, LVL_ITEM, LVL_FIELD };

static char *pjoin(const char *path, const char *child)
{
    return kl__strdupf("%s.%s", path, child);
}

static char *pkey(const char *path, const char *child, const char *key)
{
    return kl__strdupf("%s.%s[%s]", path, child, key);
}

static void check_node(struct sctx *c, const json_t *s, enum slevel lvl, const char *path, bool nested);

/* Keywords a CRD schema may use (JSONSchemaProps in apiextensions.k8s.io/v1). */
static const char *const known_keywords[] = {
    "id", "$schema", "$ref", "description", "type", "format", "title", "default", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "maxItems", "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties", "minProperties",
    "required", "items", "allOf", "oneOf", "anyOf", "not", "properties", "additionalProperties",
    "patternProperties", "dependencies", "additionalItems", "definitions", "externalDocs",
    "example", "nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
    "x-kubernetes-map-type", "x-kubernetes-validations", NULL,
};

static bool is_int_or_string_anyof(const json_t *anyof)
{
    const json_t *a = json_array_get(anyof, 0), *b = json_array_get(anyof, 1);
    return json_array_size(anyof) == 2 && json_object_size(a) == 1 && json_object_size(b) == 1 &&
           !strcmp(kl__s(json_string_value(json_object_get(a, "type"))), "integer") &&
           !strcmp(kl__s(json_string_value(json_object_get(b, "type"))), "string");
}

/* A value validation under allOf/anyOf/oneOf/not: no generics, no extensions, recursively. */
static void check_nested(struct sctx *c, const json_t *s, const char *path, bool skip_anyof)
{
    static const struct {
        const char *key, *detail;
    } forb[] = {
        {"type", "must be empty to be structural"},
        {"additionalProperties", "must be undefined to be structural"},
        {"default", "must be undefined to be structural"},
        {"title", "must be empty to be structural"},
        {"description", "must be empty to be structural"},
        {"x-kubernetes-list-map-keys", "must be empty to be structural"},
        {"x-kubernetes-list-type", "must be undefined to be structural"},
    };
    const char *k;
    json_t *v;

    if (!json_is_object(s))
        return;
    for (size_t i = 0; i < sizeof(forb) / sizeof(forb[0]); i++) {
        json_t *fv = json_object_get(s, forb[i].key);
        if (!fv || (json_is_string(fv) && !json_string_length(fv)))
            continue;
        if (skip_anyof && !strcmp(forb[i].key, "type"))
            continue;
        char *p = pjoin(path, forb[i].key);
        if (p)
            s_forbidden(c, p, forb[i].detail);
        free(p);
    }
    if (json_is_true(json_object_get(s, "nullable"))) {
        char *p = pjoin(path, "nullable");
        if (p)
            s_forbidden(c, p, "must be false to be structural");
        free(p);
    }
    static const char *const ext[] = {"x-kubernetes-preserve-unknown-fields",
                                      "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string"};
    for (size_t i = 0; i < 3; i++) {
        if (!json_is_true(json_object_get(s, ext[i])))
            continue;
        char *p = pjoin(path, ext[i]);
        if (p)
            s_forbidden(c, p, "must be false to be structural");
        free(p);
    }
    v = json_object_get(s, "properties");
    if (json_is_object(v)) {
        json_t *ps;
        json_object_foreach(v, k, ps) {
            char *p = pkey(path, "properties", k);
            if (!p)
                continue;
            if (!strcmp(k, "metadata"))
                s_forbidden(c, p, "must not be specified in a nested context");
            check_nested(c, ps, p, false);
            free(p);
        }
    }
    if (json_is_object(json_object_get(s, "items"))) {
        char *p = pjoin(path, "items");
        if (p)
            check_nested(c, json_object_get(s, "items"), p, false);
        free(p);
    }
    static const char *const junctors[] = {"allOf", "anyOf", "oneOf"};
    for (size_t j = 0; j < 3; j++) {
        json_t *arr = json_object_get(s, junctors[j]);
        for (size_t i = 0; i < json_array_size(arr); i++) {
            char *p = kl__strdupf("%s.%s[%zu]", path, junctors[j], i);
            if (p)
                check_nested(c, json_array_get(arr, i), p, false);
            free(p);
        }
    }
    if (json_is_object(json_object_get(s, "not"))) {
        char *p = pjoin(path, "not");
        if (p)
            check_nested(c, json_object_get(s, "not"), p, false);
        free(p);
    }
}

static void check_default(struct sctx *c, const json_t *s, const char *path)
{
    json_t *def = json_object_get(s, "default");
    struct kl_schema *ks = NULL;
    char *dp;

    if (!def)
        return;
    dp = pjoin(path, "default");
    if (!dp)
        return;
    if (kl_schema_new(s, &ks, NULL) == 0) {
        json_t *copy = json_deep_copy(def), *unknown = json_array(), *vc = json_array();
        struct vctx v = {.causes = vc};
        /* The default must be pruned already: pruning it must not change it. */
        struct prune_ctx pc = {.unknown = unknown};
        cm_buf_init(&pc.path, 0);
        prune(copy, ks->root, &pc, false);
        cm_buf_done(&pc.path);
        if (json_array_size(unknown)) {
            struct cm_buf m;
            cm_buf_init(&m, 0);
            cm_buf_puts(&m, "must not have unknown fields, got: ");
            for (size_t i = 0; i < json_array_size(unknown); i++)
                cm_buf_printf(&m, "%s%s", i ? ", " : "", json_string_value(json_array_get(unknown, i)));
            s_invalid(c, dp, def, m.data ? m.data : "");
            cm_buf_done(&m);
        }
        if (vc) {
            validate_node(&v, ks->root, def, "");
            validate_lists(&v, ks->root, def, "");
            for (size_t i = 0; i < json_array_size(vc); i++) {
                json_t *e = json_array_get(vc, i);
                const char *f = json_string_value(json_object_get(e, "field"));
                char *p = f && *f && strcmp(f, "<nil>") ? kl__strdupf("%s.%s", dp, f) : strdup(dp);
                if (p)
                    s_add(c, json_string_value(json_object_get(e, "reason")), p,
                          json_string_value(json_object_get(e, "message")));
                free(p);
            }
        }
        json_decref(copy);
        json_decref(unknown);
        json_decref(vc);
    }
    kl_schema_free(ks);
    free(dp);
}

static void check_node(struct sctx *c, const json_t *s, enum slevel lvl, const char *path, bool nested)
{
    const char *k, *type;
    json_t *v;
    bool ios, preserve, embedded;

    (void)nested;
    if (!json_is_object(s)) {
        s_invalid(c, path, s, "must be an object");
        return;
    }
    json_object_foreach((json_t *)s, k, v) {
        bool known = false;
        for (size_t i = 0; known_keywords[i]; i++)
            known = known || !strcmp(k, known_keywords[i]);
        if (!known) {
            char *p = pjoin(path, k);
            if (p)
                s_forbidden(c, p, "unknown field");
            free(p);
        }
    }
    static const struct {
        const char *key, *detail;
    } unsupported[] = {
        {"$ref", "$ref is not supported"},
        {"id", "id is not supported"},
        {"definitions", "definitions are not supported"},
        {"dependencies", "dependencies are not supported"},
        {"patternProperties", "patternProperties is not supported"},
        {"additionalItems", "additionalItems is not supported"},
    };
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        if (!json_object_get(s, unsupported[i].key))
            continue;
        char *p = pjoin(path, unsupported[i].key);
        if (p)
            s_forbidden(c, p, unsupported[i].detail);
        free(p);
    }
    if (json_is_true(json_object_get(s, "uniqueItems"))) {
        char *p = pjoin(path, "uniqueItems");
        if (p)
            s_forbidden(c, p, "uniqueItems cannot be set to true since the runtime complexity becomes quadratic");
        free(p);
    }
    v = json_object_get(s, "x-kubernetes-preserve-unknown-fields");
    if (json_is_false(v)) {
        char *p = pjoin(path, "x-kubernetes-preserve-unknown-fields");
        if (p)
            s_invalid(c, p, v, "must be true or undefined");
        free(p);
    }
    type = json_string_value(json_object_get(s, "type"));
    if (!type)
        type = "";
    if (*type && strcmp(type, "object") && strcmp(type, "array") && strcmp(type, "string") &&
        strcmp(type, "integer") && strcmp(type, "number") && strcmp(type, "boolean")) {
        char *p = pjoin(path, "type");
        if (p) {
            char *m = kl__strdupf("Unsupported value: \"%s\": supported values: \"array\", \"boolean\", "
                                  "\"integer\", \"number\", \"object\", \"string\"", type);
            if (m)
                s_add(c, "FieldValueNotSupported", p, m);
            free(m);
        }
        free(p);
    }
    ios = json_is_true(json_object_get(s, "x-kubernetes-int-or-string"));
    preserve = json_is_true(json_object_get(s, "x-kubernetes-preserve-unknown-fields"));
    embedded = json_is_true(json_object_get(s, "x-kubernetes-embedded-resource"));

    /* items */
    v = json_object_get(s, "items");
    if (json_is_array(v)) {
        char *p = pjoin(path, "items");
        if (p)
            s_forbidden(c, p, "items must be a schema object and not an array");
        free(p);
    } else if (!strcmp(type, "array") && !v) {
        char *p = pjoin(path, "items");
        if (p)
            s_required(c, p, "must be specified");
        free(p);
    } else if (json_is_object(v)) {
        char *p = pjoin(path, "items");
        if (p)
            check_node(c, v, LVL_ITEM, p, false);
        free(p);
    }
    /* properties */
    v = json_object_get(s, "properties");
    if (json_is_object(v)) {
        json_t *ps;
        json_object_foreach(v, k, ps) {
            char *p = pkey(path, "properties", k);
            if (p)
                check_node(c, ps, LVL_FIELD, p, false);
            free(p);
        }
    }
    /* additionalProperties */
    v = json_object_get(s, "additionalProperties");
    if (v) {
        char *p = pjoin(path, "additionalProperties");
        if (p) {
            /* additionalProperties: true next to properties is allowed (it changes nothing). */
            if (json_object_size(json_object_get(s, "properties")) && !json_is_true(v))
                s_forbidden(c, p, "additionalProperties and properties are mutual exclusive");
            if (lvl == LVL_ROOT)
                s_forbidden(c, p, "must not be used at the root");
            if (embedded)
                s_forbidden(c, p, "must not be used if x-kubernetes-embedded-resource is set");
            if (json_is_object(v))
                check_node(c, v, LVL_FIELD, p, false);
        }
        free(p);
    }
    /* extensions */
    if (ios && preserve) {
        char *p = pjoin(path, "x-kubernetes-preserve-unknown-fields");
        if (p)
            s_invalid(c, p, json_true(), "must be false if x-kubernetes-int-or-string is true");
        free(p);
    }
    if (ios && embedded) {
        char *p = pjoin(path, "x-kubernetes-embedded-resource");
        if (p)
            s_invalid(c, p, json_true(), "must be false if x-kubernetes-int-or-string is true");
        free(p);
    }
    /* value validations */
    {
        json_t *anyof = json_object_get(s, "anyOf"), *allof = json_object_get(s, "allOf");
        bool skip_anyof = ios && is_int_or_string_anyof(anyof);
        bool skip_first_allof = ios && json_array_size(allof) >= 1 &&
                                is_int_or_string_anyof(json_object_get(json_array_get(allof, 0), "anyOf"));
        for (size_t i = 0; !skip_anyof && i < json_array_size(anyof); i++) {
            char *p = kl__strdupf("%s.anyOf[%zu]", path, i);
            if (p)
                check_nested(c, json_array_get(anyof, i), p, false);
            free(p);
        }
        for (size_t i = 0; i < json_array_size(allof); i++) {
            char *p = kl__strdupf("%s.allOf[%zu]", path, i);
            const json_t *sub = json_array_get(allof, i);
            if (p && skip_first_allof && i == 0) {
                /* Check allOf[0] except its int-or-string anyOf. */
                json_t *copy = json_deep_copy(sub);
                if (copy) {
                    json_object_del(copy, "anyOf");
                    check_nested(c, copy, p, false);
                }
                json_decref(copy);
            } else if (p)
                check_nested(c, sub, p, false);
            free(p);
        }
        json_t *oneof = json_object_get(s, "oneOf");
        for (size_t i = 0; i < json_array_size(oneof); i++) {
            char *p = kl__strdupf("%s.oneOf[%zu]", path, i);
            if (p)
                check_nested(c, json_array_get(oneof, i), p, false);
            free(p);
        }
        if (json_object_get(s, "not")) {
            char *p = pjoin(path, "not");
            if (p)
                check_nested(c, json_object_get(s, "not"), p, false);
            free(p);
        }
    }
    v = json_object_get(s, "pattern");
    if (json_is_string(v)) {
        char *ere = translate_pattern(json_string_value(v));
        regex_t re;
        bool ok = ere && regcomp(&re, ere, REG_EXTENDED | REG_NOSUB) == 0;
        if (ok)
            regfree(&re);
        free(ere);
        if (!ok) {
            char *p = pjoin(path, "pattern");
            if (p)
                s_invalid(c, p, v, "must be a valid regular expression, but isn't: kube-lite cannot translate it");
            free(p);
        }
    }
    /* type */
    if (embedded && strcmp(type, "object")) {
        char *p = pjoin(path, "type");
        if (p) {
            if (!*type)
                s_required(c, p, "must be object if x-kubernetes-embedded-resource is true");
            else {
                json_t *tv = json_string(type);
                s_invalid(c, p, tv, "must be object if x-kubernetes-embedded-resource is true");
                json_decref(tv);
            }
        }
        free(p);
    } else if (!*type && !ios && !preserve) {
        char *p = pjoin(path, "type");
        if (p)
            s_required(c, p, lvl == LVL_ROOT   ? "must not be empty at the root"
                             : lvl == LVL_ITEM ? "must not be empty for specified array items"
                                               : "must not be empty for specified object fields");
        free(p);
    }
    if (lvl == LVL_ROOT && *type && strcmp(type, "object")) {
        char *p = pjoin(path, "type");
        json_t *tv = json_string(type);
        if (p)
            s_invalid(c, p, tv, "must be object at the root");
        json_decref(tv);
        free(p);
    }
    /* apiVersion/kind/metadata at the root and in embedded resources */
    json_t *props = json_object_get(s, "properties");
    if (lvl == LVL_ROOT || embedded) {
        static const char *const meta[][2] = {{"kind", "string"}, {"apiVersion", "string"}, {"metadata", "object"}};
        for (size_t i = 0; i < 3; i++) {
            json_t *ps = json_object_get(props, meta[i][0]);
            const char *pt = json_string_value(json_object_get(ps, "type"));
            if (!ps || (pt && !strcmp(pt, meta[i][1])))
                continue;
            char *p = kl__strdupf("%s.properties[%s].type", path, meta[i][0]);
            json_t *tv = json_string(pt ? pt : "");
            if (p)
                s_invalid(c, p, tv, !strcmp(meta[i][1], "string") ? "must be string" : "must be object");
            json_decref(tv);
            free(p);
        }
    }
    if (lvl == LVL_ROOT) {
        json_t *md = json_object_get(props, "metadata");
        if (md) {
            bool bad = false;
            json_object_foreach(md, k, v) {
                if (!strcmp(k, "type") || !strcmp(k, "default") || !strcmp(k, "description"))
                    continue;
                if (!strcmp(k, "properties")) {
                    const char *pk;
                    json_t *pv;
                    json_object_foreach(v, pk, pv) bad = bad || (strcmp(pk, "name") && strcmp(pk, "generateName"));
                    continue;
                }
                bad = true;
            }
            if (bad) {
                char *p = kl__strdupf("%s.properties[metadata]", path);
                if (p)
                    s_forbidden(c, p, "must not specify anything other than name and generateName, but metadata is implicitly specified");
                free(p);
            }
        }
    }
    if (embedded && !preserve && !json_object_size(props)) {
        char *p = pjoin(path, "properties");
        if (p)
            s_required(c, p, "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields");
        free(p);
    }
    /* list types */
    v = json_object_get(s, "x-kubernetes-list-type");
    if (v) {
        const char *lt = json_string_value(v);
        char *p = pjoin(path, "x-kubernetes-list-type");
        if (p && (!lt || (strcmp(lt, "atomic") && strcmp(lt, "set") && strcmp(lt, "map")))) {
            struct cm_buf m;
            cm_buf_init(&m, 0);
            cm_buf_puts(&m, "Unsupported value: ");
            kl__go_value(&m, v);
            cm_buf_puts(&m, ": supported values: \"atomic\", \"map\", \"set\"");
            s_add(c, "FieldValueNotSupported", p, m.data ? m.data : "");
            cm_buf_done(&m);
        } else if (p && strcmp(type, "array")) {
            s_invalid(c, p, v, "must only be used if type is array");
        } else if (p && !strcmp(lt, "map")) {
            json_t *keys = json_object_get(s, "x-kubernetes-list-map-keys");
            const json_t *items = json_object_get(s, "items");
            const char *it = json_string_value(json_object_get(items, "type"));
            if (!json_array_size(keys)) {
                char *kp = pjoin(path, "x-kubernetes-list-map-keys");
                if (kp)
                    s_required(c, kp, "must not be empty if x-kubernetes-list-type is map");
                free(kp);
            }
            if (items && (!it || strcmp(it, "object"))) {
                char *ip = pjoin(path, "items.type");
                json_t *tv = json_string(it ? it : "");
                if (ip)
                    s_invalid(c, ip, tv, "must be object when x-kubernetes-list-type is map");
                json_decref(tv);
                free(ip);
            }
            for (size_t i = 0; i < json_array_size(keys); i++) {
                const char *key = json_string_value(json_array_get(keys, i));
                json_t *kp = json_object_get(json_object_get(items, "properties"), key ? key : "");
                const char *kt = json_string_value(json_object_get(kp, "type"));
                if (!kp) {
                    char *ep = pjoin(path, "items.properties");
                    char *m = kl__strdupf("entries for key %s must be specified", key ? key : "");
                    if (ep && m)
                        s_required(c, ep, m);
                    free(ep);
                    free(m);
                } else if (!kt || (strcmp(kt, "string") && strcmp(kt, "integer") && strcmp(kt, "number") &&
                                   strcmp(kt, "boolean"))) {
                    char *ep = kl__strdupf("%s.items.properties[%s].type", path, key);
                    json_t *tv = json_string(kt ? kt : "");
                    if (ep)
                        s_invalid(c, ep, tv, "must be a scalar type if parent array's x-kubernetes-list-type is map");
                    json_decref(tv);
                    free(ep);
                }
            }
        } else if (p && !strcmp(lt, "set")) {
            const char *it = json_string_value(json_object_get(json_object_get(s, "items"), "type"));
            const char *ilt = json_string_value(json_object_get(json_object_get(s, "items"), "x-kubernetes-list-type"));
            if (it && (!strcmp(it, "object") || !strcmp(it, "array")) && !(ilt && !strcmp(ilt, "atomic"))) {
                char *ip = pjoin(path, "items.x-kubernetes-map-type");
                json_t *tv = json_string(it);
                if (ip)
                    s_invalid(c, ip, tv, "must be atomic as item of a list with x-kubernetes-list-type=set");
                json_decref(tv);
                free(ip);
            }
        }
        free(p);
    }
    check_default(c, s, path);
}

int kl_schema_check_structural_at(const json_t *schema, const char *field_prefix, json_t *causes)
{
    struct sctx c = {.causes = json_is_array(causes) ? causes : NULL};

    if (!field_prefix)
        field_prefix = "spec.validation.openAPIV3Schema";
    if (!json_is_object(schema)) {
        json_t *bad = schema ? json_incref((json_t *)schema) : json_null();
        char *p = strdup(field_prefix);
        if (p)
            s_invalid(&c, p, bad, "must be an object");
        free(p);
        json_decref(bad);
        return -EINVAL;
    }
    check_node(&c, schema, LVL_ROOT, field_prefix, false);
    return c.count ? -EINVAL : 0;
}

int kl_schema_check_structural(const json_t *schema, json_t *causes)
{
    return kl_schema_check_structural_at(schema, NULL, causes);
}
