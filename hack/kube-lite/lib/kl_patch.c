/* kl_patch: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.
 *
 * All three work on a deep copy of the target and swap it in only on success, so a failed
 * patch (including a failed JSON-patch "test") leaves the caller's object untouched.
 *
 * Strategic merge patch follows apimachinery's pkg/util/strategicpatch/patch.go as the API
 * server runs it (StrategicMergeMapPatch with MergeParallelList and IgnoreUnmatchedNulls):
 * - maps merge recursively; null deletes a key; values of different types are replaced;
 * - lists of the fields tagged patchStrategy:"merge" merge: lists of maps by their
 *   patchMergeKey, lists of scalars as a set union (kept in order), other lists are replaced;
 * - directives: {"$patch": "replace"|"delete"} in a map, {"$patch": "delete", key: v} and
 *   {"$patch": "replace"} as list elements, "$retainKeys", "$setElementOrder/<list>",
 *   "$deleteFromPrimitiveList/<list>";
 * - the merged list order follows the real algorithm: $setElementOrder > order in the patch >
 *   order in the live object (normalizeElementOrder/mergeSortedSlice).
 * The patch metadata (which list merges on which key) is a table transcribed from the
 * patchStrategy/patchMergeKey tags of k8s.io/api for the kinds kube-lite serves (see pm_*
 * below); fields absent from the table behave like untagged fields.
 *
 * Known differences from the real server:
 * - The real server decodes the result into the Go type, which drops unknown fields; we keep
 *   unknown fields but remove directive keys ($patch, $retainKeys, $setElementOrder/...,
 *   $deleteFromPrimitiveList/...) wherever a patch value is taken over unmerged, which is the
 *   visible effect of that decoding on directives.
 * - Where Go iterates a map (the keys of a patch object), we go in document order, and apply
 *   $deleteFromPrimitiveList lists after the other keys of the same object.
 * - Patch metadata for fields of the kinds we do not list (e.g. Affinity's inner lists, all
 *   untagged upstream) is the default (replace), which matches upstream for those fields.
 * Thread-safety: pure functions. */
#include "kl_patch.h"

#include "cm_buf.h"
#include "kl_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* RFC 7386                                                                                  */

static json_t *merge_patch(json_t *target, const json_t *patch)
{
    const char *k;
    json_t *v;

    if (!json_is_object(patch)) {
        json_decref(target);
        return json_deep_copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
        if (!target)
            return NULL;
    }
    json_object_foreach((json_t *)patch, k, v) {
        if (json_is_null(v)) {
            json_object_del(target, k);
            continue;
        }
        json_t *cur = json_incref(json_object_get(target, k));
        json_t *merged = merge_patch(cur, v);
        if (!merged || json_object_set_new(target, k, merged) != 0) {
            json_decref(target);
            return NULL;
        }
    }
    return target;
}

