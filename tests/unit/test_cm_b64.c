/* cm_b64: round trips against RFC 4648's test vectors, the leniency producers need, and the
 * corruption that must be refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cm_b64.h"

static const char *vectors[][2] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char *enc = NULL, *dec = NULL;
        size_t n = 0;
        assert_int_equal(cm_b64_encode(vectors[i][0], strlen(vectors[i][0]), &enc), 0);
        assert_string_equal(enc, vectors[i][1]);
        assert_int_equal(cm_b64_decode(enc, 0, &dec, &n), 0);
        assert_int_equal(n, strlen(vectors[i][0]));
        assert_memory_equal(dec, vectors[i][0], n);
        assert_int_equal(dec[n], 0);
        free(enc);
        free(dec);
    }
}

static void test_binary_round_trip(void **state) {
    (void)state;
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t len = 0; len <= sizeof all; len += 37) {
        char *enc = NULL, *dec = NULL;
        size_t n = 0;
        assert_int_equal(cm_b64_encode(all, len, &enc), 0);
        assert_int_equal(strlen(enc), (len + 2) / 3 * 4);
        assert_int_equal(cm_b64_decode(enc, 0, &dec, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, all, len);
        free(enc);
        free(dec);
    }
}

static void test_lenient_input(void **state) {
    (void)state;
    char *d = NULL;
    size_t n = 0;
    /* `base64` wraps lines; padding is often left out. */
    assert_int_equal(cm_b64_decode("Zm9v\nYmFy\r\n", 0, &d, &n), 0);
    assert_string_equal(d, "foobar");
    free(d);
    assert_int_equal(cm_b64_decode("Zm9vYg", 0, &d, &n), 0);
    assert_string_equal(d, "foob");
    free(d);
    /* Spaces and the URL-safe alphabet only when asked for. */
    assert_int_equal(cm_b64_decode("Zm9v YmFy", 0, &d, &n), -EINVAL);
    assert_int_equal(cm_b64_decode("Zm9v YmFy", CM_B64_SPACES, &d, &n), 0);
    assert_string_equal(d, "foobar");
    free(d);
    assert_int_equal(cm_b64_decode("-_8=", 0, &d, &n), -EINVAL);
    assert_int_equal(cm_b64_decode("-_8=", CM_B64_URLSAFE, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal((unsigned char)d[0], 0xfb);
    assert_int_equal((unsigned char)d[1], 0xff);
    free(d);
}

static void test_corruption_refused(void **state) {
    (void)state;
    char *d = NULL;
    size_t n = 0;
    assert_int_equal(cm_b64_decode("Zm9v!", 0, &d, &n), -EINVAL);   /* outside the alphabet */
    assert_int_equal(cm_b64_decode("Zg==Zg", 0, &d, &n), -EINVAL);  /* data after padding */
    assert_int_equal(cm_b64_decode("Zm9vY", 0, &d, &n), -EINVAL);   /* a lone character */
    assert_int_equal(cm_b64_decode("Zg===", 0, &d, &n), -EINVAL);   /* too much padding */
    assert_int_equal(cm_b64_decode("aGVsbG9=", 0, &d, &n), -EINVAL); /* non-zero pad bits */
    assert_null(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_binary_round_trip),
        cmocka_unit_test(test_lenient_input),
        cmocka_unit_test(test_corruption_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
