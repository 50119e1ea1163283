/* Unit tests of the Operation task pool (op_task.h) that need no SSH host: the boot id check,
 * the reboot guard script (run by /bin/sh with a harmless command in place of the reboot), and
 * the pool's bookkeeping (results by key, kind and tag; done callback) with a POLL of a closed
 * port, which ends at the TCP probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "op_task.h"
#include "rc_manager.h"

static void test_boot_id_valid(void **state) {
    (void)state;
    assert_true(op_task_boot_id_valid("1969230b-338a-4223-b1ef-e9d83cd81758"));
    assert_true(op_task_boot_id_valid("ABCDEF"));
    assert_false(op_task_boot_id_valid(""));
    assert_false(op_task_boot_id_valid(NULL));
    assert_false(op_task_boot_id_valid("abc'; reboot; '"));
    assert_false(op_task_boot_id_valid("abc def"));
    assert_false(op_task_boot_id_valid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"));
}

static char *run_sh(const char *script, int *ret_status) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char *out = calloc(1, 4096);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], out + n, 4095 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static void test_reboot_guard(void **state) {
    (void)state;
    char boot[80] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f || !fgets(boot, sizeof boot, f)) {
        if (f)
            fclose(f);
        skip();
    }
    fclose(f);
    boot[strcspn(boot, "\n")] = '\0';
    /* This machine's own boot id: the guard lets the command run (an echo, not a reboot). */
    char *script = op_task_reboot_script(boot, "echo WOULD-REBOOT");
    assert_non_null(script);
    assert_non_null(strstr(script, boot));
    int status;
    char *out = run_sh(script, &status);
    assert_int_equal(status, 0);
    assert_string_equal(out, "WOULD-REBOOT\n");
    free(out);
    free(script);
    /* Another boot id: the host "has rebooted since": nothing runs, exit 97 with the boot id. */
    script = op_task_reboot_script("00000000-0000-0000-0000-000000000000", "echo WOULD-REBOOT");
    out = run_sh(script, &status);
    assert_int_equal(status, 97);
    assert_null(strstr(out, "WOULD-REBOOT"));
    assert_non_null(strstr(out, boot));
    free(out);
    free(script);
    /* Nothing but a boot id is ever put into the script. */
    assert_null(op_task_reboot_script("x'; touch /tmp/pwned; '", "echo hi"));
    assert_null(op_task_reboot_script("abcd", NULL));
    assert_null(op_task_reboot_script("abcd", ""));
}

struct done_rec {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    char last[64];
};

static void done_cb(const char *op_key, void *userdata) {
    struct done_rec *d = userdata;
    pthread_mutex_lock(&d->lock);
    d->calls++;
    snprintf(d->last, sizeof d->last, "%s", op_key);
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static void wait_calls(struct done_rec *d, int n) {
    pthread_mutex_lock(&d->lock);
    while (d->calls < n)
        pthread_cond_wait(&d->cond, &d->lock);
    pthread_mutex_unlock(&d->lock);
}

static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd); /* bound, never listened: connections are refused */
    return ntohs(a.sin_port);
}

