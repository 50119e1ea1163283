/* Integration tests of the sshc module against a real OpenSSH sshd (started by ssh_it.sh).
 *
 * Environment: SSHIT_PORT (sshd on 127.0.0.1), SSHIT_DIR (keys: key_ed25519, key_rsa_pem,
 * key_wrong; files written by uploads land under it), SSHIT_FP (the host key fingerprint),
 * SSHIT_LOG (sshd's VERBOSE log, read to prove what the server saw).
 * The commands sent are harmless (echo, sleep, head, cat of /proc files, files under SSHIT_DIR). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_time.h"
#include "sshc.h"
#include "sshc_facts.h"
#include "sshc_pool.h"

static uint16_t port;
static const char *dir;
static const char *fp;
static const char *logpath;
static char *key_ed25519;
static char *key_rsa;
static char *key_wrong;

static char *slurp(const char *path, size_t *ret_len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap + 1);
        }
    }
    fclose(f);
    if (b)
        b[n] = '\0';
    if (ret_len)
        *ret_len = n;
    return b;
}

static char *keyfile(const char *name) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *k = slurp(path, NULL);
    assert_non_null(k);
    return k;
}

static int setup(void **state) {
    const char *p = getenv("SSHIT_PORT");
    dir = getenv("SSHIT_DIR");
    fp = getenv("SSHIT_FP");
    logpath = getenv("SSHIT_LOG");
    if (!p || !dir || !fp || !logpath) {
        fprintf(stderr, "run through ssh_it.sh (SSHIT_* variables missing)\n");
        return -1;
    }
    port = (uint16_t)atoi(p);
    key_ed25519 = keyfile("key_ed25519");
    key_rsa = keyfile("key_rsa_pem");
    key_wrong = keyfile("key_wrong");
    return 0;
}

static int teardown(void **state) {
    free(key_ed25519);
    free(key_rsa);
    free(key_wrong);
    return 0;
}

static struct sshc_connect_opts opts(const char *key) {
    return (struct sshc_connect_opts){
        .host = "127.0.0.1", .port = port, .user = "root", .private_key = key,
        .connect_timeout_ms = 5000,
    };
}

static struct sshc_session *connect_ok(const char *key) {
    struct sshc_connect_opts o = opts(key);
    struct sshc_session *s = NULL;
    struct sshc_error err;
    int r = sshc_session_connect(&o, &s, &err);
    if (r < 0)
        fail_msg("connect: %d %s", r, err.message);
    return s;
}

/* Counts lines of the sshd log containing needle. */
static int log_count(const char *needle) {
    char *l = slurp(logpath, NULL);
    assert_non_null(l);
    int n = 0;
    for (char *p = l; (p = strstr(p, needle)); p++)
        n++;
    free(l);
    return n;
}

static void test_connect_tofu_and_kex(void **state) {
    struct sshc_session *s = connect_ok(key_ed25519);
    assert_string_equal(sshc_session_fingerprint(s), fp);
    assert_string_equal(sshc_session_kex(s), "curve25519-sha256");
    assert_true(sshc_session_usable(s));
    sshc_session_free(s);
}

static void test_connect_pinned_and_rsa_pem_key(void **state) {
    struct sshc_connect_opts o = opts(key_rsa);
    o.expected_fingerprint = fp;
    struct sshc_session *s = NULL;
    struct sshc_error err;
    assert_int_equal(sshc_session_connect(&o, &s, &err), 0);
    assert_string_equal(sshc_session_fingerprint(s), fp);
    sshc_session_free(s);
}

static void test_exec_status_and_streams(void **state) {
    struct sshc_session *s = connect_ok(key_ed25519);
    struct sshc_result res;
    struct sshc_error err;
    assert_int_equal(sshc_exec(s, "echo out; echo err >&2; exit 3", NULL, &res, &err), 0);
    assert_int_equal(res.exit_status, 3);
    assert_string_equal(res.out.data, "out\n");
    assert_string_equal(res.err.data, "err\n");
    assert_false(res.out_truncated);
    sshc_result_done(&res);
    /* stdin is closed: a command reading it ends instead of waiting for the timeout. */
    struct sshc_exec_opts o = {.timeout_ms = 3000};
    assert_int_equal(sshc_exec(s, "cat; echo done", &o, &res, &err), 0);
    assert_string_equal(res.out.data, "done\n");
    sshc_result_done(&res);
    /* A killed command reports its signal. */
    assert_int_equal(sshc_exec(s, "kill -TERM $$", NULL, &res, &err), 0);
    assert_non_null(res.exit_signal);
    assert_string_equal(res.exit_signal, "TERM");
    sshc_result_done(&res);
    sshc_session_free(s);
}

