#include "shim_render.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_json.h"
#include "cm_time.h"

static int dns1123_valid(const char *s, size_t max_len) {
    size_t n = strlen(s);

    if (n == 0 || n > max_len)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            continue;
        if ((c != '-' && c != '.') || i == 0 || i == n - 1)
            return 0;
        /* Every dot-separated label starts and ends with an alphanumeric. */
        if (c == '.' && (s[i - 1] == '.' || s[i - 1] == '-' || s[i + 1] == '-'))
            return 0;
    }
    return 1;
}

int shim_k8s_name(const char *rest, size_t max_len, char *out, size_t n) {
    uint32_t h = 2166136261u;
    size_t o = 0, keep;

    if (n < 64 || max_len < 16)
        return -EINVAL;
    if (dns1123_valid(rest, max_len) && strlen(rest) < n) {
        memcpy(out, rest, strlen(rest) + 1);
        return 0;
    }
    for (const char *p = rest; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    /* Room for "-xxxxxxxx" and the NUL. */
    keep = (max_len < n - 1 ? max_len : n - 1) - 9;
    if (keep > 40)
        keep = 40;
    for (const char *p = rest; *p && o < keep; p++) {
        char c = *p;

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            c = '-';
        if (c == '-' && (o == 0 || out[o - 1] == '-'))
            continue;
        out[o++] = c;
    }
    while (o > 0 && out[o - 1] == '-')
        o--;
    snprintf(out + o, n - o, "%sx%08x", o ? "-" : "", (unsigned)h);
    return 0;
}

const char *shim_rest_name(const json_t *obj) {
    json_t *ann = cm_json_get(obj, "metadata.annotations");
    const char *s = json_string_value(json_object_get(ann, SHIM_ANN_REST_NAME));

    return s ? s : cm_json_get_str(obj, "metadata.name");
}

char *shim_render_time(const char *rfc3339, char *out, size_t n) {
    int64_t ms;
    time_t t;
    struct tm tm;

    if (n)
        out[0] = 0;
    if (!rfc3339 || !*rfc3339 || cm_time_parse_rfc3339(rfc3339, &ms) < 0)
        return out;
    t = (time_t)(ms / 1000);
    if (!gmtime_r(&t, &tm))
        return out;
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000) * 1000);
    return out;
}

const char *shim_host_status(const json_t *host) {
    const char *p = cm_json_get_str(host, "status.phase");

    return p && *p ? p : "investigating";
}

bool shim_host_available(const json_t *host, bool managed) {
    const char *p = cm_json_get_str(host, "status.phase");

    if (!p)
        return false;
    if (strcmp(p, "active") == 0)
        return true;
    return !managed && strcmp(p, "disassociated") == 0;
}

static json_t *str_or_empty(const char *s) {
    return json_string(s ? s : "");
}

