#include "node_ops.h"

#include "cm_json.h"
#include "host_state.h"
#include "kube_client.h"
#include "kube_error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int node_register(struct kube_client *c, const char *node, const char *cluster,
                  bool *ret_created, struct kube_error *err) {
    json_t *obj = NULL;
    int r = kube_get(c, &KUBE_RES_NODES, NULL, node, NULL, &obj, err);
    if (r == -ENOENT) {
        kube_error_done(err);
        json_t *body = json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind", "Node",
                                 "metadata", "name", node, "labels", HOST_LABEL_CLUSTER,
                                 cluster ? cluster : "");
        if (!body)
            return -ENOMEM;
        r = kube_create(c, &KUBE_RES_NODES, NULL, body, NULL, NULL, err);
        json_decref(body);
        if (r == -EEXIST) /* the kubelet won the race: fall through to labelling it */
            return node_register(c, node, cluster, ret_created, err);
        if (r == 0 && ret_created)
            *ret_created = true;
        return r;
    }
    if (r < 0)
        return r;
    const char *have = cm_json_get_str(obj, "metadata.labels." HOST_LABEL_CLUSTER);
    if (have && cluster && !strcmp(have, cluster)) {
        json_decref(obj);
        if (ret_created)
            *ret_created = false;
        return 0;
    }
    json_decref(obj);
    /* Merge patch: a label key with a dot cannot go through cm_json paths, so build it here. */
    json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", HOST_LABEL_CLUSTER,
                              cluster ? cluster : "");
    if (!patch)
        return -ENOMEM;
    r = kube_patch(c, &KUBE_RES_NODES, NULL, node, NULL, KUBE_PATCH_MERGE, patch, NULL, NULL, err);
    json_decref(patch);
    if (r == 0 && ret_created)
        *ret_created = false;
    return r;
}

int node_ready(struct kube_client *c, const char *node, bool *ret_ready, char **ret_reason,
               struct kube_error *err) {
    json_t *obj = NULL;
    int r = kube_get(c, &KUBE_RES_NODES, NULL, node, NULL, &obj, err);
    if (r < 0)
        return r;
    bool ready = false;
    const char *reason = "NoReadyCondition";
    size_t i;
    json_t *cond;
    json_array_foreach(cm_json_get(obj, "status.conditions"), i, cond) {
        const char *type = cm_json_get_str(cond, "type");
        if (!type || strcmp(type, "Ready"))
            continue;
        const char *st = cm_json_get_str(cond, "status");
        ready = st && !strcmp(st, "True");
        const char *rs = cm_json_get_str(cond, "reason");
        reason = rs ? rs : (ready ? "KubeletReady" : "NodeNotReady");
    }
    if (ret_reason && !(*ret_reason = strdup(reason)))
        r = -ENOMEM;
    json_decref(obj);
    if (r == 0)
        *ret_ready = ready;
    return r;
}

int node_set_unschedulable(struct kube_client *c, const char *node, bool unschedulable,
                           struct kube_error *err) {
    json_t *patch = json_pack("{s:{s:o}}", "spec", "unschedulable",
                              unschedulable ? json_true() : json_null());
    if (!patch)
        return -ENOMEM;
    int r = kube_patch(c, &KUBE_RES_NODES, NULL, node, NULL, KUBE_PATCH_MERGE, patch, NULL, NULL,
                       err);
    json_decref(patch);
    return r;
}

/* kubectl drain leaves DaemonSet pods (their controller would recreate them at once) and
 * mirror pods (static pods owned by the kubelet's files) alone. */
static bool pod_is_skipped(const json_t *pod) {
    if (cm_json_get(pod, "metadata.annotations") &&
        json_object_get(cm_json_get(pod, "metadata.annotations"), "kubernetes.io/config.mirror"))
        return true;
    size_t i;
    json_t *ref;
    json_array_foreach(cm_json_get(pod, "metadata.ownerReferences"), i, ref) {
        const char *kind = cm_json_get_str(ref, "kind");
        if (kind && !strcmp(kind, "DaemonSet") && cm_json_get_bool(ref, "controller", 0))
            return true;
    }
    return false;
}

static bool pod_is_finished(const json_t *pod) {
    const char *phase = cm_json_get_str(pod, "status.phase");
    return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

int node_drain(struct kube_client *c, const char *node, struct node_drain_status *ret_status,
               struct kube_error *err) {
    struct node_drain_status st = {0};
    char *selector = NULL;
    if (asprintf(&selector, "spec.nodeName=%s", node) < 0)
        return -ENOMEM;
    struct kube_list_options lo = {.field_selector = selector};
    json_t *list = NULL;
    int r = kube_list_all(c, &KUBE_RES_PODS, NULL, &lo, &list, err);
    free(selector);
    if (r < 0)
        return r;
    size_t i;
    json_t *pod;
    json_array_foreach(json_object_get(list, "items"), i, pod) {
        const char *spec_node = cm_json_get_str(pod, "spec.nodeName");
        if (!spec_node || strcmp(spec_node, node))
            continue; /* a server that ignored the field selector */
        if (pod_is_skipped(pod)) {
            st.skipped++;
            continue;
        }
        if (pod_is_finished(pod))
            continue;
        st.remaining++;
        if (cm_json_get_str(pod, "metadata.deletionTimestamp")) {
            st.terminating++;
            continue;
        }
        const char *ns = cm_json_get_str(pod, "metadata.namespace");
        const char *name = cm_json_get_str(pod, "metadata.name");
        json_t *ev = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "policy/v1", "kind",
                               "Eviction", "metadata", "name", name, "namespace", ns);
        if (!ev) {
            r = -ENOMEM;
            break;
        }
        struct kube_error e;
        kube_error_init(&e);
        int er = kube_create_subresource(c, &KUBE_RES_PODS, ns, name, "eviction", ev, NULL, &e);
        json_decref(ev);
        if (er == 0) {
            st.evicted++;
        } else if (er == -ENOENT) {
            st.remaining--; /* gone meanwhile */
        } else if (er == -EBUSY) {
            st.blocked++; /* 429: the PodDisruptionBudget does not allow it now */
        } else {
            kube_error_move(err, &e);
            r = er;
            kube_error_done(&e);
            break;
        }
        kube_error_done(&e);
    }
    json_decref(list);
    if (r < 0)
        return r;
    if (ret_status)
        *ret_status = st;
    /* Evicted pods still exist until deleted; report them as remaining so the caller checks
     * again rather than deleting the node under them. */
    return st.remaining ? 1 : 0;
}

int node_delete(struct kube_client *c, const char *node, struct kube_error *err) {
    int r = kube_delete(c, &KUBE_RES_NODES, NULL, node, NULL, NULL, err);
    if (r == -ENOENT) {
        kube_error_done(err);
        return 0;
    }
    return r;
}
