/* cm_time: clocks and Kubernetes timestamps (RFC 3339, UTC, "2026-11-22T10:00:00Z"). */
#ifndef CM_TIME_H
#define CM_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock: for timeouts and intervals. */
int64_t cm_time_mono_ms(void);
/* Milliseconds since the Unix epoch on the wall clock: for timestamps. */
int64_t cm_time_wall_ms(void);
/* Writes ms as RFC 3339 UTC into out ("...Z", with ".mmm" when frac is set). Returns out. */
char *cm_time_format_rfc3339(int64_t ms, int frac, char *out, size_t n);
/* Parses RFC 3339 ("Z" or "+hh:mm", optional fraction) into ms. Returns 0 or -EINVAL. */
int cm_time_parse_rfc3339(const char *s, int64_t *ret_ms);

#endif
