/* shim_itest: end-to-end checks of commissaire-shim against a live API server (kube-lite, or a
 * real cluster when KUBECONFIG is set), driven by tests/integration/shim_*.sh.
 *
 *   shim_itest SCENARIO
 *
 * Environment: SHIM_URL (base URL of the shim), SHIM_URL2 (a second shim on the same API server,
 * for cross-process races), SHIM_NS (namespace), SHIM_USER/SHIM_PASS (a valid httpbasicauth user),
 * SHIM_KEY1, SHIM_KEY2 (paths of SSH private keys), KUBECONFIG (for direct API access: setting
 * Host/Operation status the way the controller would, and checking what the shim wrote).
 *
 * Every request is made the way commctl makes it (spec §12): JSON bodies with Content-Type
 * application/json, Basic credentials, a JSON body on every PUT and DELETE. Response bodies are
 * compared field by field, in REF's key order, with the spec's examples. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_json.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_error.h"

static int failures;
static const char *base_url, *base_url2, *ns, *user, *pass;
static char *key1_b64, *key2_b64;
static struct kube_client *kc;

#define CHECK(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static const struct kube_resource R_HOSTS = { "commissaire.io", "v1alpha1", "hosts", 1 };
static const struct kube_resource R_CLUSTERS = { "commissaire.io", "v1alpha1", "clusters", 1 };
static const struct kube_resource R_OPS = { "commissaire.io", "v1alpha1", "operations", 1 };
static const struct kube_resource R_NETS = { "commissaire.io", "v1alpha1", "networks", 1 };
static const struct kube_resource R_CMS = { "commissaire.io", "v1alpha1", "containermanagers", 1 };

/* ---- HTTP --------------------------------------------------------------------------------- */

struct resp {
    long status;
    char *body;
    size_t len;
    json_t *json;
    char ctype[128];
    CURLcode cc;
};

enum { AUTH_GOOD, AUTH_NONE, AUTH_BADPW, AUTH_NOUSER };

struct ropts {
    int auth;
    const char *base;      /* default base_url */
    const char *iface;     /* source address */
    const char *xff;       /* X-Forwarded-For */
    const char *raw_body;  /* body text; NULL: none */
    size_t raw_len;        /* 0: strlen(raw_body) */
    int no_ctype;
};

static size_t wr_cb(char *p, size_t sz, size_t n, void *ud) {
    struct resp *r = ud;
    char *nb = realloc(r->body, r->len + sz * n + 1);

    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, sz * n);
    r->len += sz * n;
    r->body[r->len] = 0;
    return sz * n;
}

static size_t hdr_cb(char *p, size_t sz, size_t n, void *ud) {
    struct resp *r = ud;
    size_t len = sz * n;

    if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        size_t k = len - 13;

        p += 13;
        while (k && *p == ' ') {
            p++;
            k--;
        }
        while (k && (p[k - 1] == '\r' || p[k - 1] == '\n'))
            k--;
        snprintf(r->ctype, sizeof r->ctype, "%.*s", (int)k, p);
    }
    return len;
}

static void resp_done(struct resp *r) {
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static void req_x(const char *method, const char *path, const struct ropts *o, struct resp *r) {
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[4096], up[512];
    const char *b = o && o->base ? o->base : base_url;

    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "%s%s", b, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wr_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hdr_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (!o || !o->no_ctype)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (o && o->xff) {
        snprintf(up, sizeof up, "X-Forwarded-For: %s", o->xff);
        h = curl_slist_append(h, up);
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    switch (o ? o->auth : AUTH_GOOD) {
    case AUTH_GOOD: snprintf(up, sizeof up, "%s:%s", user, pass); break;
    case AUTH_BADPW: snprintf(up, sizeof up, "%s:%s-wrong", user, pass); break;
    case AUTH_NOUSER: snprintf(up, sizeof up, "nosuchuser:%s", pass); break;
    default: up[0] = 0;
    }
    if (up[0]) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, up);
    }
    if (o && o->iface)
        curl_easy_setopt(c, CURLOPT_INTERFACE, o->iface);
    if (o && o->raw_body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->raw_body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(o->raw_len ? o->raw_len : strlen(o->raw_body)));
    }
    r->cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->body)
        r->json = json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

/* A commctl-style request: body is JSON text or NULL (GET). */
static void req(const char *method, const char *path, const char *body, struct resp *r) {
    struct ropts o = { .auth = AUTH_GOOD, .raw_body = body };

    req_x(method, path, &o, r);
}

/* JSON equality including the key order of every object (REF's field order, spec §2.6). */
static int json_same(const json_t *a, const json_t *b) {
    if (!json_equal(a, b))
        return 0;
    if (json_is_object(a)) {
        void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);

        while (ia && ib) {
            if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0 ||
                !json_same(json_object_iter_value(ia), json_object_iter_value(ib)))
                return 0;
            ia = json_object_iter_next((json_t *)a, ia);
            ib = json_object_iter_next((json_t *)b, ib);
        }
        return !ia && !ib;
    }
    if (json_is_array(a))
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_same(json_array_get(a, i), json_array_get(b, i)))
                return 0;
    return 1;
}

static void expect_(const struct resp *r, long code, const char *expected, const char *what,
                    int line) {
    json_t *ex = expected ? json_loads(expected, JSON_DECODE_ANY, NULL) : NULL;

    if (r->status != code || !r->json || strncmp(r->ctype, "application/json", 16) != 0 ||
        (ex && !json_same(r->json, ex))) {
        fprintf(stderr, "FAIL %s:%d: %s: status %ld (want %ld), content-type %s\n   body %s\n",
                __FILE__, line, what, r->status, code, r->ctype, r->body ? r->body : "(none)");
        if (expected)
            fprintf(stderr, "   want %s\n", expected);
        failures++;
    }
    json_decref(ex);
}
#define EXPECT(r, code, expected_json) expect_(&(r), (code), (expected_json), #r, __LINE__)

/* An error answer per decisions 4: the status and {"error": reason, "message": ...}. */
#define EXPECT_ERR(r, code)                                                                       \
    do {                                                                                           \
        CHECK((r).status == (code), "%s: status %ld, want %d; body %s", #r, (r).status, (code),   \
              (r).body ? (r).body : "(none)");                                                     \
        CHECK(json_is_string(json_object_get((r).json, "error")) &&                               \
                  json_is_string(json_object_get((r).json, "message")),                           \
              "error body not {error, message}: %s", (r).body ? (r).body : "(none)");            \
    } while (0)

static void call(const char *method, const char *path, const char *body, int code,
                 const char *expected) {
    struct resp r;

    req(method, path, body, &r);
    if (code >= 400)
        EXPECT_ERR(r, code);
    else
        EXPECT(r, code, expected);
    if (r.status != code)
        fprintf(stderr, "     (%s %s)\n", method, path);
    resp_done(&r);
}

/* ---- direct API access (what the controller would do) ------------------------------------ */

static char *read_file_b64(const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char buf[16384];
    size_t n;
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out, *o;

    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    out = o = malloc((n + 2) / 3 * 4 + 1);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)buf[i] << 16 | (i + 1 < n ? buf[i + 1] << 8 : 0) |
                     (i + 2 < n ? buf[i + 2] : 0);

        *o++ = tbl[(v >> 18) & 63];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? tbl[v & 63] : '=';
    }
    *o = 0;
    return out;
}

