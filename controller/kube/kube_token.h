/* kube_token: the bearer token the client sends: static, re-read from its file when the file
 * changes, or obtained from an exec credential plugin (kube_exec.h) and cached until it expires
 * or the server rejects it.
 *
 * Bound service-account tokens are rotated by the kubelet by replacing the file, so before each
 * request the client asks for the current token; the file is re-read only when its
 * (device, inode, size, mtime) changed since the last read, which costs one stat(). A static
 * token (kubeconfig `token:`) never changes. Thread-safe: any thread may call
 * kube_token_get() concurrently. */
#ifndef KUBE_TOKEN_H
#define KUBE_TOKEN_H

struct kube_error;
struct kube_exec_config;
struct kube_token;

/* Creates a token source from a static token and/or a token file (the file wins when both are
 * given, as in client-go). Both may be NULL: then kube_token_get() returns no token.
 * Copies the strings. Returns 0 or -ENOMEM; *ret is freed with kube_token_free(). */
int kube_token_new(const char *static_token, const char *token_file, struct kube_token **ret);
/* Creates a token source backed by an exec plugin (copied). cluster_json (copied, may be NULL)
 * is passed to plugins that ask for cluster info. The plugin runs at the first
 * kube_token_get(), again once the token's expirationTimestamp has passed, and after
 * kube_token_invalidate(). Returns 0 or -ENOMEM; *ret is freed with kube_token_free(). */
int kube_token_new_exec(const struct kube_exec_config *exec, const char *cluster_json,
                        struct kube_token **ret);
/* The server answered 401 to a request made with the current token: forget it so the next
 * kube_token_get() fetches a new one. Returns 1 when a retry can help (an exec source), 0 for
 * static tokens and files (their next value is whatever the file says). */
int kube_token_invalidate(struct kube_token *t);
/* Frees the source (wiping the cached token). Accepts NULL. */
void kube_token_free(struct kube_token *t);
/* Stores in *ret_token a malloc'ed copy of the current token (trailing whitespace trimmed) that
 * the caller frees, or NULL when the source has no token. Re-reads the file when it changed.
 * Errors: -ENOENT/-EACCES when the file cannot be read (the previous token is NOT reused: an
 * unreadable file is a configuration error), -E2BIG when larger than 64 KiB, -ENOMEM; for an
 * exec source, kube_exec_run()'s errors (a failed plugin is retried at the next call). */
int kube_token_get(struct kube_token *t, char **ret_token, struct kube_error *err);

#endif
