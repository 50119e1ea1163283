/* hostos loader: YAML (libyaml document API) → immutable profile structs, with strict checks.
 *
 * Profiles decide what runs as root on every managed host, so the loader is strict on purpose:
 * unknown keys, wrong types, missing commands, relative paths, template syntax errors and any
 * "{{" in a command are refused with "source:line: what is wrong" rather than half-loaded. A
 * typo in an override must fail loudly at load time, not surface as a strange bootstrap. */
#include "hostos_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define TEXT_MAX (1u << 20)

/* ---- arena ------------------------------------------------------------------------------ */

struct hostos__block {
    struct hostos__block *next;
    max_align_t data[];
};

void *hostos__alloc(struct hostos__arena *a, size_t n) {
    struct hostos__block *b = calloc(1, sizeof(*b) + (n ? n : 1));
    if (!b)
        return NULL;
    b->next = a->head;
    a->head = b;
    return b->data;
}

char *hostos__strndup(struct hostos__arena *a, const char *s, size_t n) {
    char *d = hostos__alloc(a, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

void hostos__arena_free(struct hostos__arena *a) {
    while (a->head) {
        struct hostos__block *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

/* ---- YAML access ------------------------------------------------------------------------ */

struct ld {
    yaml_document_t *doc;
    const char *src;
    struct hostos__arena *arena;
    struct hostos_error *err;
};

static int line_of(const yaml_node_t *n) {
    return (int)n->start_mark.line + 1;
}

static int fail_at(struct ld *l, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct ld *l, const yaml_node_t *n, const char *fmt, ...) {
    if (l->err) {
        int k = snprintf(l->err->message, sizeof(l->err->message), "%s:%d: ", l->src,
                         n ? line_of(n) : 0);
        if (k > 0 && (size_t)k < sizeof(l->err->message)) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(l->err->message + k, sizeof(l->err->message) - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

static int oom(struct ld *l) {
    hostos__fail(l->err, -ENOMEM, "%s: out of memory", l->src);
    return -ENOMEM;
}

static yaml_node_t *node(struct ld *l, int idx) {
    return yaml_document_get_node(l->doc, idx);
}

static const char *type_name(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a text value";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static int want(struct ld *l, const yaml_node_t *n, yaml_node_type_t t, const char *what) {
    if (n->type == t)
        return 0;
    const char *exp = t == YAML_SCALAR_NODE ? "a text value"
                      : t == YAML_SEQUENCE_NODE ? "a list"
                                                : "a mapping";
    return fail_at(l, n, "%s must be %s, not %s", what, exp, type_name(n));
}

static const char *sval(const yaml_node_t *n) {
    return (const char *)n->data.scalar.value;
}

/* Value node of key in a mapping, or NULL. */
static yaml_node_t *map_get(struct ld *l, yaml_node_t *map, const char *key) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(l, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp(sval(k), key) == 0)
            return node(l, p->value);
    }
    return NULL;
}

/* Every key must be a text value, appear once and be one of allowed (NULL terminated). */
static int check_keys(struct ld *l, yaml_node_t *map, const char *const *allowed,
                      const char *what) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(l, p->key);
        if (!k || k->type != YAML_SCALAR_NODE)
            return fail_at(l, k, "keys of %s must be text", what);
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, sval(k)) == 0;
        if (!ok) {
            char list[256] = "";
            size_t o = 0;
            for (const char *const *a = allowed; *a; a++) {
                int w = snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", *a);
                if (w < 0 || (size_t)w >= sizeof(list) - o)
                    break;
                o += (size_t)w;
            }
            return fail_at(l, k, "unknown key '%s' in %s (allowed: %s)", sval(k), what, list);
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = node(l, q->key);
            if (k2 && k2->type == YAML_SCALAR_NODE && strcmp(sval(k2), sval(k)) == 0)
                return fail_at(l, k, "key '%s' appears twice in %s", sval(k), what);
        }
    }
    return 0;
}

static int get_text(struct ld *l, yaml_node_t *n, const char *what, const char **ret) {
    int r = want(l, n, YAML_SCALAR_NODE, what);
    if (r < 0)
        return r;
    size_t len = n->data.scalar.length;
    if (memchr(sval(n), '\0', len))
        return fail_at(l, n, "%s contains a NUL byte", what);
    char *s = hostos__strndup(l->arena, sval(n), len);
    if (!s)
        return oom(l);
    *ret = s;
    return 0;
}

/* A required (or optional, when ret is left alone) text under key. */
static int key_text(struct ld *l, yaml_node_t *map, const char *key, bool required,
                    const char *what, const char **ret) {
    yaml_node_t *v = map_get(l, map, key);
    if (!v) {
        if (required)
            return fail_at(l, map, "%s has no '%s'", what, key);
        return 0;
    }
    char w[128];
    snprintf(w, sizeof(w), "%s: %s", what, key);
    return get_text(l, v, w, ret);
}

static int get_int(struct ld *l, yaml_node_t *n, const char *what, long lo, long hi, int *ret) {
    int r = want(l, n, YAML_SCALAR_NODE, what);
    if (r < 0)
        return r;
    char *end = NULL;
    errno = 0;
    long v = strtol(sval(n), &end, 10);
    if (errno || !*sval(n) || *end || v < lo || v > hi)
        return fail_at(l, n, "%s must be an integer from %ld to %ld, not '%s'", what, lo, hi,
                       sval(n));
    *ret = (int)v;
    return 0;
}

static int get_bool(struct ld *l, yaml_node_t *n, const char *what, bool *ret) {
    int r = want(l, n, YAML_SCALAR_NODE, what);
    if (r < 0)
        return r;
    if (strcmp(sval(n), "true") == 0)
        *ret = true;
    else if (strcmp(sval(n), "false") == 0)
        *ret = false;
    else
        return fail_at(l, n, "%s must be true or false, not '%s'", what, sval(n));
    return 0;
}

static int get_text_list(struct ld *l, yaml_node_t *n, const char *what,
                         const char *const **ret, size_t *ret_n) {
    int r = want(l, n, YAML_SEQUENCE_NODE, what);
    if (r < 0)
        return r;
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    const char **arr = hostos__alloc(l->arena, (cnt ? cnt : 1) * sizeof(*arr));
    if (!arr)
        return oom(l);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node(l, n->data.sequence.items.start[i]);
        r = get_text(l, it, what, &arr[i]);
        if (r < 0)
            return r;
        if (!*arr[i])
            return fail_at(l, it, "%s has an empty entry", what);
    }
    *ret = arr;
    *ret_n = cnt;
    return 0;
}

/* ---- validation helpers ----------------------------------------------------------------- */

static bool name_ok(const char *s, bool allow_dot) {
    if (!*s || strlen(s) > 63 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
        return false;
    for (const char *p = s; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                  (allow_dot && (*p == '.' || *p == '_'));
        if (!ok)
            return false;
    }
    return true;
}

/* Commands are fixed shell text: the one allowed placeholder is {{version}} in deploy. */
static int check_command(struct ld *l, yaml_node_t *n, const char *what, const char *cmd,
                         bool is_deploy) {
    const char *s = cmd;
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    if (!*s)
        return fail_at(l, n, "%s is empty", what);
    if (!is_deploy) {
        if (strstr(cmd, "{{"))
            return fail_at(l, n,
                           "%s contains '{{': commands are fixed text; put values into a "
                           "file's content instead",
                           what);
        return 0;
    }
    const char *v = strstr(cmd, "{{version}}");
    if (!v)
        return fail_at(l, n, "%s must contain {{version}} exactly once", what);
    const char *rest = v + strlen("{{version}}");
    if (strstr(rest, "{{") || (v > cmd && memmem(cmd, (size_t)(v - cmd), "{{", 2)))
        return fail_at(l, n, "%s may contain no placeholder other than {{version}}, once",
                       what);
    return 0;
}

static int parse_when(struct ld *l, yaml_node_t *n, const char *what,
                      const struct hostos_cond **ret, size_t *ret_n) {
    int r = want(l, n, YAML_MAPPING_NODE, what);
    if (r < 0)
        return r;
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    struct hostos_cond *c = hostos__alloc(l->arena, (cnt ? cnt : 1) * sizeof(*c));
    if (!c)
        return oom(l);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        r = get_text(l, k, what, &c[i].var);
        if (r < 0)
            return r;
        bool ok = *c[i].var && c[i].var[0] != '.';
        for (const char *q = c[i].var; *q && ok; q++)
            ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                 (*q >= '0' && *q <= '9') || *q == '_' || *q == '.' || *q == '-';
        if (!ok)
            return fail_at(l, k, "%s: '%s' is not a variable path (like network.type)", what,
                           c[i].var);
        if (v->type == YAML_SCALAR_NODE) {
            const char **one = hostos__alloc(l->arena, sizeof(*one));
            if (!one)
                return oom(l);
            r = get_text(l, v, what, &one[0]);
            c[i].values = one;
            c[i].n_values = 1;
        } else {
            r = get_text_list(l, v, what, &c[i].values, &c[i].n_values);
            if (r == 0 && c[i].n_values == 0)
                r = fail_at(l, v, "%s: %s lists no value", what, c[i].var);
        }
        if (r < 0)
            return r;
    }
    *ret = c;
    *ret_n = cnt;
    return 0;
}

static int parse_file(struct ld *l, yaml_node_t *n, const char *step, struct hostos_file *f) {
    static const char *const keys[] = {"path", "mode", "content", "when", NULL};
    char what[160];
    snprintf(what, sizeof(what), "file of step '%s'", step);
    int r = want(l, n, YAML_MAPPING_NODE, what);
    if (r == 0)
        r = check_keys(l, n, keys, what);
    if (r == 0)
        r = key_text(l, n, "path", true, what, &f->path);
    if (r == 0)
        r = key_text(l, n, "content", true, what, &f->content);
    if (r < 0)
        return r;
    f->line = line_of(n);
    yaml_node_t *pn = map_get(l, n, "path");
    if (f->path[0] != '/' || strstr(f->path, "/../") || strstr(f->path, "/./") ||
        strchr(f->path, '\n') || strstr(f->path, "{{") ||
        (strlen(f->path) >= 3 && strcmp(f->path + strlen(f->path) - 3, "/..") == 0) ||
        f->path[strlen(f->path) - 1] == '/')
        return fail_at(l, pn,
                       "%s: path '%s' must be an absolute file path without '..', '{{' or a "
                       "trailing '/'",
                       what, f->path);
    f->mode = 0644;
    yaml_node_t *mn = map_get(l, n, "mode");
    if (mn) {
        if (mn->type != YAML_SCALAR_NODE)
            return want(l, mn, YAML_SCALAR_NODE, "mode");
        const char *m = sval(mn);
        size_t len = strlen(m);
        bool ok = len >= 3 && len <= 5 && (len < 5 || m[0] == '0');
        unsigned v = 0;
        for (size_t i = 0; i < len && ok; i++) {
            ok = m[i] >= '0' && m[i] <= '7';
            v = v * 8 + (unsigned)(m[i] - '0');
        }
        if (!ok || v > 07777)
            return fail_at(l, mn, "%s: mode '%s' must be octal like \"0644\"", what, m);
        f->mode = v;
    }
    yaml_node_t *wn = map_get(l, n, "when");
    if (wn && (r = parse_when(l, wn, what, &f->when, &f->n_when)) < 0)
        return r;
    /* Template syntax is checked now, so a broken file fails the load, not a bootstrap. */
    struct hostos_error te;
    if (hostos__template_run(f->content, NULL, true, NULL, &te) < 0)
        return fail_at(l, map_get(l, n, "content"), "%s %s: %s", what, f->path, te.message);
    return 0;
}

static int parse_step(struct ld *l, yaml_node_t *n, bool teardown, struct hostos_step *s) {
    static const char *const keys[] = {"name", "description", "when", "files", "check",
                                       "apply", "timeout", NULL};
    const char *list = teardown ? "teardown step" : "bootstrap step";
    int r = want(l, n, YAML_MAPPING_NODE, list);
    if (r == 0)
        r = check_keys(l, n, keys, list);
    if (r == 0)
        r = key_text(l, n, "name", true, list, &s->name);
    if (r < 0)
        return r;
    s->line = line_of(n);
    if (!name_ok(s->name, false))
        return fail_at(l, map_get(l, n, "name"),
                       "%s name '%s' must be lower-case letters, digits and '-'", list, s->name);
    char what[160];
    snprintf(what, sizeof(what), "step '%s'", s->name);
    s->description = "";
    if ((r = key_text(l, n, "description", false, what, &s->description)) < 0 ||
        (r = key_text(l, n, "check", !teardown, what, &s->check)) < 0 ||
        (r = key_text(l, n, "apply", true, what, &s->apply)) < 0)
        return r;
    char w2[200];
    if (s->check) {
        snprintf(w2, sizeof(w2), "%s: check", what);
        if ((r = check_command(l, map_get(l, n, "check"), w2, s->check, false)) < 0)
            return r;
    }
    snprintf(w2, sizeof(w2), "%s: apply", what);
    if ((r = check_command(l, map_get(l, n, "apply"), w2, s->apply, false)) < 0)
        return r;
    yaml_node_t *tn = map_get(l, n, "timeout");
    if (tn && (r = get_int(l, tn, "timeout", 1, 86400, &s->timeout_s)) < 0)
        return r;
    yaml_node_t *wn = map_get(l, n, "when");
    if (wn && (r = parse_when(l, wn, what, &s->when, &s->n_when)) < 0)
        return r;
    yaml_node_t *fn = map_get(l, n, "files");
    if (fn) {
        snprintf(w2, sizeof(w2), "%s: files", what);
        if ((r = want(l, fn, YAML_SEQUENCE_NODE, w2)) < 0)
            return r;
        size_t cnt = (size_t)(fn->data.sequence.items.top - fn->data.sequence.items.start);
        struct hostos_file *files = hostos__alloc(l->arena, (cnt ? cnt : 1) * sizeof(*files));
        if (!files)
            return oom(l);
        for (size_t i = 0; i < cnt; i++) {
            r = parse_file(l, node(l, fn->data.sequence.items.start[i]), s->name, &files[i]);
            if (r < 0)
                return r;
        }
        s->files = files;
        s->n_files = cnt;
    }
    return 0;
}

static int parse_steps(struct ld *l, yaml_node_t *n, bool teardown,
                       const struct hostos_step **ret, size_t *ret_n) {
    const char *what = teardown ? "teardown" : "bootstrap";
    int r = want(l, n, YAML_SEQUENCE_NODE, what);
    if (r < 0)
        return r;
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    struct hostos_step *steps = hostos__alloc(l->arena, (cnt ? cnt : 1) * sizeof(*steps));
    if (!steps)
        return oom(l);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *sn = node(l, n->data.sequence.items.start[i]);
        r = parse_step(l, sn, teardown, &steps[i]);
        if (r < 0)
            return r;
        for (size_t k = 0; k < i; k++)
            if (strcmp(steps[k].name, steps[i].name) == 0)
                return fail_at(l, sn, "%s step name '%s' is used twice (first at line %d)",
                               what, steps[i].name, steps[k].line);
    }
    *ret = steps;
    *ret_n = cnt;
    return 0;
}

