#include "kl_auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kl_auth {
    struct kl_auth_user *users;
    size_t n;
};

void kl_auth_free(struct kl_auth *a) {
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->users[i].token);
        free(a->users[i].name);
        free(a->users[i].uid);
        json_decref(a->users[i].groups);
    }
    free(a->users);
    free(a);
}

/* Splits one CSV line into at most max fields (double quotes group, "" is a quote). */
static size_t csv_split(const char *line, char **out, size_t max) {
    size_t n = 0;
    const char *p = line;
    while (n < max) {
        size_t cap = strlen(p) + 1;
        char *f = malloc(cap), *w = f;
        if (!f)
            break;
        int quoted = 0;
        while (*p && *p != '\n' && *p != '\r') {
            if (*p == '"') {
                if (quoted && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                    continue;
                }
                quoted = !quoted;
                p++;
                continue;
            }
            if (*p == ',' && !quoted)
                break;
            *w++ = *p++;
        }
        *w = 0;
        out[n++] = f;
        if (*p != ',')
            break;
        p++;
    }
    return n;
}

static int add_user(struct kl_auth *a, char *token, char *name, char *uid, const char *groups) {
    struct kl_auth_user *nu = realloc(a->users, (a->n + 1) * sizeof(*nu));
    if (!nu)
        return -ENOMEM;
    a->users = nu;
    struct kl_auth_user *u = &a->users[a->n];
    u->token = token;
    u->name = name;
    u->uid = uid;
    u->groups = json_array();
    const char *g = groups ? groups : "";
    while (*g) {
        const char *c = strchr(g, ',');
        size_t len = c ? (size_t)(c - g) : strlen(g);
        if (len)
            json_array_append_new(u->groups, json_stringn(g, len));
        g += len;
        if (*g == ',')
            g++;
    }
    a->n++;
    return 0;
}

int kl_auth_load(const char *path, struct kl_auth **ret_auth, int *ret_line) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    struct kl_auth *a = calloc(1, sizeof(*a));
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, r = 0;
    if (!a) {
        fclose(f);
        return -ENOMEM;
    }
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n' || line[0] == '\r')
            continue;
        char *fields[4] = {0};
        size_t n = csv_split(line, fields, 4);
        if (n < 3 || !fields[0][0] || !fields[1][0]) {
            for (size_t i = 0; i < n; i++)
                free(fields[i]);
            r = -EINVAL;
            break;
        }
        r = add_user(a, fields[0], fields[1], fields[2], n > 3 ? fields[3] : NULL);
        free(fields[3]);
        if (r < 0) {
            free(fields[0]);
            free(fields[1]);
            free(fields[2]);
            break;
        }
    }
    free(line);
    fclose(f);
    if (r == 0 && a->n == 0)
        r = -EINVAL;
    if (r < 0) {
        if (ret_line)
            *ret_line = lineno;
        kl_auth_free(a);
        return r;
    }
    *ret_auth = a;
    return 0;
}

int kl_auth_generate(struct kl_auth **ret_auth) {
    unsigned char b[24];
    char hex[sizeof(b) * 2 + 1];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return -EIO;
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    struct kl_auth *a = calloc(1, sizeof(*a));
    char *t = strdup(hex), *n = strdup("admin"), *u = strdup("kube-lite-admin");
    if (!a || !t || !n || !u || add_user(a, t, n, u, "system:masters") < 0) {
        free(a);
        free(t);
        free(n);
        free(u);
        return -ENOMEM;
    }
    *ret_auth = a;
    return 0;
}

const struct kl_auth_user *kl_auth_lookup(const struct kl_auth *a, const char *token) {
    if (!token)
        return NULL;
    size_t tl = strlen(token);
    const struct kl_auth_user *found = NULL;
    for (size_t i = 0; i < a->n; i++) {
        size_t ul = strlen(a->users[i].token);
        if (ul == tl && CRYPTO_memcmp(a->users[i].token, token, tl) == 0 && !found)
            found = &a->users[i];
    }
    return found;
}

const struct kl_auth_user *kl_auth_first(const struct kl_auth *a) {
    return a->n ? &a->users[0] : NULL;
}
