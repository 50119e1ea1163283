/* The task pool: a FIFO of queued tasks, a table of every task known by key (queued, running or
 * finished with a result waiting), and N threads. The table is a plain list: an Operation has
 * at most one entry per host in flight, so it stays small, and a linear scan under the lock
 * costs less than the SSH round trip any entry stands for. */
#include "op_task.h"

#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "host_ssh.h"
#include "hostos.h"
#include "rc_manager.h"
#include "sshc.h"
#include "sshc_facts.h"
#include "sshc_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BOOT_ID_CMD "cat /proc/sys/kernel/random/boot_id"
#define READ_TIMEOUT_MS 20000
#define REBOOT_TIMEOUT_MS 60000
#define PROBE_TIMEOUT_MS 1000
#define OUTPUT_TAIL 300
/* Exit statuses of the reboot guard script (op_task_reboot_script()). */
#define GUARD_OTHER_BOOT 97
#define GUARD_NO_BOOT_ID 98

static const char *const kind_names[OP_TASK__MAX] = {"bootid", "exec", "reboot", "poll"};

const char *op_task_kind_name(enum op_task_kind k) {
    return k >= 0 && k < OP_TASK__MAX ? kind_names[k] : "";
}

enum entry_state { E_QUEUED, E_RUNNING, E_DONE };

struct entry {
    struct entry *next;      /* table */
    struct entry *next_fifo; /* queue */
    char *key, *tag, *op_key, *version, *boot_before;
    enum op_task_kind kind;
    enum op_task_cmd cmd;
    json_t *host;
    int64_t timeout_ms;
    enum entry_state state;
    bool until_down;
    bool background;
    bool forgotten; /* forgotten while running: drop the result when it arrives */
    struct op_task_result res;
};

struct op_tasks {
    const struct rc_env *env;
    op_tasks_done_cb done_cb;
    void *userdata;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    struct entry *table;
    struct entry *fifo_head, *fifo_tail;
    struct entry *bg_head, *bg_tail; /* background tasks: run when the FIFO is empty */
    unsigned bg_running, bg_max;
    pthread_t *threads;
    unsigned n_threads;
};

void op_task_result_done(struct op_task_result *r) {
    if (r && r->have_facts)
        sshc_facts_done(&r->facts);
    if (r)
        r->have_facts = false;
}

static void entry_free(struct entry *e) {
    if (!e)
        return;
    free(e->key);
    free(e->tag);
    free(e->op_key);
    free(e->version);
    free(e->boot_before);
    json_decref(e->host);
    op_task_result_done(&e->res);
    free(e);
}

/* ---- pure helpers ---- */

bool op_task_boot_id_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == '-'))
            return false;
    }
    return true;
}

char *op_task_reboot_script(const char *boot_before, const char *cmd) {
    if (!op_task_boot_id_valid(boot_before) || !cmd || !*cmd)
        return NULL;
    char *s = NULL;
    /* The boot id is hex and dashes (checked above), so single quotes hold it safely; cmd is a
     * profile's fixed text. The guard makes the reboot conditional ON THE HOST: a host that
     * already runs another boot id has rebooted since it was recorded and is not rebooted
     * again, whatever the controller believed. */
    if (asprintf(&s,
                 "b=$(cat /proc/sys/kernel/random/boot_id) || exit %d; "
                 "if [ \"$b\" != '%s' ]; then echo \"$b\"; exit %d; fi; %s",
                 GUARD_NO_BOOT_ID, boot_before, GUARD_OTHER_BOOT, cmd) < 0)
        return NULL;
    return s;
}

/* ---- task bodies (pool threads) ---- */

