/* Internals shared by the files of the sshc module (not a public header). */
#ifndef SSHC_INT_H
#define SSHC_INT_H

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "sshc.h"

struct sshc_session {
    ssh_session ssh;
    sftp_session sftp;   /* opened on first upload */
    char *host;
    char *user;
    char *kex;
    uint16_t port;
    int fd;              /* our TCP socket, handed to libssh (see sshc_session_free()) */
    int io_timeout_ms;   /* bound for single protocol waits (channel open, SFTP packets) */
    bool broken;         /* a transport error was seen */
    bool sudo;           /* commands and uploads through sudo -n */
    char fingerprint[SSHC_FINGERPRINT_MAX];
    /* Identity for the pool's idle cache (a digest; see sshc_pool.c). */
    unsigned char pool_key[32];
    bool pool_key_set;
};

/* Fills err (if not NULL) and returns r. The message is formatted; callers never pass key
 * material. */
int sshc__fail(struct sshc_error *err, enum sshc_error_kind kind, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Clears err to kind NONE. */
void sshc__error_clear(struct sshc_error *err);
/* Fills buf with n random lowercase hex characters + NUL (buf holds n+1). Returns 0 or -errno. */
int sshc__random_hex(char *buf, size_t n);

#endif
