/* kl_selector: label and field selectors, following apimachinery's pkg/labels/selector.go and
 * pkg/fields/selector.go, including their lexer quirks and error texts, because clients (and
 * the conformance tests) see those texts in 400 responses.
 *
 * Label selector grammar (as the real parser):
 *   selector    := <empty> | requirement ("," requirement)*
 *   requirement := ["!"] KEY | KEY op VALUE | KEY ("in"|"notin") "(" VALUES ")"
 *   op          := "=" | "==" | "!=" | ">" | "<"     (">"/"<" need integer values)
 * Identifiers are runs of bytes that are neither white space nor one of = ! ( ) , > <. */
#include "kl_selector.h"

#include "cm_buf.h"
#include "kl_util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum op {
    OP_IN,         /* key in (a,b); also = and == */
    OP_NOTIN,      /* key notin (a,b); also != */
    OP_EXISTS,     /* key */
    OP_NOTEXISTS,  /* !key */
    OP_GT,         /* key > n */
    OP_LT,         /* key < n */
};

struct req {
    char *key;
    enum op op;
    char **values;
    size_t n_values;
};

struct kl_labelsel {
    struct req *reqs;
    size_t n;
    bool nothing; /* the selector of a nil metav1.LabelSelector: matches no object */
};

/* ---------------------------------------------------------------------------------------- */
/* Label key/value validation (apimachinery pkg/util/validation)                             */

static const char qname_fmt[] = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
static const char qname_msg[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

static bool is_alnum(char c)
{
    return isalnum((unsigned char)c) != 0;
}

static bool qname_ok(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static bool dns1123_subdomain_ok(const char *s, size_t n)
{
    size_t label_start = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            size_t l = i - label_start;
            const char *p = s + label_start;
            if (l == 0 || !(islower((unsigned char)p[0]) || isdigit((unsigned char)p[0])) ||
                !(islower((unsigned char)p[l - 1]) || isdigit((unsigned char)p[l - 1])))
                return false;
            for (size_t j = 0; j < l; j++)
                if (!(islower((unsigned char)p[j]) || isdigit((unsigned char)p[j]) || p[j] == '-'))
                    return false;
            label_start = i + 1;
        }
    }
    return true;
}

/* Appends the "; "-joined errors of validation.IsQualifiedName(k). Returns true when valid. */
static bool qualified_name_errors(const char *k, struct cm_buf *e)
{
    const char *slash = strchr(k, '/');
    const char *name = k;
    bool ok = true;

    if (slash && strchr(slash + 1, '/')) {
        cm_buf_printf(e, "a qualified name %s (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
                         "for validation is '%s') with an optional DNS subdomain prefix and '/' (e.g. "
                         "'example.com/MyName')", qname_msg, qname_fmt);
        return false;
    }
    if (slash) {
        size_t pl = (size_t)(slash - k);
        name = slash + 1;
        if (pl == 0) {
            cm_buf_puts(e, "prefix part must be non-empty");
            ok = false;
        } else {
            if (pl > 253) {
                cm_buf_puts(e, "prefix part must be no more than 253 characters");
                ok = false;
            }
            if (!dns1123_subdomain_ok(k, pl)) {
                cm_buf_printf(e, "%sprefix part a lowercase RFC 1123 subdomain must consist of lower case "
                                 "alphanumeric characters, '-' or '.', and must start and end with an "
                                 "alphanumeric character (e.g. 'example.com', regex used for validation is "
                                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                              ok ? "" : "; ");
                ok = false;
            }
        }
    }
    size_t nl = strlen(name);
    if (nl == 0) {
        cm_buf_printf(e, "%sname part must be non-empty", ok ? "" : "; ");
        ok = false;
    } else if (nl > 63) {
        cm_buf_printf(e, "%sname part must be no more than 63 characters", ok ? "" : "; ");
        ok = false;
    }
    if (!qname_ok(name, nl)) {
        cm_buf_printf(e, "%sname part %s (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                         "validation is '%s')", ok ? "" : "; ", qname_msg, qname_fmt);
        ok = false;
    }
    return ok;
}