static void test_exec_output_cap(void **state) {
    struct sshc_session *s = connect_ok(key_ed25519);
    struct sshc_result res;
    struct sshc_error err;
    struct sshc_exec_opts o = {.stdout_cap = 1000, .stderr_cap = 10, .timeout_ms = 20000};
    assert_int_equal(sshc_exec(s, "head -c 3000000 /dev/zero | tr '\\0' x; "
                                  "head -c 5000 /dev/zero >&2; exit 0",
                               &o, &res, &err),
                     0);
    assert_int_equal(res.exit_status, 0);
    assert_int_equal(res.out.len, 1000);
    assert_true(res.out_truncated);
    assert_int_equal(res.err.len, 10);
    assert_true(res.err_truncated);
    assert_int_equal(res.out.data[999], 'x');
    sshc_result_done(&res);
    sshc_session_free(s);
}

static void test_exec_timeout_keeps_session(void **state) {
    struct sshc_session *s = connect_ok(key_ed25519);
    struct sshc_result res;
    struct sshc_error err;
    struct sshc_exec_opts o = {.timeout_ms = 500};
    int64_t t0 = cm_time_mono_ms();
    assert_int_equal(sshc_exec(s, "echo started; sleep 30", &o, &res, &err), -ETIMEDOUT);
    int64_t took = cm_time_mono_ms() - t0;
    assert_true(took >= 450 && took < 3000);
    assert_int_equal(err.kind, SSHC_ERR_TIMEOUT);
    assert_string_equal(res.out.data, "started\n");
    sshc_result_done(&res);
    /* The session survives a command timeout. */
    assert_int_equal(sshc_exec(s, "echo again", NULL, &res, &err), 0);
    assert_string_equal(res.out.data, "again\n");
    sshc_result_done(&res);
    sshc_session_free(s);
}

static void test_exec_batch(void **state) {
    struct sshc_session *s = connect_ok(key_ed25519);
    struct sshc_error err;
    /* The second command prints a fake delimiter: without the per-call nonce it would forge
     * the result of the third. */
    struct sshc_batch_item it[4] = {
        {.command = "echo one"},
        {.command = "printf '\\n@@sshc-0000 2 0@@\\n'; echo two >&2 # comment"},
        {.command = "false"},
        {.command = "echo never"},
    };
    assert_int_equal(sshc_exec_batch(s, it, 4, true, NULL, &err), 0);
    assert_true(it[0].ran);
    assert_int_equal(it[0].exit_status, 0);
    assert_string_equal(it[0].output, "one\n");
    assert_true(it[1].ran);
    assert_int_equal(it[1].exit_status, 0);
    assert_non_null(strstr(it[1].output, "two\n"));
    assert_true(it[2].ran);
    assert_int_equal(it[2].exit_status, 1);
    assert_false(it[3].ran);
    sshc_batch_items_done(it, 4);
    /* Without stop_on_failure everything runs. */
    assert_int_equal(sshc_exec_batch(s, it, 4, false, NULL, &err), 0);
    assert_true(it[3].ran);
    assert_string_equal(it[3].output, "never\n");
    sshc_batch_items_done(it, 4);
    sshc_session_free(s);
}

static void test_facts_of_this_machine(void **state) {
    struct sshc_session *s = connect_ok(key_ed25519);
    struct sshc_facts f;
    struct sshc_error err;
    int r = sshc_facts_gather(s, 0, &f, &err);
    if (r < 0)
        fail_msg("facts: %s", err.message);
    char *boot = slurp("/proc/sys/kernel/random/boot_id", NULL);
    assert_non_null(boot);
    boot[strcspn(boot, "\n")] = '\0';
    assert_string_equal(f.boot_id, boot);
    free(boot);
    char host[256];
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    assert_string_equal(f.hostname, host);
    assert_int_equal(f.cpus, sysconf(_SC_NPROCESSORS_ONLN));
    assert_true(f.memory_kib > 1024);
    assert_true(f.space_kib > 0);
    assert_true(strlen(f.kernel) > 0);
    assert_true(strlen(f.os_id) > 0);
    sshc_facts_done(&f);
    sshc_session_free(s);
}

