/* sshc sessions: connect, verify the host key, authenticate.
 *
 * We open the TCP connection ourselves (non-blocking connect + poll) and hand the socket to
 * libssh with SSH_OPTIONS_FD. libssh's own connect reports every failure as one generic error
 * text; doing it here gives exact kinds (DNS, refused, unreachable, timeout) that become
 * condition reasons. The order of the rest is the security property of this file: key exchange,
 * then the host-key comparison, and authentication only after the key matched. */
#include "sshc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cm_time.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
/* curve25519 first (fast, and what OpenSSH prefers), then the other modern exchanges. */
#define DEFAULT_KEX                                                                            \
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"    \
    "ecdh-sha2-nistp521,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"          \
    "diffie-hellman-group14-sha256"
/* The host key type decides which fingerprint the server shows; ed25519 first, as OpenSSH's
 * client does, so a fingerprint pinned from `ssh-keygen -lf ssh_host_ed25519_key.pub` matches. */
#define HOSTKEY_ORDER                                                                          \
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"    \
    "rsa-sha2-256"
/* AES-GCM is hardware accelerated on the controller's CPUs; chacha20 stays as a fallback. */
#define CIPHERS                                                                                \
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,"  \
    "aes256-ctr"

static const char *const reasons[SSHC_ERR__MAX] = {
    [SSHC_ERR_NONE] = "None",
    [SSHC_ERR_DNS] = "DNSFailure",
    [SSHC_ERR_REFUSED] = "ConnectionRefused",
    [SSHC_ERR_UNREACHABLE] = "HostUnreachable",
    [SSHC_ERR_TIMEOUT] = "Timeout",
    [SSHC_ERR_HOSTKEY_MISMATCH] = "HostKeyMismatch",
    [SSHC_ERR_AUTH] = "AuthenticationFailed",
    [SSHC_ERR_KEY] = "InvalidPrivateKey",
    [SSHC_ERR_PROTOCOL] = "ProtocolError",
    [SSHC_ERR_SFTP] = "FileTransferFailed",
    [SSHC_ERR_INVALID] = "InvalidArgument",
    [SSHC_ERR_SYSTEM] = "SystemError",
    [SSHC_ERR_POOL_FULL] = "PoolFull",
    [SSHC_ERR_PARSE] = "UnexpectedOutput",
};

const char *sshc_error_kind_reason(enum sshc_error_kind kind) {
    if ((unsigned)kind >= SSHC_ERR__MAX)
        return "Unknown";
    return reasons[kind];
}

void sshc__error_clear(struct sshc_error *err) {
    if (!err)
        return;
    err->kind = SSHC_ERR_NONE;
    err->message[0] = '\0';
    err->expected_fingerprint[0] = '\0';
    err->seen_fingerprint[0] = '\0';
}

int sshc__fail(struct sshc_error *err, enum sshc_error_kind kind, int r, const char *fmt, ...) {
    if (err) {
        err->kind = kind;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return r;
}

int sshc__random_hex(char *buf, size_t n) {
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    if (n > 2 * sizeof(raw))
        return -EINVAL;
    size_t need = (n + 1) / 2;
    ssize_t got = getrandom(raw, need, 0);
    if (got != (ssize_t)need)
        return got < 0 ? -errno : -EIO;
    for (size_t i = 0; i < n; i++)
        buf[i] = hex[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
    buf[n] = '\0';
    return 0;
}

int sshc_fingerprint_format(const uint8_t *digest, size_t len, char out[SSHC_FINGERPRINT_MAX]) {
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!digest || len != 32)
        return -EINVAL;
    char *o = out;
    memcpy(o, "SHA256:", 7);
    o += 7;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)digest[i] << 16 | (uint32_t)digest[i + 1] << 8 | digest[i + 2];
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = b64[v >> 6 & 63];
        *o++ = b64[v & 63];
    }
    /* 32 = 30 + 2: the last two bytes make three characters, and OpenSSH drops the '='. */
    uint32_t v = (uint32_t)digest[i] << 16 | (uint32_t)digest[i + 1] << 8;
    *o++ = b64[v >> 18 & 63];
    *o++ = b64[v >> 12 & 63];
    *o++ = b64[v >> 6 & 63];
    *o = '\0';
    return 0;
}

