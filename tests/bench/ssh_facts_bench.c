/* ssh_facts_bench: gather facts from many hosts in parallel with sshc, and report how long it
 * took and what it cost — the contender for tests/bench/facts_bench.sh (Ansible `setup` and a
 * plain `ssh` loop on the same farm).
 *
 * Each host: one TCP connect, key exchange, host-key check (pinned from --known-hosts when
 * given), public-key auth, ONE exec of the facts script, disconnect. Sessions go through an
 * sshc_pool of --concurrency slots, used by as many worker threads.
 *
 * Usage: ssh_facts_bench --key FILE [--port 22] [--user root] [--concurrency 32]
 *                        [--timeout-ms 10000] [--known-hosts FILE] [--repeat N] [--json]
 *                        [--verbose] (--hosts FILE | ADDR...)
 * Prints (text): hosts, ok, failed, concurrency, negotiated KEX, total seconds, per-host ms
 * (avg p50 p95 max), process CPU seconds (user, sys), CPU ms per host, peak RSS KiB.
 * Exit status 0 when every host answered. Build without sanitizers for meaningful numbers. */
#include <errno.h>
#include <getopt.h>
#include <libssh/libssh.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cm_time.h"
#include "sshc.h"
#include "sshc_facts.h"
#include "sshc_pool.h"

struct host {
    char *addr;
    char fp[SSHC_FINGERPRINT_MAX]; /* pinned, or "" */
    int64_t ms;
    int rc;
    char kex[64];
    char err[320];
    int64_t memory_kib;
};

static struct host *hosts;
static size_t n_hosts;
static atomic_size_t next_host;
static struct sshc_pool *pool;
static const char *key_text;
static const char *user = "root";
static uint16_t port = 22;
static int timeout_ms = 10000;
static int verbose;

static void *worker(void *arg) {
    for (;;) {
        size_t i = atomic_fetch_add(&next_host, 1);
        if (i >= n_hosts)
            return NULL;
        struct host *h = &hosts[i];
        int64_t t0 = cm_time_mono_ms();
        struct sshc_connect_opts o = {
            .host = h->addr, .port = port, .user = user, .private_key = key_text,
            .expected_fingerprint = h->fp[0] ? h->fp : NULL, .connect_timeout_ms = timeout_ms,
        };
        struct sshc_session *s = NULL;
        struct sshc_error err;
        h->rc = sshc_pool_get(pool, &o, 600000, &s, &err);
        if (h->rc == 0) {
            snprintf(h->kex, sizeof(h->kex), "%s", sshc_session_kex(s));
            struct sshc_facts f;
            h->rc = sshc_facts_gather(s, timeout_ms, &f, &err);
            if (h->rc == 0) {
                h->memory_kib = f.memory_kib;
                if (verbose)
                    fprintf(stderr, "%s os=%s version=%s atomic=%d cpus=%lld mem=%lld "
                            "space=%lld kernel=%s boot=%s host=%s\n",
                            h->addr, f.os_id, f.os_version_id, f.atomic, (long long)f.cpus,
                            (long long)f.memory_kib, (long long)f.space_kib, f.kernel,
                            f.boot_id, f.hostname);
                sshc_facts_done(&f);
            }
            sshc_pool_put(pool, s, false);
        }
        if (h->rc < 0)
            snprintf(h->err, sizeof(h->err), "%s: %s", sshc_error_kind_reason(err.kind),
                     err.message);
        h->ms = cm_time_mono_ms() - t0;
    }
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t n = 0, cap = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (n + 2 > cap) {
            cap = cap ? cap * 2 : 4096;
            char *t = realloc(b, cap);
            if (!t) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = t;
        }
        b[n++] = (char)c;
    }
    fclose(f);
    if (!b)
        b = calloc(1, 1);
    else
        b[n] = '\0';
    return b;
}

static void add_host(const char *addr) {
    hosts = realloc(hosts, (n_hosts + 1) * sizeof(*hosts));
    if (!hosts) {
        perror("realloc");
        exit(2);
    }
    memset(&hosts[n_hosts], 0, sizeof(hosts[0]));
    hosts[n_hosts].addr = strdup(addr);
    n_hosts++;
}

