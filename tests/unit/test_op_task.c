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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_id_valid),
        cmocka_unit_test(test_reboot_guard),
        cmocka_unit_test(test_pool_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
