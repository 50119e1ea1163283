/* The REST handlers. Where the original kept everything in one etcd record per REST object, the
 * data now lives in several resources (membership on each Host, keys in Secrets, operation
 * records in Operations), so writes that REF did as one save need care:
 *
 *  - Membership changes of one cluster (the old/new compare-and-swap, single member add/remove,
 *    host create with a cluster, cluster delete) are serialised by a short lease written into an
 *    annotation of the Cluster with resourceVersion preconditions: exactly one writer holds it,
 *    and the holder reads the member Hosts fresh from the API server (not the cache) before
 *    comparing. Two racing CAS writers therefore cannot both win: the second one sees the first
 *    one's result and gets 409. Host updates also carry their resourceVersion, so a host cannot
 *    be pulled into two clusters at once (decisions 29).
 *  - Starting an operation takes the same lease, so "at most one pending/in-process operation
 *    per cluster" (decisions 18) holds across concurrent requests and across shim replicas.
 *  - Every write result is fed into the store, so a read right after a write sees it. */
#include "shim_api.h"

#include <errno.h>
#include <malloc.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "kube_client.h"
#include "kube_error.h"
#include "kube_status.h"
#include "shim_render.h"
#include "shim_request.h"
#include "shim_store.h"

#define NAME_BUF 264
#define LOCK_TTL_MS 15000
#define LOCK_WAIT_MS 10000
#define HOST_KEY_DATA "ssh-privatekey"
#define CL_CACHE_SLOTS 64

struct shim_api {
    struct kube_client *c;
    struct shim_store *store;
    char *ns;
    char holder[40]; /* this process's lease holder id */
    /* GET /cluster/{name} answers, reused while the store's generation is unchanged: a cluster of
     * a thousand hosts costs a scan, a sort and a render, far too much to repeat per request. */
    pthread_mutex_t cl_lock;
    struct cl_entry {
        char name[NAME_BUF];
        uint64_t gen;
        struct shim_blob *blob; /* NULL: free slot */
    } cl_cache[CL_CACHE_SLOTS];
    unsigned cl_next; /* round-robin replacement */
};

void shim_response_init(struct shim_response *r) {
    r->status = 200;
    r->blob = NULL;
    cm_buf_init(&r->body, 0);
}

void shim_response_done(struct shim_response *r) {
    cm_buf_done(&r->body);
    shim_blob_unref(r->blob);
    r->blob = NULL;
}

const char *shim_response_data(const struct shim_response *r, size_t *ret_len) {
    if (r->blob) {
        *ret_len = r->blob->len;
        return r->blob->data;
    }
    *ret_len = r->body.len;
    return r->body.data ? r->body.data : "";
}

void shim_response_error(struct shim_response *r, int status, const char *message) {
    json_t *o = json_pack("{s:s, s:s}", "error", shim_http_reason(status), "message",
                          message ? message : shim_http_reason(status));
    char *t = o ? shim_json_text(o) : NULL;

    cm_buf_reset(&r->body);
    shim_blob_unref(r->blob);
    r->blob = NULL;
    r->status = status;
    if (t)
        cm_buf_puts(&r->body, t);
    else
        cm_buf_puts(&r->body, "{\"error\": \"Internal Server Error\"}");
    free(t);
    json_decref(o);
}

/* Steals v. */
static void resp_json(struct shim_response *r, int status, json_t *v) {
    char *t = v ? shim_json_text(v) : NULL;

    json_decref(v);
    if (!t) {
        shim_response_error(r, 500, "out of memory");
        return;
    }
    cm_buf_reset(&r->body);
    r->status = status;
    cm_buf_puts(&r->body, t);
    free(t);
}

