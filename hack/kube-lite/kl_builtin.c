/* kl_builtin: the built-in resource types kube-lite serves, as a table, plus the printer columns
 * and field selectors that the real server's Go code provides for them. */
#include "kl_server.h"

#include "cm_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct builtin {
    const char *group, *version, *resource, *singular, *kind;
    const char *short_names; /* comma-separated */
    const char *categories;
    int namespaced;
    int status_sub;
    enum kl_kind_flag flag;
    int has_generation;
    int return_deleted;
    int create_only;
    const char *columns; /* JSON array of CRD-style printer columns, or NULL */
    const char *const *fields;
};

#define AGE "{\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"}"

static const char *const pod_fields[] = {
    "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
    "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName", NULL};
static const char *const node_fields[] = {"spec.unschedulable", NULL};
static const char *const ns_fields[] = {"status.phase", NULL};
static const char *const secret_fields[] = {"type", NULL};
static const char *const svc_fields[] = {"spec.clusterIP", "spec.type", NULL};
static const char *const rs_fields[] = {"status.replicas", NULL};
static const char *const event_fields[] = {
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type", NULL};

static const struct builtin builtins[] = {
    /* namespaces first and CRDs second: snapshots list types in this order, so that replay
     * creates namespaces and custom resource types before the objects that need them. */
    {"", "v1", "namespaces", "namespace", "Namespace", "ns", NULL, 0, 1, KL_KIND_NAMESPACE, 0, 0, 0,
     "[{\"name\":\"Status\",\"type\":\"string\",\"jsonPath\":\".status.phase\"}," AGE "]", ns_fields},
    {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
     "CustomResourceDefinition", "crd,crds", "api-extensions", 0, 1, KL_KIND_CRD, 1, 0, 0,
     "[{\"name\":\"Created At\",\"type\":\"string\",\"format\":\"date-time\",\"jsonPath\":\".metadata.creationTimestamp\"}]",
     NULL},
    {"", "v1", "configmaps", "configmap", "ConfigMap", "cm", NULL, 1, 0, KL_KIND_PLAIN, 0, 0, 0,
     NULL, NULL},
    {"", "v1", "secrets", "secret", "Secret", NULL, NULL, 1, 0, KL_KIND_PLAIN, 0, 0, 0,
     "[{\"name\":\"Type\",\"type\":\"string\",\"jsonPath\":\".type\"}," AGE "]", secret_fields},
    {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", "sa", NULL, 1, 0,
     KL_KIND_PLAIN, 0, 0, 0, "[" AGE "]", NULL},
    {"", "v1", "services", "service", "Service", "svc", "all", 1, 1, KL_KIND_PLAIN, 0, 0, 0,
     "[{\"name\":\"Type\",\"type\":\"string\",\"jsonPath\":\".spec.type\"},"
     "{\"name\":\"Cluster-IP\",\"type\":\"string\",\"jsonPath\":\".spec.clusterIP\"}," AGE "]",
     svc_fields},
    {"", "v1", "endpoints", "endpoints", "Endpoints", "ep", NULL, 1, 0, KL_KIND_PLAIN, 0, 0, 0,
     "[" AGE "]", NULL},
    {"", "v1", "nodes", "node", "Node", "no", NULL, 0, 1, KL_KIND_NODE, 0, 0, 0,
     /* Status and Roles are computed by kl_builtin_table_fixup(), as the real node printer */
     "[{\"name\":\"Status\",\"type\":\"string\",\"jsonPath\":\".metadata.name\"},"
     "{\"name\":\"Roles\",\"type\":\"string\",\"jsonPath\":\".metadata.name\"}," AGE ","
     "{\"name\":\"Version\",\"type\":\"string\",\"jsonPath\":\".status.nodeInfo.kubeletVersion\"},"
     "{\"name\":\"Internal-IP\",\"type\":\"string\",\"priority\":1,\"jsonPath\":\".status.addresses[0].address\"},"
     "{\"name\":\"OS-Image\",\"type\":\"string\",\"priority\":1,\"jsonPath\":\".status.nodeInfo.osImage\"},"
     "{\"name\":\"Kernel-Version\",\"type\":\"string\",\"priority\":1,\"jsonPath\":\".status.nodeInfo.kernelVersion\"}]",
     node_fields},
    {"", "v1", "pods", "pod", "Pod", "po", "all", 1, 1, KL_KIND_POD, 0, 1, 0,
     /* Ready, Status and Restarts are computed by kl_builtin_table_fixup() */
     "[{\"name\":\"Ready\",\"type\":\"string\",\"jsonPath\":\".metadata.name\"},"
     "{\"name\":\"Status\",\"type\":\"string\",\"jsonPath\":\".status.phase\"},"
     "{\"name\":\"Restarts\",\"type\":\"integer\",\"jsonPath\":\".metadata.name\"}," AGE ","
     "{\"name\":\"IP\",\"type\":\"string\",\"priority\":1,\"jsonPath\":\".status.podIP\"},"
     "{\"name\":\"Node\",\"type\":\"string\",\"priority\":1,\"jsonPath\":\".spec.nodeName\"}]",
     pod_fields},
    {"", "v1", "events", "event", "Event", "ev", NULL, 1, 0, KL_KIND_PLAIN, 0, 0, 0,
     "[{\"name\":\"Last Seen\",\"type\":\"date\",\"jsonPath\":\".lastTimestamp\"},"
     "{\"name\":\"Type\",\"type\":\"string\",\"jsonPath\":\".type\"},"
     "{\"name\":\"Reason\",\"type\":\"string\",\"jsonPath\":\".reason\"},"
     "{\"name\":\"Object\",\"type\":\"string\",\"jsonPath\":\".involvedObject.name\"},"
     "{\"name\":\"Message\",\"type\":\"string\",\"jsonPath\":\".message\"}]",
     event_fields},
    {"policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", "pdb",
     NULL, 1, 1, KL_KIND_PDB, 1, 0, 0,
     "[{\"name\":\"Min Available\",\"type\":\"string\",\"jsonPath\":\".spec.minAvailable\"},"
     "{\"name\":\"Max Unavailable\",\"type\":\"string\",\"jsonPath\":\".spec.maxUnavailable\"},"
     "{\"name\":\"Allowed Disruptions\",\"type\":\"integer\",\"jsonPath\":\".status.disruptionsAllowed\"},"
     AGE "]",
     NULL},
    {"coordination.k8s.io", "v1", "leases", "lease", "Lease", NULL, NULL, 1, 0, KL_KIND_PLAIN, 0,
     0, 0,
     "[{\"name\":\"Holder\",\"type\":\"string\",\"jsonPath\":\".spec.holderIdentity\"}," AGE "]",
     NULL},
    {"apps", "v1", "deployments", "deployment", "Deployment", "deploy", "all", 1, 1, KL_KIND_PLAIN,
     1, 0, 0,
     "[{\"name\":\"Ready\",\"type\":\"integer\",\"jsonPath\":\".status.readyReplicas\"},"
     "{\"name\":\"Up-to-date\",\"type\":\"integer\",\"jsonPath\":\".status.updatedReplicas\"},"
     "{\"name\":\"Available\",\"type\":\"integer\",\"jsonPath\":\".status.availableReplicas\"}," AGE "]",
     NULL},
    {"apps", "v1", "replicasets", "replicaset", "ReplicaSet", "rs", "all", 1, 1, KL_KIND_PLAIN, 1,
     0, 0, NULL, rs_fields},
    {"apps", "v1", "daemonsets", "daemonset", "DaemonSet", "ds", "all", 1, 1, KL_KIND_PLAIN, 1, 0,
     0, NULL, NULL},
    {"apps", "v1", "statefulsets", "statefulset", "StatefulSet", "sts", "all", 1, 1,
     KL_KIND_PLAIN, 1, 0, 0, NULL, NULL},
    {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", NULL, NULL, 1, 0, KL_KIND_PLAIN,
     0, 0, 0, "[{\"name\":\"Created At\",\"type\":\"string\",\"format\":\"date-time\",\"jsonPath\":\".metadata.creationTimestamp\"}]", NULL},
    {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", NULL, NULL,
     1, 0, KL_KIND_PLAIN, 0, 0, 0,
     "[{\"name\":\"Role\",\"type\":\"string\",\"jsonPath\":\".roleRef.name\"}," AGE "]", NULL},
    {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", NULL, NULL,
     0, 0, KL_KIND_PLAIN, 0, 0, 0,
     "[{\"name\":\"Created At\",\"type\":\"string\",\"format\":\"date-time\",\"jsonPath\":\".metadata.creationTimestamp\"}]", NULL},
    {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
     "ClusterRoleBinding", NULL, NULL, 0, 0, KL_KIND_PLAIN, 0, 0, 0,
     "[{\"name\":\"Role\",\"type\":\"string\",\"jsonPath\":\".roleRef.name\"}," AGE "]", NULL},
    {"authentication.k8s.io", "v1", "tokenreviews", "tokenreview", "TokenReview", NULL, NULL, 0, 0,
     KL_KIND_TOKENREVIEW, 0, 0, 1, NULL, NULL},
    {"authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview",
     "SelfSubjectReview", NULL, NULL, 0, 0, KL_KIND_SSR, 0, 0, 1, NULL, NULL},
    {"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
     "SelfSubjectAccessReview", NULL, NULL, 0, 0, KL_KIND_SSAR, 0, 0, 1, NULL, NULL},
    {"authorization.k8s.io", "v1", "subjectaccessreviews", "subjectaccessreview",
     "SubjectAccessReview", NULL, NULL, 0, 0, KL_KIND_SSAR, 0, 0, 1, NULL, NULL},
};

static json_t *split_list(const char *s) {
    json_t *a = json_array();
    if (!a || !s)
        return a;
    while (*s) {
        const char *c = strchr(s, ',');
        size_t n = c ? (size_t)(c - s) : strlen(s);
        json_array_append_new(a, json_stringn(s, n));
        s += n;
        if (*s == ',')
            s++;
    }
    return a;
}

static json_t *columns_cache[sizeof(builtins) / sizeof(builtins[0])];
static pthread_once_t columns_once = PTHREAD_ONCE_INIT;

static void columns_init(void) {
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (builtins[i].columns)
            columns_cache[i] = json_loads(builtins[i].columns, 0, NULL);
}

static const struct builtin *builtin_of(const struct kl_rtype *rt) {
    if (rt->flag == KL_KIND_CUSTOM)
        return NULL;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].resource, rt->resource) == 0 &&
            strcmp(builtins[i].group, rt->group) == 0)
            return &builtins[i];
    return NULL;
}

