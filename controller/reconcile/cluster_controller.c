#include "cluster_controller.h"

#include "cluster_state.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "host_state.h"
#include "kube_client.h"
#include "kube_error.h"
#include "kube_informer.h"
#include "kube_status.h"
#include "rc_controller.h"
#include "rc_lookup.h"
#include "rc_manager.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_MAX 2048

struct cluster_ctl {
    struct rc_controller *ctl;
    struct rc_manager *m;
};

/* The status the cluster should have, computed from caches. */
struct desired {
    enum cluster_health health;
    struct cluster_counts counts;
    int64_t generation;
    const char *ready_reason;
    char ready_msg[MSG_MAX];
    const char *cm_status, *cm_reason;
    char cm_msg[512];
};

static void compute(struct cluster_ctl *cc, const json_t *cluster, struct desired *d) {
    const char *ns = cm_json_get_str(cluster, "metadata.namespace");
    const char *name = cm_json_get_str(cluster, "metadata.name");
    memset(d, 0, sizeof *d);
    d->generation = cm_json_get_int(cluster, "metadata.generation", 0);
    bool named = false;
    json_t *cm = rc_lookup_cluster_cm(cc->m, cluster, &named);
    bool managed = cluster_cm_is_managed(cm);
    const char *cm_name = cm_json_get_str(cluster, "spec.containerManager");
    if (!named) {
        d->cm_status = "True";
        d->cm_reason = "Unmanaged";
        snprintf(d->cm_msg, sizeof d->cm_msg,
                 "no container manager: hosts are configured but not registered as nodes");
    } else if (!cm) {
        d->cm_status = "False";
        d->cm_reason = "NotFound";
        snprintf(d->cm_msg, sizeof d->cm_msg, "ContainerManager %s not found", cm_name);
    } else {
        d->cm_status = "True";
        d->cm_reason = managed ? "Found" : "Trivial";
        snprintf(d->cm_msg, sizeof d->cm_msg, "ContainerManager %s (%s)", cm_name,
                 cm_json_get_str(cm, "spec.type") ? cm_json_get_str(cm, "spec.type") : "");
    }
    json_decref(cm);

    json_t *hosts = rc_lookup_cluster_hosts(cc->m, ns, name);
    size_t n = json_array_size(hosts);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = json_array_get(hosts, i);
    d->health = cluster_state_compute(v, v ? n : 0, managed, &d->counts);
    /* The message names the unavailable hosts (up to a few), so `kubectl describe` says why. */
    int used = snprintf(d->ready_msg, sizeof d->ready_msg, "%zu of %zu hosts available",
                        d->counts.available, d->counts.total);
    size_t listed = 0;
    for (size_t i = 0; v && i < n && used > 0 && (size_t)used < sizeof d->ready_msg; i++) {
        if (host_is_available(v[i], managed))
            continue;
        if (listed++ == 5) {
            used += snprintf(d->ready_msg + used, sizeof d->ready_msg - (size_t)used, ", ...");
            break;
        }
        const char *phase = cm_json_get_str(v[i], "status.phase");
        used += snprintf(d->ready_msg + used, sizeof d->ready_msg - (size_t)used, "%s %s (%s)",
                         listed == 1 ? "; unavailable:" : ",",
                         cm_json_get_str(v[i], "metadata.name"),
                         phase && *phase ? phase : "new");
    }
    free(v);
    json_decref(hosts);
    d->ready_reason = d->health == CLUSTER_OK         ? (d->counts.total ? "AllHostsAvailable"
                                                                         : "NoHosts")
                      : d->health == CLUSTER_DEGRADED ? "SomeHostsUnavailable"
                                                      : "NoHostsAvailable";
}

/* Applies d to obj; returns 1 when obj already matched, 0 when it changed. */
static int apply(json_t *obj, const struct desired *d) {
    int changed = 0;
    json_t *st = json_object_get(obj, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(obj, "status", st);
        changed = 1;
    }
#define SET_STR(k, v)                                                                          \
    do {                                                                                       \
        const char *old_ = json_string_value(json_object_get(st, k));                         \
        if (!old_ || strcmp(old_, v)) {                                                        \
            json_object_set_new(st, k, json_string(v));                                        \
            changed = 1;                                                                       \
        }                                                                                      \
    } while (0)
#define SET_INT(k, v)                                                                          \
    do {                                                                                       \
        json_t *old_ = json_object_get(st, k);                                                 \
        if (!json_is_integer(old_) || json_integer_value(old_) != (json_int_t)(v)) {           \
            json_object_set_new(st, k, json_integer((json_int_t)(v)));                         \
            changed = 1;                                                                       \
        }                                                                                      \
    } while (0)
    SET_STR("status", cluster_health_name(d->health));
    SET_INT("hostsTotal", d->counts.total);
    SET_INT("hostsAvailable", d->counts.available);
    SET_INT("hostsUnavailable", d->counts.unavailable);
    SET_INT("observedGeneration", d->generation);
#undef SET_STR
#undef SET_INT
    int64_t now = cm_time_wall_ms();
    struct kube_condition ready = {"Ready", d->health == CLUSTER_OK ? "True" : "False",
                                   d->ready_reason, d->ready_msg, d->generation};
    struct kube_condition cmc = {"ContainerManagerResolved", d->cm_status, d->cm_reason,
                                 d->cm_msg, d->generation};
    if (kube_status_condition_set(obj, &ready, now) > 0)
        changed = 1;
    if (kube_status_condition_set(obj, &cmc, now) > 0)
        changed = 1;
    return changed ? 0 : 1;
}

