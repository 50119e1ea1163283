/* kl_auth: static bearer tokens, in the real API server's --token-auth-file CSV format:
 * `token,user,uid,"group1,group2"` (groups optional; lines starting with # are skipped).
 * Immutable after loading: lookups from any thread. */
#ifndef KL_AUTH_H
#define KL_AUTH_H

#include <jansson.h>

struct kl_auth;

struct kl_auth_user {
    char *token;
    char *name;
    char *uid;
    json_t *groups; /* array of strings, without system:authenticated */
};

/* Loads path. Returns 0 and *ret_auth; -errno; -EINVAL with the line number in *ret_line for a
 * malformed line or an empty file. */
int kl_auth_load(const char *path, struct kl_auth **ret_auth, int *ret_line);
/* A set with one generated admin token (user "admin", group "system:masters"). */
int kl_auth_generate(struct kl_auth **ret_auth);
/* The user of token (constant-time comparisons), BORROWED, or NULL. */
const struct kl_auth_user *kl_auth_lookup(const struct kl_auth *auth, const char *token);
/* The first user (its token goes into the kubeconfig), BORROWED. */
const struct kl_auth_user *kl_auth_first(const struct kl_auth *auth);
/* Accepts NULL. */
void kl_auth_free(struct kl_auth *auth);

#endif
