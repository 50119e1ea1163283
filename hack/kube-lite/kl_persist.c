#include "kl_persist.h"

#include "cm_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kl_persist {
    char *dir;
    int log_fd;
    int dir_fd;
    _Atomic uint64_t end;  /* bytes written to the log (read by kl_persist_sync without the store lock) */
    pthread_mutex_t sync_mu;
    uint64_t synced;       /* log offset known to be durable; guarded by sync_mu */
};

static char *path_join(const char *dir, const char *file) {
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, file) < 0)
        return NULL;
    return p;
}

int kl_persist_open(const char *dir, struct kl_persist **ret_p) {
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    struct kl_persist *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->dir = strdup(dir);
    char *lp = path_join(dir, "log.jsonl");
    if (!p->dir || !lp) {
        free(lp);
        kl_persist_free(p);
        return -ENOMEM;
    }
    p->log_fd = open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    free(lp);
    p->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->log_fd < 0 || p->dir_fd < 0) {
        int e = errno;
        kl_persist_free(p);
        return -e;
    }
    struct stat st;
    fstat(p->log_fd, &st);
    p->end = p->synced = (uint64_t)st.st_size;
    pthread_mutex_init(&p->sync_mu, NULL);
    *ret_p = p;
    return 0;
}

void kl_persist_free(struct kl_persist *p) {
    if (!p)
        return;
    if (p->log_fd > 0)
        close(p->log_fd);
    if (p->dir_fd > 0)
        close(p->dir_fd);
    pthread_mutex_destroy(&p->sync_mu);
    free(p->dir);
    free(p);
}

static int replay_file(const char *path, int (*record_cb)(json_t *, void *), void *userdata) {
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int r = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* torn last write */
        json_error_t err;
        json_t *rec = json_loadb(line, (size_t)n, 0, &err);
        if (!rec)
            continue; /* a damaged line cannot be applied; the rest still can */
        r = record_cb(rec, userdata);
        json_decref(rec);
        if (r < 0)
            break;
    }
    free(line);
    fclose(f);
    return r;
}

int kl_persist_replay(struct kl_persist *p, int (*record_cb)(json_t *, void *), void *userdata) {
    char *sp = path_join(p->dir, "snapshot.jsonl");
    char *lp = path_join(p->dir, "log.jsonl");
    int r = -ENOMEM;
    if (sp && lp) {
        r = replay_file(sp, record_cb, userdata);
        if (r == 0)
            r = replay_file(lp, record_cb, userdata);
    }
    free(sp);
    free(lp);
    return r;
}

int kl_persist_append(struct kl_persist *p, const char *data, size_t len, uint64_t *ret_end) {
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(p->log_fd, data + done, len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            /* Leave no half record behind: a torn line would hide every later one. */
            if (done > 0 && ftruncate(p->log_fd, (off_t)p->end) < 0) {
                /* nothing more can be done; replay skips a torn line */
            }
            return -EIO;
        }
        done += (size_t)w;
    }
    p->end += len;
    *ret_end = p->end;
    return 0;
}

int kl_persist_sync(struct kl_persist *p, uint64_t end) {
    int r = 0;
    pthread_mutex_lock(&p->sync_mu);
    if (p->synced < end) {
        /* Everything appended before this point is covered, whoever appended it. */
        uint64_t target = p->end;
        if (fdatasync(p->log_fd) < 0)
            r = -EIO;
        else if (target > p->synced)
            p->synced = target;
    }
    pthread_mutex_unlock(&p->sync_mu);
    return r;
}

int kl_persist_compact(struct kl_persist *p, const struct cm_buf *snapshot) {
    char *tmp = path_join(p->dir, "snapshot.jsonl.tmp");
    char *sp = path_join(p->dir, "snapshot.jsonl");
    int r = 0, fd = -1;
    if (!tmp || !sp) {
        r = -ENOMEM;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    size_t done = 0;
    while (done < snapshot->len) {
        ssize_t w = write(fd, snapshot->data + done, snapshot->len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto out;
        }
        done += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        r = -EIO;
        goto out;
    }
    fd = -1;
    if (rename(tmp, sp) < 0 || fsync(p->dir_fd) < 0) {
        r = -errno;
        goto out;
    }
    /* The snapshot now holds everything the log had; only then may the log go. */
    if (ftruncate(p->log_fd, 0) < 0 || fdatasync(p->log_fd) < 0) {
        r = -errno;
        goto out;
    }
    pthread_mutex_lock(&p->sync_mu);
    p->end = 0;
    p->synced = 0;
    pthread_mutex_unlock(&p->sync_mu);
out:
    if (fd >= 0)
        close(fd);
    free(tmp);
    free(sp);
    return r;
}

uint64_t kl_persist_log_size(const struct kl_persist *p) {
    return p->end;
}
