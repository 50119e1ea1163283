/* kl_crd: CustomResourceDefinitions: admission (the checks of the real apiextensions-apiserver
 * that matter to clients), installing the resource type so it is served at once, and removing
 * it after the CRD's deletion finished.
 *
 * A type's versions array may be replaced by a CRD update while a request on another thread
 * still reads the old one (requests keep a pointer to their version after dropping the lock), so
 * replaced arrays are kept until the store is freed instead of being freed at once. */
#include "kl_server.h"

#include "cm_json.h"
#include "kl_schema.h"
#include "kl_table.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct retired {
    struct kl_rversion *versions;
    size_t n;
    struct retired *next;
};

static struct retired *graveyard;
static pthread_mutex_t graveyard_mu = PTHREAD_MUTEX_INITIALIZER;

static void versions_free(struct kl_rversion *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        kl_schema_free(v[i].schema);
        json_decref(v[i].raw_schema);
        json_decref(v[i].columns);
    }
    free(v);
}

void kl_crd_cleanup(void) {
    pthread_mutex_lock(&graveyard_mu);
    while (graveyard) {
        struct retired *r = graveyard;
        graveyard = r->next;
        versions_free(r->versions, r->n);
        free(r);
    }
    pthread_mutex_unlock(&graveyard_mu);
}

static void retire(struct kl_rversion *v, size_t n) {
    struct retired *r = calloc(1, sizeof(*r));
    if (!r)
        return; /* leak rather than free memory a reader may use */
    r->versions = v;
    r->n = n;
    pthread_mutex_lock(&graveyard_mu);
    r->next = graveyard;
    graveyard = r;
    pthread_mutex_unlock(&graveyard_mu);
}

/* Kubernetes version priority: GA > beta > alpha, higher numbers first, others last. */
static int version_rank(const char *v, int *major, int *stage, int *minor) {
    *major = *stage = *minor = 0;
    if (v[0] != 'v' || !isdigit((unsigned char)v[1]))
        return 0;
    char *end;
    *major = (int)strtol(v + 1, &end, 10);
    *stage = 3;
    *minor = 0;
    if (!*end)
        return 1;
    if (strncmp(end, "beta", 4) == 0) {
        *stage = 2;
        end += 4;
    } else if (strncmp(end, "alpha", 5) == 0) {
        *stage = 1;
        end += 5;
    } else {
        return 0;
    }
    if (!isdigit((unsigned char)*end))
        return 0;
    *minor = (int)strtol(end, &end, 10);
    return *end == 0;
}

static int version_cmp(const void *a, const void *b) {
    const struct kl_rversion *x = a, *y = b;
    int xa, xs, xm, ya, ys, ym;
    int kx = version_rank(x->name, &xa, &xs, &xm), ky = version_rank(y->name, &ya, &ys, &ym);
    if (kx != ky)
        return ky - kx;
    if (!kx)
        return strcmp(x->name, y->name);
    if (xs != ys)
        return ys - xs;
    if (xa != ya)
        return ya - xa;
    return ym - xm;
}

static int is_lower_dns(const char *s) {
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
            return 0;
    return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[strlen(s) - 1]);
}

