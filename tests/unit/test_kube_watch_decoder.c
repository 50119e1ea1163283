/* Watch line decoder with split and partial chunks, oversized lines, event parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube_error.h"
#include "kube_watch_decoder.h"

struct lines {
    char *got[16];
    size_t n;
    int fail_at; /* return -EINTR for this line index; -1: never */
};

static int collect(const char *line, size_t len, void *ud) {
    struct lines *l = ud;
    assert_int_equal(strlen(line), len); /* NUL-terminated */
    if ((int)l->n == l->fail_at) {
        l->got[l->n++] = NULL;
        return -EINTR;
    }
    assert_true(l->n < 16);
    l->got[l->n++] = strndup(line, len);
    return 0;
}

static void lines_free(struct lines *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->got[i]);
}

static const char STREAM[] = "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
                             "{\"type\":\"MODIFIED\",\"object\":{\"a\":2}}\r\n"
                             "\n"
                             "{\"type\":\"DELETED\",\"object\":{\"a\":3}}\n";

static void check_three(struct lines *l) {
    assert_int_equal(l->n, 3);
    assert_string_equal(l->got[0], "{\"type\":\"ADDED\",\"object\":{\"a\":1}}");
    assert_string_equal(l->got[1], "{\"type\":\"MODIFIED\",\"object\":{\"a\":2}}");
    assert_string_equal(l->got[2], "{\"type\":\"DELETED\",\"object\":{\"a\":3}}");
}

static void test_whole_stream(void **state) {
    (void)state;
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, 1024);
    struct lines l = {.fail_at = -1};
    assert_int_equal(kube_watch_decoder_feed(&d, STREAM, strlen(STREAM), collect, &l), 0);
    check_three(&l);
    assert_int_equal(kube_watch_decoder_pending(&d), 0);
    lines_free(&l);
    kube_watch_decoder_done(&d);
}

static void test_every_split(void **state) {
    (void)state;
    size_t n = strlen(STREAM);
    /* every split point of two chunks, and byte-by-byte */
    for (size_t cut = 0; cut <= n; cut++) {
        struct kube_watch_decoder d;
        kube_watch_decoder_init(&d, 1024);
        struct lines l = {.fail_at = -1};
        assert_int_equal(kube_watch_decoder_feed(&d, STREAM, cut, collect, &l), 0);
        assert_int_equal(kube_watch_decoder_feed(&d, STREAM + cut, n - cut, collect, &l), 0);
        check_three(&l);
        lines_free(&l);
        kube_watch_decoder_done(&d);
    }
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, 1024);
    struct lines l = {.fail_at = -1};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kube_watch_decoder_feed(&d, STREAM + i, 1, collect, &l), 0);
    check_three(&l);
    lines_free(&l);
    kube_watch_decoder_done(&d);
}

static void test_partial_tail_and_reset(void **state) {
    (void)state;
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, 1024);
    struct lines l = {.fail_at = -1};
    const char *s = "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"MOD";
    assert_int_equal(kube_watch_decoder_feed(&d, s, strlen(s), collect, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(kube_watch_decoder_pending(&d), strlen("{\"type\":\"MOD"));
    /* a new connection must not glue the old tail to new data */
    kube_watch_decoder_reset(&d);
    assert_int_equal(kube_watch_decoder_pending(&d), 0);
    assert_int_equal(kube_watch_decoder_feed(&d, "x\n", 2, collect, &l), 0);
    assert_string_equal(l.got[1], "x");
    lines_free(&l);
    kube_watch_decoder_done(&d);
}

static void test_oversized(void **state) {
    (void)state;
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, 16);
    struct lines l = {.fail_at = -1};
    /* exactly the cap passes */
    assert_int_equal(kube_watch_decoder_feed(&d, "0123456789abcdef\n", 17, collect, &l), 0);
    assert_int_equal(l.n, 1);
    /* one more byte in one chunk fails */
    assert_int_equal(kube_watch_decoder_feed(&d, "0123456789abcdefX\n", 18, collect, &l), -E2BIG);
    assert_int_equal(kube_watch_decoder_pending(&d), 0);
    /* also when it grows over several chunks */
    assert_int_equal(kube_watch_decoder_feed(&d, "0123456789", 10, collect, &l), 0);
    assert_int_equal(kube_watch_decoder_feed(&d, "abcdefXYZ", 9, collect, &l), -E2BIG);
    assert_int_equal(kube_watch_decoder_pending(&d), 0);
    /* and the decoder is usable afterwards */
    assert_int_equal(kube_watch_decoder_feed(&d, "ok\n", 3, collect, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.got[1], "ok");
    lines_free(&l);
    kube_watch_decoder_done(&d);
}

static void test_callback_error_stops(void **state) {
    (void)state;
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, 1024);
    struct lines l = {.fail_at = 1};
    assert_int_equal(kube_watch_decoder_feed(&d, STREAM, strlen(STREAM), collect, &l), -EINTR);
    assert_int_equal(l.n, 2); /* the third line was not delivered */
    lines_free(&l);
    kube_watch_decoder_done(&d);
}

static void test_event_parse(void **state) {
    (void)state;
    enum kube_watch_event_type t;
    json_t *o = NULL;
    struct kube_error e;
    kube_error_init(&e);
    const char *ok = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}";
    assert_int_equal(kube_watch_event_parse(ok, strlen(ok), &t, &o, &e), 0);
    assert_int_equal(t, KUBE_WATCH_BOOKMARK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "metadata"),
                                                          "resourceVersion")), "7");
    json_decref(o);
    const char *err = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}";
    assert_int_equal(kube_watch_event_parse(err, strlen(err), &t, &o, &e), 0);
    assert_int_equal(t, KUBE_WATCH_ERROR);
    json_decref(o);
    const char *bad[] = {"nope", "[1]", "{\"type\":\"WHAT\",\"object\":{}}",
                         "{\"type\":\"ADDED\"}", "{\"type\":\"ADDED\",\"object\":3}",
                         "{\"type\":1,\"object\":{}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = NULL;
        assert_int_equal(kube_watch_event_parse(bad[i], strlen(bad[i]), &t, &o, &e), -EBADMSG);
        assert_null(o);
        assert_non_null(e.message);
    }
    assert_string_equal(kube_watch_event_type_name(KUBE_WATCH_DELETED), "DELETED");
    assert_string_equal(kube_watch_event_type_name((enum kube_watch_event_type)42), "UNKNOWN");
    kube_error_done(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_stream),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_partial_tail_and_reset),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_callback_error_stops),
        cmocka_unit_test(test_event_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
