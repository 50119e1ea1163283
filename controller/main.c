/* commissaire-controller: wires the pieces together. Everything with behaviour lives in the
 * libraries (reconcile, kube, sshc, hostos); this file parses flags, builds the shared services,
 * registers the controllers, runs leader election and handles signals.
 *
 * Shutdown (SIGTERM/SIGINT): stop leading (the lease is released so a standby takes over at
 * once), let workers finish the key in hand, flush Events, stop informers, exit 0. A SIGKILL
 * at any moment is safe as well: every decision is re-derived from the objects' status. */
#include "cluster_controller.h"
#include "cm_backoff.h"
#include "cm_buf.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_time.h"
#include "host_controller.h"
#include "op_controller.h"
#include "hostos.h"
#include "kube_client.h"
#include "kube_config.h"
#include "kube_error.h"
#include "kube_events.h"
#include "kube_leader.h"
#include "rc_controller.h"
#include "rc_duration.h"
#include "rc_httpd.h"
#include "rc_manager.h"
#include "rc_metrics.h"
#include "sshc_pool.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#ifndef COMMISSAIRE_VERSION
#define COMMISSAIRE_VERSION "0.0.0"
#endif

struct options {
    const char *kubeconfig;
    const char *context;
    const char *ns;
    bool all_namespaces;
    unsigned workers;
    unsigned cluster_workers;
    double qps;
    int burst;
    bool leader_elect;
    int64_t lease_duration_ms, renew_deadline_ms, retry_period_ms;
    const char *leader_elect_id;
    const char *leader_elect_namespace;
    const char *metrics_addr;
    const char *log_level;
    const char *log_format;
    const char *profiles_dir;
    const char *builtin_profiles_dir;
    const char *profiles_configmap;
    unsigned max_ssh_sessions;
    int64_t ssh_idle_ms;
    int64_t host_check_interval_ms;
    int64_t host_retry_interval_ms;
    int64_t node_poll_ms;
    int64_t decommission_timeout_ms;
    int64_t ssh_connect_timeout_ms;
    int64_t ssh_command_timeout_ms;
    int64_t resync_ms;
    int64_t step_budget_ms;
};

static void usage(FILE *f) {
    fprintf(f,
"Usage: commissaire-controller [options]\n"
"\n"
"Runs commissaire's controllers: investigates, bootstraps and watches Hosts over SSH, registers\n"
"them as nodes of their Cluster's container manager, keeps Cluster status up to date.\n"
"\n"
"Kubernetes API:\n"
"  --kubeconfig PATH            kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
"  --context NAME               kubeconfig context (default: the current context)\n"
"  --namespace NS               namespace to watch (default: commissaire)\n"
"  --all-namespaces             watch every namespace (the default Network and the lease still\n"
"                               live in --namespace)\n"
"  --qps N                      sustained API requests per second (default 50)\n"
"  --burst N                    API request burst (default 100)\n"
"\n"
"Work:\n"
"  --workers N                  Host reconcile workers (default 16)\n"
"  --cluster-workers N          Cluster reconcile workers (default 2)\n"
"  --host-check-interval DUR    re-check of every active host, jittered +/-10%% (default 60s)\n"
"  --host-retry-interval DUR    re-investigation of failed hosts (default: the check interval)\n"
"  --node-poll-interval DUR     re-visit while waiting for a node to be Ready (default 2s)\n"
"  --decommission-timeout DUR   how long a deleted host may wait for drain/teardown before\n"
"                               they are skipped with a Warning Event (default 5m)\n"
"  --resync DUR                 informer resync period, 0 to disable (default 10m)\n"
"  --bootstrap-step-budget DUR  bootstrap time per reconcile pass after which the host is\n"
"                               requeued between its two scripts, 0: none (default 0; a pass\n"
"                               runs at most two scripts, and finishing hosts beats sharing)\n"
"\n"
"SSH:\n"
"  --max-ssh-sessions N         concurrent SSH sessions, in use or idle (default 32)\n"
"  --ssh-connect-timeout DUR    TCP connect + handshake + authentication (default 10s)\n"
"  --ssh-command-timeout DUR    one remote command (default 10m)\n"
"  --ssh-idle DUR               keep idle sessions for reuse this long, 0 to disable (default 30s)\n"
"\n"
"OS profiles:\n"
"  --profiles-dir DIR           directory of profile YAML files overriding the built-in ones\n"
"                               (alias --os-profiles-dir)\n"
"  --profiles-configmap NAME    ConfigMap in --namespace whose data keys are profile files\n"
"  --builtin-profiles-dir DIR   the shipped profiles (default: the installed data directory,\n"
"                               or the source tree's when not installed)\n"
"\n"
"Leader election:\n"
"  --leader-elect               only the holder of the Lease acts (run several replicas)\n"
"  --leader-elect-id NAME       Lease name (default commissaire-controller)\n"
"  --leader-elect-namespace NS  Lease namespace (default: --namespace)\n"
"  --leader-elect-lease-duration DUR   (default 15s)\n"
"  --leader-elect-renew-deadline DUR   (default 10s)\n"
"  --leader-elect-retry-period DUR     (default 2s)\n"
"\n"
"Observability:\n"
"  --metrics-addr ADDR          serve /metrics, /healthz, /readyz on ADDR (host:port, :port;\n"
"                               port 0 picks one, logged at start; \"off\" disables) (default :8080)\n"
"  --log-level LEVEL            debug, info, warn, error (default info)\n"
"  --log-format FORMAT          text (key=value) or json (default text)\n"
"\n"
"  -h, --help                   this text\n"
"  --version                    print the version\n"
"\n"
"Durations are like 90s, 5m, 1h30m, 250ms. SIGTERM/SIGINT stop gracefully (the lease is\n"
"released). Secrets (SSH keys, tokens) are held in memory only and never logged.\n");
}