static void resp_err(struct shim_response *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void resp_err(struct shim_response *r, int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    shim_response_error(r, status, msg);
}

/* An API server failure as a REST error. For writes of Secrets pass secret=1: their Status
 * messages are not echoed, in case a server quotes data back. */
static void resp_kerr(struct shim_response *r, int rc, const struct kube_error *e, const char *what,
                      int secret) {
    const char *m = e && e->message ? e->message : strerror(-rc);

    if (secret)
        m = "the API server refused the Secret";
    if (rc == -EINVAL) {
        /* 400/422 from the API server: the request carried a value the schema refuses. */
        if (e && e->n_causes && e->causes[0].message && !secret)
            resp_err(r, 400, "%s: %s%s%s", what, e->causes[0].field ? e->causes[0].field : "",
                     e->causes[0].field ? ": " : "", e->causes[0].message);
        else
            resp_err(r, 400, "%s: %s", what, m);
    } else if (rc == -ENOENT) {
        resp_err(r, 404, "%s: not found", what);
    } else if (rc == -EEXIST || rc == -ESTALE) {
        resp_err(r, 409, "%s: changed concurrently, try again", what);
    } else {
        cm_log_kv(CM_LOG_WARN, "API server request failed", "what", what, "error", m, NULL);
        resp_err(r, 500, "%s: API server error: %s", what, m);
    }
}

static char *pdup(const char *p, size_t n) {
    return p ? strndup(p, n) : NULL;
}

int shim_api_new(struct kube_client *c, struct shim_store *store, const char *ns,
                 struct shim_api **ret) {
    struct shim_api *a = calloc(1, sizeof *a);
    unsigned char rnd[8];

    if (!a || !(a->ns = strdup(ns))) {
        free(a);
        return -ENOMEM;
    }
    a->c = c;
    a->store = store;
    pthread_mutex_init(&a->cl_lock, NULL);
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        memset(rnd, 0, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(a->holder + 2 * i, 3, "%02x", rnd[i]);
    *ret = a;
    return 0;
}

void shim_api_free(struct shim_api *a) {
    if (!a)
        return;
    for (unsigned i = 0; i < CL_CACHE_SLOTS; i++)
        shim_blob_unref(a->cl_cache[i].blob);
    pthread_mutex_destroy(&a->cl_lock);
    free(a->ns);
    free(a);
}

int shim_api_route_inline(enum shim_route r) {
    switch (r) {
    case SHIM_R_HOSTS_LIST:
    case SHIM_R_HOST_GET:
    case SHIM_R_HOST_STATUS:
    case SHIM_R_CLUSTERS_LIST:
    case SHIM_R_CLUSTER_GET:
    case SHIM_R_MEMBERS_GET:
    case SHIM_R_MEMBER_GET:
    case SHIM_R_NETWORKS_LIST:
    case SHIM_R_NETWORK_GET:
    case SHIM_R_DEPLOY_GET:
    case SHIM_R_UPGRADE_GET:
    case SHIM_R_RESTART_GET:
    case SHIM_R_CMS_LIST: return 1;
    default: return 0;
    }
}

/* ---- names and lookups ---------------------------------------------------------------- */

static void kname(const char *rest, char out[NAME_BUF]) {
    if (shim_k8s_name(rest, 63, out, NAME_BUF) < 0)
        snprintf(out, NAME_BUF, "invalid");
}

static void host_kname(const char *address, char out[NAME_BUF]) {
    if (shim_k8s_name(address, 253, out, NAME_BUF) < 0)
        snprintf(out, NAME_BUF, "invalid");
}

/* The cached object, or on a miss a fresh GET (worker threads only): another shim replica or
 * kubectl may have created it a moment ago. *ret new reference; 0, -ENOENT or another error. */
static int lookup(struct shim_api *a, enum shim_kind k, const char *name, int fresh_on_miss,
                  json_t **ret, struct kube_error *e) {
    json_t *o = shim_store_get(a->store, k, name);
    int rc;

    if (o || !fresh_on_miss) {
        *ret = o;
        return o ? 0 : -ENOENT;
    }
    rc = kube_get(a->c, shim_kind_resource(k), a->ns, name, NULL, &o, e);
    if (rc < 0)
        return rc;
    if (cm_json_get(o, "metadata.deletionTimestamp")) {
        json_decref(o);
        return -ENOENT;
    }
    shim_store_apply(a->store, k, o);
    *ret = o;
    return 0;
}

static json_t *host_lookup(struct shim_api *a, const char *address, int fresh) {
    json_t *h = shim_store_host_by_address(a->store, address);
    char name[NAME_BUF];

    if (h || !fresh)
        return h;
    host_kname(address, name);
    if (lookup(a, SHIM_K_HOST, name, 1, &h, NULL) < 0)
        return NULL;
    if (!cm_json_get_str(h, "spec.address") ||
        strcmp(cm_json_get_str(h, "spec.address"), address) != 0) {
        json_decref(h);
        return NULL;
    }
    return h;
}

/* The REST name of a cluster's container manager and whether it manages nodes. */
static const char *cluster_cm(struct shim_api *a, const json_t *cluster, bool *managed,
                              json_t **ret_cm) {
    const char *cmk = cm_json_get_str(cluster, "spec.containerManager");
    json_t *cm;
    const char *type;

    *managed = false;
    *ret_cm = NULL;
    if (!cmk || !*cmk)
        return "";
    cm = shim_store_get(a->store, SHIM_K_CM, cmk);
    if (!cm)
        return cmk;
    type = cm_json_get_str(cm, "spec.type");
    *managed = type && (strcmp(type, "kubernetes") == 0 || strcmp(type, "openshift") == 0);
    *ret_cm = cm;
    return shim_rest_name(cm);
}

/* The REST name of a cluster's network (a new string). */
static char *cluster_net(struct shim_api *a, const json_t *cluster) {
    const char *nk = cm_json_get_str(cluster, "spec.network");
    json_t *net;
    char *out;

    if (!nk || !*nk)
        return strdup("default");
    net = shim_store_get(a->store, SHIM_K_NETWORK, nk);
    out = strdup(net ? shim_rest_name(net) : nk);
    json_decref(net);
    return out;
}

static int host_ready(const json_t *h) {
    const char *p = cm_json_get_str(h, "status.phase");

    return p && (strcmp(p, "active") == 0 || strcmp(p, "disassociated") == 0);
}

static int host_in(const json_t *h, const char *cluster) {
    const char *c = cm_json_get_str(h, "spec.cluster");

    return c && strcmp(c, cluster) == 0;
}

static const char *host_cluster(const json_t *h) {
    const char *c = cm_json_get_str(h, "spec.cluster");

    return c && *c ? c : NULL;
}

/* Sets (val != NULL) or removes an annotation. */
static void set_ann(json_t *obj, const char *key, const char *val) {
    json_t *md = json_object_get(obj, "metadata"), *ann = json_object_get(md, "annotations");

    if (!json_is_object(ann)) {
        if (!val)
            return;
        ann = json_object();
        json_object_set_new(md, "annotations", ann);
    }
    if (val)
        json_object_set_new(ann, key, json_string(val));
    else
        json_object_del(ann, key);
}

/* ---- the cluster lease ------------------------------------------------------------------ */

static void sleep_ms(int64_t ms) {
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

/* Takes the write lease of cluster name. 0, -ENOENT (no such cluster), -ETIMEDOUT (another
 * writer held it too long), or an API error. The wait is a short jittered retry loop on a worker
 * thread: leases are held for a few API round trips only. */
static int cluster_lock(struct shim_api *a, const char *name, struct kube_error *e) {
    int64_t deadline = cm_time_mono_ms() + LOCK_WAIT_MS;
    int attempt = 0;

    for (;;) {
        json_t *cl = NULL, *copy, *upd = NULL;
        const char *cur;
        char val[96];
        int rc;

        kube_error_done(e);
        rc = kube_get(a->c, &SHIM_RES_CLUSTERS, a->ns, name, NULL, &cl, e);
        if (rc < 0)
            return rc;
        if (cm_json_get(cl, "metadata.deletionTimestamp")) {
            json_decref(cl);
            return -ENOENT;
        }
        cur = json_string_value(
            json_object_get(cm_json_get(cl, "metadata.annotations"), SHIM_ANN_LOCK));
        if (cur) {
            char holder[40] = "";
            long long until = 0;

            if (sscanf(cur, "%39s %lld", holder, &until) == 2 && until > cm_time_wall_ms() &&
                strcmp(holder, a->holder) != 0) {
                json_decref(cl);
                if (cm_time_mono_ms() > deadline)
                    return -ETIMEDOUT;
                sleep_ms(10 + (attempt++ % 5) * 10);
                continue;
            }
        }
        /* Free, expired (its holder died), or already ours. */
        snprintf(val, sizeof val, "%s %lld", a->holder,
                 (long long)(cm_time_wall_ms() + LOCK_TTL_MS));
        copy = json_deep_copy(cl);
        json_decref(cl);
        if (!copy)
            return -ENOMEM;
        set_ann(copy, SHIM_ANN_LOCK, val);
        rc = kube_update(a->c, &SHIM_RES_CLUSTERS, a->ns, name, NULL, copy, NULL, &upd, e);
        json_decref(copy);
        if (rc == 0) {
            shim_store_apply(a->store, SHIM_K_CLUSTER, upd);
            json_decref(upd);
            return 0;
        }
        if (rc != -ESTALE)
            return rc;
        if (cm_time_mono_ms() > deadline)
            return -ETIMEDOUT;
    }
}

/* Releases our lease (best effort: an unreleased lease expires after LOCK_TTL_MS). */
static void cluster_unlock(struct shim_api *a, const char *name) {
    for (int i = 0; i < 10; i++) {
        json_t *cl = NULL, *copy, *ann, *upd = NULL;
        const char *cur;
        int rc;

        if (kube_get(a->c, &SHIM_RES_CLUSTERS, a->ns, name, NULL, &cl, NULL) < 0)
            return;
        ann = cm_json_get(cl, "metadata.annotations");
        cur = json_string_value(json_object_get(ann, SHIM_ANN_LOCK));
        if (!cur || strncmp(cur, a->holder, strlen(a->holder)) != 0) {
            json_decref(cl);
            return;
        }
        copy = json_deep_copy(cl);
        json_decref(cl);
        if (!copy)
            return;
        json_object_del(cm_json_get(copy, "metadata.annotations"), SHIM_ANN_LOCK);
        if (json_object_size(cm_json_get(copy, "metadata.annotations")) == 0)
            json_object_del(json_object_get(copy, "metadata"), "annotations");
        rc = kube_update(a->c, &SHIM_RES_CLUSTERS, a->ns, name, NULL, copy, NULL, &upd, NULL);
        json_decref(copy);
        if (rc == 0) {
            shim_store_apply(a->store, SHIM_K_CLUSTER, upd);
            json_decref(upd);
            return;
        }
        if (rc != -ESTALE)
            return;
    }
}

static void resp_lock_err(struct shim_response *r, int rc, struct kube_error *e, const char *cluster) {
    if (rc == -ENOENT)
        resp_err(r, 404, "cluster %s does not exist", cluster);
    else if (rc == -ETIMEDOUT)
        resp_err(r, 503, "cluster %s is busy with another change; try again", cluster);
    else
        resp_kerr(r, rc, e, "cluster", 0);
}

/* Sets (cluster != NULL) or clears a Host's membership with a resourceVersion precondition:
 * host is a fresh copy from the API server. */
static int host_set_cluster(struct shim_api *a, const json_t *host, const char *cluster,
                            struct kube_error *e) {
    json_t *copy = json_deep_copy(host), *spec, *labels, *upd = NULL;
    int rc;

    if (!copy)
        return -ENOMEM;
    spec = json_object_get(copy, "spec");
    labels = cm_json_get(copy, "metadata.labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(json_object_get(copy, "metadata"), "labels", labels);
    }
    if (cluster) {
        json_object_set_new(spec, "cluster", json_string(cluster));
        json_object_set_new(labels, SHIM_LABEL_CLUSTER, json_string(cluster));
    } else {
        json_object_del(spec, "cluster");
        json_object_del(labels, SHIM_LABEL_CLUSTER);
    }
    rc = kube_update(a->c, &SHIM_RES_HOSTS, a->ns, cm_json_get_str(host, "metadata.name"), NULL,
                     copy, NULL, &upd, e);
    json_decref(copy);
    if (rc == 0)
        shim_store_apply(a->store, SHIM_K_HOST, upd);
    json_decref(upd);
    return rc;
}

/* Every live Host, fresh from the API server (for decisions under the lease). The list is
 * transient but large (a few MB for a thousand hosts); callers give the memory back with
 * malloc_trim() when done, so one membership change does not raise the resident size for good. */
static int hosts_fresh(struct shim_api *a, json_t **ret_items, struct kube_error *e) {
    json_t *list = NULL;
    int rc = kube_list_all(a->c, &SHIM_RES_HOSTS, a->ns, NULL, &list, e);

    if (rc < 0)
        return rc;
    *ret_items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    if (!*ret_items)
        *ret_items = json_array();
    return 0;
}

/* ---- hosts ------------------------------------------------------------------------------ */

static void h_hosts_list(struct shim_api *a, struct shim_response *r) {
    r->status = 200;
    r->blob = shim_store_hosts_blob(a->store);
    if (!r->blob)
        shim_response_error(r, 500, "out of memory");
}

static void h_host_get(struct shim_api *a, const char *addr, struct shim_response *r) {
    r->status = 200;
    if (shim_store_host_json(a->store, addr, &r->body) < 0)
        resp_err(r, 404, "host %s does not exist", addr);
}

static json_t *node_status(struct shim_api *a, const json_t *host, const json_t *cm) {
    const char *type = cm_json_get_str(cm, "spec.type");
    const char *addr = cm_json_get_str(host, "spec.address");
    const char *node = cm_json_get_str(host, "status.nodeName");
    json_t *n;
    char lower[NAME_BUF];

    if (!type)
        return json_object();
    if (strcmp(type, "trivial") == 0)
        return json_pack("{s:s, s:s}", "node", addr ? addr : "", "status", "ok");
    if (!node) {
        size_t i;

        for (i = 0; addr && addr[i] && i < sizeof lower - 1; i++)
            lower[i] = (char)((addr[i] >= 'A' && addr[i] <= 'Z') ? addr[i] - 'A' + 'a' : addr[i]);
        lower[addr ? i : 0] = 0;
        node = lower;
    }
    n = shim_store_get(a->store, SHIM_K_NODE, node);
    return n ? n : json_object();
}

static void h_host_status(struct shim_api *a, const char *addr, struct shim_response *r) {
    json_t *h = host_lookup(a, addr, 0), *cl = NULL, *cm = NULL, *cmstat = NULL;
    const char *c;
    char ts[40];
    bool managed;

    if (!h) {
        resp_err(r, 404, "host %s does not exist", addr);
        return;
    }
    c = host_cluster(h);
    if (c)
        cl = shim_store_get(a->store, SHIM_K_CLUSTER, c);
    if (cl)
        cluster_cm(a, cl, &managed, &cm);
    cmstat = cm ? node_status(a, h, cm) : json_object();
    resp_json(r, 200,
              json_pack("{s:s, s:{s:s, s:s}, s:o}", "type", "host_only", "host", "last_check",
                        shim_render_time(cm_json_get_str(h, "status.lastCheck"), ts, sizeof ts),
                        "status", shim_host_status(h), "container_manager", cmstat));
    json_decref(cm);
    json_decref(cl);
    json_decref(h);
}

/* The stored key of a Host (base64 text as in the Secret's data) as a new string. */
static int host_key_get(struct shim_api *a, const json_t *h, char **ret_b64, struct kube_error *e) {
    const char *sname = cm_json_get_str(h, "spec.sshKeySecretRef.name");
    const char *key = cm_json_get_str(h, "spec.sshKeySecretRef.key");
    json_t *sec = NULL;
    const char *v;
    int rc;

    if (!sname)
        return -ENOENT;
    rc = kube_get(a->c, &KUBE_RES_SECRETS, a->ns, sname, NULL, &sec, e);
    if (rc < 0)
        return rc;
    v = json_string_value(json_object_get(json_object_get(sec, "data"), key ? key : HOST_KEY_DATA));
    if (!v) {
        json_decref(sec);
        return -ENOENT;
    }
    *ret_b64 = strdup(v);
    json_decref(sec);
    return *ret_b64 ? 0 : -ENOMEM;
}

static void h_host_creds(struct shim_api *a, const char *addr, struct shim_response *r) {
    json_t *h = host_lookup(a, addr, 1);
    struct kube_error e;
    char *b64 = NULL;
    const char *user;
    int rc;

    kube_error_init(&e);
    if (!h) {
        resp_err(r, 404, "host %s does not exist", addr);
        goto out;
    }
    rc = host_key_get(a, h, &b64, &e);
    if (rc == -ENOENT) {
        resp_err(r, 404, "host %s has no stored key", addr);
        goto out;
    }
    if (rc < 0) {
        resp_kerr(r, rc, &e, "host key", 1);
        goto out;
    }
    user = cm_json_get_str(h, "spec.remoteUser");
    resp_json(r, 200,
              json_pack("{s:s, s:s, s:s}", "address", addr, "ssh_priv_key", b64, "remote_user",
                        user ? user : "root"));
out:
    if (b64) {
        memset(b64, 0, strlen(b64));
        free(b64);
    }
    json_decref(h);
    kube_error_done(&e);
}

/* The Secret holding a host's key, owned by the Host so the garbage collector removes it with
 * the Host. An old Secret of that name (left by an earlier Host of the same address whose
 * collection has not happened yet) is replaced. */
static int host_secret_create(struct shim_api *a, const json_t *host, const char *sname,
                              const char *b64, struct kube_error *e) {
    const char *hname = cm_json_get_str(host, "metadata.name");
    json_t *sec = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:[{s:s, s:s, s:s, s:s, s:b}]}, s:{s:s}}", "apiVersion", "v1",
        "kind", "Secret", "type", "kubernetes.io/ssh-auth", "metadata", "name", sname,
        "ownerReferences", "apiVersion", SHIM_API_VERSION, "kind", "Host", "name", hname, "uid",
        cm_json_get_str(host, "metadata.uid") ? cm_json_get_str(host, "metadata.uid") : "",
        "controller", 1, "data", HOST_KEY_DATA, b64);
    int rc;

    if (!sec)
        return -ENOMEM;
    if (strlen(hname) <= 63) {
        json_t *labels = json_object();

        json_object_set_new(labels, SHIM_LABEL_HOST, json_string(hname));
        json_object_set_new(json_object_get(sec, "metadata"), "labels", labels);
    }
    rc = kube_create(a->c, &KUBE_RES_SECRETS, a->ns, sec, NULL, NULL, e);
    if (rc == -EEXIST) {
        kube_error_done(e);
        rc = kube_delete(a->c, &KUBE_RES_SECRETS, a->ns, sname, NULL, NULL, e);
        if (rc == 0 || rc == -ENOENT) {
            kube_error_done(e);
            rc = kube_create(a->c, &KUBE_RES_SECRETS, a->ns, sec, NULL, NULL, e);
        }
    }
    json_decref(sec);
    return rc;
}

