/* sshc_exec: run commands on a session with a deadline and capped output.
 *
 * Output is taken through libssh channel callbacks driven by an ssh_event, rather than by
 * blocking reads of one stream at a time: both stdout and stderr are drained as they arrive
 * (a command that fills stderr cannot stall on a full window while we wait on stdout), and
 * every wait is bounded by the one deadline of the command. Output past a cap is consumed and
 * dropped, so a chatty command ends normally with a truncated flag instead of growing memory. */
#include "sshc_int.h"

#include <errno.h>
#include <inttypes.h>
#include <libssh/callbacks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_time.h"

#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_STDOUT_CAP (1u << 20)
#define DEFAULT_STDERR_CAP (64u << 10)

struct exec_state {
    struct sshc_result *r;
    bool closed;
    bool eof;
    bool got_exit;
};

static void keep(struct cm_buf *b, bool *trunc, const void *data, size_t len) {
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    size_t n = len < room ? len : room;
    if (n < len)
        *trunc = true;
    /* On -ENOMEM the output is lost but the command is still drained; report it as truncated. */
    if (n && cm_buf_append(b, data, n) < 0)
        *trunc = true;
}

static int on_data(ssh_session session, ssh_channel channel, void *data, uint32_t len,
                   int is_stderr, void *userdata) {
    struct exec_state *st = userdata;
    if (is_stderr)
        keep(&st->r->err, &st->r->err_truncated, data, len);
    else
        keep(&st->r->out, &st->r->out_truncated, data, len);
    return (int)len;
}

static void on_eof(ssh_session session, ssh_channel channel, void *userdata) {
    ((struct exec_state *)userdata)->eof = true;
}

static void on_close(ssh_session session, ssh_channel channel, void *userdata) {
    ((struct exec_state *)userdata)->closed = true;
}

static void on_exit_status(ssh_session session, ssh_channel channel, int status, void *userdata) {
    struct exec_state *st = userdata;
    st->r->exit_status = status;
    st->got_exit = true;
}

static void on_exit_signal(ssh_session session, ssh_channel channel, const char *signal, int core,
                           const char *errmsg, const char *lang, void *userdata) {
    struct exec_state *st = userdata;
    free(st->r->exit_signal);
    st->r->exit_signal = strdup(signal ? signal : "?");
    st->r->exit_status = 255;
    st->got_exit = true;
}

void sshc_result_done(struct sshc_result *r) {
    if (!r)
        return;
    cm_buf_done(&r->out);
    cm_buf_done(&r->err);
    free(r->exit_signal);
    r->exit_signal = NULL;
}

static void result_init(struct sshc_result *r, const struct sshc_exec_opts *o) {
    memset(r, 0, sizeof(*r));
    r->exit_status = -1;
    cm_buf_init(&r->out, o && o->stdout_cap ? o->stdout_cap : DEFAULT_STDOUT_CAP);
    cm_buf_init(&r->err, o && o->stderr_cap ? o->stderr_cap : DEFAULT_STDERR_CAP);
    /* Make data a valid empty string even when nothing is ever appended. */
    (void)cm_buf_append(&r->out, "", 0);
    (void)cm_buf_append(&r->err, "", 0);
}

