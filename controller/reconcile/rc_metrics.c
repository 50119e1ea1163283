#include "rc_metrics.h"

#include "cm_buf.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum family_type { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM };
static const char *const family_type_names[] = {"counter", "gauge", "histogram"};

struct series {
    struct series *next;
    char *l[2];
    double value;      /* counter/gauge value; histogram sum */
    unsigned long long count; /* histogram observations */
    unsigned long long *buckets; /* histogram: per-bound (non-cumulative) counts */
};

struct rc_metric {
    struct rc_metric *next;
    struct rc_metrics *reg;
    enum family_type type;
    char *name, *help;
    char *label[2];
    unsigned nlabels;
    double *bounds;
    size_t nbounds;
    struct series *series, *series_tail;
};

struct collector {
    struct collector *next;
    rc_metrics_collect_cb cb;
    void *userdata;
};

struct rc_metrics {
    pthread_mutex_t lock;
    struct rc_metric *families, *families_tail;
    struct collector *collectors;
};

struct rc_metrics *rc_metrics_new(void) {
    struct rc_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void series_free(struct series *s) {
    free(s->l[0]);
    free(s->l[1]);
    free(s->buckets);
    free(s);
}

static void family_free(struct rc_metric *f) {
    for (struct series *s = f->series, *n; s; s = n) {
        n = s->next;
        series_free(s);
    }
    free(f->name);
    free(f->help);
    free(f->label[0]);
    free(f->label[1]);
    free(f->bounds);
    free(f);
}

void rc_metrics_free(struct rc_metrics *m) {
    if (!m)
        return;
    for (struct rc_metric *f = m->families, *n; f; f = n) {
        n = f->next;
        family_free(f);
    }
    for (struct collector *c = m->collectors, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int split_labels(struct rc_metric *f, const char *labels) {
    if (!labels || !*labels)
        return 0;
    const char *comma = strchr(labels, ',');
    if (comma && strchr(comma + 1, ','))
        return -EINVAL;
    f->label[0] = comma ? strndup(labels, (size_t)(comma - labels)) : strdup(labels);
    f->nlabels = 1;
    if (comma) {
        f->label[1] = strdup(comma + 1);
        f->nlabels = 2;
    }
    if (!f->label[0] || (comma && !f->label[1]))
        return -ENOMEM;
    return 0;
}

static struct rc_metric *family_add(struct rc_metrics *m, enum family_type type, const char *name,
                                    const char *help, const char *labels, const double *bounds,
                                    size_t nbounds) {
    if (!m || !name || !*name)
        return NULL;
    pthread_mutex_lock(&m->lock);
    for (struct rc_metric *f = m->families; f; f = f->next)
        if (!strcmp(f->name, name)) {
            pthread_mutex_unlock(&m->lock);
            return f->type == type ? f : NULL;
        }
    struct rc_metric *f = calloc(1, sizeof *f);
    if (!f)
        goto fail;
    f->reg = m;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help || split_labels(f, labels) < 0)
        goto fail;
    if (type == FAM_HISTOGRAM) {
        for (size_t i = 1; i < nbounds; i++)
            if (!(bounds[i] > bounds[i - 1]))
                goto fail;
        f->bounds = malloc((nbounds ? nbounds : 1) * sizeof *f->bounds);
        if (!f->bounds)
            goto fail;
        if (nbounds)
            memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
        f->nbounds = nbounds;
    }
    if (m->families_tail)
        m->families_tail->next = f;
    else
        m->families = f;
    m->families_tail = f;
    pthread_mutex_unlock(&m->lock);
    return f;
fail:
    pthread_mutex_unlock(&m->lock);
    if (f)
        family_free(f);
    return NULL;
}

struct rc_metric *rc_metrics_counter(struct rc_metrics *m, const char *name, const char *help,
                                     const char *labels) {
    return family_add(m, FAM_COUNTER, name, help, labels, NULL, 0);
}

struct rc_metric *rc_metrics_gauge(struct rc_metrics *m, const char *name, const char *help,
                                   const char *labels) {
    return family_add(m, FAM_GAUGE, name, help, labels, NULL, 0);
}

struct rc_metric *rc_metrics_histogram(struct rc_metrics *m, const char *name, const char *help,
                                       const char *labels, const double *bounds, size_t n) {
    return family_add(m, FAM_HISTOGRAM, name, help, labels, bounds, n);
}

int rc_metrics_collector_add(struct rc_metrics *m, rc_metrics_collect_cb cb, void *userdata) {
    struct collector *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cb = cb;
    c->userdata = userdata;
    pthread_mutex_lock(&m->lock);
    c->next = m->collectors;
    m->collectors = c;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int label_eq(const char *a, const char *b) {
    return !strcmp(a ? a : "", b ? b : "");
}

/* Called with the registry lock held. */
static struct series *series_get(struct rc_metric *f, const char *l1, const char *l2, int create) {
    const char *l[2] = {f->nlabels > 0 ? l1 : NULL, f->nlabels > 1 ? l2 : NULL};
    for (struct series *s = f->series; s; s = s->next)
        if (label_eq(s->l[0], l[0]) && label_eq(s->l[1], l[1]))
            return s;
    if (!create)
        return NULL;
    struct series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (int i = 0; i < 2; i++)
        if (i < (int)f->nlabels && !(s->l[i] = strdup(l[i] ? l[i] : "")))
            goto fail;
    if (f->type == FAM_HISTOGRAM && !(s->buckets = calloc(f->nbounds + 1, sizeof *s->buckets)))
        goto fail;
    if (f->series_tail)
        f->series_tail->next = s;
    else
        f->series = s;
    f->series_tail = s;
    return s;
fail:
    series_free(s);
    return NULL;
}

void rc_metric_add(struct rc_metric *f, const char *l1, const char *l2, double v) {
    if (!f || f->type == FAM_HISTOGRAM)
        return;
    pthread_mutex_lock(&f->reg->lock);
    struct series *s = series_get(f, l1, l2, 1);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&f->reg->lock);
}

void rc_metric_inc(struct rc_metric *f, const char *l1, const char *l2) {
    rc_metric_add(f, l1, l2, 1);
}

void rc_metric_set(struct rc_metric *f, const char *l1, const char *l2, double v) {
    if (!f || f->type == FAM_HISTOGRAM)
        return;
    pthread_mutex_lock(&f->reg->lock);
    struct series *s = series_get(f, l1, l2, 1);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&f->reg->lock);
}

void rc_metric_observe(struct rc_metric *f, const char *l1, const char *l2, double v) {
    if (!f || f->type != FAM_HISTOGRAM || isnan(v))
        return;
    pthread_mutex_lock(&f->reg->lock);
    struct series *s = series_get(f, l1, l2, 1);
    if (s) {
        size_t i = 0;
        while (i < f->nbounds && v > f->bounds[i])
            i++;
        s->buckets[i]++;
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&f->reg->lock);
}

void rc_metric_zero(struct rc_metric *f) {
    if (!f || f->type != FAM_GAUGE)
        return;
    pthread_mutex_lock(&f->reg->lock);
    for (struct series *s = f->series; s; s = s->next)
        s->value = 0;
    pthread_mutex_unlock(&f->reg->lock);
}

double rc_metric_value(struct rc_metric *f, const char *l1, const char *l2) {
    if (!f)
        return 0;
    pthread_mutex_lock(&f->reg->lock);
    struct series *s = series_get(f, l1, l2, 0);
    double v = s ? (f->type == FAM_HISTOGRAM ? (double)s->count : s->value) : 0;
    pthread_mutex_unlock(&f->reg->lock);
    return v;
}

static void put_escaped(struct cm_buf *b, const char *v, int help) {
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            cm_buf_puts(b, "\\\\");
        else if (*p == '\n')
            cm_buf_puts(b, "\\n");
        else if (*p == '"' && !help)
            cm_buf_puts(b, "\\\"");
        else
            cm_buf_append(b, p, 1);
    }
}