int kl_patch_merge(json_t **target, const json_t *patch, char **ret_err)
{
    json_t *copy, *res;

    if (!target || !patch) {
        kl__set_err(ret_err, "Invalid JSON Patch");
        return -EBADMSG;
    }
    if (!json_is_object(patch)) {
        /* Kubernetes objects are JSON objects; evanphx/json-patch refuses other documents. */
        kl__set_err(ret_err, "Invalid JSON Patch");
        return -EBADMSG;
    }
    copy = *target ? json_deep_copy(*target) : json_object();
    if (!copy)
        return -ENOMEM;
    res = merge_patch(copy, patch);
    if (!res)
        return -ENOMEM;
    json_decref(*target);
    *target = res;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* RFC 6902 (with evanphx/json-patch's messages, which the API server returns)                */

/* Splits a JSON pointer into unescaped tokens. Returns the count, or -EINVAL. */
static int pointer_split(const char *ptr, char ***ret_toks)
{
    size_t n = 0;
    char **toks = NULL;

    *ret_toks = NULL;
    if (!ptr || *ptr != '/')
        return -EINVAL;
    for (const char *p = ptr; *p == '/';) {
        const char *e = strchr(p + 1, '/');
        size_t l = e ? (size_t)(e - p - 1) : strlen(p + 1);
        char *t = malloc(l + 1), **grown;
        size_t k = 0;
        if (!t)
            goto nomem;
        for (size_t i = 0; i < l; i++) {
            char c = p[1 + i];
            if (c == '~') {
                char d = i + 1 < l ? p[2 + i] : 0;
                if (d == '0')
                    c = '~';
                else if (d == '1')
                    c = '/';
                else {
                    /* evanphx leaves a lone '~' as it is */
                    t[k++] = c;
                    continue;
                }
                i++;
            }
            t[k++] = c;
        }
        t[k] = 0;
        grown = realloc(toks, (n + 1) * sizeof(*toks));
        if (!grown) {
            free(t);
            goto nomem;
        }
        toks = grown;
        toks[n++] = t;
        if (!e)
            break;
        p = e;
    }
    *ret_toks = toks;
    return (int)n;
nomem:
    for (size_t i = 0; i < n; i++)
        free(toks[i]);
    free(toks);
    return -ENOMEM;
}

static void toks_free(char **toks, int n)
{
    for (int i = 0; i < n; i++)
        free(toks[i]);
    free(toks);
}

/* Parses an array index token. Negative indexes count from the end, as evanphx allows. */
static bool parse_index(const char *t, long *ret)
{
    char *end;
    long v;
    if (!*t)
        return false;
    v = strtol(t, &end, 10);
    if (*end)
        return false;
    *ret = v;
    return true;
}

/* The container of the location (the parent of the last token), or NULL when missing. */
static json_t *pointer_parent(json_t *doc, char **toks, int n)
{
    json_t *cur = doc;
    for (int i = 0; cur && i < n - 1; i++) {
        if (json_is_object(cur)) {
            cur = json_object_get(cur, toks[i]);
        } else if (json_is_array(cur)) {
            long idx;
            if (!parse_index(toks[i], &idx) || idx < 0 || (size_t)idx >= json_array_size(cur))
                return NULL;
            cur = json_array_get(cur, (size_t)idx);
        } else {
            return NULL;
        }
    }
    return (json_is_object(cur) || json_is_array(cur)) ? cur : NULL;
}

static json_t *container_get(json_t *con, const char *key)
{
    long idx;
    if (json_is_object(con))
        return json_object_get(con, key);
    if (!parse_index(key, &idx) || idx < 0 || (size_t)idx >= json_array_size(con))
        return NULL;
    return json_array_get(con, (size_t)idx);
}

/* add: objects set the key; arrays insert at the index, "-" appends. Steals value. */
static int container_add(json_t *con, const char *key, json_t *value, const char *path, char **ret_err)
{
    long idx;
    size_t n;

    if (json_is_object(con)) {
        if (json_object_set_new(con, key, value) != 0)
            return -ENOMEM;
        return 0;
    }
    n = json_array_size(con);
    if (!strcmp(key, "-")) {
        if (json_array_append_new(con, value) != 0)
            return -ENOMEM;
        return 0;
    }
    if (!parse_index(key, &idx) || idx > (long)n || idx < -(long)n) {
        json_decref(value);
        kl__set_err(ret_err, "error in add for path: '%s': Unable to access invalid index: %s", path, key);
        return -EINVAL;
    }
    if (idx < 0)
        idx += (long)n;
    if (json_array_insert_new(con, (size_t)idx, value) != 0)
        return -ENOMEM;
    return 0;
}

static int container_remove(json_t *con, const char *key, const char *path, char **ret_err)
{
    long idx;
    if (json_is_object(con)) {
        if (json_object_del(con, key) != 0) {
            kl__set_err(ret_err, "error in remove for path: '%s': Unable to remove nonexistent key: %s: missing value",
                        path, key);
            return -EINVAL;
        }
        return 0;
    }
    if (!parse_index(key, &idx) || idx >= (long)json_array_size(con) || idx < -(long)json_array_size(con)) {
        kl__set_err(ret_err, "error in remove for path: '%s': Unable to access invalid index: %s", path, key);
        return -EINVAL;
    }
    if (idx < 0)
        idx += (long)json_array_size(con);
    json_array_remove(con, (size_t)idx);
    return 0;
}

static bool json_equal_num(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !json_equal_num(v, w))
                return false;
        }
        return true;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_equal_num(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static int apply_op(json_t *doc, const json_t *op, char **ret_err)
{
    const char *kind = json_string_value(json_object_get(op, "op"));
    const char *path = json_string_value(json_object_get(op, "path"));
    const char *from = json_string_value(json_object_get(op, "from"));
    json_t *value = json_object_get(op, "value");
    char **toks = NULL, **ftoks = NULL;
    int n = 0, fn = 0, r = 0;
    json_t *con, *cur;

    if (!kind) {
        kl__set_err(ret_err, "Unexpected kind: unknown");
        return -EBADMSG;
    }
    if (strcmp(kind, "add") && strcmp(kind, "remove") && strcmp(kind, "replace") && strcmp(kind, "move") &&
        strcmp(kind, "copy") && strcmp(kind, "test")) {
        kl__set_err(ret_err, "Unexpected kind: %s", kind);
        return -EBADMSG;
    }
    if (!path) {
        kl__set_err(ret_err, "%s operation failed to decode path: missing value", kind);
        return -EBADMSG;
    }
    if ((!strcmp(kind, "add") || !strcmp(kind, "replace") || !strcmp(kind, "test")) && !value) {
        kl__set_err(ret_err, "%s operation failed to decode value: missing value", kind);
        return -EBADMSG;
    }
    if ((!strcmp(kind, "move") || !strcmp(kind, "copy")) && !from) {
        kl__set_err(ret_err, "%s operation failed to decode from: missing value", kind);
        return -EBADMSG;
    }
    n = pointer_split(path, &toks);
    if (n == -ENOMEM)
        return -ENOMEM;
    if (n <= 0) {
        /* evanphx/json-patch cannot address the whole document (path ""). */
        kl__set_err(ret_err, "%s operation does not apply: doc is missing path: \"%s\": missing value", kind, path);
        return -EINVAL;
    }
    con = pointer_parent(doc, toks, n);
    const char *key = toks[n - 1];

    if (!strcmp(kind, "add")) {
        if (!con) {
            kl__set_err(ret_err, "add operation does not apply: doc is missing path: \"%s\": missing value", path);
            r = -EINVAL;
        } else {
            json_t *vc = json_deep_copy(value);
            r = vc ? container_add(con, key, vc, path, ret_err) : -ENOMEM;
        }
    } else if (!strcmp(kind, "remove")) {
        if (!con) {
            kl__set_err(ret_err, "remove operation does not apply: doc is missing path: \"%s\": missing value", path);
            r = -EINVAL;
        } else
            r = container_remove(con, key, path, ret_err);
    } else if (!strcmp(kind, "replace")) {
        if (!con) {
            kl__set_err(ret_err, "replace operation does not apply: doc is missing path: %s: missing value", path);
            r = -EINVAL;
        } else if (!container_get(con, key)) {
            kl__set_err(ret_err, "replace operation does not apply: doc is missing key: %s: missing value", path);
            r = -EINVAL;
        } else {
            json_t *vc = json_deep_copy(value);
            long idx = 0; /* container_get() above proved key a valid index; -O2 cannot see it */
            if (!vc)
                r = -ENOMEM;
            else if (json_is_object(con))
                r = json_object_set_new(con, key, vc) ? -ENOMEM : 0;
            else {
                parse_index(key, &idx);
                r = json_array_set_new(con, (size_t)idx, vc) ? -ENOMEM : 0;
            }
        }
    } else if (!strcmp(kind, "test")) {
        cur = con ? container_get(con, key) : NULL;
        if (!con && !json_is_null(value)) {
            kl__set_err(ret_err, "test operation does not apply: is missing path: %s: missing value", path);
            r = -EINVAL;
        } else if ((cur && !json_equal_num(cur, value)) || (!cur && !json_is_null(value))) {
            kl__set_err(ret_err, "testing value %s failed: test failed", path);
            r = -EINVAL;
        }
    } else { /* move, copy */
        json_t *fcon, *src;
        fn = pointer_split(from, &ftoks);
        if (fn == -ENOMEM) {
            r = -ENOMEM;
            goto out;
        }
        fcon = fn > 0 ? pointer_parent(doc, ftoks, fn) : NULL;
        src = fcon ? container_get(fcon, ftoks[fn - 1]) : NULL;
        if (!fcon || !src) {
            kl__set_err(ret_err, "%s operation does not apply: doc is missing from path: %s: missing value", kind, from);
            r = -EINVAL;
            goto out;
        }
        if (!strcmp(kind, "move") && !strncmp(path, from, strlen(from)) && path[strlen(from)] == '/') {
            kl__set_err(ret_err, "move operation does not apply: cannot move %s into its own child %s", from, path);
            r = -EINVAL;
            goto out;
        }
        json_t *val = json_deep_copy(src);
        if (!val) {
            r = -ENOMEM;
            goto out;
        }
        if (!strcmp(kind, "move")) {
            r = container_remove(fcon, ftoks[fn - 1], from, ret_err);
            if (r < 0) {
                json_decref(val);
                goto out;
            }
            con = pointer_parent(doc, toks, n);
        }
        if (!con) {
            json_decref(val);
            kl__set_err(ret_err, "%s operation does not apply: doc is missing destination path: %s: missing value",
                        kind, path);
            r = -EINVAL;
            goto out;
        }
        r = container_add(con, key, val, path, ret_err);
    }
out:
    toks_free(toks, n);
    toks_free(ftoks, fn > 0 ? fn : 0);
    return r;
}

int kl_patch_json(json_t **target, const json_t *ops, char **ret_err)
{
    json_t *copy;

    if (!target || !json_is_array(ops)) {
        kl__set_err(ret_err, "json: cannot unmarshal %s into Go value of type jsonpatch.Patch",
                    ops ? (json_is_object(ops) ? "object" : "value") : "value");
        return -EBADMSG;
    }
    for (size_t i = 0; i < json_array_size(ops); i++) {
        if (!json_is_object(json_array_get(ops, i))) {
            kl__set_err(ret_err, "json: cannot unmarshal value into Go value of type jsonpatch.Operation");
            return -EBADMSG;
        }
    }
    copy = *target ? json_deep_copy(*target) : json_object();
    if (!copy)
        return -ENOMEM;
    for (size_t i = 0; i < json_array_size(ops); i++) {
        int r = apply_op(copy, json_array_get(ops, i), ret_err);
        if (r < 0) {
            json_decref(copy);
            return r;
        }
    }
    json_decref(*target);
    *target = copy;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Patch metadata: patchStrategy/patchMergeKey of k8s.io/api fields                            */

struct pm_type;

struct pm_field {
    const char *name;
    const struct pm_type *type; /* struct of the field or of the list's elements; NULL: none */
    const char *strategy;       /* "merge", "replace", "merge,retainKeys", "retainKeys", NULL */
    const char *merge_key;      /* for lists of maps */
};

struct pm_type {
    const struct pm_field *fields; /* NULL-name terminated */
    const struct pm_type *map_elem; /* for map[string]Struct types */
};

#define END {NULL, NULL, NULL, NULL}

static const struct pm_type t_objectmeta = {(const struct pm_field[]){
    {"finalizers", NULL, "merge", NULL},
    {"ownerReferences", NULL, "merge", "uid"},
    END,
}, NULL};

static const struct pm_type t_container = {(const struct pm_field[]){
    {"ports", NULL, "merge", "containerPort"},
    {"env", NULL, "merge", "name"},
    {"volumeMounts", NULL, "merge", "mountPath"},
    {"volumeDevices", NULL, "merge", "devicePath"},
    END,
}, NULL};

static const struct pm_type t_podspec = {(const struct pm_field[]){
    {"volumes", NULL, "merge,retainKeys", "name"},
    {"initContainers", &t_container, "merge", "name"},
    {"containers", &t_container, "merge", "name"},
    {"ephemeralContainers", &t_container, "merge", "name"},
    {"imagePullSecrets", NULL, "merge", "name"},
    {"hostAliases", NULL, "merge", "ip"},
    {"topologySpreadConstraints", NULL, "merge", "topologyKey"},
    {"resourceClaims", NULL, "merge,retainKeys", "name"},
    {"schedulingGates", NULL, "merge", "name"},
    END,
}, NULL};

static const struct pm_type t_podstatus = {(const struct pm_field[]){
    {"conditions", NULL, "merge", "type"},
    {"podIPs", NULL, "merge", "ip"},
    {"hostIPs", NULL, "merge", "ip"},
    {"resourceClaimStatuses", NULL, "merge,retainKeys", "name"},
    END,
}, NULL};

static const struct pm_type t_podtemplatespec = {(const struct pm_field[]){
    {"metadata", &t_objectmeta, NULL, NULL},
    {"spec", &t_podspec, NULL, NULL},
    END,
}, NULL};

static const struct pm_type t_deploymentspec = {(const struct pm_field[]){
    {"template", &t_podtemplatespec, NULL, NULL},
    {"strategy", NULL, "retainKeys", NULL},
    END,
}, NULL};

static const struct pm_type t_conditions_status = {(const struct pm_field[]){
    {"conditions", NULL, "merge", "type"},
    END,
}, NULL};

static const struct pm_type t_servicespec = {(const struct pm_field[]){
    {"ports", NULL, "merge", "port"},
    END,
}, NULL};

static const struct pm_type t_nodespec = {(const struct pm_field[]){
    {"podCIDRs", NULL, "merge", NULL},
    END,
}, NULL};

static const struct pm_type t_nodestatus = {(const struct pm_field[]){
    {"conditions", NULL, "merge", "type"},
    {"addresses", NULL, "merge", "type"},
    END,
}, NULL};

static const struct pm_type t_pdbspec = {(const struct pm_field[]){
    {"selector", NULL, "replace", NULL},
    END,
}, NULL};

/* Top-level kinds. */
static const struct pm_type t_pod = {(const struct pm_field[]){
    {"metadata", &t_objectmeta, NULL, NULL},
    {"spec", &t_podspec, NULL, NULL},
    {"status", &t_podstatus, NULL, NULL},
    END,
}, NULL};

static const struct pm_type t_deployment = {(const struct pm_field[]){
    {"metadata", &t_objectmeta, NULL, NULL},
    {"spec", &t_deploymentspec, NULL, NULL},
    {"status", &t_conditions_status, NULL, NULL},
    END,
}, NULL};

static const struct pm_type t_service = {(const struct pm_field[]){
    {"metadata", &t_objectmeta, NULL, NULL},
    {"spec", &t_servicespec, NULL, NULL},
    {"status", &t_conditions_status, NULL, NULL},
    END,
}, NULL};

static const struct pm_type t_node = {(const struct pm_field[]){
    {"metadata", &t_objectmeta, NULL, NULL},
    {"spec", &t_nodespec, NULL, NULL},
    {"status", &t_nodestatus, NULL, NULL},
    END,
}, NULL};

static const struct pm_type t_namespace = {(const struct pm_field[]){
    {"metadata", &t_objectmeta, NULL, NULL},
    {"status", &t_conditions_status, NULL, NULL},
    END,
}, NULL};

static const struct pm_type t_serviceaccount = {(const struct pm_field[]){
    {"metadata", &t_objectmeta, NULL, NULL},
    {"secrets", NULL, "merge", "name"},
    END,
}, NULL};

static const struct pm_type t_pdb = {(const struct pm_field[]){
    {"metadata", &t_objectmeta, NULL, NULL},
    {"spec", &t_pdbspec, NULL, NULL},
    {"status", &t_conditions_status, NULL, NULL},
    END,
}, NULL};

/* Kinds whose only tagged fields are in ObjectMeta. */
static const struct pm_type t_plain = {(const struct pm_field[]){
    {"metadata", &t_objectmeta, NULL, NULL},
    END,
}, NULL};

static const struct {
    const char *group, *kind;
    const struct pm_type *type;
} pm_kinds[] = {
    {"", "Pod", &t_pod},
    {"", "Service", &t_service},
    {"", "ConfigMap", &t_plain},
    {"", "Secret", &t_plain},
    {"", "Node", &t_node},
    {"", "Namespace", &t_namespace},
    {"", "ServiceAccount", &t_serviceaccount},
    {"", "Event", &t_plain},
    {"events.k8s.io", "Event", &t_plain},
    {"apps", "Deployment", &t_deployment},
    {"coordination.k8s.io", "Lease", &t_plain},
    {"policy", "PodDisruptionBudget", &t_pdb},
    {"rbac.authorization.k8s.io", "Role", &t_plain},
    {"rbac.authorization.k8s.io", "ClusterRole", &t_plain},
    {"rbac.authorization.k8s.io", "RoleBinding", &t_plain},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding", &t_plain},
    {"apiextensions.k8s.io", "CustomResourceDefinition", &t_plain},
    {"authentication.k8s.io", "TokenReview", &t_plain},
};

static const struct pm_field *pm_lookup(const struct pm_type *t, const char *name)
{
    if (!t || !t->fields)
        return NULL;
    for (const struct pm_field *f = t->fields; f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

static bool strategy_has(const char *strategies, const char *what)
{
    size_t l = strlen(what);
    for (const char *p = strategies; p && *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n == l && !strncmp(p, what, l))
            return true;
        p += n + (c ? 1 : 0);
    }
    return false;
}

int kl_patch_strategic_supported(const char *group, const char *kind)
{
    for (size_t i = 0; i < sizeof(pm_kinds) / sizeof(pm_kinds[0]); i++)
        if (!strcmp(pm_kinds[i].group, group ? group : "") && !strcmp(pm_kinds[i].kind, kind ? kind : ""))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Strategic merge patch                                                                      */

static const char DIRECTIVE[] = "$patch";
static const char RETAIN_KEYS[] = "$retainKeys";
static const char SET_ORDER[] = "$setElementOrder/";
static const char DELETE_PRIM[] = "$deleteFromPrimitiveList/";

static bool is_directive_key(const char *k)
{
    return !strcmp(k, DIRECTIVE) || !strcmp(k, RETAIN_KEYS) || !strncmp(k, SET_ORDER, strlen(SET_ORDER)) ||
           !strncmp(k, DELETE_PRIM, strlen(DELETE_PRIM));
}

/* Removes directive keys and nulls (discardNullValuesFromPatch) from a value taken over
 * unmerged. Elements of lists that are only directives ({"$patch": "delete", ...}) are
 * dropped. */
static void strip_directives(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, x) {
            if (is_directive_key(k) || json_is_null(x))
                json_object_del(v, k);
            else
                strip_directives(x);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v);) {
            json_t *e = json_array_get(v, i);
            const char *d = json_string_value(json_object_get(e, DIRECTIVE));
            if (d && !strcmp(d, "delete")) {
                json_array_remove(v, i);
                continue;
            }
            strip_directives(e);
            i++;
        }
    }
}

/* Go's %v of a map[string]interface{} for error messages: map[k:v k2:v2] with sorted keys. */
static void go_map_str(struct cm_buf *b, const json_t *v)
{
    if (json_is_object(v)) {
        size_t n = json_object_size(v), i = 0;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        const char *k;
        json_t *x;
        if (!keys)
            return;
        json_object_foreach((json_t *)v, k, x) keys[i++] = k;
        for (size_t a = 1; a < n; a++)
            for (size_t c = a; c > 0 && strcmp(keys[c - 1], keys[c]) > 0; c--) {
                const char *t = keys[c];
                keys[c] = keys[c - 1];
                keys[c - 1] = t;
            }
        cm_buf_puts(b, "map[");
        for (i = 0; i < n; i++) {
            cm_buf_printf(b, "%s%s:", i ? " " : "", keys[i]);
            go_map_str(b, json_object_get(v, keys[i]));
        }
        cm_buf_puts(b, "]");
        free(keys);
    } else if (json_is_array(v)) {
        cm_buf_puts(b, "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                cm_buf_puts(b, " ");
            go_map_str(b, json_array_get(v, i));
        }
        cm_buf_puts(b, "]");
    } else if (json_is_string(v)) {
        cm_buf_puts(b, json_string_value(v));
    } else if (json_is_null(v)) {
        cm_buf_puts(b, "<nil>");
    } else {
        kl__go_value(b, v);
    }
}

static int err_no_merge_key(char **ret_err, const json_t *m, const char *key)
{
    struct cm_buf b;
    cm_buf_init(&b, 0);
    go_map_str(&b, m);
    kl__set_err(ret_err, "map: %s does not contain declared merge key: %s", b.data ? b.data : "", key);
    cm_buf_done(&b);
    return -EBADMSG;
}

static int merge_map(json_t *original, json_t *patch, const struct pm_type *schema, json_t **ret, char **ret_err);

/* index() of the real code: the position of v in l, comparing merge-key values for maps. */
static long list_index(const json_t *l, const json_t *v, const char *merge_key, bool maps)
{
    const json_t *want = maps ? json_object_get(v, merge_key) : v;
    for (size_t i = 0; i < json_array_size(l); i++) {
        const json_t *e = json_array_get(l, i);
        const json_t *have = maps ? (json_is_object(e) ? json_object_get(e, merge_key) : NULL) : e;
        if (want == NULL ? have == NULL : (have && json_equal((json_t *)want, (json_t *)have)))
            return (long)i;
    }
    return -1;
}

/* Stable sort of a (new) array by the index of each element in order. */
static void sort_by_order(json_t *arr, const json_t *order, const char *merge_key, bool maps)
{
    size_t n = json_array_size(arr);
    /* insertion sort: stable, and lists are short */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0; j--) {
            json_t *a = json_array_get(arr, j - 1), *b = json_array_get(arr, j);
            long ia = list_index(order, a, merge_key, maps), ib = list_index(order, b, merge_key, maps);
            if (ia >= 0 && ib >= 0 && ib < ia) {
                json_incref(a);
                json_array_set(arr, j - 1, b);
                json_array_set_new(arr, j, a);
            } else {
                break;
            }
        }
    }
}