static void set_status(const struct kube_resource *res, const char *name, const char *status_json) {
    json_t *patch = json_pack("{s:o}", "status", json_loads(status_json, 0, NULL));
    struct kube_error e;
    int rc;

    kube_error_init(&e);
    rc = kube_patch(kc, res, ns, name, "status", KUBE_PATCH_MERGE, patch, NULL, NULL, &e);
    CHECK(rc == 0, "status patch of %s/%s: %s", res->resource, name, e.message ? e.message : "");
    kube_error_done(&e);
    json_decref(patch);
}

static void host_phase(const char *addr, const char *phase) {
    char st[256];

    snprintf(st, sizeof st, "{\"phase\": \"%s\"}", phase);
    set_status(&R_HOSTS, addr, st);
}

static json_t *kget(const struct kube_resource *res, const char *name) {
    json_t *o = NULL;

    kube_get(kc, res, ns, name, NULL, &o, NULL);
    return o;
}

/* A fingerprint of the content of everything in the namespace: spec, status, data, labels and
 * annotations of every object. The shim's short-lived write lease (an annotation that is added and
 * removed again) and resourceVersion churn do not count as a change. */
static char *snapshot_ns(void) {
    const struct kube_resource *kinds[] = { &R_HOSTS, &R_CLUSTERS, &R_OPS, &R_NETS, &R_CMS,
                                            &KUBE_RES_SECRETS };
    json_t *all = json_array();
    char *s;

    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        json_t *l = NULL, *it;
        size_t i;

        kube_list(kc, kinds[k], ns, NULL, &l, NULL);
        json_array_foreach(json_object_get(l, "items"), i, it) {
            json_t *ann = json_deep_copy(cm_json_get(it, "metadata.annotations"));

            json_object_del(ann, "commissaire.io/shim-lock");
            if (ann && json_object_size(ann) == 0) {
                json_decref(ann);
                ann = NULL;
            }
            json_array_append_new(
                all, json_pack("[s, s, O, O, O, O, o]", kinds[k]->resource,
                               cm_json_get_str(it, "metadata.name"),
                               json_object_get(it, "spec") ?: json_null(),
                               json_object_get(it, "status") ?: json_null(),
                               json_object_get(it, "data") ?: json_null(),
                               cm_json_get(it, "metadata.labels") ?: json_null(),
                               ann ? ann : json_null()));
        }
        json_decref(l);
    }
    s = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    return s;
}

/* Waits until the garbage collector has removed the key Secrets of deleted Hosts (it runs in
 * the background), so that a snapshot is not disturbed by collections still due. */
static void wait_gc(void) {
    for (int i = 0; i < 200; i++) {
        json_t *hl = NULL, *sl = NULL, *s;
        size_t j, orphans = 0;

        kube_list(kc, &R_HOSTS, ns, NULL, &hl, NULL);
        kube_list(kc, &KUBE_RES_SECRETS, ns, NULL, &sl, NULL);
        json_array_foreach(json_object_get(sl, "items"), j, s) {
            json_t *owner = json_array_get(cm_json_get(s, "metadata.ownerReferences"), 0), *h;
            size_t k;
            int alive = 0;

            if (!owner || strcmp(cm_json_get_str(owner, "kind") ?: "", "Host") != 0)
                continue;
            json_array_foreach(json_object_get(hl, "items"), k, h)
                alive |= !strcmp(cm_json_get_str(h, "metadata.uid") ?: "",
                                 cm_json_get_str(owner, "uid") ?: "-");
            orphans += !alive;
        }
        json_decref(hl);
        json_decref(sl);
        if (!orphans)
            return;
        usleep(100000);
    }
}

static void wait_gone(const struct kube_resource *res, const char *name) {
    for (int i = 0; i < 100; i++) {
        json_t *o = kget(res, name);

        if (!o)
            return;
        json_decref(o);
        usleep(50000);
    }
}

/* ---- scenarios ---------------------------------------------------------------------------- */

static const char *host_json(const char *addr, const char *status) {
    static char buf[512];

    snprintf(buf, sizeof buf,
             "{\"address\": \"%s\", \"status\": \"%s\", \"os\": \"\", \"cpus\": 0, \"memory\": 0, "
             "\"space\": 0, \"last_check\": \"\", \"source\": \"\"}",
             addr, status);
    return buf;
}

static char *key_body(const char *b64, const char *extra) {
    char *s;

    if (asprintf(&s, "{\"ssh_priv_key\": \"%s\"%s%s}", b64, extra ? ", " : "", extra ? extra : "") < 0)
        return NULL;
    return s;
}

