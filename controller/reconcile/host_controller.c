/* The Host reconciler. See host_controller.h for the flow; the rules it follows:
 *  - every status write happens BEFORE the side effect it announces (a bootstrap step, a
 *    registration), so a controller killed at any point resumes from status alone;
 *  - a pass accumulates its status changes and writes them once where it can (one PUT of the
 *    status subresource with the resourceVersion it read; a conflict falls back to
 *    GET + re-apply + PUT);
 *  - waiting (pool full, node not Ready, PDB, retry of a failed host) is a requeue;
 *  - the private key and container manager credentials never reach a log, Event or status. */
#include "host_controller.h"

#include "host_int.h"

#include "cluster_state.h"
#include "cm_backoff.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "ctrmgr.h"
#include "host_profile.h"
#include "host_ssh.h"
#include "host_vars.h"
#include "kube_client.h"
#include "kube_error.h"
#include "kube_events.h"
#include "kube_informer.h"
#include "kube_status.h"
#include "node_ops.h"
#include "rc_controller.h"
#include "rc_lookup.h"
#include "rc_manager.h"
#include "rc_metrics.h"
#include "sshc.h"
#include "sshc_facts.h"
#include "sshc_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rv_parse(const json_t *obj, unsigned long long *ret) {
    const char *s = cm_json_get_str(obj, "metadata.resourceVersion");
    if (!s || !*s)
        return -1;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return -1;
    *ret = v;
    return 0;
}

/* Returns 0 when nothing was needed or the update worked, else the error. */
static int ensure_metadata(struct pass *p) {
    const char *cluster = cm_json_get_str(p->host, "spec.cluster");
    if (cluster && !*cluster)
        cluster = NULL;
    json_t *labels = cm_json_get(p->host, "metadata.labels");
    const char *label = json_string_value(json_object_get(labels, HOST_LABEL_CLUSTER));
    bool label_ok = cluster ? (label && !strcmp(label, cluster)) : !label;
    bool fin_ok = host__has_finalizer(p->host);
    if (label_ok && fin_ok)
        return 0;
    json_t *copy = json_deep_copy(p->host);
    if (!copy)
        return -ENOMEM;
    json_t *md = json_object_get(copy, "metadata");
    if (!fin_ok) {
        json_t *fins = json_object_get(md, "finalizers");
        if (!json_is_array(fins)) {
            fins = json_array();
            json_object_set_new(md, "finalizers", fins);
        }
        json_array_append_new(fins, json_string(HOST_FINALIZER));
    }
    if (!label_ok) {
        json_t *l = json_object_get(md, "labels");
        if (!json_is_object(l)) {
            l = json_object();
            json_object_set_new(md, "labels", l);
        }
        if (cluster)
            json_object_set_new(l, HOST_LABEL_CLUSTER, json_string(cluster));
        else
            json_object_del(l, HOST_LABEL_CLUSTER);
    }
    struct kube_error err;
    kube_error_init(&err);
    json_t *ret = NULL;
    int r = kube_update(p->env->client, &RC_RES_HOSTS, p->ns, p->name, NULL, copy, NULL, &ret,
                        &err);
    json_decref(copy);
    if (r == 0 && ret)
        host__set_view(p, ret);
    else if (r < 0 && r != -ESTALE && r != -ENOENT)
        cm_log_kv(CM_LOG_WARN, "host metadata update failed", "namespace", p->ns, "name", p->name,
                  "error", err.message ? err.message : "", NULL);
    kube_error_done(&err);
    return r;
}

/* Brings registration in line with the cluster, merging into u (which carries the rest of the
 * pass's changes) and writing it. */