/* Appends the errors of validation.IsValidLabelValue(v). Returns true when valid. */
static bool label_value_errors(const char *v, struct cm_buf *e)
{
    size_t n = strlen(v);
    bool ok = true;

    if (n > 63) {
        cm_buf_puts(e, "must be no more than 63 characters");
        ok = false;
    }
    if (n && !qname_ok(v, n)) {
        cm_buf_printf(e, "%sa valid label must be an empty string or consist of alphanumeric "
                         "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                         "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                         "validation is '(%s)?')", ok ? "" : "; ", qname_fmt);
        ok = false;
    }
    return ok;
}

/* One field.Error "<field>: Invalid value: "<v>": <detail>" appended to errs (", "-separated). */
static void field_invalid(struct cm_buf *errs, size_t *n_errs, const char *field, const char *value,
                          const char *detail)
{
    if ((*n_errs)++)
        cm_buf_puts(errs, ", ");
    cm_buf_printf(errs, "%s: Invalid value: ", field);
    kl__go_quote(errs, value, strlen(value));
    cm_buf_printf(errs, ": %s", detail);
}

/* labels.NewRequirement's checks. Returns 0, or -EINVAL with the aggregate text in *ret_err
 * ("[a, b]" for several errors, like utilerrors.NewAggregate). key_field is "key" (the
 * requirement's own check) or "<nil>" (the parser's check of a key, which has no path). */
static int requirement_check(const char *key, enum op op, char **vals, size_t n, const char *vals_json,
                             char **ret_err)
{
    struct cm_buf errs, e;
    size_t n_errs = 0;
    int r = 0;

    cm_buf_init(&errs, 0);
    cm_buf_init(&e, 0);
    if (!qualified_name_errors(key, &e))
        field_invalid(&errs, &n_errs, "key", key, e.data);
    cm_buf_reset(&e);
    switch (op) {
    case OP_IN:
    case OP_NOTIN:
        if (n == 0) {
            if (n_errs++)
                cm_buf_puts(&errs, ", ");
            cm_buf_printf(&errs, "values: Invalid value: %s: for 'in', 'notin' operators, values set can't be empty",
                          vals_json);
        }
        break;
    case OP_EXISTS:
    case OP_NOTEXISTS:
        if (n != 0) {
            if (n_errs++)
                cm_buf_puts(&errs, ", ");
            cm_buf_printf(&errs, "values: Invalid value: %s: values set must be empty for exists and does not exist",
                          vals_json);
        }
        break;
    case OP_GT:
    case OP_LT:
        if (n != 1) {
            if (n_errs++)
                cm_buf_puts(&errs, ", ");
            cm_buf_printf(&errs, "values: Invalid value: %s: for 'Gt', 'Lt' operators, exactly one value is required",
                          vals_json);
        }
        for (size_t i = 0; i < n; i++) {
            char *end;
            errno = 0;
            (void)strtoll(vals[i], &end, 10);
            if (!*vals[i] || *end || errno || isspace((unsigned char)*vals[i])) {
                char f[64];
                snprintf(f, sizeof(f), "values[%zu]", i);
                field_invalid(&errs, &n_errs, f, vals[i], "for 'Gt', 'Lt' operators, the value must be an integer");
            }
        }
        break;
    }
    for (size_t i = 0; i < n; i++) {
        cm_buf_reset(&e);
        if (!label_value_errors(vals[i], &e)) {
            char *f = kl__strdupf("values[%zu][%s]", i, key);
            if (f)
                field_invalid(&errs, &n_errs, f, vals[i], e.data);
            free(f);
        }
    }
    if (n_errs) {
        r = -EINVAL;
        if (ret_err) {
            free(*ret_err);
            *ret_err = n_errs > 1 ? kl__strdupf("[%s]", errs.data) : strdup(errs.data);
        }
    }
    cm_buf_done(&errs);
    cm_buf_done(&e);
    return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Lexer and parser (pkg/labels/selector.go)                                                 */

enum tok {
    T_ERROR,
    T_EOS,
    T_CLOSEPAR,
    T_COMMA,
    T_NOTEXISTS, /* "!" */
    T_DOUBLEEQ,
    T_EQ,
    T_GT,
    T_ID,
    T_IN,
    T_LT,
    T_NOTEQ,
    T_NOTIN,
    T_OPENPAR,
};

struct item {
    enum tok tok;
    char *lit;
};

struct parser {
    struct item *items;
    size_t n, pos;
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static int special_token(const char *s, size_t n, enum tok *ret)
{
    static const struct {
        const char *s;
        enum tok t;
    } map[] = {{"!", T_NOTEXISTS}, {"!=", T_NOTEQ}, {"(", T_OPENPAR}, {")", T_CLOSEPAR}, {",", T_COMMA},
               {"=", T_EQ},        {"==", T_DOUBLEEQ}, {">", T_GT},      {"<", T_LT}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strlen(map[i].s) == n && !memcmp(map[i].s, s, n)) {
            *ret = map[i].t;
            return 0;
        }
    }
    return -1;
}

static void parser_free(struct parser *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].lit);
    free(p->items);
}