static void res_msg(struct op_task_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void res_msg(struct op_task_result *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static void tail_of(const struct sshc_result *sr, char *out, size_t n) {
    const struct cm_buf *b = sr->err.len ? &sr->err : &sr->out;
    const char *s = b->data ? b->data : "";
    size_t len = b->len;
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\r'))
        len--;
    size_t start = len > OUTPUT_TAIL ? len - OUTPUT_TAIL : 0;
    snprintf(out, n, "%s%.*s", start ? "..." : "", (int)(len - start), s + start);
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

static void first_line(const struct sshc_result *sr, char *out, size_t n) {
    const char *s = sr->out.data ? sr->out.data : "";
    size_t len = strcspn(s, "\r\n");
    snprintf(out, n, "%.*s", (int)len, s);
}

/* A TCP connect to the host's SSH port with a short timeout: a rebooting host refuses (or does
 * not answer), which is found out without reading the key Secret or starting a handshake. */
static bool tcp_probe(const char *host, int port, int timeout_ms) {
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    if (!host || getaddrinfo(host, ports, &hints, &ai) != 0)
        return false;
    bool ok = false;
    for (struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r == 0) {
            ok = true;
        } else if (errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, timeout_ms) == 1) {
                int e = 0;
                socklen_t l = sizeof e;
                ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) == 0 && e == 0;
            }
        }
        close(fd);
    }
    freeaddrinfo(ai);
    return ok;
}

static bool fatal_reason(const char *reason) {
    static const char *const fatal[] = {"HostKeyMismatch",   "AuthenticationFailed",
                                        "InvalidPrivateKey", "SecretNotFound",
                                        "SecretInvalid",     "DNSFailure"};
    for (size_t i = 0; reason && i < sizeof fatal / sizeof fatal[0]; i++)
        if (!strcmp(reason, fatal[i]))
            return true;
    return false;
}

/* Connects; on failure fills r and returns the error. */
static int task_connect(const struct rc_env *env, const json_t *host, struct sshc_session **ret,
                        struct op_task_result *r) {
    struct host_ssh_failure f;
    int64_t t0 = cm_time_mono_ms();
    int e = host_ssh_connect(env, host, ret, &f);
    r->connect_ms = cm_time_mono_ms() - t0;
    if (e == 0)
        return 0;
    r->err = e;
    r->reason = f.reason ? f.reason : "SSHError";
    snprintf(r->message, sizeof r->message, "%s", f.message);
    r->fatal = fatal_reason(r->reason);
    r->unreachable = !r->fatal && e != -EAGAIN && strcmp(r->reason, "SecretUnavailable");
    return e;
}

/* Runs cmd; fills r on a transport failure. */
static int task_exec(const struct rc_env *env, struct sshc_session *s, const char *cmd,
                     int timeout_ms, struct sshc_result *sr, struct op_task_result *r) {
    struct sshc_error err = {0};
    int e = host_ssh_exec(env, s, cmd, timeout_ms, sr, &err);
    if (e < 0) {
        r->err = e;
        r->reason = e == -ETIMEDOUT ? "Timeout" : "ProtocolError";
        res_msg(r, "%s", err.message[0] ? err.message : strerror(-e));
        r->unreachable = true;
    }
    return e;
}

static int read_boot_id(const struct rc_env *env, struct sshc_session *s,
                        struct op_task_result *r) {
    struct sshc_result sr = {0};
    int e = task_exec(env, s, BOOT_ID_CMD, READ_TIMEOUT_MS, &sr, r);
    if (e == 0) {
        first_line(&sr, r->boot_id, sizeof r->boot_id);
        if (sr.exit_status != 0 || !op_task_boot_id_valid(r->boot_id)) {
            char tail[OUTPUT_TAIL + 8];
            tail_of(&sr, tail, sizeof tail);
            r->err = e = -EBADMSG;
            r->reason = "BootIDUnreadable";
            r->fatal = true;
            res_msg(r, "reading the boot id: `%s` exited %d: %s", BOOT_ID_CMD, sr.exit_status,
                    tail);
            r->boot_id[0] = '\0';
        }
    }
    sshc_result_done(&sr);
    return e;
}

/* The profile for the host: from its recorded facts (os, atomic) when they identify one, else
 * from fresh facts (a host matched only through ID_LIKE). A new reference, or NULL with r set. */
