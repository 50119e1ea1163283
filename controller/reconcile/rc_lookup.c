#include "rc_lookup.h"

#include "cm_json.h"
#include "kube_client.h"
#include "kube_informer.h"
#include "rc_manager.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int by_name(const void *a, const void *b) {
    const char *x = cm_json_get_str(*(json_t *const *)a, "metadata.name");
    const char *y = cm_json_get_str(*(json_t *const *)b, "metadata.name");
    return strcmp(x ? x : "", y ? y : "");
}

json_t *rc_lookup_cluster_hosts(struct rc_manager *m, const char *ns, const char *cluster) {
    struct kube_informer *inf = rc_manager_informer(m, &RC_RES_HOSTS);
    json_t *all = inf ? kube_informer_list_by_namespace(inf, ns) : NULL;
    if (!all)
        return NULL;
    size_t n = json_array_size(all), k = 0;
    json_t **v = calloc(n ? n : 1, sizeof *v);
    json_t *out = json_array();
    if (!v || !out) {
        free(v);
        json_decref(out);
        json_decref(all);
        return NULL;
    }
    size_t i;
    json_t *h;
    json_array_foreach(all, i, h) {
        const char *c = cm_json_get_str(h, "spec.cluster");
        if (c && cluster && !strcmp(c, cluster))
            v[k++] = h;
    }
    qsort(v, k, sizeof *v, by_name);
    for (i = 0; i < k; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(all);
    return out;
}

static json_t *get(struct rc_manager *m, const struct kube_resource *res, const char *ns,
                   const char *name) {
    if (!name || !*name)
        return NULL;
    struct kube_informer *inf = rc_manager_informer(m, res);
    return inf ? kube_informer_get(inf, ns, name) : NULL;
}

json_t *rc_lookup_cluster(struct rc_manager *m, const char *ns, const char *name) {
    return get(m, &RC_RES_CLUSTERS, ns, name);
}
json_t *rc_lookup_network(struct rc_manager *m, const char *ns, const char *name) {
    return get(m, &RC_RES_NETWORKS, ns, name);
}
json_t *rc_lookup_containermanager(struct rc_manager *m, const char *ns, const char *name) {
    return get(m, &RC_RES_CONTAINERMANAGERS, ns, name);
}

json_t *rc_lookup_cluster_cm(struct rc_manager *m, const json_t *cluster, bool *ret_named) {
    const char *cm = cluster ? cm_json_get_str(cluster, "spec.containerManager") : NULL;
    if (ret_named)
        *ret_named = cm && *cm;
    return rc_lookup_containermanager(m, cm_json_get_str(cluster, "metadata.namespace"), cm);
}

int rc_lookup_register(struct rc_manager *m) {
    const struct kube_resource *res[] = {&RC_RES_HOSTS, &RC_RES_CLUSTERS, &RC_RES_NETWORKS,
                                         &RC_RES_CONTAINERMANAGERS};
    for (size_t i = 0; i < sizeof res / sizeof res[0]; i++)
        if (!rc_manager_informer(m, res[i]))
            return -ENOMEM;
    return 0;
}
