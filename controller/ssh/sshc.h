/* sshc: SSH sessions to managed hosts (libssh, no agent, keys only in memory).
 *
 * libssh owns the ssh_ prefix, so ours is sshc_. One sshc_session is one authenticated SSH
 * connection to one host. Connecting does, in order: resolve (DNS), TCP connect with a timeout
 * (our own non-blocking connect, so refused / unreachable / timeout are told apart exactly),
 * SSH key exchange (curve25519-sha256 preferred), host key check, and only then public-key
 * authentication. A host-key mismatch disconnects before authenticating, so not a single
 * command can reach a host that is not the one recorded.
 *
 * Errors: every call returns 0 or a negative errno and fills an optional struct sshc_error whose
 * `kind` is the precise reason (use sshc_error_kind_reason() for Kubernetes condition reasons).
 * Messages never contain key material.
 *
 * Threading: a session is used by one thread at a time (it is not locked). Every call that
 * talks to the host blocks the calling thread, for at most the timeout it is given (connect
 * timeout for sshc_session_connect(), command timeout for sshc_exec*(), io timeout for
 * sshc_upload()), except DNS resolution of a name, which uses the system resolver's own
 * timeout. Different sessions can be used from different threads at the same time. */
#ifndef SSHC_H
#define SSHC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cm_buf.h"

/* "SHA256:" + 43 characters of unpadded base64 + NUL. */
#define SSHC_FINGERPRINT_MAX 51

enum sshc_error_kind {
    SSHC_ERR_NONE,             /* no error */
    SSHC_ERR_DNS,              /* the host name did not resolve (-ENXIO) */
    SSHC_ERR_REFUSED,          /* TCP connection refused (-ECONNREFUSED) */
    SSHC_ERR_UNREACHABLE,      /* no route to the host or network (-EHOSTUNREACH) */
    SSHC_ERR_TIMEOUT,          /* connect, handshake or command took too long (-ETIMEDOUT) */
    SSHC_ERR_HOSTKEY_MISMATCH, /* server key is not the expected one (-EBADMSG) */
    SSHC_ERR_AUTH,             /* the server rejected our key (-EACCES) */
    SSHC_ERR_KEY,              /* the private key text could not be read (-EINVAL) */
    SSHC_ERR_PROTOCOL,         /* SSH transport or channel failure (-EPROTO) */
    SSHC_ERR_SFTP,             /* an SFTP operation failed (negative errno of the cause) */
    SSHC_ERR_INVALID,          /* bad argument from the caller (-EINVAL) */
    SSHC_ERR_SYSTEM,           /* local failure: memory, sockets (the errno) */
    SSHC_ERR_POOL_FULL,        /* sshc_pool: no free slot (-EAGAIN) */
    SSHC_ERR_PARSE,            /* output of the host could not be understood (-EBADMSG) */
    SSHC_ERR__MAX,
};

struct sshc_error {
    enum sshc_error_kind kind;
    char message[256];
    /* Set for SSHC_ERR_HOSTKEY_MISMATCH (and seen_fingerprint whenever the key was seen). */
    char expected_fingerprint[SSHC_FINGERPRINT_MAX];
    char seen_fingerprint[SSHC_FINGERPRINT_MAX];
};

/* Short CamelCase reason for a condition ("ConnectionRefused", "HostKeyMismatch", ...). */
const char *sshc_error_kind_reason(enum sshc_error_kind kind);

/* Formats a raw SHA-256 digest (32 bytes) as OpenSSH does: "SHA256:" + unpadded base64.
 * out must hold SSHC_FINGERPRINT_MAX bytes. Returns 0, or -EINVAL if len is not 32. */
int sshc_fingerprint_format(const uint8_t *digest, size_t len, char out[SSHC_FINGERPRINT_MAX]);
/* True when s has the exact shape "SHA256:" + 43 base64 characters. */
bool sshc_fingerprint_valid(const char *s);

struct sshc_connect_opts {
    const char *host;                 /* IP address or DNS name (required) */
    uint16_t port;                    /* 0 means 22 */
    const char *user;                 /* NULL means "root" */
    /* Private key as PEM or OpenSSH text (the data of a kubernetes.io/ssh-auth Secret), NUL
     * terminated, unencrypted. Read during the call only: never copied into the session,
     * never written to disk. The caller wipes its own buffer. */
    const char *private_key;
    /* "SHA256:..." to enforce, or NULL to accept any key (trust on first use: the caller
     * records sshc_session_fingerprint() afterwards). */
    const char *expected_fingerprint;
    int connect_timeout_ms;           /* TCP connect + SSH handshake + auth; 0 means 10000 */
    const char *kex;                  /* libssh KEX list; NULL means curve25519-sha256 first */
    /* Act as root through `sudo -n` (a non-root remoteUser with password-less sudo, like the
     * original's Ansible become): commands run as `sudo -n -- sh -c '<command>'`, uploads go
     * to a private temporary file and are installed with sudo. */
    bool sudo;
};

struct sshc_session;

/* Connects, checks the host key and authenticates. On success *ret_session is a new session
 * owned by the caller (free with sshc_session_free()). On failure nothing is returned, the
 * connection is closed, and err (if given) tells why; for a host-key mismatch it holds both
 * fingerprints and no authentication was attempted. Blocks up to connect_timeout_ms
 * (plus DNS). */