json_t *shim_render_host(const json_t *host) {
    json_t *o = json_object();
    char ts[40];

    if (!o)
        return NULL;
    json_object_set_new(o, "address", str_or_empty(cm_json_get_str(host, "spec.address")));
    json_object_set_new(o, "status", json_string(shim_host_status(host)));
    json_object_set_new(o, "os", str_or_empty(cm_json_get_str(host, "status.os")));
    json_object_set_new(o, "cpus", json_integer(cm_json_get_int(host, "status.cpus", 0)));
    json_object_set_new(o, "memory", json_integer(cm_json_get_int(host, "status.memory", 0)));
    json_object_set_new(o, "space", json_integer(cm_json_get_int(host, "status.space", 0)));
    json_object_set_new(o, "last_check",
                        json_string(shim_render_time(cm_json_get_str(host, "status.lastCheck"), ts,
                                                     sizeof ts)));
    json_object_set_new(o, "source", str_or_empty(cm_json_get_str(host, "spec.source")));
    return o;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *shim_render_cluster(const json_t *cluster, const json_t *members, const char *net_rest_name,
                            const char *cm_rest_name, bool managed, enum shim_cluster_form form) {
    json_t *o = json_object(), *hostset, *h;
    json_t *ann = cm_json_get(cluster, "metadata.annotations");
    const char *stored = json_string_value(json_object_get(ann, SHIM_ANN_REST_STATUS));
    const char *net = net_rest_name ? net_rest_name : cm_json_get_str(cluster, "spec.network");
    size_t n = json_array_size(members), avail = 0, i;
    const char **addrs;

    if (!o)
        return NULL;
    addrs = calloc(n + 1, sizeof *addrs);
    if (!addrs) {
        json_decref(o);
        return NULL;
    }
    json_array_foreach(members, i, h) {
        addrs[i] = cm_json_get_str(h, "spec.address");
        if (!addrs[i])
            addrs[i] = "";
        if (shim_host_available(h, managed))
            avail++;
    }
    qsort(addrs, n, sizeof *addrs, cmp_str);
    json_object_set_new(o, "name", str_or_empty(shim_rest_name(cluster)));
    if (form == SHIM_CLUSTER_GET) {
        /* Computed, never the stored value (spec §6.2). */
        const char *st = avail == n ? "ok" : avail == 0 ? "failed" : "degraded";

        json_object_set_new(o, "status", json_string(st));
    } else {
        json_object_set_new(o, "status", str_or_empty(stored));
    }
    json_object_set_new(o, "network", json_string(net && *net ? net : "default"));
    if (form != SHIM_CLUSTER_SAFE) {
        hostset = json_array();
        for (i = 0; i < n; i++)
            json_array_append_new(hostset, json_string(addrs[i]));
        json_object_set_new(o, "hostset", hostset);
    }
    json_object_set_new(o, "container_manager", str_or_empty(cm_rest_name));
    if (form == SHIM_CLUSTER_GET)
        json_object_set_new(o, "hosts",
                            json_pack("{s:I, s:I, s:I}", "total", (json_int_t)n, "available",
                                      (json_int_t)avail, "unavailable", (json_int_t)(n - avail)));
    free(addrs);
    return o;
}

const char *shim_operation_status(const json_t *op) {
    const char *p = cm_json_get_str(op, "status.phase");

    if (p && strcmp(p, "Finished") == 0)
        return "finished";
    if (p && (strcmp(p, "Failed") == 0 || strcmp(p, "Canceled") == 0))
        return "failed";
    return "in_process";
}

int shim_operation_active(const json_t *op) {
    return strcmp(shim_operation_status(op), "in_process") == 0 &&
           !cm_json_get(op, "metadata.deletionTimestamp");
}

json_t *shim_render_operation(const json_t *op, const char *cluster_rest_name) {
    const char *type = cm_json_get_str(op, "spec.type");
    const char *list_key = "restarted";
    json_t *o = json_object(), *done = json_array(), *inproc = json_array(), *e;
    const char *started = cm_json_get_str(op, "status.startedAt");
    char ts[40];
    size_t i;

    if (!o || !done || !inproc) {
        json_decref(o);
        json_decref(done);
        json_decref(inproc);
        return NULL;
    }
    if (type && strcmp(type, "upgrade") == 0)
        list_key = "upgraded";
    else if (type && strcmp(type, "deploy") == 0)
        list_key = "deployed";
    json_array_foreach(cm_json_get(op, "status.hosts"), i, e) {
        const char *step = json_string_value(json_object_get(e, "step"));
        const char *addr = json_string_value(json_object_get(e, "address"));

        if (!addr)
            addr = json_string_value(json_object_get(e, "name"));
        if (!addr || !step)
            continue;
        if (strcmp(step, "Done") == 0)
            json_array_append_new(done, json_string(addr));
        else if (strcmp(step, "Pending") != 0 && strcmp(step, "Skipped") != 0)
            /* REF leaves a failed host in in_process (spec §11.5 step 3c). */
            json_array_append_new(inproc, json_string(addr));
    }
    json_object_set_new(o, "name", str_or_empty(cluster_rest_name));
    json_object_set_new(o, "status", json_string(shim_operation_status(op)));
    if (type && strcmp(type, "deploy") == 0)
        json_object_set_new(o, "version", str_or_empty(cm_json_get_str(op, "spec.version")));
    json_object_set_new(o, list_key, done);
    json_object_set_new(o, "in_process", inproc);
    /* Before the controller starts it, the run "started" when it was requested (REF stores
     * started_at in the initial record). */
    if (!started)
        started = cm_json_get_str(op, "metadata.creationTimestamp");
    json_object_set_new(o, "started_at", json_string(shim_render_time(started, ts, sizeof ts)));
    json_object_set_new(o, "finished_at",
                        json_string(shim_render_time(cm_json_get_str(op, "status.finishedAt"), ts,
                                                     sizeof ts)));
    return o;
}

json_t *shim_render_network(const json_t *net) {
    const char *type = cm_json_get_str(net, "spec.type");
    json_t *opts = cm_json_get(net, "spec.options");

    return json_pack("{s:s, s:s, s:o}", "name", shim_rest_name(net) ? shim_rest_name(net) : "",
                     "type", type ? type : "flannel_etcd", "options",
                     json_is_object(opts) ? json_deep_copy(opts) : json_object());
}

json_t *shim_render_cm(const json_t *cm, const char *token) {
    const char *type = cm_json_get_str(cm, "spec.type");
    const char *url = cm_json_get_str(cm, "spec.serverURL");
    json_t *src = cm_json_get(cm, "spec.options");
    json_t *opts = json_is_object(src) ? json_deep_copy(src) : json_object();

    if (!opts)
        return NULL;
    /* spec.options holds what a REST client sent (minus the token, which lives in a Secret);
     * objects written with kubectl only have the typed fields, so those fill the gaps. */
    if (url && !json_object_get(opts, "server_url"))
        json_object_set_new(opts, "server_url", json_string(url));
    if (cm_json_get_bool(cm, "spec.insecureSkipTLSVerify", 0) &&
        !json_object_get(opts, "insecure_skip_tls_verify"))
        json_object_set_new(opts, "insecure_skip_tls_verify", json_true());
    if (token)
        json_object_set_new(opts, "token", json_string(token));
    return json_pack("{s:s, s:s, s:o}", "name", shim_rest_name(cm) ? shim_rest_name(cm) : "",
                     "type", type ? type : "openshift", "options", opts);
}

char *shim_json_text(const json_t *v) {
    /* No JSON_COMPACT: jansson then writes ", " and ": " like Python's json.dumps. */
    return json_dumps(v, JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
}
