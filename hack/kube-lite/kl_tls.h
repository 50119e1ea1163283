/* kl_tls: the serving certificate of kube-lite.
 *
 * At start kube-lite needs a CA (so kubeconfigs can verify it) and a serving certificate for the
 * addresses it listens on. Both are made here with OpenSSL (ECDSA P-256, valid one year). The CA
 * is reused when dir already holds ca.crt + ca.key (a restart with the same --cert-dir keeps
 * existing kubeconfigs valid); the serving certificate is always fresh. */
#ifndef KL_TLS_H
#define KL_TLS_H

struct ssl_ctx_st;

/* Ensures dir/ca.crt, dir/ca.key, dir/server.crt, dir/server.key exist (creating dir, mode 0700)
 * with SANs localhost, 127.0.0.1, ::1 and extra_san (an IP or DNS name; may be NULL), and
 * returns a server SSL_CTX using them in *ret_ctx (caller frees with SSL_CTX_free()).
 * Returns 0, -errno for file errors, -EIO for OpenSSL failures (details on stderr at debug). */
int kl_tls_setup(const char *dir, const char *extra_san, struct ssl_ctx_st **ret_ctx);

#endif