int sshc_session_connect(const struct sshc_connect_opts *opts, struct sshc_session **ret_session,
                         struct sshc_error *err);
/* Disconnects and frees. Accepts NULL. */
void sshc_session_free(struct sshc_session *s);

/* Accessors: strings are owned by the session and valid until it is freed. */
const char *sshc_session_fingerprint(const struct sshc_session *s); /* "SHA256:..." */
const char *sshc_session_kex(const struct sshc_session *s);         /* e.g. "curve25519-sha256" */
const char *sshc_session_host(const struct sshc_session *s);
uint16_t sshc_session_port(const struct sshc_session *s);
/* False once a transport error was seen: such a session must not be reused. */
bool sshc_session_usable(const struct sshc_session *s);
/* True when commands and uploads go through sudo (opts.sudo). */
bool sshc_session_sudo(const struct sshc_session *s);

/* Appends s to out as one single-quoted POSIX shell word. Returns 0 or -ENOMEM/-E2BIG. */
int sshc_shell_quote(struct cm_buf *out, const char *s);

struct sshc_exec_opts {
    int timeout_ms;       /* whole command; 0 means 60000 */
    size_t stdout_cap;    /* bytes kept; 0 means 1 MiB. Output past it is read and dropped. */
    size_t stderr_cap;    /* bytes kept; 0 means 64 KiB */
    bool unprivileged;    /* on a sudo session: run as the remote user (facts need no root) */
};

struct sshc_result {
    int exit_status;        /* the command's exit status; 255 when killed by a signal */
    char *exit_signal;      /* signal name ("KILL") when the command died of one, else NULL */
    struct cm_buf out;      /* stdout, NUL terminated, at most stdout_cap bytes */
    struct cm_buf err;      /* stderr, NUL terminated, at most stderr_cap bytes */
    bool out_truncated;     /* more stdout was produced than kept */
    bool err_truncated;
    int64_t duration_ms;
};

/* Frees what a result holds and leaves it empty. Accepts a zeroed result. */
void sshc_result_done(struct sshc_result *r);

/* Runs one command (as the remote user's shell runs `sh -c`) in a new channel, waits for its
 * exit up to timeout_ms. Returns 0 when the command ran to completion (whatever its exit
 * status: see ret->exit_status), -ETIMEDOUT when it did not finish in time (the channel is
 * closed and a KILL signal requested; ret holds what was read so far), -EPROTO on channel or
 * transport failure. ret is initialised by the call; release it with sshc_result_done() in
 * every case. */
int sshc_exec(struct sshc_session *s, const char *command, const struct sshc_exec_opts *opts,
              struct sshc_result *ret, struct sshc_error *err);

/* One command of a batch and, after sshc_exec_batch(), what it did. */
struct sshc_batch_item {
    const char *command;    /* input, not owned */
    bool ran;               /* output: it ran (a batch stops at the first item that fails when
                             * stop_on_failure is set) */
    int exit_status;        /* output */
    char *output;           /* output: stdout and stderr interleaved, malloc'd, NUL terminated */
};

/* Runs several commands in ONE channel (one round trip): a single `sh` script runs each command
 * in a subshell and prints a delimiter line with a per-call random nonce and the exit status
 * after it, so output cannot forge another command's result. With stop_on_failure, items after
 * the first non-zero exit do not run. Returns 0 when the script completed (look at each item),
 * -ETIMEDOUT, -EPROTO, or -EBADMSG when the delimiters could not be parsed (e.g. output capped).
 * Item outputs are freed by sshc_batch_items_done(). */
int sshc_exec_batch(struct sshc_session *s, struct sshc_batch_item *items, size_t n,
                    bool stop_on_failure, const struct sshc_exec_opts *opts, struct sshc_error *err);
void sshc_batch_items_done(struct sshc_batch_item *items, size_t n);

/* Builds the batch script for the given nonce (exposed for tests). Returns a malloc'd string
 * or NULL on -ENOMEM. */
char *sshc_batch_script(const struct sshc_batch_item *items, size_t n, bool stop_on_failure,
                        const char *nonce);
/* Parses the output of sshc_batch_script() into items (pure; exposed for tests). Returns 0 or
 * -EBADMSG. */
int sshc_batch_parse(const char *out, size_t len, const char *nonce, struct sshc_batch_item *items,
                     size_t n);

enum sshc_upload_flags {
    SSHC_UPLOAD_IF_CHANGED = 1 << 0, /* read the remote file first; skip when equal (content
                                      * and mode) */
};

/* Writes len bytes to the remote absolute path with the given permission bits over SFTP,
 * creating missing parent directories (0755). The file is written to a temporary name in the
 * same directory and renamed over the target, so a reader never sees half a file.
 * *ret_changed (optional) is set to whether anything was written. Returns 0 or a negative errno
 * (err kind SSHC_ERR_SFTP, or SSHC_ERR_PROTOCOL). Blocks for the transfer (the session's
 * connect timeout bounds each SFTP packet wait). The SFTP channel is opened on first use and
 * kept with the session. On a sudo session the bytes go to a 0600 file under /tmp over SFTP and
 * are installed to path with `sudo -n install` (same flags and results). */
int sshc_upload(struct sshc_session *s, const char *path, const void *data, size_t len,
                unsigned mode, unsigned flags, bool *ret_changed, struct sshc_error *err);

#endif
