/* commissaire-shim: wires the configuration, the API server client, the informer caches, the
 * authentication chain and the HTTP server together; all behaviour lives in the modules. */
#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cm_log.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_error.h"
#include "shim_api.h"
#include "shim_auth.h"
#include "shim_auth_kube.h"
#include "shim_config.h"
#include "shim_http.h"
#include "shim_metrics.h"
#include "shim_store.h"

/* From SIGTERM to exit at most this long: the HTTP server drains for 2 s, then workers finish
 * their one call and the informers stop; a call hanging beyond that must not keep a pod in
 * Terminating (or an operator waiting), so the process then exits without the rest. */
#define EXIT_GRACE_S 10

static sigset_t sigs;
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct shim_http *http; /* NULL once main is tearing it down */
    int done;               /* main finished cleaning up */
} stopper = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0 };

/* Signals are taken synchronously by one thread, which then asks the loop to stop: no work in a
 * signal handler, and the loop's own threads never see the signals. It then watches that the
 * shutdown stays bounded. */
static void *signal_main(void *arg) {
    struct timespec until;
    int sig = 0;

    (void)arg;
    sigwait(&sigs, &sig);
    pthread_mutex_lock(&stopper.mu);
    if (stopper.done) { /* main is finished and woke us to end */
        pthread_mutex_unlock(&stopper.mu);
        return NULL;
    }
    cm_log_kv(CM_LOG_INFO, "stopping", "signal", strsignal(sig), NULL);
    if (stopper.http)
        shim_http_stop(stopper.http);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += EXIT_GRACE_S;
    while (!stopper.done)
        if (pthread_cond_timedwait(&stopper.cv, &stopper.mu, &until) == ETIMEDOUT)
            break;
    if (!stopper.done) {
        cm_log_kv(CM_LOG_ERROR, "shutdown is taking too long; exiting without waiting for it",
                  NULL);
        _exit(1);
    }
    pthread_mutex_unlock(&stopper.mu);
    return NULL;
}

static int write_port_file(const char *path, int port) {
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0)
        return -errno;
    return rename(tmp, path) == 0 ? 0 : -errno;
}