/* PUT on an existing host: idempotent when the key is the same (spec §5.3 step 3). */
static void host_put_existing(struct shim_api *a, json_t *h, const struct shim_host_req *q,
                              const char *cluster_k, struct shim_response *r) {
    struct kube_error e;
    char *b64 = NULL;
    unsigned char *stored = NULL;
    size_t n = 0;
    int rc;

    kube_error_init(&e);
    rc = host_key_get(a, h, &b64, &e);
    if (rc == -ENOENT) {
        /* REF treats a host without creds as new and stores the key: do the same. */
        char sname[NAME_BUF + 8];

        snprintf(sname, sizeof sname, "%s",
                 cm_json_get_str(h, "spec.sshKeySecretRef.name")
                     ? cm_json_get_str(h, "spec.sshKeySecretRef.name")
                     : "");
        kube_error_done(&e);
        rc = host_secret_create(a, h, sname, q->ssh_priv_key, &e);
        if (rc < 0) {
            resp_kerr(r, rc, &e, "host key", 1);
            goto out;
        }
    } else if (rc < 0) {
        resp_kerr(r, rc, &e, "host key", 1);
        goto out;
    } else if (shim_base64_decode(b64, &stored, &n) < 0 || n != q->key_len ||
               memcmp(stored, q->key, n) != 0) {
        resp_err(r, 409, "host %s already exists with a different key", q->address);
        goto out;
    }
    if (cluster_k && !host_in(h, cluster_k)) {
        resp_err(r, 409, "host %s exists and is not in cluster %s", q->address, q->cluster);
        goto out;
    }
    resp_json(r, 201, shim_render_host(h));
out:
    if (stored) {
        memset(stored, 0, n);
        free(stored);
    }
    if (b64) {
        memset(b64, 0, strlen(b64));
        free(b64);
    }
    kube_error_done(&e);
}

