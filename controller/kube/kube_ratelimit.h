/* kube_ratelimit: the maths of client-side throttling and retry delays, as pure functions.
 *
 * The token bucket is client-go's flowcontrol.NewTokenBucketRateLimiter: `burst` tokens, refilled
 * at `qps` per second; each request takes one token and, when none is left, waits until one will
 * be there. Reservations are made in advance (the returned wait), so concurrent callers queue
 * fairly. The bucket is NOT locked: the client holds its own mutex around it; tests drive it with
 * explicit times. */
#ifndef KUBE_RATELIMIT_H
#define KUBE_RATELIMIT_H

#include <stdint.h>

struct kube_bucket {
    double qps;      /* tokens per second; <= 0 disables limiting */
    double burst;    /* capacity (>= 1) */
    double tokens;   /* tokens available at `last_ms` (may be negative: reserved ahead) */
    int64_t last_ms; /* monotonic time tokens was computed for */
};

/* A full bucket at now_ms. burst < 1 is treated as 1. */
void kube_bucket_init(struct kube_bucket *b, double qps, int burst, int64_t now_ms);
/* Takes one token at now_ms and returns how many ms the caller must wait before using it
 * (0 when a token was available). Never negative. */
int64_t kube_bucket_reserve(struct kube_bucket *b, int64_t now_ms);

/* Parses an HTTP Retry-After value: delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", relative to now_wall_ms; a past date gives 0).
 * Stores the delay in ms, capped at cap_ms. Returns 0 or -EINVAL. */
int kube_retry_after_parse(const char *value, int64_t now_wall_ms, int64_t cap_ms,
                           int64_t *ret_ms);
/* The delay before retry number `attempt` (0-based) of a failed request: exponential from
 * base_ms with +/-20% jitter using rnd in [0,1), capped at cap_ms; a server-given retry_after_ms
 * (>= 0) replaces the computed value when it is larger (capped at cap_ms as well).
 * Thread-safe (pure). */
int64_t kube_retry_delay_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms,
                            int64_t retry_after_ms, double rnd);

#endif
