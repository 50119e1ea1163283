#include "kl_proto.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum pk {
    PK_STRING,
    PK_BYTES,  /* base64 in JSON */
    PK_INT,    /* varint, signed 64 */
    PK_BOOL,
    PK_MSG,
    PK_MAP_SS, /* map<string,string> */
    PK_MAP_SB, /* map<string,bytes> */
    PK_TIME,   /* metav1.Time: RFC 3339 */
    PK_INTSTR, /* intstr.IntOrString */
};

struct pmsg;
struct pfield {
    int num;
    const char *json;
    enum pk kind;
    int repeated;
    const struct pmsg *msg;
};
struct pmsg {
    const struct pfield *fields;
};

#define END {0, NULL, 0, 0, NULL}

static const struct pmsg ownerref = {(const struct pfield[]){
    {1, "kind", PK_STRING, 0, NULL}, {3, "name", PK_STRING, 0, NULL},
    {4, "uid", PK_STRING, 0, NULL}, {5, "apiVersion", PK_STRING, 0, NULL},
    {6, "controller", PK_BOOL, 0, NULL}, {7, "blockOwnerDeletion", PK_BOOL, 0, NULL}, END}};
static const struct pmsg objectmeta = {(const struct pfield[]){
    {1, "name", PK_STRING, 0, NULL}, {2, "generateName", PK_STRING, 0, NULL},
    {3, "namespace", PK_STRING, 0, NULL}, {5, "uid", PK_STRING, 0, NULL},
    {6, "resourceVersion", PK_STRING, 0, NULL}, {7, "generation", PK_INT, 0, NULL},
    {8, "creationTimestamp", PK_TIME, 0, NULL}, {9, "deletionTimestamp", PK_TIME, 0, NULL},
    {10, "deletionGracePeriodSeconds", PK_INT, 0, NULL}, {11, "labels", PK_MAP_SS, 0, NULL},
    {12, "annotations", PK_MAP_SS, 0, NULL}, {13, "ownerReferences", PK_MSG, 1, &ownerref},
    {14, "finalizers", PK_STRING, 1, NULL}, END}};
static const struct pmsg configmap = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "data", PK_MAP_SS, 0, NULL},
    {3, "binaryData", PK_MAP_SB, 0, NULL}, {4, "immutable", PK_BOOL, 0, NULL}, END}};
static const struct pmsg secret = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "data", PK_MAP_SB, 0, NULL},
    {3, "type", PK_STRING, 0, NULL}, {4, "stringData", PK_MAP_SS, 0, NULL},
    {5, "immutable", PK_BOOL, 0, NULL}, END}};
static const struct pmsg nsspec = {(const struct pfield[]){{1, "finalizers", PK_STRING, 1, NULL}, END}};
static const struct pmsg nsstatus = {(const struct pfield[]){{1, "phase", PK_STRING, 0, NULL}, END}};
static const struct pmsg namespace_ = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "spec", PK_MSG, 0, &nsspec},
    {3, "status", PK_MSG, 0, &nsstatus}, END}};
static const struct pmsg objref = {(const struct pfield[]){
    {1, "kind", PK_STRING, 0, NULL}, {2, "namespace", PK_STRING, 0, NULL},
    {3, "name", PK_STRING, 0, NULL}, {4, "uid", PK_STRING, 0, NULL},
    {5, "apiVersion", PK_STRING, 0, NULL}, {6, "resourceVersion", PK_STRING, 0, NULL},
    {7, "fieldPath", PK_STRING, 0, NULL}, END}};
static const struct pmsg localref = {(const struct pfield[]){{1, "name", PK_STRING, 0, NULL}, END}};
static const struct pmsg serviceaccount = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "secrets", PK_MSG, 1, &objref},
    {3, "imagePullSecrets", PK_MSG, 1, &localref},
    {4, "automountServiceAccountToken", PK_BOOL, 0, NULL}, END}};