/* Every commctl command of spec §12.3, in the order an operator would use them. */
static void sc_commctl(void) {
    struct resp r;
    char *b;
    json_t *o;

    /* cluster create -t kubernetes -n default NAME (container_manager always present) */
    call("PUT", "/api/v0/cluster/datacenter1",
         "{\"type\": \"kubernetes\", \"network\": \"default\", \"container_manager\": \"\"}", 201,
         "{\"name\": \"datacenter1\", \"status\": \"\", \"network\": \"default\", "
         "\"container_manager\": \"\"}");
    call("GET", "/api/v0/clusters", NULL, 200, "[\"datacenter1\"]");
    call("GET", "/api/v0/cluster/datacenter1", NULL, 200,
         "{\"name\": \"datacenter1\", \"status\": \"ok\", \"network\": \"default\", \"hostset\": [], "
         "\"container_manager\": \"\", \"hosts\": {\"total\": 0, \"available\": 0, "
         "\"unavailable\": 0}}");

    /* network create -t flannel_server -o JSON NAME; get; list; delete */
    call("PUT", "/api/v0/network/n2",
         "{\"type\": \"flannel_server\", \"options\": {\"address\": \"192.168.152.101:8080\"}}", 201,
         "{\"name\": \"n2\", \"type\": \"flannel_server\", \"options\": {\"address\": "
         "\"192.168.152.101:8080\"}}");
    call("GET", "/api/v0/network/n2", NULL, 200,
         "{\"name\": \"n2\", \"type\": \"flannel_server\", \"options\": {\"address\": "
         "\"192.168.152.101:8080\"}}");
    req("GET", "/api/v0/networks", NULL, &r);
    EXPECT(r, 200, NULL);
    CHECK(json_is_array(r.json), "networks is not a list");
    {
        int found = 0;
        size_t i;
        json_t *v;

        json_array_foreach(r.json, i, v) found |= json_is_string(v) && !strcmp(json_string_value(v), "n2");
        CHECK(found, "n2 not in %s", r.body);
    }
    resp_done(&r);
    call("DELETE", "/api/v0/network/n2", "{}", 200, "[]");
    call("GET", "/api/v0/network/n2", NULL, 404, NULL);

    /* container_manager create -t openshift -o server_url=... -o token=... NAME */
    call("PUT", "/api/v0/containermanager/prod_openshift",
         "{\"type\": \"openshift\", \"options\": {\"server_url\": \"https://10.2.0.1:8443\", "
         "\"token\": \"t0ken\"}}",
         201,
         "{\"name\": \"prod_openshift\", \"type\": \"openshift\", \"options\": {\"server_url\": "
         "\"https://10.2.0.1:8443\", \"token\": \"t0ken\"}}");
    call("GET", "/api/v0/containermanager/prod_openshift", NULL, 200,
         "{\"name\": \"prod_openshift\", \"type\": \"openshift\", \"options\": {\"server_url\": "
         "\"https://10.2.0.1:8443\", \"token\": \"t0ken\"}}");
    call("GET", "/api/v0/containermanagers", NULL, 200, "[\"prod_openshift\"]");
    call("DELETE", "/api/v0/containermanager/prod_openshift", "{}", 200, "[]");
    call("GET", "/api/v0/containermanager/prod_openshift", NULL, 404, NULL);
    call("GET", "/api/v0/containermanagers", NULL, 200, "[]");

    /* host create ADDRESS KEYFILE (no remote_user) */
    b = key_body(key1_b64, NULL);
    call("PUT", "/api/v0/host/10.10.0.1", b, 201, host_json("10.10.0.1", "investigating"));
    free(b);
    o = kget(&R_HOSTS, "10.10.0.1");
    CHECK(o && !strcmp(cm_json_get_str(o, "spec.remoteUser"), "root"), "remoteUser");
    CHECK(o && cm_json_get_str(o, "spec.sshKeySecretRef.name"), "sshKeySecretRef");
    if (o) {
        json_t *sec = NULL;

        kube_get(kc, &KUBE_RES_SECRETS, ns, cm_json_get_str(o, "spec.sshKeySecretRef.name"), NULL,
                 &sec, NULL);
        CHECK(sec && !strcmp(cm_json_get_str(sec, "type"), "kubernetes.io/ssh-auth"), "secret type");
        CHECK(sec && json_is_string(json_object_get(json_object_get(sec, "data"), "ssh-privatekey")) &&
                  !strcmp(json_string_value(json_object_get(json_object_get(sec, "data"),
                                                            "ssh-privatekey")),
                          key1_b64),
              "secret data is the key");
        CHECK(sec && !strcmp(cm_json_get_str(json_array_get(cm_json_get(sec, "metadata.ownerReferences"), 0), "kind") ?: "", "Host"),
              "secret owned by the Host");
        CHECK(sec && !strcmp(cm_json_get_str(json_array_get(cm_json_get(sec, "metadata.ownerReferences"), 0), "uid") ?: "",
                             cm_json_get_str(o, "metadata.uid")),
              "secret owner uid");
        json_decref(sec);
    }
    json_decref(o);

    /* host create -c CLUSTER ADDRESS KEYFILE */
    b = key_body(key2_b64, "\"cluster\": \"datacenter1\"");
    call("PUT", "/api/v0/host/10.10.0.2", b, 201, host_json("10.10.0.2", "investigating"));
    free(b);
    o = kget(&R_HOSTS, "10.10.0.2");
    CHECK(o && !strcmp(cm_json_get_str(o, "spec.cluster") ?: "", "datacenter1"), "spec.cluster");
    CHECK(o && !strcmp(json_string_value(json_object_get(cm_json_get(o, "metadata.labels"),
                                                         "commissaire.io/cluster")) ?: "",
                       "datacenter1"),
          "cluster label");
    json_decref(o);

    /* host get / list / list CLUSTER / status / ssh (creds) */
    call("GET", "/api/v0/host/10.10.0.1", NULL, 200, host_json("10.10.0.1", "investigating"));
    {
        char exp[1200];

        snprintf(exp, sizeof exp, "[%s, ", host_json("10.10.0.1", "investigating"));
        strcat(exp, host_json("10.10.0.2", "investigating"));
        strcat(exp, "]");
        call("GET", "/api/v0/hosts", NULL, 200, exp);
    }
    call("GET", "/api/v0/cluster/datacenter1/hosts", NULL, 200, "[\"10.10.0.2\"]");
    call("GET", "/api/v0/host/10.10.0.1/status", NULL, 200,
         "{\"type\": \"host_only\", \"host\": {\"last_check\": \"\", \"status\": \"investigating\"}, "
         "\"container_manager\": {}}");
    {
        char exp[8192];

        snprintf(exp, sizeof exp,
                 "{\"address\": \"10.10.0.1\", \"ssh_priv_key\": \"%s\", \"remote_user\": \"root\"}",
                 key1_b64);
        call("GET", "/api/v0/host/10.10.0.1/creds", NULL, 200, exp);
    }

    /* What the controller reports shows up in the REST records (units of decisions 6). */
    set_status(&R_HOSTS, "10.10.0.1",
               "{\"phase\": \"active\", \"os\": \"fedora\", \"cpus\": 4, \"memory\": 8167412, "
               "\"space\": 30000000, \"lastCheck\": \"2026-01-02T03:04:05Z\"}");
    usleep(300000);
    call("GET", "/api/v0/host/10.10.0.1", NULL, 200,
         "{\"address\": \"10.10.0.1\", \"status\": \"active\", \"os\": \"fedora\", \"cpus\": 4, "
         "\"memory\": 8167412, \"space\": 30000000, \"last_check\": \"2026-01-02T03:04:05.000000\", "
         "\"source\": \"\"}");

    /* host join ADDRESS CLUSTER: 405 while not ready, 200 [ip] when ready; unjoin */
    call("PUT", "/api/v0/cluster/datacenter1/hosts/10.10.0.1", "{}", 200, "[\"10.10.0.1\"]");
    call("GET", "/api/v0/cluster/datacenter1/hosts/10.10.0.1", NULL, 200, "[\"10.10.0.1\"]");
    call("GET", "/api/v0/cluster/datacenter1/hosts", NULL, 200, "[\"10.10.0.1\", \"10.10.0.2\"]");
    call("GET", "/api/v0/cluster/datacenter1", NULL, 200,
         "{\"name\": \"datacenter1\", \"status\": \"degraded\", \"network\": \"default\", "
         "\"hostset\": [\"10.10.0.1\", \"10.10.0.2\"], \"container_manager\": \"\", \"hosts\": "
         "{\"total\": 2, \"available\": 1, \"unavailable\": 1}}");
    call("DELETE", "/api/v0/cluster/datacenter1/hosts/10.10.0.1", "{}", 200, "[]");
    call("GET", "/api/v0/cluster/datacenter1/hosts/10.10.0.1", NULL, 404, NULL);

    /* cluster restart/upgrade/deploy start + status */
    call("GET", "/api/v0/cluster/datacenter1/restart", NULL, 404, NULL);
    req("PUT", "/api/v0/cluster/datacenter1/restart", "{}", &r);
    EXPECT(r, 201, NULL);
    {
        const char *keys[] = { "name", "status", "restarted", "in_process", "started_at", "finished_at" };
        void *it = json_object_iter(r.json);

        for (size_t i = 0; i < 6; i++, it = json_object_iter_next(r.json, it))
            CHECK(it && !strcmp(json_object_iter_key(it), keys[i]), "restart key %zu", i);
        CHECK(!it, "extra keys in %s", r.body);
        CHECK(!strcmp(cm_json_get_str(r.json, "name") ?: "", "datacenter1"), "name");
        CHECK(!strcmp(cm_json_get_str(r.json, "status") ?: "", "in_process"), "status");
        CHECK(strlen(cm_json_get_str(r.json, "started_at") ?: "") == 26, "started_at format %s",
              r.body);
    }
    resp_done(&r);
    req("GET", "/api/v0/cluster/datacenter1/restart", NULL, &r);
    EXPECT(r, 200, NULL);
    CHECK(!strcmp(cm_json_get_str(r.json, "status") ?: "", "in_process"), "restart status");
    resp_done(&r);

    /* host delete; again → 404 ("No object found.") */
    call("DELETE", "/api/v0/host/10.10.0.1", "{}", 200, "[]");
    call("GET", "/api/v0/host/10.10.0.1", NULL, 404, NULL);
    call("DELETE", "/api/v0/host/10.10.0.1", "{}", 404, NULL);
    call("DELETE", "/api/v0/host/10.10.0.2", "{}", 200, "[]");
    /* cluster delete; again → 404 */
    call("DELETE", "/api/v0/cluster/datacenter1", "{}", 200, "[]");
    call("DELETE", "/api/v0/cluster/datacenter1", "{}", 404, NULL);
    call("GET", "/api/v0/cluster/datacenter1", NULL, 404, NULL);
    call("GET", "/api/v0/clusters", NULL, 200, "[]");
    call("GET", "/api/v0/hosts", NULL, 200, "[]");
}

