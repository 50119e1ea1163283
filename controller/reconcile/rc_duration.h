/* rc_duration: Go/Kubernetes-style duration strings ("90s", "5m", "1h30m", "250ms").
 *
 * Used for command-line flags and for resource fields such as Operation.spec.drainTimeout, so the
 * same text means the same thing everywhere. Pure functions, thread-safe. */
#ifndef RC_DURATION_H
#define RC_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses a sequence of <digits>[.<digits>]<unit> with units h, m, s, ms (e.g. "1h30m", "1.5s");
 * a bare non-negative integer means seconds. Negative values, unknown units, empty strings and
 * values above ~292 years are rejected. Returns 0 and sets *ret_ms, or -EINVAL / -ERANGE. */
int rc_duration_parse(const char *s, int64_t *ret_ms);

/* Formats ms compactly ("1h30m", "45s", "250ms", "0s") into out (n bytes; 24 is always enough).
 * Returns out. */
char *rc_duration_format(int64_t ms, char *out, size_t n);

#endif