static int parse_commands(struct ld *l, yaml_node_t *n, struct hostos_profile *p) {
    static const char *const keys[] = {"reboot", "restart", "upgrade", "deploy", "version", NULL};
    int r = want(l, n, YAML_MAPPING_NODE, "commands");
    if (r == 0)
        r = check_keys(l, n, keys, "commands");
    if (r == 0)
        r = key_text(l, n, "reboot", true, "commands", &p->reboot);
    if (r == 0)
        r = key_text(l, n, "restart", false, "commands", &p->restart);
    if (r == 0)
        r = key_text(l, n, "upgrade", true, "commands", &p->upgrade);
    if (r == 0)
        r = key_text(l, n, "deploy", false, "commands", &p->deploy);
    if (r == 0)
        r = key_text(l, n, "version", true, "commands", &p->version);
    if (r < 0)
        return r;
    if (!p->restart)
        p->restart = p->reboot;
    struct {
        const char *key;
        const char *cmd;
    } all[] = {{"reboot", p->reboot}, {"restart", p->restart}, {"upgrade", p->upgrade},
               {"deploy", p->deploy}, {"version", p->version}};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (!all[i].cmd)
            continue;
        char what[64];
        snprintf(what, sizeof(what), "commands: %s", all[i].key);
        yaml_node_t *cn = map_get(l, n, all[i].key);
        r = check_command(l, cn ? cn : n, what, all[i].cmd, strcmp(all[i].key, "deploy") == 0);
        if (r < 0)
            return r;
    }
    return 0;
}