static char *lowercase(const char *s) {
    char *r = strdup(s ? s : "");
    for (char *p = r; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return r;
}

int kl_crd_admit(struct kl_server *srv, json_t *crd, const json_t *old, struct kl_err *err) {
    (void)srv;
    json_t *causes = json_array();
    json_t *spec = json_object_get(crd, "spec");
    const char *name = cm_json_get_str(crd, "metadata.name");
    const char *group = cm_json_get_str(spec, "group");
    json_t *names = json_object_get(spec, "names");
    const char *plural = cm_json_get_str(names, "plural");
    const char *kind = cm_json_get_str(names, "kind");
    const char *scope = cm_json_get_str(spec, "scope");
    struct kl_rtype fake = {.group = "apiextensions.k8s.io", .resource = "customresourcedefinitions",
                            .kind = "CustomResourceDefinition"};

    if (!group || !*group)
        kl_cause_add(causes, "FieldValueRequired", "spec.group", "Required value");
    else if (!strchr(group, '.') || !is_lower_dns(group))
        kl_cause_add(causes, "FieldValueInvalid", "spec.group",
              "Invalid value: \"%s\": should be a domain with at least one dot", group);
    if (!plural || !*plural)
        kl_cause_add(causes, "FieldValueRequired", "spec.names.plural", "Required value");
    else if (!is_lower_dns(plural) || strchr(plural, '.'))
        kl_cause_add(causes, "FieldValueInvalid", "spec.names.plural",
              "Invalid value: \"%s\": a lowercase RFC 1123 label must consist of lower case "
              "alphanumeric characters or '-', and must start and end with an alphanumeric "
              "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
              plural);
    if (!kind || !*kind)
        kl_cause_add(causes, "FieldValueRequired", "spec.names.kind", "Required value");
    if (!scope || (strcmp(scope, "Namespaced") != 0 && strcmp(scope, "Cluster") != 0))
        kl_cause_add(causes, scope ? "FieldValueNotSupported" : "FieldValueRequired", "spec.scope",
              scope ? "Unsupported value: \"%s\": supported values: \"Cluster\", \"Namespaced\""
                    : "Required value%s",
              scope ? scope : "");
    if (name && group && plural) {
        char want[600];
        snprintf(want, sizeof(want), "%s.%s", plural, group);
        if (strcmp(name, want) != 0)
            kl_cause_add(causes, "FieldValueInvalid", "metadata.name",
                  "Invalid value: \"%s\": must be spec.names.plural+\".\"+spec.group", name);
    }
    /* defaults for names */
    if (json_is_object(names) && kind) {
        if (!cm_json_get_str(names, "singular")) {
            char *lk = lowercase(kind);
            json_object_set_new(names, "singular", json_string(lk ? lk : ""));
            free(lk);
        }
        if (!cm_json_get_str(names, "listKind")) {
            char lk[300];
            snprintf(lk, sizeof(lk), "%sList", kind);
            json_object_set_new(names, "listKind", json_string(lk));
        }
    }
    if (spec && !json_object_get(spec, "conversion"))
        json_object_set_new(spec, "conversion", json_pack("{s:s}", "strategy", "None"));

    json_t *versions = json_object_get(spec, "versions");
    size_t n_storage = 0;
    if (!json_is_array(versions) || json_array_size(versions) == 0) {
        kl_cause_add(causes, "FieldValueInvalid", "spec.versions",
              "Invalid value: null: must have exactly one version marked as storage version");
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(versions, i, v) {
            char field[200];
            const char *vn = cm_json_get_str(v, "name");
            if (!vn || !*vn) {
                snprintf(field, sizeof(field), "spec.versions[%zu].name", i);
                kl_cause_add(causes, "FieldValueRequired", field, "Required value");
            }
            if (json_is_true(json_object_get(v, "storage")))
                n_storage++;
            json_t *schema = cm_json_get(v, "schema.openAPIV3Schema");
            snprintf(field, sizeof(field), "spec.versions[%zu].schema.openAPIV3Schema", i);
            if (!schema) {
                kl_cause_add(causes, "FieldValueRequired", field,
                      "Required value: schemas are required");
            } else {
                kl_schema_check_structural_at(schema, field, causes);
                struct kl_schema *compiled = NULL;
                char *msg = NULL;
                if (kl_schema_new(schema, &compiled, &msg) < 0)
                    kl_cause_add(causes, "FieldValueInvalid", field, "Invalid value: %s", msg ? msg : "invalid schema");
                free(msg);
                kl_schema_free(compiled);
            }
            json_t *cols = json_object_get(v, "additionalPrinterColumns");
            size_t j;
            json_t *c;
            json_array_foreach(cols, j, c) {
                const char *jp = cm_json_get_str(c, "jsonPath");
                char *msg = NULL;
                snprintf(field, sizeof(field), "spec.versions[%zu].additionalPrinterColumns[%zu].JSONPath", i, j);
                if (!jp)
                    kl_cause_add(causes, "FieldValueRequired", field, "Required value");
                else if (kl_jsonpath_check(jp, &msg) < 0)
                    kl_cause_add(causes, "FieldValueInvalid", field, "Invalid value: \"%s\": %s", jp, msg ? msg : "invalid JSONPath");
                free(msg);
            }
        }
        if (n_storage != 1)
            kl_cause_add(causes, "FieldValueInvalid", "spec.versions",
                  "Invalid value: %s: must have exactly one version marked as storage version",
                  "[]apiextensions.CustomResourceDefinitionVersion{...}");
    }
    if (old) {
        const char *oscope = cm_json_get_str(old, "spec.scope");
        if (scope && oscope && strcmp(scope, oscope) != 0)
            kl_cause_add(causes, "FieldValueInvalid", "spec.scope",
                  "Invalid value: \"%s\": field is immutable", scope);
    }
    if (json_array_size(causes) > 0) {
        kl_err_invalid(err, &fake, name ? name : "", causes);
        return -EINVAL;
    }
    json_decref(causes);
    return 0;
}

void kl_crd_set_status(json_t *crd, const char *now) {
    json_t *names = json_deep_copy(cm_json_get(crd, "spec.names"));
    json_t *stored = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(cm_json_get(crd, "spec.versions"), i, v) {
        if (json_is_true(json_object_get(v, "storage")))
            json_array_append(stored, json_object_get(v, "name"));
    }
    json_t *st = json_pack(
        "{s:[{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s}],s:o,s:o}", "conditions", "type",
        "NamesAccepted", "status", "True", "lastTransitionTime", now, "reason", "NoConflicts",
        "message", "no conflicts found", "type", "Established", "status", "True",
        "lastTransitionTime", now, "reason", "InitialNamesAccepted", "message",
        "the initial names have been accepted", "acceptedNames", names ? names : json_object(),
        "storedVersions", stored);
    json_object_set_new(crd, "status", st);
}

static json_t *str_array_copy(const json_t *a) {
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_string(v))
            json_array_append(out, v);
    }
    return out;
}

