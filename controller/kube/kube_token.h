/* kube_token: the bearer token the client sends, re-read from its file when the file changes.
 *
 * Bound service-account tokens are rotated by the kubelet by replacing the file, so before each
 * request the client asks for the current token; the file is re-read only when its
 * (device, inode, size, mtime) changed since the last read, which costs one stat(). A static
 * token (kubeconfig `token:`) never changes. Thread-safe: any thread may call
 * kube_token_get() concurrently. */
#ifndef KUBE_TOKEN_H
#define KUBE_TOKEN_H

struct kube_error;
struct kube_token;

/* Creates a token source from a static token and/or a token file (the file wins when both are
 * given, as in client-go). Both may be NULL: then kube_token_get() returns no token.
 * Copies the strings. Returns 0 or -ENOMEM; *ret is freed with kube_token_free(). */
int kube_token_new(const char *static_token, const char *token_file, struct kube_token **ret);
/* Frees the source (wiping the cached token). Accepts NULL. */
void kube_token_free(struct kube_token *t);
/* Stores in *ret_token a malloc'ed copy of the current token (trailing whitespace trimmed) that
 * the caller frees, or NULL when the source has no token. Re-reads the file when it changed.
 * Errors: -ENOENT/-EACCES when the file cannot be read (the previous token is NOT reused: an
 * unreadable file is a configuration error), -E2BIG when larger than 64 KiB, -ENOMEM. */
int kube_token_get(struct kube_token *t, char **ret_token, struct kube_error *err);

#endif
