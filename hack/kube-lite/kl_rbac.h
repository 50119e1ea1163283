/* kl_rbac: the RBAC authorizer, evaluated over the Roles, ClusterRoles and bindings in the
 * store, as the real API server's RBAC mode does.
 *
 * Why kube-lite enforces it: the controller and shim ship least-privilege roles (manifests/,
 * charts/). Without enforcement a missing rule only shows on a real cluster; with it, every
 * test that runs a binary under its service account proves the role is enough.
 *
 * Rules as upstream: verbs, apiGroups, resources ("res", "res/sub", "*", and a "*" in place of
 * either part of "res/sub"),
 * resourceNames (never match a request without a name: list, watch, create), nonResourceURLs
 * (exact or a trailing "*"). Bindings: ClusterRoleBindings to ClusterRoles; RoleBindings in the
 * request's namespace to Roles there or to ClusterRoles. Subjects: User, Group, ServiceAccount.
 * Users in group system:masters may do anything; every authenticated user may create the self
 * reviews (system:basic-user). Aggregated ClusterRoles take the rules of the ClusterRoles their
 * clusterRoleSelectors match, as the aggregation controller would write them.
 * Not modelled: the rest of the default bootstrap roles (admin, edit, view, system:*). */
#ifndef KL_RBAC_H
#define KL_RBAC_H

#include <jansson.h>
#include <stddef.h>

struct kl_store;

struct kl_rbac_attrs {
    const char *user;
    const json_t *groups; /* array of strings, as the authenticator gave them */
    const char *verb;     /* get list watch create update patch delete deletecollection ... */
    int resource_request; /* 0: a non-resource URL (path and verb only) */
    const char *group;    /* "" for the core group */
    const char *resource;
    const char *sub;      /* subresource or NULL/"" */
    const char *ns;       /* NULL/"" for cluster scope */
    const char *name;     /* NULL/"" when the request names no object */
    const char *path;     /* non-resource requests */
};

/* 1 when allowed, 0 when not. Takes the store's read lock: call without holding it. When
 * allowed and why is not NULL, writes there what allowed it (`RBAC: allowed by
 * ClusterRoleBinding "b" of ClusterRole "r" to User "u"`). */
int kl_rbac_allowed(struct kl_store *s, const struct kl_rbac_attrs *a, char *why, size_t why_n);
/* The real server's message for a denied request:
 * `User "u" cannot get resource "hosts/status" in API group "commissaire.io" in the namespace
 * "n"` (or `at the cluster scope`, or `cannot get path "/x"`). Writes into buf. */
const char *kl_rbac_denial(const struct kl_rbac_attrs *a, char *buf, size_t n);

#endif