/* normalizeElementOrder: sorts patch items by patch order, server-only items by server order,
 * then interleaves them (mergeSortedSlice). Returns a new array. */
static json_t *normalize_order(json_t *patch_items, json_t *server_only, const json_t *patch_order,
                               const json_t *server_order, const char *merge_key, bool maps)
{
    json_t *out = json_array();
    size_t i = 0, j = 0, nl, nr;

    if (!out)
        return NULL;
    sort_by_order(patch_items, patch_order, merge_key, maps);
    sort_by_order(server_only, server_order, merge_key, maps);
    nl = json_array_size(server_only);
    nr = json_array_size(patch_items);
    while (i < nl || j < nr) {
        if (i >= nl) {
            json_array_append(out, json_array_get(patch_items, j++));
        } else if (j >= nr) {
            json_array_append(out, json_array_get(server_only, i++));
        } else {
            long li = list_index(server_order, json_array_get(server_only, i), merge_key, maps);
            long ri = list_index(server_order, json_array_get(patch_items, j), merge_key, maps);
            if (li >= 0 && ri >= 0 && li < ri)
                json_array_append(out, json_array_get(server_only, i++));
            else
                json_array_append(out, json_array_get(patch_items, j++));
        }
    }
    return out;
}

/* Splits merged into items present in by (by merge key for maps) and the others. */
static int partition(const json_t *merged, const json_t *by, const char *merge_key, bool maps, json_t **ret_in,
                     json_t **ret_out)
{
    json_t *in = json_array(), *out = json_array();
    if (!in || !out) {
        json_decref(in);
        json_decref(out);
        return -ENOMEM;
    }
    for (size_t i = 0; i < json_array_size(merged); i++) {
        json_t *e = json_array_get(merged, i);
        json_array_append(list_index(by, e, merge_key, maps) >= 0 ? in : out, e);
    }
    *ret_in = in;
    *ret_out = out;
    return 0;
}

