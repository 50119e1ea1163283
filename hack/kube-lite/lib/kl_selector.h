/* kl_selector: label selectors and field selectors, as in List/Watch query parameters and in
 * metav1.LabelSelector fields (PodDisruptionBudget, Deployment, Operation.spec.hostSelector).
 *
 * Parsed selectors are immutable: share them read-only between threads freely. */
#ifndef KL_SELECTOR_H
#define KL_SELECTOR_H

#include <jansson.h>

struct kl_labelsel;
struct kl_fieldsel;

/* Parses the labelSelector query syntax: comma-separated requirements "k=v", "k==v", "k!=v",
 * "k in (a,b)", "k notin (a,b)", "k" (exists), "!k" (does not exist). Keys and values are
 * validated like the real server (qualified names, label values). An empty or NULL string is
 * the selector that matches everything. Returns 0 and *ret_sel; -EINVAL with the real server's
 * kind of message in *ret_err (malloc'ed, caller frees; may be NULL), e.g.
 * "unable to parse requirement: ..."; -ENOMEM. */
int kl_labelsel_parse(const char *s, struct kl_labelsel **ret_sel, char **ret_err);
/* Converts a metav1.LabelSelector ({"matchLabels":{},"matchExpressions":[{key,operator,values}]},
 * BORROWED) into a selector, like metav1.LabelSelectorAsSelector: {} (no requirements) matches
 * everything (what a policy/v1 PodDisruptionBudget with an empty selector selects), while a
 * missing selector (NULL or JSON null) matches nothing. Operators In, NotIn, Exists,
 * DoesNotExist; anything else is '"X" is not a valid label selector operator'. Same returns as
 * kl_labelsel_parse. */
int kl_labelsel_from_object(const json_t *selector, struct kl_labelsel **ret_sel, char **ret_err);
/* 1 when labels (an object of strings, or NULL/missing for no labels) satisfy every requirement,
 * else 0. */
int kl_labelsel_match(const struct kl_labelsel *sel, const json_t *labels_or_null);
/* 1 when the selector has no requirements (matches everything); 0 for the "nothing" selector. */
int kl_labelsel_empty(const struct kl_labelsel *sel);
/* Releases a selector. Accepts NULL. */
void kl_labelsel_free(struct kl_labelsel *sel);

/* Parses the fieldSelector query syntax: comma-separated "path=v", "path==v", "path!=v" where
 * path is a dotted field path ("metadata.name", "spec.nodeName", "type"). Backslash escapes
 * "\," "\=" "\\" are honoured in values like the real server. The caller decides which paths are
 * allowed per kind (kl_fieldsel_fields lists them). Same returns as kl_labelsel_parse. */
int kl_fieldsel_parse(const char *s, struct kl_fieldsel **ret_sel, char **ret_err);
/* 1 when obj matches every requirement, else 0. A path that does not exist, or is not a
 * string/number/boolean, compares as "" (as the real field sets, which hold "" for unset). */
int kl_fieldsel_match(const struct kl_fieldsel *sel, const json_t *obj);
/* Number of requirements, and the path of requirement i (BORROWED, valid while sel lives), so
 * that the server can refuse fields it does not support ("field label not supported: x"). */
size_t kl_fieldsel_count(const struct kl_fieldsel *sel);
const char *kl_fieldsel_field(const struct kl_fieldsel *sel, size_t i);
/* The (unescaped) value of requirement i and whether it is "!=" (1) or "="/"==" (0), so that
 * the server can use an index (e.g. metadata.name=x) instead of a scan. BORROWED. */
const char *kl_fieldsel_value(const struct kl_fieldsel *sel, size_t i);
int kl_fieldsel_negated(const struct kl_fieldsel *sel, size_t i);
/* Releases a selector. Accepts NULL. */
void kl_fieldsel_free(struct kl_fieldsel *sel);

#endif