static void test_upload(void **state) {
    struct sshc_session *s = connect_ok(key_ed25519);
    struct sshc_error err;
    char path[4096];
    snprintf(path, sizeof(path), "%s/up/a/b/flanneld", dir);
    const char *content = "FLANNEL_ETCD_ENDPOINTS=\"http://x:2379\"\n'quotes' $(not run) `nor this`\n";
    bool changed = false;
    int r = sshc_upload(s, path, content, strlen(content), 0640, SSHC_UPLOAD_IF_CHANGED, &changed,
                        &err);
    if (r < 0)
        fail_msg("upload: %s", err.message);
    assert_true(changed);
    size_t n = 0;
    char *got = slurp(path, &n);
    assert_non_null(got);
    assert_string_equal(got, content);
    free(got);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    /* Same content and mode: nothing is written. */
    assert_int_equal(sshc_upload(s, path, content, strlen(content), 0640, SSHC_UPLOAD_IF_CHANGED,
                                 &changed, &err),
                     0);
    assert_false(changed);
    /* Mode alone differs: rewritten. */
    assert_int_equal(sshc_upload(s, path, content, strlen(content), 0600, SSHC_UPLOAD_IF_CHANGED,
                                 &changed, &err),
                     0);
    assert_true(changed);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* New content replaces the old file. */
    assert_int_equal(sshc_upload(s, path, "v2\n", 3, 0644, 0, &changed, &err), 0);
    got = slurp(path, NULL);
    assert_string_equal(got, "v2\n");
    free(got);
    /* No temporary file is left behind. */
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "ls -A %s/up/a/b", dir);
    struct sshc_result res;
    assert_int_equal(sshc_exec(s, cmd, NULL, &res, &err), 0);
    assert_string_equal(res.out.data, "flanneld\n");
    sshc_result_done(&res);
    /* A relative path is refused before anything is sent. */
    assert_int_equal(sshc_upload(s, "etc/x", "x", 1, 0644, 0, NULL, &err), -EINVAL);
    sshc_session_free(s);
}

static void test_wrong_key(void **state) {
    struct sshc_connect_opts o = opts(key_wrong);
    struct sshc_session *s = NULL;
    struct sshc_error err;
    assert_int_equal(sshc_session_connect(&o, &s, &err), -EACCES);
    assert_null(s);
    assert_int_equal(err.kind, SSHC_ERR_AUTH);
    assert_string_equal(sshc_error_kind_reason(err.kind), "AuthenticationFailed");
    assert_null(strstr(err.message, "PRIVATE"));
    assert_null(strstr(err.message, key_wrong + 40));
}

static void test_bad_key_text(void **state) {
    struct sshc_connect_opts o = opts("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n");
    struct sshc_session *s = NULL;
    struct sshc_error err;
    assert_int_equal(sshc_session_connect(&o, &s, &err), -EINVAL);
    assert_int_equal(err.kind, SSHC_ERR_KEY);
    assert_null(strstr(err.message, "not a key"));
}

static void test_hostkey_mismatch_sends_nothing(void **state) {
    const char *wrongfp = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    int conns0 = log_count("Connection from 127.0.0.1");
    int auth0 = log_count("publickey");
    int sess0 = log_count("session opened") + log_count("Starting session");
    struct sshc_connect_opts o = opts(key_ed25519);
    o.expected_fingerprint = wrongfp;
    struct sshc_session *s = NULL;
    struct sshc_error err;
    assert_int_equal(sshc_session_connect(&o, &s, &err), -EBADMSG);
    assert_null(s);
    assert_int_equal(err.kind, SSHC_ERR_HOSTKEY_MISMATCH);
    assert_string_equal(err.expected_fingerprint, wrongfp);
    assert_string_equal(err.seen_fingerprint, fp);
    /* sshd saw the connection (its log is live) but no authentication attempt and no session:
     * our side disconnected right after the key exchange. */
    int64_t until = cm_time_mono_ms() + 15000;
    while (log_count("Connection from 127.0.0.1") == conns0 && cm_time_mono_ms() < until)
        usleep(20000);
    usleep(200000);
    assert_int_equal(log_count("Connection from 127.0.0.1"), conns0 + 1);
    assert_int_equal(log_count("publickey"), auth0);
    assert_int_equal(log_count("session opened") + log_count("Starting session"), sess0);
}