const json_t *kl_builtin_columns(const struct kl_rtype *rt) {
    const struct builtin *b = builtin_of(rt);
    if (!b)
        return NULL;
    pthread_once(&columns_once, columns_init);
    return columns_cache[b - builtins];
}

const char *const *kl_builtin_fields(const struct kl_rtype *rt) {
    static const char *const none[] = {NULL};
    const struct builtin *b = builtin_of(rt);
    return b && b->fields ? b->fields : none;
}

int kl_builtin_register(struct kl_store *store) {
    pthread_once(&columns_once, columns_init);
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        const struct builtin *b = &builtins[i];
        struct kl_rtype *rt = calloc(1, sizeof(*rt));
        if (!rt)
            return -ENOMEM;
        rt->group = strdup(b->group);
        rt->resource = strdup(b->resource);
        rt->singular = strdup(b->singular);
        rt->kind = strdup(b->kind);
        if (asprintf(&rt->list_kind, "%sList", b->kind) < 0)
            rt->list_kind = NULL;
        rt->namespaced = b->namespaced;
        rt->short_names = split_list(b->short_names);
        rt->categories = split_list(b->categories);
        rt->flag = b->flag;
        rt->create_only = b->create_only;
        rt->has_generation = b->has_generation;
        rt->return_deleted = b->return_deleted;
        rt->versions = calloc(1, sizeof(*rt->versions));
        if (rt->versions) {
            rt->n_versions = 1;
            rt->versions[0].name = strdup(b->version);
            rt->versions[0].storage = 1;
            rt->versions[0].status_sub = b->status_sub;
            if (columns_cache[i])
                rt->versions[0].columns = json_incref(columns_cache[i]);
        }
        if (!rt->group || !rt->resource || !rt->singular || !rt->kind || !rt->list_kind ||
            !rt->versions || !rt->versions[0].name || kl_store_add_type(store, rt) < 0) {
            kl_rtype_free(rt);
            return -ENOMEM;
        }
    }
    return 0;
}

