#include "op_spec.h"

#include "cm_json.h"
#include "hostos.h"
#include "rc_duration.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[OP_TYPE__MAX] = {"restart", "upgrade", "deploy"};

const char *op_type_name(enum op_type t) {
    return t >= 0 && t < OP_TYPE__MAX ? type_names[t] : "";
}

static int bad(struct op_spec_error *err, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(struct op_spec_error *err, const char *reason, const char *fmt, ...) {
    if (err) {
        err->reason = reason;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* "N%" with N in 1..100, nothing else (no sign, no spaces, no leading zeros beyond "0"). */
static int parse_percent(const char *s, int64_t *ret) {
    size_t n = strlen(s);
    if (n < 2 || n > 4 || s[n - 1] != '%' || s[0] == '0')
        return -EINVAL;
    int64_t v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 100)
        return -EINVAL;
    *ret = v;
    return 0;
}

static int parse_duration(const json_t *spec, const char *field, int64_t def, int64_t *ret,
                          struct op_spec_error *err) {
    json_t *v = json_object_get(spec, field);
    if (!v || json_is_null(v)) {
        *ret = def;
        return 0;
    }
    int64_t ms;
    if (!json_is_string(v) || rc_duration_parse(json_string_value(v), &ms) < 0 || ms <= 0)
        return bad(err, "InvalidDuration",
                   "spec.%s: expected a positive duration such as \"90s\", \"5m\" or \"1h30m\"",
                   field);
    *ret = ms;
    return 0;
}

int op_spec_parse(const json_t *op, struct op_spec *ret, struct op_spec_error *err) {
    const json_t *spec = cm_json_get(op, "spec");
    struct op_spec s = {.max_unavailable = 1, .drain = -1, .failure_policy = OP_POLICY_ABORT};
    if (!json_is_object(spec))
        return bad(err, "MissingCluster", "spec is missing");
    s.cluster = cm_json_get_str(spec, "cluster");
    if (!s.cluster || !*s.cluster)
        return bad(err, "MissingCluster", "spec.cluster is required");

    const char *type = cm_json_get_str(spec, "type");
    int t = -1;
    for (int i = 0; type && i < OP_TYPE__MAX; i++)
        if (!strcmp(type, type_names[i]))
            t = i;
    if (t < 0)
        return bad(err, "InvalidType",
                   "spec.type: Unsupported value \"%.100s\": supported values: \"restart\", "
                   "\"upgrade\", \"deploy\"",
                   type ? type : "");
    s.type = (enum op_type)t;

    json_t *ver = json_object_get(spec, "version");
    if (ver && !json_is_null(ver) && !json_is_string(ver))
        return bad(err, "InvalidVersion", "spec.version must be a string");
    s.version = json_string_value(ver);
    if (s.version && !*s.version)
        s.version = NULL;
    if (s.type == OP_TYPE_DEPLOY && !s.version)
        return bad(err, "MissingVersion", "spec.version is required when spec.type is deploy");
    /* Deploy puts the version on a command line (quoted, after this check): only the
     * characters of real OS versions, never an option. Upgrade only compares it. */
    if (s.version && s.type != OP_TYPE_RESTART && !hostos_version_valid(s.version))
        return bad(err, "InvalidVersion",
                   "spec.version \"%.100s\": expected 1-128 characters of [A-Za-z0-9._+~:=-] "
                   "starting with a letter or digit",
                   s.version);

    json_t *mu = json_object_get(spec, "maxUnavailable");
    if (mu && !json_is_null(mu)) {
        if (json_is_integer(mu)) {
            s.max_unavailable = json_integer_value(mu);
            if (s.max_unavailable < 1)
                return bad(err, "InvalidMaxUnavailable",
                           "spec.maxUnavailable: %lld: must be at least 1",
                           (long long)s.max_unavailable);
        } else if (json_is_string(mu)) {
            if (parse_percent(json_string_value(mu), &s.max_unavailable) < 0)
                return bad(err, "InvalidMaxUnavailable",
                           "spec.maxUnavailable: \"%.40s\": expected an integer of at least 1 or "
                           "a percentage from \"1%%\" to \"100%%\"",
                           json_string_value(mu));
            s.max_unavailable_percent = true;
        } else {
            return bad(err, "InvalidMaxUnavailable",
                       "spec.maxUnavailable must be an integer or a percentage string");
        }
    }

    json_t *sel = json_object_get(spec, "hostSelector");
    if (sel && !json_is_null(sel)) {
        char msg[200];
        if (op_selector_validate(sel, msg, sizeof msg) < 0)
            return bad(err, "InvalidHostSelector", "spec.hostSelector: %s", msg);
        s.host_selector = sel;
    }

    json_t *d = json_object_get(spec, "drain");
    if (json_is_boolean(d))
        s.drain = json_is_true(d) ? 1 : 0;
    if (parse_duration(spec, "drainTimeout", OP_DEFAULT_DRAIN_TIMEOUT_MS, &s.drain_timeout_ms,
                       err) < 0 ||
        parse_duration(spec, "hostTimeout", OP_DEFAULT_HOST_TIMEOUT_MS, &s.host_timeout_ms,
                       err) < 0)
        return -EINVAL;

    const char *fp = cm_json_get_str(spec, "failurePolicy");
    if (fp && !strcmp(fp, "Continue"))
        s.failure_policy = OP_POLICY_CONTINUE;
    else if (fp && strcmp(fp, "Abort"))
        return bad(err, "InvalidFailurePolicy",
                   "spec.failurePolicy: Unsupported value \"%.60s\": supported values: "
                   "\"Abort\", \"Continue\"",
                   fp);
    json_t *mf = json_object_get(spec, "maxFailures");
    if (mf && !json_is_null(mf)) {
        if (!json_is_integer(mf) || json_integer_value(mf) < 0)
            return bad(err, "InvalidMaxFailures", "spec.maxFailures must be an integer >= 0");
        s.max_failures = json_integer_value(mf);
    }
    s.paused = cm_json_get_bool(spec, "paused", 0) == 1;
    s.cancel = cm_json_get_bool(spec, "cancel", 0) == 1;
    *ret = s;
    return 0;
}

size_t op_spec_window(const struct op_spec *s, size_t total) {
    int64_t w = s->max_unavailable;
    if (s->max_unavailable_percent)
        w = (int64_t)((uint64_t)total * (uint64_t)s->max_unavailable / 100);
    if (w > (int64_t)total)
        w = (int64_t)total;
    if (w < 1)
        w = 1;
    return (size_t)w;
}

/* ---- label selectors ---- */

int op_selector_validate(const json_t *sel, char *msg, size_t n) {
    if (!sel || json_is_null(sel))
        return 0;
    if (!json_is_object(sel)) {
        snprintf(msg, n, "must be an object");
        return -EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sel, k, v) {
        if (strcmp(k, "matchLabels") && strcmp(k, "matchExpressions")) {
            snprintf(msg, n, "unknown field \"%.60s\"", k);
            return -EINVAL;
        }
    }
    json_t *ml = json_object_get(sel, "matchLabels");
    if (ml && !json_is_null(ml)) {
        if (!json_is_object(ml)) {
            snprintf(msg, n, "matchLabels must be an object");
            return -EINVAL;
        }
        json_object_foreach(ml, k, v) {
            if (!json_is_string(v) || !*k) {
                snprintf(msg, n, "matchLabels[%.60s] must be a string", k);
                return -EINVAL;
            }
        }
    }
    json_t *me = json_object_get(sel, "matchExpressions");
    if (me && !json_is_null(me)) {
        if (!json_is_array(me)) {
            snprintf(msg, n, "matchExpressions must be a list");
            return -EINVAL;
        }
        size_t i;
        json_t *e;
        json_array_foreach(me, i, e) {
            const char *key = cm_json_get_str(e, "key");
            const char *opr = cm_json_get_str(e, "operator");
            json_t *vals = json_object_get(e, "values");
            size_t nv = json_is_array(vals) ? json_array_size(vals) : 0;
            if (!key || !*key) {
                snprintf(msg, n, "matchExpressions[%zu].key is required", i);
                return -EINVAL;
            }
            if (vals && !json_is_null(vals) && !json_is_array(vals)) {
                snprintf(msg, n, "matchExpressions[%zu].values must be a list", i);
                return -EINVAL;
            }
            for (size_t j = 0; j < nv; j++)
                if (!json_is_string(json_array_get(vals, j))) {
                    snprintf(msg, n, "matchExpressions[%zu].values[%zu] must be a string", i, j);
                    return -EINVAL;
                }
            if (opr && (!strcmp(opr, "In") || !strcmp(opr, "NotIn"))) {
                if (nv == 0) {
                    snprintf(msg, n,
                             "matchExpressions[%zu].values: Required value: must be specified "
                             "when `operator` is 'In' or 'NotIn'",
                             i);
                    return -EINVAL;
                }
            } else if (opr && (!strcmp(opr, "Exists") || !strcmp(opr, "DoesNotExist"))) {
                if (nv != 0) {
                    snprintf(msg, n,
                             "matchExpressions[%zu].values: Forbidden: may not be specified "
                             "when `operator` is 'Exists' or 'DoesNotExist'",
                             i);
                    return -EINVAL;
                }
            } else {
                snprintf(msg, n,
                         "matchExpressions[%zu].operator: Unsupported value \"%.30s\": supported "
                         "values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"",
                         i, opr ? opr : "");
                return -EINVAL;
            }
        }
    }
    return 0;
}

static bool in_values(const json_t *vals, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(vals, i, v) {
        if (!strcmp(json_string_value(v), s))
            return true;
    }
    return false;
}

bool op_selector_matches(const json_t *sel, const json_t *labels) {
    if (!sel || json_is_null(sel))
        return true;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(sel, "matchLabels"), k, v) {
        const char *have = json_string_value(json_object_get(labels, k));
        if (!have || strcmp(have, json_string_value(v)))
            return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, e) {
        const char *opr = cm_json_get_str(e, "operator");
        const char *have = json_string_value(json_object_get(labels, cm_json_get_str(e, "key")));
        json_t *vals = json_object_get(e, "values");
        bool ok;
        if (!strcmp(opr, "In"))
            ok = have && in_values(vals, have);
        else if (!strcmp(opr, "NotIn"))
            ok = !have || !in_values(vals, have); /* as Kubernetes: a missing label is NotIn */
        else if (!strcmp(opr, "Exists"))
            ok = have != NULL;
        else
            ok = have == NULL;
        if (!ok)
            return false;
    }
    return true;
}
