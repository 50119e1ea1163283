#include "kl_pdb.h"

#include "cm_json.h"
#include "kl_selector.h"
#include "kl_store.h"

#include <stdlib.h>
#include <string.h>

int kl_pod_ready(const json_t *pod) {
    size_t i;
    json_t *c;
    json_array_foreach(cm_json_get(pod, "status.conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *st = json_string_value(json_object_get(c, "status"));
        if (t && st && strcmp(t, "Ready") == 0)
            return strcmp(st, "True") == 0;
    }
    return 0;
}

/* An int-or-percent resolved against total, percentages rounded up (as the disruption
 * controller does for both fields). -1 when absent or malformed. */
static long int_or_percent(const json_t *v, long total) {
    if (json_is_integer(v))
        return (long)json_integer_value(v);
    const char *s = json_string_value(v);
    if (!s)
        return -1;
    char *end;
    long p = strtol(s, &end, 10);
    if (*end == '%' && end[1] == 0)
        return (p * total + 99) / 100;
    return *end == 0 && end != s ? p : -1;
}

static struct kl_labelsel *selector_of(const json_t *pdb) {
    struct kl_labelsel *sel = NULL;
    const json_t *so = cm_json_get(pdb, "spec.selector");
    if (!so || json_is_null(so) || kl_labelsel_from_object(so, &sel, NULL) < 0)
        return NULL;
    return sel;
}

int kl_pdb_selects(const json_t *pdb, const struct kl_obj *pod) {
    struct kl_labelsel *sel = selector_of(pdb);
    int m = sel && kl_labelsel_match(sel, pod->labels);
    kl_labelsel_free(sel);
    return m;
}

void kl_pdb_compute(const json_t *pdb, struct kl_rtype *pods, const char *ns,
                    struct kl_pdb_budget *ret) {
    memset(ret, 0, sizeof(*ret));
    struct kl_labelsel *sel = selector_of(pdb);
    if (!sel)
        return;
    size_t i = kl_store_lower_bound(pods, ns, NULL);
    for (; i < pods->n && strcmp(pods->objs[i]->ns, ns) == 0; i++) {
        struct kl_obj *p = pods->objs[i];
        if (!kl_labelsel_match(sel, p->labels))
            continue;
        json_t *pd = kl_obj_parse(p);
        const char *ph = cm_json_get_str(pd, "status.phase");
        if (!(ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0))) {
            ret->expected++;
            if (!p->deleting && kl_pod_ready(pd))
                ret->healthy++;
        }
        json_decref(pd);
    }
    kl_labelsel_free(sel);
    json_t *minav = cm_json_get(pdb, "spec.minAvailable");
    json_t *maxun = cm_json_get(pdb, "spec.maxUnavailable");
    if (minav)
        ret->desired = int_or_percent(minav, ret->expected);
    else if (maxun)
        ret->desired = ret->expected - int_or_percent(maxun, ret->expected);
    else
        ret->desired = ret->expected;
    if (ret->desired < 0)
        ret->desired = 0;
    ret->allowed = ret->healthy > ret->desired ? ret->healthy - ret->desired : 0;
}