void kl_builtin_done(void) {
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        json_decref(columns_cache[i]);
        columns_cache[i] = NULL;
    }
}

/* The cells the real node and pod printers compute and a JSONPath cannot. */
void kl_builtin_table_fixup(const struct kl_rtype *rt, json_t *table, json_t *const *docs, size_t n) {
    json_t *rows = json_object_get(table, "rows");
    if (rt->group[0] || (rt->flag != KL_KIND_NODE && rt->flag != KL_KIND_POD))
        return;
    for (size_t i = 0; i < n && i < json_array_size(rows); i++) {
        json_t *cells = json_object_get(json_array_get(rows, i), "cells");
        const json_t *d = docs[i];
        if (rt->flag == KL_KIND_NODE) {
            const char *ready = "Unknown";
            size_t k;
            json_t *c;
            json_array_foreach(cm_json_get(d, "status.conditions"), k, c) {
                const char *t = json_string_value(json_object_get(c, "type"));
                const char *st = json_string_value(json_object_get(c, "status"));
                if (t && st && !strcmp(t, "Ready"))
                    ready = !strcmp(st, "True") ? "Ready" : !strcmp(st, "False") ? "NotReady" : "Unknown";
            }
            char status[64];
            snprintf(status, sizeof(status), "%s%s", ready,
                     cm_json_get_bool(d, "spec.unschedulable", 0) ? ",SchedulingDisabled" : "");
            char roles[256] = "";
            const char *key;
            json_t *v;
            json_object_foreach(cm_json_get(d, "metadata.labels"), key, v) {
                if (!strncmp(key, "node-role.kubernetes.io/", 24) && strlen(roles) + strlen(key) < 200)
                    snprintf(roles + strlen(roles), sizeof(roles) - strlen(roles), "%s%s",
                             roles[0] ? "," : "", key + 24);
            }
            json_array_set_new(cells, 1, json_string(status));
            json_array_set_new(cells, 2, json_string(roles[0] ? roles : "<none>"));
        } else {
            size_t total = json_array_size(cm_json_get(d, "spec.containers")), ready = 0;
            json_int_t restarts = 0;
            size_t k;
            json_t *c;
            json_array_foreach(cm_json_get(d, "status.containerStatuses"), k, c) {
                if (json_is_true(json_object_get(c, "ready")))
                    ready++;
                restarts += json_integer_value(json_object_get(c, "restartCount"));
            }
            char rd[64];
            snprintf(rd, sizeof(rd), "%zu/%zu", ready, total);
            json_array_set_new(cells, 1, json_string(rd));
            if (cm_json_get_str(d, "metadata.deletionTimestamp"))
                json_array_set_new(cells, 2, json_string("Terminating"));
            json_array_set_new(cells, 3, json_integer(restarts));
        }
    }
}
