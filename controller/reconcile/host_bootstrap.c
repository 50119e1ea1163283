/* The bootstrap of a Host by its OS profile: every remaining step's check in one round trip,
 * then each step that is not done announced in status (and an Event) before it runs: files
 * uploaded if changed, apply and its verification in one round trip. A pass stops after
 * step_budget_ms and requeues, so no worker is held by one host for long. */
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

static json_t *network_of(struct pass *p, bool *ret_missing) {
    *ret_missing = false;
    const char *netname = p->cluster ? cm_json_get_str(p->cluster, "spec.network") : NULL;
    if (!netname || !*netname)
        netname = "default";
    json_t *net = rc_lookup_network(p->hc->m, p->ns, netname);
    /* A host outside any cluster uses the built-in default when no "default" Network exists;
     * a cluster naming a missing Network is an error (REF §11.3 step 5). */
    if (!net && p->cluster && strcmp(netname, "default"))
        *ret_missing = true;
    return net;
}

/* Reads data[key] of a Secret, base64-decoded (malloc'ed), or NULL. */
static char *secret_value(const json_t *secret, const char *key) {
    const char *b64 = cm_json_get_str(json_object_get(secret, "data"), key);
    char *out = NULL;
    size_t n;
    if (!b64 || host_ssh_base64_decode(b64, &out, &n) < 0)
        return NULL;
    return out;
}