static int parse_match(struct ld *l, yaml_node_t *n, struct hostos_profile *p) {
    static const char *const keys[] = {"ids", "like", "atomic", NULL};
    int r = want(l, n, YAML_MAPPING_NODE, "match");
    if (r == 0)
        r = check_keys(l, n, keys, "match");
    if (r < 0)
        return r;
    yaml_node_t *v;
    if ((v = map_get(l, n, "ids")) &&
        (r = get_text_list(l, v, "match: ids", &p->match_ids, &p->n_match_ids)) < 0)
        return r;
    if ((v = map_get(l, n, "like")) &&
        (r = get_text_list(l, v, "match: like", &p->match_like, &p->n_match_like)) < 0)
        return r;
    p->match_atomic = HOSTOS_ATOMIC_ANY;
    if ((v = map_get(l, n, "atomic"))) {
        bool b = false; /* set by get_bool() on success; -O2 cannot see it */
        if ((r = get_bool(l, v, "match: atomic", &b)) < 0)
            return r;
        p->match_atomic = b ? HOSTOS_ATOMIC_YES : HOSTOS_ATOMIC_NO;
    }
    if (p->n_match_ids + p->n_match_like == 0)
        return fail_at(l, n, "match needs at least one entry in ids or like");
    return 0;
}