static int mutate_cb(json_t *obj, void *userdata) { return apply(obj, userdata); }

static struct rc_result reconcile(struct rc_controller *ctl, const char *ns, const char *name,
                                  void *userdata) {
    struct cluster_ctl *cc = userdata;
    json_t *cluster = rc_lookup_cluster(cc->m, ns, name);
    if (!cluster)
        return rc_done(); /* deleted: nothing to keep up to date */
    struct desired d;
    compute(cc, cluster, &d);
    /* Compare against the cached copy first: most events change nothing, and this saves the
     * GET + PUT of a status update. */
    json_t *copy = json_deep_copy(cluster);
    int same = copy ? apply(copy, &d) : 0;
    json_decref(copy);
    if (same == 1) {
        json_decref(cluster);
        return rc_done();
    }
    const struct rc_env *env = rc_manager_env(cc->m);
    struct kube_error err;
    kube_error_init(&err);
    int r = kube_status_update(env->client, &RC_RES_CLUSTERS, ns, name, NULL, mutate_cb, &d,
                               NULL, &err);
    if (r == 0) {
        char tot[24], av[24];
        snprintf(tot, sizeof tot, "%zu", d.counts.total);
        snprintf(av, sizeof av, "%zu", d.counts.available);
        cm_log_kv(CM_LOG_INFO, "cluster status", "namespace", ns, "name", name, "status",
                  cluster_health_name(d.health), "hosts", tot, "available", av, NULL);
    } else if (r != -ENOENT) {
        cm_log_kv(CM_LOG_WARN, "cluster status update failed", "namespace", ns, "name", name,
                  "error", err.message ? err.message : "", NULL);
    }
    kube_error_done(&err);
    json_decref(cluster);
    if (r == -ENOENT)
        return rc_done();
    return r < 0 ? rc_error(r) : rc_done();
}

static void enqueue_host_cluster(struct cluster_ctl *cc, const json_t *host) {
    const char *c = cm_json_get_str(host, "spec.cluster");
    if (c && *c)
        rc_controller_enqueue_name(cc->ctl, cm_json_get_str(host, "metadata.namespace"), c);
}

static void host_add(json_t *obj, void *userdata) { enqueue_host_cluster(userdata, obj); }
static void host_delete(json_t *obj, void *userdata) { enqueue_host_cluster(userdata, obj); }

static int str_differs(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

/* Only membership and phase move a cluster's numbers; lastCheck/facts updates (every minute for
 * every host) must not wake every cluster. */
static void host_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    if (!str_differs(cm_json_get_str(old_obj, "spec.cluster"),
                     cm_json_get_str(new_obj, "spec.cluster")) &&
        !str_differs(cm_json_get_str(old_obj, "status.phase"),
                     cm_json_get_str(new_obj, "status.phase")))
        return;
    enqueue_host_cluster(userdata, old_obj);
    enqueue_host_cluster(userdata, new_obj);
}

static void cm_changed(struct cluster_ctl *cc, const json_t *cm) {
    const char *ns = cm_json_get_str(cm, "metadata.namespace");
    const char *name = cm_json_get_str(cm, "metadata.name");
    struct kube_informer *inf = rc_manager_informer(cc->m, &RC_RES_CLUSTERS);
    json_t *all = kube_informer_list_by_namespace(inf, ns);
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c) {
        if (!str_differs(cm_json_get_str(c, "spec.containerManager"), name))
            rc_controller_enqueue_name(cc->ctl, ns, cm_json_get_str(c, "metadata.name"));
    }
    json_decref(all);
}

static void cm_add(json_t *obj, void *userdata) { cm_changed(userdata, obj); }
static void cm_delete(json_t *obj, void *userdata) { cm_changed(userdata, obj); }
static void cm_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    if (str_differs(cm_json_get_str(old_obj, "spec.type"), cm_json_get_str(new_obj, "spec.type")))
        cm_changed(userdata, new_obj);
}

int cluster_controller_register(struct rc_manager *m, unsigned workers,
                                struct rc_controller **ret_ctl) {
    struct cluster_ctl *cc = calloc(1, sizeof *cc);
    if (!cc)
        return -ENOMEM;
    cc->m = m;
    int r = rc_lookup_register(m);
    if (r < 0) {
        free(cc);
        return r;
    }
    struct rc_controller_def def = {
        .kind = "Cluster",
        .resource = &RC_RES_CLUSTERS,
        .workers = workers ? workers : 2,
        .reconcile = reconcile,
        .userdata = cc,
        .free_cb = free,
    };
    r = rc_controller_new(m, &def, &cc->ctl);
    if (r < 0) {
        free(cc);
        return r;
    }
    struct rc_watch_handlers hh = {host_add, host_update, host_delete, cc};
    struct rc_watch_handlers ch = {cm_add, cm_update, cm_delete, cc};
    if ((r = rc_manager_watch(m, &RC_RES_HOSTS, &hh)) < 0 ||
        (r = rc_manager_watch(m, &RC_RES_CONTAINERMANAGERS, &ch)) < 0)
        return r;
    if (ret_ctl)
        *ret_ctl = cc->ctl;
    return 0;
}
