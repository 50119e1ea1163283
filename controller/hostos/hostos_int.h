/* Internals shared by the files of the hostos module (not a public header). */
#ifndef HOSTOS_INT_H
#define HOSTOS_INT_H

#include <stdatomic.h>

#include "hostos.h"

/* Every string and array of one profile lives in its arena, so a profile is freed at once. */
struct hostos__block;
struct hostos__arena {
    struct hostos__block *head;
};
void *hostos__alloc(struct hostos__arena *a, size_t n); /* zeroed; NULL on -ENOMEM */
char *hostos__strndup(struct hostos__arena *a, const char *s, size_t n);
void hostos__arena_free(struct hostos__arena *a);

struct hostos__profile {
    struct hostos_profile pub; /* first: a struct hostos_profile * is a struct hostos__profile * */
    atomic_int refs;
    int line;                  /* where the profile starts in its source */
    struct hostos__arena arena;
};

int hostos__fail(struct hostos_error *err, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const json_t *hostos__lookup(const json_t *vars, const char *path, size_t n);
/* Renders (or with check_only, only parses) a template; see hostos_template_render(). */
int hostos__template_run(const char *tmpl, const json_t *vars, bool check_only, char **ret,
                         struct hostos_error *err);

/* Parses YAML text (one profile, a list of them, or several documents) into new profiles
 * (refcount 1 each). Returns 0 with *ret_list (malloc'd array) and *ret_n, or -EINVAL with
 * err "name:line: ...". */
int hostos__parse(const char *text, size_t len, const char *name, struct hostos_profile ***ret_list,
                  size_t *ret_n, struct hostos_error *err);

#endif