struct rc_result host__register(struct pass *p, struct upd *u) {
    enum host_phase from = host__phase_of(p->host);
    /* A copy: every host__commit() replaces p->host, and with it the strings borrowed from it. */
    char cluster_buf[256];
    snprintf(cluster_buf, sizeof cluster_buf, "%s",
             host__or_empty(cm_json_get_str(p->host, "spec.cluster")));
    const char *cluster = cluster_buf;
    struct rc_result res;
    if (!p->managed) {
        const char *why, *reason;
        char buf[300];
        if (!*cluster) {
            reason = "NoCluster";
            why = "the host belongs to no cluster";
        } else if (!p->cluster) {
            reason = "ClusterNotFound";
            snprintf(buf, sizeof buf, "cluster %s not found", cluster);
            why = buf;
        } else if (!p->cm_named) {
            reason = "Unmanaged";
            snprintf(buf, sizeof buf, "cluster %s has no container manager", cluster);
            why = buf;
        } else if (!p->cm) {
            reason = "ContainerManagerNotFound";
            snprintf(buf, sizeof buf, "ContainerManager %s of cluster %s not found",
                     cm_json_get_str(p->cluster, "spec.containerManager"), cluster);
            why = buf;
        } else {
            reason = "TrivialContainerManager";
            snprintf(buf, sizeof buf, "ContainerManager %s is trivial: it registers no nodes",
                     cm_json_get_str(p->cm, "metadata.name"));
            why = buf;
        }
        u->phase = HOST_PHASE_DISASSOCIATED;
        host__upd_message(u, "configured; not registered as a node: %s", why);
        host__upd_cond(u, HOST_COND_NODE_REGISTERED, false, reason, "%s", why);
        host__upd_cond(u, HOST_COND_NODE_READY, false, reason, "%s", why);
        host__upd_cond(u, HOST_COND_READY, true, "Disassociated", "reachable and configured; %s", why);
        json_array_append_new(u->del, json_string("nodeName"));
        int r = host__commit(p, u);
        if (r < 0)
            return host__result_of_write(r);
        if (from != HOST_PHASE_DISASSOCIATED)
            host__event(p, KUBE_EVENT_NORMAL, "Disassociated", "configured; %s", why);
        return rc_requeue_after(host__check_delay(p));
    }

    char msg[MSG_MAX] = "";
    struct kube_client *kc = NULL;
    int r = ctrmgr_clients(p->env, p->hc->cms, p->cm, &kc, NULL, msg, sizeof msg);
    char *owned = NULL;
    const char *node = host__node_name_of(p->host, &owned);
    if (r < 0 || !node) {
        const char *reason = r < 0 ? "ContainerManagerUnavailable" : "InvalidNodeName";
        if (!node)
            snprintf(msg, sizeof msg, "no valid node name for address %s",
                     cm_json_get_str(p->host, "spec.address"));
        u->phase = HOST_PHASE_DISASSOCIATED;
        host__upd_message(u, "configured; cannot register: %s", msg);
        host__upd_cond(u, HOST_COND_NODE_REGISTERED, false, reason, "%s", msg);
        host__upd_cond(u, HOST_COND_READY, false, reason, "%s", msg);
        r = host__commit(p, u);
        if (r == 0)
            host__event(p, KUBE_EVENT_WARNING, reason, "%s", msg);
        free(owned);
        return r < 0 ? host__result_of_write(r) : rc_requeue_after(host__retry_delay(p));
    }