static const struct pmsg policyrule = {(const struct pfield[]){
    {1, "verbs", PK_STRING, 1, NULL}, {2, "apiGroups", PK_STRING, 1, NULL},
    {3, "resources", PK_STRING, 1, NULL}, {4, "resourceNames", PK_STRING, 1, NULL},
    {5, "nonResourceURLs", PK_STRING, 1, NULL}, END}};
static const struct pmsg selreq = {(const struct pfield[]){
    {1, "key", PK_STRING, 0, NULL}, {2, "operator", PK_STRING, 0, NULL},
    {3, "values", PK_STRING, 1, NULL}, END}};
static const struct pmsg labelselector = {(const struct pfield[]){
    {1, "matchLabels", PK_MAP_SS, 0, NULL}, {2, "matchExpressions", PK_MSG, 1, &selreq}, END}};
static const struct pmsg aggregation = {(const struct pfield[]){
    {1, "clusterRoleSelectors", PK_MSG, 1, &labelselector}, END}};
static const struct pmsg role = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "rules", PK_MSG, 1, &policyrule}, END}};
static const struct pmsg clusterrole = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "rules", PK_MSG, 1, &policyrule},
    {3, "aggregationRule", PK_MSG, 0, &aggregation}, END}};
static const struct pmsg subject = {(const struct pfield[]){
    {1, "kind", PK_STRING, 0, NULL}, {2, "apiGroup", PK_STRING, 0, NULL},
    {3, "name", PK_STRING, 0, NULL}, {4, "namespace", PK_STRING, 0, NULL}, END}};
static const struct pmsg roleref = {(const struct pfield[]){
    {1, "apiGroup", PK_STRING, 0, NULL}, {2, "kind", PK_STRING, 0, NULL},
    {3, "name", PK_STRING, 0, NULL}, END}};
static const struct pmsg rolebinding = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "subjects", PK_MSG, 1, &subject},
    {3, "roleRef", PK_MSG, 0, &roleref}, END}};
static const struct pmsg pdbspec = {(const struct pfield[]){
    {1, "minAvailable", PK_INTSTR, 0, NULL}, {2, "selector", PK_MSG, 0, &labelselector},
    {3, "maxUnavailable", PK_INTSTR, 0, NULL},
    {4, "unhealthyPodEvictionPolicy", PK_STRING, 0, NULL}, END}};
static const struct pmsg pdb = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "spec", PK_MSG, 0, &pdbspec}, END}};
static const struct pmsg preconditions = {(const struct pfield[]){
    {1, "uid", PK_STRING, 0, NULL}, {2, "resourceVersion", PK_STRING, 0, NULL}, END}};
static const struct pmsg deleteoptions = {(const struct pfield[]){
    {1, "gracePeriodSeconds", PK_INT, 0, NULL}, {2, "preconditions", PK_MSG, 0, &preconditions},
    {3, "orphanDependents", PK_BOOL, 0, NULL}, {4, "propagationPolicy", PK_STRING, 0, NULL},
    {5, "dryRun", PK_STRING, 1, NULL}, END}};
static const struct pmsg eviction = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "deleteOptions", PK_MSG, 0, &deleteoptions}, END}};

static const struct pmsg resattrs = {(const struct pfield[]){
    {1, "namespace", PK_STRING, 0, NULL}, {2, "verb", PK_STRING, 0, NULL},
    {3, "group", PK_STRING, 0, NULL}, {4, "version", PK_STRING, 0, NULL},
    {5, "resource", PK_STRING, 0, NULL}, {6, "subresource", PK_STRING, 0, NULL},
    {7, "name", PK_STRING, 0, NULL}, END}};
static const struct pmsg nonresattrs = {(const struct pfield[]){
    {1, "path", PK_STRING, 0, NULL}, {2, "verb", PK_STRING, 0, NULL}, END}};
static const struct pmsg ssarspec = {(const struct pfield[]){
    {1, "resourceAttributes", PK_MSG, 0, &resattrs},
    {2, "nonResourceAttributes", PK_MSG, 0, &nonresattrs}, END}};
