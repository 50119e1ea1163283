/* host_ssh: SSH access to the machine behind a Host object, for every reconciler that acts on
 * hosts (Host lifecycle, rolling Operations).
 *
 * host_ssh_connect() reads the private key from the Host's Secret (GET on every connect: the key
 * lives in this process only for the duration of the handshake, is wiped afterwards, and is
 * never logged), picks the host key to enforce (spec.hostKey pins it; else the fingerprint
 * recorded in status.hostKeyFingerprint on first contact; else none: trust on first use), and
 * takes a session from the bounded pool WITHOUT waiting: a full pool is -EAGAIN, which callers
 * turn into a requeue, so no worker ever sleeps on SSH capacity.
 *
 * Failures carry a condition reason (ConnectionRefused, Timeout, HostUnreachable, DNSFailure,
 * AuthenticationFailed, HostKeyMismatch, InvalidPrivateKey, SecretNotFound, SecretInvalid, ...)
 * and a message safe to show in status and Events.
 *
 * Threads: any worker thread; sessions are used by one thread at a time. */
#ifndef HOST_SSH_H
#define HOST_SSH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sshc.h"

struct rc_env;

struct host_ssh_failure {
    const char *reason;   /* static CamelCase condition reason */
    char message[400];    /* human text, no secrets */
    enum sshc_error_kind kind; /* SSHC_ERR_NONE for Secret problems */
    char seen_fingerprint[SSHC_FINGERPRINT_MAX]; /* HostKeyMismatch: the key the host showed */
};

/* Connects to host (a Host object, borrowed) as described above. Returns 0 and *ret_session
 * (give it back with host_ssh_release()); -EAGAIN when the pool is full (fail->reason
 * "PoolFull": requeue, this is not the host's fault); or another negative errno with fail
 * filled (-ENOENT SecretNotFound, -EINVAL SecretInvalid/InvalidPrivateKey, the sshc error of
 * the connection otherwise). fail may be NULL. */
int host_ssh_connect(const struct rc_env *env, const json_t *host,
                     struct sshc_session **ret_session, struct host_ssh_failure *fail);
/* Returns the session to the pool; keep=false when it saw an error or the host is about to
 * reboot (the pool drops it). Accepts NULL. */
void host_ssh_release(const struct rc_env *env, struct sshc_session *s, bool keep);

/* Runs one command with the environment's command timeout (timeout_ms 0) and records its
 * duration in commissaire_controller_ssh_command_duration_seconds. Same contract as
 * sshc_exec(): ret must be released with sshc_result_done() in every case. */
int host_ssh_exec(const struct rc_env *env, struct sshc_session *s, const char *command,
                  int timeout_ms, struct sshc_result *ret, struct sshc_error *err);

/* sshc_exec_batch() (several commands, one round trip) with the same timeout rule and metric
 * (one observation for the whole batch). */
int host_ssh_exec_batch(const struct rc_env *env, struct sshc_session *s,
                        struct sshc_batch_item *items, size_t n, bool stop_on_failure,
                        int timeout_ms, struct sshc_error *err);
/* Records one SSH round trip of duration_ms in the latency histogram. */
void host_ssh_observe(const struct rc_env *env, int64_t duration_ms);

/* The fingerprint a connection to host must present: spec.hostKey, else
 * status.hostKeyFingerprint, else NULL (first contact). Borrowed from host. */
const char *host_ssh_expected_fingerprint(const json_t *host);

/* Decodes standard base64 (padding optional, no whitespace inside except line breaks, which
 * are skipped) into a malloc'ed NUL-terminated buffer. Returns 0 and *ret_out, *ret_len, or
 * -EINVAL / -ENOMEM. Exposed for tests. */
int host_ssh_base64_decode(const char *in, char **ret_out, size_t *ret_len);

#endif
