/* kl_auth: the --token-auth-file CSV format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kl_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_tmp(const char *content) {
    char *path = strdup("/tmp/test_kls_auth.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static void test_load(void **state) {
    (void)state;
    char *p = write_tmp("# comment\n"
                        "tok1,alice,u1,\"system:masters,ops\"\n"
                        "\n"
                        "tok2,bob,u2\n"
                        "\"tok,3\",carol,u3,\"a\"\n");
    struct kl_auth *a = NULL;
    assert_int_equal(kl_auth_load(p, &a, NULL), 0);
    const struct kl_auth_user *u = kl_auth_lookup(a, "tok1");
    assert_non_null(u);
    assert_string_equal(u->name, "alice");
    assert_string_equal(u->uid, "u1");
    assert_int_equal(json_array_size(u->groups), 2);
    assert_string_equal(json_string_value(json_array_get(u->groups, 1)), "ops");
    u = kl_auth_lookup(a, "tok2");
    assert_int_equal(json_array_size(u->groups), 0);
    assert_string_equal(kl_auth_lookup(a, "tok,3")->name, "carol");
    assert_null(kl_auth_lookup(a, "tok"));
    assert_null(kl_auth_lookup(a, NULL));
    assert_string_equal(kl_auth_first(a)->token, "tok1");
    kl_auth_free(a);
    unlink(p);
    free(p);
}

static void test_bad(void **state) {
    (void)state;
    char *p = write_tmp("tok1,alice,u1\nonly-a-token\n");
    struct kl_auth *a = NULL;
    int line = 0;
    assert_int_equal(kl_auth_load(p, &a, &line), -EINVAL);
    assert_int_equal(line, 2);
    unlink(p);
    free(p);
    p = write_tmp("# nothing\n");
    assert_int_equal(kl_auth_load(p, &a, &line), -EINVAL);
    unlink(p);
    free(p);
    assert_int_equal(kl_auth_load("/nonexistent/tokens.csv", &a, NULL), -ENOENT);
    assert_int_equal(kl_auth_generate(&a), 0);
    assert_int_equal(strlen(kl_auth_first(a)->token), 48);
    assert_string_equal(kl_auth_first(a)->name, "admin");
    kl_auth_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
