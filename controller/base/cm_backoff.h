/* cm_backoff: exponential backoff with jitter, as pure functions so that the maths is testable.
 *
 * delay(attempt) = min(cap, base * 2^attempt), then spread by +/- jitter (a fraction in [0,1])
 * using a caller-supplied random number in [0,1). Thread-safe (no state). */
#ifndef CM_BACKOFF_H
#define CM_BACKOFF_H

#include <stdint.h>

/* The un-jittered delay for attempt (0-based), never above cap_ms. Overflow-safe. */
int64_t cm_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, unsigned attempt);
/* delay spread uniformly over [delay*(1-jitter), delay*(1+jitter)] using rnd in [0,1); the result
 * is clamped to [0, cap_ms]. */
int64_t cm_backoff_jitter_ms(int64_t delay_ms, int64_t cap_ms, double jitter, double rnd);
/* A random number in [0,1) from a thread-local generator seeded from the clock and thread. */
double cm_backoff_rand(void);

#endif
