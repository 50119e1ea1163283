/* kl_patch: the three PATCH content types of the Kubernetes API server.
 *
 *   application/merge-patch+json            -> kl_patch_merge      (RFC 7386)
 *   application/json-patch+json             -> kl_patch_json       (RFC 6902)
 *   application/strategic-merge-patch+json  -> kl_patch_strategic  (built-in kinds only)
 *
 * All functions take *target (an owned reference) and, on success, replace it by the patched
 * document (which may be a different json_t, e.g. when the whole document is replaced); the old
 * reference is released. On failure *target is left exactly as it was (unmodified content) and
 * *ret_err (malloc'ed, caller frees; ret_err may be NULL) holds the real server's kind of
 * message. Returns 0 or:
 *   -EBADMSG         the patch document is malformed (the real server answers 400 BadRequest);
 *   -EINVAL          a well-formed JSON patch cannot be applied: missing path, failed "test"
 *                    (the real server answers 422 Unprocessable Entity);
 *   -EPROTONOSUPPORT strategic merge patch for a kind that has none (415 Unsupported Media
 *                    Type, e.g. custom resources);
 *   -ENOMEM.
 * Pure functions: thread-safe for distinct targets. */
#ifndef KL_PATCH_H
#define KL_PATCH_H

#include <jansson.h>

/* RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything else
 * (arrays included) replaces. patch is BORROWED. */
int kl_patch_merge(json_t **target, const json_t *patch, char **ret_err);

/* RFC 6902 JSON patch: ops is an array of {"op","path","value"|"from"} with op add, remove,
 * replace, move, copy, test; JSON pointers (RFC 6901) with ~0/~1 escapes and "-" for appending
 * to an array. Atomic: when any operation fails (including a failed test) nothing is applied.
 * ops is BORROWED. */
int kl_patch_json(json_t **target, const json_t *ops, char **ret_err);

/* Strategic merge patch for the built-in kinds kube-lite serves. group is "" for the core group
 * (e.g. "apps", "policy", "rbac.authorization.k8s.io"); kind is e.g. "Deployment". Lists are
 * merged by the patchMergeKey/patchStrategy table of the real types (see kl_patch.c); lists
 * without a merge key are replaced. Supports the directives $patch (replace, merge, delete),
 * $setElementOrder/<list>, $retainKeys and $deleteFromPrimitiveList/<list>, so that the patches
 * kubectl's client-side apply sends work. An unknown kind (e.g. a custom resource) is refused
 * with -EPROTONOSUPPORT, as the real server answers 415 for strategic merge patches of custom
 * resources. patch is BORROWED. */
int kl_patch_strategic(json_t **target, const json_t *patch, const char *group, const char *kind,
                       char **ret_err);
/* 1 when kl_patch_strategic knows the kind (the server answers 415 for others), else 0. */
int kl_patch_strategic_supported(const char *group, const char *kind);

#endif
