/* kube_leader: Lease-based leader election (client-go's tryAcquireOrRenew, in C).
 *
 * The state is the last Lease record observed and WHEN (our monotonic clock) it was first seen
 * in that form. Another holder's lease counts as expired once that record has not changed for
 * lease_duration on our clock; timestamps written by other machines are never compared with
 * ours. Every write carries the resourceVersion just read, so the API server arbitrates races.
 *
 * Requests made by this thread carry a deadline (kube__client_set_deadline) so that a hung API
 * server cannot keep us "leading" past the renew deadline. */
#include "kube_leader.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_backoff.h"
#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_client_internal.h"
#include "kube_error.h"

struct kube_leader {
    struct kube_client *client;
    struct kube_leader_options opts;
    char *ns, *name, *identity;

    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    atomic_int leading;
    char *holder;         /* last observed holder (under lock) */

    /* Thread-only. */
    char *observed_record; /* serialised spec last observed */
    int64_t observed_ms;   /* when observed_record was first seen */
    int64_t lease_seconds;
};

void kube_leader_options_init(struct kube_leader_options *o) {
    memset(o, 0, sizeof(*o));
    o->lease_duration_ms = 15000;
    o->renew_deadline_ms = 10000;
    o->retry_period_ms = 2000;
    o->release_on_stop = 1;
}

/* Waits ms unless stopped. Returns 1 when stopped. */
static int wait_ms(struct kube_leader *l, int64_t ms) {
    int64_t until = cm_time_mono_ms() + ms;
    pthread_mutex_lock(&l->lock);
    while (!l->stop && cm_time_mono_ms() < until) {
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000L};
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    }
    int s = l->stop;
    pthread_mutex_unlock(&l->lock);
    return s;
}

static int stopped(struct kube_leader *l) {
    pthread_mutex_lock(&l->lock);
    int s = l->stop;
    pthread_mutex_unlock(&l->lock);
    return s;
}

/* metav1.MicroTime wants exactly six fraction digits. */
static void micro_time(char *out, size_t n) {
    int64_t ms = cm_time_wall_ms();
    char base[40];
    cm_time_format_rfc3339(ms - ms % 1000, 0, base, sizeof(base));
    size_t bl = strlen(base);
    if (bl > 0 && base[bl - 1] == 'Z')
        base[bl - 1] = '\0';
    snprintf(out, n, "%s.%03d000Z", base, (int)(ms % 1000));
}

static void note_holder(struct kube_leader *l, const char *holder) {
    pthread_mutex_lock(&l->lock);
    int changed = !l->holder || strcmp(l->holder, holder) != 0;
    if (changed) {
        free(l->holder);
        l->holder = strdup(holder);
    }
    pthread_mutex_unlock(&l->lock);
    if (changed && l->opts.new_leader_cb)
        l->opts.new_leader_cb(holder, l->opts.userdata);
}

static void observe(struct kube_leader *l, const json_t *spec) {
    char *rec = cm_json_dumps(spec);
    if (!rec)
        return;
    if (!l->observed_record || strcmp(rec, l->observed_record) != 0) {
        free(l->observed_record);
        l->observed_record = rec;
        l->observed_ms = cm_time_mono_ms();
    } else {
        free(rec);
    }
}

static json_t *new_spec(struct kube_leader *l, const json_t *old_spec, int release) {
    char now[48];
    micro_time(now, sizeof(now));
    const char *old_holder = cm_json_get_str(old_spec, "holderIdentity");
    int same = old_holder && strcmp(old_holder, l->identity) == 0;
    json_int_t transitions = json_integer_value(json_object_get(old_spec, "leaseTransitions"));
    const char *acquire = cm_json_get_str(old_spec, "acquireTime");
    json_t *spec = json_pack("{s:s,s:I,s:s,s:s,s:I}", "holderIdentity",
                             release ? "" : l->identity, "leaseDurationSeconds",
                             (json_int_t)(release ? 1 : l->lease_seconds), "acquireTime",
                             same && acquire ? acquire : now, "renewTime", now,
                             "leaseTransitions",
                             (json_int_t)(old_spec && !same && !release ? transitions + 1
                                                                        : transitions));
    return spec;
}