/* Idempotency and conflicts (spec §13 as amended by the decisions). */
static void sc_idempotent(void) {
    char *b1 = key_body(key1_b64, NULL), *b2 = key_body(key2_b64, NULL);
    char *bc;

    call("PUT", "/api/v0/cluster/c1", "{}", 201,
         "{\"name\": \"c1\", \"status\": \"\", \"network\": \"default\", \"container_manager\": \"\"}");
    call("PUT", "/api/v0/cluster/c1", "{}", 201,
         "{\"name\": \"c1\", \"status\": \"\", \"network\": \"default\", \"container_manager\": \"\"}");
    call("PUT", "/api/v0/containermanager/triv", "{\"type\": \"trivial\"}", 201,
         "{\"name\": \"triv\", \"type\": \"trivial\", \"options\": {}}");
    call("PUT", "/api/v0/containermanager/triv", "{\"type\": \"trivial\", \"options\": {}}", 201,
         "{\"name\": \"triv\", \"type\": \"trivial\", \"options\": {}}");
    call("PUT", "/api/v0/containermanager/triv", "{\"type\": \"openshift\"}", 409, NULL);
    /* Re-PUT updates only the fields sent (decisions 11). */
    call("PUT", "/api/v0/cluster/c1", "{\"container_manager\": \"triv\", \"status\": \"mine\"}", 201,
         "{\"name\": \"c1\", \"status\": \"mine\", \"network\": \"default\", \"container_manager\": "
         "\"triv\"}");
    call("PUT", "/api/v0/cluster/c1", "{}", 201,
         "{\"name\": \"c1\", \"status\": \"mine\", \"network\": \"default\", \"container_manager\": "
         "\"triv\"}");
    /* An unknown network on first creation silently becomes "default" (spec §6.3). */
    call("PUT", "/api/v0/cluster/c2", "{\"network\": \"nosuchnet\"}", 201,
         "{\"name\": \"c2\", \"status\": \"\", \"network\": \"default\", \"container_manager\": \"\"}");
    call("PUT", "/api/v0/network/net_1", "{}", 201,
         "{\"name\": \"net_1\", \"type\": \"flannel_etcd\", \"options\": {}}");
    call("PUT", "/api/v0/network/net_1", "{\"type\": \"flannel_etcd\", \"options\": {}}", 201,
         "{\"name\": \"net_1\", \"type\": \"flannel_etcd\", \"options\": {}}");
    call("PUT", "/api/v0/network/net_1", "{\"options\": {\"a\": 1}}", 409, NULL);
    call("PUT", "/api/v0/cluster/c3", "{\"network\": \"net_1\"}", 201,
         "{\"name\": \"c3\", \"status\": \"\", \"network\": \"net_1\", \"container_manager\": \"\"}");
    call("GET", "/api/v0/cluster/c3", NULL, 200,
         "{\"name\": \"c3\", \"status\": \"ok\", \"network\": \"net_1\", \"hostset\": [], "
         "\"container_manager\": \"\", \"hosts\": {\"total\": 0, \"available\": 0, \"unavailable\": 0}}");

    call("PUT", "/api/v0/host/10.20.0.1", b1, 201, host_json("10.20.0.1", "investigating"));
    call("PUT", "/api/v0/host/10.20.0.1", b1, 201, host_json("10.20.0.1", "investigating"));
    call("PUT", "/api/v0/host/10.20.0.1", b2, 409, NULL);
    bc = key_body(key1_b64, "\"cluster\": \"c1\"");
    call("PUT", "/api/v0/host/10.20.0.1", bc, 409, NULL); /* exists, not in c1 */
    free(bc);
    bc = key_body(key1_b64, "\"cluster\": \"headache\"");
    call("PUT", "/api/v0/host/10.20.0.9", bc, 409, NULL); /* no such cluster */
    free(bc);
    host_phase("10.20.0.1", "disassociated");
    call("PUT", "/api/v0/cluster/c1/hosts/10.20.0.1", "{}", 200, "[\"10.20.0.1\"]");
    call("PUT", "/api/v0/cluster/c1/hosts/10.20.0.1", "{}", 200, "[\"10.20.0.1\"]");
    bc = key_body(key1_b64, "\"cluster\": \"c1\"");
    call("PUT", "/api/v0/host/10.20.0.1", bc, 201, NULL); /* now a member: idempotent */
    free(bc);
    /* One cluster per host (decisions 29). */
    call("PUT", "/api/v0/cluster/c2/hosts/10.20.0.1", "{}", 409, NULL);
    call("PUT", "/api/v0/cluster/c2/hosts", "{\"old\": [], \"new\": [\"10.20.0.1\"]}", 409, NULL);
    /* trivial manager: hosts of c1 count as available when disassociated (decisions 13, 30) and
     * the node status is the trivial manager's (spec §5.6). */
    call("GET", "/api/v0/cluster/c1", NULL, 200,
         "{\"name\": \"c1\", \"status\": \"ok\", \"network\": \"default\", \"hostset\": "
         "[\"10.20.0.1\"], \"container_manager\": \"triv\", \"hosts\": {\"total\": 1, "
         "\"available\": 1, \"unavailable\": 0}}");
    call("GET", "/api/v0/host/10.20.0.1/status", NULL, 200,
         "{\"type\": \"host_only\", \"host\": {\"last_check\": \"\", \"status\": \"disassociated\"}, "
         "\"container_manager\": {\"node\": \"10.20.0.1\", \"status\": \"ok\"}}");
    call("DELETE", "/api/v0/cluster/c1/hosts/10.20.0.1", "{}", 200, "[]");
    call("DELETE", "/api/v0/cluster/c1/hosts/10.20.0.1", "{}", 200, "[]");
    call("DELETE", "/api/v0/cluster/c1/hosts/10.99.0.1", "{}", 200, "[]"); /* no such host */
    call("DELETE", "/api/v0/cluster/nosuch/hosts/10.20.0.1", "{}", 404, NULL);
    call("DELETE", "/api/v0/network/net_1", "{}", 200, "[]");
    call("DELETE", "/api/v0/network/net_1", "{}", 200, "[]"); /* idempotent (decisions 9) */
    call("DELETE", "/api/v0/containermanager/triv", "{}", 200, "[]");
    call("DELETE", "/api/v0/containermanager/triv", "{}", 200, "[]");
    /* Deleting the host removes it from its cluster. */
    call("PUT", "/api/v0/cluster/c1/hosts/10.20.0.1", "{}", 200, "[\"10.20.0.1\"]");
    call("DELETE", "/api/v0/host/10.20.0.1", "{}", 200, "[]");
    call("GET", "/api/v0/cluster/c1/hosts", NULL, 200, "[]");
    call("DELETE", "/api/v0/cluster/c1", "{}", 200, "[]");
    call("DELETE", "/api/v0/cluster/c2", "{}", 200, "[]");
    call("DELETE", "/api/v0/cluster/c3", "{}", 200, "[]");
    free(b1);
    free(b2);
}

