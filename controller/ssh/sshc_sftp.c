/* sshc_upload: files to hosts over SFTP, never through shell quoting.
 *
 * Configuration files carry values from resources (URLs, tokens, CA certificates); putting them
 * into a shell command line would make every value a quoting problem and put secrets into
 * process listings. SFTP writes bytes to a path, nothing is interpreted. The write goes to a
 * temporary file in the target directory that is then renamed over the target, so services
 * never read half a file. */
#include "sshc_int.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CHUNK (32u << 10)
/* Files we manage are small configuration files; a larger remote file is simply "changed". */
#define COMPARE_MAX (4u << 20)

static int sftp_errno(sftp_session sftp) {
    switch (sftp_get_error(sftp)) {
    case SSH_FX_NO_SUCH_FILE:
    case SSH_FX_NO_SUCH_PATH:
        return -ENOENT;
    case SSH_FX_PERMISSION_DENIED:
        return -EACCES;
    case SSH_FX_FILE_ALREADY_EXISTS:
        return -EEXIST;
    case SSH_FX_WRITE_PROTECT:
        return -EROFS;
    case SSH_FX_OP_UNSUPPORTED:
        return -EOPNOTSUPP;
    case SSH_FX_NO_CONNECTION:
    case SSH_FX_CONNECTION_LOST:
        return -EPROTO;
    default:
        return -EIO;
    }
}

static int sftp_fail(struct sshc_session *s, struct sshc_error *err, const char *what,
                     const char *path) {
    int r = sftp_errno(s->sftp);
    if (r == -EPROTO || !ssh_is_connected(s->ssh)) {
        s->broken = true;
        return sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO, "SFTP %s %s on %s: connection lost",
                          what, path, s->host);
    }
    return sshc__fail(err, SSHC_ERR_SFTP, r, "SFTP %s %s on %s failed: %s", what, path, s->host,
                      strerror(-r));
}

static int ensure_sftp(struct sshc_session *s, struct sshc_error *err) {
    if (s->sftp)
        return 0;
    sftp_session sftp = sftp_new(s->ssh);
    if (!sftp) {
        s->broken = !ssh_is_connected(s->ssh);
        return sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO, "cannot open an SFTP channel to %s: %s",
                          s->host, ssh_get_error(s->ssh));
    }
    if (sftp_init(sftp) != SSH_OK) {
        sftp_free(sftp);
        return sshc__fail(err, SSHC_ERR_SFTP, -EPROTO, "SFTP is not available on %s: %s",
                          s->host, ssh_get_error(s->ssh));
    }
    s->sftp = sftp;
    return 0;
}

