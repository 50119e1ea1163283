/* The bootstrap of a Host by its OS profile, in at most two command round trips per pass.
 *
 * The pass announces the remaining steps in status (one write, before touching the host), then:
 *  script A  runs, in order, every remaining step before the first one that has files
 *            (`check || { apply && check }`, stopping at the first failure: the package
 *            installs);
 *  uploads   puts the files of the later steps in place (SFTP, written only when they differ
 *            from the remote copy);
 *  script B  runs the later steps in order: `apply && check` for a step whose file changed (a
 *            changed file is applied even when the check passes: the check says the service
 *            runs, not that it runs with this configuration), `check || { apply && check }`
 *            for the others, stopping at the first failure.
 * Every check thus runs once before its apply and once after it, never more: on the hosts the
 * commands are the cost (each is a process, often a script, per host).
 * Files of the later steps therefore go up after every package step before them has run (a
 * package must never find, or overwrite, a half-written configuration) but before the service
 * steps between them apply; every shipped profile orders its steps that way.
 * Every item of a script prints a marker line with a per-pass random nonce, so the output of a
 * command cannot forge another step's result, and the pass knows exactly which steps passed,
 * were applied, or failed. completedSteps is written with the result (or with the failure); a
 * controller killed in the middle of a script resumes from the status written before it, and
 * the checks (which gate every apply) keep completed steps from running again.
 * One BootstrapStep Event per pass names the steps applied. */
#include "host_int.h"

#include "cm_backoff.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "ctrmgr.h"
#include "host_profile.h"
#include "host_script.h"
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