/* One client-go tryAcquireOrRenew. Returns 1 when we hold the lease afterwards, 0 when someone
 * else does, negative on errors. */
static int try_acquire_or_renew(struct kube_leader *l) {
    struct kube_error err;
    kube_error_init(&err);
    json_t *lease = NULL;
    int r = kube_get(l->client, &KUBE_RES_LEASES, l->ns, l->name, NULL, &lease, &err);
    if (r == -ENOENT) {
        json_t *spec = new_spec(l, NULL, 0);
        json_t *body = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "apiVersion",
                                 "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
                                 l->name, "namespace", l->ns, "spec", spec);
        json_t *created = NULL;
        r = body ? kube_create(l->client, &KUBE_RES_LEASES, l->ns, body, NULL, &created, &err)
                 : -ENOMEM;
        json_decref(body);
        if (r == 0) {
            observe(l, json_object_get(created, "spec"));
            json_decref(created);
            note_holder(l, l->identity);
            r = 1;
        } else if (r == -EEXIST) {
            r = 0; /* someone else created it first */
        }
        kube_error_done(&err);
        return r;
    }
    if (r < 0) {
        kube_error_done(&err);
        return r;
    }
    json_t *spec = json_object_get(lease, "spec");
    observe(l, spec);
    const char *holder = cm_json_get_str(spec, "holderIdentity");
    note_holder(l, holder ? holder : "");
    int mine = holder && strcmp(holder, l->identity) == 0;
    if (holder && *holder && !mine &&
        l->observed_ms + l->opts.lease_duration_ms > cm_time_mono_ms()) {
        json_decref(lease);
        kube_error_done(&err);
        return 0; /* held by someone else and not expired */
    }
    json_t *ns = new_spec(l, spec, 0);
    if (!ns || json_object_set_new(lease, "spec", ns) < 0) {
        json_decref(lease);
        return -ENOMEM;
    }
    json_t *updated = NULL;
    r = kube_update(l->client, &KUBE_RES_LEASES, l->ns, l->name, NULL, lease, NULL, &updated,
                    &err);
    json_decref(lease);
    kube_error_done(&err);
    if (r == -ESTALE)
        return 0; /* another contender wrote first */
    if (r < 0)
        return r;
    observe(l, json_object_get(updated, "spec"));
    json_decref(updated);
    note_holder(l, l->identity);
    return 1;
}

/* Gives the lease up so the next contender need not wait for it to expire. */
static void release(struct kube_leader *l) {
    kube__client_set_deadline(cm_time_mono_ms() + l->opts.renew_deadline_ms);
    json_t *lease = NULL;
    if (kube_get(l->client, &KUBE_RES_LEASES, l->ns, l->name, NULL, &lease, NULL) == 0) {
        json_t *spec = json_object_get(lease, "spec");
        const char *holder = cm_json_get_str(spec, "holderIdentity");
        if (holder && strcmp(holder, l->identity) == 0) {
            json_t *ns = new_spec(l, spec, 1);
            if (ns && json_object_set_new(lease, "spec", ns) == 0)
                kube_update(l->client, &KUBE_RES_LEASES, l->ns, l->name, NULL, lease, NULL,
                            NULL, NULL);
        }
        json_decref(lease);
    }
    kube__client_set_deadline(0);
}

static int64_t jittered(int64_t ms) {
    return ms + (int64_t)((double)ms * 0.2 * cm_backoff_rand());
}