int sshc_exec(struct sshc_session *s, const char *command, const struct sshc_exec_opts *o,
              struct sshc_result *ret, struct sshc_error *err) {
    sshc__error_clear(err);
    result_init(ret, o);
    if (!s || !command)
        return sshc__fail(err, SSHC_ERR_INVALID, -EINVAL, "session and command are required");
    if (!sshc_session_usable(s))
        return sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO, "connection to %s is closed", s->host);

    struct cm_buf wrapped;
    cm_buf_init(&wrapped, 0);
    if (s->sudo && !(o && o->unprivileged)) {
        /* sudo -n never prompts: a missing sudo rule is an error (exit 1), not a hang. */
        if (cm_buf_puts(&wrapped, "sudo -n -- sh -c ") < 0 ||
            sshc_shell_quote(&wrapped, command) < 0) {
            cm_buf_done(&wrapped);
            return sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
        }
        command = wrapped.data;
    }
    int timeout = o && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    int64_t start = cm_time_mono_ms();
    int64_t deadline = start + timeout;
    struct exec_state st = {.r = ret};
    struct ssh_channel_callbacks_struct cb = {
        .userdata = &st,
        .channel_data_function = on_data,
        .channel_eof_function = on_eof,
        .channel_close_function = on_close,
        .channel_exit_status_function = on_exit_status,
        .channel_exit_signal_function = on_exit_signal,
    };
    ssh_callbacks_init(&cb);
    ssh_event ev = NULL;
    int r;

    ssh_channel ch = ssh_channel_new(s->ssh);
    if (!ch) {
        r = sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
        goto out;
    }
    if (ssh_channel_open_session(ch) != SSH_OK) {
        s->broken = true;
        r = sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO, "cannot open a channel to %s: %s",
                       s->host, ssh_get_error(s->ssh));
        goto out;
    }
    /* Callbacks before the exec request: output can arrive while the reply is awaited. */
    ssh_set_channel_callbacks(ch, &cb);
    if (ssh_channel_request_exec(ch, command) != SSH_OK) {
        s->broken = !ssh_is_connected(s->ssh);
        r = sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO, "%s refused to run a command: %s",
                       s->host, ssh_get_error(s->ssh));
        goto out;
    }
    /* Nothing is ever written to stdin: a command that reads it gets EOF, not a hang. */
    (void)ssh_channel_send_eof(ch);

    ev = ssh_event_new();
    if (!ev || ssh_event_add_session(ev, s->ssh) != SSH_OK) {
        r = sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "cannot create an event loop");
        goto out;
    }
    /* OpenSSH sends eof, exit-status and close; close is the end, but eof plus an exit status
     * is enough (a background child may keep the channel open while holding no output). */
    while (!st.closed && !(st.eof && st.got_exit)) {
        int64_t left = deadline - cm_time_mono_ms();
        if (left <= 0) {
            (void)ssh_channel_request_send_signal(ch, "KILL");
            r = sshc__fail(err, SSHC_ERR_TIMEOUT, -ETIMEDOUT,
                           "command on %s did not finish within %d ms", s->host, timeout);
            goto out;
        }
        int pr = ssh_event_dopoll(ev, (int)(left > 1000 ? 1000 : left));
        if (pr == SSH_ERROR || !ssh_is_connected(s->ssh)) {
            s->broken = true;
            r = sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO, "connection to %s lost: %s",
                           s->host, ssh_get_error(s->ssh));
            goto out;
        }
    }
    if (!st.got_exit) {
        r = sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO,
                       "%s closed the channel without an exit status", s->host);
        goto out;
    }
    r = 0;
out:
    if (ev) {
        ssh_event_remove_session(ev, s->ssh);
        ssh_event_free(ev);
    }
    if (ch) {
        if (ssh_channel_is_open(ch))
            ssh_channel_close(ch);
        ssh_channel_free(ch);
    }
    cm_buf_done(&wrapped);
    ret->duration_ms = cm_time_mono_ms() - start;
    return r;
}

/* ---- batches ---------------------------------------------------------------------------- */

#define MARK_PREFIX "@@sshc-"

char *sshc_batch_script(const struct sshc_batch_item *items, size_t n, bool stop_on_failure,
                        const char *nonce) {
    struct cm_buf b;
    cm_buf_init(&b, 0);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        /* The command sits on its own lines inside ( ), so a trailing comment or a missing
         * newline in it cannot swallow the delimiter. Its stdin is /dev/null, its stderr goes
         * with stdout so the delimiter follows all of its output. */
        r = cm_buf_printf(&b,
                          "(\n%s\n) </dev/null 2>&1; sshc_rc=$?; "
                          "printf '\\n" MARK_PREFIX "%s %zu %%d@@\\n' \"$sshc_rc\"\n",
                          items[i].command, nonce, i);
        if (r == 0 && stop_on_failure)
            r = cm_buf_puts(&b, "[ \"$sshc_rc\" -eq 0 ] || exit 0\n");
    }
    if (r == 0)
        r = cm_buf_puts(&b, "exit 0\n");
    if (r < 0) {
        cm_buf_done(&b);
        return NULL;
    }
    return cm_buf_steal(&b);
}

