/* kl_persist: append, replay in order, torn last line, compaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cm_buf.h"
#include "kl_persist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int collect_cb(json_t *rec, void *ud) {
    struct cm_buf *b = ud;
    cm_buf_printf(b, "%s;", json_string_value(json_object_get(rec, "k")));
    return 0;
}

static void test_roundtrip(void **state) {
    (void)state;
    char dir[] = "/tmp/test_kls_persist.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct kl_persist *p = NULL;
    assert_int_equal(kl_persist_open(dir, &p), 0);
    uint64_t end = 0;
    const char *l1 = "{\"t\":\"put\",\"k\":\"a\"}\n", *l2 = "{\"t\":\"del\",\"k\":\"b\"}\n";
    assert_int_equal(kl_persist_append(p, l1, strlen(l1), &end), 0);
    assert_int_equal(kl_persist_append(p, l2, strlen(l2), &end), 0);
    assert_int_equal(end, strlen(l1) + strlen(l2));
    assert_int_equal(kl_persist_sync(p, end), 0);
    kl_persist_free(p);

    /* a torn write at the end (crash mid-line) is ignored */
    char path[300];
    snprintf(path, sizeof(path), "%s/log.jsonl", dir);
    FILE *f = fopen(path, "a");
    fputs("{\"t\":\"put\",\"k\":\"tor", f);
    fclose(f);
    assert_int_equal(kl_persist_open(dir, &p), 0);
    struct cm_buf got;
    cm_buf_init(&got, 0);
    assert_int_equal(kl_persist_replay(p, collect_cb, &got), 0);
    assert_string_equal(got.data, "a;b;");
    cm_buf_reset(&got);

    /* compaction: the snapshot replaces snapshot + log */
    struct cm_buf snap;
    cm_buf_init(&snap, 0);
    cm_buf_puts(&snap, "{\"t\":\"put\",\"k\":\"s\"}\n");
    assert_int_equal(kl_persist_compact(p, &snap), 0);
    assert_int_equal(kl_persist_log_size(p), 0);
    assert_int_equal(kl_persist_append(p, l1, strlen(l1), &end), 0);
    assert_int_equal(kl_persist_replay(p, collect_cb, &got), 0);
    assert_string_equal(got.data, "s;a;");
    cm_buf_done(&got);
    cm_buf_done(&snap);
    kl_persist_free(p);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