static struct hostos_profile *task_profile(const struct rc_env *env, struct sshc_session *s,
                                           const json_t *host, struct op_task_result *r) {
    struct hostos_profile *p = NULL;
    struct hostos_error herr = {{0}};
    const char *os = cm_json_get_str(host, "status.os");
    if (os && *os &&
        hostos_registry_match(env->profiles, os, "", cm_json_get_bool(host, "status.atomic", 0),
                              &p, &herr) == 0)
        return p;
    struct sshc_facts f = {0};
    struct sshc_error err = {0};
    int e = sshc_facts_gather(s, READ_TIMEOUT_MS, &f, &err);
    if (e < 0) {
        r->err = e;
        r->reason = "FactsUnavailable";
        r->unreachable = e == -EPROTO || e == -ETIMEDOUT;
        res_msg(r, "gathering facts: %s", err.message[0] ? err.message : strerror(-e));
        return NULL;
    }
    e = hostos_registry_match(env->profiles, f.os_id, f.os_id_like, f.atomic, &p, &herr);
    sshc_facts_done(&f);
    if (e < 0) {
        r->err = e;
        r->reason = "UnknownOS";
        r->fatal = true;
        res_msg(r, "%s", herr.message);
        return NULL;
    }
    return p;
}

static void run_bootid(const struct rc_env *env, struct entry *t, struct op_task_result *r) {
    struct sshc_session *s = NULL;
    if (task_connect(env, t->host, &s, r) < 0)
        return;
    bool keep = read_boot_id(env, s, r) == 0;
    host_ssh_release(env, s, keep);
}

static void run_exec(const struct rc_env *env, struct entry *t, struct op_task_result *r) {
    struct sshc_session *s = NULL;
    if (task_connect(env, t->host, &s, r) < 0)
        return;
    bool keep = false;
    char *cmd = NULL;
    struct hostos_profile *p = task_profile(env, s, t->host, r);
    if (!p)
        goto out;
    snprintf(r->profile, sizeof r->profile, "%s", p->id);
    if (t->cmd == OP_CMD_DEPLOY) {
        struct hostos_error herr = {{0}};
        int e = hostos_profile_deploy_command(p, t->version, &cmd, &herr);
        if (e < 0) {
            r->err = e;
            r->reason = e == -ENOTSUP ? "DeployNotSupported" : "InvalidVersion";
            r->fatal = true;
            res_msg(r, "%s", herr.message);
            goto out;
        }
    } else {
        cmd = strdup(p->upgrade);
        if (!cmd) {
            r->err = -ENOMEM;
            r->reason = "OutOfMemory";
            goto out;
        }
    }
    struct sshc_result sr = {0};
    int e = task_exec(env, s, cmd, (int)t->timeout_ms, &sr, r);
    if (e == 0) {
        r->exit_status = sr.exit_status;
        if (sr.exit_status != 0) {
            char tail[OUTPUT_TAIL + 8];
            tail_of(&sr, tail, sizeof tail);
            res_msg(r, "`%s` exited %d: %s", cmd, sr.exit_status, tail);
        }
    } else {
        char m[sizeof r->message];
        snprintf(m, sizeof m, "%s", r->message);
        res_msg(r, "`%s`: %s", cmd, m);
    }
    sshc_result_done(&sr);
    /* The boot id right after the command: the reboot that follows is judged against it. */
    if (e == 0 && r->exit_status == 0)
        keep = read_boot_id(env, s, r) == 0;
out:
    free(cmd);
    hostos_profile_unref(p);
    host_ssh_release(env, s, keep);
}