bool sshc_fingerprint_valid(const char *s) {
    if (!s || strncmp(s, "SHA256:", 7) != 0)
        return false;
    s += 7;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (!ok)
            return false;
    }
    return n == 43;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void libssh_init(void) {
    ssh_init();
}

/* Resolves host:port. Numeric addresses never reach a resolver. */
static int resolve(const char *host, uint16_t port, struct addrinfo **ret, struct sshc_error *err) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    int r = getaddrinfo(host, portstr, &hints, ret);
    if (r == 0)
        return 0;
    if (r == EAI_SYSTEM)
        return sshc__fail(err, SSHC_ERR_DNS, -ENXIO, "cannot resolve %s: %s", host,
                          strerror(errno));
    if (r == EAI_MEMORY)
        return sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "cannot resolve %s: out of memory", host);
    return sshc__fail(err, SSHC_ERR_DNS, -ENXIO, "cannot resolve %s: %s", host, gai_strerror(r));
}

/* Non-blocking connect to one address, bounded by deadline_ms (monotonic). Returns an fd or a
 * negative errno. */
static int tcp_connect_one(const struct addrinfo *ai, int64_t deadline_ms) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    int r = -errno;
    if (r != -EINPROGRESS)
        goto fail;
    for (;;) {
        int64_t left = deadline_ms - cm_time_mono_ms();
        if (left <= 0) {
            r = -ETIMEDOUT;
            goto fail;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto fail;
        }
        if (n == 0)
            continue;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
            r = -errno;
            goto fail;
        }
        if (soerr == 0)
            return fd;
        r = -soerr;
        goto fail;
    }
fail:
    close(fd);
    return r;
}

static int tcp_connect(const char *host, uint16_t port, int64_t deadline_ms, int *ret_fd,
                       struct sshc_error *err) {
    struct addrinfo *res = NULL;
    int r = resolve(host, port, &res, err);
    if (r < 0)
        return r;
    r = -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = tcp_connect_one(ai, deadline_ms);
        if (fd >= 0) {
            freeaddrinfo(res);
            *ret_fd = fd;
            return 0;
        }
        r = fd;
        if (r == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    switch (r) {
    case -ECONNREFUSED:
        return sshc__fail(err, SSHC_ERR_REFUSED, r, "connection to %s port %u refused", host,
                          (unsigned)port);
    case -ETIMEDOUT:
        return sshc__fail(err, SSHC_ERR_TIMEOUT, r, "connection to %s port %u timed out", host,
                          (unsigned)port);
    case -EHOSTUNREACH:
    case -ENETUNREACH:
    case -EHOSTDOWN:
    case -ENETDOWN:
    case -EADDRNOTAVAIL:
        return sshc__fail(err, SSHC_ERR_UNREACHABLE, -EHOSTUNREACH, "%s port %u unreachable: %s",
                          host, (unsigned)port, strerror(-r));
    default:
        return sshc__fail(err, SSHC_ERR_SYSTEM, r, "connection to %s port %u failed: %s", host,
                          (unsigned)port, strerror(-r));
    }
}

/* Remaining budget, at least 1 ms so libssh never gets "0 = default". */
static int64_t left_ms(int64_t deadline_ms) {
    int64_t left = deadline_ms - cm_time_mono_ms();
    return left < 1 ? 1 : left;
}

static void set_timeout(ssh_session ssh, int64_t ms) {
    long sec = (long)(ms / 1000);
    long usec = (long)(ms % 1000) * 1000;
    ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT, &sec);
    ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT_USEC, &usec);
}