static void h_host_put(struct shim_api *a, const struct shim_request *req, const char *url_addr,
                       struct shim_response *r) {
    struct shim_host_req q = { 0 };
    struct shim_err err = { 0 };
    struct kube_error e;
    json_t *body = NULL, *h = NULL, *obj = NULL, *created = NULL;
    char cluster_k[NAME_BUF], hname[NAME_BUF], sname[NAME_BUF + 8];
    int rc, locked = 0;

    kube_error_init(&e);
    if (shim_body_parse(req->body, req->body_len, &body, &err) < 0 ||
        shim_host_req_decode(body, url_addr, req->client_addr, &q, &err) < 0) {
        shim_response_error(r, err.status, err.msg);
        goto out;
    }
    if (q.cluster) {
        json_t *cl = NULL;

        kname(q.cluster, cluster_k);
        rc = lookup(a, SHIM_K_CLUSTER, cluster_k, 1, &cl, &e);
        json_decref(cl);
        if (rc == -ENOENT) {
            resp_err(r, 409, "cluster %s does not exist", q.cluster);
            goto out;
        }
        if (rc < 0) {
            resp_kerr(r, rc, &e, "cluster", 0);
            goto out;
        }
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        /* The cache first; only after a create found the host already there (another replica,
         * or kubectl, a moment ago) is it worth asking the API server. */
        h = host_lookup(a, q.address, attempt > 0);
        if (h) {
            host_put_existing(a, h, &q, q.cluster ? cluster_k : NULL, r);
            goto out;
        }
        host_kname(q.address, hname);
        if (shim_k8s_name(q.address, 240, sname, NAME_BUF) < 0)
            snprintf(sname, sizeof sname, "invalid");
        strncat(sname, "-ssh", sizeof sname - strlen(sname) - 1);
        if (q.cluster && !locked) {
            rc = cluster_lock(a, cluster_k, &e);
            if (rc < 0) {
                resp_lock_err(r, rc, &e, q.cluster);
                goto out;
            }
            locked = 1;
        }
        obj = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:{s:s, s:s}}}", "apiVersion",
                        SHIM_API_VERSION, "kind", "Host", "metadata", "name", hname, "spec",
                        "address", q.address, "remoteUser", q.remote_user, "sshKeySecretRef",
                        "name", sname, "key", HOST_KEY_DATA);
        if (!obj) {
            shim_response_error(r, 500, "out of memory");
            goto out;
        }
        if (q.source && *q.source)
            cm_json_set(obj, "spec.source", json_string(q.source));
        if (q.cluster) {
            json_t *labels = json_object();

            json_object_set_new(labels, SHIM_LABEL_CLUSTER, json_string(cluster_k));
            json_object_set_new(json_object_get(obj, "metadata"), "labels", labels);
            cm_json_set(obj, "spec.cluster", json_string(cluster_k));
        }
        kube_error_done(&e);
        rc = kube_create(a->c, &SHIM_RES_HOSTS, a->ns, obj, NULL, &created, &e);
        json_decref(obj);
        obj = NULL;
        if (rc == -EEXIST)
            continue; /* created concurrently: answer as for an existing host */
        if (rc < 0) {
            resp_kerr(r, rc, &e, "host", 0);
            goto out;
        }
        kube_error_done(&e);
        rc = host_secret_create(a, created, sname, q.ssh_priv_key, &e);
        if (rc < 0) {
            /* Without its key the Host is useless: take it back. */
            resp_kerr(r, rc, &e, "host key", 1);
            kube_delete(a->c, &SHIM_RES_HOSTS, a->ns, hname, NULL, NULL, NULL);
            goto out;
        }
        shim_store_apply(a->store, SHIM_K_HOST, created);
        resp_json(r, 201, shim_render_host(created));
        goto out;
    }
    resp_err(r, 409, "host %s is being created concurrently", q.address);
out:
    if (locked)
        cluster_unlock(a, cluster_k);
    json_decref(created);
    json_decref(h);
    json_decref(body);
    shim_host_req_done(&q);
    kube_error_done(&e);
}

static void h_host_delete(struct shim_api *a, const char *addr, struct shim_response *r) {
    json_t *h = host_lookup(a, addr, 1);
    struct kube_error e;
    struct kube_delete_options d;
    const char *name;
    int rc;

    kube_error_init(&e);
    if (!h) {
        resp_err(r, 404, "host %s does not exist", addr);
        goto out;
    }
    name = cm_json_get_str(h, "metadata.name");
    kube_delete_options_init(&d);
    d.propagation_policy = "Background";
    rc = kube_delete(a->c, &SHIM_RES_HOSTS, a->ns, name, &d, NULL, &e);
    if (rc < 0 && rc != -ENOENT) {
        resp_kerr(r, rc, &e, "host", 0);
        goto out;
    }
    shim_store_forget(a->store, SHIM_K_HOST, name, NULL);
    if (rc == -ENOENT)
        resp_err(r, 404, "host %s does not exist", addr);
    else
        resp_json(r, 200, json_array());
out:
    json_decref(h);
    kube_error_done(&e);
}

/* ---- clusters --------------------------------------------------------------------------- */

static void names_list(struct shim_api *a, enum shim_kind k, struct shim_response *r) {
    json_t *items = shim_store_list(a->store, k), *out = json_array(), *o;
    size_t i;

    json_array_foreach(items, i, o) json_array_append_new(out, json_string(shim_rest_name(o)));
    json_decref(items);
    resp_json(r, 200, out);
}

static struct shim_blob *blob_of(const char *text) {
    size_t n = strlen(text);
    struct shim_blob *b = malloc(sizeof *b + n + 1);

    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = n;
    memcpy(b->data, text, n + 1);
    return b;
}

static void h_cluster_get(struct shim_api *a, const char *name, struct shim_response *r) {
    char k[NAME_BUF];
    json_t *cl, *members, *cm = NULL;
    const char *cmname;
    char *netname, *text;
    bool managed;
    uint64_t gen = shim_store_generation(a->store);
    struct shim_blob *b = NULL;

    kname(name, k);
    pthread_mutex_lock(&a->cl_lock);
    for (unsigned i = 0; i < CL_CACHE_SLOTS; i++)
        if (a->cl_cache[i].blob && a->cl_cache[i].gen == gen && !strcmp(a->cl_cache[i].name, k)) {
            b = shim_blob_ref(a->cl_cache[i].blob);
            break;
        }
    pthread_mutex_unlock(&a->cl_lock);
    if (b) {
        r->status = 200;
        r->blob = b;
        return;
    }
    cl = shim_store_get(a->store, SHIM_K_CLUSTER, k);
    if (!cl) {
        resp_err(r, 404, "cluster %s does not exist", name);
        return;
    }
    members = shim_store_cluster_members(a->store, k);
    cmname = cluster_cm(a, cl, &managed, &cm);
    netname = cluster_net(a, cl);
    {
        json_t *v = shim_render_cluster(cl, members, netname, cmname, managed, SHIM_CLUSTER_GET);

        text = v ? shim_json_text(v) : NULL;
        json_decref(v);
    }
    free(netname);
    json_decref(cm);
    json_decref(members);
    json_decref(cl);
    b = text ? blob_of(text) : NULL;
    free(text);
    if (!b) {
        shim_response_error(r, 500, "out of memory");
        return;
    }
    /* Stored under the generation read BEFORE rendering: a change meanwhile makes the next
     * request render again instead of serving this answer as current. */
    pthread_mutex_lock(&a->cl_lock);
    {
        struct cl_entry *e = NULL;

        for (unsigned i = 0; i < CL_CACHE_SLOTS && !e; i++)
            if (a->cl_cache[i].blob && !strcmp(a->cl_cache[i].name, k))
                e = &a->cl_cache[i];
        if (!e)
            e = &a->cl_cache[a->cl_next++ % CL_CACHE_SLOTS];
        shim_blob_unref(e->blob);
        snprintf(e->name, sizeof e->name, "%s", k);
        e->gen = gen;
        e->blob = shim_blob_ref(b);
    }
    pthread_mutex_unlock(&a->cl_lock);
    r->status = 200;
    r->blob = b;
}

struct cluster_mut {
    const struct shim_cluster_req *q;
    const char *network_k;
    const char *cm_k;
};

