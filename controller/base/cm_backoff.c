#include "cm_backoff.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

int64_t cm_backoff_delay_ms(int64_t base_ms, int64_t cap_ms, unsigned attempt) {
    if (base_ms <= 0)
        return 0;
    int64_t d = base_ms;
    for (unsigned i = 0; i < attempt; i++) {
        if (d >= cap_ms / 2) {
            d = cap_ms;
            break;
        }
        d *= 2;
    }
    return d > cap_ms ? cap_ms : d;
}

int64_t cm_backoff_jitter_ms(int64_t delay_ms, int64_t cap_ms, double jitter, double rnd) {
    if (jitter < 0)
        jitter = 0;
    if (jitter > 1)
        jitter = 1;
    double f = 1.0 - jitter + 2.0 * jitter * rnd;
    int64_t d = (int64_t)((double)delay_ms * f);
    if (d < 0)
        d = 0;
    if (d > cap_ms)
        d = cap_ms;
    return d;
}

double cm_backoff_rand(void) {
    static _Thread_local unsigned short seed[3];
    static _Thread_local int seeded;
    if (!seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        unsigned long t = (unsigned long)pthread_self();
        seed[0] = (unsigned short)ts.tv_nsec;
        seed[1] = (unsigned short)(ts.tv_nsec >> 16) ^ (unsigned short)t;
        seed[2] = (unsigned short)(t >> 16) ^ (unsigned short)ts.tv_sec;
        seeded = 1;
    }
    return erand48(seed);
}
