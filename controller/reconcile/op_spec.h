/* op_spec: an Operation's spec, parsed and validated (pure).
 *
 * The CRD schema rejects most bad specs (unknown type, deploy without version, maxUnavailable 0
 * or above 100 %), but not everything: an API server that ignores CEL rules, a version with
 * characters no shell may see, a label selector whose In has no values, an unparsable duration.
 * op_spec_parse() catches those too, so that the reconciler can fail the Operation with a
 * precise condition reason instead of acting on a spec it does not understand. Thread-safe. */
#ifndef OP_SPEC_H
#define OP_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum op_type {
    OP_TYPE_RESTART, /* reboot every host (the profile's restart command) */
    OP_TYPE_UPGRADE, /* the package manager / rpm-ostree upgrade, then reboot */
    OP_TYPE_DEPLOY,  /* rpm-ostree deploy VERSION, then reboot (rpm-ostree hosts only) */
    OP_TYPE__MAX,
};
/* "restart", "upgrade", "deploy" (static strings). */
const char *op_type_name(enum op_type t);

enum op_failure_policy {
    OP_POLICY_ABORT,    /* the first failed host stops new starts; the operation fails */
    OP_POLICY_CONTINUE, /* go on until more than max_failures hosts have failed */
};

/* Defaults of the CRD (also applied here, for objects written without defaulting). */
#define OP_DEFAULT_DRAIN_TIMEOUT_MS (5 * 60 * 1000)
#define OP_DEFAULT_HOST_TIMEOUT_MS (15 * 60 * 1000)

struct op_spec {
    enum op_type type;
    const char *cluster;          /* borrowed from the object */
    const char *version;          /* borrowed; NULL when absent or "" */
    bool max_unavailable_percent; /* max_unavailable is a percentage (1..100) */
    int64_t max_unavailable;      /* >= 1 */
    const json_t *host_selector;  /* borrowed metav1.LabelSelector; NULL: every host */
    int drain;                    /* 1, 0, or -1 when unset (true when the cluster is managed) */
    int64_t drain_timeout_ms;     /* > 0 */
    int64_t host_timeout_ms;      /* > 0 */
    enum op_failure_policy failure_policy;
    int64_t max_failures; /* >= 0; used with OP_POLICY_CONTINUE */
    bool paused;
    bool cancel;
};

struct op_spec_error {
    const char *reason; /* static CamelCase condition reason, e.g. "InvalidMaxUnavailable" */
    char message[300];  /* human text naming the field */
};

/* Parses op (an Operation object, borrowed; ret's strings point into it, so op must outlive
 * ret). Returns 0, or -EINVAL with err (optional) saying which field is wrong and why. Reasons:
 * MissingCluster, InvalidType, MissingVersion, InvalidVersion, InvalidMaxUnavailable,
 * InvalidDuration, InvalidFailurePolicy, InvalidMaxFailures, InvalidHostSelector. */
int op_spec_parse(const json_t *op, struct op_spec *ret, struct op_spec_error *err);

/* The window: how many hosts may be away from service at once, for `total` selected hosts. An
 * integer is used as is; a percentage rounds DOWN (as Kubernetes does for maxUnavailable) but
 * is at least 1, so that an operation always makes progress ("10%" of 5 hosts is 1). Never
 * more than total, and at least 1 even when total is 0. */
size_t op_spec_window(const struct op_spec *s, size_t total);

/* Checks a metav1.LabelSelector (NULL is valid: everything). Returns 0 or -EINVAL with msg. */
int op_selector_validate(const json_t *selector, char *msg, size_t n);
/* True when labels (an object of strings, may be NULL) satisfy a VALID selector (NULL: all). */
bool op_selector_matches(const json_t *selector, const json_t *labels);

#endif