/* Lexes the whole input up front (the real parser also scans everything first). */
static int lex_all(const char *s, struct parser *p)
{
    size_t i = 0, len = strlen(s);

    for (;;) {
        struct item it = {0};
        void *grown;
        while (i < len && is_ws(s[i]))
            i++;
        if (i >= len) {
            it.tok = T_EOS;
            it.lit = strdup("");
        } else if (is_special(s[i])) {
            size_t j = i, best = 0;
            enum tok t, best_t = T_ERROR;
            while (j < len && is_special(s[j])) {
                j++;
                if (special_token(s + i, j - i, &t) == 0) {
                    best = j - i;
                    best_t = t;
                } else if (best) {
                    break;
                }
            }
            if (!best) {
                it.tok = T_ERROR;
                it.lit = kl__strdupf("error expected: keyword found '%.*s'", (int)(j - i), s + i);
                i = j;
            } else {
                it.tok = best_t;
                it.lit = strndup(s + i, best);
                i += best;
            }
        } else {
            size_t j = i;
            while (j < len && !is_special(s[j]) && !is_ws(s[j]))
                j++;
            it.lit = strndup(s + i, j - i);
            it.tok = T_ID;
            if (it.lit && !strcmp(it.lit, "in"))
                it.tok = T_IN;
            else if (it.lit && !strcmp(it.lit, "notin"))
                it.tok = T_NOTIN;
            i = j;
        }
        if (!it.lit)
            return -ENOMEM;
        grown = realloc(p->items, (p->n + 1) * sizeof(*p->items));
        if (!grown) {
            free(it.lit);
            return -ENOMEM;
        }
        p->items = grown;
        p->items[p->n++] = it;
        if (it.tok == T_EOS)
            return 0;
    }
}

/* In "values" context, the keywords in/notin are plain identifiers. */
static enum tok ctx_tok(enum tok t, bool values)
{
    return (values && (t == T_IN || t == T_NOTIN)) ? T_ID : t;
}

static const struct item *lookahead(struct parser *p, bool values, enum tok *ret_tok)
{
    const struct item *it = &p->items[p->pos < p->n ? p->pos : p->n - 1];
    *ret_tok = ctx_tok(it->tok, values);
    return it;
}

static const struct item *consume(struct parser *p, bool values, enum tok *ret_tok)
{
    const struct item *it = lookahead(p, values, ret_tok);
    if (p->pos < p->n - 1)
        p->pos++;
    return it;
}

static void req_done(struct req *r)
{
    free(r->key);
    for (size_t i = 0; i < r->n_values; i++)
        free(r->values[i]);
    free(r->values);
}

