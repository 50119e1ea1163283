/* cm_file_read: contents, the cap, missing files, empty files, and the identity it reports. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cm_file.h"

static void write_all(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, 1, n, f), n);
    fclose(f);
}

static void test_read(void **state) {
    (void)state;
    char dir[] = "/tmp/test_cm_file.XXXXXX", p[64];
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/f", dir);
    char *s = NULL;
    size_t n = 0;
    struct stat st;

    write_all(p, "a\0b", 3); /* binary safe: the length, not strlen */
    assert_int_equal(cm_file_read(p, 16, &s, &n, &st), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "a\0b", 3);
    assert_int_equal(s[3], 0);
    assert_int_equal(st.st_size, 3);
    free(s);

    static char big[20000];
    memset(big, 'x', sizeof big); /* more than one read chunk */
    write_all(p, big, sizeof big);
    assert_int_equal(cm_file_read(p, sizeof big, &s, &n, NULL), 0);
    assert_int_equal(n, sizeof big);
    free(s);
    s = NULL;
    assert_int_equal(cm_file_read(p, sizeof big - 1, &s, &n, NULL), -E2BIG);
    assert_null(s);

    write_all(p, "", 0);
    assert_int_equal(cm_file_read(p, 16, &s, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_string_equal(s, "");
    free(s);

    unlink(p);
    s = NULL;
    assert_int_equal(cm_file_read(p, 16, &s, &n, NULL), -ENOENT);
    assert_null(s);
    assert_int_equal(cm_file_read(dir, 16, &s, &n, NULL), -EISDIR);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_read)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