/* Builds the versions array of a CRD. Returns NULL on error. */
static struct kl_rversion *build_versions(const json_t *crd, size_t *ret_n) {
    json_t *versions = cm_json_get(crd, "spec.versions");
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(versions, i, v) {
        if (json_is_true(json_object_get(v, "served")))
            n++;
    }
    struct kl_rversion *out = calloc(n ? n : 1, sizeof(*out));
    if (!out)
        return NULL;
    size_t k = 0;
    json_array_foreach(versions, i, v) {
        if (!json_is_true(json_object_get(v, "served")))
            continue;
        struct kl_rversion *rv = &out[k++];
        rv->name = strdup(cm_json_get_str(v, "name") ? cm_json_get_str(v, "name") : "");
        rv->storage = json_is_true(json_object_get(v, "storage"));
        rv->status_sub = cm_json_get(v, "subresources.status") != NULL;
        json_t *schema = cm_json_get(v, "schema.openAPIV3Schema");
        if (schema) {
            rv->raw_schema = json_deep_copy(schema);
            if (kl_schema_new(schema, &rv->schema, NULL) < 0)
                rv->schema = NULL;
        }
        json_t *cols = json_object_get(v, "additionalPrinterColumns");
        if (json_is_array(cols) && json_array_size(cols) > 0)
            rv->columns = json_deep_copy(cols);
        else /* serveDefaultColumnsIfEmpty */
            rv->columns = json_pack("[{s:s,s:s,s:s,s:s}]", "name", "Age", "type", "date",
                                    "jsonPath", ".metadata.creationTimestamp", "description",
                                    "CreationTimestamp is a timestamp representing the server "
                                    "time when this object was created.");
    }
    qsort(out, k, sizeof(*out), version_cmp);
    *ret_n = k;
    return out;
}

int kl_crd_install(struct kl_server *srv, const json_t *crd) {
    struct kl_store *s = &srv->store;
    const char *group = cm_json_get_str(crd, "spec.group");
    json_t *names = cm_json_get(crd, "spec.names");
    const char *plural = cm_json_get_str(names, "plural");
    const char *kind = cm_json_get_str(names, "kind");
    if (!group || !plural || !kind)
        return -EINVAL;
    size_t nv = 0;
    struct kl_rversion *versions = build_versions(crd, &nv);
    if (!versions)
        return -ENOMEM;
    struct kl_rtype *rt = kl_store_find_type(s, group, plural);
    if (rt) {
        if (rt->flag != KL_KIND_CUSTOM) {
            versions_free(versions, nv);
            return -EEXIST;
        }
        retire(rt->versions, rt->n_versions);
        rt->versions = versions;
        rt->n_versions = nv;
        json_decref(rt->short_names);
        json_decref(rt->categories);
        rt->short_names = str_array_copy(json_object_get(names, "shortNames"));
        rt->categories = str_array_copy(json_object_get(names, "categories"));
        return 0;
    }
    rt = calloc(1, sizeof(*rt));
    if (!rt) {
        versions_free(versions, nv);
        return -ENOMEM;
    }
    const char *singular = cm_json_get_str(names, "singular");
    const char *list_kind = cm_json_get_str(names, "listKind");
    rt->group = strdup(group);
    rt->resource = strdup(plural);
    rt->singular = singular ? strdup(singular) : lowercase(kind);
    rt->kind = strdup(kind);
    if (list_kind)
        rt->list_kind = strdup(list_kind);
    else if (asprintf(&rt->list_kind, "%sList", kind) < 0)
        rt->list_kind = NULL;
    const char *scope = cm_json_get_str(crd, "spec.scope");
    rt->namespaced = !scope || strcmp(scope, "Namespaced") == 0;
    rt->short_names = str_array_copy(json_object_get(names, "shortNames"));
    rt->categories = str_array_copy(json_object_get(names, "categories"));
    rt->versions = versions;
    rt->n_versions = nv;
    rt->flag = KL_KIND_CUSTOM;
    rt->has_generation = 1;
    rt->return_deleted = 1;
    rt->crd_uid = json_incref(cm_json_get(crd, "metadata.uid"));
    if (!rt->group || !rt->resource || !rt->singular || !rt->kind || !rt->list_kind ||
        kl_store_add_type(s, rt) < 0) {
        kl_rtype_free(rt);
        return -ENOMEM;
    }
    return 0;
}

void kl_crd_uninstall(struct kl_server *srv, const json_t *crd) {
    struct kl_store *s = &srv->store;
    const char *group = cm_json_get_str(crd, "spec.group");
    const char *plural = cm_json_get_str(crd, "spec.names.plural");
    struct kl_rtype *rt = group && plural ? kl_store_find_type(s, group, plural) : NULL;
    if (rt && rt->flag == KL_KIND_CUSTOM)
        kl_store_remove_type(s, rt);
}