static int cluster_mutate_cb(json_t *obj, void *ud) {
    struct cluster_mut *m = ud;
    json_t *spec = json_object_get(obj, "spec");

    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    /* Only the fields sent change (decisions 11). */
    if (m->q->network)
        json_object_set_new(spec, "network", json_string(m->network_k));
    if (m->q->container_manager) {
        if (m->cm_k)
            json_object_set_new(spec, "containerManager", json_string(m->cm_k));
        else
            json_object_del(spec, "containerManager");
    }
    if (m->q->status)
        set_ann(obj, SHIM_ANN_REST_STATUS, *m->q->status ? m->q->status : NULL);
    if (strcmp(cm_json_get_str(obj, "metadata.name"), m->q->name) != 0)
        set_ann(obj, SHIM_ANN_REST_NAME, m->q->name);
    return 0;
}

static void h_cluster_put(struct shim_api *a, const struct shim_request *req, const char *name,
                          struct shim_response *r) {
    struct shim_cluster_req q = { 0 };
    struct shim_err err = { 0 };
    struct kube_error e;
    json_t *body = NULL, *cl = NULL, *res = NULL, *cm = NULL;
    char k[NAME_BUF], netk[NAME_BUF], cmk[NAME_BUF];
    struct cluster_mut m = { 0 };
    const char *cmname;
    char *netname;
    bool managed;
    int rc;

    kube_error_init(&e);
    if (shim_body_parse(req->body, req->body_len, &body, &err) < 0 ||
        shim_cluster_req_decode(body, name, &q, &err) < 0) {
        shim_response_error(r, err.status, err.msg);
        goto out;
    }
    kname(name, k);
    m.q = &q;
    if (q.network)
        kname(*q.network ? q.network : "default", netk);
    m.network_k = netk;
    if (q.container_manager && *q.container_manager) {
        kname(q.container_manager, cmk);
        m.cm_k = cmk;
    }
    rc = lookup(a, SHIM_K_CLUSTER, k, 1, &cl, &e);
    if (rc < 0 && rc != -ENOENT) {
        resp_kerr(r, rc, &e, "cluster", 0);
        goto out;
    }
    if (rc == -ENOENT) {
        json_t *net;

        /* REF: on first creation an unknown network silently becomes "default". */
        if (q.network && *q.network) {
            net = shim_store_get(a->store, SHIM_K_NETWORK, netk);
            if (!net)
                snprintf(netk, sizeof netk, "default");
            json_decref(net);
        }
        cl = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", SHIM_API_VERSION, "kind",
                       "Cluster", "metadata", "name", k, "spec", "network",
                       q.network && *q.network ? netk : "default");
        if (!cl) {
            shim_response_error(r, 500, "out of memory");
            goto out;
        }
        cluster_mutate_cb(cl, &m);
        kube_error_done(&e);
        rc = kube_create(a->c, &SHIM_RES_CLUSTERS, a->ns, cl, NULL, &res, &e);
        if (rc != -EEXIST) {
            if (rc < 0) {
                resp_kerr(r, rc, &e, "cluster", 0);
                goto out;
            }
            goto done;
        }
    }
    /* Existing (or created concurrently): update the fields sent, retrying on conflicts. */
    {
        struct kube_status_options so;

        kube_status_options_init(&so);
        so.main_resource = 1;
        so.max_attempts = 10;
        kube_error_done(&e);
        rc = kube_status_update(a->c, &SHIM_RES_CLUSTERS, a->ns, k, &so, cluster_mutate_cb, &m,
                                &res, &e);
        if (rc < 0) {
            resp_kerr(r, rc, &e, "cluster", 0);
            goto out;
        }
    }
done:
    shim_store_apply(a->store, SHIM_K_CLUSTER, res);
    cmname = cluster_cm(a, res, &managed, &cm);
    netname = cluster_net(a, res);
    resp_json(r, 201, shim_render_cluster(res, NULL, netname, cmname, managed, SHIM_CLUSTER_SAFE));
    free(netname);
out:
    json_decref(cm);
    json_decref(res);
    json_decref(cl);
    json_decref(body);
    shim_cluster_req_done(&q);
    kube_error_done(&e);
}

static void h_cluster_delete(struct shim_api *a, const char *name, struct shim_response *r) {
    struct kube_error e;
    json_t *cl = NULL, *hosts = NULL, *h;
    char k[NAME_BUF];
    size_t i;
    int rc;

    kube_error_init(&e);
    kname(name, k);
    rc = lookup(a, SHIM_K_CLUSTER, k, 1, &cl, &e);
    if (rc < 0) {
        if (rc == -ENOENT)
            resp_err(r, 404, "cluster %s does not exist", name);
        else
            resp_kerr(r, rc, &e, "cluster", 0);
        goto out;
    }
    rc = cluster_lock(a, k, &e);
    if (rc < 0) {
        resp_lock_err(r, rc, &e, name);
        goto out;
    }
    /* REF keeps membership inside the cluster record, so deleting the cluster ends it: clear
     * spec.cluster of the members so that a later cluster of the same name starts empty. */
    rc = hosts_fresh(a, &hosts, &e);
    json_array_foreach(hosts, i, h) {
        if (rc == 0 && host_in(h, k))
            rc = host_set_cluster(a, h, NULL, &e);
    }
    if (rc < 0) {
        cluster_unlock(a, k);
        resp_kerr(r, rc, &e, "cluster members", 0);
        goto out;
    }
    rc = kube_delete(a->c, &SHIM_RES_CLUSTERS, a->ns, k, NULL, NULL, &e);
    if (rc < 0 && rc != -ENOENT) {
        cluster_unlock(a, k);
        resp_kerr(r, rc, &e, "cluster", 0);
        goto out;
    }
    shim_store_forget(a->store, SHIM_K_CLUSTER, k, NULL);
    resp_json(r, 200, json_array());
out:
    json_decref(hosts);
    malloc_trim(0);
    json_decref(cl);
    kube_error_done(&e);
}

/* ---- membership ------------------------------------------------------------------------- */

static void h_members_get(struct shim_api *a, const char *name, struct shim_response *r) {
    char k[NAME_BUF];
    json_t *cl, *members, *out, *h;
    size_t i;

    kname(name, k);
    cl = shim_store_get(a->store, SHIM_K_CLUSTER, k);
    if (!cl) {
        resp_err(r, 404, "cluster %s does not exist", name);
        return;
    }
    members = shim_store_cluster_members(a->store, k);
    out = json_array();
    json_array_foreach(members, i, h)
        json_array_append_new(out, json_string(cm_json_get_str(h, "spec.address")));
    json_decref(members);
    json_decref(cl);
    resp_json(r, 200, out);
}

static void h_member_get(struct shim_api *a, const char *name, const char *addr,
                         struct shim_response *r) {
    char k[NAME_BUF];
    json_t *cl, *h;

    kname(name, k);
    cl = shim_store_get(a->store, SHIM_K_CLUSTER, k);
    if (!cl) {
        resp_err(r, 404, "cluster %s does not exist", name);
        return;
    }
    h = host_lookup(a, addr, 0);
    if (h && host_in(h, k))
        resp_json(r, 200, json_pack("[s]", addr));
    else
        resp_err(r, 404, "host %s is not in cluster %s", addr, name);
    json_decref(h);
    json_decref(cl);
}