static int parse_profile(struct ld *l, yaml_node_t *n, struct hostos__profile *pp) {
    static const char *const keys[] = {"id",       "description", "priority", "match",
                                       "commands", "bootstrap",   "teardown", NULL};
    struct hostos_profile *p = &pp->pub;
    int r = want(l, n, YAML_MAPPING_NODE, "a profile");
    if (r == 0)
        r = check_keys(l, n, keys, "profile");
    if (r == 0)
        r = key_text(l, n, "id", true, "profile", &p->id);
    if (r < 0)
        return r;
    pp->line = line_of(n);
    if (!name_ok(p->id, true))
        return fail_at(l, map_get(l, n, "id"),
                       "profile id '%s' must be lower-case letters, digits, '.', '_' and '-'",
                       p->id);
    p->description = "";
    if ((r = key_text(l, n, "description", false, "profile", &p->description)) < 0)
        return r;
    yaml_node_t *v;
    if ((v = map_get(l, n, "priority")) &&
        (r = get_int(l, v, "priority", -1000, 1000, &p->priority)) < 0)
        return r;
    if (!(v = map_get(l, n, "match")))
        return fail_at(l, n, "profile '%s' has no 'match'", p->id);
    if ((r = parse_match(l, v, p)) < 0)
        return r;
    if (!(v = map_get(l, n, "commands")))
        return fail_at(l, n, "profile '%s' has no 'commands'", p->id);
    if ((r = parse_commands(l, v, p)) < 0)
        return r;
    if (!(v = map_get(l, n, "bootstrap")))
        return fail_at(l, n, "profile '%s' has no 'bootstrap' steps", p->id);
    if ((r = parse_steps(l, v, false, &p->bootstrap, &p->n_bootstrap)) < 0)
        return r;
    if ((v = map_get(l, n, "teardown")) &&
        (r = parse_steps(l, v, true, &p->teardown, &p->n_teardown)) < 0)
        return r;
    char *src = NULL;
    if (asprintf(&src, "%s:%d", l->src, pp->line) < 0)
        return oom(l);
    p->source = hostos__strndup(l->arena, src, strlen(src));
    free(src);
    return p->source ? 0 : oom(l);
}