/* 1 when the remote file exists with exactly these bytes and permission bits, 0 when not. */
static int remote_equal(struct sshc_session *s, const char *path, const void *data, size_t len,
                        unsigned mode, struct sshc_error *err) {
    sftp_attributes a = sftp_stat(s->sftp, path);
    if (!a) {
        int r = sftp_errno(s->sftp);
        return r == -ENOENT ? 0 : sftp_fail(s, err, "stat", path);
    }
    bool same = a->type == SSH_FILEXFER_TYPE_REGULAR && a->size == len &&
                (a->permissions & 07777) == (mode & 07777) && len <= COMPARE_MAX;
    sftp_attributes_free(a);
    if (!same)
        return 0;
    if (len == 0)
        return 1;
    sftp_file f = sftp_open(s->sftp, path, O_RDONLY, 0);
    if (!f)
        return sftp_fail(s, err, "open", path);
    char *buf = malloc(len + 1);
    int r = 1;
    size_t got = 0;
    if (!buf) {
        r = sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
        goto out;
    }
    /* Read one byte more than expected, so a file that grew since stat() is "changed". */
    while (got < len + 1) {
        size_t want = len + 1 - got;
        ssize_t n = sftp_read(f, buf + got, want > CHUNK ? CHUNK : want);
        if (n < 0) {
            r = sftp_fail(s, err, "read", path);
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    r = got == len && memcmp(buf, data, len) == 0;
out:
    free(buf);
    sftp_close(f);
    return r;
}

/* mkdir -p of the parent directories of path. */
static int make_parents(struct sshc_session *s, const char *path, struct sshc_error *err) {
    char *dir = strdup(path);
    if (!dir)
        return sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
    int r = 0;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        goto out;
    *slash = '\0';
    /* Fast path: the directory usually exists. */
    sftp_attributes a = sftp_stat(s->sftp, dir);
    if (a) {
        bool isdir = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
        sftp_attributes_free(a);
        if (!isdir)
            r = sshc__fail(err, SSHC_ERR_SFTP, -ENOTDIR, "%s on %s is not a directory", dir,
                           s->host);
        goto out;
    }
    for (char *p = dir + 1;; p++) {
        bool last = *p == '\0';
        if (*p != '/' && !last)
            continue;
        *p = '\0';
        if (sftp_mkdir(s->sftp, dir, 0755) < 0) {
            /* OpenSSH reports an existing directory as a generic failure; stat decides. */
            sftp_attributes d = sftp_stat(s->sftp, dir);
            bool isdir = d && d->type == SSH_FILEXFER_TYPE_DIRECTORY;
            sftp_attributes_free(d);
            if (!isdir) {
                r = sftp_fail(s, err, "mkdir", dir);
                goto out;
            }
        }
        if (last)
            break;
        *p = '/';
    }
out:
    free(dir);
    return r;
}

/* Runs a privileged helper command built from fixed text and quoted words; 0 when it exited 0. */
static int run_helper(struct sshc_session *s, struct cm_buf *cmd, size_t out_cap,
                      struct sshc_result *res, struct sshc_error *err) {
    struct sshc_exec_opts o = {.timeout_ms = s->io_timeout_ms > 30000 ? s->io_timeout_ms : 30000,
                               .stdout_cap = out_cap};
    int r = sshc_exec(s, cmd->data, &o, res, err);
    cm_buf_reset(cmd);
    return r;
}

/* Upload for sudo sessions: SFTP writes as the remote user, so the bytes go to a private file
 * under /tmp and root installs them. */
static int upload_sudo(struct sshc_session *s, const char *path, const void *data, size_t len,
                       unsigned mode, unsigned flags, bool *ret_changed, struct sshc_error *err) {
    struct cm_buf cmd;
    cm_buf_init(&cmd, 0);
    struct sshc_result res = {0};
    char *tmp = NULL;
    int r = 0;
    char modestr[8];
    snprintf(modestr, sizeof(modestr), "%04o", mode);
    if (flags & SSHC_UPLOAD_IF_CHANGED) {
        /* First line: the mode; then the content. A missing file fails the stat. */
        if (cm_buf_puts(&cmd, "stat -c %a -- ") < 0 || sshc_shell_quote(&cmd, path) < 0 ||
            cm_buf_puts(&cmd, " && cat -- ") < 0 || sshc_shell_quote(&cmd, path) < 0) {
            r = sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
            goto out;
        }
        r = run_helper(s, &cmd, COMPARE_MAX + 16, &res, err);
        if (r < 0)
            goto out;
        const char *nl = memchr(res.out.data, '\n', res.out.len);
        if (res.exit_status == 0 && nl && !res.out_truncated &&
            strtoul(res.out.data, NULL, 8) == (mode & 07777) &&
            (size_t)(res.out.data + res.out.len - nl - 1) == len &&
            memcmp(nl + 1, data, len) == 0) {
            if (ret_changed)
                *ret_changed = false;
            goto out;
        }
        sshc_result_done(&res);
    }
    char rnd[13];
    if ((r = sshc__random_hex(rnd, 12)) < 0 || asprintf(&tmp, "/tmp/.sshc-%s", rnd) < 0) {
        tmp = NULL;
        r = sshc__fail(err, SSHC_ERR_SYSTEM, r < 0 ? r : -ENOMEM, "cannot name a temporary file");
        goto out;
    }
    sftp_file f = sftp_open(s->sftp, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (!f) {
        r = sftp_fail(s, err, "create", tmp);
        goto out;
    }
    for (size_t off = 0; off < len;) {
        size_t want = len - off > CHUNK ? CHUNK : len - off;
        ssize_t n = sftp_write(f, (const char *)data + off, want);
        if (n <= 0) {
            r = sftp_fail(s, err, "write", tmp);
            sftp_close(f);
            goto out;
        }
        off += (size_t)n;
    }
    if (sftp_close(f) < 0) {
        r = sftp_fail(s, err, "write", tmp);
        goto out;
    }
    const char *slash = strrchr(path, '/');
    char *dir = strndup(path, slash > path ? (size_t)(slash - path) : 1);
    if (!dir || cm_buf_puts(&cmd, "mkdir -p -m 0755 -- ") < 0 || sshc_shell_quote(&cmd, dir) < 0 ||
        cm_buf_printf(&cmd, " && install -m %s -- ", modestr) < 0 ||
        sshc_shell_quote(&cmd, tmp) < 0 || cm_buf_puts(&cmd, " ") < 0 ||
        sshc_shell_quote(&cmd, path) < 0 || cm_buf_puts(&cmd, "; rc=$?; rm -f -- ") < 0 ||
        sshc_shell_quote(&cmd, tmp) < 0 || cm_buf_puts(&cmd, "; exit $rc") < 0) {
        free(dir);
        r = sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
        goto out;
    }
    free(dir);
    r = run_helper(s, &cmd, 16u << 10, &res, err);
    if (r == 0 && res.exit_status != 0)
        r = sshc__fail(err, SSHC_ERR_SFTP, -EACCES,
                       "installing %s on %s with sudo failed (exit %d): %.120s", path, s->host,
                       res.exit_status, res.err.data);
    if (r == 0 && ret_changed)
        *ret_changed = true;
    free(tmp);
    tmp = NULL; /* removed by the install command */
out:
    if (tmp && sshc_session_usable(s))
        (void)sftp_unlink(s->sftp, tmp);
    free(tmp);
    sshc_result_done(&res);
    cm_buf_done(&cmd);
    return r;
}

int sshc_upload(struct sshc_session *s, const char *path, const void *data, size_t len,
                unsigned mode, unsigned flags, bool *ret_changed, struct sshc_error *err) {
    sshc__error_clear(err);
    if (!s || !path || path[0] != '/' || (!data && len) || (mode & ~07777u))
        return sshc__fail(err, SSHC_ERR_INVALID, -EINVAL,
                          "upload needs an absolute path, data and permission bits");
    if (!sshc_session_usable(s))
        return sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO, "connection to %s is closed", s->host);
    int r = ensure_sftp(s, err);
    if (r < 0)
        return r;
    if (s->sudo)
        return upload_sudo(s, path, data, len, mode, flags, ret_changed, err);
    if (flags & SSHC_UPLOAD_IF_CHANGED) {
        r = remote_equal(s, path, data, len, mode, err);
        if (r < 0)
            return r;
        if (r == 1) {
            if (ret_changed)
                *ret_changed = false;
            return 0;
        }
    }
    r = make_parents(s, path, err);
    if (r < 0)
        return r;

    char rnd[13];
    r = sshc__random_hex(rnd, 12);
    if (r < 0)
        return sshc__fail(err, SSHC_ERR_SYSTEM, r, "no randomness for a temporary name");
    const char *slash = strrchr(path, '/');
    char *tmp = NULL;
    if (asprintf(&tmp, "%.*s/.%s.sshc-%s", (int)(slash - path), path, slash + 1, rnd) < 0)
        return sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");

    /* Created owner-only and widened by chmod after writing: a secret file is never readable
     * by others, even for a moment, and the umask of the remote side cannot change the mode. */
    sftp_file f = sftp_open(s->sftp, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (!f) {
        r = sftp_fail(s, err, "create", path);
        goto out;
    }
    for (size_t off = 0; off < len;) {
        size_t want = len - off > CHUNK ? CHUNK : len - off;
        ssize_t n = sftp_write(f, (const char *)data + off, want);
        if (n <= 0) {
            r = sftp_fail(s, err, "write", path);
            sftp_close(f);
            goto fail_unlink;
        }
        off += (size_t)n;
    }
    if (sftp_close(f) < 0) {
        r = sftp_fail(s, err, "write", path);
        goto fail_unlink;
    }
    if (sftp_chmod(s->sftp, tmp, mode) < 0) {
        r = sftp_fail(s, err, "chmod", path);
        goto fail_unlink;
    }
    /* SFTP v3 rename (OpenSSH) refuses to replace an existing file, so the old one goes first.
     * The gap is one round trip; readers retry on ENOENT far more gracefully than on a torn
     * file. */
    if (sftp_rename(s->sftp, tmp, path) < 0) {
        if (sftp_unlink(s->sftp, path) < 0 && sftp_errno(s->sftp) != -ENOENT) {
            r = sftp_fail(s, err, "replace", path);
            goto fail_unlink;
        }
        if (sftp_rename(s->sftp, tmp, path) < 0) {
            r = sftp_fail(s, err, "rename", path);
            goto fail_unlink;
        }
    }
    if (ret_changed)
        *ret_changed = true;
    r = 0;
    goto out;
fail_unlink:
    if (sshc_session_usable(s))
        (void)sftp_unlink(s->sftp, tmp);
out:
    free(tmp);
    return r;
}
