#include "host_state.h"

#include "cm_json.h"
#include "cm_time.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[HOST_PHASE__MAX] = {
    [HOST_PHASE_NONE] = "",
    [HOST_PHASE_INVESTIGATING] = "investigating",
    [HOST_PHASE_BOOTSTRAPPING] = "bootstrapping",
    [HOST_PHASE_ACTIVE] = "active",
    [HOST_PHASE_DISASSOCIATED] = "disassociated",
    [HOST_PHASE_FAILED] = "failed",
};

static const char *const action_names[HOST_ACTION__MAX] = {
    [HOST_ACTION_DECOMMISSION] = "decommission", [HOST_ACTION_INVESTIGATE] = "investigate",
    [HOST_ACTION_BOOTSTRAP] = "bootstrap",       [HOST_ACTION_REGISTER] = "register",
    [HOST_ACTION_CHECK] = "check",               [HOST_ACTION_WAIT] = "wait",
};

const char *host_phase_name(enum host_phase p) {
    return (unsigned)p < HOST_PHASE__MAX ? phase_names[p] : "";
}

enum host_phase host_phase_from_string(const char *s) {
    if (!s)
        return HOST_PHASE_NONE;
    for (int i = 1; i < HOST_PHASE__MAX; i++)
        if (!strcmp(s, phase_names[i]))
            return (enum host_phase)i;
    return HOST_PHASE_NONE;
}

const char *host_action_name(enum host_action a) {
    return (unsigned)a < HOST_ACTION__MAX ? action_names[a] : "unknown";
}

/* Wall time of status.lastCheck, or 0 when absent/unparsable (so a check is due at once). */
static int64_t last_check_ms(const json_t *host) {
    const char *s = cm_json_get_str(host, "status.lastCheck");
    int64_t ms;
    if (!s || cm_time_parse_rfc3339(s, &ms) < 0)
        return 0;
    return ms;
}

/* Returns the delay until last + interval*0.85, or 0 when that moment has passed. */
static int64_t due_in(int64_t last, int64_t interval, int64_t now) {
    int64_t due = last + interval - interval * 15 / 100;
    return due > now ? due - now : 0;
}

enum host_action host_action_next(const json_t *host, bool managed, const struct host_timing *t,
                                  int64_t now_ms, int64_t *ret_delay_ms) {
    if (cm_json_get_str(host, "metadata.deletionTimestamp"))
        return HOST_ACTION_DECOMMISSION;
    enum host_phase phase = host_phase_from_string(cm_json_get_str(host, "status.phase"));
    int64_t gen = cm_json_get_int(host, "metadata.generation", 0);
    int64_t observed = cm_json_get_int(host, "status.observedGeneration", 0);
    /* A spec change (address, key, cluster, pinned host key...) invalidates everything learned
     * about the host; starting over is simpler and as cheap as checking what changed, because
     * bootstrap steps are idempotent. */
    if (phase == HOST_PHASE_NONE || phase == HOST_PHASE_INVESTIGATING || observed != gen)
        return HOST_ACTION_INVESTIGATE;
    if (phase == HOST_PHASE_BOOTSTRAPPING)
        return HOST_ACTION_BOOTSTRAP;
    int64_t last = last_check_ms(host);
    if (phase == HOST_PHASE_FAILED) {
        int64_t d = due_in(last, t->retry_interval_ms, now_ms);
        if (!d)
            return HOST_ACTION_INVESTIGATE;
        if (ret_delay_ms)
            *ret_delay_ms = d;
        return HOST_ACTION_WAIT;
    }
    /* active / disassociated */
    int64_t d = due_in(last, t->check_interval_ms, now_ms);
    if (!d)
        return HOST_ACTION_CHECK;
    /* Registration state that disagrees with the cluster (a container manager was added or
     * removed, or the node is not Ready yet) is acted on without waiting for the next check. */
    if (managed != (phase == HOST_PHASE_ACTIVE))
        return HOST_ACTION_REGISTER;
    if (ret_delay_ms)
        *ret_delay_ms = d;
    return HOST_ACTION_WAIT;
}

int64_t host_check_delay_ms(int64_t interval_ms, double rnd) {
    if (rnd < 0)
        rnd = 0;
    if (rnd >= 1)
        rnd = 0.999999;
    double spread = (double)interval_ms * 0.2 * (rnd - 0.5);
    int64_t d = interval_ms + (int64_t)spread;
    return d > 0 ? d : 0;
}

bool host_is_available(const json_t *host, bool managed) {
    enum host_phase phase = host_phase_from_string(cm_json_get_str(host, "status.phase"));
    if (phase == HOST_PHASE_ACTIVE)
        return true;
    return !managed && phase == HOST_PHASE_DISASSOCIATED;
}

char *host_node_name(const char *address) {
    if (!address)
        return NULL;
    size_t n = strlen(address);
    if (n == 0 || n > 253)
        return NULL;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    /* DNS-1123 subdomain: labels of [a-z0-9-], 1..63 chars, alphanumeric at both ends. */
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = (char)tolower((unsigned char)address[i]);
        if (c == '.' || c == '\0') {
            if (label == 0 || out[i - 1] == '-')
                goto bad;
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-') {
            if ((label == 0 && c == '-') || ++label > 63)
                goto bad;
        } else {
            goto bad;
        }
        out[i] = c;
    }
    return out;
bad:
    free(out);
    return NULL;
}