enum {
    OPT_KUBECONFIG = 1000, OPT_CONTEXT, OPT_NAMESPACE, OPT_ALL_NS, OPT_WORKERS, OPT_CWORKERS,
    OPT_QPS, OPT_BURST, OPT_LE, OPT_LE_DUR, OPT_LE_RENEW, OPT_LE_RETRY, OPT_LE_ID, OPT_LE_NS,
    OPT_METRICS, OPT_LOG_LEVEL, OPT_LOG_FORMAT, OPT_PROFILES_DIR, OPT_PROFILES_CM, OPT_MAX_SSH,
    OPT_CHECK, OPT_RETRY, OPT_NODE_POLL, OPT_DECOM, OPT_SSH_CONNECT, OPT_SSH_COMMAND, OPT_SSH_IDLE,
    OPT_RESYNC, OPT_STEP_BUDGET, OPT_VERSION, OPT_BUILTIN_PROFILES,
};

static const struct option long_opts[] = {
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"all-namespaces", no_argument, NULL, OPT_ALL_NS},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"cluster-workers", required_argument, NULL, OPT_CWORKERS},
    {"qps", required_argument, NULL, OPT_QPS},
    {"burst", required_argument, NULL, OPT_BURST},
    {"leader-elect", no_argument, NULL, OPT_LE},
    {"leader-elect-lease-duration", required_argument, NULL, OPT_LE_DUR},
    {"leader-elect-renew-deadline", required_argument, NULL, OPT_LE_RENEW},
    {"leader-elect-retry-period", required_argument, NULL, OPT_LE_RETRY},
    {"leader-elect-id", required_argument, NULL, OPT_LE_ID},
    {"leader-elect-namespace", required_argument, NULL, OPT_LE_NS},
    {"metrics-addr", required_argument, NULL, OPT_METRICS},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"profiles-dir", required_argument, NULL, OPT_PROFILES_DIR},
    {"os-profiles-dir", required_argument, NULL, OPT_PROFILES_DIR},
    {"profiles-configmap", required_argument, NULL, OPT_PROFILES_CM},
    {"builtin-profiles-dir", required_argument, NULL, OPT_BUILTIN_PROFILES},
    {"max-ssh-sessions", required_argument, NULL, OPT_MAX_SSH},
    {"host-check-interval", required_argument, NULL, OPT_CHECK},
    {"host-retry-interval", required_argument, NULL, OPT_RETRY},
    {"node-poll-interval", required_argument, NULL, OPT_NODE_POLL},
    {"decommission-timeout", required_argument, NULL, OPT_DECOM},
    {"ssh-connect-timeout", required_argument, NULL, OPT_SSH_CONNECT},
    {"ssh-command-timeout", required_argument, NULL, OPT_SSH_COMMAND},
    {"ssh-idle", required_argument, NULL, OPT_SSH_IDLE},
    {"resync", required_argument, NULL, OPT_RESYNC},
    {"bootstrap-step-budget", required_argument, NULL, OPT_STEP_BUDGET},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int parse_uint(const char *flag, const char *s, unsigned min, unsigned max,
                      unsigned *ret) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max || *s == '-') {
        fprintf(stderr, "commissaire-controller: --%s: expected an integer in %u..%u, got \"%s\"\n",
                flag, min, max, s);
        return -EINVAL;
    }
    *ret = (unsigned)v;
    return 0;
}