/* Every error the spec lists, with a JSON error body, and nothing changed in the API server. */
static void sc_errors(void) {
    struct resp r;
    struct ropts o = { 0 };
    char *before, *after, *b;

    call("PUT", "/api/v0/cluster/errs", "{}", 201, NULL);
    b = key_body(key1_b64, NULL);
    call("PUT", "/api/v0/host/10.30.0.1", b, 201, NULL);
    free(b);
    wait_gc();
    before = snapshot_ns();

    /* 403: anonymous, wrong password, unknown user — the same answer, also for unknown paths. */
    for (int a = AUTH_NONE; a <= AUTH_NOUSER; a++) {
        const char *paths[] = { "/api/v0/hosts", "/api/v0/host/10.30.0.1", "/api/v0/nosuchpath",
                                "/api/v0/cluster/errs" };

        o.auth = a;
        for (size_t i = 0; i < 4; i++) {
            req_x("GET", paths[i], &o, &r);
            EXPECT_ERR(r, 403);
            CHECK(!strstr(r.body ?: "", "nosuchuser") && !strstr(r.body ?: "", "password"),
                  "403 body reveals something: %s", r.body);
            resp_done(&r);
        }
        o.raw_body = "{}";
        req_x("DELETE", "/api/v0/cluster/errs", &o, &r);
        EXPECT_ERR(r, 403);
        resp_done(&r);
        o.raw_body = NULL;
    }
    o.auth = AUTH_GOOD;

    /* 404 */
    call("GET", "/api/v0/nosuchpath", NULL, 404, NULL);
    call("GET", "/api/v0/host/10.99.99.99", NULL, 404, NULL);
    call("GET", "/api/v0/host/10.99.99.99/creds", NULL, 404, NULL);
    call("GET", "/api/v0/host/10.99.99.99/status", NULL, 404, NULL);
    call("GET", "/api/v0/host/10.30.0.1/creds/", NULL, 404, NULL); /* exact path only */
    call("GET", "/api/v0/host/10.30.0.1/", NULL, 200, NULL);        /* optional slash */
    call("GET", "/api/v0/cluster/errs/restart/", NULL, 404, NULL);
    call("GET", "/api/v0/cluster/nosuch", NULL, 404, NULL);
    call("GET", "/api/v0/cluster/my.cluster", NULL, 404, NULL); /* no dot in names */
    call("GET", "/api/v0/cluster/nosuch/hosts", NULL, 404, NULL);
    call("GET", "/api/v0/cluster/nosuch/hosts/10.30.0.1", NULL, 404, NULL);
    call("GET", "/api/v0/cluster/errs/hosts/10.30.0.1", NULL, 404, NULL);
    call("GET", "/api/v0/cluster/errs/upgrade", NULL, 404, NULL);
    call("GET", "/api/v0/network/nosuch", NULL, 404, NULL);
    call("GET", "/api/v0/containermanager/nosuch", NULL, 404, NULL);
    call("GET", "/api/v0/cluster", NULL, 404, NULL);
    call("GET", "/api/v0/status", NULL, 404, NULL);
    call("POST", "/api/v0/host/10.30.0.1", "{}", 404, NULL); /* never 405 for a method */
    call("PATCH", "/api/v0/host/10.30.0.1", "{}", 404, NULL);
    call("DELETE", "/api/v0/hosts", "{}", 404, NULL);
    call("PUT", "/api/v0/cluster/nosuch/hosts/10.30.0.1", "{}", 404, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts/10.99.0.9", "{}", 404, NULL);
    call("PUT", "/api/v0/cluster/nosuch/hosts", "{\"old\": [], \"new\": []}", 404, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "{\"old\": [], \"new\": [\"10.99.0.9\"]}", 404, NULL);
    call("PUT", "/api/v0/cluster/nosuch/restart", "{}", 404, NULL);
    call("PUT", "/api/v0/cluster/nosuch/upgrade", "{}", 404, NULL);
    call("PUT", "/api/v0/cluster/nosuch/deploy", "{\"version\": \"1.2.3\"}", 404, NULL);
    call("DELETE", "/api/v0/cluster/nosuch", "{}", 404, NULL);

    /* 405: a host that is not ready cannot join (spec §7.1). */
    call("PUT", "/api/v0/cluster/errs/hosts/10.30.0.1", "{}", 405, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "{\"old\": [], \"new\": [\"10.30.0.1\"]}", 405, NULL);

    /* 400: bodies that are not JSON objects, wrong types, bad keys */
    call("PUT", "/api/v0/cluster/errs/hosts", "\"Part of this nutritious breakfast\"", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "{\"old\": [], \"new\": [", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "[[\"old\", []]]", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "null", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "42", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "{\"old\": null, \"new\": []}", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "{\"new\": []}", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "{\"old\": [], \"new\": [5]}", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/hosts", "{\"old\": \"x\", \"new\": []}", 400, NULL);
    call("PUT", "/api/v0/cluster/bad", "{\"network\": 5}", 400, NULL);
    call("PUT", "/api/v0/cluster/bad", "{\"name\": \"other\"}", 400, NULL);
    call("PUT", "/api/v0/cluster/bad", "{\"hostset\": \"x\"}", 400, NULL);
    call("PUT", "/api/v0/host/10.30.0.2", "{}", 400, NULL); /* no key (decisions) */
    call("PUT", "/api/v0/host/10.30.0.2", "{\"ssh_priv_key\": 5}", 400, NULL);
    call("PUT", "/api/v0/host/10.30.0.2", "{\"ssh_priv_key\": \"not base64!!\"}", 400, NULL);
    call("PUT", "/api/v0/host/10.30.0.2", "{\"ssh_priv_key\": \"aGVsbG8gd29ybGQ=\"}", 400, NULL);
    b = key_body(key1_b64, "\"cpus\": \"four\"");
    call("PUT", "/api/v0/host/10.30.0.2", b, 400, NULL);
    free(b);
    b = key_body(key1_b64, "\"memory\": 4.0");
    call("PUT", "/api/v0/host/10.30.0.2", b, 400, NULL);
    free(b);
    b = key_body(key1_b64, "\"remote_user\": null");
    call("PUT", "/api/v0/host/10.30.0.2", b, 400, NULL);
    free(b);
    b = key_body(key1_b64, "\"address\": \"10.30.0.3\"");
    call("PUT", "/api/v0/host/10.30.0.2", b, 400, NULL); /* body/URL mismatch (decisions 33) */
    free(b);
    b = key_body(key1_b64, "\"address\": \"a/b\"");
    call("PUT", "/api/v0/host", b, 400, NULL);
    free(b);
    b = key_body(key1_b64, "\"address\": \"under_score.example\"");
    call("PUT", "/api/v0/host", b, 400, NULL); /* not a host name the CRD accepts */
    free(b);
    call("PUT", "/api/v0/network/bad", "{\"type\": \"flanneld_service\"}", 400, NULL);
    call("PUT", "/api/v0/network/bad", "{\"options\": []}", 400, NULL);
    call("PUT", "/api/v0/containermanager/bad", "{\"type\": \"swarm\"}", 400, NULL);
    call("PUT", "/api/v0/containermanager/bad", "{\"options\": {\"server_url\": 5}}", 400, NULL);
    call("PUT", "/api/v0/containermanager/bad", "{\"options\": {\"server_url\": \"ftp://x\"}}", 400,
         NULL);
    call("PUT", "/api/v0/cluster/errs/deploy", "{}", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/deploy", "{\"version\": 7.2}", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/deploy", "{\"version\": \"\"}", 400, NULL);
    call("PUT", "/api/v0/cluster/errs/deploy", "{\"version\": \"1; reboot\"}", 400, NULL);
    call("PUT", "/api/v0/cluster/errs", "\xff\xfe{}", 400, NULL); /* not UTF-8 */

    /* 409 */
    b = key_body(key2_b64, NULL);
    call("PUT", "/api/v0/host/10.30.0.1", b, 409, NULL);
    free(b);
    call("PUT", "/api/v0/cluster/errs/hosts", "{\"old\": [\"bogus\"], \"new\": []}", 409, NULL);

    /* 413: a 2 MiB body is refused before it is read */
    {
        size_t n = 2 * 1024 * 1024;
        char *huge = malloc(n + 1);

        memset(huge, ' ', n);
        huge[0] = '{';
        huge[n - 1] = '}';
        huge[n] = 0;
        o.raw_body = huge;
        o.raw_len = n;
        req_x("PUT", "/api/v0/cluster/huge", &o, &r);
        EXPECT_ERR(r, 413);
        resp_done(&r);
        o.raw_len = 0;
        o.raw_body = NULL;
        free(huge);
    }
    /* Odd and percent-encoded paths: never a 5xx. What reaches the shim gets a JSON error;
     * libwebsockets itself refuses malformed escapes (403) and NUL bytes (connection closed)
     * before the shim sees the request. */
    {
        const char *odd[] = { "/api/v0/host/%2e%2e/creds", "/api/v0/host/a%2Fb",
                              "/api/v0/host/%00", "/api/v0/cluster/%3Cscript%3E",
                              "/api/v0/host/10.30.0.1%2Fcreds", "/api/v0/../v0/hosts/x",
                              "/api/v0/host/\xc3\xa9", "/api/v0/host/%ZZ",
                              "/api/v0/cluster/errs%00/hosts", "/api/v0/host/%20",
                              "/api/v0/host/a%20b/status", "/api/v0/cluster/errs/hosts/%2e" };

        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
            const char *m[] = { "GET", "PUT", "DELETE" };

            for (size_t j = 0; j < 3; j++) {
                req(m[j], odd[i], j ? "{}" : NULL, &r);
                if (r.cc == CURLE_OK) {
                    /* A GET may legitimately match once decoded ("%2F" is "/", as in REF). */
                    CHECK((r.status >= 400 && r.status < 500) || (j == 0 && r.status == 200),
                          "%s %s: status %ld", m[j], odd[i], r.status);
                    if (r.body && r.body[0] != '<' && r.status >= 400)
                        EXPECT_ERR(r, (int)r.status);
                }
                resp_done(&r);
            }
        }
    }

    wait_gc();
    after = snapshot_ns();
    CHECK(!strcmp(before, after), "refused requests changed the API server:\n%s\n%s", before,
          after);
    free(before);
    free(after);
    call("DELETE", "/api/v0/host/10.30.0.1", "{}", 200, "[]");
    call("DELETE", "/api/v0/cluster/errs", "{}", 200, "[]");
}

/* Operations: records, mapping of the controller's status, one at a time per cluster. */
static void sc_operations(void) {
    struct resp r;
    json_t *list = NULL, *it;
    char opname[256] = "";
    size_t i;

    call("PUT", "/api/v0/cluster/ops", "{}", 201, NULL);
    req("PUT", "/api/v0/cluster/ops/deploy", "{\"version\": \"7.2.6\"}", &r);
    EXPECT(r, 201, NULL);
    {
        const char *keys[] = { "name", "status", "version", "deployed", "in_process", "started_at",
                               "finished_at" };
        void *k = json_object_iter(r.json);

        for (size_t j = 0; j < 7; j++, k = json_object_iter_next(r.json, k))
            CHECK(k && !strcmp(json_object_iter_key(k), keys[j]), "deploy key %zu in %s", j, r.body);
        CHECK(!strcmp(cm_json_get_str(r.json, "version") ?: "", "7.2.6"), "version");
        CHECK(json_array_size(json_object_get(r.json, "deployed")) == 0, "deployed []");
        CHECK(!strcmp(cm_json_get_str(r.json, "finished_at") ?: "x", ""), "finished_at \"\"");
    }
    resp_done(&r);
    /* The Operation in the API server. */
    kube_list(kc, &R_OPS, ns, NULL, &list, NULL);
    json_array_foreach(json_object_get(list, "items"), i, it) {
        if (!strcmp(cm_json_get_str(it, "spec.cluster") ?: "", "ops")) {
            snprintf(opname, sizeof opname, "%s", cm_json_get_str(it, "metadata.name"));
            CHECK(!strcmp(cm_json_get_str(it, "spec.type") ?: "", "deploy"), "op type");
            CHECK(!strcmp(cm_json_get_str(it, "spec.version") ?: "", "7.2.6"), "op version");
        }
    }
    json_decref(list);
    CHECK(opname[0], "no Operation created");
    /* While it is pending or running, any other operation of the cluster is a 409. */
    call("PUT", "/api/v0/cluster/ops/restart", "{}", 409, NULL);
    call("PUT", "/api/v0/cluster/ops/upgrade", "{}", 409, NULL);
    call("PUT", "/api/v0/cluster/ops/deploy", "{\"version\": \"7.2.7\"}", 409, NULL);
    set_status(&R_OPS, opname,
               "{\"phase\": \"InProcess\", \"startedAt\": \"2026-03-04T05:06:07Z\", \"hosts\": ["
               "{\"name\": \"h1\", \"address\": \"10.40.0.1\", \"step\": \"Done\"},"
               "{\"name\": \"h2\", \"address\": \"10.40.0.2\", \"step\": \"Rebooting\"},"
               "{\"name\": \"h3\", \"address\": \"10.40.0.3\", \"step\": \"Pending\"}]}");
    usleep(300000);
    call("GET", "/api/v0/cluster/ops/deploy", NULL, 200,
         "{\"name\": \"ops\", \"status\": \"in_process\", \"version\": \"7.2.6\", \"deployed\": "
         "[\"10.40.0.1\"], \"in_process\": [\"10.40.0.2\"], \"started_at\": "
         "\"2026-03-04T05:06:07.000000\", \"finished_at\": \"\"}");
    call("PUT", "/api/v0/cluster/ops/restart", "{}", 409, NULL);
    set_status(&R_OPS, opname,
               "{\"phase\": \"Failed\", \"finishedAt\": \"2026-03-04T05:16:07Z\", \"hosts\": ["
               "{\"name\": \"h1\", \"address\": \"10.40.0.1\", \"step\": \"Done\"},"
               "{\"name\": \"h2\", \"address\": \"10.40.0.2\", \"step\": \"Failed\"},"
               "{\"name\": \"h3\", \"address\": \"10.40.0.3\", \"step\": \"Pending\"}]}");
    usleep(300000);
    call("GET", "/api/v0/cluster/ops/deploy", NULL, 200,
         "{\"name\": \"ops\", \"status\": \"failed\", \"version\": \"7.2.6\", \"deployed\": "
         "[\"10.40.0.1\"], \"in_process\": [\"10.40.0.2\"], \"started_at\": "
         "\"2026-03-04T05:06:07.000000\", \"finished_at\": \"2026-03-04T05:16:07.000000\"}");
    /* Finished: a new one may start; records of other kinds are independent. */
    req("PUT", "/api/v0/cluster/ops/upgrade", "{}", &r);
    EXPECT(r, 201, NULL);
    CHECK(json_object_get(r.json, "upgraded") && !json_object_get(r.json, "restarted"),
          "upgrade record keys: %s", r.body);
    resp_done(&r);
    call("GET", "/api/v0/cluster/ops/restart", NULL, 404, NULL);
    req("GET", "/api/v0/cluster/ops/deploy", NULL, &r);
    EXPECT(r, 200, NULL);
    CHECK(!strcmp(cm_json_get_str(r.json, "status") ?: "", "failed"), "deploy record kept");
    resp_done(&r);
    call("DELETE", "/api/v0/cluster/ops", "{}", 200, "[]");
}

/* PUT /api/v0/host without an address: the connection's peer, X-Forwarded-For only from a
 * trusted proxy (the shim runs with --trusted-proxy 127.0.0.1/32). */
static void sc_peer(void) {
    struct resp r;
    struct ropts o = { .auth = AUTH_GOOD };
    char *b = key_body(key1_b64, "\"remote_user\": \"cloud-user\"");

    o.raw_body = b;
    o.iface = "127.0.0.7";
    req_x("PUT", "/api/v0/host", &o, &r);
    EXPECT(r, 201, host_json("127.0.0.7", "investigating"));
    resp_done(&r);
    call("GET", "/api/v0/host/127.0.0.7", NULL, 200, host_json("127.0.0.7", "investigating"));
    {
        json_t *h = kget(&R_HOSTS, "127.0.0.7");

        CHECK(h && !strcmp(cm_json_get_str(h, "spec.remoteUser") ?: "", "cloud-user"), "remote user");
        json_decref(h);
    }
    /* Untrusted peer: its X-Forwarded-For is ignored. */
    o.iface = "127.0.0.8";
    o.xff = "10.50.0.1";
    req_x("PUT", "/api/v0/host", &o, &r);
    EXPECT(r, 201, host_json("127.0.0.8", "investigating"));
    resp_done(&r);
    call("GET", "/api/v0/host/10.50.0.1", NULL, 404, NULL);
    /* Trusted proxy: the client is the right-most untrusted X-Forwarded-For entry. */
    o.iface = "127.0.0.1";
    o.xff = "10.66.0.1, 10.50.0.2";
    req_x("PUT", "/api/v0/host", &o, &r);
    EXPECT(r, 201, host_json("10.50.0.2", "investigating"));
    resp_done(&r);
    /* A body address wins over the peer. */
    free(b);
    b = key_body(key1_b64, "\"address\": \"10.50.0.3\"");
    o.raw_body = b;
    o.xff = NULL;
    req_x("PUT", "/api/v0/host", &o, &r);
    EXPECT(r, 201, host_json("10.50.0.3", "investigating"));
    resp_done(&r);
    free(b);
    call("DELETE", "/api/v0/host/127.0.0.7", "{}", 200, "[]");
    call("DELETE", "/api/v0/host/127.0.0.8", "{}", 200, "[]");
    call("DELETE", "/api/v0/host/10.50.0.2", "{}", 200, "[]");
    call("DELETE", "/api/v0/host/10.50.0.3", "{}", 200, "[]");
}

/* The compare-and-swap of PUT /cluster/{name}/hosts under two racing writers, through two
 * different shim processes: exactly one wins, the other's `old` is stale → 409. */
struct racer {
    const char *base;
    const char *body;
    long status;
};

static pthread_barrier_t barrier;

static void *race_main(void *arg) {
    struct racer *x = arg;
    struct ropts o = { .auth = AUTH_GOOD, .base = x->base, .raw_body = x->body };
    struct resp r;

    pthread_barrier_wait(&barrier);
    req_x("PUT", "/api/v0/cluster/race/hosts", &o, &r);
    x->status = r.status;
    resp_done(&r);
    return NULL;
}

static void sc_cas_race(void) {
    const int rounds = 6;
    struct resp r;
    char addr[32], cur[2048] = "";
    int wins_total = 0;

    call("PUT", "/api/v0/cluster/race", "{}", 201, NULL);
    for (int i = 0; i < 2 * rounds; i++) {
        char *b = key_body(key1_b64, NULL);

        snprintf(addr, sizeof addr, "10.60.0.%d", i + 1);
        {
            char path[64];

            snprintf(path, sizeof path, "/api/v0/host/%s", addr);
            call("PUT", path, b, 201, NULL);
        }
        host_phase(addr, "active");
        free(b);
    }
    usleep(300000);
    for (int round = 0; round < rounds; round++) {
        char b1[9000], b2[9000], a1[32], a2[32];
        struct racer x1, x2;
        pthread_t t1, t2;

        snprintf(a1, sizeof a1, "10.60.0.%d", 2 * round + 1);
        snprintf(a2, sizeof a2, "10.60.0.%d", 2 * round + 2);
        snprintf(b1, sizeof b1, "{\"old\": [%s], \"new\": [%s%s\"%s\"]}", cur, cur, cur[0] ? ", " : "", a1);
        snprintf(b2, sizeof b2, "{\"old\": [%s], \"new\": [%s%s\"%s\"]}", cur, cur, cur[0] ? ", " : "", a2);
        x1 = (struct racer){ base_url, b1, 0 };
        x2 = (struct racer){ base_url2 ? base_url2 : base_url, b2, 0 };
        pthread_barrier_init(&barrier, NULL, 2);
        pthread_create(&t1, NULL, race_main, &x1);
        pthread_create(&t2, NULL, race_main, &x2);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        pthread_barrier_destroy(&barrier);
        CHECK((x1.status == 200 && x2.status == 409) || (x1.status == 409 && x2.status == 200),
              "round %d: statuses %ld and %ld (want one 200 and one 409)", round, x1.status,
              x2.status);
        wins_total += (x1.status == 200) + (x2.status == 200);
        /* The members are exactly the winner's list. */
        req("GET", "/api/v0/cluster/race/hosts", NULL, &r);
        EXPECT(r, 200, NULL);
        CHECK(json_array_size(r.json) == (size_t)round + 1, "round %d: %zu members: %s", round,
              json_array_size(r.json), r.body);
        {
            const char *winner = x1.status == 200 ? a1 : a2;
            int found = 0;
            size_t i;
            json_t *v;

            json_array_foreach(r.json, i, v) found |= !strcmp(json_string_value(v), winner);
            CHECK(found, "winner %s missing from %s", winner, r.body);
            size_t l = strlen(cur);
            snprintf(cur + l, sizeof cur - l, "%s\"%s\"", l ? ", " : "", winner);
        }
        resp_done(&r);
    }
    CHECK(wins_total == rounds, "%d wins in %d rounds", wins_total, rounds);
    call("DELETE", "/api/v0/cluster/race", "{}", 200, "[]");
    for (int i = 0; i < 2 * rounds; i++) {
        char path[64];

        snprintf(path, sizeof path, "/api/v0/host/10.60.0.%d", i + 1);
        call("DELETE", path, "{}", 200, "[]");
    }
}

/* A cluster managed by a kubernetes container manager: the host status carries the Node. */
static void sc_nodes(void) {
    struct resp r;
    char *b = key_body(key1_b64, "\"cluster\": \"kc\"");
    json_t *node = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "Node",
                             "metadata", "name", "10.70.0.1", "labels", "commissaire.io/cluster", "kc");
    struct kube_error e;
    int rc;

    call("PUT", "/api/v0/containermanager/k8s",
         "{\"type\": \"kubernetes\", \"options\": {\"server_url\": \"https://10.70.0.100:6443\"}}",
         201, NULL);
    call("PUT", "/api/v0/cluster/kc", "{\"container_manager\": \"k8s\"}", 201, NULL);
    call("PUT", "/api/v0/host/10.70.0.1", b, 201, NULL);
    free(b);
    kube_error_init(&e);
    rc = kube_create(kc, &KUBE_RES_NODES, NULL, node, NULL, NULL, &e);
    CHECK(rc == 0 || rc == -EEXIST, "node create: %s", e.message ?: "");
    kube_error_done(&e);
    json_decref(node);
    host_phase("10.70.0.1", "active");
    usleep(200000);
    for (int i = 0; i < 50; i++) {
        req("GET", "/api/v0/host/10.70.0.1/status", NULL, &r);
        if (json_object_size(json_object_get(r.json, "container_manager")) > 0 &&
            !strcmp(cm_json_get_str(r.json, "host.status") ?: "", "active"))
            break;
        resp_done(&r);
        usleep(100000);
    }
    EXPECT(r, 200, NULL);
    CHECK(!strcmp(cm_json_get_str(json_object_get(r.json, "container_manager"), "kind") ?: "",
                  "Node"),
          "container_manager is the Node: %s", r.body);
    CHECK(!strcmp(cm_json_get_str(r.json, "host.status") ?: "", "active"), "host.status");
    resp_done(&r);
    /* An active host of a managed cluster is available; the cluster is ok. */
    req("GET", "/api/v0/cluster/kc", NULL, &r);
    EXPECT(r, 200, NULL);
    CHECK(!strcmp(cm_json_get_str(r.json, "status") ?: "", "ok"), "cluster status %s", r.body);
    resp_done(&r);
    host_phase("10.70.0.1", "disassociated");
    usleep(300000);
    req("GET", "/api/v0/cluster/kc", NULL, &r);
    CHECK(!strcmp(cm_json_get_str(r.json, "status") ?: "", "failed"), "managed + disassociated: %s",
          r.body);
    resp_done(&r);
    kube_delete(kc, &KUBE_RES_NODES, NULL, "10.70.0.1", NULL, NULL, NULL);
    call("DELETE", "/api/v0/host/10.70.0.1", "{}", 200, "[]");
    call("DELETE", "/api/v0/cluster/kc", "{}", 200, "[]");
    call("DELETE", "/api/v0/containermanager/k8s", "{}", 200, "[]");
    wait_gone(&R_HOSTS, "10.70.0.1");
}

/* Reads right after writes see the writes (the cache must not serve a stale read). */
static void sc_read_your_writes(void) {
    char *b = key_body(key1_b64, NULL);
    struct resp r;

    for (int i = 0; i < 20; i++) {
        char path[64], exp[64];

        snprintf(path, sizeof path, "/api/v0/cluster/ryw%d", i);
        call("PUT", path, "{}", 201, NULL);
        call("GET", path, NULL, 200, NULL);
        snprintf(path, sizeof path, "/api/v0/host/10.80.0.%d", i + 1);
        call("PUT", path, b, 201, NULL);
        call("GET", path, NULL, 200, NULL);
        snprintf(exp, sizeof exp, "/api/v0/cluster/ryw%d", i);
        call("DELETE", exp, "{}", 200, "[]");
        call("GET", exp, NULL, 404, NULL);
        call("DELETE", path, "{}", 200, "[]");
        call("GET", path, NULL, 404, NULL);
    }
    req("GET", "/api/v0/hosts", NULL, &r);
    EXPECT(r, 200, "[]");
    resp_done(&r);
    free(b);
}

int main(int argc, char **argv) {
    struct kube_config *cfg = NULL;
    struct kube_error e;
    const char *sc = argc > 1 ? argv[1] : "all";

    base_url = getenv("SHIM_URL");
    base_url2 = getenv("SHIM_URL2");
    ns = getenv("SHIM_NS");
    user = getenv("SHIM_USER");
    pass = getenv("SHIM_PASS");
    if (!base_url || !ns || !user || !pass || !getenv("SHIM_KEY1") || !getenv("SHIM_KEY2")) {
        fprintf(stderr, "shim_itest: set SHIM_URL, SHIM_NS, SHIM_USER, SHIM_PASS, SHIM_KEY1/2\n");
        return 2;
    }
    key1_b64 = read_file_b64(getenv("SHIM_KEY1"));
    key2_b64 = read_file_b64(getenv("SHIM_KEY2"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    kube_error_init(&e);
    if (kube_config_load_default(NULL, NULL, &cfg, &e) < 0 || kube_client_new(cfg, NULL, &kc, &e) < 0) {
        fprintf(stderr, "shim_itest: API client: %s\n", e.message ?: "");
        return 2;
    }
#define RUN(name, fn)                                                                             \
    if (!strcmp(sc, "all") || !strcmp(sc, name)) {                                                 \
        int before = failures;                                                                     \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", failures == before ? "ok  " : "FAIL", name);                    \
    }
    RUN("commctl", sc_commctl);
    RUN("idempotent", sc_idempotent);
    RUN("errors", sc_errors);
    RUN("operations", sc_operations);
    RUN("peer", sc_peer);
    RUN("cas_race", sc_cas_race);
    RUN("nodes", sc_nodes);
    RUN("read_your_writes", sc_read_your_writes);
    kube_client_free(kc);
    kube_config_free(cfg);
    kube_error_done(&e);
    free(key1_b64);
    free(key2_b64);
    curl_global_cleanup();
    fprintf(stderr, "shim_itest: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
