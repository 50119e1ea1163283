#include "kl_fault.h"

#include "cm_backoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rule {
    int id;
    char *prefix;
    char *method;
    int status, percent, delay_ms, retry_after;
    long count;   /* 0: unlimited */
    long matched; /* requests it fired for */
};

struct kl_fault {
    pthread_mutex_t mu;
    struct rule *rules;
    size_t n;
    int next_id;
    int any; /* fast path: no rules at all */
};

int kl_fault_new(struct kl_fault **ret) {
    struct kl_fault *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    pthread_mutex_init(&f->mu, NULL);
    f->next_id = 1;
    *ret = f;
    return 0;
}

static void rule_done(struct rule *r) {
    free(r->prefix);
    free(r->method);
}

void kl_fault_free(struct kl_fault *f) {
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        rule_done(&f->rules[i]);
    free(f->rules);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

int kl_fault_add(struct kl_fault *f, const char *prefix, const char *method, int status,
                 int percent, int delay_ms, int retry_after, long count) {
    if (!prefix || !*prefix || (status != 0 && status != 429 && status != 500 && status != 503) ||
        percent < 1 || percent > 100 || delay_ms < 0 || delay_ms > 600000 || retry_after < 0 ||
        count < 0)
        return -EINVAL;
    pthread_mutex_lock(&f->mu);
    struct rule *nr = realloc(f->rules, (f->n + 1) * sizeof(*nr));
    if (!nr) {
        pthread_mutex_unlock(&f->mu);
        return -ENOMEM;
    }
    f->rules = nr;
    struct rule *r = &f->rules[f->n];
    memset(r, 0, sizeof(*r));
    r->prefix = strdup(prefix);
    r->method = method && *method ? strdup(method) : NULL;
    r->status = status;
    r->percent = percent;
    r->delay_ms = delay_ms;
    r->retry_after = retry_after;
    r->count = count;
    r->id = f->next_id++;
    f->n++;
    __atomic_store_n(&f->any, 1, __ATOMIC_RELEASE);
    int id = r->id;
    pthread_mutex_unlock(&f->mu);
    return id;
}

int kl_fault_remove(struct kl_fault *f, int id) {
    int r = -ENOENT;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n;) {
        if (id == 0 || f->rules[i].id == id) {
            rule_done(&f->rules[i]);
            memmove(&f->rules[i], &f->rules[i + 1], (f->n - i - 1) * sizeof(*f->rules));
            f->n--;
            r = 0;
        } else {
            i++;
        }
    }
    if (id == 0)
        r = 0;
    __atomic_store_n(&f->any, f->n > 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&f->mu);
    return r;
}

json_t *kl_fault_list(struct kl_fault *f) {
    json_t *a = json_array();
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) {
        struct rule *r = &f->rules[i];
        json_array_append_new(
            a, json_pack("{s:i,s:s,s:s?,s:i,s:i,s:i,s:i,s:I,s:I}", "id", r->id, "pathPrefix",
                         r->prefix, "method", r->method, "status", r->status, "percent",
                         r->percent, "delayMs", r->delay_ms, "retryAfter", r->retry_after,
                         "count", (json_int_t)r->count, "matched", (json_int_t)r->matched));
    }
    pthread_mutex_unlock(&f->mu);
    return a;
}

int kl_fault_check(struct kl_fault *f, const char *method, const char *path,
                   struct kl_fault_hit *hit) {
    if (!__atomic_load_n(&f->any, __ATOMIC_ACQUIRE))
        return 0;
    int fired = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n && !fired; i++) {
        struct rule *r = &f->rules[i];
        if (strncmp(path, r->prefix, strlen(r->prefix)) != 0)
            continue;
        if (r->method && strcasecmp(r->method, method) != 0)
            continue;
        if (r->count && r->matched >= r->count)
            continue;
        if (r->percent < 100 && cm_backoff_rand() * 100.0 >= r->percent)
            continue;
        r->matched++;
        hit->status = r->status;
        hit->delay_ms = r->delay_ms;
        hit->retry_after = r->retry_after;
        fired = 1;
    }
    pthread_mutex_unlock(&f->mu);
    return fired;
}