static void wipe_free(char *s) {
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* The template variables for this host (host_vars.h). *ret_net_missing: the cluster names a
 * Network that does not exist. The kubelet credentials are the container manager's (its
 * credentials Secret, or the REST API's options.token); an inCluster manager hands out none of
 * the controller's own. NULL on -ENOMEM. Free with host_vars_free(). */
json_t *host__vars(struct pass *p, bool *ret_net_missing) {
    json_t *net = network_of(p, ret_net_missing);
    char *owned = NULL, *token = NULL, *crt = NULL, *key = NULL;
    const char *server = NULL, *ca = NULL;
    if (p->cm) {
        bool in_cluster = cm_json_get_bool(p->cm, "spec.inCluster", 0);
        server = in_cluster ? kube_client_server(p->env->client)
                            : cm_json_get_str(p->cm, "spec.serverURL");
        ca = cm_json_get_str(p->cm, "spec.ca");
        const char *opt_token = cm_json_get_str(p->cm, "spec.options.token");
        const char *sname = cm_json_get_str(p->cm, "spec.credentialsSecretRef.name");
        if (!in_cluster && sname && *sname) {
            json_t *secret = NULL;
            if (kube_get(p->env->client, &KUBE_RES_SECRETS, p->ns, sname, NULL, &secret, NULL) ==
                0) {
                token = secret_value(secret, "token");
                crt = secret_value(secret, "tls.crt");
                key = secret_value(secret, "tls.key");
                host_vars_free(secret); /* wipes the Secret's strings too */
            }
        }
        if (!token && opt_token)
            token = strdup(opt_token);
    }
    struct host_vars_input vi = {.host = p->host, .cluster = p->cluster, .network = net,
                                 .cm = p->cm, .node_name = host__node_name_of(p->host, &owned),
                                 .server = server, .ca = ca, .token = token, .client_cert = crt,
                                 .client_key = key};
    json_t *vars = host_vars_build(&vi);
    free(owned);
    wipe_free(token);
    wipe_free(crt);
    wipe_free(key);
    json_decref(net);
    return vars;
}

struct rc_result host__bootstrap(struct pass *p, struct upd *u) {
    struct rc_result ret;
    char msg[MSG_MAX];
    if (host__connect(p, &ret) < 0)
        return ret;
    if (!p->profile && !p->have_facts) {
        /* A continued bootstrap: the facts recorded at investigation usually identify the
         * profile (by os-release ID), which saves a round trip; a host matched only through
         * ID_LIKE needs its facts again. */
        struct sshc_facts recorded = {
            .os_id = (char *)host__or_empty(cm_json_get_str(p->host, "status.os")),
            .os_id_like = (char *)"",
            .atomic = cm_json_get_bool(p->host, "status.atomic", 0),
        };
        if (hp_match(p->env->profiles, &recorded, &p->profile, msg, sizeof msg) < 0)
            p->profile = NULL;
    }
    if (!p->profile && !p->have_facts && host__gather(p, &ret) < 0)
        return ret;
    if (!p->profile && hp_match(p->env->profiles, &p->facts, &p->profile, msg, sizeof msg) < 0)
        return host__fail(p, HOST_COND_BOOTSTRAPPED, "UnknownOS", msg);

    bool net_missing;
    json_t *vars = host__vars(p, &net_missing);
    if (net_missing) {
        host_vars_free(vars);
        snprintf(msg, sizeof msg, "Network %s of cluster %s not found",
                 cm_json_get_str(p->cluster, "spec.network"),
                 cm_json_get_str(p->cluster, "metadata.name"));
        return host__fail(p, HOST_COND_BOOTSTRAPPED, "NetworkNotFound", msg);
    }
    struct hp_plan *plan = NULL;
    int r = vars ? hp_plan_new(p->env->profiles, p->profile, vars, &plan, msg, sizeof msg)
                 : -ENOMEM;
    host_vars_free(vars);
    if (r < 0)
        return host__fail(p, HOST_COND_BOOTSTRAPPED, "ProfileError", msg);

    json_t *done = json_deep_copy(cm_json_get(p->host, "status.bootstrap.completedSteps"));
    if (!json_is_array(done)) {
        json_decref(done);
        done = json_array();
    }
    size_t n = hp_plan_n_steps(plan), changed = 0;
    int64_t budget_end = p->started_ms + p->env->step_budget_ms;

    /* Every remaining step's check in ONE round trip: checks have no side effects, and on a
     * host that is already configured (a re-verify after a reboot, a second run) this single
     * command is the whole bootstrap. */
    struct sshc_batch_item *checks = calloc(n ? n : 1, sizeof *checks);
    size_t *check_of = calloc(n ? n : 1, sizeof *check_of);
    size_t n_checks = 0;
    bool *precheck_ok = calloc(n ? n : 1, sizeof *precheck_ok);
    if (!checks || !check_of || !precheck_ok) {
        r = -ENOMEM;
        goto out_err;
    }
    for (size_t i = 0; i < n; i++) {
        const struct hp_step *s = hp_plan_step(plan, i);
        if (host__in_list(done, s->name) || !s->check)
            continue;
        check_of[n_checks] = i;
        checks[n_checks++].command = s->check;
    }
    if (n_checks) {
        struct sshc_error err = {0};
        r = host_ssh_exec_batch(p->env, p->ssh, checks, n_checks, false, 0, &err);
        if (r < 0) {
            sshc_batch_items_done(checks, n_checks);
            snprintf(msg, sizeof msg, "running the bootstrap checks: %s",
                     err.message[0] ? err.message : strerror(-r));
            goto step_failed_ssh;
        }
        for (size_t c = 0; c < n_checks; c++)
            precheck_ok[check_of[c]] = checks[c].ran && checks[c].exit_status == 0;
        sshc_batch_items_done(checks, n_checks);
    }

    for (size_t i = 0; i < n; i++) {
        const struct hp_step *s = hp_plan_step(plan, i);
        if (host__in_list(done, s->name))
            continue;
        /* A step without files whose check passed is done: no write, no Event. */
        if (s->n_files == 0 && precheck_ok[i]) {
            json_array_append_new(done, json_string(s->name));
            continue;
        }
        if (cm_time_mono_ms() > budget_end) {
            /* Out of time for this pass: record progress and let other hosts have the worker. */
            host__upd_set(u, "bootstrap", json_pack("{s:s,s:O}", "step", "", "completedSteps", done));
            r = host__commit(p, u);
            free(checks);
            free(check_of);
            free(precheck_ok);
            json_decref(done);
            hp_plan_free(plan);
            return r < 0 ? host__result_of_write(r) : rc_requeue();
        }
        /* Announce the step in status before touching the host. A step with files is
         * announced even when nothing will change: uploading is the side effect, though one
         * that writes nothing when the file is already right. */
        host__upd_set(u, "bootstrap", json_pack("{s:s,s:O}", "step", s->name, "completedSteps", done));
        u->phase = HOST_PHASE_BOOTSTRAPPING;
        host__upd_message(u, "bootstrapping (profile %s): step %zu/%zu %s", p->profile, i + 1, n,
                    s->name);
        host__upd_cond(u, HOST_COND_BOOTSTRAPPED, false, "InProgress", "step %zu/%zu %s", i + 1, n,
                 s->name);
        if ((r = host__commit(p, u)) < 0) {
            free(checks);
            free(check_of);
            free(precheck_ok);
            json_decref(done);
            hp_plan_free(plan);
            return host__result_of_write(r);
        }
        bool files_changed = false;
        for (size_t f = 0; f < s->n_files; f++) {
            struct sshc_error err = {0};
            bool file_changed = false;
            int64_t t0 = cm_time_mono_ms();
            r = sshc_upload(p->ssh, s->files[f].path, s->files[f].data, s->files[f].len,
                            s->files[f].mode, SSHC_UPLOAD_IF_CHANGED, &file_changed, &err);
            host_ssh_observe(p->env, cm_time_mono_ms() - t0);
            if (r < 0) {
                p->ssh_keep = false;
                snprintf(msg, sizeof msg, "step %s: uploading %s: %s", s->name, s->files[f].path,
                         err.message[0] ? err.message : strerror(-r));
                free(checks);
                free(check_of);
                free(precheck_ok);
                json_decref(done);
                hp_plan_free(plan);
                return host__fail(p, HOST_COND_BOOTSTRAPPED, "FileTransferFailed", msg);
            }
            files_changed |= file_changed;
        }
        /* A changed file is applied even when the check passes: the check says the service
         * runs, not that it runs with this configuration (e.g. a restart picks it up). */
        if (!files_changed && precheck_ok[i]) {
            json_array_append_new(done, json_string(s->name));
            continue;
        }
        /* apply, then the check again to verify it (a step whose check still fails did not do
         * its job), in one round trip that stops at the first failure. */
        struct sshc_batch_item run2[2] = {{.command = s->apply}, {.command = s->check}};
        size_t nrun = s->check ? 2 : 1;
        struct sshc_error err = {0};
        r = host_ssh_exec_batch(p->env, p->ssh, run2, nrun, true, s->timeout_ms, &err);
        if (r < 0) {
            sshc_batch_items_done(run2, nrun);
            snprintf(msg, sizeof msg, "step %s: %s", s->name,
                     err.message[0] ? err.message : strerror(-r));
            goto step_failed_ssh;
        }
        const char *what = NULL, *cmd = NULL;
        int ex = 0;
        const char *out = "";
        if (run2[0].exit_status != 0) {
            what = "failed";
            cmd = s->apply;
            ex = run2[0].exit_status;
            out = run2[0].output ? run2[0].output : "";
        } else if (nrun == 2 && run2[1].exit_status != 0) {
            what = "check still fails after apply";
            cmd = s->check;
            ex = run2[1].exit_status;
            out = run2[1].output ? run2[1].output : "";
        }
        if (what) {
            size_t len = strlen(out);
            while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
                len--;
            size_t start = len > OUTPUT_TAIL ? len - OUTPUT_TAIL : 0;
            snprintf(msg, sizeof msg, "step %s %s: `%s` exited %d: %s%.*s", s->name, what, cmd,
                     ex, start ? "..." : "", (int)(len - start), out + start);
            for (char *c = msg; *c; c++)
                if (*c == '\n' || *c == '\r')
                    *c = ' ';
            sshc_batch_items_done(run2, nrun);
            free(checks);
            free(check_of);
            free(precheck_ok);
            json_decref(done);
            hp_plan_free(plan);
            return host__fail(p, HOST_COND_BOOTSTRAPPED, "BootstrapFailed", msg);
        }
        sshc_batch_items_done(run2, nrun);
        host__event(p, KUBE_EVENT_NORMAL, "BootstrapStep", "step %zu/%zu %s applied (profile %s)",
              i + 1, n, s->name, p->profile);
        changed++;
        json_array_append_new(done, json_string(s->name));
    }
    free(checks);
    free(check_of);
    free(precheck_ok);
    host__upd_set(u, "bootstrap", json_pack("{s:s,s:O}", "step", "", "completedSteps", done));
    host__upd_cond(u, HOST_COND_BOOTSTRAPPED, true, "Bootstrapped", "profile %s: %zu steps verified, %zu applied",
             p->profile, n, changed);
    bool was_bootstrapped = kube_status_condition_is_true(p->host, HOST_COND_BOOTSTRAPPED);
    if (!was_bootstrapped || changed)
        host__event(p, KUBE_EVENT_NORMAL, "Bootstrapped", "profile %s: %zu steps verified, %zu applied",
              p->profile, n, changed);
    json_decref(done);
    hp_plan_free(plan);
    host__disconnect(p); /* registration needs no SSH; free the slot for other hosts */
    return host__register(p, u);

step_failed_ssh:
    free(checks);
    free(check_of);
    free(precheck_ok);
    json_decref(done);
    hp_plan_free(plan);
    p->ssh_keep = false;
    return host__fail(p, HOST_COND_REACHABLE, r == -ETIMEDOUT ? "Timeout" : "ProtocolError", msg);
out_err:
    free(checks);
    free(check_of);
    free(precheck_ok);
    json_decref(done);
    hp_plan_free(plan);
    return rc_error(r);
}

