/* kl_pdb: the PodDisruptionBudget arithmetic of the real disruption controller, shared by the
 * eviction subresource (kl_write.c) and the PDB status kept by the background thread (kl_gc.c).
 * Pure functions over the store; callers hold the store lock (read or write). */
#ifndef KL_PDB_H
#define KL_PDB_H

#include <jansson.h>

struct kl_rtype;
struct kl_obj;

struct kl_pdb_budget {
    long expected; /* matching pods that are not Succeeded/Failed */
    long healthy;  /* of those, Ready and not being deleted */
    long desired;  /* healthy pods the budget wants (minAvailable, or expected - maxUnavailable) */
    long allowed;  /* disruptionsAllowed: healthy - desired, at least 0 */
};

/* 1 when pod (a stored object) is selected by pdb (BORROWED document): a null selector selects
 * nothing, {} everything, like the real server. */
int kl_pdb_selects(const json_t *pdb, const struct kl_obj *pod);
/* Computes pdb's budget against the pods of its namespace (pods: the pods type). Never fails;
 * a PDB without a usable selector gets an all-zero budget. */
void kl_pdb_compute(const json_t *pdb, struct kl_rtype *pods, const char *ns,
                    struct kl_pdb_budget *ret);
/* 1 when the pod document has condition Ready=True. */
int kl_pod_ready(const json_t *pod);

#endif