static void run_reboot(const struct rc_env *env, struct entry *t, struct op_task_result *r) {
    struct sshc_session *s = NULL;
    if (task_connect(env, t->host, &s, r) < 0)
        return;
    char *script = NULL;
    struct hostos_profile *p = task_profile(env, s, t->host, r);
    if (!p)
        goto out;
    snprintf(r->profile, sizeof r->profile, "%s", p->id);
    const char *cmd = t->cmd == OP_CMD_RESTART && p->restart ? p->restart : p->reboot;
    script = op_task_reboot_script(t->boot_before, cmd);
    if (!script) {
        r->err = -EINVAL;
        r->reason = "BootIDUnreadable";
        r->fatal = true;
        res_msg(r, "no valid recorded boot id to guard the reboot with");
        goto out;
    }
    struct sshc_result sr = {0};
    struct sshc_error err = {0};
    int64_t to = t->timeout_ms > 0 && t->timeout_ms < REBOOT_TIMEOUT_MS ? t->timeout_ms
                                                                        : REBOOT_TIMEOUT_MS;
    int e = host_ssh_exec(env, s, script, (int)to, &sr, &err);
    if (e == -EPROTO || e == -ETIMEDOUT) {
        /* The session died under the reboot (as the hostos README warns): it was delivered. */
        r->sent = true;
        res_msg(r, "`%s`: the session ended before an exit status (%s)", cmd,
                err.message[0] ? err.message : strerror(-e));
    } else if (e < 0) {
        r->err = e;
        r->reason = "ProtocolError";
        res_msg(r, "`%s`: %s", cmd, err.message[0] ? err.message : strerror(-e));
    } else if (sr.exit_status == GUARD_OTHER_BOOT) {
        r->rebooted = true;
        first_line(&sr, r->boot_id, sizeof r->boot_id);
    } else if (sr.exit_status == 0) {
        r->sent = true;
        snprintf(r->boot_id, sizeof r->boot_id, "%s", t->boot_before);
    } else {
        char tail[OUTPUT_TAIL + 8];
        tail_of(&sr, tail, sizeof tail);
        r->err = -EIO;
        r->exit_status = sr.exit_status;
        r->reason = sr.exit_status == GUARD_NO_BOOT_ID ? "BootIDUnreadable" : "RebootFailed";
        r->fatal = true;
        res_msg(r, "`%s` exited %d: %s", cmd, sr.exit_status, tail);
    }
    sshc_result_done(&sr);
out:
    free(script);
    hostos_profile_unref(p);
    /* Never keep a session to a host that is going down, nor let anyone reuse a cached one. */
    host_ssh_release(env, s, false);
    int64_t port = cm_json_get_int(t->host, "spec.port", 22);
    sshc_pool_invalidate(env->ssh, cm_json_get_str(t->host, "spec.address"),
                         (uint16_t)(port > 0 && port < 65536 ? port : 22));
}

static void run_poll(const struct rc_env *env, struct entry *t, struct op_task_result *r) {
    const char *addr = cm_json_get_str(t->host, "spec.address");
    int64_t port = cm_json_get_int(t->host, "spec.port", 22);
    r->probe_ms = cm_time_mono_ms(); /* the probe's start; its duration once it answered */
    int to = env->ssh_connect_timeout_ms > 0 && env->ssh_connect_timeout_ms < PROBE_TIMEOUT_MS
                 ? env->ssh_connect_timeout_ms
                 : PROBE_TIMEOUT_MS;
    if (!tcp_probe(addr, (int)port, to)) {
        r->probe_ms = cm_time_mono_ms() - r->probe_ms;
        r->err = -EHOSTDOWN;
        r->reason = "NotReachable";
        r->unreachable = true;
        res_msg(r, "%s:%lld does not accept connections", addr ? addr : "", (long long)port);
        return;
    }
    r->probe_ms = cm_time_mono_ms() - r->probe_ms;
    if (t->until_down) {
        r->err = -EINPROGRESS;
        r->reason = "StillUp";
        res_msg(r, "%s:%lld still accepts connections: the reboot has not taken it down yet",
                addr ? addr : "", (long long)port);
        return;
    }
    struct sshc_session *s = NULL;
    if (task_connect(env, t->host, &s, r) < 0)
        return;
    struct sshc_error err = {0};
    int64_t t0 = cm_time_mono_ms();
    int e = sshc_facts_gather(s, READ_TIMEOUT_MS, &r->facts, &err);
    host_ssh_observe(env, cm_time_mono_ms() - t0);
    if (e < 0) {
        r->err = e;
        r->reason = "FactsUnavailable";
        r->unreachable = true;
        res_msg(r, "gathering facts: %s", err.message[0] ? err.message : strerror(-e));
    } else {
        r->have_facts = true;
        snprintf(r->boot_id, sizeof r->boot_id, "%s", r->facts.boot_id ? r->facts.boot_id : "");
    }
    host_ssh_release(env, s, e == 0);
}