static const struct pmsg ssar = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "spec", PK_MSG, 0, &ssarspec}, END}};
static const struct pmsg sarspec = {(const struct pfield[]){
    {1, "resourceAttributes", PK_MSG, 0, &resattrs},
    {2, "nonResourceAttributes", PK_MSG, 0, &nonresattrs}, {3, "user", PK_STRING, 0, NULL},
    {4, "groups", PK_STRING, 1, NULL}, {6, "uid", PK_STRING, 0, NULL}, END}};
static const struct pmsg sar = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "spec", PK_MSG, 0, &sarspec}, END}};
static const struct pmsg ssr = {(const struct pfield[]){{1, "metadata", PK_MSG, 0, &objectmeta}, END}};
static const struct pmsg trspec = {(const struct pfield[]){
    {1, "token", PK_STRING, 0, NULL}, {2, "audiences", PK_STRING, 1, NULL}, END}};
static const struct pmsg tokenreview = {(const struct pfield[]){
    {1, "metadata", PK_MSG, 0, &objectmeta}, {2, "spec", PK_MSG, 0, &trspec}, END}};

static const struct {
    const char *kind;
    const struct pmsg *msg;
} kinds[] = {
    {"ConfigMap", &configmap},   {"Secret", &secret},
    {"Namespace", &namespace_},  {"ServiceAccount", &serviceaccount},
    {"Role", &role},             {"ClusterRole", &clusterrole},
    {"RoleBinding", &rolebinding}, {"ClusterRoleBinding", &rolebinding},
    {"PodDisruptionBudget", &pdb}, {"Eviction", &eviction},
    {"DeleteOptions", &deleteoptions}, {"SelfSubjectAccessReview", &ssar},
    {"SubjectAccessReview", &sar}, {"SelfSubjectReview", &ssr},
    {"TokenReview", &tokenreview},
};

struct rd {
    const unsigned char *p, *end;
};

static int varint(struct rd *r, uint64_t *ret) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -EINVAL;
        unsigned char b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return -EINVAL;
}

static int skip(struct rd *r, int wt) {
    uint64_t v;
    switch (wt) {
    case 0: return varint(r, &v);
    case 1: if (r->end - r->p < 8) return -EINVAL; r->p += 8; return 0;
    case 5: if (r->end - r->p < 4) return -EINVAL; r->p += 4; return 0;
    case 2:
        if (varint(r, &v) < 0 || v > (uint64_t)(r->end - r->p))
            return -EINVAL;
        r->p += v;
        return 0;
    default: return -EINVAL;
    }
}

static int lenfield(struct rd *r, struct rd *sub) {
    uint64_t n;
    if (varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p))
        return -EINVAL;
    sub->p = r->p;
    sub->end = r->p + n;
    r->p += n;
    return 0;
}

static json_t *b64(const unsigned char *p, size_t n) {
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    json_t *s = json_string(out);
    free(out);
    return s;
}

static int decode_msg(struct rd *r, const struct pmsg *m, json_t *obj, int depth);

/* A map entry: 1 key, 2 value. */
static int map_entry(struct rd *sub, int bytes_value, json_t *map) {
    char *key = NULL;
    json_t *val = NULL;
    int rc = 0;
    while (sub->p < sub->end && rc == 0) {
        uint64_t k;
        if ((rc = varint(sub, &k)) < 0)
            break;
        struct rd s2;
        if ((k & 7) != 2) {
            rc = skip(sub, (int)(k & 7));
            continue;
        }
        if ((rc = lenfield(sub, &s2)) < 0)
            break;
        size_t n = (size_t)(s2.end - s2.p);
        if ((k >> 3) == 1) {
            free(key);
            key = strndup((const char *)s2.p, n);
        } else if ((k >> 3) == 2) {
            json_decref(val);
            val = bytes_value ? b64(s2.p, n) : json_stringn((const char *)s2.p, n);
        }
    }
    if (rc == 0 && key)
        json_object_set_new(map, key, val ? val : (bytes_value ? json_string("") : json_string("")));
    else
        json_decref(val);
    free(key);
    return rc;
}

