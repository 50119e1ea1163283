/* hostos registry: the loaded profiles, override by id, and the facts → profile matcher. */
#include "hostos_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hostos_registry {
    atomic_int refs;
    struct hostos_profile **profiles;
    size_t n;
};

struct hostos_profile *hostos_profile_ref(struct hostos_profile *p) {
    if (p)
        atomic_fetch_add(&((struct hostos__profile *)p)->refs, 1);
    return p;
}

void hostos_profile_unref(struct hostos_profile *p) {
    if (!p)
        return;
    struct hostos__profile *pp = (struct hostos__profile *)p;
    if (atomic_fetch_sub(&pp->refs, 1) != 1)
        return;
    hostos__arena_free(&pp->arena);
    free(pp);
}

int hostos_profile_deploy_command(const struct hostos_profile *p, const char *version,
                                  char **ret_cmd, struct hostos_error *err) {
    if (!p->deploy)
        return hostos__fail(err, -ENOTSUP,
                            "deploy needs an rpm-ostree host; profile %s cannot deploy a version",
                            p->id);
    if (!hostos_version_valid(version))
        return hostos__fail(err, -EINVAL,
                            "version must be 1-128 characters of letters, digits and ._+~:=- "
                            "starting with a letter or digit");
    /* The loader guarantees exactly one {{version}}. The value is validated above (no quote can
     * be in it) and single-quoted anyway, so it is one word and never shell syntax. */
    const char *at = strstr(p->deploy, "{{version}}");
    char *cmd = NULL;
    if (asprintf(&cmd, "%.*s'%s'%s", (int)(at - p->deploy), p->deploy, version,
                 at + strlen("{{version}}")) < 0)
        return hostos__fail(err, -ENOMEM, "out of memory");
    *ret_cmd = cmd;
    return 0;
}

int hostos_registry_new(struct hostos_registry **ret) {
    struct hostos_registry *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    atomic_init(&r->refs, 1);
    *ret = r;
    return 0;
}

struct hostos_registry *hostos_registry_ref(struct hostos_registry *r) {
    if (r)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void hostos_registry_unref(struct hostos_registry *r) {
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    for (size_t i = 0; i < r->n; i++)
        hostos_profile_unref(r->profiles[i]);
    free(r->profiles);
    free(r);
}

size_t hostos_registry_count(const struct hostos_registry *r) {
    return r->n;
}

struct hostos_profile *hostos_registry_get(const struct hostos_registry *r, const char *id) {
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->profiles[i]->id, id) == 0)
            return hostos_profile_ref(r->profiles[i]);
    return NULL;
}

/* Adds the new profiles, each replacing a loaded one with the same id. Takes the references of
 * list; frees the array. Only fails before changing anything. */
static int commit(struct hostos_registry *r, struct hostos_profile **list, size_t n,
                  struct hostos_error *err) {
    struct hostos_profile **all = realloc(r->profiles, (r->n + n + 1) * sizeof(*all));
    if (!all) {
        for (size_t i = 0; i < n; i++)
            hostos_profile_unref(list[i]);
        free(list);
        return hostos__fail(err, -ENOMEM, "out of memory");
    }
    r->profiles = all;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < r->n && strcmp(r->profiles[k]->id, list[i]->id) != 0)
            k++;
        if (k < r->n)
            hostos_profile_unref(r->profiles[k]);
        else
            r->n++;
        r->profiles[k] = list[i];
    }
    free(list);
    return 0;
}

int hostos_registry_load_yaml_string(struct hostos_registry *r, const char *text, size_t len,
                                     const char *name, struct hostos_error *err) {
    struct hostos_profile **list = NULL;
    size_t n = 0;
    int rc = hostos__parse(text, len, name ? name : "<string>", &list, &n, err);
    if (rc < 0)
        return rc;
    return commit(r, list, n, err);
}

