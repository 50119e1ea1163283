/* kube-lite: a Kubernetes API server subset for the local stack and tests. This file only wires
 * the modules together: options, storage replay, TLS, listeners, the background thread, the
 * kubeconfig, and a clean stop on SIGTERM/SIGINT. */
#include "cm_json.h"
#include "cm_log.h"
#include "kl_auth.h"
#include "kl_fault.h"
#include "kl_http.h"
#include "kl_persist.h"
#include "kl_server.h"
#include "kl_tls.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct options {
    const char *listen;
    const char *admin_listen;
    const char *kubeconfig_out;
    const char *admin_url_out;
    const char *token_file;
    const char *data_dir;
    const char *cert_dir;
    int http;
    long history;
    long bookmark_interval_s;
    long max_watch_s;
    const char *audit_log;
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: kube-lite [--listen ADDR:PORT] [--kubeconfig-out PATH]\n"
            "                 [--admin-listen ADDR:PORT] [--admin-url-out PATH]\n"
            "                 [--token-file CSV] [--data-dir DIR] [--cert-dir DIR] [--http]\n"
            "                 [--history N] [--bookmark-interval SECONDS]\n"
            "                 [--max-watch-seconds N] [--log-level LEVEL] [--log-format text|json]\n"
            "                 [--audit-log PATH]\n");
}

/* Writes content to path atomically (tmp + rename), mode 0600. */
static int write_file(const char *path, const char *content) {
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
        return -ENOMEM;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int e = errno;
        free(tmp);
        return -e;
    }
    fchmod(fileno(f), 0600);
    int ok = fputs(content, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        free(tmp);
        return -EIO;
    }
    free(tmp);
    return 0;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&buf, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int write_kubeconfig(const char *path, const char *url, const char *ca_file,
                            const char *token) {
    char *ca_b64 = NULL;
    if (ca_file) {
        char *pem = read_file(ca_file);
        if (!pem)
            return -errno;
        size_t n = strlen(pem);
        ca_b64 = malloc(4 * ((n + 2) / 3) + 1);
        if (ca_b64)
            EVP_EncodeBlock((unsigned char *)ca_b64, (const unsigned char *)pem, (int)n);
        free(pem);
        if (!ca_b64)
            return -ENOMEM;
    }
    char *doc = NULL;
    int n = asprintf(&doc,
                     "apiVersion: v1\n"
                     "kind: Config\n"
                     "clusters:\n"
                     "- name: kube-lite\n"
                     "  cluster:\n"
                     "    server: %s\n"
                     "%s%s%s"
                     "contexts:\n"
                     "- name: kube-lite\n"
                     "  context:\n"
                     "    cluster: kube-lite\n"
                     "    user: kube-lite-admin\n"
                     "    namespace: default\n"
                     "current-context: kube-lite\n"
                     "users:\n"
                     "- name: kube-lite-admin\n"
                     "  user:\n"
                     "    token: %s\n",
                     url, ca_b64 ? "    certificate-authority-data: " : "", ca_b64 ? ca_b64 : "",
                     ca_b64 ? "\n" : "", token);
    free(ca_b64);
    if (n < 0)
        return -ENOMEM;
    int r = write_file(path, doc);
    free(doc);
    return r;
}

/* Creates a namespace at start when missing (default, kube-system, ...). */
static int ensure_namespace(struct kl_server *srv, const char *name) {
    struct kl_store *s = &srv->store;
    struct kl_rtype *rt = kl_store_find_type(s, "", "namespaces");
    if (!rt || kl_store_get(rt, "", name))
        return 0;
    char uid[64], now[64];
    json_t *doc = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:{s:s}},s:{s:[s]},s:{s:s}}", "apiVersion",
                            "v1", "kind", "Namespace", "metadata", "name", name, "uid",
                            kl_uuid(uid, sizeof(uid)), "creationTimestamp",
                            kl_now(now, sizeof(now)), "labels", "kubernetes.io/metadata.name",
                            name, "spec", "finalizers", "kubernetes", "status", "phase", "Active");
    if (!doc)
        return -ENOMEM;
    int r = kl_store_put(s, rt, doc, NULL);
    json_decref(doc);
    return r;
}

static char *host_of(const char *addr) {
    const char *colon = strrchr(addr, ':');
    char *h = strndup(addr, colon ? (size_t)(colon - addr) : strlen(addr));
    if (h && h[0] == '[') {
        size_t n = strlen(h);
        memmove(h, h + 1, n);
        char *rb = strchr(h, ']');
        if (rb)
            *rb = 0;
    }
    return h;
}

