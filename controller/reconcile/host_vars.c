#include "host_vars.h"

#include "cm_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets v[group][name] = s (or ""): keys are "group.name". */
static void put(json_t *v, const char *k, const char *s) {
    const char *dot = strchr(k, '.');
    char group[32];
    snprintf(group, sizeof group, "%.*s", (int)(dot - k), k);
    json_t *g = json_object_get(v, group);
    if (!g) {
        g = json_object();
        json_object_set_new(v, group, g);
    }
    json_object_set_new(g, dot + 1, json_string(s ? s : ""));
}

json_t *host_vars_build(const struct host_vars_input *in) {
    json_t *v = json_object();
    if (!v)
        return NULL;
    const json_t *h = in->host;
    put(v, "host.address", cm_json_get_str(h, "spec.address"));
    put(v, "host.name", cm_json_get_str(h, "metadata.name"));
    put(v, "host.hostname", cm_json_get_str(h, "status.hostname"));
    put(v, "host.os", cm_json_get_str(h, "status.os"));
    put(v, "host.osVersion", cm_json_get_str(h, "status.osVersion"));
    put(v, "node.name", in->node_name);
    put(v, "cluster.name", in->cluster ? cm_json_get_str(in->cluster, "metadata.name") : NULL);

    const char *type = in->network ? cm_json_get_str(in->network, "spec.type") : NULL;
    put(v, "network.name", in->network ? cm_json_get_str(in->network, "metadata.name") : "default");
    put(v, "network.type", type && *type ? type : "flannel_etcd");
    json_t *opts = in->network ? cm_json_get(in->network, "spec.options") : NULL;
    json_object_set_new(json_object_get(v, "network"), "options",
                        json_is_object(opts) ? json_deep_copy(opts) : json_object());

    const json_t *cm = in->cm;
    put(v, "cm.name", cm ? cm_json_get_str(cm, "metadata.name") : NULL);
    put(v, "cm.type", cm ? cm_json_get_str(cm, "spec.type") : NULL);
    put(v, "cm.server_url", in->server);
    put(v, "cm.ca", in->ca);
    put(v, "cm.insecure_skip_tls_verify",
        cm && cm_json_get_bool(cm, "spec.insecureSkipTLSVerify", 0) ? "true" : "false");
    put(v, "cm.token", in->token);
    put(v, "cm.client_cert", in->client_cert);
    put(v, "cm.client_key", in->client_key);
    return v;
}

static void wipe(json_t *j) {
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_string(j))
        explicit_bzero((char *)json_string_value(j), json_string_length(j));
    else if (json_is_object(j))
        json_object_foreach(j, k, x) wipe(x);
    else if (json_is_array(j))
        json_array_foreach(j, i, x) wipe(x);
}

void host_vars_free(json_t *vars) {
    if (!vars)
        return;
    wipe(vars);
    json_decref(vars);
}
