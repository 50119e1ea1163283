/* kl_rbac: RBAC evaluation over the stored policy objects. */
#include "kl_rbac.h"

#include <stdio.h>
#include <string.h>

#include "cm_json.h"
#include "kl_selector.h"
#include "kl_store.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"

static int has_str(const json_t *arr, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *x = json_string_value(v);
        if (x && strcmp(x, s) == 0)
            return 1;
    }
    return 0;
}

static int in_groups(const struct kl_rbac_attrs *a, const char *g) {
    if (strcmp(g, "system:authenticated") == 0)
        return 1;
    if (has_str(a->groups, g))
        return 1;
    /* What the service account authenticator adds to system:serviceaccount:NS:NAME. */
    const char *u = a->user;
    if (strncmp(u, "system:serviceaccount:", 22) == 0) {
        if (strcmp(g, "system:serviceaccounts") == 0)
            return 1;
        size_t nl = strcspn(u + 22, ":");
        return strncmp(g, "system:serviceaccounts:", 23) == 0 && strlen(g + 23) == nl &&
               strncmp(g + 23, u + 22, nl) == 0;
    }
    return 0;
}

/* binding_ns: where a RoleBinding lives (a ServiceAccount subject's default), "" for CRBs. */
static const char *subject_match(const struct kl_rbac_attrs *a, const json_t *subjects,
                                 const char *binding_ns, char *who, size_t who_n) {
    size_t i;
    json_t *s;
    json_array_foreach(subjects, i, s) {
        const char *kind = cm_json_get_str(s, "kind"), *name = cm_json_get_str(s, "name");
        if (!kind || !name)
            continue;
        if (strcmp(kind, "User") == 0 && strcmp(name, a->user) == 0) {
            snprintf(who, who_n, "User \"%s\"", name);
            return kind;
        }
        if (strcmp(kind, "Group") == 0 && in_groups(a, name)) {
            snprintf(who, who_n, "Group \"%s\"", name);
            return kind;
        }
        if (strcmp(kind, "ServiceAccount") == 0) {
            const char *ns = cm_json_get_str(s, "namespace");
            char full[512];
            if (!ns || !*ns)
                ns = binding_ns;
            snprintf(full, sizeof full, "system:serviceaccount:%s:%s", ns, name);
            if (strcmp(full, a->user) == 0) {
                snprintf(who, who_n, "ServiceAccount \"%s/%s\"", ns, name);
                return kind;
            }
        }
    }
    return NULL;
}

static int resource_match(const json_t *resources, const struct kl_rbac_attrs *a) {
    const char *sub = a->sub && *a->sub ? a->sub : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(resources, i, v) {
        const char *r = json_string_value(v);
        if (!r)
            continue;
        if (strcmp(r, "*") == 0)
            return 1;
        size_t rl = strlen(a->resource);
        if (!sub) {
            if (strcmp(r, a->resource) == 0)
                return 1;
            continue;
        }
        /* "res/sub", with a "*" allowed for either part */
        if (strncmp(r, a->resource, rl) == 0 && r[rl] == '/' &&
            (strcmp(r + rl + 1, sub) == 0 || strcmp(r + rl + 1, "*") == 0))
            return 1;
        if (r[0] == '*' && r[1] == '/' && strcmp(r + 2, sub) == 0)
            return 1;
    }
    return 0;
}

static int rule_match(const json_t *rule, const struct kl_rbac_attrs *a) {
    const json_t *verbs = json_object_get(rule, "verbs");
    if (!has_str(verbs, a->verb) && !has_str(verbs, "*"))
        return 0;
    if (!a->resource_request) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(rule, "nonResourceURLs"), i, v) {
            const char *u = json_string_value(v);
            size_t ul = u ? strlen(u) : 0;
            if (u && (strcmp(u, a->path) == 0 || strcmp(u, "*") == 0 ||
                      (ul > 0 && u[ul - 1] == '*' && strncmp(u, a->path, ul - 1) == 0)))
                return 1;
        }
        return 0;
    }
    const json_t *groups = json_object_get(rule, "apiGroups");
    if (!has_str(groups, a->group) && !has_str(groups, "*"))
        return 0;
    if (!resource_match(json_object_get(rule, "resources"), a))
        return 0;
    const json_t *names = json_object_get(rule, "resourceNames");
    if (json_array_size(names) == 0)
        return 1;
    return a->name && *a->name && has_str(names, a->name);
}

static int rules_match(const json_t *rules, const struct kl_rbac_attrs *a) {
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
        if (rule_match(r, a))
            return 1;
    return 0;
}

static json_t *get_obj(struct kl_store *s, const char *resource, const char *ns,
                       const char *name) {
    struct kl_rtype *rt = kl_store_find_type(s, RBAC_GROUP, resource);
    struct kl_obj *o = rt ? kl_store_get(rt, ns, name) : NULL; /* borrowed under the lock */
    return o ? kl_obj_parse(o) : NULL;
}