int main(int argc, char **argv) {
    struct options opt = {.listen = "127.0.0.1:6443", .history = 10000, .bookmark_interval_s = 10,
                          .max_watch_s = 1800};
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"admin-listen", required_argument, NULL, 'a'},
        {"kubeconfig-out", required_argument, NULL, 'k'},
        {"admin-url-out", required_argument, NULL, 'A'},
        {"token-file", required_argument, NULL, 't'},
        {"data-dir", required_argument, NULL, 'd'},
        {"cert-dir", required_argument, NULL, 'c'},
        {"http", no_argument, NULL, 'H'},
        {"history", required_argument, NULL, 'y'},
        {"bookmark-interval", required_argument, NULL, 'b'},
        {"max-watch-seconds", required_argument, NULL, 'w'},
        {"log-level", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'F'},
        {"audit-log", required_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': opt.listen = optarg; break;
        case 'a': opt.admin_listen = optarg; break;
        case 'k': opt.kubeconfig_out = optarg; break;
        case 'A': opt.admin_url_out = optarg; break;
        case 't': opt.token_file = optarg; break;
        case 'd': opt.data_dir = optarg; break;
        case 'c': opt.cert_dir = optarg; break;
        case 'H': opt.http = 1; break;
        case 'U': opt.audit_log = optarg; break;
        case 'y': opt.history = strtol(optarg, NULL, 10); break;
        case 'b': opt.bookmark_interval_s = strtol(optarg, NULL, 10); break;
        case 'w': opt.max_watch_s = strtol(optarg, NULL, 10); break;
        case 'L': {
            enum cm_log_level lvl;
            if (cm_log_level_parse(optarg, &lvl) < 0) {
                usage(stderr);
                return 2;
            }
            cm_log_set_level(lvl);
            break;
        }
        case 'F': {
            enum cm_log_format fmt;
            if (cm_log_format_parse(optarg, &fmt) < 0) {
                usage(stderr);
                return 2;
            }
            cm_log_set_format(fmt);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || opt.history < 16 || opt.bookmark_interval_s < 1 || opt.max_watch_s < 1) {
        usage(stderr);
        return 2;
    }

    /* Signals are taken by sigwait() in main; every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1, r;
    struct kl_server srv = {0};
    struct kl_http_server *api = NULL, *admin = NULL;
    SSL_CTX *ssl = NULL;
    char *cert_dir = NULL, *url = NULL, *host = NULL;
    srv.bookmark_interval_ms = (int)opt.bookmark_interval_s * 1000;
    srv.max_watch_s = (int)opt.max_watch_s;
    srv.insecure = opt.http;

    if (kl_store_init(&srv.store, (size_t)opt.history) < 0 || kl_builtin_register(&srv.store) < 0 ||
        kl_fault_new(&srv.fault) < 0) {
        cm_error("out of memory");
        goto out;
    }
    if (opt.token_file) {
        int line = 0;
        r = kl_auth_load(opt.token_file, &srv.auth, &line);
        if (r < 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot load token file", "path", opt.token_file, "error",
                      r == -EINVAL ? "malformed line or no tokens" : strerror(-r), NULL);
            goto out;
        }
    } else if (kl_auth_generate(&srv.auth) < 0) {
        cm_error("cannot generate a token");
        goto out;
    }

    if (opt.audit_log) {
        /* Appended, a line per resource request, flushed at each line: tests read it while
         * kube-lite runs. */
        srv.audit = fopen(opt.audit_log, "ae");
        if (!srv.audit) {
            cm_log_kv(CM_LOG_ERROR, "cannot open audit log", "path", opt.audit_log, "error",
                      strerror(errno), NULL);
            goto out;
        }
        setvbuf(srv.audit, NULL, _IOLBF, 0);
        pthread_mutex_init(&srv.audit_mu, NULL);
    }

    if (opt.data_dir) {
        r = kl_persist_open(opt.data_dir, &srv.store.persist);
        if (r < 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot open data dir", "path", opt.data_dir, "error",
                      strerror(-r), NULL);
            goto out;
        }
        struct kl_persist *p = srv.store.persist;
        srv.store.persist = NULL; /* replay must not log again */
        r = kl_persist_replay(p, kl_api_replay_cb, &srv);
        srv.store.persist = p;
        if (r < 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot replay data dir", "path", opt.data_dir, "error",
                      strerror(-r), NULL);
            goto out;
        }
    }
    for (const char *const *ns = (const char *const[]){"default", "kube-system", "kube-public",
                                                       "kube-node-lease", NULL};
         *ns; ns++) {
        if (ensure_namespace(&srv, *ns) < 0) {
            cm_error("cannot create the initial namespaces");
            goto out;
        }
    }
    /* Watches can resume from now on, not from before the start. */
    kl_store_drop_history(&srv.store);
    if (srv.store.persist && kl_api_compact(&srv, 0) < 0) {
        cm_error("cannot write the snapshot");
        goto out;
    }

    host = host_of(opt.listen);
    if (!opt.http) {
        if (opt.cert_dir) {
            cert_dir = strdup(opt.cert_dir);
        } else if (opt.data_dir) {
            if (asprintf(&cert_dir, "%s/pki", opt.data_dir) < 0)
                cert_dir = NULL;
        } else if (opt.kubeconfig_out) {
            char *copy = strdup(opt.kubeconfig_out);
            if (copy && asprintf(&cert_dir, "%s/pki", dirname(copy)) < 0)
                cert_dir = NULL;
            free(copy);
        } else {
            cert_dir = strdup("kube-lite-pki");
        }
        r = cert_dir ? kl_tls_setup(cert_dir, host, &ssl) : -ENOMEM;
        if (r < 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot set up TLS", "dir", cert_dir ? cert_dir : "", "error",
                      strerror(-r), NULL);
            goto out;
        }
    }
    r = kl_http_server_new(opt.listen, ssl, kl_api_handle, &srv, &api);
    if (r < 0) {
        cm_log_kv(CM_LOG_ERROR, "cannot listen", "address", opt.listen, "error", strerror(-r), NULL);
        goto out;
    }
    int port = kl_http_server_port(api);
    const char *url_host = (!strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !*host) ? "127.0.0.1" : host;
    if (asprintf(&url, "%s://%s%s%s:%d", opt.http ? "http" : "https", strchr(url_host, ':') ? "[" : "",
                 url_host, strchr(url_host, ':') ? "]" : "", port) < 0) {
        url = NULL;
        goto out;
    }
    srv.external_url = strdup(url + (opt.http ? 7 : 8));
    if (opt.admin_listen) {
        r = kl_http_server_new(opt.admin_listen, NULL, kl_admin_handle, &srv, &admin);
        if (r < 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot listen", "address", opt.admin_listen, "error",
                      strerror(-r), NULL);
            goto out;
        }
    }
    if (kl_gc_start(&srv) < 0 || kl_http_server_start(api) < 0 ||
        (admin && kl_http_server_start(admin) < 0)) {
        cm_error("cannot start threads");
        goto out;
    }
    if (admin && opt.admin_url_out) {
        char *aurl = NULL;
        char *ah = host_of(opt.admin_listen);
        if (ah && asprintf(&aurl, "http://%s:%d\n", (!*ah || !strcmp(ah, "0.0.0.0")) ? "127.0.0.1" : ah,
                           kl_http_server_port(admin)) >= 0) {
            write_file(opt.admin_url_out, aurl);
            free(aurl);
        }
        free(ah);
    }
    if (opt.kubeconfig_out) {
        char *ca = NULL;
        if (!opt.http && asprintf(&ca, "%s/ca.crt", cert_dir) < 0)
            ca = NULL;
        r = write_kubeconfig(opt.kubeconfig_out, url, ca,
                             kl_auth_first(srv.auth)->token);
        free(ca);
        if (r < 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot write kubeconfig", "path", opt.kubeconfig_out, "error",
                      strerror(-r), NULL);
            goto out;
        }
    }
    cm_log_kv(CM_LOG_INFO, "kube-lite serving", "url", url, "data_dir",
              opt.data_dir ? opt.data_dir : "(memory)", NULL);

    int sig = 0;
    sigwait(&sigs, &sig);
    cm_log_kv(CM_LOG_INFO, "kube-lite stopping", "signal", sig == SIGTERM ? "TERM" : "INT", NULL);
    rc = 0;
out:
    kl_store_close_watches(&srv.store, 1);
    kl_http_server_free(admin);
    kl_http_server_free(api);
    kl_gc_stop(&srv);
    if (srv.store.persist)
        kl_persist_sync(srv.store.persist, (uint64_t)-1);
    kl_persist_free(srv.store.persist);
    srv.store.persist = NULL;
    if (srv.store.hist)
        kl_store_done(&srv.store);
    kl_crd_cleanup();
    kl_builtin_done();
    kl_auth_free(srv.auth);
    if (srv.audit) {
        fclose(srv.audit);
        pthread_mutex_destroy(&srv.audit_mu);
    }
    kl_fault_free(srv.fault);
    SSL_CTX_free(ssl);
    free(srv.external_url);
    free(cert_dir);
    free(url);
    free(host);
    return rc;
}
