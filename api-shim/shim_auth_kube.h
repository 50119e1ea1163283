/* shim_auth_kube: the built-in "kubernetes" authentication plug-in (decisions 26): an
 * "Authorization: Bearer <token>" is accepted when a TokenReview against the API server says the
 * token is authenticated. Accepted tokens are remembered (as a SHA-256, never the token) for
 * cache_ttl seconds (option, default 10) so that a client's burst of requests costs one review.
 * host_ctx of create() must be the shim's struct kube_client. */
#ifndef SHIM_AUTH_KUBE_H
#define SHIM_AUTH_KUBE_H

#include "shim_auth.h"

extern const struct shim_auth_builtin shim_auth_kubernetes;

#endif