/* Adds v to a set of strings (the real parser collects values in a sets.String). */
static int set_add(struct req *r, const char *v)
{
    char **grown;
    for (size_t i = 0; i < r->n_values; i++)
        if (!strcmp(r->values[i], v))
            return 0;
    grown = realloc(r->values, (r->n_values + 1) * sizeof(*r->values));
    if (!grown)
        return -ENOMEM;
    r->values = grown;
    r->values[r->n_values] = strdup(v);
    if (!r->values[r->n_values])
        return -ENOMEM;
    r->n_values++;
    return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The Go %#v-free rendering of a []string for "Invalid value: []string{...}": field.Error
 * marshals it as JSON. */
static char *values_json(struct req *r)
{
    struct cm_buf b;
    json_t *a = json_array();
    for (size_t i = 0; a && i < r->n_values; i++)
        json_array_append_new(a, json_string(r->values[i]));
    cm_buf_init(&b, 0);
    if (a && r->n_values)
        kl__go_json(&b, a);
    else
        cm_buf_puts(&b, "null");
    json_decref(a);
    return cm_buf_steal(&b);
}

static int parse_values(struct parser *p, struct req *r, char **ret_err)
{
    enum tok t;
    const struct item *it = consume(p, true, &t);

    if (t != T_OPENPAR) {
        kl__set_err(ret_err, "found '%s' expected: '('", it->lit);
        return -EINVAL;
    }
    it = lookahead(p, true, &t);
    if (t == T_CLOSEPAR) {
        consume(p, true, &t);
        return set_add(r, "");
    }
    if (t != T_ID && t != T_COMMA) {
        kl__set_err(ret_err, "found '%s', expected: ',', ')' or identifier", it->lit);
        return -EINVAL;
    }
    /* parseIdentifiersList */
    for (;;) {
        it = consume(p, true, &t);
        if (t == T_ID) {
            enum tok t2;
            const struct item *it2;
            if (set_add(r, it->lit) < 0)
                return -ENOMEM;
            it2 = lookahead(p, true, &t2);
            if (t2 == T_COMMA)
                continue;
            if (t2 == T_CLOSEPAR)
                break;
            kl__set_err(ret_err, "found '%s', expected: ',' or ')'", it2->lit);
            return -EINVAL;
        } else if (t == T_COMMA) {
            enum tok t2;
            if (r->n_values == 0 && set_add(r, "") < 0)
                return -ENOMEM;
            lookahead(p, true, &t2);
            if (t2 == T_CLOSEPAR) {
                if (set_add(r, "") < 0)
                    return -ENOMEM;
                break;
            }
            if (t2 == T_COMMA) {
                consume(p, true, &t2);
                if (set_add(r, "") < 0)
                    return -ENOMEM;
            }
        } else {
            kl__set_err(ret_err, "found '%s', expected: ',', or identifier", it->lit);
            return -EINVAL;
        }
    }
    it = consume(p, true, &t);
    if (t != T_CLOSEPAR) {
        kl__set_err(ret_err, "found '%s', expected: ')'", it->lit);
        return -EINVAL;
    }
    return 0;
}

static int parse_requirement(struct parser *p, struct req *r, char **ret_err)
{
    enum tok t;
    const struct item *it = consume(p, true, &t);
    bool not_exists = false;
    char *vj;
    int ret;

    if (t == T_NOTEXISTS) {
        not_exists = true;
        it = consume(p, true, &t);
    }
    if (t != T_ID) {
        kl__set_err(ret_err, "found '%s', expected: identifier", it->lit);
        return -EINVAL;
    }
    {
        /* The parser validates the key with its own (nil) path first. */
        struct cm_buf e;
        cm_buf_init(&e, 0);
        if (!qualified_name_errors(it->lit, &e)) {
            struct cm_buf m;
            cm_buf_init(&m, 0);
            cm_buf_puts(&m, "<nil>: Invalid value: ");
            kl__go_quote(&m, it->lit, strlen(it->lit));
            cm_buf_printf(&m, ": %s", e.data);
            if (ret_err) {
                free(*ret_err);
                *ret_err = cm_buf_steal(&m);
            }
            cm_buf_done(&m);
            cm_buf_done(&e);
            return -EINVAL;
        }
        cm_buf_done(&e);
    }
    r->key = strdup(it->lit);
    if (!r->key)
        return -ENOMEM;
    lookahead(p, true, &t);
    if (t == T_EOS || t == T_COMMA) {
        r->op = not_exists ? OP_NOTEXISTS : OP_EXISTS;
    } else if (not_exists) {
        /* "!key" followed by anything but the end or a comma: the requirement is complete and
         * the caller then refuses the next token ("found '=', expected: ',' or ...). */
        r->op = OP_NOTEXISTS;
    } else {
        it = consume(p, false, &t);
        switch (t) {
        case T_IN: r->op = OP_IN; ret = parse_values(p, r, ret_err); break;
        case T_NOTIN: r->op = OP_NOTIN; ret = parse_values(p, r, ret_err); break;
        case T_EQ:
        case T_DOUBLEEQ:
        case T_NOTEQ:
        case T_GT:
        case T_LT: {
            const struct item *v;
            r->op = (t == T_NOTEQ) ? OP_NOTIN : (t == T_GT) ? OP_GT : (t == T_LT) ? OP_LT : OP_IN;
            v = lookahead(p, true, &t);
            if (t == T_EOS || t == T_COMMA) {
                ret = set_add(r, "");
            } else {
                v = consume(p, true, &t);
                if (t != T_ID) {
                    kl__set_err(ret_err, "found '%s', expected: identifier", v->lit);
                    return -EINVAL;
                }
                ret = set_add(r, v->lit);
            }
            break;
        }
        default:
            kl__set_err(ret_err, "found '%s', expected: in, notin, =, ==, !=, gt, lt", it->lit);
            return -EINVAL;
        }
        if (ret < 0)
            return ret;
    }
    if (r->n_values) /* qsort(NULL, 0) is undefined behaviour (UBSan) */
        qsort(r->values, r->n_values, sizeof(*r->values), cmp_cstr);
    vj = values_json(r);
    ret = requirement_check(r->key, r->op, r->values, r->n_values, vj ? vj : "null", ret_err);
    free(vj);
    return ret;
}

static int sel_add(struct kl_labelsel *s, struct req *r)
{
    struct req *grown = realloc(s->reqs, (s->n + 1) * sizeof(*s->reqs));
    if (!grown)
        return -ENOMEM;
    s->reqs = grown;
    s->reqs[s->n++] = *r;
    memset(r, 0, sizeof(*r));
    return 0;
}

int kl_labelsel_parse(const char *s, struct kl_labelsel **ret_sel, char **ret_err)
{
    struct kl_labelsel *sel = calloc(1, sizeof(*sel));
    struct parser p = {0};
    char *err = NULL;
    int r = 0;

    if (!sel)
        return -ENOMEM;
    if (!s || !*s)
        goto done;
    r = lex_all(s, &p);
    if (r < 0)
        goto fail;
    for (;;) {
        enum tok t;
        const struct item *it = lookahead(&p, true, &t);
        if (t == T_EOS)
            break;
        if (t != T_ID && t != T_NOTEXISTS) {
            kl__set_err(&err, "found '%s', expected: !, identifier, or 'end of string'", it->lit);
            r = -EINVAL;
            goto fail;
        }
        struct req rq = {0};
        r = parse_requirement(&p, &rq, &err);
        if (r < 0) {
            req_done(&rq);
            if (r == -EINVAL) {
                char *w = kl__strdupf("unable to parse requirement: %s", err ? err : "");
                free(err);
                err = w;
            }
            goto fail;
        }
        r = sel_add(sel, &rq);
        if (r < 0) {
            req_done(&rq);
            goto fail;
        }
        it = consume(&p, true, &t);
        if (t == T_EOS)
            break;
        if (t == T_COMMA) {
            const struct item *n2 = lookahead(&p, true, &t);
            if (t != T_ID && t != T_NOTEXISTS) {
                kl__set_err(&err, "found '%s', expected: identifier after ','", n2->lit);
                r = -EINVAL;
                goto fail;
            }
            continue;
        }
        kl__set_err(&err, "found '%s', expected: ',' or 'end of string'", it->lit);
        r = -EINVAL;
        goto fail;
    }
done:
    parser_free(&p);
    *ret_sel = sel;
    return 0;
fail:
    parser_free(&p);
    kl_labelsel_free(sel);
    if (ret_err) {
        free(*ret_err);
        *ret_err = err;
    } else {
        free(err);
    }
    return r;
}

int kl_labelsel_from_object(const json_t *selector, struct kl_labelsel **ret_sel, char **ret_err)
{
    struct kl_labelsel *sel = calloc(1, sizeof(*sel));
    json_t *ml, *me;
    const char *k;
    json_t *v;
    int r = 0;

    if (!sel)
        return -ENOMEM;
    if (!selector || json_is_null(selector)) {
        /* metav1.LabelSelectorAsSelector(nil) is labels.Nothing(). */
        sel->nothing = true;
        *ret_sel = sel;
        return 0;
    }
    if (!json_is_object(selector)) {
        kl__set_err(ret_err, "label selector must be an object");
        r = -EINVAL;
        goto fail;
    }
    ml = json_object_get(selector, "matchLabels");
    me = json_object_get(selector, "matchExpressions");
    json_object_foreach(ml, k, v) {
        struct req rq = {0};
        char *vj;
        if (!json_is_string(v)) {
            kl__set_err(ret_err, "matchLabels values must be strings");
            r = -EINVAL;
            goto fail;
        }
        rq.key = strdup(k);
        rq.op = OP_IN;
        if (!rq.key || set_add(&rq, json_string_value(v)) < 0) {
            req_done(&rq);
            r = -ENOMEM;
            goto fail;
        }
        vj = values_json(&rq);
        r = requirement_check(rq.key, rq.op, rq.values, rq.n_values, vj ? vj : "null", ret_err);
        free(vj);
        if (r == 0)
            r = sel_add(sel, &rq);
        req_done(&rq);
        if (r < 0)
            goto fail;
    }
    for (size_t i = 0; i < json_array_size(me); i++) {
        json_t *e = json_array_get(me, i), *vals = json_object_get(e, "values");
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *op = json_string_value(json_object_get(e, "operator"));
        struct req rq = {0};
        char *vj;
        if (!op || (strcmp(op, "In") && strcmp(op, "NotIn") && strcmp(op, "Exists") && strcmp(op, "DoesNotExist"))) {
            kl__set_err(ret_err, "\"%s\" is not a valid label selector operator", op ? op : "");
            r = -EINVAL;
            goto fail;
        }
        rq.op = !strcmp(op, "In") ? OP_IN : !strcmp(op, "NotIn") ? OP_NOTIN : !strcmp(op, "Exists") ? OP_EXISTS : OP_NOTEXISTS;
        rq.key = strdup(key ? key : "");
        if (!rq.key) {
            r = -ENOMEM;
            goto fail;
        }
        for (size_t j = 0; j < json_array_size(vals); j++) {
            const char *sv = json_string_value(json_array_get(vals, j));
            /* Values keep their order and duplicates here, like the real []string. */
            char **grown = realloc(rq.values, (rq.n_values + 1) * sizeof(*rq.values));
            if (!grown || !(grown[rq.n_values] = strdup(sv ? sv : ""))) {
                if (grown)
                    rq.values = grown;
                req_done(&rq);
                r = -ENOMEM;
                goto fail;
            }
            rq.values = grown;
            rq.n_values++;
        }
        vj = values_json(&rq);
        r = requirement_check(rq.key, rq.op, rq.values, rq.n_values, vj ? vj : "null", ret_err);
        free(vj);
        if (r == 0)
            r = sel_add(sel, &rq);
        req_done(&rq);
        if (r < 0)
            goto fail;
    }
    *ret_sel = sel;
    return 0;
fail:
    kl_labelsel_free(sel);
    return r;
}

int kl_labelsel_match(const struct kl_labelsel *sel, const json_t *labels)
{
    if (!sel || sel->nothing)
        return 0;
    for (size_t i = 0; i < sel->n; i++) {
        const struct req *r = &sel->reqs[i];
        json_t *lv = json_is_object(labels) ? json_object_get(labels, r->key) : NULL;
        const char *v = json_string_value(lv);
        bool in = false;

        for (size_t j = 0; v && j < r->n_values; j++)
            in = in || !strcmp(v, r->values[j]);
        switch (r->op) {
        case OP_IN:
            if (!v || !in)
                return 0;
            break;
        case OP_NOTIN:
            if (v && in)
                return 0;
            break;
        case OP_EXISTS:
            if (!lv)
                return 0;
            break;
        case OP_NOTEXISTS:
            if (lv)
                return 0;
            break;
        case OP_GT:
        case OP_LT: {
            char *end;
            long long have, want;
            if (!v || r->n_values != 1)
                return 0;
            errno = 0;
            have = strtoll(v, &end, 10);
            if (!*v || *end || errno)
                return 0;
            want = strtoll(r->values[0], NULL, 10);
            if ((r->op == OP_GT && !(have > want)) || (r->op == OP_LT && !(have < want)))
                return 0;
            break;
        }
        }
    }
    return 1;
}

int kl_labelsel_empty(const struct kl_labelsel *sel)
{
    return sel && !sel->nothing && sel->n == 0;
}

void kl_labelsel_free(struct kl_labelsel *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++)
        req_done(&sel->reqs[i]);
    free(sel->reqs);
    free(sel);
}