/* The element kind of two lists: true for maps. Errors on mixed kinds. */
static int element_kind(const json_t *a, const json_t *b, bool *ret_maps, char **ret_err)
{
    int kind = -1; /* -1 unknown, 0 scalar, 1 map */
    const json_t *lists[2] = {a, b};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < json_array_size(lists[l]); i++) {
            const json_t *e = json_array_get(lists[l], i);
            int k;
            if (json_is_array(e)) {
                kl__set_err(ret_err, "lists of lists are not supported");
                return -EBADMSG;
            }
            k = json_is_object(e) ? 1 : 0;
            if (json_is_null(e))
                continue;
            if (kind >= 0 && k != kind) {
                kl__set_err(ret_err, "mismatched types of list elements");
                return -EBADMSG;
            }
            kind = k;
        }
    }
    *ret_maps = kind == 1;
    return 0;
}

/* mergeSlice of the real code. original and patch are borrowed; *ret is new. */
static int merge_slice(const json_t *original, const json_t *patch, const struct pm_type *schema,
                       const char *merge_key, bool is_delete_list, json_t **ret, char **ret_err)
{
    bool maps;
    json_t *merged = NULL, *orig = NULL, *pl = NULL, *pin = NULL, *pout = NULL;
    int r;

    if (json_array_size(original) == 0 && json_array_size(patch) == 0) {
        *ret = json_deep_copy(original);
        return *ret ? 0 : -ENOMEM;
    }
    r = element_kind(original, patch, &maps, ret_err);
    if (r < 0)
        return r;
    if (!maps) {
        if (is_delete_list) {
            merged = json_array();
            for (size_t i = 0; merged && i < json_array_size(original); i++) {
                const json_t *e = json_array_get(original, i);
                if (list_index(patch, e, NULL, false) < 0)
                    json_array_append_new(merged, json_deep_copy(e));
            }
            *ret = merged;
            return merged ? 0 : -ENOMEM;
        }
        /* deduplicateScalars(append(original, patch...)) */
        merged = json_array();
        if (!merged)
            return -ENOMEM;
        const json_t *both[2] = {original, patch};
        for (int l = 0; l < 2; l++)
            for (size_t i = 0; i < json_array_size(both[l]); i++) {
                const json_t *e = json_array_get(both[l], i);
                if (list_index(merged, e, NULL, false) < 0)
                    json_array_append_new(merged, json_deep_copy(e));
            }
        orig = json_deep_copy(original);
        pl = json_deep_copy(patch);
    } else {
        if (!merge_key) {
            kl__set_err(ret_err, "cannot merge lists without merge key");
            return -EBADMSG;
        }
        /* mergeSliceWithSpecialElements */
        bool replace = false;
        orig = json_deep_copy(original);
        pl = json_array();
        if (!orig || !pl) {
            r = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < json_array_size(patch); i++) {
            json_t *e = json_array_get(patch, i);
            json_t *d = json_object_get(e, DIRECTIVE);
            if (!d) {
                json_array_append(pl, e);
                continue;
            }
            const char *ds = json_string_value(d);
            if (ds && !strcmp(ds, "delete")) {
                json_t *mv = json_object_get(e, merge_key);
                if (!mv) {
                    r = err_no_merge_key(ret_err, e, merge_key);
                    goto out;
                }
                for (size_t j = 0; j < json_array_size(orig);) {
                    json_t *oe = json_array_get(orig, j);
                    json_t *ov = json_is_object(oe) ? json_object_get(oe, merge_key) : NULL;
                    if (ov && json_equal(ov, mv))
                        json_array_remove(orig, j);
                    else
                        j++;
                }
            } else if (ds && !strcmp(ds, "replace")) {
                replace = true;
            } else if (ds && !strcmp(ds, "merge")) {
                kl__set_err(ret_err, "merging lists cannot yet be specified in the patch");
                r = -EBADMSG;
                goto out;
            } else {
                struct cm_buf b;
                cm_buf_init(&b, 0);
                go_map_str(&b, e);
                kl__set_err(ret_err, "unknown patch type: %s in map: %s", ds ? ds : "", b.data ? b.data : "");
                cm_buf_done(&b);
                r = -EBADMSG;
                goto out;
            }
        }
        if (replace) {
            json_decref(orig);
            orig = pl;
            pl = json_array();
            if (!pl) {
                r = -ENOMEM;
                goto out;
            }
        }
        /* mergeSliceWithoutSpecialElements */
        merged = json_deep_copy(orig);
        if (!merged) {
            r = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < json_array_size(pl); i++) {
            json_t *e = json_array_get(pl, i);
            json_t *mv = json_object_get(e, merge_key);
            long found = -1;
            if (!mv) {
                r = err_no_merge_key(ret_err, e, merge_key);
                goto out;
            }
            for (size_t j = 0; j < json_array_size(merged) && found < 0; j++) {
                json_t *oe = json_array_get(merged, j);
                json_t *ov = json_is_object(oe) ? json_object_get(oe, merge_key) : NULL;
                if (ov && json_equal(ov, mv))
                    found = (long)j;
            }
            if (found >= 0) {
                json_t *mm = NULL;
                json_t *pc = json_deep_copy(e);
                if (!pc) {
                    r = -ENOMEM;
                    goto out;
                }
                r = merge_map(json_deep_copy(json_array_get(merged, (size_t)found)), pc, schema, &mm, ret_err);
                json_decref(pc);
                if (r < 0)
                    goto out;
                json_array_set_new(merged, (size_t)found, mm);
            } else {
                json_t *nc = json_deep_copy(e);
                if (!nc) {
                    r = -ENOMEM;
                    goto out;
                }
                strip_directives(nc);
                json_array_append_new(merged, nc);
            }
        }
    }
    r = partition(merged, pl, maps ? merge_key : NULL, maps, &pin, &pout);
    if (r < 0)
        goto out;
    *ret = normalize_order(pin, pout, pl, orig, maps ? merge_key : NULL, maps);
    r = *ret ? 0 : -ENOMEM;
out:
    json_decref(merged);
    json_decref(orig);
    json_decref(pl);
    json_decref(pin);
    json_decref(pout);
    return r;
}