void sshc_batch_items_done(struct sshc_batch_item *items, size_t n) {
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].output);
        items[i].output = NULL;
    }
}

/* Finds "\n@@sshc-<nonce> <i> <rc>@@\n" for item i starting at p. On success sets *ret_rc, the
 * start of the marker (the '\n' before it) and the position after it. */
static int find_mark(const char *p, const char *end, const char *nonce, size_t i, int *ret_rc,
                     const char **ret_mark, const char **ret_next) {
    char head[96];
    int hn = snprintf(head, sizeof(head), "\n" MARK_PREFIX "%s %zu ", nonce, i);
    if (hn < 0 || (size_t)hn >= sizeof(head))
        return -EBADMSG;
    for (const char *q = p; q < end;) {
        const char *m = memmem(q, (size_t)(end - q), head, (size_t)hn);
        if (!m)
            return -EBADMSG;
        const char *t = m + hn;
        char *e = NULL;
        long rc = 0;
        if (t < end && ((*t >= '0' && *t <= '9') || *t == '-')) {
            errno = 0;
            rc = strtol(t, &e, 10);
            if (errno == 0 && e + 3 <= end && memcmp(e, "@@\n", 3) == 0 && rc >= -1 &&
                rc <= 255) {
                *ret_rc = (int)rc;
                *ret_mark = m;
                *ret_next = e + 3;
                return 0;
            }
        }
        q = m + 1;
    }
    return -EBADMSG;
}

int sshc_batch_parse(const char *out, size_t len, const char *nonce, struct sshc_batch_item *items,
                     size_t n) {
    const char *p = out;
    const char *end = out + len;
    for (size_t i = 0; i < n; i++) {
        items[i].ran = false;
        items[i].exit_status = -1;
        free(items[i].output);
        items[i].output = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int rc;
        const char *mark, *next;
        if (find_mark(p, end, nonce, i, &rc, &mark, &next) < 0) {
            /* Fine when an earlier item failed with stop_on_failure: the rest did not run. */
            if (i > 0 && items[i - 1].exit_status != 0)
                break;
            sshc_batch_items_done(items, n);
            return -EBADMSG;
        }
        items[i].output = strndup(p, (size_t)(mark - p));
        if (!items[i].output) {
            sshc_batch_items_done(items, n);
            return -ENOMEM;
        }
        items[i].ran = true;
        items[i].exit_status = rc;
        p = next;
    }
    return 0;
}

int sshc_exec_batch(struct sshc_session *s, struct sshc_batch_item *items, size_t n,
                    bool stop_on_failure, const struct sshc_exec_opts *opts,
                    struct sshc_error *err) {
    sshc__error_clear(err);
    for (size_t i = 0; i < n; i++) {
        items[i].ran = false;
        items[i].exit_status = -1;
        free(items[i].output);
        items[i].output = NULL;
        if (!items[i].command)
            return sshc__fail(err, SSHC_ERR_INVALID, -EINVAL, "batch item %zu has no command", i);
    }
    char nonce[17];
    int r = sshc__random_hex(nonce, 16);
    if (r < 0)
        return sshc__fail(err, SSHC_ERR_SYSTEM, r, "no randomness for the batch delimiter");
    char *script = sshc_batch_script(items, n, stop_on_failure, nonce);
    if (!script)
        return sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
    struct sshc_result res;
    r = sshc_exec(s, script, opts, &res, err);
    free(script);
    if (r == 0) {
        r = sshc_batch_parse(res.out.data, res.out.len, nonce, items, n);
        if (r < 0)
            r = sshc__fail(err, SSHC_ERR_PARSE, r,
                           "batch output from %s could not be split into its %zu commands%s",
                           s->host, n, res.out_truncated ? " (output cap reached)" : "");
    }
    sshc_result_done(&res);
    return r;
}