/* ---------------------------------------------------------------------------------------- */
/* Field selectors (pkg/fields/selector.go)                                                   */

struct freq {
    char *field;
    char *value;
    bool negate;
};

struct kl_fieldsel {
    struct freq *reqs;
    size_t n;
};

/* fields.UnescapeValue: "\\" "\," "\=" are the only escapes; a bare ',' or '=' is an error. */
static int unescape_value(const char *s, size_t n, char **ret, char **ret_err)
{
    struct cm_buf b;
    bool esc = false;

    cm_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (esc) {
            if (c != '\\' && c != ',' && c != '=') {
                kl__set_err(ret_err, "invalid field selector: invalid escape sequence: \\%c", c);
                cm_buf_done(&b);
                return -EINVAL;
            }
            cm_buf_append(&b, &c, 1);
            esc = false;
            continue;
        }
        if (c == '\\') {
            esc = true;
            continue;
        }
        if (c == ',' || c == '=') {
            kl__set_err(ret_err, "invalid field selector: unescaped character in value: %d", c);
            cm_buf_done(&b);
            return -EINVAL;
        }
        cm_buf_append(&b, &c, 1);
    }
    if (esc) {
        kl__set_err(ret_err, "invalid field selector: invalid escape sequence: \\");
        cm_buf_done(&b);
        return -EINVAL;
    }
    *ret = cm_buf_steal(&b);
    return *ret ? 0 : -ENOMEM;
}