static int read_file(const char *path, char **ret, size_t *ret_len, struct hostos_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hostos__fail(err, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size > (1 << 20)) {
        close(fd);
        return hostos__fail(err, -EINVAL, "%s: not a readable file of at most 1 MiB", path);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (!buf)
        return hostos__fail(err, -ENOMEM, "out of memory");
    buf[got] = '\0';
    *ret = buf;
    *ret_len = got;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool yaml_name(const char *n) {
    size_t len = strlen(n);
    if (n[0] == '.')
        return false;
    return (len > 5 && strcmp(n + len - 5, ".yaml") == 0) ||
           (len > 4 && strcmp(n + len - 4, ".yml") == 0);
}

int hostos_registry_load_dir(struct hostos_registry *r, const char *dir, struct hostos_error *err) {
    DIR *d = opendir(dir);
    if (!d)
        return hostos__fail(err, -errno, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t nn = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!yaml_name(e->d_name))
            continue;
        char **t = realloc(names, (nn + 1) * sizeof(*names));
        char *s = strdup(e->d_name);
        if (!t || !s) {
            free(s);
            if (t)
                names = t;
            rc = hostos__fail(err, -ENOMEM, "out of memory");
            break;
        }
        names = t;
        names[nn++] = s;
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof(*names), cmp_str);

    /* Everything of this directory is parsed before any of it is added: all or nothing. */
    struct hostos_profile **all = NULL;
    size_t na = 0;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        char *path = NULL, *text = NULL;
        size_t len = 0;
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
            rc = hostos__fail(err, -ENOMEM, "out of memory");
            break;
        }
        rc = read_file(path, &text, &len, err);
        struct hostos_profile **list = NULL;
        size_t n = 0;
        if (rc == 0)
            rc = hostos__parse(text, len, path, &list, &n, err);
        free(text);
        for (size_t k = 0; rc == 0 && k < n; k++)
            for (size_t j = 0; j < na; j++)
                if (strcmp(all[j]->id, list[k]->id) == 0)
                    rc = hostos__fail(err, -EINVAL, "%s: profile id '%s' is defined twice (also "
                                      "at %s)", list[k]->source, list[k]->id, all[j]->source);
        struct hostos_profile **t = rc == 0 ? realloc(all, (na + n + 1) * sizeof(*all)) : NULL;
        if (rc == 0 && !t)
            rc = hostos__fail(err, -ENOMEM, "out of memory");
        if (rc < 0) {
            for (size_t k = 0; k < n; k++)
                hostos_profile_unref(list[k]);
        } else {
            all = t;
            memcpy(all + na, list, n * sizeof(*list));
            na += n;
        }
        free(list);
        free(path);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (rc < 0) {
        for (size_t i = 0; i < na; i++)
            hostos_profile_unref(all[i]);
        free(all);
        return rc;
    }
    return commit(r, all, na, err);
}

/* Position of tok among the space-separated words of list, or -1. */
static int word_index(const char *list, const char *tok) {
    size_t tn = strlen(tok);
    int idx = 0;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (p == s)
            break;
        if ((size_t)(p - s) == tn && memcmp(s, tok, tn) == 0)
            return idx;
        idx++;
    }
    return -1;
}

int hostos_registry_match(const struct hostos_registry *r, const char *os_id,
                          const char *os_id_like, bool atomic, struct hostos_profile **ret,
                          struct hostos_error *err) {
    os_id = os_id ? os_id : "";
    os_id_like = os_id_like ? os_id_like : "";
    struct hostos_profile *best = NULL;
    int best_quality = 0; /* 1000 for an ID match, else 999 - position of the ID_LIKE token */
    for (size_t i = 0; i < r->n; i++) {
        struct hostos_profile *p = r->profiles[i];
        if ((p->match_atomic == HOSTOS_ATOMIC_YES && !atomic) ||
            (p->match_atomic == HOSTOS_ATOMIC_NO && atomic))
            continue;
        int q = 0;
        for (size_t k = 0; k < p->n_match_ids && *os_id; k++)
            if (strcmp(p->match_ids[k], os_id) == 0)
                q = 1000;
        for (size_t k = 0; k < p->n_match_like && q < 1000; k++) {
            int w = word_index(os_id_like, p->match_like[k]);
            if (w >= 0 && 999 - w > q)
                q = 999 - w;
        }
        if (q == 0)
            continue;
        if (!best || p->priority > best->priority ||
            (p->priority == best->priority &&
             (q > best_quality || (q == best_quality && strcmp(p->id, best->id) < 0)))) {
            best = p;
            best_quality = q;
        }
    }
    if (!best)
        return hostos__fail(err, -ENOENT,
                            "no OS profile matches os-release ID=%s ID_LIKE=%s (rpm-ostree: %s)",
                            *os_id ? os_id : "(none)", *os_id_like ? os_id_like : "(none)",
                            atomic ? "yes" : "no");
    *ret = hostos_profile_ref(best);
    return 0;
}
