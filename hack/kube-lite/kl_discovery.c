/* kl_discovery: /version, /api, /apis and the per group/version resource lists, built from the
 * store's types on every request (under the read lock), so a new CRD shows up at once. kubectl
 * asks for the aggregated discovery form first; answering with plain application/json makes it
 * fall back to these classic documents, as with older servers. */
#include "kl_server.h"

#include "kl_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *gv_json(const char *group, const char *version) {
    char gv[300];
    if (*group)
        snprintf(gv, sizeof(gv), "%s/%s", group, version);
    else
        snprintf(gv, sizeof(gv), "%s", version);
    return json_pack("{s:s,s:s}", "groupVersion", gv, "version", version);
}

static int array_has(const json_t *a, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

/* The versions of group in preference order (types list their versions by priority). */
static json_t *group_versions(struct kl_store *s, const char *group) {
    json_t *out = json_array();
    for (size_t t = 0; t < s->n_types; t++) {
        struct kl_rtype *rt = s->types[t];
        if (rt->removed || strcmp(rt->group, group) != 0)
            continue;
        for (size_t i = 0; i < rt->n_versions; i++)
            if (!array_has(out, rt->versions[i].name))
                json_array_append_new(out, json_string(rt->versions[i].name));
    }
    return out;
}

static json_t *group_json(struct kl_store *s, const char *group) {
    json_t *vs = group_versions(s, group);
    if (json_array_size(vs) == 0) {
        json_decref(vs);
        return NULL;
    }
    json_t *versions = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(vs, i, v) json_array_append_new(versions, gv_json(group, json_string_value(v)));
    json_t *g = json_pack("{s:s,s:o,s:o}", "name", group, "versions", versions, "preferredVersion",
                          gv_json(group, json_string_value(json_array_get(vs, 0))));
    json_decref(vs);
    return g;
}

static json_t *resource_list(struct kl_store *s, const char *group, const char *version) {
    json_t *res = json_array();
    int any = 0;
    static const char *const all_verbs[] = {"create", "delete", "deletecollection", "get",
                                            "list", "patch", "update", "watch", NULL};
    for (size_t t = 0; t < s->n_types; t++) {
        struct kl_rtype *rt = s->types[t];
        if (rt->removed || strcmp(rt->group, group) != 0)
            continue;
        const struct kl_rversion *rv = kl_rtype_version(rt, version);
        if (!rv)
            continue;
        any = 1;
        json_t *verbs = json_array();
        if (rt->create_only) {
            json_array_append_new(verbs, json_string("create"));
        } else {
            for (size_t i = 0; all_verbs[i]; i++)
                json_array_append_new(verbs, json_string(all_verbs[i]));
        }
        json_t *r = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", rt->resource, "singularName",
                              rt->singular, "namespaced", rt->namespaced, "kind", rt->kind,
                              "verbs", verbs);
        if (json_array_size(rt->short_names))
            json_object_set_new(r, "shortNames", json_deep_copy(rt->short_names));
        if (json_array_size(rt->categories))
            json_object_set_new(r, "categories", json_deep_copy(rt->categories));
        json_array_append_new(res, r);
        char sub[300];
        if (rv->status_sub) {
            snprintf(sub, sizeof(sub), "%s/status", rt->resource);
            json_array_append_new(res, json_pack("{s:s,s:s,s:b,s:s,s:[sss]}", "name", sub,
                                                 "singularName", "", "namespaced", rt->namespaced,
                                                 "kind", rt->kind, "verbs", "get", "patch", "update"));
        }
        if (rt->flag == KL_KIND_POD) {
            snprintf(sub, sizeof(sub), "%s/eviction", rt->resource);
            json_array_append_new(res, json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:[s]}", "name", sub,
                                                 "singularName", "", "namespaced", 1, "group",
                                                 "policy", "version", "v1", "kind", "Eviction",
                                                 "verbs", "create"));
        }
    }
    if (!any) {
        json_decref(res);
        return NULL;
    }
    char gv[300];
    if (*group)
        snprintf(gv, sizeof(gv), "%s/%s", group, version);
    else
        snprintf(gv, sizeof(gv), "%s", version);
    return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", res);
}

void kl_discovery_serve(struct kl_server *srv, struct kl_http_conn *conn,
                        const struct kl_http_req *req, int *ret_handled) {
    struct kl_store *s = &srv->store;
    const char *p = req->path;
    json_t *doc = NULL;
    *ret_handled = 0;
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        len--;
    char *path = strndup(p, len);
    if (!path)
        return;
    if (strcmp(path, "/version") == 0) {
        doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor", "32",
                        "gitVersion", "v1.32.0+kube-lite", "gitCommit", "kube-lite",
                        "gitTreeState", "clean", "buildDate", "2026-01-01T00:00:00Z", "goVersion",
                        "go1.23", "compiler", "gc", "platform", "linux/amd64");
    } else if (strcmp(path, "/api") == 0) {
        doc = json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
                        "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                        srv->external_url ? srv->external_url : "");
    } else if (strcmp(path, "/apis") == 0) {
        json_t *groups = json_array();
        json_t *seen = json_array();
        pthread_rwlock_rdlock(&s->lock);
        for (size_t t = 0; t < s->n_types; t++) {
            struct kl_rtype *rt = s->types[t];
            if (rt->removed || !rt->group[0] || array_has(seen, rt->group))
                continue;
            json_array_append_new(seen, json_string(rt->group));
            json_t *g = group_json(s, rt->group);
            if (g)
                json_array_append_new(groups, g);
        }
        pthread_rwlock_unlock(&s->lock);
        json_decref(seen);
        doc = json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", groups);
    } else if (strcmp(path, "/api/v1") == 0) {
        pthread_rwlock_rdlock(&s->lock);
        doc = resource_list(s, "", "v1");
        pthread_rwlock_unlock(&s->lock);
    } else if (strncmp(path, "/apis/", 6) == 0) {
        const char *g = path + 6;
        const char *sl = strchr(g, '/');
        if (!sl) {
            pthread_rwlock_rdlock(&s->lock);
            json_t *gj = group_json(s, g);
            pthread_rwlock_unlock(&s->lock);
            if (gj) {
                doc = gj;
                json_object_set_new(doc, "kind", json_string("APIGroup"));
                json_object_set_new(doc, "apiVersion", json_string("v1"));
            } else {
                *ret_handled = 1;
                kl_send_status(conn, 404, "NotFound", "the server could not find the requested resource");
            }
        } else if (!strchr(sl + 1, '/')) {
            char *group = strndup(g, (size_t)(sl - g));
            pthread_rwlock_rdlock(&s->lock);
            doc = group ? resource_list(s, group, sl + 1) : NULL;
            pthread_rwlock_unlock(&s->lock);
            free(group);
            if (!doc) {
                *ret_handled = 1;
                kl_send_status(conn, 404, "NotFound", "the server could not find the requested resource");
            }
        }
    }
    free(path);
    if (doc) {
        *ret_handled = 1;
        kl_send_json(conn, 200, doc);
        json_decref(doc);
    }
}