static int cmp_freq(const void *a, const void *b)
{
    const struct freq *x = a, *y = b;
    int c = strcmp(x->field, y->field);
    return c ? c : strcmp(x->value, y->value);
}

int kl_fieldsel_parse(const char *s, struct kl_fieldsel **ret_sel, char **ret_err)
{
    struct kl_fieldsel *sel = calloc(1, sizeof(*sel));
    size_t len = s ? strlen(s) : 0, start = 0;
    int r = 0;

    if (!sel)
        return -ENOMEM;
    /* splitTerms: split on commas not escaped by a backslash. */
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] == '\\') {
            i++;
            continue;
        }
        if (i < len && s[i] != ',')
            continue;
        const char *term = s + start;
        size_t tl = i - start;
        start = i + 1;
        if (tl == 0)
            continue;
        /* splitTerm: the first unescaped "!=", "==" or "=". */
        size_t opi = SIZE_MAX, opl = 0;
        bool neg = false;
        for (size_t j = 0; j < tl; j++) {
            if (term[j] == '\\') {
                j++;
                continue;
            }
            if (j + 1 < tl && term[j] == '!' && term[j + 1] == '=') {
                opi = j, opl = 2, neg = true;
                break;
            }
            if (j + 1 < tl && term[j] == '=' && term[j + 1] == '=') {
                opi = j, opl = 2;
                break;
            }
            if (term[j] == '=') {
                opi = j, opl = 1;
                break;
            }
        }
        if (opi == SIZE_MAX) {
            kl__set_err(ret_err, "invalid selector: '%s'; can't understand '%.*s'", s, (int)tl, term);
            r = -EINVAL;
            goto fail;
        }
        struct freq fr = {.negate = neg};
        fr.field = strndup(term, opi);
        if (!fr.field) {
            r = -ENOMEM;
            goto fail;
        }
        r = unescape_value(term + opi + opl, tl - opi - opl, &fr.value, ret_err);
        if (r < 0) {
            free(fr.field);
            goto fail;
        }
        struct freq *grown = realloc(sel->reqs, (sel->n + 1) * sizeof(*sel->reqs));
        if (!grown) {
            free(fr.field);
            free(fr.value);
            r = -ENOMEM;
            goto fail;
        }
        sel->reqs = grown;
        sel->reqs[sel->n++] = fr;
    }
    if (sel->n > 1)
        qsort(sel->reqs, sel->n, sizeof(*sel->reqs), cmp_freq);
    *ret_sel = sel;
    return 0;