static void test_pool_results(void **state) {
    (void)state;
    struct rc_env env = {.ssh_connect_timeout_ms = 500};
    struct done_rec d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, ""};
    struct op_tasks *t = NULL;
    assert_int_equal(op_tasks_new(&env, 2, done_cb, &d, &t), 0);
    json_t *host = json_pack("{s:{s:s,s:i}}", "spec", "address", "127.0.0.1", "port",
                             closed_port());
    struct op_task_spec ts = {.kind = OP_TASK_POLL, .host = host, .tag = "t1",
                              .op_key = "ns/op"};
    assert_int_equal(op_tasks_start(t, "ns/op|h1", &ts), 0);
    int r = op_tasks_start(t, "ns/op|h1", &ts);
    assert_true(r == -EBUSY || r == -EALREADY); /* one task per key */
    wait_calls(&d, 1);
    assert_string_equal(d.last, "ns/op");
    assert_false(op_tasks_busy(t, "ns/op|h1"));
    assert_int_equal(op_tasks_start(t, "ns/op|h1", &ts), -EALREADY); /* result waiting */

    struct op_task_result res;
    /* Same step (tag), another kind: left in place for its own take. */
    assert_int_equal(op_tasks_take(t, "ns/op|h1", OP_TASK_REBOOT, "t1", &res), 0);
    assert_int_equal(op_tasks_take(t, "ns/op|h1", OP_TASK_POLL, "t1", &res), 1);
    assert_int_equal(res.kind, OP_TASK_POLL);
    assert_true(res.err < 0);
    assert_true(res.unreachable);
    assert_false(res.fatal);
    assert_false(res.have_facts);
    assert_string_equal(res.reason, "NotReachable");
    op_task_result_done(&res);
    assert_int_equal(op_tasks_take(t, "ns/op|h1", OP_TASK_POLL, "t1", &res), 0); /* taken */

    /* A result for a step the host has left (another tag) is dropped, never applied. */
    assert_int_equal(op_tasks_start(t, "ns/op|h1", &ts), 0);
    wait_calls(&d, 2);
    assert_int_equal(op_tasks_take(t, "ns/op|h1", OP_TASK_POLL, "t2", &res), 0);
    assert_int_equal(op_tasks_take(t, "ns/op|h1", OP_TASK_POLL, "t1", &res), 0);

    /* Keys are exact: dropping h1 leaves h10 alone; forgetting an operation drops all. */
    assert_int_equal(op_tasks_start(t, "ns/op|h10", &ts), 0);
    wait_calls(&d, 3);
    op_tasks_drop(t, "ns/op|h1");
    assert_int_equal(op_tasks_take(t, "ns/op|h10", OP_TASK_POLL, "t1", &res), 1);
    op_task_result_done(&res);
    assert_int_equal(op_tasks_start(t, "ns/op|h10", &ts), 0);
    wait_calls(&d, 4);
    op_tasks_forget(t, "ns/op|");
    assert_int_equal(op_tasks_take(t, "ns/op|h10", OP_TASK_POLL, "t1", &res), 0);
    assert_int_equal(op_tasks_start(t, "ns/op|h10", &ts), 0);
    op_tasks_free(t); /* with a task possibly in flight: waits for it, frees everything */
    json_decref(host);
}

static int listening_port(int *ret_fd) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0); /* the kernel completes handshakes; nobody speaks */
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    *ret_fd = fd;
    return ntohs(a.sin_port);
}

/* A POLL right after a delivered reboot (until_down) only probes: a host still accepting
 * connections is reported StillUp, with no handshake; one that refuses is unreachable. */
static void test_poll_until_down(void **state) {
    (void)state;
    struct rc_env env = {.ssh_connect_timeout_ms = 500};
    struct done_rec d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, ""};
    struct op_tasks *t = NULL;
    assert_int_equal(op_tasks_new(&env, 2, done_cb, &d, &t), 0);
    int lfd;
    json_t *up = json_pack("{s:{s:s,s:i}}", "spec", "address", "127.0.0.1", "port",
                           listening_port(&lfd));
    json_t *down = json_pack("{s:{s:s,s:i}}", "spec", "address", "127.0.0.1", "port",
                             closed_port());
    struct op_task_spec ts = {.kind = OP_TASK_POLL, .host = up, .tag = "t", .op_key = "ns/op",
                              .until_down = true};
    assert_int_equal(op_tasks_start(t, "ns/op|up", &ts), 0);
    ts.host = down;
    assert_int_equal(op_tasks_start(t, "ns/op|down", &ts), 0);
    wait_calls(&d, 2);
    struct op_task_result res;
    assert_int_equal(op_tasks_take(t, "ns/op|up", OP_TASK_POLL, "t", &res), 1);
    assert_int_equal(res.err, -EINPROGRESS);
    assert_string_equal(res.reason, "StillUp");
    assert_false(res.unreachable);
    assert_false(res.have_facts);
    assert_int_equal(res.connect_ms, 0); /* no SSH connect was tried */
    assert_true(res.done_ms > 0);
    op_task_result_done(&res);
    assert_int_equal(op_tasks_take(t, "ns/op|down", OP_TASK_POLL, "t", &res), 1);
    assert_string_equal(res.reason, "NotReachable");
    assert_true(res.unreachable);
    op_task_result_done(&res);
    op_tasks_free(t);
    close(lfd);
    json_decref(up);
    json_decref(down);
}