static json_t *time_json(struct rd *sub) {
    int64_t secs = 0;
    while (sub->p < sub->end) {
        uint64_t k, v;
        if (varint(sub, &k) < 0)
            return NULL;
        if ((k & 7) == 0) {
            if (varint(sub, &v) < 0)
                return NULL;
            if ((k >> 3) == 1)
                secs = (int64_t)v;
        } else if (skip(sub, (int)(k & 7)) < 0) {
            return NULL;
        }
    }
    if (secs == 0)
        return json_null();
    time_t t = (time_t)secs;
    struct tm tm;
    char buf[64];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *intstr_json(struct rd *sub) {
    uint64_t type = 0, iv = 0;
    char *sv = NULL;
    while (sub->p < sub->end) {
        uint64_t k;
        if (varint(sub, &k) < 0)
            break;
        struct rd s2;
        if ((k >> 3) == 1 && (k & 7) == 0)
            varint(sub, &type);
        else if ((k >> 3) == 2 && (k & 7) == 0)
            varint(sub, &iv);
        else if ((k >> 3) == 3 && (k & 7) == 2 && lenfield(sub, &s2) == 0) {
            free(sv);
            sv = strndup((const char *)s2.p, (size_t)(s2.end - s2.p));
        } else if (skip(sub, (int)(k & 7)) < 0)
            break;
    }
    json_t *out = type == 1 ? json_string(sv ? sv : "") : json_integer((json_int_t)(int32_t)iv);
    free(sv);
    return out;
}

static const struct pfield *field_of(const struct pmsg *m, int num) {
    for (const struct pfield *f = m->fields; f->json; f++)
        if (f->num == num)
            return f;
    return NULL;
}

static int decode_msg(struct rd *r, const struct pmsg *m, json_t *obj, int depth) {
    if (depth > 16)
        return -EINVAL;
    while (r->p < r->end) {
        uint64_t k;
        if (varint(r, &k) < 0)
            return -EINVAL;
        int wt = (int)(k & 7);
        const struct pfield *f = field_of(m, (int)(k >> 3));
        if (!f) {
            if (skip(r, wt) < 0)
                return -EINVAL;
            continue;
        }
        json_t *v = NULL;
        struct rd sub;
        if (wt == 2) {
            if (lenfield(r, &sub) < 0)
                return -EINVAL;
        } else if (wt != 0) {
            if (skip(r, wt) < 0)
                return -EINVAL;
            continue;
        }
        switch (f->kind) {
        case PK_STRING:
            if (wt == 2)
                v = json_stringn((const char *)sub.p, (size_t)(sub.end - sub.p));
            break;
        case PK_BYTES:
            if (wt == 2)
                v = b64(sub.p, (size_t)(sub.end - sub.p));
            break;
        case PK_INT:
        case PK_BOOL: {
            uint64_t x;
            if (wt != 0 || varint(r, &x) < 0)
                return -EINVAL;
            v = f->kind == PK_BOOL ? json_boolean(x != 0) : json_integer((json_int_t)x);
            break;
        }
        case PK_MSG:
            if (wt == 2) {
                v = json_object();
                if (decode_msg(&sub, f->msg, v, depth + 1) < 0) {
                    json_decref(v);
                    return -EINVAL;
                }
            }
            break;
        case PK_MAP_SS:
        case PK_MAP_SB: {
            if (wt != 2)
                break;
            json_t *map = json_object_get(obj, f->json);
            if (!map) {
                map = json_object();
                json_object_set_new(obj, f->json, map);
            }
            if (map_entry(&sub, f->kind == PK_MAP_SB, map) < 0)
                return -EINVAL;
            continue;
        }
        case PK_TIME:
            if (wt == 2)
                v = time_json(&sub);
            break;
        case PK_INTSTR:
            if (wt == 2)
                v = intstr_json(&sub);
            break;
        }
        if (!v)
            continue;
        if (f->repeated) {
            json_t *arr = json_object_get(obj, f->json);
            if (!arr) {
                arr = json_array();
                json_object_set_new(obj, f->json, arr);
            }
            json_array_append_new(arr, v);
        } else {
            json_object_set_new(obj, f->json, v);
        }
    }
    return 0;
}

/* Drops what proto3 cannot tell from absent (empty strings, zero numbers, false, null, empty
 * objects), as the omitempty JSON tags of these types would. */
static int is_map_field(const char *k) {
    static const char *const maps[] = {"data", "binaryData", "stringData", "labels",
                                       "annotations", "matchLabels", NULL};
    for (size_t i = 0; maps[i]; i++)
        if (strcmp(k, maps[i]) == 0)
            return 1;
    return 0;
}

static void prune_empty(json_t *obj) {
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v) {
        if (json_is_object(v) && !is_map_field(k))
            prune_empty(v);
        else if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if (json_is_object(e))
                    prune_empty(e);
            }
        }
        if ((json_is_string(v) && json_string_length(v) == 0) ||
            (json_is_integer(v) && json_integer_value(v) == 0 && strcmp(k, "intVal") != 0 &&
             strcmp(k, "minAvailable") != 0 && strcmp(k, "maxUnavailable") != 0) ||
            json_is_false(v) || json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0))
            json_object_del(obj, k);
    }
}