static void h_members_put(struct shim_api *a, const struct shim_request *req, const char *name,
                          struct shim_response *r) {
    struct shim_members_req q = { 0 };
    struct shim_err err = { 0 };
    struct shim_strv current = { 0 };
    struct kube_error e;
    json_t *body = NULL, *cl = NULL, *hosts = NULL, *h, *members = NULL, *cm = NULL;
    const char *cmname;
    char *netname;
    char k[NAME_BUF];
    bool managed;
    size_t i;
    int rc, locked = 0;

    kube_error_init(&e);
    if (shim_body_parse(req->body, req->body_len, &body, &err) < 0 ||
        shim_members_req_decode(body, &q, &err) < 0) {
        shim_response_error(r, err.status, err.msg);
        goto out;
    }
    kname(name, k);
    rc = lookup(a, SHIM_K_CLUSTER, k, 1, &cl, &e);
    if (rc < 0) {
        if (rc == -ENOENT)
            resp_err(r, 404, "cluster %s does not exist", name);
        else
            resp_kerr(r, rc, &e, "cluster", 0);
        goto out;
    }
    rc = cluster_lock(a, k, &e);
    if (rc < 0) {
        resp_lock_err(r, rc, &e, name);
        goto out;
    }
    locked = 1;
    rc = hosts_fresh(a, &hosts, &e);
    if (rc < 0) {
        resp_kerr(r, rc, &e, "hosts", 0);
        goto out;
    }
    json_array_foreach(hosts, i, h) {
        if (host_in(h, k) && !cm_json_get(h, "metadata.deletionTimestamp"))
            shim_strv_add(&current, cm_json_get_str(h, "spec.address"));
    }
    /* The compare of the compare-and-swap: as sets (spec §7.3 step 3). */
    if (!shim_strv_set_equal(&q.old_hosts, &current)) {
        resp_err(r, 409, "'old' does not match the current members of cluster %s", name);
        goto out;
    }
    /* Check every new member before changing anything (spec §7.3 step 4). */
    for (i = 0; i < q.new_hosts.n; i++) {
        const char *addr = q.new_hosts.v[i];
        json_t *found = NULL, *x;
        size_t j;

        if (shim_strv_contains(&current, addr))
            continue;
        json_array_foreach(hosts, j, x) {
            const char *xa = cm_json_get_str(x, "spec.address");

            if (xa && strcmp(xa, addr) == 0 && !cm_json_get(x, "metadata.deletionTimestamp"))
                found = x;
        }
        if (!found) {
            resp_err(r, 404, "host %s does not exist", addr);
            goto out;
        }
        if (!host_ready(found)) {
            resp_err(r, 405, "host %s is not ready to join a cluster (status %s)", addr,
                     shim_host_status(found));
            goto out;
        }
        if (host_cluster(found)) {
            resp_err(r, 409, "host %s already belongs to another cluster", addr);
            goto out;
        }
    }
    json_array_foreach(hosts, i, h) {
        const char *addr = cm_json_get_str(h, "spec.address");
        int now_in = host_in(h, k), want = addr && shim_strv_contains(&q.new_hosts, addr);

        if (!addr || cm_json_get(h, "metadata.deletionTimestamp") || now_in == want)
            continue;
        rc = host_set_cluster(a, h, want ? k : NULL, &e);
        if (rc < 0) {
            resp_kerr(r, rc, &e, "host", 0);
            goto out;
        }
    }
    members = shim_store_cluster_members(a->store, k);
    cmname = cluster_cm(a, cl, &managed, &cm);
    netname = cluster_net(a, cl);
    resp_json(r, 200,
              shim_render_cluster(cl, members, netname, cmname, managed, SHIM_CLUSTER_HOSTSET));
    free(netname);
out:
    if (locked)
        cluster_unlock(a, k);
    json_decref(cm);
    json_decref(members);
    json_decref(hosts);
    malloc_trim(0);
    json_decref(cl);
    json_decref(body);
    shim_strv_done(&current);
    shim_members_req_done(&q);
    kube_error_done(&e);
}

static void h_member_put(struct shim_api *a, const char *name, const char *addr,
                         struct shim_response *r) {
    struct kube_error e;
    json_t *h = NULL, *cl = NULL, *fresh = NULL;
    char k[NAME_BUF];
    int rc, locked = 0;

    kube_error_init(&e);
    kname(name, k);
    h = host_lookup(a, addr, 1);
    if (!h) {
        resp_err(r, 404, "host %s does not exist", addr);
        goto out;
    }
    rc = lookup(a, SHIM_K_CLUSTER, k, 1, &cl, &e);
    if (rc < 0) {
        if (rc == -ENOENT)
            resp_err(r, 404, "cluster %s does not exist", name);
        else
            resp_kerr(r, rc, &e, "cluster", 0);
        goto out;
    }
    rc = cluster_lock(a, k, &e);
    if (rc < 0) {
        resp_lock_err(r, rc, &e, name);
        goto out;
    }
    locked = 1;
    rc = kube_get(a->c, &SHIM_RES_HOSTS, a->ns, cm_json_get_str(h, "metadata.name"), NULL, &fresh,
                  &e);
    if (rc < 0) {
        resp_kerr(r, rc, &e, "host", 0);
        goto out;
    }
    if (host_in(fresh, k)) {
        resp_json(r, 200, json_pack("[s]", addr)); /* already a member: nothing changes */
        goto out;
    }
    if (!host_ready(fresh)) {
        resp_err(r, 405, "host %s is not ready to join a cluster (status %s)", addr,
                 shim_host_status(fresh));
        goto out;
    }
    if (host_cluster(fresh)) {
        resp_err(r, 409, "host %s already belongs to another cluster", addr);
        goto out;
    }
    rc = host_set_cluster(a, fresh, k, &e);
    if (rc < 0) {
        resp_kerr(r, rc, &e, "host", 0);
        goto out;
    }
    resp_json(r, 200, json_pack("[s]", addr));
out:
    if (locked)
        cluster_unlock(a, k);
    json_decref(fresh);
    json_decref(cl);
    json_decref(h);
    kube_error_done(&e);
}

static void h_member_delete(struct shim_api *a, const char *name, const char *addr,
                            struct shim_response *r) {
    struct kube_error e;
    json_t *h = NULL, *cl = NULL, *fresh = NULL;
    char k[NAME_BUF];
    int rc;

    kube_error_init(&e);
    kname(name, k);
    rc = lookup(a, SHIM_K_CLUSTER, k, 1, &cl, &e);
    if (rc < 0) {
        if (rc == -ENOENT)
            resp_err(r, 404, "cluster %s does not exist", name);
        else
            resp_kerr(r, rc, &e, "cluster", 0);
        goto out;
    }
    h = host_lookup(a, addr, 1);
    if (h && host_in(h, k)) {
        rc = cluster_lock(a, k, &e);
        if (rc < 0) {
            resp_lock_err(r, rc, &e, name);
            goto out;
        }
        rc = kube_get(a->c, &SHIM_RES_HOSTS, a->ns, cm_json_get_str(h, "metadata.name"), NULL,
                      &fresh, &e);
        if (rc == 0 && host_in(fresh, k))
            rc = host_set_cluster(a, fresh, NULL, &e);
        cluster_unlock(a, k);
        if (rc < 0 && rc != -ENOENT) {
            resp_kerr(r, rc, &e, "host", 0);
            goto out;
        }
    }
    resp_json(r, 200, json_array()); /* idempotent, also for non-members (spec §7.6) */
out:
    json_decref(fresh);
    json_decref(cl);
    json_decref(h);
    kube_error_done(&e);
}

/* ---- operations ------------------------------------------------------------------------- */

static const char *op_type(enum shim_route rt) {
    switch (rt) {
    case SHIM_R_DEPLOY_GET:
    case SHIM_R_DEPLOY_PUT: return "deploy";
    case SHIM_R_UPGRADE_GET:
    case SHIM_R_UPGRADE_PUT: return "upgrade";
    default: return "restart";
    }
}

/* 1 when a is newer than b (creation time, then name). */
static int op_newer(const json_t *a, const json_t *b) {
    const char *ca = cm_json_get_str(a, "metadata.creationTimestamp");
    const char *cb = cm_json_get_str(b, "metadata.creationTimestamp");
    int64_t ta = 0, tb = 0;

    if (ca)
        cm_time_parse_rfc3339(ca, &ta);
    if (cb)
        cm_time_parse_rfc3339(cb, &tb);
    if (ta != tb)
        return ta > tb;
    return strcmp(cm_json_get_str(a, "metadata.name"), cm_json_get_str(b, "metadata.name")) > 0;
}

static void h_op_get(struct shim_api *a, enum shim_route rt, const char *name,
                     struct shim_response *r) {
    json_t *ops = shim_store_list(a->store, SHIM_K_OPERATION), *o, *best = NULL;
    const char *type = op_type(rt);
    char k[NAME_BUF];
    size_t i;

    kname(name, k);
    json_array_foreach(ops, i, o) {
        const char *c = cm_json_get_str(o, "spec.cluster"), *t = cm_json_get_str(o, "spec.type");

        if (c && t && strcmp(c, k) == 0 && strcmp(t, type) == 0 && (!best || op_newer(o, best)))
            best = o;
    }
    if (best)
        resp_json(r, 200, shim_render_operation(best, name));
    else
        resp_err(r, 404, "no %s record for cluster %s", type, name);
    json_decref(ops);
}