static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_refused(void **state) {
    struct sshc_connect_opts o = opts(key_ed25519);
    o.port = (uint16_t)closed_port();
    struct sshc_session *s = NULL;
    struct sshc_error err;
    assert_int_equal(sshc_session_connect(&o, &s, &err), -ECONNREFUSED);
    assert_int_equal(err.kind, SSHC_ERR_REFUSED);
}

static void test_silent_server_times_out(void **state) {
    /* A listening socket that never speaks: the TCP connect succeeds, the handshake waits. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    struct sshc_connect_opts o = opts(key_ed25519);
    o.port = ntohs(a.sin_port);
    o.connect_timeout_ms = 700;
    struct sshc_session *s = NULL;
    struct sshc_error err;
    int64_t t0 = cm_time_mono_ms();
    assert_int_equal(sshc_session_connect(&o, &s, &err), -ETIMEDOUT);
    int64_t took = cm_time_mono_ms() - t0;
    assert_int_equal(err.kind, SSHC_ERR_TIMEOUT);
    assert_true(took >= 600 && took < 3000);
    close(fd);
}

static void test_dns_failure(void **state) {
    struct sshc_connect_opts o = opts(key_ed25519);
    o.host = "no-such-host.invalid";
    struct sshc_session *s = NULL;
    struct sshc_error err;
    assert_int_equal(sshc_session_connect(&o, &s, &err), -ENXIO);
    assert_int_equal(err.kind, SSHC_ERR_DNS);
}

static int count_fds(void) {
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

/* Every path through connect (success, auth failure, host-key mismatch, handshake timeout)
 * closes its socket: a controller connecting to thousands of hosts must not leak descriptors. */
static void test_no_descriptor_leak(void **state) {
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_int_equal(bind(silent, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(silent, 16), 0);
    assert_int_equal(getsockname(silent, (struct sockaddr *)&a, &l), 0);
    int before = count_fds();
    for (int i = 0; i < 3; i++) {
        struct sshc_session *s = connect_ok(key_ed25519);
        struct sshc_result res;
        assert_int_equal(sshc_exec(s, "true", NULL, &res, NULL), 0);
        sshc_result_done(&res);
        assert_int_equal(sshc_upload(s, "/dev/null/x", "x", 1, 0644, 0, NULL, NULL) < 0, 1);
        sshc_session_free(s);
        struct sshc_connect_opts o = opts(key_wrong);
        assert_int_equal(sshc_session_connect(&o, &s, NULL), -EACCES);
        o = opts(key_ed25519);
        o.expected_fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_int_equal(sshc_session_connect(&o, &s, NULL), -EBADMSG);
        o.expected_fingerprint = NULL;
        o.port = ntohs(a.sin_port);
        o.connect_timeout_ms = 200;
        assert_int_equal(sshc_session_connect(&o, &s, NULL), -ETIMEDOUT);
    }
    assert_int_equal(count_fds(), before);
    close(silent);
}

struct worker {
    struct sshc_pool *pool;
    int rc;
    int max_seen;
};

static char counter_dir[4096];

static void *pool_worker(void *arg) {
    struct worker *w = arg;
    struct sshc_connect_opts o = opts(key_ed25519);
    struct sshc_session *s = NULL;
    struct sshc_error err;
    w->rc = sshc_pool_get(w->pool, &o, 30000, &s, &err);
    if (w->rc < 0)
        return NULL;
    /* The server side counts how many of our commands run at the same time. */
    char cmd[8300];
    snprintf(cmd, sizeof(cmd),
             "d=%s; touch $d/$$; sleep 1; ls $d | wc -l; rm -f $d/$$", counter_dir);
    struct sshc_result res;
    w->rc = sshc_exec(s, cmd, NULL, &res, &err);
    if (w->rc == 0)
        w->max_seen = atoi(res.out.data);
    sshc_result_done(&res);
    sshc_pool_put(w->pool, s, false);
    return NULL;
}

static void test_pool_limit_under_concurrency(void **state) {
    snprintf(counter_dir, sizeof(counter_dir), "%s/counter", dir);
    assert_int_equal(mkdir(counter_dir, 0755), 0);
    struct sshc_pool *pool = NULL;
    assert_int_equal(sshc_pool_new(&(struct sshc_pool_opts){.max_sessions = 3}, &pool), 0);
    enum { N = 12 };
    struct worker w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.pool = pool};
        assert_int_equal(pthread_create(&t[i], NULL, pool_worker, &w[i]), 0);
    }
    int max = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].rc, 0);
        if (w[i].max_seen > max)
            max = w[i].max_seen;
    }
    /* At most 3 ran at once, and the pool did let 3 run in parallel. */
    assert_true(max <= 3);
    assert_true(max >= 2);
    struct sshc_pool_stats st;
    sshc_pool_stats(pool, &st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.peak_in_use, 3);
    assert_int_equal(st.connects, N);
    sshc_pool_free(pool);
}