int kl_proto_decode(const char *body, size_t len, json_t **ret_doc, char **ret_err) {
    static const unsigned char magic[4] = {'k', '8', 's', 0};
    if (len < 4 || memcmp(body, magic, 4) != 0) {
        if (ret_err)
            *ret_err = strdup("protobuf body without the k8s envelope");
        return -EINVAL;
    }
    struct rd r = {(const unsigned char *)body + 4, (const unsigned char *)body + len};
    char *apiv = NULL, *kind = NULL;
    struct rd raw = {NULL, NULL};
    int rc = 0;
    while (r.p < r.end) {
        uint64_t k;
        struct rd sub;
        if (varint(&r, &k) < 0) {
            rc = -EINVAL;
            break;
        }
        if ((k & 7) != 2) {
            if (skip(&r, (int)(k & 7)) < 0) {
                rc = -EINVAL;
                break;
            }
            continue;
        }
        if (lenfield(&r, &sub) < 0) {
            rc = -EINVAL;
            break;
        }
        if ((k >> 3) == 1) {
            while (sub.p < sub.end) {
                uint64_t k2;
                struct rd s2;
                if (varint(&sub, &k2) < 0 || (k2 & 7) != 2 || lenfield(&sub, &s2) < 0) {
                    rc = -EINVAL;
                    break;
                }
                char *s = strndup((const char *)s2.p, (size_t)(s2.end - s2.p));
                if ((k2 >> 3) == 1) {
                    free(apiv);
                    apiv = s;
                } else if ((k2 >> 3) == 2) {
                    free(kind);
                    kind = s;
                } else {
                    free(s);
                }
            }
        } else if ((k >> 3) == 2) {
            raw = sub;
        }
    }
    const struct pmsg *m = NULL;
    for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            m = kinds[i].msg;
    json_t *doc = NULL;
    if (rc == 0 && !m) {
        if (ret_err && asprintf(ret_err,
                                "kube-lite does not decode %s in protobuf; send "
                                "application/json",
                                kind ? kind : "(no kind)") < 0)
            *ret_err = NULL;
        rc = -EPROTONOSUPPORT;
    }
    if (rc == 0) {
        doc = json_object();
        if (raw.p && decode_msg(&raw, m, doc, 0) < 0) {
            if (ret_err)
                *ret_err = strdup("malformed protobuf body");
            rc = -EINVAL;
        }
    }
    if (rc == 0) {
        prune_empty(doc);
        json_object_set_new(doc, "apiVersion", json_string(apiv ? apiv : ""));
        json_object_set_new(doc, "kind", json_string(kind));
        *ret_doc = doc;
        doc = NULL;
    } else if (rc == -EINVAL && ret_err && !*ret_err) {
        *ret_err = strdup("malformed protobuf body");
    }
    json_decref(doc);
    free(apiv);
    free(kind);
    return rc;
}