static void h_op_put(struct shim_api *a, const struct shim_request *req, enum shim_route rt,
                     const char *name, struct shim_response *r) {
    struct shim_err err = { 0 };
    struct kube_error e;
    json_t *body = NULL, *cl = NULL, *list = NULL, *o, *op = NULL, *created = NULL;
    const char *type = op_type(rt);
    char *version = NULL;
    char k[NAME_BUF], opname[NAME_BUF + 64];
    unsigned char rnd[3] = { 0 };
    size_t i;
    int rc, locked = 0;

    kube_error_init(&e);
    if (shim_body_parse(req->body, req->body_len, &body, &err) < 0 ||
        (rt == SHIM_R_DEPLOY_PUT && shim_deploy_req_decode(body, &version, &err) < 0)) {
        shim_response_error(r, err.status, err.msg);
        goto out;
    }
    kname(name, k);
    rc = lookup(a, SHIM_K_CLUSTER, k, 1, &cl, &e);
    if (rc < 0) {
        if (rc == -ENOENT)
            resp_err(r, 404, "cluster %s does not exist", name);
        else
            resp_kerr(r, rc, &e, "cluster", 0);
        goto out;
    }
    rc = cluster_lock(a, k, &e);
    if (rc < 0) {
        resp_lock_err(r, rc, &e, name);
        goto out;
    }
    locked = 1;
    /* Under the lease, with a fresh list: no other operation of this cluster may be pending or
     * running (decisions 18). */
    rc = kube_list_all(a->c, &SHIM_RES_OPERATIONS, a->ns, NULL, &list, &e);
    if (rc < 0) {
        resp_kerr(r, rc, &e, "operations", 0);
        goto out;
    }
    json_array_foreach(json_object_get(list, "items"), i, o) {
        const char *c = cm_json_get_str(o, "spec.cluster");

        if (c && strcmp(c, k) == 0 && shim_operation_active(o)) {
            resp_err(r, 409, "cluster %s already has a %s operation pending or in process (%s)",
                     name, cm_json_get_str(o, "spec.type") ? cm_json_get_str(o, "spec.type") : "",
                     cm_json_get_str(o, "metadata.name"));
            goto out;
        }
    }
    RAND_bytes(rnd, sizeof rnd);
    {
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        snprintf(opname, sizeof opname, "%s-%s-%04d%02d%02d%02d%02d%02d-%02x%02x%02x", k, type,
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 rnd[0], rnd[1], rnd[2]);
    }
    op = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:s}}", "apiVersion", SHIM_API_VERSION,
                   "kind", "Operation", "metadata", "name", opname, "labels", SHIM_LABEL_CLUSTER, k,
                   "spec", "cluster", k, "type", type);
    if (!op) {
        shim_response_error(r, 500, "out of memory");
        goto out;
    }
    if (version)
        cm_json_set(op, "spec.version", json_string(version));
    kube_error_done(&e);
    rc = kube_create(a->c, &SHIM_RES_OPERATIONS, a->ns, op, NULL, &created, &e);
    if (rc < 0) {
        resp_kerr(r, rc, &e, "operation", 0);
        goto out;
    }
    shim_store_apply(a->store, SHIM_K_OPERATION, created);
    resp_json(r, 201, shim_render_operation(created, name));
out:
    if (locked)
        cluster_unlock(a, k);
    free(version);
    json_decref(created);
    json_decref(op);
    json_decref(list);
    json_decref(cl);
    json_decref(body);
    kube_error_done(&e);
}

/* ---- networks and container managers ---------------------------------------------------- */

static void h_network_get(struct shim_api *a, const char *name, struct shim_response *r) {
    char k[NAME_BUF];
    json_t *n;

    kname(name, k);
    n = shim_store_get(a->store, SHIM_K_NETWORK, k);
    if (!n) {
        resp_err(r, 404, "network %s does not exist", name);
        return;
    }
    resp_json(r, 200, shim_render_network(n));
    json_decref(n);
}

/* Same record? (spec §9: the stored record equals the requested one, deep compare) */
static int same_record(json_t *rendered, const struct shim_named_req *q) {
    int same = rendered &&
               strcmp(json_string_value(json_object_get(rendered, "type")), q->type) == 0 &&
               json_equal(json_object_get(rendered, "options"), q->options);

    return same;
}

static void h_network_put(struct shim_api *a, const struct shim_request *req, const char *name,
                          struct shim_response *r) {
    struct shim_named_req q = { 0 };
    struct shim_err err = { 0 };
    struct kube_error e;
    json_t *body = NULL, *n = NULL, *obj = NULL, *created = NULL, *rend = NULL;
    char k[NAME_BUF];
    int rc;

    kube_error_init(&e);
    if (shim_body_parse(req->body, req->body_len, &body, &err) < 0 ||
        shim_network_req_decode(body, name, &q, &err) < 0) {
        shim_response_error(r, err.status, err.msg);
        goto out;
    }
    kname(name, k);
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = lookup(a, SHIM_K_NETWORK, k, 1, &n, &e);
        if (rc == 0) {
            rend = shim_render_network(n);
            if (same_record(rend, &q))
                resp_json(r, 201, json_incref(rend));
            else
                resp_err(r, 409, "network %s exists with a different definition", name);
            goto out;
        }
        if (rc != -ENOENT) {
            resp_kerr(r, rc, &e, "network", 0);
            goto out;
        }
        obj = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:O}}", "apiVersion", SHIM_API_VERSION,
                        "kind", "Network", "metadata", "name", k, "spec", "type", q.type,
                        "options", q.options);
        if (strcmp(k, name) != 0)
            set_ann(obj, SHIM_ANN_REST_NAME, name);
        kube_error_done(&e);
        rc = kube_create(a->c, &SHIM_RES_NETWORKS, a->ns, obj, NULL, &created, &e);
        json_decref(obj);
        obj = NULL;
        if (rc == -EEXIST)
            continue;
        if (rc < 0) {
            resp_kerr(r, rc, &e, "network", 0);
            goto out;
        }
        shim_store_apply(a->store, SHIM_K_NETWORK, created);
        resp_json(r, 201, shim_render_network(created));
        goto out;
    }
    resp_err(r, 409, "network %s is being created concurrently", name);
out:
    json_decref(rend);
    json_decref(created);
    json_decref(n);
    json_decref(body);
    shim_named_req_done(&q);
    kube_error_done(&e);
}

/* DELETE of a network or container manager: idempotent (decisions 9). */
static void h_named_delete(struct shim_api *a, enum shim_kind kind, const char *name,
                           struct shim_response *r) {
    struct kube_error e;
    char k[NAME_BUF];
    int rc;

    kube_error_init(&e);
    kname(name, k);
    rc = kube_delete(a->c, shim_kind_resource(kind), a->ns, k, NULL, NULL, &e);
    if (rc < 0 && rc != -ENOENT)
        resp_kerr(r, rc, &e, shim_kind_name(kind), 0);
    else {
        shim_store_forget(a->store, kind, k, NULL);
        resp_json(r, 200, json_array());
    }
    kube_error_done(&e);
}

static int cm_token_get(struct shim_api *a, const json_t *cm, char **ret, struct kube_error *e) {
    const char *sname = cm_json_get_str(cm, "spec.credentialsSecretRef.name");
    json_t *sec = NULL;
    const char *v;
    unsigned char *dec = NULL;
    size_t n;
    int rc;

    *ret = NULL;
    if (!sname)
        return 0;
    rc = kube_get(a->c, &KUBE_RES_SECRETS, a->ns, sname, NULL, &sec, e);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    v = json_string_value(json_object_get(json_object_get(sec, "data"), "token"));
    if (v && shim_base64_decode(v, &dec, &n) == 0) {
        if (!memchr(dec, 0, n))
            *ret = (char *)dec;
        else
            free(dec);
    }
    json_decref(sec);
    return 0;
}