/* "step X failed: `cmd` exited N: <tail of its output>" */
static void step_failure_msg(char *msg, size_t n, const struct hp_step *s, bool check_failed,
                             const struct sshc_batch_item *it, size_t end) {
    const char *out = it->output ? it->output : "";
    size_t len = end;
    while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
        len--;
    size_t start = len > OUTPUT_TAIL ? len - OUTPUT_TAIL : 0;
    snprintf(msg, n, "step %s %s: `%s` exited %d: %s%.*s", s->name,
             check_failed ? "check still fails after apply" : "failed",
             check_failed ? s->check : s->apply, it->exit_status, start ? "..." : "",
             (int)(len - start), out + start);
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

static int timeout_sum(int64_t acc, int step_ms, int dflt) {
    acc += step_ms > 0 ? step_ms : dflt;
    return acc > 24 * 3600 * 1000 ? 24 * 3600 * 1000 : (int)acc;
}

/* The steps the pass has finished (a JSON array it owns) and those it applied (names, for the
 * Event). */
struct progress {
    json_t *done;
    char applied[MSG_MAX];
    size_t n_applied;
};

static void progress_applied(struct progress *g, const char *name) {
    size_t l = strlen(g->applied);
    snprintf(g->applied + l, sizeof g->applied - l, "%s%s", l ? ", " : "", name);
    g->n_applied++;
}

/* Records the progress in u (written with whatever the pass writes next). */
static void progress_to_upd(struct progress *g, struct upd *u, const char *step) {
    host__upd_set(u, "bootstrap", json_pack("{s:s,s:O}", "step", step ? step : "",
                                            "completedSteps", g->done));
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
        return host__fail_upd(p, u, HOST_COND_BOOTSTRAPPED, "UnknownOS", msg);

    bool net_missing;
    json_t *vars = host__vars(p, &net_missing);
    if (net_missing) {
        host_vars_free(vars);
        snprintf(msg, sizeof msg, "Network %s of cluster %s not found",
                 cm_json_get_str(p->cluster, "spec.network"),
                 cm_json_get_str(p->cluster, "metadata.name"));
        return host__fail_upd(p, u, HOST_COND_BOOTSTRAPPED, "NetworkNotFound", msg);
    }
    struct hp_plan *plan = NULL;
    int r = vars ? hp_plan_new(p->env->profiles, p->profile, vars, &plan, msg, sizeof msg)
                 : -ENOMEM;
    host_vars_free(vars);
    if (r < 0)
        return host__fail_upd(p, u, HOST_COND_BOOTSTRAPPED, "ProfileError", msg);

    /* The steps already done: those of u when the pass reset them (investigation, reboot),
     * else the host's. */
    const json_t *pending_bs = json_object_get(u->set, "bootstrap");
    struct progress g = {
        .done = json_deep_copy(cm_json_get(pending_bs ? pending_bs : cm_json_get(p->host, "status.bootstrap"),
                                           "completedSteps")),
    };
    if (!json_is_array(g.done)) {
        json_decref(g.done);
        g.done = json_array();
    }
    size_t n = hp_plan_n_steps(plan);
    const int dflt = p->env->ssh_command_timeout_ms > 0 ? p->env->ssh_command_timeout_ms : 60000;
    char nonce[HOST_SCRIPT_NONCE_LEN + 1];
    host_script_nonce(nonce);
    /* Per step: not done yet, after the first step with files (script B), a file changed. */
    struct stepst {
        bool pending, later, file_changed;
    } *st = calloc(n ? n : 1, sizeof *st);
    struct sshc_batch_item *items = calloc(n ? n : 1, sizeof *items);
    size_t *item_step = calloc(n ? n : 1, sizeof *item_step);
    char **texts = calloc(n ? n : 1, sizeof *texts);
    size_t n_items = 0, first_pending = n, first_file = n, n_pending = 0;
    if (!st || !items || !item_step || !texts) {
        r = -ENOMEM;
        goto out_err;
    }
    for (size_t i = 0; i < n; i++) {
        const struct hp_step *s = hp_plan_step(plan, i);
        if (host__in_list(g.done, s->name))
            continue;
        st[i].pending = true;
        n_pending++;
        if (first_pending == n)
            first_pending = i;
        if (first_file == n && s->n_files)
            first_file = i;
        st[i].later = first_file != n;
    }
    if (!n_pending)
        goto finished;

    /* Announce before touching the host: the steps this pass is about to run. */
    progress_to_upd(&g, u, hp_plan_step(plan, first_pending)->name);
    u->phase = HOST_PHASE_BOOTSTRAPPING;
    host__upd_message(u, "bootstrapping (profile %s): %zu of %zu steps left, from step %zu %s",
                      p->profile, n_pending, n, first_pending + 1,
                      hp_plan_step(plan, first_pending)->name);
    host__upd_cond(u, HOST_COND_BOOTSTRAPPED, false, "InProgress", "step %zu/%zu %s",
                   first_pending + 1, n, hp_plan_step(plan, first_pending)->name);
    if ((r = host__commit(p, u)) < 0) {
        ret = host__result_of_write(r);
        goto out;
    }

    /* Script A. */
    if (!rc_controller_acting(p->hc->ctl)) {
        ret = rc_requeue(); /* leadership lost: the next leader carries on from the status */
        goto out;
    }
    int64_t tmo = 0;
    for (size_t i = 0; i < n; i++) {
        if (!st[i].pending || st[i].later)
            continue;
        const struct hp_step *s = hp_plan_step(plan, i);
        if (!(texts[n_items] = host_script_item(s->check, s->apply, HOST_SCRIPT_RUN, nonce))) {
            r = -ENOMEM;
            goto out_err;
        }
        items[n_items].command = texts[n_items];
        item_step[n_items++] = i;
        tmo = timeout_sum(tmo, s->timeout_ms, dflt);
    }
    for (int pass_no = 0; pass_no < 2; pass_no++) {
        if (pass_no == 1) {
            if (!rc_controller_acting(p->hc->ctl)) {
                /* Leadership lost: no more side effects. Script A's progress is not written
                 * (the new leader's writes win); its checks pass again at the next pass. */
                ret = rc_requeue();
                goto out;
            }
            /* Uploads, then script B: the later steps that must apply. */
            for (size_t i = first_file; i < n; i++) {
                if (!st[i].pending)
                    continue;
                const struct hp_step *s = hp_plan_step(plan, i);
                for (size_t f = 0; f < s->n_files; f++) {
                    struct sshc_error err = {0};
                    bool changed = true;
                    int64_t t0 = cm_time_mono_ms();
                    r = sshc_upload(p->ssh, s->files[f].path, s->files[f].data, s->files[f].len,
                                    s->files[f].mode, SSHC_UPLOAD_IF_CHANGED, &changed, &err);
                    host_ssh_observe(p->env, cm_time_mono_ms() - t0);
                    if (r < 0) {
                        p->ssh_keep = false;
                        snprintf(msg, sizeof msg, "step %s: uploading %s: %s", s->name,
                                 s->files[f].path, err.message[0] ? err.message : strerror(-r));
                        progress_to_upd(&g, u, s->name);
                        ret = host__fail_upd(p, u, HOST_COND_BOOTSTRAPPED, "FileTransferFailed",
                                             msg);
                        goto out;
                    }
                    st[i].file_changed |= changed;
                }
            }
            sshc_batch_items_done(items, n_items);
            for (size_t k = 0; k < n_items; k++) {
                free(texts[k]);
                texts[k] = NULL;
            }
            n_items = 0;
            tmo = 0;
            for (size_t i = first_file; i < n; i++) {
                if (!st[i].pending)
                    continue;
                const struct hp_step *s = hp_plan_step(plan, i);
                enum host_script_mode mode =
                    st[i].file_changed ? HOST_SCRIPT_APPLY : HOST_SCRIPT_RUN;
                if (!(texts[n_items] = host_script_item(s->check, s->apply, mode, nonce))) {
                    r = -ENOMEM;
                    goto out_err;
                }
                items[n_items].command = texts[n_items];
                item_step[n_items++] = i;
                tmo = timeout_sum(tmo, s->timeout_ms, dflt);
            }
        }
        if (n_items) {
            struct sshc_error err = {0};
            r = host_ssh_exec_batch(p->env, p->ssh, items, n_items, true, (int)tmo, &err);
            if (r < 0) {
                snprintf(msg, sizeof msg, "%s: %s",
                         pass_no ? "running the bootstrap steps" : "running the bootstrap checks",
                         err.message[0] ? err.message : strerror(-r));
                p->ssh_keep = false;
                progress_to_upd(&g, u, hp_plan_step(plan, item_step[0])->name);
                ret = host__fail_upd(p, u, HOST_COND_REACHABLE,
                                     r == -ETIMEDOUT ? "Timeout" : "ProtocolError", msg);
                goto out;
            }
        }
        /* Results, in step order: every pending step of the script has an item. */
        size_t k = 0;
        for (size_t i = pass_no ? first_file : 0; i < n; i++) {
            if (!st[i].pending || st[i].later != (pass_no == 1))
                continue;
            const struct hp_step *s = hp_plan_step(plan, i);
            if (k >= n_items || item_step[k] != i) {
                r = -EPROTO; /* not reached: items are built from the same steps */
                goto out_err;
            }
            size_t end;
            enum host_script_outcome o = host_script_outcome(&items[k], nonce, &end);
            if (o == HOST_SCRIPT_PASSED || o == HOST_SCRIPT_APPLIED) {
                if (o == HOST_SCRIPT_APPLIED)
                    progress_applied(&g, s->name);
                json_array_append_new(g.done, json_string(s->name));
                k++;
                continue;
            }
            if (o == HOST_SCRIPT_NOT_RUN) {
                /* Only items after a failure are skipped, and that failure ended the pass. */
                r = -EPROTO;
                goto out_err;
            }
            step_failure_msg(msg, sizeof msg, s, o == HOST_SCRIPT_CHECK_FAILED, &items[k], end);
            if (g.n_applied)
                host__event(p, KUBE_EVENT_NORMAL, "BootstrapStep", "applied %s (profile %s)",
                            g.applied, p->profile);
            progress_to_upd(&g, u, s->name);
            ret = host__fail_upd(p, u, HOST_COND_BOOTSTRAPPED, "BootstrapFailed", msg);
            goto out;
        }
        if (pass_no == 0 && first_file == n)
            break; /* no later steps: script A was the whole bootstrap */
        if (pass_no == 0 && p->env->step_budget_ms > 0 &&
            cm_time_mono_ms() > p->started_ms + p->env->step_budget_ms) {
            /* Out of time for this pass: record progress and let other hosts have the worker. */
            if (g.n_applied)
                host__event(p, KUBE_EVENT_NORMAL, "BootstrapStep", "applied %s (profile %s)",
                            g.applied, p->profile);
            progress_to_upd(&g, u, "");
            r = host__commit(p, u);
            ret = r < 0 ? host__result_of_write(r) : rc_requeue();
            goto out;
        }
    }

finished:
    if (g.n_applied)
        host__event(p, KUBE_EVENT_NORMAL, "BootstrapStep", "applied %s (profile %s)", g.applied,
                    p->profile);
    progress_to_upd(&g, u, "");
    host__upd_cond(u, HOST_COND_BOOTSTRAPPED, true, "Bootstrapped",
                   "profile %s: %zu steps verified, %zu applied", p->profile, n, g.n_applied);
    bool was_bootstrapped = kube_status_condition_is_true(p->host, HOST_COND_BOOTSTRAPPED);
    if (!was_bootstrapped || g.n_applied)
        host__event(p, KUBE_EVENT_NORMAL, "Bootstrapped",
                    "profile %s: %zu steps verified, %zu applied", p->profile, n, g.n_applied);
    host__disconnect(p); /* registration needs no SSH; free the slot for other hosts */
    ret = rc_controller_acting(p->hc->ctl) ? host__register(p, u) : rc_requeue();
    goto out;

out_err:
    ret = rc_error(r);
out:
    if (items)
        sshc_batch_items_done(items, n_items);
    if (texts)
        for (size_t k = 0; k < n; k++)
            free(texts[k]);
    free(texts);
    free(items);
    free(item_step);
    free(st);
    json_decref(g.done);
    hp_plan_free(plan);
    return ret;
}
