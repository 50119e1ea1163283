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

static const char *first_str(const json_t *obj, const char *const *keys) {
    for (; *keys; keys++) {
        const char *s = json_string_value(json_object_get(obj, *keys));
        if (s && *s)
            return s;
    }
    return NULL;
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
    put(v, "host.nodeName", in->node_name);
    put(v, "cluster.name", in->cluster ? cm_json_get_str(in->cluster, "metadata.name") : NULL);

    const json_t *opts = in->network ? cm_json_get(in->network, "spec.options") : NULL;
    const char *type = in->network ? cm_json_get_str(in->network, "spec.type") : NULL;
    if (!type || !*type)
        type = "flannel_etcd";
    put(v, "network.name", in->network ? cm_json_get_str(in->network, "metadata.name") : "default");
    put(v, "network.type", type);
    static const char *const addr_keys[] = {"address", NULL};
    static const char *const etcd_keys[] = {"etcdEndpoints", "etcd_server_url", "server_url", NULL};
    static const char *const prefix_keys[] = {"etcdPrefix", "etcd_prefix", NULL};
    const char *address = first_str(opts, addr_keys);
    const char *etcd = first_str(opts, etcd_keys);
    const char *prefix = first_str(opts, prefix_keys);
    put(v, "network.address", address);
    put(v, "network.etcdEndpoints", etcd ? etcd : "http://127.0.0.1:2379");
    put(v, "network.etcdPrefix", prefix ? prefix : "/atomic01/network");
    if (!strcmp(type, "flannel_server") && address) {
        char *opt = NULL;
        if (asprintf(&opt, "--remote=%s", address) < 0)
            opt = NULL;
        put(v, "network.flannelOptions", opt);
        free(opt);
    } else {
        put(v, "network.flannelOptions", "");
    }

    const json_t *cm = in->cm;
    put(v, "containerManager.name", cm ? cm_json_get_str(cm, "metadata.name") : NULL);
    put(v, "containerManager.type", cm ? cm_json_get_str(cm, "spec.type") : NULL);
    put(v, "kube.server", in->server);
    put(v, "kube.ca", in->ca);
    put(v, "kube.token", in->token);
    put(v, "kube.insecure",
        cm && cm_json_get_bool(cm, "spec.insecureSkipTLSVerify", 0) ? "true" : "false");
    return v;
}