static void free_secret_str(char *s) {
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static void h_cm_get(struct shim_api *a, const char *name, struct shim_response *r) {
    struct kube_error e;
    char k[NAME_BUF];
    char *token = NULL;
    json_t *cm;
    int rc;

    kube_error_init(&e);
    kname(name, k);
    cm = shim_store_get(a->store, SHIM_K_CM, k);
    if (!cm) {
        resp_err(r, 404, "container manager %s does not exist", name);
        goto out;
    }
    rc = cm_token_get(a, cm, &token, &e);
    if (rc < 0) {
        resp_kerr(r, rc, &e, "container manager credentials", 1);
        goto out;
    }
    resp_json(r, 200, shim_render_cm(cm, token));
out:
    free_secret_str(token);
    json_decref(cm);
    kube_error_done(&e);
}

static void h_cm_put(struct shim_api *a, const struct shim_request *req, const char *name,
                     struct shim_response *r) {
    struct shim_named_req q = { 0 };
    struct shim_err err = { 0 };
    struct kube_error e;
    json_t *body = NULL, *cm = NULL, *obj = NULL, *created = NULL, *rend = NULL, *opts = NULL;
    json_t *v;
    char k[NAME_BUF], sname[NAME_BUF + 16];
    char *token = NULL;
    const char *req_token;
    int rc;

    kube_error_init(&e);
    if (shim_body_parse(req->body, req->body_len, &body, &err) < 0 ||
        shim_cm_req_decode(body, name, &q, &err) < 0) {
        shim_response_error(r, err.status, err.msg);
        goto out;
    }
    kname(name, k);
    req_token = json_string_value(json_object_get(q.options, "token"));
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = lookup(a, SHIM_K_CM, k, 1, &cm, &e);
        if (rc == 0) {
            rc = cm_token_get(a, cm, &token, &e);
            if (rc < 0) {
                resp_kerr(r, rc, &e, "container manager credentials", 1);
                goto out;
            }
            rend = shim_render_cm(cm, token);
            if (same_record(rend, &q))
                resp_json(r, 201, json_incref(rend));
            else
                resp_err(r, 409, "container manager %s exists with a different definition", name);
            goto out;
        }
        if (rc != -ENOENT) {
            resp_kerr(r, rc, &e, "container manager", 0);
            goto out;
        }
        /* The typed fields the controller reads, plus every option verbatim (minus the token,
         * which goes to a Secret) so that a GET returns what was PUT. */
        opts = json_deep_copy(q.options);
        json_object_del(opts, "token");
        obj = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:O}}", "apiVersion", SHIM_API_VERSION,
                        "kind", "ContainerManager", "metadata", "name", k, "spec", "type", q.type,
                        "options", opts);
        json_decref(opts);
        opts = NULL;
        v = json_object_get(q.options, "server_url");
        if (json_is_string(v))
            cm_json_set(obj, "spec.serverURL", json_incref(v));
        v = json_object_get(q.options, "insecure_skip_tls_verify");
        if (json_is_boolean(v))
            cm_json_set(obj, "spec.insecureSkipTLSVerify", json_incref(v));
        snprintf(sname, sizeof sname, "%s-cm-credentials", k);
        if (req_token)
            cm_json_set(obj, "spec.credentialsSecretRef", json_pack("{s:s}", "name", sname));
        if (strcmp(k, name) != 0)
            set_ann(obj, SHIM_ANN_REST_NAME, name);
        kube_error_done(&e);
        rc = kube_create(a->c, &SHIM_RES_CMS, a->ns, obj, NULL, &created, &e);
        json_decref(obj);
        obj = NULL;
        if (rc == -EEXIST)
            continue;
        if (rc < 0) {
            resp_kerr(r, rc, &e, "container manager", 0);
            goto out;
        }
        if (req_token) {
            char *b64 = shim_base64_encode((const unsigned char *)req_token, strlen(req_token));
            json_t *sec = json_pack(
                "{s:s, s:s, s:s, s:{s:s, s:[{s:s, s:s, s:s, s:s, s:b}]}, s:{s:s}}", "apiVersion",
                "v1", "kind", "Secret", "type", "Opaque", "metadata", "name", sname,
                "ownerReferences", "apiVersion", SHIM_API_VERSION, "kind", "ContainerManager",
                "name", k, "uid",
                cm_json_get_str(created, "metadata.uid") ? cm_json_get_str(created, "metadata.uid")
                                                         : "",
                "controller", 1, "data", "token", b64 ? b64 : "");

            kube_error_done(&e);
            rc = sec ? kube_create(a->c, &KUBE_RES_SECRETS, a->ns, sec, NULL, NULL, &e) : -ENOMEM;
            if (rc == -EEXIST) {
                kube_error_done(&e);
                kube_delete(a->c, &KUBE_RES_SECRETS, a->ns, sname, NULL, NULL, NULL);
                rc = kube_create(a->c, &KUBE_RES_SECRETS, a->ns, sec, NULL, NULL, &e);
            }
            json_decref(sec);
            free_secret_str(b64);
            if (rc < 0) {
                resp_kerr(r, rc, &e, "container manager credentials", 1);
                kube_delete(a->c, &SHIM_RES_CMS, a->ns, k, NULL, NULL, NULL);
                goto out;
            }
        }
        shim_store_apply(a->store, SHIM_K_CM, created);
        resp_json(r, 201, shim_render_cm(created, req_token));
        goto out;
    }
    resp_err(r, 409, "container manager %s is being created concurrently", name);
out:
    free_secret_str(token);
    json_decref(rend);
    json_decref(created);
    json_decref(cm);
    json_decref(body);
    shim_named_req_done(&q);
    kube_error_done(&e);
}

/* ---- dispatch --------------------------------------------------------------------------- */

void shim_api_handle(struct shim_api *a, const struct shim_request *req, struct shim_response *r) {
    char *p1 = pdup(req->match.param, req->match.param_len);
    char *p2 = pdup(req->match.param2, req->match.param2_len);
    enum shim_route rt = req->match.route;

    if ((req->match.param && !p1) || (req->match.param2 && !p2)) {
        shim_response_error(r, 500, "out of memory");
        goto out;
    }
    switch (rt) {
    case SHIM_R_HOSTS_LIST: h_hosts_list(a, r); break;
    case SHIM_R_HOST_GET: h_host_get(a, p1, r); break;
    case SHIM_R_HOST_PUT: h_host_put(a, req, p1, r); break;
    case SHIM_R_HOST_PUT_SELF: h_host_put(a, req, NULL, r); break;
    case SHIM_R_HOST_CREDS: h_host_creds(a, p1, r); break;
    case SHIM_R_HOST_DELETE: h_host_delete(a, p1, r); break;
    case SHIM_R_HOST_STATUS: h_host_status(a, p1, r); break;
    case SHIM_R_CLUSTERS_LIST: names_list(a, SHIM_K_CLUSTER, r); break;
    case SHIM_R_CLUSTER_GET: h_cluster_get(a, p1, r); break;
    case SHIM_R_CLUSTER_PUT: h_cluster_put(a, req, p1, r); break;
    case SHIM_R_CLUSTER_DELETE: h_cluster_delete(a, p1, r); break;
    case SHIM_R_MEMBERS_GET: h_members_get(a, p1, r); break;
    case SHIM_R_MEMBERS_PUT: h_members_put(a, req, p1, r); break;
    case SHIM_R_MEMBER_GET: h_member_get(a, p1, p2, r); break;
    case SHIM_R_MEMBER_PUT: h_member_put(a, p1, p2, r); break;
    case SHIM_R_MEMBER_DELETE: h_member_delete(a, p1, p2, r); break;
    case SHIM_R_NETWORKS_LIST: names_list(a, SHIM_K_NETWORK, r); break;
    case SHIM_R_NETWORK_GET: h_network_get(a, p1, r); break;
    case SHIM_R_NETWORK_PUT: h_network_put(a, req, p1, r); break;
    case SHIM_R_NETWORK_DELETE: h_named_delete(a, SHIM_K_NETWORK, p1, r); break;
    case SHIM_R_DEPLOY_GET:
    case SHIM_R_UPGRADE_GET:
    case SHIM_R_RESTART_GET: h_op_get(a, rt, p1, r); break;
    case SHIM_R_DEPLOY_PUT:
    case SHIM_R_UPGRADE_PUT:
    case SHIM_R_RESTART_PUT: h_op_put(a, req, rt, p1, r); break;
    case SHIM_R_CMS_LIST: names_list(a, SHIM_K_CM, r); break;
    case SHIM_R_CM_GET: h_cm_get(a, p1, r); break;
    case SHIM_R_CM_PUT: h_cm_put(a, req, p1, r); break;
    case SHIM_R_CM_DELETE: h_named_delete(a, SHIM_K_CM, p1, r); break;
    default: resp_err(r, 404, "no such route"); break;
    }
out:
    free(p1);
    free(p2);
}