/* mergeSliceHandler: merge only when the field's strategy says so, else the patch replaces. */
static int merge_slice_handler(const json_t *original, const json_t *patch, const struct pm_field *meta,
                               bool is_delete_list, json_t **ret, char **ret_err)
{
    if (meta && strategy_has(meta->strategy, "merge"))
        return merge_slice(original, patch, meta->type, meta->merge_key, is_delete_list, ret, ret_err);
    *ret = json_deep_copy(patch);
    if (!*ret)
        return -ENOMEM;
    strip_directives(*ret);
    return 0;
}

static int check_set_order(const json_t *patch_list, const json_t *order, const char *merge_key, char **ret_err)
{
    size_t pi = 0, oi = 0;
    json_t *non_delete = json_array();

    if (!non_delete)
        return -ENOMEM;
    for (size_t i = 0; i < json_array_size(patch_list); i++) {
        json_t *e = json_array_get(patch_list, i);
        const char *d = json_string_value(json_object_get(e, DIRECTIVE));
        if (merge_key && d && !strcmp(d, "delete"))
            continue;
        json_array_append(non_delete, e);
    }
    while (pi < json_array_size(non_delete) && oi < json_array_size(order)) {
        json_t *p = json_array_get(non_delete, pi), *o = json_array_get(order, oi);
        if (json_is_object(p) && json_object_get(p, DIRECTIVE)) {
            pi++;
            continue;
        }
        bool eq = merge_key ? (json_is_object(p) && json_is_object(o) && json_object_get(p, merge_key) &&
                               json_equal(json_object_get(p, merge_key), json_object_get(o, merge_key)))
                            : json_equal(p, o);
        if (eq)
            pi++;
        oi++;
    }
    bool bad = pi < json_array_size(non_delete) && oi >= json_array_size(order);
    json_decref(non_delete);
    if (bad) {
        kl__set_err(ret_err, "The order in patch list doesn't match $setElementOrder list");
        return -EBADMSG;
    }
    return 0;
}

