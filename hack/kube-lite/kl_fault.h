/* kl_fault: request fault rules of the admin listener (see README.md, "Fault injection").
 * Thread-safe: rules are added/removed by the admin thread and checked by every request. */
#ifndef KL_FAULT_H
#define KL_FAULT_H

#include <jansson.h>

struct kl_fault;

struct kl_fault_hit {
    int status;      /* 0: let the request through (after the delay) */
    int delay_ms;
    int retry_after; /* seconds, for 429/503 */
};

int kl_fault_new(struct kl_fault **ret_fault);
void kl_fault_free(struct kl_fault *fault);
/* Adds a rule. prefix is required; method may be NULL (any); status 0 (delay only), 429, 500,
 * 503; percent 1..100; count 0 = unlimited. Returns the rule id (> 0), -EINVAL, -ENOMEM. */
int kl_fault_add(struct kl_fault *fault, const char *prefix, const char *method, int status,
                 int percent, int delay_ms, int retry_after, long count);
/* Removes rule id (0: all). Returns 0 or -ENOENT. */
int kl_fault_remove(struct kl_fault *fault, int id);
/* The rules as a JSON array (new reference). */
json_t *kl_fault_list(struct kl_fault *fault);
/* Checks a request against the rules (first match that fires wins). Returns 1 and fills *hit
 * when a rule fires, else 0. */
int kl_fault_check(struct kl_fault *fault, const char *method, const char *path,
                   struct kl_fault_hit *hit);

#endif
