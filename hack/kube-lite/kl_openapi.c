/* kl_openapi: /openapi/v3 (root and per group/version documents). kubectl needs them for two
 * things: to learn that the server validates fields itself (a PATCH operation per kind with the
 * fieldValidation query parameter, so `kubectl apply` sends fieldValidation=Strict instead of
 * validating client-side against /openapi/v2), and for `kubectl explain` (components.schemas
 * with x-kubernetes-group-version-kind). Custom resources get their CRD schema; built-in kinds a
 * skeleton (apiVersion, kind, metadata, spec, status) only.
 *
 * The PATCH operations deliberately do not list application/strategic-merge-patch+json: kubectl
 * would then compute strategic merge patches from these (skeleton) schemas; without it, kubectl
 * uses its compiled-in Go types, which carry the real patch strategies.
 *
 * /openapi/v2 answers 404: kubectl asks for it in protobuf only, and copes without it. */
#include "kl_server.h"

#include "kl_http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char DESC_APIVERSION[] =
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#resources";
static const char DESC_KIND[] =
    "Kind is a string value representing the REST resource this object represents. Servers may "
    "infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
static const char OBJECTMETA[] = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/* "commissaire.io" -> "io.commissaire"; "" -> "io.k8s.api.core"; "apps" -> "io.k8s.api.apps" */
static char *schema_name(const struct kl_rtype *rt, const char *version) {
    char *out = NULL;
    if (rt->flag != KL_KIND_CUSTOM) {
        const char *g = rt->group[0] ? rt->group : "core";
        char *short_g = strdup(g);
        char *dot = short_g ? strchr(short_g, '.') : NULL;
        if (dot && strstr(g, ".k8s.io"))
            *dot = 0; /* rbac.authorization.k8s.io -> rbac */
        if (asprintf(&out, "io.k8s.api.%s.%s.%s", short_g ? short_g : g, version, rt->kind) < 0)
            out = NULL;
        free(short_g);
        return out;
    }
    /* reverse the dotted group */
    char rev[512] = "";
    const char *g = rt->group;
    size_t n = strlen(g);
    size_t end = n;
    for (size_t i = n; i-- > 0;) {
        if (g[i] == '.' || i == 0) {
            size_t start = g[i] == '.' ? i + 1 : 0;
            if (rev[0])
                strncat(rev, ".", sizeof(rev) - strlen(rev) - 1);
            strncat(rev, g + start, end - start < sizeof(rev) - strlen(rev) - 1 ? end - start : 0);
            end = i;
        }
    }
    if (asprintf(&out, "%s.%s.%s", rev, version, rt->kind) < 0)
        out = NULL;
    return out;
}

static json_t *gvk_json(const struct kl_rtype *rt, const char *version) {
    return json_pack("{s:s,s:s,s:s}", "group", rt->group, "kind", rt->kind, "version", version);
}

static json_t *objectmeta_schema(void) {
    return json_pack(
        "{s:s,s:s,s:{s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:{s:s},s:s},s:{s:s,s:{s:s},s:s},"
        "s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s,s:s},s:{s:s,s:{s:s},s:s}}}",
        "description",
        "ObjectMeta is metadata that all persisted resources must have, which includes all objects "
        "users must create.",
        "type", "object", "properties", "name", "type", "string", "description",
        "Name must be unique within a namespace.", "namespace", "type", "string", "description",
        "Namespace defines the space within which each name must be unique.", "generateName",
        "type", "string", "description",
        "GenerateName is an optional prefix, used by the server, to generate a unique name ONLY "
        "IF the Name field has not been provided.",
        "labels", "type", "object", "additionalProperties", "type", "string", "description",
        "Map of string keys and values that can be used to organize and categorize (scope and "
        "select) objects.",
        "annotations", "type", "object", "additionalProperties", "type", "string", "description",
        "Annotations is an unstructured key value map stored with a resource that may be set by "
        "external tools to store and retrieve arbitrary metadata.",
        "uid", "type", "string", "description",
        "UID is the unique in time and space value for this object.", "resourceVersion", "type",
        "string", "description",
        "An opaque value that represents the internal version of this object.",
        "creationTimestamp", "type", "string", "description",
        "CreationTimestamp is a timestamp representing the server time when this object was "
        "created.",
        "deletionTimestamp", "type", "string", "description",
        "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted.",
        "generation", "type", "integer", "format", "int64", "description",
        "A sequence number representing a specific generation of the desired state.",
        "finalizers", "type", "array", "items", "type", "string", "description",
        "Must be empty before the object is deleted from the registry.");
}

