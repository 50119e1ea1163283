#include "cluster_state.h"

#include "cm_json.h"
#include "host_state.h"

#include <string.h>

static const char *const health_names[CLUSTER__MAX] = {"ok", "degraded", "failed"};

const char *cluster_health_name(enum cluster_health h) {
    return (unsigned)h < CLUSTER__MAX ? health_names[h] : "failed";
}

enum cluster_health cluster_state_compute(json_t *const *hosts, size_t n, bool managed,
                                          struct cluster_counts *ret_counts) {
    struct cluster_counts c = {.total = n};
    for (size_t i = 0; i < n; i++) {
        if (host_is_available(hosts[i], managed))
            c.available++;
        else
            c.unavailable++;
    }
    if (ret_counts)
        *ret_counts = c;
    if (c.unavailable == 0)
        return CLUSTER_OK;
    return c.available ? CLUSTER_DEGRADED : CLUSTER_FAILED;
}

bool cluster_cm_is_managed(const json_t *cm) {
    const char *type = cm ? cm_json_get_str(cm, "spec.type") : NULL;
    return type && (!strcmp(type, "kubernetes") || !strcmp(type, "openshift"));
}
