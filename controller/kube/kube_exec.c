/* kube_exec: run an exec credential plugin and read its ExecCredential. */
#include "kube_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cm_buf.h"
#include "cm_time.h"
#include "kube_error.h"

extern char **environ;

#define OUTPUT_MAX (1024 * 1024)

static char **strv_dup(char *const *v, size_t n) {
    char **d = calloc(n + 1, sizeof(*d));
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(d[i] = strdup(v[i]))) {
            for (size_t j = 0; j < i; j++)
                free(d[j]);
            free(d);
            return NULL;
        }
    return d;
}

static void strv_free(char **v, size_t n) {
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void kube_exec_config_free(struct kube_exec_config *x) {
    if (!x)
        return;
    free(x->command);
    strv_free(x->args, x->n_args);
    /* The environment may carry secrets (client secrets for OIDC helpers). */
    for (size_t i = 0; x->env && i < x->n_env; i++)
        if (x->env[i])
            explicit_bzero(x->env[i], strlen(x->env[i]));
    strv_free(x->env, x->n_env);
    free(x->api_version);
    free(x);
}

int kube_exec_config_dup(const struct kube_exec_config *src, struct kube_exec_config **ret) {
    struct kube_exec_config *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->n_args = src->n_args;
    x->n_env = src->n_env;
    x->provide_cluster_info = src->provide_cluster_info;
    if (!(x->command = strdup(src->command)) || !(x->api_version = strdup(src->api_version)) ||
        !(x->args = strv_dup(src->args, src->n_args)) ||
        !(x->env = strv_dup(src->env, src->n_env))) {
        if (!x->args)
            x->n_args = 0;
        if (!x->env)
            x->n_env = 0;
        kube_exec_config_free(x);
        return -ENOMEM;
    }
    *ret = x;
    return 0;
}

static int env_name_eq(const char *a, const char *b) {
    size_t la = strcspn(a, "="), lb = strcspn(b, "=");
    return la == lb && strncmp(a, b, la) == 0;
}

/* Our environment, minus what the kubeconfig overrides, plus its entries and info. Borrowed
 * pointers except info (which the caller owns too); free only the array. */
static char **build_env(const struct kube_exec_config *x, char *info) {
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **envp = calloc(n + x->n_env + 2, sizeof(*envp));
    if (!envp)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = env_name_eq(environ[i], info);
        for (size_t j = 0; !replaced && j < x->n_env; j++)
            replaced = env_name_eq(environ[i], x->env[j]);
        if (!replaced)
            envp[o++] = environ[i];
    }
    for (size_t j = 0; j < x->n_env; j++)
        envp[o++] = x->env[j];
    envp[o++] = info;
    envp[o] = NULL;
    return envp;
}

static char *exec_info(const struct kube_exec_config *x, const char *cluster_json) {
    json_t *spec = json_pack("{s:b}", "interactive", 0);
    if (!spec)
        return NULL;
    if (x->provide_cluster_info && cluster_json) {
        json_t *cl = json_loads(cluster_json, 0, NULL);
        if (cl)
            json_object_set_new(spec, "cluster", cl);
    }
    json_t *o = json_pack("{s:s, s:s, s:o}", "apiVersion", x->api_version, "kind",
                          "ExecCredential", "spec", spec);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return NULL;
    struct cm_buf b;
    cm_buf_init(&b, 0);
    int r = cm_buf_printf(&b, "KUBERNETES_EXEC_INFO=%s", text);
    free(text);
    if (r < 0) {
        cm_buf_done(&b);
        return NULL;
    }
    return cm_buf_steal(&b);
}

/* Reads the child's stdout until EOF or the deadline. */
static int read_all(int fd, int64_t deadline_ms, struct cm_buf *out) {
    char chunk[4096];
    int r = 0;
    for (;;) {
        int64_t left = deadline_ms - cm_time_mono_ms();
        if (left <= 0) {
            r = -ETIMEDOUT;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            continue;
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0) {
            r = -errno;
            break;
        }
        if (got == 0)
            break;
        if ((r = cm_buf_append(out, chunk, (size_t)got)) < 0)
            break;
    }
    explicit_bzero(chunk, sizeof chunk);
    return r;
}

