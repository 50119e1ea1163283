/* Decommission of a deleted Host: cordon, drain (PodDisruptionBudgets respected by requeue),
 * delete the Node, optional teardown over SSH, release the finalizer; each part is skipped with
 * a Warning Event once decommission_timeout has passed, so an unreachable host never blocks
 * deletion for ever. */
#include "host_int.h"

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

/* ---- decommission ---- */

struct rc_result host__decommission(struct pass *p) {
    if (!host__has_finalizer(p->host))
        return rc_done();
    int64_t deleted_ms = 0;
    cm_time_parse_rfc3339(cm_json_get_str(p->host, "metadata.deletionTimestamp"), &deleted_ms);
    bool expired = cm_time_wall_ms() > deleted_ms + p->env->decommission_timeout_ms;
    const char *node = cm_json_get_str(p->host, "status.nodeName");
    struct kube_error err;
    kube_error_init(&err);
    char msg[MSG_MAX];
    int r;

    if (node && *node && p->managed) {
        struct kube_client *kc = NULL, *evict = NULL;
        r = ctrmgr_clients(p->env, p->hc->cms, p->cm, &kc, &evict, msg, sizeof msg);
        if (r < 0) {
            if (!expired) {
                kube_error_done(&err);
                return rc_requeue_after(host__retry_delay(p));
            }
            host__event(p, KUBE_EVENT_WARNING, "DecommissionIncomplete",
                  "skipped draining and deleting node %s: container manager unavailable: %s",
                  node, msg);
        } else {
            bool ready;
            r = node_ready(kc, node, &ready, NULL, &err);
            if (r == 0) {
                node_set_unschedulable(kc, node, true, NULL);
                struct node_drain_status ds;
                kube_error_done(&err);
                r = node_drain(evict, node, &ds, &err);
                if (r != 0 && !expired) {
                    if (r > 0) {
                        char m[64];
                        snprintf(m, sizeof m, "%zu", ds.remaining);
                        cm_log_kv(CM_LOG_INFO, "draining node", "namespace", p->ns, "name",
                                  p->name, "node", node, "remaining", m, NULL);
                        if (ds.blocked)
                            host__event(p, KUBE_EVENT_NORMAL, "DrainBlocked",
                                  "draining node %s: %zu pods remaining, %zu evictions refused by "
                                  "a PodDisruptionBudget; retrying",
                                  node, ds.remaining, ds.blocked);
                    }
                    kube_error_done(&err);
                    return rc_requeue_after(r > 0 ? p->env->node_poll_ms : host__retry_delay(p));
                }
                if (r != 0)
                    host__event(p, KUBE_EVENT_WARNING, "DecommissionIncomplete",
                          "drain of node %s did not finish within %llds; deleting the node anyway",
                          node, (long long)(p->env->decommission_timeout_ms / 1000));
                kube_error_done(&err);
                r = node_delete(kc, node, &err);
                if (r < 0 && !expired) {
                    kube_error_done(&err);
                    return rc_error(r);
                }
                if (r == 0)
                    host__event(p, KUBE_EVENT_NORMAL, "NodeDeleted", "deleted node %s", node);
                else
                    host__event(p, KUBE_EVENT_WARNING, "DecommissionIncomplete",
                          "could not delete node %s: %s", node,
                          err.message ? err.message : strerror(-r));
            } else if (r != -ENOENT && !expired) {
                kube_error_done(&err);
                return rc_error(r);
            }
        }
    }

    if (cm_json_get_bool(p->host, "spec.cleanupOnDelete", 0)) {
        struct host_ssh_failure f;
        r = host_ssh_connect(p->env, p->host, &p->ssh, &f);
        if (r == -EAGAIN) {
            kube_error_done(&err);
            return rc_requeue_after(POOL_FULL_RETRY_MS);
        }
        if (r < 0) {
            if (!expired) {
                kube_error_done(&err);
                return rc_requeue_after(host__retry_delay(p));
            }
            host__event(p, KUBE_EVENT_WARNING, "TeardownSkipped",
                  "teardown skipped: host unreachable for %llds (%s: %s)",
                  (long long)(p->env->decommission_timeout_ms / 1000), f.reason, f.message);
        } else {
            p->ssh_keep = false;
            struct rc_result rr;
            const char *profile = NULL;
            int failed = 0;
            if (host__gather(p, &rr) == 0 &&
                hp_match(p->env->profiles, &p->facts, &profile, msg, sizeof msg) == 0) {
                bool net_missing;
                json_t *vars = host__vars(p, &net_missing);
                struct hp_plan *plan = NULL;
                if (hp_plan_new(p->env->profiles, profile, vars, &plan, msg, sizeof msg) == 0) {
                    for (size_t i = 0; i < hp_plan_n_teardown(plan); i++) {
                        const struct hp_step *t = hp_plan_teardown(plan, i);
                        int ex = 1;
                        char tail[OUTPUT_TAIL + 8];
                        if (t->check && host__run(p, t->check, t->timeout_ms, &ex, tail, sizeof tail) == 0 &&
                            ex == 0)
                            continue; /* already torn down */
                        if (host__run(p, t->apply, t->timeout_ms, &ex, tail, sizeof tail) < 0 || ex)
                            failed++;
                    }
                    host__event(p, failed ? KUBE_EVENT_WARNING : KUBE_EVENT_NORMAL, "TeardownDone",
                          "teardown (profile %s): %zu commands, %d failed", profile,
                          hp_plan_n_teardown(plan), failed);
                }
                hp_plan_free(plan);
                host_vars_free(vars);
            }
            host__disconnect(p);
        }
    }

    /* Release the finalizer. */
    json_t *copy = json_deep_copy(p->host);
    json_t *fins = cm_json_get(copy, "metadata.finalizers");
    for (size_t i = json_array_size(fins); i-- > 0;) {
        json_t *f = json_array_get(fins, i);
        if (json_is_string(f) && !strcmp(json_string_value(f), HOST_FINALIZER))
            json_array_remove(fins, i);
    }
    kube_error_done(&err);
    r = kube_update(p->env->client, &RC_RES_HOSTS, p->ns, p->name, NULL, copy, NULL, NULL, &err);
    json_decref(copy);
    kube_error_done(&err);
    if (r == 0 || r == -ENOENT) {
        cm_log_kv(CM_LOG_INFO, "host decommissioned; finalizer released", "namespace", p->ns,
                  "name", p->name, NULL);
        host__memo_drop(&p->hc->memo, p->key);
        return rc_done();
    }
    return r == -ESTALE ? rc_requeue_after(100) : rc_error(r);
}

