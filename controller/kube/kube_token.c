/* kube_token: bearer token with re-read on file change. */
#include "kube_token.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cm_file.h"
#include "cm_time.h"
#include "kube_error.h"
#include "kube_exec.h"

#define TOKEN_MAX (64 * 1024)
/* client-go gives plugins no deadline; a daemon cannot wait forever for a hung helper. */
#define EXEC_TIMEOUT_MS 60000
/* Refresh a little before the expiry so a request in flight does not carry a dead token. */
#define EXEC_EARLY_MS 10000

struct kube_token {
    pthread_mutex_t lock;
    char *static_token;
    char *file;
    char *cached;        /* token last read from file */
    struct stat seen;    /* identity of the file when cached was read */
    int have_seen;
    struct kube_exec_config *exec; /* exec source: cached is the plugin's token */
    char *cluster_json;
    int64_t expiry_ms; /* wall clock; 0: the plugin gave none */
};

static void wipe_free(char *s) {
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

int kube_token_new(const char *static_token, const char *token_file, struct kube_token **ret) {
    struct kube_token *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    pthread_mutex_init(&t->lock, NULL);
    if ((static_token && !(t->static_token = strdup(static_token))) ||
        (token_file && !(t->file = strdup(token_file)))) {
        kube_token_free(t);
        return -ENOMEM;
    }
    *ret = t;
    return 0;
}

int kube_token_new_exec(const struct kube_exec_config *exec, const char *cluster_json,
                        struct kube_token **ret) {
    struct kube_token *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    pthread_mutex_init(&t->lock, NULL);
    if (kube_exec_config_dup(exec, &t->exec) < 0 ||
        (cluster_json && !(t->cluster_json = strdup(cluster_json)))) {
        kube_token_free(t);
        return -ENOMEM;
    }
    *ret = t;
    return 0;
}

int kube_token_invalidate(struct kube_token *t) {
    if (!t->exec)
        return 0;
    pthread_mutex_lock(&t->lock);
    wipe_free(t->cached);
    t->cached = NULL;
    pthread_mutex_unlock(&t->lock);
    return 1;
}

static int exec_get(struct kube_token *t, char **ret_token, struct kube_error *err) {
    int r = 0;
    /* Held while the plugin runs: concurrent requests wait for one run instead of starting
     * one each. */
    pthread_mutex_lock(&t->lock);
    if (t->cached && t->expiry_ms && cm_time_wall_ms() >= t->expiry_ms - EXEC_EARLY_MS) {
        wipe_free(t->cached);
        t->cached = NULL;
    }
    if (!t->cached) {
        char *tok = NULL;
        int64_t exp = 0;
        r = kube_exec_run(t->exec, t->cluster_json, EXEC_TIMEOUT_MS, &tok, &exp, err);
        if (r < 0)
            goto out;
        t->cached = tok;
        t->expiry_ms = exp;
    }
    if (!(*ret_token = strdup(t->cached)))
        r = -ENOMEM;
out:
    pthread_mutex_unlock(&t->lock);
    return r;
}

void kube_token_free(struct kube_token *t) {
    if (!t)
        return;
    kube_exec_config_free(t->exec);
    free(t->cluster_json);
    wipe_free(t->static_token);
    wipe_free(t->cached);
    free(t->file);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static int same_file(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads the file into a trimmed string. */
static int read_token(const char *path, char **ret, struct stat *ret_st, struct kube_error *err) {
    struct stat st;
    char *s = NULL;
    size_t n = 0;
    int r = cm_file_read(path, TOKEN_MAX, &s, &n, &st);
    if (r < 0) {
        kube_error_set(err, 0, NULL, "cannot read token file %s: %s", path,
                       r == -E2BIG ? "larger than 64 KiB" : strerror(-r));
        return r;
    }
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
                       s[len - 1] == '\t'))
        s[--len] = '\0';
    *ret = s;
    *ret_st = st;
    return 0;
}

int kube_token_get(struct kube_token *t, char **ret_token, struct kube_error *err) {
    if (t->exec)
        return exec_get(t, ret_token, err);
    if (!t->file) {
        char *s = NULL;
        if (t->static_token && !(s = strdup(t->static_token)))
            return -ENOMEM;
        *ret_token = s;
        return 0;
    }
    int r = 0;
    pthread_mutex_lock(&t->lock);
    struct stat st;
    if (stat(t->file, &st) < 0) {
        r = -errno;
        kube_error_set(err, 0, NULL, "cannot stat token file %s: %s", t->file, strerror(-r));
        goto out;
    }
    if (!t->have_seen || !same_file(&st, &t->seen)) {
        char *fresh = NULL;
        struct stat fst;
        r = read_token(t->file, &fresh, &fst, err);
        if (r < 0)
            goto out;
        wipe_free(t->cached);
        t->cached = fresh;
        t->seen = fst;
        t->have_seen = 1;
    }
    char *s = strdup(t->cached);
    if (!s) {
        r = -ENOMEM;
        goto out;
    }
    *ret_token = s;
out:
    pthread_mutex_unlock(&t->lock);
    return r;
}