    struct kube_error err;
    kube_error_init(&err);
    bool created = false;
    /* Registration is a side effect: announce it in status first (only once). */
    const char *have_node = cm_json_get_str(p->host, "status.nodeName");
    if (!have_node || strcmp(have_node, node)) {
        host__upd_set(u, "nodeName", json_string(node));
        host__upd_message(u, "registering node %s", node);
        if ((r = host__commit(p, u)) < 0)
            goto out_write;
    }
    r = node_register(kc, node, cluster, &created, &err);
    if (r < 0) {
        snprintf(msg, sizeof msg, "registering node %s: %s", node,
                 err.message ? err.message : strerror(-r));
        u->phase = HOST_PHASE_DISASSOCIATED;
        host__upd_message(u, "configured; %s", msg);
        host__upd_cond(u, HOST_COND_NODE_REGISTERED, false, "RegistrationFailed", "%s", msg);
        host__upd_cond(u, HOST_COND_READY, false, "RegistrationFailed", "%s", msg);
        if ((r = host__commit(p, u)) < 0)
            goto out_write;
        host__event(p, KUBE_EVENT_WARNING, "RegistrationFailed", "%s", msg);
        res = rc_requeue_after(host__retry_delay(p));
        goto out;
    }
    if (created)
        host__event(p, KUBE_EVENT_NORMAL, "NodeRegistered", "created node %s", node);
    host__upd_cond(u, HOST_COND_NODE_REGISTERED, true, "Registered", "node %s labelled %s=%s", node,
             HOST_LABEL_CLUSTER, cluster);
    bool ready = false;
    char *reason = NULL;
    kube_error_done(&err);
    r = node_ready(kc, node, &ready, &reason, &err);
    if (r < 0 && r != -ENOENT) {
        snprintf(msg, sizeof msg, "reading node %s: %s", node,
                 err.message ? err.message : strerror(-r));
        host__upd_cond(u, HOST_COND_NODE_READY, false, "Unknown", "%s", msg);
        host__upd_cond(u, HOST_COND_READY, false, "NodeStatusUnknown", "%s", msg);
        u->phase = from == HOST_PHASE_ACTIVE ? HOST_PHASE_ACTIVE : HOST_PHASE_DISASSOCIATED;
        if ((r = host__commit(p, u)) < 0)
            goto out_write;
        res = rc_requeue_after(p->env->node_poll_ms);
        goto out;
    }
    if (ready) {
        u->phase = HOST_PHASE_ACTIVE;
        host__upd_message(u, "active: node %s is Ready", node);
        host__upd_cond(u, HOST_COND_NODE_READY, true, reason ? reason : "KubeletReady",
                 "node %s is Ready", node);
        host__upd_cond(u, HOST_COND_READY, true, "Active", "node %s of cluster %s is Ready", node,
                 cluster);
        res = rc_requeue_after(host__check_delay(p));
    } else {
        /* Stay disassociated (configured, not yet a Ready node), as Commissaire hosts are
         * between bootstrap and registration; re-visit soon. */
        u->phase = HOST_PHASE_DISASSOCIATED;
        host__upd_message(u, "node %s registered; waiting for it to report Ready", node);
        host__upd_cond(u, HOST_COND_NODE_READY, false, reason ? reason : "NodeNotReady",
                 "node %s is not Ready yet", node);
        host__upd_cond(u, HOST_COND_READY, false, "WaitingForNode", "node %s is not Ready yet", node);
        res = rc_requeue_after(p->env->node_poll_ms);
    }
    free(reason);
    if ((r = host__commit(p, u)) < 0)
        goto out_write;
    if (ready && from != HOST_PHASE_ACTIVE)
        host__event(p, KUBE_EVENT_NORMAL, "Active", "node %s is Ready", node);
    if (!ready && from == HOST_PHASE_ACTIVE)
        host__event(p, KUBE_EVENT_WARNING, "NodeNotReady", "node %s is no longer Ready", node);
    goto out;
out_write:
    res = host__result_of_write(r);
out:
    kube_error_done(&err);
    free(owned);
    return res;
}

/* ---- investigate / check ---- */

static struct rc_result investigate(struct pass *p) {
    struct rc_result ret;
    struct upd u;
    host__upd_init(&u);
    char msg[MSG_MAX];
    if (host__phase_of(p->host) == HOST_PHASE_NONE) {
        u.phase = HOST_PHASE_INVESTIGATING;
        host__upd_message(&u, "connecting to %s:%lld", cm_json_get_str(p->host, "spec.address"),
                    (long long)cm_json_get_int(p->host, "spec.port", 22));
        host__upd_cond(&u, HOST_COND_READY, false, "Investigating", "investigating the host");
        int r = host__commit(p, &u);
        host__upd_done(&u);
        if (r < 0)
            return host__result_of_write(r);
        host__upd_init(&u);
    }
    if (host__connect(p, &ret) < 0 || host__gather(p, &ret) < 0) {
        host__upd_done(&u);
        return ret;
    }
    int r = hp_match(p->env->profiles, &p->facts, &p->profile, msg, sizeof msg);
    char ts[40];
    host__now_str(ts, sizeof ts);
    /* A host that was down (failed) may come back rebooted: say so, the bootstrap that follows
     * re-verifies it like a check would. */
    const char *old_boot = cm_json_get_str(p->host, "status.bootID");
    if (old_boot && *old_boot && strcmp(old_boot, p->facts.boot_id))
        host__event(p, KUBE_EVENT_NORMAL, "Rebooted",
              "boot id changed (%s -> %s): re-verifying the configuration", old_boot,
              p->facts.boot_id);
    host__facts_to_upd(&p->facts, &u);
    host__key_to_upd(p, &u);
    host__upd_set(&u, "lastCheck", json_string(ts));
    host__upd_cond(&u, HOST_COND_REACHABLE, true, "Connected", "SSH as %s, host key %s, %s",
             host__or_default(cm_json_get_str(p->host, "spec.remoteUser"), "root"),
             host__or_default(sshc_session_fingerprint(p->ssh), "?"), host__or_empty(sshc_session_kex(p->ssh)));
    if (r < 0) {
        /* The facts go with the failure: they say what the host is, which the message
         * refers to. */
        ret = host__fail_upd(p, &u, HOST_COND_BOOTSTRAPPED, "UnknownOS", msg);
        host__upd_done(&u);
        return ret;
    }
    host__upd_set(&u, "observedGeneration",
            json_integer(cm_json_get_int(p->host, "metadata.generation", 0)));
    host__upd_set(&u, "bootstrap", json_pack("{s:s,s:[]}", "step", "", "completedSteps"));
    u.phase = HOST_PHASE_BOOTSTRAPPING;
    host__upd_message(&u, "bootstrapping with OS profile %s", p->profile);
    host__upd_cond(&u, HOST_COND_BOOTSTRAPPED, false, "Pending", "profile %s", p->profile);
    host__upd_cond(&u, HOST_COND_READY, false, "Bootstrapping", "bootstrapping with OS profile %s",
             p->profile);
    /* No write here: the bootstrap writes these changes together with its announcement,
     * before it touches the host. */
    host__event(p, KUBE_EVENT_NORMAL, "Investigated", "%s %s, %lld CPUs, %lld KiB memory: profile %s",
          p->facts.os_id, p->facts.os_version_id, (long long)p->facts.cpus,
          (long long)p->facts.memory_kib, p->profile);
    ret = host__bootstrap(p, &u);
    host__upd_done(&u);
    return ret;
}

