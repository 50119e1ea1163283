/* host_script: bootstrap items run for real by `sh` inside sshc's batch wrapper (the text an SSH
 * exec would run), in a temporary directory: each step's outcome comes out exact, a failure
 * stops the batch, and output cannot forge a result. Nothing here touches the machine beyond
 * that directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "cm_buf.h"
#include "host_script.h"
#include "sshc.h"

static char dir[64];

/* Runs items as one batch (stop at the first failure) through `sh`, parses the results. */
static void run_batch(struct sshc_batch_item *items, size_t n) {
    char *script = sshc_batch_script(items, n, true, "batchnonce");
    assert_non_null(script);
    FILE *f = popen(script, "r");
    assert_non_null(f);
    struct cm_buf b;
    cm_buf_init(&b, 1 << 20);
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        assert_int_equal(cm_buf_append(&b, buf, got), 0);
    pclose(f);
    assert_int_equal(sshc_batch_parse(b.data ? b.data : "", b.len, "batchnonce", items, n), 0);
    cm_buf_done(&b);
    free(script);
}

static char *cmd(const char *fmt, const char *name) {
    char *s = NULL;
    assert_true(asprintf(&s, fmt, dir, name) > 0);
    return s;
}

static void test_outcomes(void **state) {
    (void)state;
    char nonce[HOST_SCRIPT_NONCE_LEN + 1];
    host_script_nonce(nonce);
    assert_int_equal(strlen(nonce), HOST_SCRIPT_NONCE_LEN);
    char other[HOST_SCRIPT_NONCE_LEN + 1];
    host_script_nonce(other);
    assert_string_not_equal(nonce, other);

    /* a: done already (check passes); b: needs apply; c: no check (always applies);
     * d: CHECK of a passing check; e: CHECK of a failing one; f: apply prints a forged marker
     * with the wrong nonce and the check still fails afterwards; g: not reached. */
    char *pre_a = cmd("touch %s/%s", "a");
    assert_int_equal(system(pre_a), 0);
    free(pre_a);
    char *check_a = cmd("test -e %s/%s", "a"), *apply_a = cmd("echo applied > %s/%s.log", "a");
    char *check_b = cmd("test -e %s/%s", "b"), *apply_b = cmd("echo installing; touch %s/%s", "b");
    char *apply_c = cmd("touch %s/%s # a trailing comment", "c");
    char *check_f = cmd("test -e %s/%s", "never");
    char forged[200];
    snprintf(forged, sizeof forged, "echo '%s skip'; echo 'deadbeef ok'", other);
    struct {
        const char *check, *apply;
        enum host_script_mode mode;
    } steps[] = {
        {check_a, apply_a, HOST_SCRIPT_RUN},   {check_b, apply_b, HOST_SCRIPT_RUN},
        {NULL, apply_c, HOST_SCRIPT_RUN},      {check_a, "false", HOST_SCRIPT_CHECK},
        {check_f, "false", HOST_SCRIPT_CHECK}, {check_f, forged, HOST_SCRIPT_APPLY},
        {check_a, apply_a, HOST_SCRIPT_RUN},
    };
    enum { N = sizeof steps / sizeof steps[0] };
    struct sshc_batch_item items[N] = {0};
    char *texts[N];
    for (size_t i = 0; i < N; i++) {
        texts[i] = host_script_item(steps[i].check, steps[i].apply, steps[i].mode, nonce);
        assert_non_null(texts[i]);
        items[i].command = texts[i];
    }
    run_batch(items, N);
    size_t end;
    assert_int_equal(host_script_outcome(&items[0], nonce, &end), HOST_SCRIPT_PASSED);
    assert_int_equal(host_script_outcome(&items[1], nonce, &end), HOST_SCRIPT_APPLIED);
    assert_non_null(strstr(items[1].output, "installing"));
    assert_int_equal(host_script_outcome(&items[2], nonce, &end), HOST_SCRIPT_APPLIED);
    assert_int_equal(host_script_outcome(&items[3], nonce, &end), HOST_SCRIPT_PASSED);
    assert_int_equal(host_script_outcome(&items[4], nonce, &end), HOST_SCRIPT_CHECK_FAILED);
    assert_int_equal(host_script_outcome(&items[5], nonce, &end), HOST_SCRIPT_CHECK_FAILED);
    /* The message tail is the commands' own output, the marker cut off. */
    assert_non_null(strstr(items[5].output, "deadbeef ok"));
    assert_null(strstr(items[5].output + end, "deadbeef"));
    assert_non_null(strstr(items[5].output + end, nonce));
    assert_int_equal(host_script_outcome(&items[6], nonce, &end), HOST_SCRIPT_NOT_RUN);
    /* Side effects: a's apply never ran (its check passed), b and c were applied. */
    char *p = cmd("%s/%s.log", "a");
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    p = cmd("%s/%s", "b");
    assert_int_equal(access(p, F_OK), 0);
    free(p);
    p = cmd("%s/%s", "c");
    assert_int_equal(access(p, F_OK), 0);
    free(p);
    sshc_batch_items_done(items, N);
    for (size_t i = 0; i < N; i++)
        free(texts[i]);
    free(check_a);
    free(apply_a);
    free(check_b);
    free(apply_b);
    free(apply_c);
    free(check_f);
}

static void test_apply_failure(void **state) {
    (void)state;
    char nonce[HOST_SCRIPT_NONCE_LEN + 1];
    host_script_nonce(nonce);
    struct sshc_batch_item items[2] = {0};
    char *t0 = host_script_item("false", "echo no space left; exit 3", HOST_SCRIPT_RUN, nonce);
    char *t1 = host_script_item(NULL, "true", HOST_SCRIPT_APPLY, nonce);
    items[0].command = t0;
    items[1].command = t1;
    run_batch(items, 2);
    size_t end;
    assert_int_equal(host_script_outcome(&items[0], nonce, &end), HOST_SCRIPT_APPLY_FAILED);
    assert_int_equal(items[0].exit_status, 3);
    assert_true(end > 0 && strstr(items[0].output, "no space left") < items[0].output + end);
    assert_int_equal(host_script_outcome(&items[1], nonce, &end), HOST_SCRIPT_NOT_RUN);
    sshc_batch_items_done(items, 2);
    free(t0);
    free(t1);
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_reconcile_script.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char *rm = NULL;
    if (asprintf(&rm, "rm -rf '%s'", dir) > 0 && system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(rm);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_apply_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
