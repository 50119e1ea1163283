/* kube_status: conflict-retrying status writes and metav1.Condition maintenance. */
#include "kube_status.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "cm_backoff.h"
#include "cm_json.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_error.h"

void kube_status_options_init(struct kube_status_options *o) {
    o->max_attempts = 5;
    o->main_resource = 0;
    o->conflict_backoff_ms = 10;
}

static void pause_ms(int64_t ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int kube_status_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
                       const char *name, const struct kube_status_options *opts,
                       kube_status_mutate_cb mutate_cb, void *userdata, json_t **ret_obj,
                       struct kube_error *err) {
    struct kube_status_options o;
    if (opts)
        o = *opts;
    else
        kube_status_options_init(&o);
    if (o.max_attempts < 1)
        o.max_attempts = 1;
    if (!mutate_cb) {
        kube_error_set(err, 0, NULL, "status update: no mutate callback");
        return -EINVAL;
    }
    int r = -ESTALE;
    for (int attempt = 0; attempt < o.max_attempts; attempt++) {
        if (attempt > 0)
            pause_ms(cm_backoff_jitter_ms(cm_backoff_delay_ms(o.conflict_backoff_ms, 1000,
                                                              (unsigned)attempt - 1),
                                          1000, 0.5, cm_backoff_rand()));
        json_t *cur = NULL;
        r = kube_get(c, res, ns, name, NULL, &cur, err);
        if (r < 0)
            return r;
        r = mutate_cb(cur, userdata);
        if (r < 0) {
            json_decref(cur);
            return r;
        }
        if (r == 1) {
            if (ret_obj)
                *ret_obj = cur;
            else
                json_decref(cur);
            return 0;
        }
        json_t *out = NULL;
        r = kube_update(c, res, ns, name, o.main_resource ? NULL : "status", cur, NULL,
                        ret_obj ? &out : NULL, err);
        json_decref(cur);
        if (r == 0) {
            if (ret_obj)
                *ret_obj = out;
            return 0;
        }
        if (r != -ESTALE)
            return r;
    }
    return r;
}

int kube_status_condition_set(json_t *obj, const struct kube_condition *cond, int64_t now_ms) {
    if (!obj || !cond || !cond->type || !*cond->type || !cond->status || !*cond->status)
        return -EINVAL;
    json_t *status = json_object_get(obj, "status");
    if (!status) {
        status = json_object();
        if (!status || json_object_set_new(obj, "status", status) < 0)
            return -ENOMEM;
    }
    if (!json_is_object(status))
        return -EINVAL;
    json_t *conds = json_object_get(status, "conditions");
    if (!conds || json_is_null(conds)) {
        conds = json_array();
        if (!conds || json_object_set_new(status, "conditions", conds) < 0)
            return -ENOMEM;
    }
    if (!json_is_array(conds))
        return -EINVAL;
    const char *reason = cond->reason && *cond->reason ? cond->reason : "Unknown";
    const char *message = cond->message ? cond->message : "";
    json_t *entry = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(conds, i, e) {
        const char *t = json_string_value(json_object_get(e, "type"));
        if (t && strcmp(t, cond->type) == 0) {
            entry = e;
            break;
        }
    }
    char ts[40];
    cm_time_format_rfc3339(now_ms, 0, ts, sizeof(ts));
    if (!entry) {
        entry = json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", cond->type, "status", cond->status,
                          "reason", reason, "message", message, "lastTransitionTime", ts);
        if (!entry)
            return -ENOMEM;
        if (cond->observed_generation >= 0)
            json_object_set_new(entry, "observedGeneration",
                                json_integer(cond->observed_generation));
        if (json_array_append_new(conds, entry) < 0)
            return -ENOMEM;
        return 1;
    }
    int changed = 0;
    const char *old_status = json_string_value(json_object_get(entry, "status"));
    if (!old_status || strcmp(old_status, cond->status) != 0) {
        json_object_set_new(entry, "status", json_string(cond->status));
        json_object_set_new(entry, "lastTransitionTime", json_string(ts));
        changed = 1;
    } else if (!json_is_string(json_object_get(entry, "lastTransitionTime"))) {
        json_object_set_new(entry, "lastTransitionTime", json_string(ts));
        changed = 1;
    }
    const char *old_reason = json_string_value(json_object_get(entry, "reason"));
    if (!old_reason || strcmp(old_reason, reason) != 0) {
        json_object_set_new(entry, "reason", json_string(reason));
        changed = 1;
    }
    const char *old_msg = json_string_value(json_object_get(entry, "message"));
    if (!old_msg || strcmp(old_msg, message) != 0) {
        json_object_set_new(entry, "message", json_string(message));
        changed = 1;
    }
    if (cond->observed_generation >= 0) {
        json_t *og = json_object_get(entry, "observedGeneration");
        if (!json_is_integer(og) || json_integer_value(og) != cond->observed_generation) {
            json_object_set_new(entry, "observedGeneration",
                                json_integer(cond->observed_generation));
            changed = 1;
        }
    }
    return changed;
}

json_t *kube_status_condition_get(const json_t *obj, const char *type) {
    json_t *conds = cm_json_get(obj, "status.conditions");
    size_t i;
    json_t *e;
    if (!type)
        return NULL;
    json_array_foreach(conds, i, e) {
        const char *t = json_string_value(json_object_get(e, "type"));
        if (t && strcmp(t, type) == 0)
            return e;
    }
    return NULL;
}

int kube_status_condition_is_true(const json_t *obj, const char *type) {
    const char *s = json_string_value(json_object_get(kube_status_condition_get(obj, type),
                                                      "status"));
    return s && strcmp(s, "True") == 0;
}
