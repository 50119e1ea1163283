/* kube_error: what went wrong talking to the API server.
 *
 * Every fallible kube_* function returns a negative errno and, when the caller passed a
 * struct kube_error, fills it with the details: the API server's metav1.Status (HTTP code,
 * reason, message, causes) or, when no HTTP response arrived, a transport error text.
 * Texts never contain secrets (tokens, keys, client certificates): the client builds them from
 * the server's Status and from curl's error text only, and never echoes request headers.
 *
 * Errno mapping (kube_error_errno), so that callers who only look at the return value can still
 * branch on the common cases:
 *   404 NotFound -> -ENOENT        409 AlreadyExists -> -EEXIST    409 Conflict -> -ESTALE
 *   410 Gone / Expired -> -ERANGE  400 BadRequest / 422 Invalid -> -EINVAL
 *   401 -> -EACCES   403 -> -EPERM   405 -> -EOPNOTSUPP   408/504 -> -ETIMEDOUT
 *   429 -> -EBUSY    other 5xx -> -EIO   other 4xx -> -EPROTO   transport error -> see .c
 * Not thread-safe: one owner. */
#ifndef KUBE_ERROR_H
#define KUBE_ERROR_H

#include <stddef.h>
#include <stdint.h>

struct kube_status_cause {
    char *reason;  /* e.g. "FieldValueInvalid", or NULL */
    char *message; /* human text, or NULL */
    char *field;   /* e.g. "spec.address", or NULL */
};

struct kube_error {
    int http_code;  /* HTTP status (0 when no response arrived: transport error) */
    char *reason;   /* metav1.Status reason ("NotFound", "Conflict", ...) or NULL */
    char *message;  /* Status message or transport error text; NULL when no error */
    struct kube_status_cause *causes; /* details.causes, n_causes entries, or NULL */
    size_t n_causes;
    int64_t retry_after_ms; /* from Retry-After or details.retryAfterSeconds; -1 when absent */
};

/* Initialises an empty error (no error). Never fails. */
void kube_error_init(struct kube_error *e);
/* Frees everything inside and leaves an empty error. Accepts NULL and an empty error. */
void kube_error_done(struct kube_error *e);
/* Replaces e's content with http_code (0 for a transport or local error), reason (copied, may
 * be NULL) and a printf-formatted message. e may be NULL (then this is a no-op). Never fails
 * (on -ENOMEM the message stays NULL). */
void kube_error_set(struct kube_error *e, int http_code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Replaces e's content from an HTTP response: http_code and the body (NOT NUL-terminated, n
 * bytes). When the body is a metav1.Status its reason/message/causes are taken; otherwise the
 * reason is derived from the code ("NotFound", ...) and the message is the first 200 bytes of
 * the body with control characters removed. e may be NULL. Returns kube_error_errno() of the
 * result (always negative for http_code >= 400; 0 for codes below 400). */
int kube_error_from_response(struct kube_error *e, int http_code, const char *body, size_t n);
/* Moves src's content into dst (dst's old content is freed) and leaves src empty. dst may be
 * NULL, in which case src is just emptied. */
void kube_error_move(struct kube_error *dst, struct kube_error *src);
/* The negative errno for an HTTP code and Status reason (reason may be NULL), see the table
 * above. Returns 0 for codes 1..399 and -EIO for code 0. */
int kube_error_errno(int http_code, const char *reason);
/* The default Status reason for an HTTP code ("NotFound", "Conflict", "Gone", ...) or
 * "Unknown". Returns a static string. */
const char *kube_error_reason_for_code(int http_code);

/* Classifiers. They accept NULL (returning 0). */
int kube_error_is_not_found(const struct kube_error *e);      /* 404 */
int kube_error_is_conflict(const struct kube_error *e);       /* 409 reason Conflict */
int kube_error_is_already_exists(const struct kube_error *e); /* 409 reason AlreadyExists */
int kube_error_is_gone(const struct kube_error *e);           /* 410 (Gone or Expired) */
int kube_error_is_invalid(const struct kube_error *e);        /* 422 Invalid */
int kube_error_is_transport(const struct kube_error *e);      /* no HTTP response */

#endif