/* mergePatchIntoOriginal: the $setElementOrder/<list> directives of one map. */
static int apply_set_order(json_t *original, json_t *patch, const struct pm_type *schema, char **ret_err)
{
    const char *k0;
    json_t *v0;
    size_t pl = strlen(SET_ORDER);
    json_t *order_keys = json_array();
    int r = 0;

    /* Collect the directive keys first: processing one deletes other keys of patch. */
    if (!order_keys)
        return -ENOMEM;
    json_object_foreach(patch, k0, v0) {
        if (!strncmp(k0, SET_ORDER, pl))
            json_array_append_new(order_keys, json_string(k0));
    }
    for (size_t oi = 0; oi < json_array_size(order_keys); oi++) {
        const char *k = json_string_value(json_array_get(order_keys, oi));
        json_t *v = json_object_get(patch, k);
        const char *key = k + pl;
        const struct pm_field *meta = pm_lookup(schema, key);
        const char *merge_key = meta ? meta->merge_key : NULL;
        json_t *ol = json_object_get(original, key), *pv = json_object_get(patch, key);
        json_t *merged = NULL, *pin = NULL, *pout = NULL, *both;
        bool maps;

        if (!json_is_array(v) || (pv && !json_is_array(pv))) {
            kl__set_err(ret_err, "invalid patch format of setElementOrder list");
            r = -EBADMSG;
            goto out;
        }
        if (ol && !json_is_array(ol)) {
            kl__set_err(ret_err, "invalid original list for %s", key);
            r = -EBADMSG;
            goto out;
        }
        r = check_set_order(pv, v, merge_key, ret_err);
        if (r < 0)
            goto out;
        if (ol && !pv) {
            merged = json_incref(ol);
        } else if (!ol && pv) {
            merged = json_deep_copy(pv);
            if (merged)
                strip_directives(merged);
        } else if (ol && pv) {
            r = merge_slice_handler(ol, pv, meta, false, &merged, ret_err);
            if (r < 0)
                goto out;
        } else {
            json_object_del(patch, k);
            continue;
        }
        if (!merged) {
            r = -ENOMEM;
            goto out;
        }
        r = element_kind(ol, pv, &maps, ret_err);
        if (r == 0)
            r = partition(merged, v, merge_key, maps && merge_key, &pin, &pout);
        if (r < 0) {
            json_decref(merged);
            goto out;
        }
        /* With no live list, nothing has a server position (the real code passes nil). */
        json_t *empty = json_array();
        both = empty ? normalize_order(pin, pout, v, ol ? ol : empty, merge_key, maps && merge_key) : NULL;
        json_decref(empty);
        json_decref(merged);
        json_decref(pin);
        json_decref(pout);
        if (!both) {
            r = -ENOMEM;
            goto out;
        }
        json_object_set_new(original, key, both);
        json_object_del(patch, key);
        json_object_del(patch, k);
    }
    r = 0;
out:
    json_decref(order_keys);
    return r;
}