static int parse_credential(const struct kube_exec_config *x, const char *text, size_t len,
                            char **ret_token, int64_t *ret_expiry_ms, struct kube_error *err) {
    json_t *o = json_loadb(text, len, 0, NULL);
    int r = -EPROTO;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *av = json_string_value(json_object_get(o, "apiVersion"));
    json_t *st = json_object_get(o, "status");
    if (!o || !json_is_object(o)) {
        kube_error_set(err, 0, NULL, "exec plugin %s: output is not JSON", x->command);
    } else if (!kind || strcmp(kind, "ExecCredential") != 0) {
        kube_error_set(err, 0, NULL, "exec plugin %s: output is not an ExecCredential",
                       x->command);
    } else if (!av || strcmp(av, x->api_version) != 0) {
        kube_error_set(err, 0, NULL, "exec plugin %s: answered apiVersion \"%s\", asked for %s",
                       x->command, av ? av : "", x->api_version);
    } else if (!json_is_object(st)) {
        kube_error_set(err, 0, NULL, "exec plugin %s: ExecCredential has no status", x->command);
    } else if (json_object_get(st, "clientCertificateData") ||
               json_object_get(st, "clientKeyData")) {
        kube_error_set(err, 0, NULL,
                       "exec plugin %s: client certificate credentials are not supported "
                       "(only status.token)", x->command);
        r = -EOPNOTSUPP;
    } else {
        const char *tok = json_string_value(json_object_get(st, "token"));
        const char *exp = json_string_value(json_object_get(st, "expirationTimestamp"));
        int64_t ms = 0;
        if (!tok || !*tok) {
            kube_error_set(err, 0, NULL, "exec plugin %s: ExecCredential has no status.token",
                           x->command);
        } else if (exp && cm_time_parse_rfc3339(exp, &ms) < 0) {
            kube_error_set(err, 0, NULL,
                           "exec plugin %s: status.expirationTimestamp is not RFC 3339",
                           x->command);
        } else if (!(*ret_token = strdup(tok))) {
            r = -ENOMEM;
        } else {
            *ret_expiry_ms = exp ? ms : 0;
            r = 0;
        }
    }
    if (o) {
        /* jansson keeps its own copy of the token; overwrite it before the value is freed. */
        const char *tok = json_string_value(json_object_get(st, "token"));
        if (tok)
            explicit_bzero((char *)tok, strlen(tok));
        json_decref(o);
    }
    return r;
}

int kube_exec_run(const struct kube_exec_config *x, const char *cluster_json, int64_t timeout_ms,
                  char **ret_token, int64_t *ret_expiry_ms, struct kube_error *err) {
    char *info = exec_info(x, cluster_json);
    char **argv = calloc(x->n_args + 2, sizeof(*argv));
    char **envp = info ? build_env(x, info) : NULL;
    int pfd[2] = {-1, -1}, r;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    int fa_ok = 0;
    struct cm_buf out;
    cm_buf_init(&out, OUTPUT_MAX);

    if (!info || !argv || !envp) {
        r = -ENOMEM;
        goto done;
    }
    argv[0] = x->command;
    for (size_t i = 0; i < x->n_args; i++)
        argv[i + 1] = x->args[i];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        r = -errno;
        kube_error_set(err, 0, NULL, "exec plugin %s: pipe: %s", x->command, strerror(-r));
        goto done;
    }
    /* posix_spawn, not fork: this process has threads, and the child must not run any of our
     * code between fork and exec. */
    if ((r = -posix_spawn_file_actions_init(&fa)) < 0)
        goto done;
    fa_ok = 1;
    if ((r = -posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO)) < 0 ||
        (r = -posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0)) < 0)
        goto done;
    r = -posix_spawnp(&pid, x->command, &fa, NULL, argv, envp);
    if (r < 0) {
        pid = -1;
        kube_error_set(err, 0, NULL, "exec plugin %s: cannot run it: %s", x->command,
                       strerror(-r));
        goto done;
    }
    close(pfd[1]);
    pfd[1] = -1;
    r = read_all(pfd[0], cm_time_mono_ms() + timeout_ms, &out);
    if (r < 0)
        kill(pid, SIGKILL);
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (r == -ETIMEDOUT) {
        kube_error_set(err, 0, NULL, "exec plugin %s: no answer within %lld ms", x->command,
                       (long long)timeout_ms);
        goto done;
    }
    if (r < 0) {
        kube_error_set(err, 0, NULL, "exec plugin %s: reading its output: %s", x->command,
                       r == -E2BIG ? "more than 1 MiB" : strerror(-r));
        goto done;
    }
    /* posix_spawnp reports a missing program as exit status 127 from the child. */
    if (w > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127 && out.len == 0) {
        r = -ENOENT;
        kube_error_set(err, 0, NULL, "exec plugin %s: program not found", x->command);
        goto done;
    }
    if (w > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        r = -EPROTO;
        if (WIFSIGNALED(status))
            kube_error_set(err, 0, NULL, "exec plugin %s: killed by signal %d", x->command,
                           WTERMSIG(status));
        else
            kube_error_set(err, 0, NULL, "exec plugin %s: exit status %d", x->command,
                           WEXITSTATUS(status));
        goto done;
    }
    r = parse_credential(x, out.data ? out.data : "", out.len, ret_token, ret_expiry_ms, err);
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (out.data)
        explicit_bzero(out.data, out.len);
    cm_buf_done(&out);
    free(envp);
    free(argv);
    free(info);
    return r;
}
