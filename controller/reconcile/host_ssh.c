#include "host_ssh.h"

#include "cm_b64.h"
#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_error.h"
#include "rc_manager.h"
#include "rc_metrics.h"
#include "sshc_pool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double ssh_buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
                                     300};

static void fail_set(struct host_ssh_failure *f, const char *reason, enum sshc_error_kind kind,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail_set(struct host_ssh_failure *f, const char *reason, enum sshc_error_kind kind,
                     const char *fmt, ...) {
    if (!f)
        return;
    f->reason = reason;
    f->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
}

int host_ssh_base64_decode(const char *in, char **ret_out, size_t *ret_len) {
    if (!in)
        return -EINVAL;
    return cm_b64_decode(in, 0, ret_out, ret_len);
}

const char *host_ssh_expected_fingerprint(const json_t *host) {
    const char *pin = cm_json_get_str(host, "spec.hostKey");
    if (pin && *pin)
        return pin;
    const char *seen = cm_json_get_str(host, "status.hostKeyFingerprint");
    return seen && *seen ? seen : NULL;
}

/* Fetches and decodes the key. The decoded copy is returned to the caller, who wipes it. */
static int load_key(const struct rc_env *env, const json_t *host, char **ret_key, size_t *ret_len,
                    struct host_ssh_failure *fail) {
    const char *ns = cm_json_get_str(host, "metadata.namespace");
    const char *name = cm_json_get_str(host, "spec.sshKeySecretRef.name");
    const char *key = cm_json_get_str(host, "spec.sshKeySecretRef.key");
    if (!key || !*key)
        key = "ssh-privatekey";
    if (!name || !*name) {
        fail_set(fail, "SecretNotFound", SSHC_ERR_NONE, "spec.sshKeySecretRef.name is not set");
        return -ENOENT;
    }
    struct kube_error kerr;
    kube_error_init(&kerr);
    json_t *secret = NULL;
    int r = kube_get(env->client, &KUBE_RES_SECRETS, ns, name, NULL, &secret, &kerr);
    if (r == -ENOENT) {
        fail_set(fail, "SecretNotFound", SSHC_ERR_NONE, "Secret %s/%s not found", ns ? ns : "",
                 name);
        goto out;
    }
    if (r < 0) {
        /* The API server, not the host, failed: report it as such (the caller retries). */
        fail_set(fail, "SecretUnavailable", SSHC_ERR_NONE, "reading Secret %s/%s: %s",
                 ns ? ns : "", name, kerr.message ? kerr.message : "API error");
        goto out;
    }
    const char *b64 = json_string_value(json_object_get(json_object_get(secret, "data"), key));
    if (!b64) {
        fail_set(fail, "SecretInvalid", SSHC_ERR_NONE, "Secret %s/%s has no data key %s",
                 ns ? ns : "", name, key);
        r = -EINVAL;
        goto out;
    }
    r = host_ssh_base64_decode(b64, ret_key, ret_len);
    if (r < 0)
        fail_set(fail, "SecretInvalid", SSHC_ERR_NONE,
                 "Secret %s/%s data key %s is not valid base64", ns ? ns : "", name, key);
out:
    /* The Secret's JSON holds the key too: wipe its string before freeing. */
    if (secret) {
        json_t *data = json_object_get(secret, "data");
        const char *k;
        json_t *v;
        json_object_foreach(data, k, v) {
            if (json_is_string(v)) {
                size_t n = json_string_length(v);
                explicit_bzero((char *)json_string_value(v), n);
            }
        }
        json_decref(secret);
    }
    kube_error_done(&kerr);
    return r;
}

int host_ssh_connect(const struct rc_env *env, const json_t *host,
                     struct sshc_session **ret_session, struct host_ssh_failure *fail) {
    if (fail)
        memset(fail, 0, sizeof *fail);
    char *key = NULL;
    size_t key_len = 0;
    int r = load_key(env, host, &key, &key_len, fail);
    if (r < 0)
        return r;
    int64_t port = cm_json_get_int(host, "spec.port", 22);
    struct sshc_connect_opts o = {
        .host = cm_json_get_str(host, "spec.address"),
        .port = (uint16_t)(port > 0 && port < 65536 ? port : 22),
        .user = cm_json_get_str(host, "spec.remoteUser"),
        .private_key = key,
        .expected_fingerprint = host_ssh_expected_fingerprint(host),
        .connect_timeout_ms = env->ssh_connect_timeout_ms,
    };
    struct sshc_error err = {0};
    r = sshc_pool_try_get(env->ssh, &o, ret_session, &err);
    explicit_bzero(key, key_len);
    free(key);
    if (r == 0)
        return 0;
    if (r == -EAGAIN && err.kind == SSHC_ERR_POOL_FULL) {
        fail_set(fail, "PoolFull", SSHC_ERR_POOL_FULL, "all SSH sessions are in use");
        return -EAGAIN;
    }
    if (err.kind == SSHC_ERR_HOSTKEY_MISMATCH) {
        fail_set(fail, "HostKeyMismatch", err.kind,
                 "host key mismatch: expected %s, the host presented %s; no command was sent "
                 "(set spec.hostKey to the new fingerprint if the host was legitimately re-keyed)",
                 o.expected_fingerprint ? o.expected_fingerprint : "?",
                 err.seen_fingerprint[0] ? err.seen_fingerprint : "?");
        if (fail)
            snprintf(fail->seen_fingerprint, sizeof fail->seen_fingerprint, "%s",
                     err.seen_fingerprint);
        return r;
    }
    fail_set(fail, sshc_error_kind_reason(err.kind), err.kind, "%s:%u: %s", o.host ? o.host : "",
             (unsigned)o.port, err.message[0] ? err.message : "connection failed");
    return r < 0 ? r : -EIO;
}

void host_ssh_release(const struct rc_env *env, struct sshc_session *s, bool keep) {
    if (s)
        sshc_pool_put(env->ssh, s, keep && sshc_session_usable(s));
}

void host_ssh_observe(const struct rc_env *env, int64_t duration_ms) {
    if (!env->metrics)
        return;
    struct rc_metric *h = rc_metrics_histogram(
        env->metrics, "commissaire_controller_ssh_command_duration_seconds",
        "Duration of SSH commands (one round trip: a command or a batch) run on hosts.", NULL,
        ssh_buckets, sizeof ssh_buckets / sizeof ssh_buckets[0]);
    rc_metric_observe(h, NULL, NULL, (double)duration_ms / 1000.0);
}

int host_ssh_exec(const struct rc_env *env, struct sshc_session *s, const char *command,
                  int timeout_ms, struct sshc_result *ret, struct sshc_error *err) {
    struct sshc_exec_opts o = {.timeout_ms = timeout_ms ? timeout_ms : env->ssh_command_timeout_ms};
    int64_t t0 = cm_time_mono_ms();
    int r = sshc_exec(s, command, &o, ret, err);
    host_ssh_observe(env, cm_time_mono_ms() - t0);
    return r;
}

int host_ssh_exec_batch(const struct rc_env *env, struct sshc_session *s,
                        struct sshc_batch_item *items, size_t n, bool stop_on_failure,
                        int timeout_ms, struct sshc_error *err) {
    struct sshc_exec_opts o = {.timeout_ms = timeout_ms ? timeout_ms : env->ssh_command_timeout_ms};
    int64_t t0 = cm_time_mono_ms();
    int r = sshc_exec_batch(s, items, n, stop_on_failure, &o, err);
    host_ssh_observe(env, cm_time_mono_ms() - t0);
    return r;
}