/* applyRetainKeysDirective */
static int apply_retain_keys(json_t *original, json_t *patch, char **ret_err)
{
    json_t *rk = json_object_get(patch, RETAIN_KEYS);
    const char *k;
    json_t *v;
    void *tmp;

    if (!rk)
        return 0;
    if (!json_is_array(rk)) {
        kl__set_err(ret_err, "invalid patch format of retainKeys");
        return -EBADMSG;
    }
    json_object_foreach(patch, k, v) {
        bool found = false;
        if (json_is_null(v) || !strncmp(k, DELETE_PRIM, strlen(DELETE_PRIM)) ||
            !strncmp(k, SET_ORDER, strlen(SET_ORDER)) || !strcmp(k, RETAIN_KEYS))
            continue;
        for (size_t i = 0; i < json_array_size(rk) && !found; i++)
            found = !strcmp(kl__s(json_string_value(json_array_get(rk, i))), k);
        if (!found) {
            kl__set_err(ret_err, "invalid patch format of retainKeys");
            return -EBADMSG;
        }
    }
    json_object_foreach_safe(original, tmp, k, v) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(rk) && !found; i++)
            found = !strcmp(kl__s(json_string_value(json_array_get(rk, i))), k);
        if (!found)
            json_object_del(original, k);
    }
    json_object_del(patch, RETAIN_KEYS);
    return 0;
}