static bool under_operation(const json_t *host) {
    json_t *a = cm_json_get(host, "metadata.annotations");
    const char *op = json_string_value(json_object_get(a, HOST_ANNOTATION_OPERATION));
    return op && *op;
}

static struct rc_result check(struct pass *p) {
    struct rc_result ret;
    /* A periodic check is also a fresh handshake: an idle cached session would hide a changed
     * host key (and the session set-up is part of what "reachable" means). */
    int64_t port = cm_json_get_int(p->host, "spec.port", 22);
    sshc_pool_invalidate(p->env->ssh, cm_json_get_str(p->host, "spec.address"),
                         (uint16_t)(port > 0 && port < 65536 ? port : 22));
    if (host__connect(p, &ret) < 0 || host__gather(p, &ret) < 0)
        return ret;
    struct upd u;
    host__upd_init(&u);
    char ts[40];
    host__now_str(ts, sizeof ts);
    const char *old_boot = cm_json_get_str(p->host, "status.bootID");
    bool rebooted = old_boot && *old_boot && strcmp(old_boot, p->facts.boot_id);
    host__facts_to_upd(&p->facts, &u);
    host__key_to_upd(p, &u);
    host__upd_set(&u, "lastCheck", json_string(ts));
    host__upd_cond(&u, HOST_COND_REACHABLE, true, "Connected", "SSH as %s, host key %s",
             host__or_default(cm_json_get_str(p->host, "spec.remoteUser"), "root"),
             host__or_default(sshc_session_fingerprint(p->ssh), "?"));
    if (rebooted) {
        host__event(p, KUBE_EVENT_NORMAL, "Rebooted",
              "boot id changed (%s -> %s): re-verifying the configuration", old_boot,
              p->facts.boot_id);
        u.phase = HOST_PHASE_BOOTSTRAPPING;
        host__upd_message(&u, "host rebooted; re-verifying its configuration");
        host__upd_set(&u, "bootstrap", json_pack("{s:s,s:[]}", "step", "", "completedSteps"));
        host__upd_cond(&u, HOST_COND_BOOTSTRAPPED, false, "Reverifying", "host rebooted");
        /* Written by the bootstrap, with its announcement, before it touches the host. */
        ret = host__bootstrap(p, &u);
        host__upd_done(&u);
        return ret;
    }
    host__disconnect(p);
    ret = host__register(p, &u);
    host__upd_done(&u);
    return ret;
}

/* ---- the pass ---- */