static int parse_dur(const char *flag, const char *s, int64_t min_ms, int64_t *ret) {
    int64_t ms;
    if (rc_duration_parse(s, &ms) < 0 || ms < min_ms) {
        fprintf(stderr,
                "commissaire-controller: --%s: expected a duration like 30s, 5m, 1h30m "
                "(at least %lldms), got \"%s\"\n",
                flag, (long long)min_ms, s);
        return -EINVAL;
    }
    *ret = ms;
    return 0;
}

/* Returns 0 to run, 1 to exit 0 (help/version), -EINVAL to exit 2. */
static int parse_options(int argc, char **argv, struct options *o) {
    *o = (struct options){
        .ns = "commissaire",
        .workers = 16,
        .cluster_workers = 2,
        .qps = 50,
        .burst = 100,
        .lease_duration_ms = 15000,
        .renew_deadline_ms = 10000,
        .retry_period_ms = 2000,
        .leader_elect_id = "commissaire-controller",
        .metrics_addr = ":8080",
        .log_level = "info",
        .log_format = "text",
        .max_ssh_sessions = 32,
        .ssh_idle_ms = 30000,
        .host_check_interval_ms = 60000,
        .host_retry_interval_ms = -1,
        .node_poll_ms = 2000,
        .decommission_timeout_ms = 300000,
        .ssh_connect_timeout_ms = 10000,
        .ssh_command_timeout_ms = 600000,
        .resync_ms = 600000,
        .step_budget_ms = 0,
    };
    int c, r = 0;
    unsigned u;
    opterr = 0;
    while (r == 0 && (c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        const char *name = NULL;
        for (const struct option *lo = long_opts; lo->name; lo++)
            if (lo->val == c) {
                name = lo->name;
                break;
            }
        switch (c) {
        case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
        case OPT_CONTEXT: o->context = optarg; break;
        case OPT_NAMESPACE:
            if (!*optarg) {
                fprintf(stderr, "commissaire-controller: --namespace must not be empty\n");
                r = -EINVAL;
            }
            o->ns = optarg;
            break;
        case OPT_ALL_NS: o->all_namespaces = true; break;
        case OPT_WORKERS: r = parse_uint(name, optarg, 1, 1024, &o->workers); break;
        case OPT_CWORKERS: r = parse_uint(name, optarg, 1, 64, &o->cluster_workers); break;
        case OPT_QPS: {
            char *end;
            o->qps = strtod(optarg, &end);
            if (end == optarg || *end || o->qps < 0) {
                fprintf(stderr, "commissaire-controller: --qps: expected a number >= 0\n");
                r = -EINVAL;
            }
            break;
        }
        case OPT_BURST:
            r = parse_uint(name, optarg, 1, 100000, &u);
            o->burst = (int)u;
            break;
        case OPT_LE: o->leader_elect = true; break;
        case OPT_LE_DUR: r = parse_dur(name, optarg, 1000, &o->lease_duration_ms); break;
        case OPT_LE_RENEW: r = parse_dur(name, optarg, 500, &o->renew_deadline_ms); break;
        case OPT_LE_RETRY: r = parse_dur(name, optarg, 100, &o->retry_period_ms); break;
        case OPT_LE_ID: o->leader_elect_id = optarg; break;
        case OPT_LE_NS: o->leader_elect_namespace = optarg; break;
        case OPT_METRICS: o->metrics_addr = optarg; break;
        case OPT_LOG_LEVEL: o->log_level = optarg; break;
        case OPT_LOG_FORMAT: o->log_format = optarg; break;
        case OPT_PROFILES_DIR: o->profiles_dir = optarg; break;
        case OPT_PROFILES_CM: o->profiles_configmap = optarg; break;
        case OPT_BUILTIN_PROFILES: o->builtin_profiles_dir = optarg; break;
        case OPT_MAX_SSH: r = parse_uint(name, optarg, 1, 4096, &o->max_ssh_sessions); break;
        case OPT_CHECK: r = parse_dur(name, optarg, 100, &o->host_check_interval_ms); break;
        case OPT_RETRY: r = parse_dur(name, optarg, 100, &o->host_retry_interval_ms); break;
        case OPT_NODE_POLL: r = parse_dur(name, optarg, 50, &o->node_poll_ms); break;
        case OPT_DECOM: r = parse_dur(name, optarg, 0, &o->decommission_timeout_ms); break;
        case OPT_SSH_CONNECT: r = parse_dur(name, optarg, 100, &o->ssh_connect_timeout_ms); break;
        case OPT_SSH_COMMAND: r = parse_dur(name, optarg, 100, &o->ssh_command_timeout_ms); break;
        case OPT_SSH_IDLE: r = parse_dur(name, optarg, 0, &o->ssh_idle_ms); break;
        case OPT_RESYNC: r = parse_dur(name, optarg, 0, &o->resync_ms); break;
        case OPT_STEP_BUDGET: r = parse_dur(name, optarg, 0, &o->step_budget_ms); break;
        case 'h': usage(stdout); return 1;
        case OPT_VERSION: printf("commissaire-controller %s\n", COMMISSAIRE_VERSION); return 1;
        default:
            fprintf(stderr, "commissaire-controller: unknown or incomplete option \"%s\"\n",
                    argv[optind - 1]);
            fprintf(stderr, "Try --help.\n");
            return -EINVAL;
        }
    }
    if (r < 0)
        return r;
    if (optind < argc) {
        fprintf(stderr, "commissaire-controller: unexpected argument \"%s\"\n", argv[optind]);
        return -EINVAL;
    }
    if (o->ssh_connect_timeout_ms > INT_MAX || o->ssh_command_timeout_ms > INT_MAX) {
        fprintf(stderr, "commissaire-controller: SSH timeouts must be below 24 days\n");
        return -EINVAL;
    }
    if (o->host_retry_interval_ms < 0)
        o->host_retry_interval_ms = o->host_check_interval_ms;
    enum cm_log_level lvl;
    enum cm_log_format fmt;
    if (cm_log_level_parse(o->log_level, &lvl) < 0) {
        fprintf(stderr, "commissaire-controller: --log-level: debug, info, warn or error\n");
        return -EINVAL;
    }
    if (cm_log_format_parse(o->log_format, &fmt) < 0) {
        fprintf(stderr, "commissaire-controller: --log-format: text or json\n");
        return -EINVAL;
    }
    cm_log_set_level(lvl);
    cm_log_set_format(fmt);
    return 0;
}

/* ---- process state shared with the HTTP thread and the leader callbacks ---- */

static struct rc_metrics *metrics;
static struct rc_manager *manager;
static atomic_int want_leading;     /* set by the elector's callbacks, applied by main loop */
static atomic_llong last_tick_ms;   /* main loop heartbeat for /healthz */
static struct rc_metric *m_leader;

static int http_handler(const char *path, struct cm_buf *body, const char **ret_content_type,
                        void *userdata) {
    if (!strcmp(path, "/metrics")) {
        *ret_content_type = "text/plain; version=0.0.4; charset=utf-8";
        if (rc_metrics_render(metrics, body) < 0) {
            cm_buf_reset(body);
            cm_buf_puts(body, "metrics too large\n");
            return 500;
        }
        return 200;
    }
    if (!strcmp(path, "/healthz") || !strcmp(path, "/livez")) {
        /* Alive when the main loop turned recently: it never blocks on I/O. */
        if (cm_time_mono_ms() - atomic_load(&last_tick_ms) > 30000) {
            cm_buf_puts(body, "main loop stalled\n");
            return 503;
        }
        cm_buf_puts(body, "ok\n");
        return 200;
    }
    if (!strcmp(path, "/readyz")) {
        if (!manager || !rc_manager_synced(manager)) {
            cm_buf_puts(body, "caches not synced\n");
            return 503;
        }
        cm_buf_puts(body, "ok\n");
        return 200;
    }
    cm_buf_puts(body, "not found\n");
    return 404;
}

static void started_leading(void *userdata) {
    cm_log_kv(CM_LOG_INFO, "became leader", NULL);
    atomic_store(&want_leading, 1);
}

static void stopped_leading(void *userdata) {
    cm_log_kv(CM_LOG_WARN, "stopped leading", NULL);
    atomic_store(&want_leading, 0);
}

static void new_leader(const char *identity, void *userdata) {
    cm_log_kv(CM_LOG_INFO, "leader observed", "identity", identity, NULL);
}

struct api_collect {
    struct kube_client *client;
    struct rc_metric *requests;
    struct sshc_pool *pool;
    struct rc_metric *sessions;
};

static void collect_api(struct rc_metrics *m, void *userdata) {
    struct api_collect *a = userdata;
    struct kube_request_stat *st = NULL;
    size_t n = 0;
    if (kube_client_stats(a->client, &st, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            char code[16];
            snprintf(code, sizeof code, "%d", st[i].code);
            rc_metric_set(a->requests, st[i].verb, code, (double)st[i].count);
        }
        free(st);
    }
    struct sshc_pool_stats ps;
    sshc_pool_stats(a->pool, &ps);
    rc_metric_set(a->sessions, "in_use", NULL, ps.in_use);
    rc_metric_set(a->sessions, "idle", NULL, ps.idle);
}

/* Creates the `default` Network (flannel_etcd) unless it exists (decisions #35). Retries with
 * backoff until it worked or a signal asks to stop: nothing useful happens without the API. */
static int ensure_default_network(struct kube_client *c, const char *ns, sigset_t *sigs) {
    for (unsigned attempt = 0;; attempt++) {
        atomic_store(&last_tick_ms, cm_time_mono_ms()); /* waiting on the API is not a hang */
        struct kube_error err;
        kube_error_init(&err);
        int r = kube_get(c, &RC_RES_NETWORKS, ns, "default", NULL, NULL, &err);
        if (r == -ENOENT) {
            kube_error_done(&err);
            json_t *body = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:{}}}", "apiVersion",
                                     "commissaire.io/v1alpha1", "kind", "Network", "metadata",
                                     "name", "default", "namespace", ns, "spec", "type",
                                     "flannel_etcd", "options");
            r = body ? kube_create(c, &RC_RES_NETWORKS, ns, body, NULL, NULL, &err) : -ENOMEM;
            json_decref(body);
            if (r == 0)
                cm_log_kv(CM_LOG_INFO, "created the default Network", "namespace", ns, "type",
                          "flannel_etcd", NULL);
            if (r == -EEXIST)
                r = 0;
        }
        if (r == 0) {
            kube_error_done(&err);
            return 0;
        }
        int64_t delay = cm_backoff_jitter_ms(cm_backoff_delay_ms(500, 10000, attempt), 10000,
                                             0.2, cm_backoff_rand());
        char d[32];
        snprintf(d, sizeof d, "%lld", (long long)delay);
        cm_log_kv(CM_LOG_WARN, "cannot ensure the default Network; retrying", "namespace", ns,
                  "error", err.message ? err.message : "", "retry_ms", d, NULL);
        kube_error_done(&err);
        struct timespec ts = {delay / 1000, (delay % 1000) * 1000000};
        if (sigtimedwait(sigs, NULL, &ts) > 0)
            return -EINTR;
    }
}