/* mergeMap. Takes ownership of original (may be NULL); patch is modified (directives consumed)
 * and borrowed. On success *ret is the merged map. */
static int merge_map(json_t *original, json_t *patch, const struct pm_type *schema, json_t **ret, char **ret_err)
{
    json_t *d = json_object_get(patch, DIRECTIVE);
    int r;

    if (d) {
        const char *ds = json_string_value(d);
        if (ds && !strcmp(ds, "replace")) {
            json_t *copy = json_deep_copy(patch);
            json_decref(original);
            if (!copy)
                return -ENOMEM;
            json_object_del(copy, DIRECTIVE);
            strip_directives(copy);
            *ret = copy;
            return 0;
        }
        if (ds && !strcmp(ds, "delete")) {
            json_decref(original);
            *ret = json_object();
            return *ret ? 0 : -ENOMEM;
        }
        struct cm_buf b;
        cm_buf_init(&b, 0);
        go_map_str(&b, patch);
        kl__set_err(ret_err, "unknown patch type: %s in map: %s", ds ? ds : "", b.data ? b.data : "");
        cm_buf_done(&b);
        json_decref(original);
        return -EBADMSG;
    }
    if (!original)
        original = json_object();
    if (!original)
        return -ENOMEM;
    r = apply_retain_keys(original, patch, ret_err);
    if (r == 0)
        r = apply_set_order(original, patch, schema, ret_err);
    if (r < 0) {
        json_decref(original);
        return r;
    }
    /* Regular keys first, then $deleteFromPrimitiveList lists. */
    for (int pass = 0; pass < 2; pass++) {
        const char *k;
        json_t *pv;
        json_object_foreach(patch, k, pv) {
            bool is_delete = !strncmp(k, DELETE_PRIM, strlen(DELETE_PRIM));
            const char *key = is_delete ? k + strlen(DELETE_PRIM) : k;
            json_t *ov;
            const struct pm_field *meta;

            if (is_delete != (pass == 1))
                continue;
            if (!is_delete && is_directive_key(k))
                continue;
            if (json_is_null(pv)) {
                json_object_del(original, key);
                continue;
            }
            ov = json_object_get(original, key);
            if (!ov || json_typeof(ov) != json_typeof(pv) ||
                (!json_is_object(ov) && !json_is_array(ov))) {
                if (is_delete && (!ov || json_typeof(ov) != json_typeof(pv)))
                    continue;
                json_t *c = json_deep_copy(pv);
                if (!c) {
                    json_decref(original);
                    return -ENOMEM;
                }
                strip_directives(c);
                json_object_set_new(original, key, c);
                continue;
            }
            meta = pm_lookup(schema, key);
            json_t *merged = NULL;
            if (json_is_object(ov)) {
                if (meta && strategy_has(meta->strategy, "replace")) {
                    merged = json_deep_copy(pv);
                    if (merged)
                        strip_directives(merged);
                    r = merged ? 0 : -ENOMEM;
                } else {
                    json_t *pc = json_deep_copy(pv);
                    const struct pm_type *sub = meta ? meta->type : (schema && schema->map_elem ? schema->map_elem : NULL);
                    r = pc ? merge_map(json_incref(ov), pc, sub, &merged, ret_err) : -ENOMEM;
                    json_decref(pc);
                }
            } else {
                r = merge_slice_handler(ov, pv, meta, is_delete, &merged, ret_err);
            }
            if (r < 0) {
                json_decref(original);
                return r;
            }
            json_object_set_new(original, key, merged);
        }
    }
    *ret = original;
    return 0;
}

int kl_patch_strategic(json_t **target, const json_t *patch, const char *group, const char *kind, char **ret_err)
{
    const struct pm_type *schema = NULL;
    json_t *orig, *p, *res = NULL;
    int r;

    for (size_t i = 0; i < sizeof(pm_kinds) / sizeof(pm_kinds[0]); i++)
        if (!strcmp(pm_kinds[i].group, group ? group : "") && !strcmp(pm_kinds[i].kind, kind ? kind : ""))
            schema = pm_kinds[i].type;
    if (!schema) {
        kl__set_err(ret_err, "strategic merge patch is not supported for %s%s%s", kind ? kind : "",
                    group && *group ? "." : "", group ? group : "");
        return -EPROTONOSUPPORT;
    }
    if (!target || !json_is_object(patch)) {
        kl__set_err(ret_err, "invalid JSON document");
        return -EBADMSG;
    }
    orig = *target ? json_deep_copy(*target) : json_object();
    p = json_deep_copy(patch);
    if (!orig || !p) {
        json_decref(orig);
        json_decref(p);
        return -ENOMEM;
    }
    r = merge_map(orig, p, schema, &res, ret_err);
    json_decref(p);
    if (r < 0)
        return r;
    json_decref(*target);
    *target = res;
    return 0;
}