/* known_hosts lines "[addr]:port type base64" or "addr type base64": pins each host's key. */
static int load_known_hosts(const char *path) {
    char *text = slurp(path);
    if (!text)
        return -errno;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[256], type[64], b64[2048];
        if (sscanf(line, "%255s %63s %2047s", name, type, b64) != 3 || name[0] == '#')
            continue;
        char addr[256];
        unsigned p = 22;
        if (name[0] == '[') {
            char *close = strchr(name, ']');
            if (!close)
                continue;
            *close = '\0';
            snprintf(addr, sizeof(addr), "%s", name + 1);
            if (close[1] == ':')
                p = (unsigned)atoi(close + 2);
        } else {
            snprintf(addr, sizeof(addr), "%s", name);
        }
        if (p != port)
            continue;
        ssh_key key = NULL;
        unsigned char *hash = NULL;
        size_t hlen = 0;
        if (ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type), &key) != SSH_OK)
            continue;
        if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == SSH_OK) {
            for (size_t i = 0; i < n_hosts; i++)
                if (strcmp(hosts[i].addr, addr) == 0)
                    sshc_fingerprint_format(hash, hlen, hosts[i].fp);
        }
        ssh_clean_pubkey_hash(&hash);
        ssh_key_free(key);
    }
    free(text);
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *key_path = NULL, *hosts_path = NULL, *known = NULL;
    int concurrency = 32, repeat = 1, json = 0;
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},       {"port", required_argument, NULL, 'p'},
        {"user", required_argument, NULL, 'u'},      {"concurrency", required_argument, NULL, 'c'},
        {"timeout-ms", required_argument, NULL, 't'}, {"known-hosts", required_argument, NULL, 'K'},
        {"hosts", required_argument, NULL, 'H'},     {"repeat", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},            {"verbose", no_argument, NULL, 'v'},
        {0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "k:p:u:c:t:K:H:r:jv", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key_path = optarg; break;
        case 'p': port = (uint16_t)atoi(optarg); break;
        case 'u': user = optarg; break;
        case 'c': concurrency = atoi(optarg); break;
        case 't': timeout_ms = atoi(optarg); break;
        case 'K': known = optarg; break;
        case 'H': hosts_path = optarg; break;
        case 'r': repeat = atoi(optarg); break;
        case 'j': json = 1; break;
        case 'v': verbose = 1; break;
        default:
            fprintf(stderr, "usage: %s --key FILE [--port N] [--user U] [--concurrency N] "
                            "[--timeout-ms MS] [--known-hosts FILE] [--repeat N] [--json] "
                            "[--verbose] (--hosts FILE | ADDR...)\n", argv[0]);
            return 2;
        }
    }
    if (!key_path || concurrency < 1 || repeat < 1) {
        fprintf(stderr, "--key is required; --concurrency and --repeat must be >= 1\n");
        return 2;
    }
    char *key = slurp(key_path);
    if (!key) {
        perror(key_path);
        return 2;
    }
    key_text = key;
    if (hosts_path) {
        char *text = slurp(hosts_path);
        if (!text) {
            perror(hosts_path);
            return 2;
        }
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            char addr[256];
            if (sscanf(line, "%255s", addr) == 1 && addr[0] != '#')
                add_host(addr);
        }
        free(text);
    }
    for (int i = optind; i < argc; i++)
        add_host(argv[i]);
    /* --repeat N: every address N times (one sshd can stand in for many hosts). */
    size_t base = n_hosts;
    for (int r = 1; r < repeat; r++)
        for (size_t i = 0; i < base; i++)
            add_host(hosts[i].addr);
    if (n_hosts == 0) {
        fprintf(stderr, "no hosts\n");
        return 2;
    }
    if (known && load_known_hosts(known) < 0) {
        perror(known);
        return 2;
    }
    if ((size_t)concurrency > n_hosts)
        concurrency = (int)n_hosts;
    if (sshc_pool_new(&(struct sshc_pool_opts){.max_sessions = (unsigned)concurrency}, &pool) < 0)
        return 2;

    int64_t t0 = cm_time_mono_ms();
    pthread_t *t = calloc((size_t)concurrency, sizeof(*t));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int started = 0;
    for (int i = 0; i < concurrency; i++)
        if (pthread_create(&t[i], &attr, worker, NULL) == 0)
            started++;
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    int64_t total_ms = cm_time_mono_ms() - t0;
    pthread_attr_destroy(&attr);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    double sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    size_t ok = 0;
    int64_t *ms = calloc(n_hosts, sizeof(*ms));
    int64_t sum = 0;
    const char *kex = "none";
    for (size_t i = 0; i < n_hosts; i++) {
        if (hosts[i].rc == 0) {
            ms[ok++] = hosts[i].ms;
            sum += hosts[i].ms;
            kex = hosts[i].kex;
        } else {
            fprintf(stderr, "FAIL %s: %s\n", hosts[i].addr, hosts[i].err);
        }
    }
    qsort(ms, ok, sizeof(*ms), cmp_i64);
    double avg = ok ? (double)sum / (double)ok : 0;
    int64_t p50 = ok ? ms[ok / 2] : 0, p95 = ok ? ms[(ok * 95) / 100 < ok ? (ok * 95) / 100 : ok - 1] : 0;
    int64_t mx = ok ? ms[ok - 1] : 0;
    double cpu_ms_host = (user_s + sys_s) * 1000.0 / (double)n_hosts;
    if (json) {
        printf("{\"tool\":\"sshc\",\"hosts\":%zu,\"ok\":%zu,\"failed\":%zu,\"concurrency\":%d,"
               "\"kex\":\"%s\",\"total_s\":%.3f,\"per_host_ms\":{\"avg\":%.1f,\"p50\":%lld,"
               "\"p95\":%lld,\"max\":%lld},\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
               "\"cpu_ms_per_host\":%.2f,\"peak_rss_kib\":%ld}\n",
               n_hosts, ok, n_hosts - ok, concurrency, kex, (double)total_ms / 1000.0, avg,
               (long long)p50, (long long)p95, (long long)mx, user_s, sys_s, cpu_ms_host,
               ru.ru_maxrss);
    } else {
        printf("sshc facts: hosts=%zu ok=%zu failed=%zu concurrency=%d kex=%s\n", n_hosts, ok,
               n_hosts - ok, concurrency, kex);
        printf("total_s=%.3f per_host_ms avg=%.1f p50=%lld p95=%lld max=%lld\n",
               (double)total_ms / 1000.0, avg, (long long)p50, (long long)p95, (long long)mx);
        printf("cpu_user_s=%.3f cpu_sys_s=%.3f cpu_ms_per_host=%.2f peak_rss_kib=%ld\n", user_s,
               sys_s, cpu_ms_host, ru.ru_maxrss);
    }
    sshc_pool_free(pool);
    for (size_t i = 0; i < n_hosts; i++)
        free(hosts[i].addr);
    free(hosts);
    free(ms);
    free(t);
    free(key);
    return ok == n_hosts ? 0 : 1;
}