static void *leader_thread(void *arg) {
    struct kube_leader *l = arg;
    while (!stopped(l)) {
        /* Acquire. */
        kube__client_set_deadline(cm_time_mono_ms() + l->opts.renew_deadline_ms);
        int r = try_acquire_or_renew(l);
        kube__client_set_deadline(0);
        if (r != 1) {
            if (wait_ms(l, jittered(l->opts.retry_period_ms)))
                break;
            continue;
        }
        atomic_store(&l->leading, 1);
        if (l->opts.started_leading_cb)
            l->opts.started_leading_cb(l->opts.userdata);
        /* Renew until the deadline is missed or we are stopped. */
        int64_t last_renew = cm_time_mono_ms();
        int lost = 0;
        while (!lost) {
            if (wait_ms(l, l->opts.retry_period_ms))
                break;
            for (;;) {
                int64_t deadline = last_renew + l->opts.renew_deadline_ms;
                if (cm_time_mono_ms() >= deadline) {
                    lost = 1;
                    break;
                }
                kube__client_set_deadline(deadline);
                r = try_acquire_or_renew(l);
                kube__client_set_deadline(0);
                if (r == 1 && cm_time_mono_ms() < deadline) {
                    last_renew = cm_time_mono_ms();
                    break;
                }
                if (r == 0) {
                    lost = 1; /* someone else holds it now */
                    break;
                }
                if (wait_ms(l, l->opts.retry_period_ms / 4 + 1))
                    break;
            }
            if (stopped(l))
                break;
        }
        atomic_store(&l->leading, 0);
        if (!lost && l->opts.release_on_stop)
            release(l);
        if (l->opts.stopped_leading_cb)
            l->opts.stopped_leading_cb(l->opts.userdata);
    }
    return NULL;
}

int kube_leader_start(struct kube_client *c, const struct kube_leader_options *opts,
                      struct kube_leader **ret_leader, struct kube_error *err) {
    if (!c || !opts || !opts->ns || !*opts->ns || !opts->name || !*opts->name ||
        !opts->identity || !*opts->identity) {
        kube_error_set(err, 0, NULL, "leader election: namespace, name and identity are required");
        return -EINVAL;
    }
    if (opts->retry_period_ms <= 0 || opts->renew_deadline_ms <= 0 ||
        opts->lease_duration_ms <= opts->renew_deadline_ms ||
        (double)opts->renew_deadline_ms <= 1.2 * (double)opts->retry_period_ms) {
        kube_error_set(err, 0, NULL,
                       "leader election: need lease duration > renew deadline > 1.2 * retry "
                       "period > 0");
        return -EINVAL;
    }
    struct kube_leader *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->client = c;
    l->opts = *opts;
    l->lease_seconds = (opts->lease_duration_ms + 999) / 1000;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (!(l->ns = strdup(opts->ns)) || !(l->name = strdup(opts->name)) ||
        !(l->identity = strdup(opts->identity))) {
        kube_leader_free(l);
        return -ENOMEM;
    }
    l->opts.ns = l->ns;
    l->opts.name = l->name;
    l->opts.identity = l->identity;
    if (pthread_create(&l->thread, NULL, leader_thread, l) != 0) {
        kube_leader_free(l);
        return -EAGAIN;
    }
    l->thread_started = 1;
    *ret_leader = l;
    return 0;
}

void kube_leader_stop(struct kube_leader *l) {
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stop = 1;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if (l->thread_started) {
        pthread_join(l->thread, NULL);
        l->thread_started = 0;
    }
}

void kube_leader_free(struct kube_leader *l) {
    if (!l)
        return;
    kube_leader_stop(l);
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l->holder);
    free(l->observed_record);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}

int kube_leader_is_leader(struct kube_leader *l) {
    return atomic_load(&l->leading);
}

char *kube_leader_holder(struct kube_leader *l) {
    pthread_mutex_lock(&l->lock);
    char *h = l->holder ? strdup(l->holder) : NULL;
    pthread_mutex_unlock(&l->lock);
    return h;
}
