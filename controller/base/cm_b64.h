/* cm_b64: base64 (RFC 4648) for kubeconfig data, Secret values and HTTP Basic credentials.
 *
 * Decoding is lenient where the producers are (line breaks from `base64`, omitted padding) and
 * strict where a mistake would hide corruption: a character outside the alphabet, data after
 * padding, a lone trailing character or non-zero padding bits is an error, never silently
 * dropped. */
#ifndef CM_B64_H
#define CM_B64_H

#include <stddef.h>

enum {
    CM_B64_URLSAFE = 1 << 0, /* also accept '-' and '_' (the URL-safe alphabet) */
    CM_B64_SPACES = 1 << 1,  /* also skip spaces and tabs (line breaks are always skipped) */
};

/* Decodes the NUL-terminated text s. On success *ret is a malloc'ed buffer of *ret_len bytes
 * plus a terminating NUL (so text payloads can be used as strings), freed by the caller.
 * Errors: -EINVAL (not base64), -ENOMEM. */
int cm_b64_decode(const char *s, unsigned flags, char **ret, size_t *ret_len);
/* Encodes n bytes of data with the standard alphabet and padding. *ret is a malloc'ed
 * NUL-terminated string the caller frees. Errors: -ENOMEM. */
int cm_b64_encode(const void *data, size_t n, char **ret);

#endif