static void *pool_main(void *arg) {
    struct op_tasks *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (!t->stop && !t->fifo_head && !(t->bg_head && t->bg_running < t->bg_max))
            pthread_cond_wait(&t->cond, &t->lock);
        if (t->stop)
            break;
        struct entry *e;
        if (t->fifo_head) {
            e = t->fifo_head;
            t->fifo_head = e->next_fifo;
            if (!t->fifo_head)
                t->fifo_tail = NULL;
        } else {
            e = t->bg_head;
            t->bg_head = e->next_fifo;
            if (!t->bg_head)
                t->bg_tail = NULL;
        }
        if (e->forgotten) {
            /* Forgotten before it ran (canceled operation, host gone): it must not run. */
            for (struct entry **pe = &t->table; *pe; pe = &(*pe)->next)
                if (*pe == e) {
                    *pe = e->next;
                    break;
                }
            entry_free(e);
            continue;
        }
        e->state = E_RUNNING;
        if (e->background)
            t->bg_running++;
        pthread_mutex_unlock(&t->lock);

        struct op_task_result r = {.kind = e->kind};
        int64_t t0 = cm_time_mono_ms();
        switch (e->kind) {
        case OP_TASK_BOOTID: run_bootid(t->env, e, &r); break;
        case OP_TASK_EXEC: run_exec(t->env, e, &r); break;
        case OP_TASK_REBOOT: run_reboot(t->env, e, &r); break;
        case OP_TASK_POLL: run_poll(t->env, e, &r); break;
        default: r.err = -EINVAL; break;
        }
        r.done_ms = cm_time_mono_ms();
        r.duration_ms = r.done_ms - t0;
        if (cm_log_enabled(CM_LOG_DEBUG)) {
            char d[3][24];
            snprintf(d[0], sizeof d[0], "%lld", (long long)r.duration_ms);
            snprintf(d[1], sizeof d[1], "%lld", (long long)r.probe_ms);
            snprintf(d[2], sizeof d[2], "%lld", (long long)r.connect_ms);
            cm_log_kv(CM_LOG_DEBUG, "operation task done", "key", e->key, "kind",
                      op_task_kind_name(e->kind), "duration_ms", d[0], "probe_ms", d[1],
                      "connect_ms", d[2], "reason", r.err < 0 && r.reason ? r.reason : "", NULL);
        }
        char *op_key = strdup(e->op_key);

        pthread_mutex_lock(&t->lock);
        if (e->background && t->bg_running-- == t->bg_max && t->bg_head)
            pthread_cond_signal(&t->cond); /* a background slot is free again */
        e->res = r;
        e->state = E_DONE;
        if (e->forgotten) {
            for (struct entry **pe = &t->table; *pe; pe = &(*pe)->next)
                if (*pe == e) {
                    *pe = e->next;
                    break;
                }
            entry_free(e);
        }
        bool stop = t->stop;
        pthread_mutex_unlock(&t->lock);
        if (op_key && !stop && t->done_cb)
            t->done_cb(op_key, t->userdata);
        free(op_key);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int op_tasks_new(const struct rc_env *env, unsigned threads, op_tasks_done_cb done_cb,
                 void *userdata, struct op_tasks **ret) {
    struct op_tasks *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->env = env;
    t->done_cb = done_cb;
    t->userdata = userdata;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    unsigned n = threads ? threads : 16;
    t->bg_max = n / 2 ? n / 2 : 1;
    t->threads = calloc(n, sizeof *t->threads);
    if (!t->threads) {
        op_tasks_free(t);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&t->threads[i], NULL, pool_main, t) != 0) {
            op_tasks_free(t);
            return -EAGAIN;
        }
        t->n_threads++;
    }
    *ret = t;
    return 0;
}