void sshc_session_free(struct sshc_session *s) {
    if (!s)
        return;
    if (s->sftp)
        sftp_free(s->sftp);
    /* Since libssh 0.10 a socket given with SSH_OPTIONS_FD stays the caller's: disconnect and
     * free leave it open. Some of libssh's error paths still close it, though, and then forget
     * it (its fd becomes invalid). So the socket is closed here only while libssh still holds
     * it as its own fd: never twice, never a number another thread got since. */
    bool close_fd = s->fd >= 0 && s->ssh && ssh_get_fd(s->ssh) == s->fd;
    if (s->ssh) {
        if (ssh_is_connected(s->ssh))
            ssh_disconnect(s->ssh);
        ssh_free(s->ssh);
    }
    if (close_fd)
        close(s->fd);
    free(s->host);
    free(s->user);
    free(s->kex);
    free(s);
}

/* Maps a failed libssh step to timeout or protocol error. libssh has no error code for
 * timeouts, so the deadline decides. */
static int ssh_step_fail(struct sshc_session *s, int64_t deadline_ms, const char *what,
                         struct sshc_error *err) {
    if (cm_time_mono_ms() >= deadline_ms - 5)
        return sshc__fail(err, SSHC_ERR_TIMEOUT, -ETIMEDOUT, "%s with %s port %u timed out", what,
                          s->host, (unsigned)s->port);
    return sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO, "%s with %s port %u failed: %s", what,
                      s->host, (unsigned)s->port, ssh_get_error(s->ssh));
}