/* A ClusterRole's rules match, its own or (aggregated) those of the roles it selects. */
static int cluster_role_match(struct kl_store *s, const json_t *role,
                              const struct kl_rbac_attrs *a) {
    if (rules_match(json_object_get(role, "rules"), a))
        return 1;
    const json_t *sels = cm_json_get(role, "aggregationRule.clusterRoleSelectors");
    if (json_array_size(sels) == 0)
        return 0;
    struct kl_rtype *rt = kl_store_find_type(s, RBAC_GROUP, "clusterroles");
    const char *self = cm_json_get_str(role, "metadata.name");
    int ok = 0;
    for (size_t i = 0; rt && i < rt->n && !ok; i++) {
        json_t *other = kl_obj_parse(rt->objs[i]);
        const char *oname = cm_json_get_str(other, "metadata.name");
        size_t j;
        json_t *sel;
        if (other && oname && self && strcmp(oname, self) != 0) {
            json_array_foreach(sels, j, sel) {
                struct kl_labelsel *ls = NULL;
                if (kl_labelsel_from_object(sel, &ls, NULL) < 0)
                    continue;
                int m = kl_labelsel_match(ls, cm_json_get(other, "metadata.labels"));
                kl_labelsel_free(ls);
                if (m && rules_match(json_object_get(other, "rules"), a)) {
                    ok = 1;
                    break;
                }
            }
        }
        json_decref(other);
    }
    return ok;
}

/* Checks one binding; fills why when it grants the request. */
static int binding_allows(struct kl_store *s, const json_t *b, const char *binding_kind,
                          const char *binding_ns, const struct kl_rbac_attrs *a, char *why,
                          size_t why_n) {
    char who[600];
    if (!subject_match(a, json_object_get(b, "subjects"), binding_ns, who, sizeof who))
        return 0;
    const char *rkind = cm_json_get_str(b, "roleRef.kind");
    const char *rname = cm_json_get_str(b, "roleRef.name");
    if (!rkind || !rname)
        return 0;
    int ok = 0;
    if (strcmp(rkind, "ClusterRole") == 0) {
        json_t *role = get_obj(s, "clusterroles", "", rname);
        ok = role && cluster_role_match(s, role, a);
        json_decref(role);
    } else if (strcmp(rkind, "Role") == 0 && *binding_ns) {
        json_t *role = get_obj(s, "roles", binding_ns, rname);
        ok = role && rules_match(json_object_get(role, "rules"), a);
        json_decref(role);
    }
    if (ok && why)
        snprintf(why, why_n, "RBAC: allowed by %s \"%s\" of %s \"%s\" to %s", binding_kind,
                 cm_json_get_str(b, "metadata.name"), rkind, rname, who);
    return ok;
}

static int scan(struct kl_store *s, const char *resource, const char *ns,
                const struct kl_rbac_attrs *a, char *why, size_t why_n) {
    struct kl_rtype *rt = kl_store_find_type(s, RBAC_GROUP, resource);
    if (!rt)
        return 0;
    int crb = strcmp(resource, "clusterrolebindings") == 0;
    for (size_t i = 0; i < rt->n; i++) {
        struct kl_obj *o = rt->objs[i];
        if (!crb && strcmp(o->ns, ns) != 0)
            continue;
        json_t *b = kl_obj_parse(o);
        int ok = b && binding_allows(s, b, crb ? "ClusterRoleBinding" : "RoleBinding",
                                     crb ? "" : o->ns, a, why, why_n);
        json_decref(b);
        if (ok)
            return 1;
    }
    return 0;
}

int kl_rbac_allowed(struct kl_store *s, const struct kl_rbac_attrs *a, char *why, size_t why_n) {
    if (has_str(a->groups, "system:masters")) {
        if (why)
            snprintf(why, why_n, "RBAC: allowed by group \"system:masters\"");
        return 1;
    }
    if (a->resource_request && strcmp(a->group, "authorization.k8s.io") == 0 &&
        strcmp(a->verb, "create") == 0 &&
        (strcmp(a->resource, "selfsubjectaccessreviews") == 0 ||
         strcmp(a->resource, "selfsubjectrulesreviews") == 0)) {
        if (why)
            snprintf(why, why_n, "RBAC: allowed by ClusterRoleBinding \"system:basic-user\"");
        return 1;
    }
    if (a->resource_request && strcmp(a->group, "authentication.k8s.io") == 0 &&
        strcmp(a->resource, "selfsubjectreviews") == 0 && strcmp(a->verb, "create") == 0)
        return 1;
    pthread_rwlock_rdlock(&s->lock);
    int ok = scan(s, "clusterrolebindings", "", a, why, why_n) ||
             (a->resource_request && a->ns && *a->ns &&
              scan(s, "rolebindings", a->ns, a, why, why_n));
    pthread_rwlock_unlock(&s->lock);
    return ok;
}

const char *kl_rbac_denial(const struct kl_rbac_attrs *a, char *buf, size_t n) {
    if (!a->resource_request) {
        snprintf(buf, n, "User \"%s\" cannot %s path \"%s\"", a->user, a->verb, a->path);
        return buf;
    }
    char res[300];
    snprintf(res, sizeof res, "%s%s%s", a->resource, a->sub && *a->sub ? "/" : "",
             a->sub && *a->sub ? a->sub : "");
    if (a->ns && *a->ns)
        snprintf(buf, n,
                 "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the namespace "
                 "\"%s\"", a->user, a->verb, res, a->group, a->ns);
    else
        snprintf(buf, n,
                 "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" at the cluster scope",
                 a->user, a->verb, res, a->group);
    return buf;
}