void op_tasks_free(struct op_tasks *t) {
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    for (unsigned i = 0; i < t->n_threads; i++)
        pthread_join(t->threads[i], NULL);
    for (struct entry *e = t->table, *n; e; e = n) {
        n = e->next;
        entry_free(e);
    }
    free(t->threads);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static struct entry *find(struct op_tasks *t, const char *key) {
    for (struct entry *e = t->table; e; e = e->next)
        if (!e->forgotten && !strcmp(e->key, key))
            return e;
    return NULL;
}

static char *dup_or_null(const char *s, bool *oom) {
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

int op_tasks_start(struct op_tasks *t, const char *key, const struct op_task_spec *spec) {
    struct entry *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    bool oom = false;
    e->key = dup_or_null(key, &oom);
    e->tag = dup_or_null(spec->tag ? spec->tag : "", &oom);
    e->op_key = dup_or_null(spec->op_key ? spec->op_key : "", &oom);
    e->version = dup_or_null(spec->version, &oom);
    e->boot_before = dup_or_null(spec->boot_before, &oom);
    if (oom || !e->key) {
        entry_free(e);
        return -ENOMEM;
    }
    e->kind = spec->kind;
    e->cmd = spec->cmd;
    e->host = json_incref((json_t *)spec->host);
    e->timeout_ms = spec->timeout_ms;
    e->until_down = spec->until_down;
    e->background = spec->background;
    pthread_mutex_lock(&t->lock);
    int r = 0;
    struct entry *have = find(t, key);
    if (t->stop)
        r = -ESHUTDOWN;
    else if (have)
        r = have->state == E_DONE ? -EALREADY : -EBUSY;
    if (r == 0) {
        e->state = E_QUEUED;
        e->next = t->table;
        t->table = e;
        struct entry **head = e->background ? &t->bg_head : &t->fifo_head;
        struct entry **tail = e->background ? &t->bg_tail : &t->fifo_tail;
        if (*tail)
            (*tail)->next_fifo = e;
        else
            *head = e;
        *tail = e;
        pthread_cond_signal(&t->cond);
        e = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    entry_free(e);
    return r;
}

void op_tasks_promote(struct op_tasks *t, const char *key) {
    pthread_mutex_lock(&t->lock);
    struct entry *prev = NULL;
    for (struct entry *e = t->bg_head; e; prev = e, e = e->next_fifo) {
        if (e->forgotten || strcmp(e->key, key))
            continue;
        if (prev)
            prev->next_fifo = e->next_fifo;
        else
            t->bg_head = e->next_fifo;
        if (t->bg_tail == e)
            t->bg_tail = prev;
        e->next_fifo = NULL;
        e->background = false;
        if (t->fifo_tail)
            t->fifo_tail->next_fifo = e;
        else
            t->fifo_head = e;
        t->fifo_tail = e;
        pthread_cond_signal(&t->cond);
        break;
    }
    pthread_mutex_unlock(&t->lock);
}

bool op_tasks_busy(struct op_tasks *t, const char *key) {
    pthread_mutex_lock(&t->lock);
    struct entry *e = find(t, key);
    bool busy = e && e->state != E_DONE;
    pthread_mutex_unlock(&t->lock);
    return busy;
}

int op_tasks_take(struct op_tasks *t, const char *key, enum op_task_kind kind, const char *tag,
                  struct op_task_result *ret) {
    struct entry *gone = NULL;
    int r = 0;
    pthread_mutex_lock(&t->lock);
    for (struct entry **pe = &t->table; *pe; pe = &(*pe)->next) {
        struct entry *e = *pe;
        if (e->forgotten || e->state != E_DONE || strcmp(e->key, key))
            continue;
        bool same_tag = !strcmp(e->tag, tag ? tag : "");
        if (same_tag && e->kind != kind)
            break; /* another kind for the same step: the caller asks for it next */
        *pe = e->next;
        gone = e;
        if (same_tag) {
            *ret = e->res;
            e->res.have_facts = false; /* ownership of the facts passes to the caller */
            r = 1;
        }
        break;
    }
    pthread_mutex_unlock(&t->lock);
    entry_free(gone);
    return r;
}

static void forget(struct op_tasks *t, const char *prefix, bool exact) {
    size_t n = strlen(prefix);
    struct entry *drop = NULL;
    pthread_mutex_lock(&t->lock);
    for (struct entry **pe = &t->table; *pe;) {
        struct entry *e = *pe;
        if (exact ? strcmp(e->key, prefix) : strncmp(e->key, prefix, n)) {
            pe = &e->next;
            continue;
        }
        if (e->state == E_DONE) {
            *pe = e->next;
            e->next = drop;
            drop = e;
            continue;
        }
        /* Queued: stays in the FIFO but is dropped unrun when a thread picks it up. Running:
         * finishes (bounded) and its result is dropped. Either way a new task may start. */
        e->forgotten = true;
        pe = &e->next;
    }
    pthread_mutex_unlock(&t->lock);
    while (drop) {
        struct entry *next = drop->next;
        entry_free(drop);
        drop = next;
    }
}

void op_tasks_forget(struct op_tasks *t, const char *prefix) { forget(t, prefix, false); }

void op_tasks_drop(struct op_tasks *t, const char *key) { forget(t, key, true); }
