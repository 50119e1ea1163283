/* shim_ratelimit: slows down peers that keep failing authentication.
 *
 * Each peer address has a token bucket (burst tokens, refilled at rate per second). A failure
 * takes a token; once the bucket is empty the failure runs into debt and the caller is told how
 * long to hold that 403 back. The server delays the response with a timer, so a guessing peer
 * waits longer and longer while other clients are served normally. Successes change nothing (a
 * valid credential must not wash out a guessing run). The table is bounded: the stalest peer is
 * evicted. Thread-safe. */
#ifndef SHIM_RATELIMIT_H
#define SHIM_RATELIMIT_H

#include <stdint.h>

struct shim_ratelimit;

/* burst > 0 failures allowed without delay, refilled at rate per second; max_delay_ms caps the
 * delay; max_peers bounds memory. NULL on -ENOMEM. */
struct shim_ratelimit *shim_ratelimit_new(double burst, double rate, int64_t max_delay_ms,
                                          unsigned max_peers);
void shim_ratelimit_free(struct shim_ratelimit *rl);
/* Records a failure of peer at now_ms; returns how many ms to delay the answer (0: none). */
int64_t shim_ratelimit_fail(struct shim_ratelimit *rl, const char *peer, int64_t now_ms);

#endif