static void free_list(struct hostos_profile **list, size_t n) {
    for (size_t i = 0; i < n; i++)
        hostos_profile_unref(list[i]);
    free(list);
}

/* Parses one profile node into a new profile and appends it to the list. */
static int add_profile(struct ld *base, yaml_node_t *n, struct hostos_profile ***list, size_t *cnt) {
    struct hostos__profile *pp = calloc(1, sizeof(*pp));
    if (!pp)
        return oom(base);
    atomic_init(&pp->refs, 1);
    struct ld l = *base;
    l.arena = &pp->arena;
    int r = parse_profile(&l, n, pp);
    if (r == 0) {
        for (size_t i = 0; i < *cnt; i++)
            if (strcmp((*list)[i]->id, pp->pub.id) == 0)
                r = fail_at(&l, n, "profile id '%s' is defined twice (also at %s)", pp->pub.id,
                            (*list)[i]->source);
    }
    struct hostos_profile **nl = r == 0 ? realloc(*list, (*cnt + 1) * sizeof(**list)) : NULL;
    if (r == 0 && !nl)
        r = oom(base);
    if (r < 0) {
        hostos_profile_unref(&pp->pub);
        return r;
    }
    nl[(*cnt)++] = &pp->pub;
    *list = nl;
    return 0;
}