/* The kind's schema: the CRD's, with metadata pointing at ObjectMeta, or a skeleton. */
static json_t *kind_schema(const struct kl_rtype *rt, const struct kl_rversion *v) {
    json_t *s;
    if (v->raw_schema) {
        s = json_deep_copy(v->raw_schema);
    } else {
        s = json_pack("{s:s,s:s,s:{s:{s:s,s:s},s:{s:s,s:s}}}", "description",
                      "kube-lite serves a skeleton schema for built-in kinds; see the Kubernetes "
                      "API reference for their fields.",
                      "type", "object", "properties", "spec", "type", "object", "description",
                      "Spec (see the Kubernetes API reference).", "status", "type", "object",
                      "description", "Status (see the Kubernetes API reference).");
        if (rt->flag == KL_KIND_PLAIN && (!strcmp(rt->resource, "configmaps") ||
                                          !strcmp(rt->resource, "secrets"))) {
            json_t *props = json_object_get(s, "properties");
            json_object_del(props, "spec");
            json_object_del(props, "status");
            json_object_set_new(props, "data",
                                json_pack("{s:s,s:{s:s},s:s}", "type", "object",
                                          "additionalProperties", "type", "string",
                                          "description", "Data contains the configuration data."));
        }
    }
    if (!json_is_object(s))
        s = json_object();
    json_t *props = json_object_get(s, "properties");
    if (!json_is_object(props)) {
        props = json_object();
        json_object_set_new(s, "properties", props);
    }
    json_object_set_new(props, "apiVersion",
                        json_pack("{s:s,s:s}", "type", "string", "description", DESC_APIVERSION));
    json_object_set_new(props, "kind",
                        json_pack("{s:s,s:s}", "type", "string", "description", DESC_KIND));
    char ref[200];
    snprintf(ref, sizeof(ref), "#/components/schemas/%s", OBJECTMETA);
    json_object_set_new(props, "metadata",
                        json_pack("{s:[{s:s}],s:s}", "allOf", "$ref", ref, "description",
                                  "Standard object's metadata. More info: "
                                  "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                                  "api-conventions.md#metadata"));
    json_object_set_new(s, "x-kubernetes-group-version-kind",
                        json_pack("[o]", gvk_json(rt, v->name)));
    return s;
}

static json_t *operation(const struct kl_rtype *rt, const char *version, const char *action,
                         int with_body, int field_validation) {
    json_t *params = json_array();
    if (field_validation) {
        json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s},s:b}", "name", "fieldValidation", "in",
                                                "query", "description",
                                                "fieldValidation instructs the server on how to handle objects in the "
                                                "request containing unknown or duplicate fields.",
                                                "schema", "type", "string", "uniqueItems", 1));
        json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s},s:b}", "name", "dryRun", "in", "query",
                                                "schema", "type", "string", "uniqueItems", 1));
        json_array_append_new(params, json_pack("{s:s,s:s,s:{s:s},s:b}", "name", "fieldManager", "in",
                                                "query", "schema", "type", "string", "uniqueItems", 1));
    }
    json_t *op = json_pack("{s:o,s:{s:{s:s}},s:s,s:o}", "parameters", params, "responses", "200",
                           "description", "OK", "x-kubernetes-action", action,
                           "x-kubernetes-group-version-kind", gvk_json(rt, version));
    if (with_body) {
        json_t *content = json_object();
        if (strcmp(action, "patch") == 0) {
            json_object_set_new(content, "application/json-patch+json",
                                json_pack("{s:{s:s}}", "schema", "type", "object"));
            json_object_set_new(content, "application/merge-patch+json",
                                json_pack("{s:{s:s}}", "schema", "type", "object"));
        } else {
            json_object_set_new(content, "*/*", json_pack("{s:{s:s}}", "schema", "type", "object"));
        }
        json_object_set_new(op, "requestBody", json_pack("{s:o}", "content", content));
    }
    return op;
}