/* Records the order tasks end in; the first end holds its (only) pool thread until released,
 * so the tasks queued meanwhile are all waiting when the thread chooses the next one. */
struct order_rec {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    bool release;
    char keys[8][32];
};

static void order_cb(const char *op_key, void *userdata) {
    struct order_rec *o = userdata;
    pthread_mutex_lock(&o->lock);
    if (o->calls < 8)
        snprintf(o->keys[o->calls], sizeof o->keys[0], "%s", op_key);
    o->calls++;
    pthread_cond_broadcast(&o->cond);
    while (o->calls == 1 && !o->release)
        pthread_cond_wait(&o->cond, &o->lock);
    pthread_mutex_unlock(&o->lock);
}

/* Background tasks (reads ahead) run only when no ordinary task waits; a promoted one becomes
 * ordinary, in FIFO order. */
static void test_background_order(void **state) {
    (void)state;
    struct rc_env env = {.ssh_connect_timeout_ms = 500};
    struct order_rec o = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, {""}};
    struct op_tasks *t = NULL;
    assert_int_equal(op_tasks_new(&env, 1, order_cb, &o, &t), 0);
    json_t *host = json_pack("{s:{s:s,s:i}}", "spec", "address", "127.0.0.1", "port",
                             closed_port());
    struct op_task_spec ts = {.kind = OP_TASK_POLL, .host = host, .tag = "t"};
    ts.op_key = "X";
    assert_int_equal(op_tasks_start(t, "k|X", &ts), 0);
    pthread_mutex_lock(&o.lock);
    while (o.calls < 1)
        pthread_cond_wait(&o.cond, &o.lock);
    pthread_mutex_unlock(&o.lock);
    /* The only thread is held in X's callback: queue background A and C, ordinary B. */
    ts.background = true;
    ts.op_key = "A";
    assert_int_equal(op_tasks_start(t, "k|A", &ts), 0);
    ts.op_key = "C";
    assert_int_equal(op_tasks_start(t, "k|C", &ts), 0);
    ts.background = false;
    ts.op_key = "B";
    assert_int_equal(op_tasks_start(t, "k|B", &ts), 0);
    op_tasks_promote(t, "k|C");
    op_tasks_promote(t, "k|none"); /* unknown key: nothing happens */
    assert_true(op_tasks_busy(t, "k|A"));
    pthread_mutex_lock(&o.lock);
    o.release = true;
    pthread_cond_broadcast(&o.cond);
    while (o.calls < 4)
        pthread_cond_wait(&o.cond, &o.lock);
    pthread_mutex_unlock(&o.lock);
    assert_string_equal(o.keys[0], "X");
    assert_string_equal(o.keys[1], "B");
    assert_string_equal(o.keys[2], "C");
    assert_string_equal(o.keys[3], "A");
    struct op_task_result res;
    assert_int_equal(op_tasks_take(t, "k|A", OP_TASK_POLL, "t", &res), 1);
    assert_string_equal(res.reason, "NotReachable");
    op_task_result_done(&res);
    op_tasks_free(t);
    json_decref(host);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_id_valid),
        cmocka_unit_test(test_reboot_guard),
        cmocka_unit_test(test_pool_results),
        cmocka_unit_test(test_poll_until_down),
        cmocka_unit_test(test_background_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