int hostos__parse(const char *text, size_t len, const char *name,
                  struct hostos_profile ***ret_list, size_t *ret_n, struct hostos_error *err) {
    if (len > TEXT_MAX)
        return hostos__fail(err, -EINVAL, "%s: larger than %u bytes", name, TEXT_MAX);
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return hostos__fail(err, -ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    struct hostos_profile **list = NULL;
    size_t cnt = 0;
    int r = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            r = hostos__fail(err, -EINVAL, "%s:%zu: YAML error: %s%s%s", name,
                             parser.problem_mark.line + 1,
                             parser.problem ? parser.problem : "malformed",
                             parser.context ? " " : "", parser.context ? parser.context : "");
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) { /* end of the stream */
            yaml_document_delete(&doc);
            break;
        }
        struct ld l = {.doc = &doc, .src = name, .err = err};
        if (root->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = root->data.sequence.items.start;
                 it < root->data.sequence.items.top && r == 0; it++)
                r = add_profile(&l, node(&l, *it), &list, &cnt);
        } else if (root->type == YAML_MAPPING_NODE) {
            r = add_profile(&l, root, &list, &cnt);
        } else {
            r = fail_at(&l, root, "expected a profile (a mapping) or a list of profiles");
        }
        yaml_document_delete(&doc);
        if (r < 0)
            break;
    }
    yaml_parser_delete(&parser);
    if (r < 0) {
        free_list(list, cnt);
        return r;
    }
    *ret_list = list;
    *ret_n = cnt;
    return 0;
}
