#include "shim_ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct peer {
    char addr[64];
    double tokens;
    int64_t last_ms;
};

struct shim_ratelimit {
    pthread_mutex_t lock;
    double burst, rate;
    int64_t max_delay_ms;
    unsigned n, max;
    struct peer *p;
};

struct shim_ratelimit *shim_ratelimit_new(double burst, double rate, int64_t max_delay_ms,
                                          unsigned max_peers) {
    struct shim_ratelimit *rl = calloc(1, sizeof *rl);

    if (!rl)
        return NULL;
    rl->p = calloc(max_peers ? max_peers : 1, sizeof *rl->p);
    if (!rl->p) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->lock, NULL);
    rl->burst = burst;
    rl->rate = rate > 0 ? rate : 1;
    rl->max_delay_ms = max_delay_ms;
    rl->max = max_peers ? max_peers : 1;
    return rl;
}

void shim_ratelimit_free(struct shim_ratelimit *rl) {
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->p);
    free(rl);
}

int64_t shim_ratelimit_fail(struct shim_ratelimit *rl, const char *peer, int64_t now_ms) {
    struct peer *e = NULL;
    int64_t delay = 0;

    if (!rl || !peer)
        return 0;
    pthread_mutex_lock(&rl->lock);
    /* A linear scan: the table only holds peers that failed recently and is small. */
    for (unsigned i = 0; i < rl->n; i++)
        if (strcmp(rl->p[i].addr, peer) == 0) {
            e = &rl->p[i];
            break;
        }
    if (!e) {
        if (rl->n < rl->max)
            e = &rl->p[rl->n++];
        else {
            e = &rl->p[0];
            for (unsigned i = 1; i < rl->n; i++)
                if (rl->p[i].last_ms < e->last_ms)
                    e = &rl->p[i];
        }
        memset(e, 0, sizeof *e);
        strncpy(e->addr, peer, sizeof e->addr - 1);
        e->tokens = rl->burst;
        e->last_ms = now_ms;
    }
    e->tokens += (double)(now_ms - e->last_ms) / 1000.0 * rl->rate;
    if (e->tokens > rl->burst)
        e->tokens = rl->burst;
    e->last_ms = now_ms;
    e->tokens -= 1;
    if (e->tokens < 0) {
        delay = (int64_t)(-e->tokens / rl->rate * 1000.0);
        if (delay > rl->max_delay_ms) {
            delay = rl->max_delay_ms;
            /* Do not let debt grow without bound: a peer that stops recovers in bounded time. */
            e->tokens = -(double)rl->max_delay_ms / 1000.0 * rl->rate;
        }
    }
    pthread_mutex_unlock(&rl->lock);
    return delay;
}