static char *leader_identity(void) {
    char host[256] = "";
    const char *pod = getenv("POD_NAME");
    if (!pod || !*pod) {
        gethostname(host, sizeof host - 1);
        pod = host;
    }
    unsigned char rnd[4] = {0};
    if (getrandom(rnd, sizeof rnd, 0) < 0)
        memset(rnd, 0, sizeof rnd);
    char *id = NULL;
    if (asprintf(&id, "%s_%02x%02x%02x%02x", pod, rnd[0], rnd[1], rnd[2], rnd[3]) < 0)
        return NULL;
    return id;
}

int main(int argc, char **argv) {
    struct options o;
    int r = parse_options(argc, argv, &o);
    if (r)
        return r > 0 ? 0 : 2;

    /* Signals are taken synchronously by the main loop; every thread created from here on
     * inherits the mask, so no worker is ever interrupted by one. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    int rc = 1;
    struct kube_config *cfg = NULL;
    struct kube_client *client = NULL, *evict_client = NULL;
    struct kube_events *events = NULL;
    struct sshc_pool *pool = NULL;
    struct hostos_registry *profiles = NULL;
    struct rc_httpd *httpd = NULL;
    struct kube_leader *leader = NULL;
    char *identity = NULL;
    struct api_collect ac = {0};
    struct kube_error err;
    kube_error_init(&err);

    cm_log_kv(CM_LOG_INFO, "starting commissaire-controller", "version", COMMISSAIRE_VERSION,
              "namespace", o.all_namespaces ? "*" : o.ns, NULL);

    if ((r = kube_config_load_default(o.kubeconfig, o.context, &cfg, &err)) < 0) {
        cm_log_kv(CM_LOG_ERROR, "cannot load the Kubernetes client configuration", "error",
                  err.message ? err.message : strerror(-r), NULL);
        goto out;
    }
    struct kube_client_options co;
    kube_client_options_init(&co);
    co.qps = o.qps;
    co.burst = o.burst;
    co.user_agent = "commissaire-controller/" COMMISSAIRE_VERSION;
    if ((r = kube_client_new(cfg, &co, &client, &err)) < 0) {
        cm_log_kv(CM_LOG_ERROR, "cannot create the Kubernetes client", "error",
                  err.message ? err.message : strerror(-r), NULL);
        goto out;
    }
    co.max_retries = 0;
    if ((r = kube_client_new(cfg, &co, &evict_client, &err)) < 0)
        goto out;

    metrics = rc_metrics_new();
    if (!metrics)
        goto out;
    m_leader = rc_metrics_gauge(metrics, "commissaire_controller_leader",
                                "1 while this replica holds the lease (or runs without election).",
                                NULL);
    rc_metric_set(m_leader, NULL, NULL, 0);
    ac.client = client;
    ac.requests = rc_metrics_counter(metrics, "commissaire_controller_api_requests_total",
                                     "Kubernetes API requests by verb and HTTP code (0: no answer).",
                                     "verb,code");
    ac.sessions = rc_metrics_gauge(metrics, "commissaire_controller_ssh_sessions",
                                   "SSH sessions open, by state.", "state");

    struct kube_events_options eo;
    kube_events_options_init(&eo);
    eo.component = "commissaire-controller";
    eo.ns_default = o.ns;
    if ((r = kube_events_new(client, &eo, &events)) < 0)
        goto out;

    struct sshc_pool_opts po = {.max_sessions = o.max_ssh_sessions, .idle_ms = (int)o.ssh_idle_ms};
    if ((r = sshc_pool_new(&po, &pool)) < 0)
        goto out;
    ac.pool = pool;
    rc_metrics_collector_add(metrics, collect_api, &ac);

    struct hostos_error herr = {{0}};
    if ((r = hostos_registry_new(&profiles)) < 0)
        goto out;
    const char *shipped = o.builtin_profiles_dir;
    if (!shipped)
        shipped = access(COMMISSAIRE_PROFILES_DIR, R_OK) == 0 ? COMMISSAIRE_PROFILES_DIR
                                                              : COMMISSAIRE_PROFILES_SOURCE_DIR;
    r = hostos_registry_load_dir(profiles, shipped, &herr);
    if (r == 0 && o.profiles_dir) {
        r = hostos_registry_load_dir(profiles, o.profiles_dir, &herr);
        if (r == -ENOENT) {
            /* The override ConfigMap is optional; its mount point may be absent. */
            cm_log_kv(CM_LOG_WARN, "profiles override directory not found; ignoring it", "dir",
                      o.profiles_dir, NULL);
            r = 0;
        }
    }
    if (r == 0 && o.profiles_configmap) {
        json_t *cmap = NULL;
        r = kube_get(client, &KUBE_RES_CONFIGMAPS, o.ns, o.profiles_configmap, NULL, &cmap, &err);
        if (r == -ENOENT) {
            cm_log_kv(CM_LOG_WARN, "profiles ConfigMap not found; using the other profiles",
                      "configmap", o.profiles_configmap, NULL);
            r = 0;
        } else if (r == 0) {
            const char *k;
            json_t *v;
            json_object_foreach(json_object_get(cmap, "data"), k, v) {
                if (!json_is_string(v))
                    continue;
                char src[512];
                snprintf(src, sizeof src, "configmap/%s/%s", o.profiles_configmap, k);
                r = hostos_registry_load_yaml_string(profiles, json_string_value(v),
                                                     json_string_length(v), src, &herr);
                if (r < 0)
                    break;
            }
        } else {
            snprintf(herr.message, sizeof herr.message, "reading ConfigMap %s: %s",
                     o.profiles_configmap, err.message ? err.message : "API error");
        }
        json_decref(cmap);
    }
    if (r < 0) {
        cm_log_kv(CM_LOG_ERROR, "cannot load the OS profiles", "dir", shipped, "error",
                  herr.message, NULL);
        goto out;
    }
    char nprof[16];
    snprintf(nprof, sizeof nprof, "%zu", hostos_registry_count(profiles));
    cm_log_kv(CM_LOG_INFO, "OS profiles loaded", "count", nprof, "dir", shipped, NULL);

    struct rc_env env = {
        .client = client,
        .evict_client = evict_client,
        .ns = o.all_namespaces ? NULL : o.ns,
        .events = events,
        .metrics = metrics,
        .ssh = pool,
        .profiles = profiles,
        .resync_ms = o.resync_ms,
        .host_check_interval_ms = o.host_check_interval_ms,
        .host_retry_interval_ms = o.host_retry_interval_ms,
        .node_poll_ms = o.node_poll_ms,
        .decommission_timeout_ms = o.decommission_timeout_ms,
        .ssh_connect_timeout_ms = (int)o.ssh_connect_timeout_ms,
        .ssh_command_timeout_ms = (int)o.ssh_command_timeout_ms,
        .step_budget_ms = o.step_budget_ms,
    };
    if ((r = rc_manager_new(&env, &manager)) < 0)
        goto out;
    /* One call per controller. The Operation controller plugs in here the same way. */
    if ((r = host_controller_register(manager, o.workers, NULL)) < 0 ||
        (r = cluster_controller_register(manager, o.cluster_workers, NULL)) < 0 ||
        (r = operation_controller_register(manager, o.cluster_workers, NULL, NULL)) < 0) {
        cm_log_kv(CM_LOG_ERROR, "cannot register the controllers", "error", strerror(-r), NULL);
        goto out;
    }

    atomic_store(&last_tick_ms, cm_time_mono_ms());
    if (strcmp(o.metrics_addr, "off") && *o.metrics_addr) {
        if ((r = rc_httpd_start(o.metrics_addr, http_handler, NULL, &httpd)) < 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot listen for metrics", "addr", o.metrics_addr, "error",
                      strerror(-r), NULL);
            goto out;
        }
        char port[16];
        snprintf(port, sizeof port, "%d", rc_httpd_port(httpd));
        cm_log_kv(CM_LOG_INFO, "serving /metrics /healthz /readyz", "addr", o.metrics_addr,
                  "port", port, NULL);
    }

    if ((r = rc_manager_start(manager)) < 0)
        goto out;
    /* Wait for the caches before acting (a reconcile on a half-filled cache would act on a
     * partial view), answering signals meanwhile. */
    while (rc_manager_wait_synced(manager, 200) < 0) {
        struct timespec ts = {0, 0};
        atomic_store(&last_tick_ms, cm_time_mono_ms());
        if (sigtimedwait(&sigs, NULL, &ts) > 0) {
            rc = 0;
            goto out;
        }
    }
    cm_log_kv(CM_LOG_INFO, "caches synced", NULL);

    if (o.leader_elect) {
        identity = leader_identity();
        struct kube_leader_options lo;
        kube_leader_options_init(&lo);
        lo.ns = o.leader_elect_namespace ? o.leader_elect_namespace : o.ns;
        lo.name = o.leader_elect_id;
        lo.identity = identity;
        lo.lease_duration_ms = o.lease_duration_ms;
        lo.renew_deadline_ms = o.renew_deadline_ms;
        lo.retry_period_ms = o.retry_period_ms;
        lo.started_leading_cb = started_leading;
        lo.stopped_leading_cb = stopped_leading;
        lo.new_leader_cb = new_leader;
        if (!identity || (r = kube_leader_start(client, &lo, &leader, &err)) < 0) {
            cm_log_kv(CM_LOG_ERROR, "cannot start leader election", "error",
                      err.message ? err.message : "out of memory", NULL);
            goto out;
        }
        cm_log_kv(CM_LOG_INFO, "waiting for leadership", "lease", o.leader_elect_id, "identity",
                  identity, NULL);
    } else {
        atomic_store(&want_leading, 1);
    }

    bool network_ok = false;
    for (;;) {
        struct timespec ts = {0, 100 * 1000000};
        atomic_store(&last_tick_ms, cm_time_mono_ms());
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig > 0) {
            cm_log_kv(CM_LOG_INFO, "signal received; shutting down", "signal",
                      sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
            break;
        }
        bool want = atomic_load(&want_leading);
        if (want != rc_manager_leading(manager)) {
            if (want && !network_ok) {
                /* Only the acting replica writes; the Network must exist before Hosts are
                 * bootstrapped, as their flannel configuration comes from it. */
                if (ensure_default_network(client, o.ns, &sigs) < 0)
                    break;
                network_ok = true;
            }
            rc_manager_set_leading(manager, want);
            rc_metric_set(m_leader, NULL, NULL, want ? 1 : 0);
        }
    }
    rc = 0;

out:
    if (r < 0 && rc)
        cm_log_kv(CM_LOG_ERROR, "exiting", "error", strerror(-r), NULL);
    /* No new keys before the lease goes: the passes in flight see it and stop at their next
     * side effect; rc_manager_free() below waits for them. */
    if (manager)
        rc_manager_set_leading(manager, false);
    if (leader)
        kube_leader_stop(leader); /* releases the lease; calls stopped_leading */
    rc_metric_set(m_leader, NULL, NULL, 0);
    rc_httpd_stop(httpd); /* before the manager: its collectors read the controllers */
    rc_manager_free(manager);
    manager = NULL;
    kube_leader_free(leader);
    kube_events_free(events, 2000);
    hostos_registry_unref(profiles);
    sshc_pool_free(pool);
    kube_client_free(evict_client);
    kube_client_free(client);
    kube_config_free(cfg);
    rc_metrics_free(metrics);
    kube_error_done(&err);
    free(identity);
    curl_global_cleanup();
    if (rc == 0)
        cm_log_kv(CM_LOG_INFO, "stopped", NULL);
    return rc;
}