fail:
    kl_fieldsel_free(sel);
    return r;
}

/* The string a field set holds for path in obj: strings as they are, numbers and booleans
 * printed, anything missing or structured as "". */
static char *field_value(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    const char *p = path;

    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        char *key = strndup(p, l);
        if (!key)
            return NULL;
        cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
        free(key);
        p += l + (dot ? 1 : 0);
    }
    if (!cur)
        return strdup("");
    switch (json_typeof(cur)) {
    case JSON_STRING: return strdup(json_string_value(cur));
    case JSON_INTEGER: return kl__strdupf("%" JSON_INTEGER_FORMAT, json_integer_value(cur));
    case JSON_TRUE: return strdup("true");
    case JSON_FALSE: return strdup("false");
    case JSON_REAL: {
        struct cm_buf b;
        cm_buf_init(&b, 0);
        kl__go_float(&b, json_real_value(cur));
        return cm_buf_steal(&b);
    }
    default: return strdup("");
    }
}

int kl_fieldsel_match(const struct kl_fieldsel *sel, const json_t *obj)
{
    if (!sel)
        return 1;
    for (size_t i = 0; i < sel->n; i++) {
        char *v = field_value(obj, sel->reqs[i].field);
        bool eq = v && !strcmp(v, sel->reqs[i].value);
        free(v);
        if (eq == sel->reqs[i].negate)
            return 0;
    }
    return 1;
}

size_t kl_fieldsel_count(const struct kl_fieldsel *sel)
{
    return sel ? sel->n : 0;
}

const char *kl_fieldsel_field(const struct kl_fieldsel *sel, size_t i)
{
    return sel && i < sel->n ? sel->reqs[i].field : NULL;
}

const char *kl_fieldsel_value(const struct kl_fieldsel *sel, size_t i)
{
    return sel && i < sel->n ? sel->reqs[i].value : NULL;
}

int kl_fieldsel_negated(const struct kl_fieldsel *sel, size_t i)
{
    return sel && i < sel->n ? sel->reqs[i].negate : 0;
}

void kl_fieldsel_free(struct kl_fieldsel *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++) {
        free(sel->reqs[i].field);
        free(sel->reqs[i].value);
    }
    free(sel->reqs);
    free(sel);
}