static void test_pool_try_get_full_and_reuse(void **state) {
    struct sshc_pool *pool = NULL;
    assert_int_equal(
        sshc_pool_new(&(struct sshc_pool_opts){.max_sessions = 1, .idle_ms = 10000}, &pool), 0);
    struct sshc_connect_opts o = opts(key_ed25519);
    struct sshc_session *a = NULL, *b = NULL;
    struct sshc_error err;
    assert_int_equal(sshc_pool_try_get(pool, &o, &a, &err), 0);
    /* Full: try_get does not wait. */
    int64_t t0 = cm_time_mono_ms();
    assert_int_equal(sshc_pool_try_get(pool, &o, &b, &err), -EAGAIN);
    assert_true(cm_time_mono_ms() - t0 < 100);
    assert_int_equal(err.kind, SSHC_ERR_POOL_FULL);
    sshc_pool_put(pool, a, true);
    /* Cached: the same session comes back without a handshake. */
    assert_int_equal(sshc_pool_try_get(pool, &o, &b, &err), 0);
    assert_ptr_equal(a, b);
    sshc_pool_put(pool, b, true);
    /* A different key never gets the cached session; the idle one is evicted for the slot. */
    struct sshc_connect_opts o2 = opts(key_rsa);
    assert_int_equal(sshc_pool_try_get(pool, &o2, &b, &err), 0);
    struct sshc_pool_stats st;
    sshc_pool_stats(pool, &st);
    assert_int_equal(st.reuses, 1);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.idle, 0);
    sshc_pool_put(pool, b, true);
    /* Invalidation (e.g. the host rebooted) drops it. */
    sshc_pool_invalidate(pool, "127.0.0.1", port);
    sshc_pool_stats(pool, &st);
    assert_int_equal(st.idle, 0);
    /* A failed connect gives its slot back. */
    struct sshc_connect_opts bad = opts(key_wrong);
    assert_int_equal(sshc_pool_try_get(pool, &bad, &b, &err), -EACCES);
    sshc_pool_stats(pool, &st);
    assert_int_equal(st.in_use, 0);
    sshc_pool_free(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostkey_mismatch_sends_nothing),
        cmocka_unit_test(test_connect_tofu_and_kex),
        cmocka_unit_test(test_connect_pinned_and_rsa_pem_key),
        cmocka_unit_test(test_exec_status_and_streams),
        cmocka_unit_test(test_exec_output_cap),
        cmocka_unit_test(test_exec_timeout_keeps_session),
        cmocka_unit_test(test_exec_batch),
        cmocka_unit_test(test_facts_of_this_machine),
        cmocka_unit_test(test_upload),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_bad_key_text),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_dns_failure),
        cmocka_unit_test(test_no_descriptor_leak),
        cmocka_unit_test(test_pool_limit_under_concurrency),
        cmocka_unit_test(test_pool_try_get_full_and_reuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