static json_t *freshest(struct host_ctl *hc, const char *key, const char *ns, const char *name) {
    json_t *cached = kube_informer_get(rc_manager_informer(hc->m, &RC_RES_HOSTS), ns, name);
    json_t *mine = host__memo_get(&hc->memo, key);
    if (!cached) {
        /* Deleted (the informer saw it go). Our memo may predate the delete: forget it. */
        json_decref(mine);
        host__memo_drop(&hc->memo, key);
        return NULL;
    }
    unsigned long long a, b;
    if (mine && rv_parse(cached, &a) == 0 && rv_parse(mine, &b) == 0 && b > a) {
        json_decref(cached);
        return mine;
    }
    json_decref(mine);
    if (mine)
        host__memo_drop(&hc->memo, key); /* the cache caught up */
    return cached;
}

static struct rc_result reconcile(struct rc_controller *ctl, const char *ns, const char *name,
                                  void *userdata) {
    struct host_ctl *hc = userdata;
    struct pass p = {.hc = hc, .env = hc->env, .ns = ns, .name = name,
                     .started_ms = cm_time_mono_ms()};
    if (asprintf(&p.key, "%s/%s", ns, name) < 0)
        return rc_error(-ENOMEM);
    struct rc_result res = rc_done();
    p.host = freshest(hc, p.key, ns, name);
    if (!p.host)
        goto out;
    const char *cluster = cm_json_get_str(p.host, "spec.cluster");
    p.cluster = cluster && *cluster ? rc_lookup_cluster(hc->m, ns, cluster) : NULL;
    p.cm = rc_lookup_cluster_cm(hc->m, p.cluster, &p.cm_named);
    p.managed = cluster_cm_is_managed(p.cm);

    bool deleting = cm_json_get_str(p.host, "metadata.deletionTimestamp") != NULL;
    if (!deleting) {
        int r = ensure_metadata(&p);
        if (r < 0) {
            res = r == -ESTALE || r == -ENOENT ? rc_requeue_after(100) : rc_error(r);
            goto out;
        }
    }
    int64_t delay = 0;
    enum host_action a = host_action_next(p.host, p.managed, &hc->timing, cm_time_wall_ms(), &delay);
    if (under_operation(p.host) &&
        (a == HOST_ACTION_CHECK || a == HOST_ACTION_INVESTIGATE || a == HOST_ACTION_BOOTSTRAP)) {
        /* An Operation owns the host's reboots now; its end (annotation removed) re-enqueues. */
        res = rc_requeue_after(host__check_delay(&p));
        goto out;
    }
    if (cm_log_enabled(CM_LOG_DEBUG))
        cm_log_kv(CM_LOG_DEBUG, "host reconcile", "namespace", ns, "name", name, "action",
                  host_action_name(a), "phase", cm_json_get_str(p.host, "status.phase"), NULL);
    struct upd u;
    switch (a) {
    case HOST_ACTION_DECOMMISSION: res = host__decommission(&p); break;
    case HOST_ACTION_INVESTIGATE: res = investigate(&p); break;
    case HOST_ACTION_BOOTSTRAP:
        host__upd_init(&u);
        res = host__bootstrap(&p, &u);
        host__upd_done(&u);
        break;
    case HOST_ACTION_REGISTER:
        host__upd_init(&u);
        res = host__register(&p, &u);
        host__upd_done(&u);
        break;
    case HOST_ACTION_CHECK: res = check(&p); break;
    case HOST_ACTION_WAIT:
    default: res = rc_requeue_after(delay > 0 ? delay : 1000); break;
    }
out:
    host__disconnect(&p);
    if (p.have_facts)
        sshc_facts_done(&p.facts);
    json_decref(p.host);
    json_decref(p.cluster);
    json_decref(p.cm);
    free(p.key);
    return res;
}

/* ---- watches ---- */

static int str_differs(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

static void enqueue_cluster_hosts(struct host_ctl *hc, const char *ns, const char *cluster) {
    json_t *hosts = rc_lookup_cluster_hosts(hc->m, ns, cluster);
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h) {
        rc_controller_enqueue_name(hc->ctl, ns, cm_json_get_str(h, "metadata.name"));
    }
    json_decref(hosts);
}

/* A Cluster's container manager or network decides how its hosts are registered/configured;
 * its status updates (frequent) change nothing for them. */
