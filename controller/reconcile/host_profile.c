#include "host_profile.h"

#include "hostos.h"
#include "sshc_facts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct plan_step {
    struct hp_step pub;
    struct hp_file *files; /* data owned (rendered) */
};

struct hp_plan {
    struct hostos_profile *profile; /* reference: commands and names point into it */
    struct plan_step *steps, *teardown;
    size_t n_steps, n_teardown;
};

int hp_match(struct hostos_registry *reg, const struct sshc_facts *facts, const char **ret_name,
             char *msg, size_t n) {
    struct hostos_profile *p = NULL;
    struct hostos_error err = {{0}};
    int r = hostos_registry_match(reg, facts->os_id, facts->os_id_like, facts->atomic, &p, &err);
    if (r < 0) {
        snprintf(msg, n, "%s", err.message[0] ? err.message : "no OS profile matches the host");
        return r;
    }
    /* The registry keeps its own reference for its whole life, so the id stays valid. */
    *ret_name = p->id;
    hostos_profile_unref(p);
    return 0;
}

static void steps_free(struct plan_step *s, size_t n) {
    for (size_t i = 0; s && i < n; i++) {
        for (size_t f = 0; f < s[i].pub.n_files; f++)
            free((char *)s[i].files[f].data);
        free(s[i].files);
    }
    free(s);
}

void hp_plan_free(struct hp_plan *p) {
    if (!p)
        return;
    steps_free(p->steps, p->n_steps);
    steps_free(p->teardown, p->n_teardown);
    hostos_profile_unref(p->profile);
    free(p);
}

/* Renders the applicable steps of src into *ret. */
static int build_steps(const struct hostos_step *src, size_t n, const json_t *vars,
                       struct plan_step **ret, size_t *ret_n, char *msg, size_t msg_n) {
    struct plan_step *out = calloc(n ? n : 1, sizeof *out);
    if (!out)
        return -ENOMEM;
    size_t k = 0;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        const struct hostos_step *s = &src[i];
        if (!hostos_conds_hold(s->when, s->n_when, vars))
            continue;
        struct plan_step *d = &out[k++];
        d->pub.name = s->name;
        d->pub.check = s->check;
        d->pub.apply = s->apply;
        d->pub.timeout_ms = s->timeout_s > 0 ? s->timeout_s * 1000 : 0;
        d->files = calloc(s->n_files ? s->n_files : 1, sizeof *d->files);
        if (!d->files) {
            r = -ENOMEM;
            break;
        }
        size_t nf = 0;
        for (size_t f = 0; f < s->n_files; f++) {
            const struct hostos_file *hf = &s->files[f];
            if (!hostos_conds_hold(hf->when, hf->n_when, vars))
                continue;
            char *data = NULL;
            struct hostos_error err = {{0}};
            r = hostos_template_render(hf->content, vars, &data, &err);
            if (r < 0) {
                snprintf(msg, msg_n, "step %s, file %s: %s", s->name, hf->path, err.message);
                break;
            }
            d->files[nf++] = (struct hp_file){hf->path, data, strlen(data), hf->mode};
            d->pub.n_files = nf;
        }
        d->pub.files = d->files;
        if (r < 0)
            break;
    }
    if (r < 0) {
        steps_free(out, k);
        return r;
    }
    *ret = out;
    *ret_n = k;
    return 0;
}

int hp_plan_new(struct hostos_registry *reg, const char *name, const json_t *vars,
                struct hp_plan **ret_plan, char *msg, size_t n) {
    struct hp_plan *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->profile = hostos_registry_get(reg, name);
    if (!p->profile) {
        snprintf(msg, n, "OS profile %s is no longer loaded", name);
        free(p);
        return -ENOENT;
    }
    int r = build_steps(p->profile->bootstrap, p->profile->n_bootstrap, vars, &p->steps,
                        &p->n_steps, msg, n);
    if (r == 0)
        r = build_steps(p->profile->teardown, p->profile->n_teardown, vars, &p->teardown,
                        &p->n_teardown, msg, n);
    if (r < 0) {
        hp_plan_free(p);
        return r;
    }
    *ret_plan = p;
    return 0;
}

const char *hp_plan_profile(const struct hp_plan *p) { return p->profile->id; }
size_t hp_plan_n_steps(const struct hp_plan *p) { return p->n_steps; }
const struct hp_step *hp_plan_step(const struct hp_plan *p, size_t i) {
    return i < p->n_steps ? &p->steps[i].pub : NULL;
}
size_t hp_plan_n_teardown(const struct hp_plan *p) { return p->n_teardown; }
const struct hp_step *hp_plan_teardown(const struct hp_plan *p, size_t i) {
    return i < p->n_teardown ? &p->teardown[i].pub : NULL;
}