static void put_number(struct cm_buf *b, double v) {
    if (isinf(v))
        cm_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == (double)(long long)v && fabs(v) < 1e15)
        cm_buf_printf(b, "%lld", (long long)v);
    else
        cm_buf_printf(b, "%.9g", v);
}

/* Writes {a="x",b="y"[,le="..."]} or nothing when there are no labels at all. */
static void put_labels(struct cm_buf *b, const struct rc_metric *f, const struct series *s,
                       const char *le) {
    if (!f->nlabels && !le)
        return;
    cm_buf_puts(b, "{");
    for (unsigned i = 0; i < f->nlabels; i++) {
        cm_buf_printf(b, "%s%s=\"", i ? "," : "", f->label[i]);
        put_escaped(b, s->l[i], 0);
        cm_buf_puts(b, "\"");
    }
    if (le)
        cm_buf_printf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    cm_buf_puts(b, "}");
}

int rc_metrics_render(struct rc_metrics *m, struct cm_buf *out) {
    /* Collectors are only ever prepended, so walking the list unlocked from a snapshot of its
     * head is safe; they must run unlocked because they call rc_metric_set(). */
    pthread_mutex_lock(&m->lock);
    struct collector *head = m->collectors;
    pthread_mutex_unlock(&m->lock);
    for (struct collector *c = head; c; c = c->next)
        c->cb(m, c->userdata);

    struct cm_buf b;
    cm_buf_init(&b, 0); /* out's cap is enforced by the final append */
    pthread_mutex_lock(&m->lock);
    for (struct rc_metric *f = m->families; f; f = f->next) {
        cm_buf_printf(&b, "# HELP %s ", f->name);
        put_escaped(&b, f->help, 1);
        cm_buf_printf(&b, "\n# TYPE %s %s\n", f->name, family_type_names[f->type]);
        for (struct series *s = f->series; s; s = s->next) {
            if (f->type != FAM_HISTOGRAM) {
                cm_buf_puts(&b, f->name);
                put_labels(&b, f, s, NULL);
                cm_buf_puts(&b, " ");
                put_number(&b, s->value);
                cm_buf_puts(&b, "\n");
                continue;
            }
            unsigned long long cum = 0;
            for (size_t i = 0; i <= f->nbounds; i++) {
                char le[40];
                cum += s->buckets[i];
                if (i == f->nbounds) {
                    snprintf(le, sizeof le, "+Inf");
                } else {
                    struct cm_buf tmp;
                    cm_buf_init(&tmp, sizeof le - 1);
                    put_number(&tmp, f->bounds[i]);
                    snprintf(le, sizeof le, "%s", tmp.data ? tmp.data : "0");
                    cm_buf_done(&tmp);
                }
                cm_buf_printf(&b, "%s_bucket", f->name);
                put_labels(&b, f, s, le);
                cm_buf_printf(&b, " %llu\n", cum);
            }
            cm_buf_printf(&b, "%s_sum", f->name);
            put_labels(&b, f, s, NULL);
            cm_buf_puts(&b, " ");
            put_number(&b, s->value);
            cm_buf_printf(&b, "\n%s_count", f->name);
            put_labels(&b, f, s, NULL);
            cm_buf_printf(&b, " %llu\n", s->count);
        }
    }
    pthread_mutex_unlock(&m->lock);
    /* Appending the finished text at once turns any partial failure (cap, memory) into one
     * error instead of a truncated exposition. */
    int r = b.data ? cm_buf_append(out, b.data, b.len) : 0;
    cm_buf_done(&b);
    return r;
}