static void cluster_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    if (!str_differs(cm_json_get_str(old_obj, "spec.containerManager"),
                     cm_json_get_str(new_obj, "spec.containerManager")) &&
        !str_differs(cm_json_get_str(old_obj, "spec.network"),
                     cm_json_get_str(new_obj, "spec.network")))
        return;
    enqueue_cluster_hosts(userdata, cm_json_get_str(new_obj, "metadata.namespace"),
                          cm_json_get_str(new_obj, "metadata.name"));
}

static void cluster_add_delete(json_t *obj, void *userdata) {
    enqueue_cluster_hosts(userdata, cm_json_get_str(obj, "metadata.namespace"),
                          cm_json_get_str(obj, "metadata.name"));
}

static void cm_event(struct host_ctl *hc, const json_t *cm) {
    const char *ns = cm_json_get_str(cm, "metadata.namespace");
    const char *name = cm_json_get_str(cm, "metadata.name");
    json_t *all = kube_informer_list_by_namespace(rc_manager_informer(hc->m, &RC_RES_CLUSTERS), ns);
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c) {
        if (!str_differs(cm_json_get_str(c, "spec.containerManager"), name))
            enqueue_cluster_hosts(hc, ns, cm_json_get_str(c, "metadata.name"));
    }
    json_decref(all);
}

static void cm_add_delete(json_t *obj, void *userdata) { cm_event(userdata, obj); }
static void cm_update(json_t *old_obj, json_t *new_obj, void *userdata) {
    if (cm_json_get_int(old_obj, "metadata.generation", 0) !=
        cm_json_get_int(new_obj, "metadata.generation", 0))
        cm_event(userdata, new_obj);
}

static void collect_phases(struct rc_metrics *reg, void *userdata) {
    struct host_ctl *hc = userdata;
    json_t *all = kube_informer_list(rc_manager_informer(hc->m, &RC_RES_HOSTS));
    size_t counts[HOST_PHASE__MAX] = {0};
    size_t i;
    json_t *h;
    json_array_foreach(all, i, h) counts[host__phase_of(h)]++;
    json_decref(all);
    for (int ph = 0; ph < HOST_PHASE__MAX; ph++)
        rc_metric_set(hc->m_phase, ph == HOST_PHASE_NONE ? "pending" : host_phase_name(ph), NULL,
                      (double)counts[ph]);
}

static void host_ctl_free(void *userdata) {
    struct host_ctl *hc = userdata;
    ctrmgr_cache_free(hc->cms);
    host__memo_done(&hc->memo);
    free(hc);
}

int host_controller_register(struct rc_manager *m, unsigned workers,
                             struct rc_controller **ret_ctl) {
    struct host_ctl *hc = calloc(1, sizeof *hc);
    if (!hc)
        return -ENOMEM;
    hc->m = m;
    hc->env = rc_manager_env(m);
    hc->timing.check_interval_ms = hc->env->host_check_interval_ms;
    hc->timing.retry_interval_ms = hc->env->host_retry_interval_ms;
    pthread_mutex_init(&hc->memo.lock, NULL);
    int r = ctrmgr_cache_new(&hc->cms);
    if (r < 0 || (r = rc_lookup_register(m)) < 0) {
        host_ctl_free(hc);
        return r;
    }
    struct rc_controller_def def = {
        .kind = "Host",
        .resource = &RC_RES_HOSTS,
        .workers = workers ? workers : 8,
        .reconcile = reconcile,
        .userdata = hc,
        .free_cb = host_ctl_free,
    };
    if ((r = rc_controller_new(m, &def, &hc->ctl)) < 0) {
        host_ctl_free(hc);
        return r;
    }
    struct rc_watch_handlers ch = {cluster_add_delete, cluster_update, cluster_add_delete, hc};
    struct rc_watch_handlers mh = {cm_add_delete, cm_update, cm_add_delete, hc};
    if ((r = rc_manager_watch(m, &RC_RES_CLUSTERS, &ch)) < 0 ||
        (r = rc_manager_watch(m, &RC_RES_CONTAINERMANAGERS, &mh)) < 0)
        return r;
    if (hc->env->metrics) {
        hc->m_phase = rc_metrics_gauge(hc->env->metrics, "commissaire_controller_hosts",
                                       "Hosts by phase (pending: not looked at yet).", "phase");
        rc_metrics_collector_add(hc->env->metrics, collect_phases, hc);
    }
    if (ret_ctl)
        *ret_ctl = hc->ctl;
    return 0;
}