int main(int argc, char **argv) {
    struct shim_config cfg;
    struct kube_config *kcfg = NULL;
    struct kube_client *client = NULL;
    struct kube_client_options kopts;
    struct kube_error kerr;
    struct shim_auth *auth = NULL;
    struct shim_store *store = NULL;
    struct shim_api *api = NULL;
    struct shim_metrics *metrics = NULL;
    struct shim_http *http = NULL;
    pthread_t sig_thread;
    char err[1024], warn[1024];
    enum cm_log_format lf = CM_LOG_FORMAT_TEXT;
    int rc, ret = 1, sig_started = 0;

    /* Every worker and informer thread would otherwise get a malloc arena of its own; the
     * shim's memory budget (32 MB with a thousand hosts) is better spent on the caches. */
    mallopt(M_ARENA_MAX, 2);
    rc = shim_config_load(argc, argv, stdout, &cfg, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "commissaire-shim: %s\n", err);
        return 2;
    }
    cm_log_format_parse(cfg.log_format, &lf);
    cm_log_set_format(lf);
    cm_log_set_level(cfg.debug ? CM_LOG_DEBUG : CM_LOG_INFO);
    for (size_t i = 0; i < cfg.n_warnings; i++)
        cm_log_kv(CM_LOG_WARN, "configuration", "detail", cfg.warnings[i], NULL);

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    kube_error_init(&kerr);

    rc = kube_config_load_default(cfg.kubeconfig, NULL, &kcfg, &kerr);
    if (rc < 0) {
        cm_log_kv(CM_LOG_ERROR, "cannot load the kubeconfig", "error",
                  kerr.message ? kerr.message : strerror(-rc), NULL);
        goto out;
    }
    kube_client_options_init(&kopts);
    /* REST writes fan out into several API calls; client-go's 5 qps would make the shim the
     * bottleneck. The API server's own priority and fairness still protects it. */
    kopts.qps = 200;
    kopts.burst = 400;
    kopts.user_agent = "commissaire-shim/0.1.0";
    rc = kube_client_new(kcfg, &kopts, &client, &kerr);
    if (rc < 0) {
        cm_log_kv(CM_LOG_ERROR, "cannot create the API client", "error",
                  kerr.message ? kerr.message : strerror(-rc), NULL);
        goto out;
    }
    rc = shim_auth_new(cfg.plugins, cfg.n_plugins, &shim_auth_kubernetes, 1, client, &auth, err,
                       sizeof err, warn, sizeof warn);
    if (rc < 0) {
        cm_log_kv(CM_LOG_ERROR, "authentication set-up failed", "error", err, NULL);
        goto out;
    }
    if (warn[0])
        cm_log_kv(CM_LOG_WARN, "authentication", "detail", warn, NULL);
    if (cfg.n_plugins == 0)
        cm_log_kv(CM_LOG_WARN, "No authentication plugins found. Denying all requests.", NULL);

    if (shim_store_new(client, cfg.namespace_, 1, &store) < 0 ||
        shim_api_new(client, store, cfg.namespace_, &api) < 0 || !(metrics = shim_metrics_new())) {
        cm_log_kv(CM_LOG_ERROR, "out of memory", NULL);
        goto out;
    }
    rc = shim_store_start(store, &kerr);
    if (rc < 0) {
        cm_log_kv(CM_LOG_ERROR, "cannot start the informers", "error",
                  kerr.message ? kerr.message : strerror(-rc), NULL);
        goto out;
    }
    {
        struct shim_http_deps d = {
            .cfg = &cfg, .auth = auth, .api = api, .store = store, .metrics = metrics,
            .client = client,
        };

        rc = shim_http_new(&d, &http, err, sizeof err);
        if (rc < 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot start the HTTP server", "error", err, NULL);
            goto out;
        }
    }
    stopper.http = http;
    if (pthread_create(&sig_thread, NULL, signal_main, NULL) != 0)
        goto out;
    sig_started = 1;
    {
        char port[16];

        snprintf(port, sizeof port, "%d", shim_http_port(http));
        cm_log_kv(CM_LOG_INFO, "listening", "interface", cfg.listen_interface, "port", port, "tls",
                  cfg.tls_pemfile ? "on" : "off", "namespace", cfg.namespace_, "server",
                  kube_client_server(client), NULL);
        if (cfg.port_file && write_port_file(cfg.port_file, shim_http_port(http)) < 0)
            cm_log_kv(CM_LOG_WARN, "cannot write the port file", "path", cfg.port_file, NULL);
    }
    shim_http_run(http);
    cm_log_kv(CM_LOG_DEBUG, "stopped serving", NULL);
    ret = 0;
out:
    /* The signal thread keeps watching the clock while everything below is torn down. */
    pthread_mutex_lock(&stopper.mu);
    stopper.http = NULL;
    pthread_mutex_unlock(&stopper.mu);
    shim_http_free(http);
    if (sig_started)
        cm_log_kv(CM_LOG_DEBUG, "HTTP server closed", NULL);
    shim_store_free(store);
    if (sig_started)
        cm_log_kv(CM_LOG_DEBUG, "informers stopped", NULL);
    shim_api_free(api);
    shim_metrics_free(metrics);
    shim_auth_free(auth);
    kube_client_free(client);
    kube_config_free(kcfg);
    kube_error_done(&kerr);
    shim_config_done(&cfg);
    curl_global_cleanup();
    if (sig_started) {
        pthread_mutex_lock(&stopper.mu);
        stopper.done = 1;
        pthread_cond_broadcast(&stopper.cv);
        pthread_mutex_unlock(&stopper.mu);
        pthread_kill(sig_thread, SIGTERM); /* ends its sigwait() if no signal came */
        pthread_join(sig_thread, NULL);
        cm_log_kv(CM_LOG_DEBUG, "exiting", NULL);
    }
    return ret;
}