int sshc_session_connect(const struct sshc_connect_opts *o, struct sshc_session **ret_session,
                         struct sshc_error *err) {
    sshc__error_clear(err);
    if (!o || !o->host || !*o->host || !o->private_key || !ret_session)
        return sshc__fail(err, SSHC_ERR_INVALID, -EINVAL, "host and private key are required");
    if (o->expected_fingerprint && !sshc_fingerprint_valid(o->expected_fingerprint))
        return sshc__fail(err, SSHC_ERR_INVALID, -EINVAL,
                          "expected host key fingerprint is not of the form SHA256:<43 base64>");
    pthread_once(&init_once, libssh_init);

    int timeout = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    int64_t deadline = cm_time_mono_ms() + timeout;
    uint16_t port = o->port ? o->port : 22;
    const char *user = o->user && *o->user ? o->user : "root";
    ssh_key pkey = NULL;
    ssh_key srvkey = NULL;
    unsigned char *hash = NULL;
    int fd = -1;
    int r;

    /* The key is read before any packet is sent: a broken Secret never reaches the network. */
    if (ssh_pki_import_privkey_base64(o->private_key, NULL, NULL, NULL, &pkey) != SSH_OK)
        return sshc__fail(err, SSHC_ERR_KEY, -EINVAL,
                          "the private key could not be read (expected an unencrypted PEM or "
                          "OpenSSH private key)");

    struct sshc_session *s = calloc(1, sizeof(*s));
    if (!s) {
        r = sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
        goto out;
    }
    s->fd = -1;
    s->port = port;
    s->sudo = o->sudo;
    s->io_timeout_ms = timeout;
    s->host = strdup(o->host);
    s->user = strdup(user);
    if (!s->host || !s->user) {
        r = sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
        goto out;
    }

    r = tcp_connect(s->host, port, deadline, &fd, err);
    if (r < 0)
        goto out;

    s->ssh = ssh_new();
    if (!s->ssh) {
        r = sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
        goto out;
    }
    int verbosity = SSH_LOG_NONE;
    bool no = false;
    int iport = port;
    /* Never read ~/.ssh/config or known_hosts: the Host resource is the whole configuration. */
    if (ssh_options_set(s->ssh, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_HOST, s->host) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_PORT, &iport) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_USER, s->user) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_KEY_EXCHANGE, o->kex ? o->kex : DEFAULT_KEX) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_HOSTKEYS, HOSTKEY_ORDER) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_CIPHERS_C_S, CIPHERS) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_CIPHERS_S_C, CIPHERS) < 0 ||
        ssh_options_set(s->ssh, SSH_OPTIONS_FD, &fd) < 0) {
        r = sshc__fail(err, SSHC_ERR_INVALID, -EINVAL, "invalid SSH option: %s",
                       ssh_get_error(s->ssh));
        goto out;
    }
    /* From here sshc_session_free() closes it (ssh_connect() starts using it at once). */
    s->fd = fd;
    fd = -1;
    set_timeout(s->ssh, left_ms(deadline));

    if (ssh_connect(s->ssh) != SSH_OK) {
        r = ssh_step_fail(s, deadline, "SSH handshake", err);
        goto out;
    }

    /* Host key check: before authentication, so a wrong host never sees our signature and
     * never gets a command. */
    size_t hlen = 0;
    if (ssh_get_server_publickey(s->ssh, &srvkey) != SSH_OK ||
        ssh_get_publickey_hash(srvkey, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != SSH_OK ||
        sshc_fingerprint_format(hash, hlen, s->fingerprint) < 0) {
        r = sshc__fail(err, SSHC_ERR_PROTOCOL, -EPROTO, "cannot read the host key of %s",
                       s->host);
        goto out;
    }
    if (err)
        memcpy(err->seen_fingerprint, s->fingerprint, sizeof(s->fingerprint));
    if (o->expected_fingerprint && strcmp(o->expected_fingerprint, s->fingerprint) != 0) {
        if (err)
            snprintf(err->expected_fingerprint, sizeof(err->expected_fingerprint), "%s",
                     o->expected_fingerprint);
        r = sshc__fail(err, SSHC_ERR_HOSTKEY_MISMATCH, -EBADMSG,
                       "host key of %s port %u is %s, expected %s; not authenticating",
                       s->host, (unsigned)port, s->fingerprint, o->expected_fingerprint);
        goto out;
    }
    const char *kex = ssh_get_kex_algo(s->ssh);
    s->kex = strdup(kex ? kex : "unknown");
    if (!s->kex) {
        r = sshc__fail(err, SSHC_ERR_SYSTEM, -ENOMEM, "out of memory");
        goto out;
    }

    set_timeout(s->ssh, left_ms(deadline));
    int a = ssh_userauth_publickey(s->ssh, NULL, pkey);
    if (a == SSH_AUTH_DENIED || a == SSH_AUTH_PARTIAL) {
        r = sshc__fail(err, SSHC_ERR_AUTH, -EACCES,
                       "%s port %u denied public key authentication for user %s", s->host,
                       (unsigned)port, s->user);
        goto out;
    }
    if (a != SSH_AUTH_SUCCESS) {
        r = ssh_step_fail(s, deadline, "authentication", err);
        goto out;
    }
    /* From here on the connect budget bounds single protocol waits (channel open, SFTP). */
    set_timeout(s->ssh, timeout);
    *ret_session = s;
    s = NULL;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    ssh_clean_pubkey_hash(&hash);
    ssh_key_free(srvkey);
    ssh_key_free(pkey);
    sshc_session_free(s);
    return r;
}

const char *sshc_session_fingerprint(const struct sshc_session *s) {
    return s->fingerprint;
}
const char *sshc_session_kex(const struct sshc_session *s) {
    return s->kex;
}
const char *sshc_session_host(const struct sshc_session *s) {
    return s->host;
}
uint16_t sshc_session_port(const struct sshc_session *s) {
    return s->port;
}
bool sshc_session_sudo(const struct sshc_session *s) {
    return s->sudo;
}

int sshc_shell_quote(struct cm_buf *out, const char *s) {
    int r = cm_buf_puts(out, "'");
    for (const char *p = s; r == 0 && *p; p++)
        r = *p == '\'' ? cm_buf_puts(out, "'\\''") : cm_buf_append(out, p, 1);
    return r ? r : cm_buf_puts(out, "'");
}

bool sshc_session_usable(const struct sshc_session *s) {
    return s && !s->broken && ssh_is_connected(s->ssh);
}