static json_t *gv_document(struct kl_store *s, const char *group, const char *version) {
    json_t *paths = json_object();
    json_t *schemas = json_object();
    int any = 0;
    json_object_set_new(schemas, OBJECTMETA, objectmeta_schema());
    for (size_t t = 0; t < s->n_types; t++) {
        struct kl_rtype *rt = s->types[t];
        if (rt->removed || strcmp(rt->group, group) != 0)
            continue;
        const struct kl_rversion *v = kl_rtype_version(rt, version);
        if (!v)
            continue;
        any = 1;
        char base[600], item[700];
        if (group[0])
            snprintf(base, sizeof(base), "/apis/%s/%s/%s%s", group, version,
                     rt->namespaced ? "namespaces/{namespace}/" : "", rt->resource);
        else
            snprintf(base, sizeof(base), "/api/%s/%s%s", version,
                     rt->namespaced ? "namespaces/{namespace}/" : "", rt->resource);
        snprintf(item, sizeof(item), "%s/{name}", base);
        json_object_set_new(paths, base,
                            json_pack("{s:o,s:o}", "get", operation(rt, version, "list", 0, 0),
                                      "post", operation(rt, version, "post", 1, 1)));
        if (!rt->create_only) {
            json_object_set_new(paths, item,
                                json_pack("{s:o,s:o,s:o,s:o}", "get",
                                          operation(rt, version, "get", 0, 0), "put",
                                          operation(rt, version, "put", 1, 1), "patch",
                                          operation(rt, version, "patch", 1, 1), "delete",
                                          operation(rt, version, "delete", 0, 0)));
        }
        char *name = schema_name(rt, version);
        if (name)
            json_object_set_new(schemas, name, kind_schema(rt, v));
        free(name);
    }
    if (!any) {
        json_decref(paths);
        json_decref(schemas);
        return NULL;
    }
    return json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:o}}", "openapi", "3.0.0", "info", "title",
                     "Kubernetes", "version", "v1.32.0", "paths", paths, "components", "schemas",
                     schemas);
}

static unsigned long long fnv1a(const char *s) {
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static char *doc_text(struct kl_store *s, const char *group, const char *version) {
    json_t *doc = gv_document(s, group, version);
    char *txt = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    return txt;
}

void kl_openapi_serve(struct kl_server *srv, struct kl_http_conn *conn,
                      const struct kl_http_req *req) {
    struct kl_store *s = &srv->store;
    const char *p = req->path;
    if (strcmp(p, "/openapi/v3") == 0 || strcmp(p, "/openapi/v3/") == 0) {
        json_t *paths = json_object();
        pthread_rwlock_rdlock(&s->lock);
        for (size_t t = 0; t < s->n_types; t++) {
            struct kl_rtype *rt = s->types[t];
            if (rt->removed)
                continue;
            for (size_t i = 0; i < rt->n_versions; i++) {
                char key[400];
                if (rt->group[0])
                    snprintf(key, sizeof(key), "apis/%s/%s", rt->group, rt->versions[i].name);
                else
                    snprintf(key, sizeof(key), "api/%s", rt->versions[i].name);
                if (json_object_get(paths, key))
                    continue;
                char *txt = doc_text(s, rt->group, rt->versions[i].name);
                char url[600];
                snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%016llX", key,
                         txt ? fnv1a(txt) : 0ULL);
                free(txt);
                json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
            }
        }
        pthread_rwlock_unlock(&s->lock);
        json_t *root = json_pack("{s:o}", "paths", paths);
        kl_send_json(conn, 200, root);
        json_decref(root);
        return;
    }
    if (strncmp(p, "/openapi/v3/", 12) == 0) {
        const char *rest = p + 12;
        char group[300] = "", version[100] = "";
        if (strncmp(rest, "api/", 4) == 0) {
            snprintf(version, sizeof(version), "%s", rest + 4);
        } else if (strncmp(rest, "apis/", 5) == 0) {
            const char *sl = strchr(rest + 5, '/');
            if (sl && (size_t)(sl - rest - 5) < sizeof(group)) {
                memcpy(group, rest + 5, (size_t)(sl - rest - 5));
                group[sl - rest - 5] = 0;
                snprintf(version, sizeof(version), "%s", sl + 1);
            }
        }
        if (version[0] && !strchr(version, '/')) {
            pthread_rwlock_rdlock(&s->lock);
            char *txt = doc_text(s, group, version);
            pthread_rwlock_unlock(&s->lock);
            if (txt) {
                kl_http_respond(conn, 200, "application/json", txt, strlen(txt), NULL);
                free(txt);
                return;
            }
        }
    }
    kl_send_status(conn, 404, "NotFound", "the server could not find the requested resource");
}
