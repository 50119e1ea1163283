/* Unit tests of sshc's pure parts: fingerprint formatting, error reasons, batch scripts and
 * their parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sshc.h"

static void hex2bin(const char *hex, uint8_t *out) {
    for (size_t i = 0; hex[2 * i]; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void test_fingerprint_matches_openssh(void **state) {
    /* Digest of an ed25519 public key blob, and what `ssh-keygen -l -E sha256` printed. */
    uint8_t d[32];
    hex2bin("7d58feab70830244fec4f8cb1df6f3fec4682282ccbc9a3eae3d7d2768726179", d);
    char out[SSHC_FINGERPRINT_MAX];
    assert_int_equal(sshc_fingerprint_format(d, 32, out), 0);
    assert_string_equal(out, "SHA256:fVj+q3CDAkT+xPjLHfbz/sRoIoLMvJo+rj19J2hyYXk");
    assert_int_equal(strlen(out), 7 + 43);
    assert_true(sshc_fingerprint_valid(out));
    /* SHA-256 of nothing: base64 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" minus the '='. */
    hex2bin("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", d);
    assert_int_equal(sshc_fingerprint_format(d, 32, out), 0);
    assert_string_equal(out, "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
    assert_int_equal(sshc_fingerprint_format(d, 20, out), -EINVAL);
}

static void test_fingerprint_valid(void **state) {
    assert_true(sshc_fingerprint_valid("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
    assert_false(sshc_fingerprint_valid("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
    assert_false(sshc_fingerprint_valid("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF"));
    assert_false(sshc_fingerprint_valid("sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
    assert_false(sshc_fingerprint_valid("MD5:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
    assert_false(sshc_fingerprint_valid("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu-U"));
    assert_false(sshc_fingerprint_valid(NULL));
    assert_false(sshc_fingerprint_valid(""));
}

static void test_error_reasons(void **state) {
    assert_string_equal(sshc_error_kind_reason(SSHC_ERR_HOSTKEY_MISMATCH), "HostKeyMismatch");
    assert_string_equal(sshc_error_kind_reason(SSHC_ERR_REFUSED), "ConnectionRefused");
    assert_string_equal(sshc_error_kind_reason(SSHC_ERR_TIMEOUT), "Timeout");
    assert_string_equal(sshc_error_kind_reason(SSHC_ERR_DNS), "DNSFailure");
    assert_string_equal(sshc_error_kind_reason(SSHC_ERR_AUTH), "AuthenticationFailed");
    assert_string_equal(sshc_error_kind_reason(SSHC_ERR_PROTOCOL), "ProtocolError");
    assert_string_equal(sshc_error_kind_reason((enum sshc_error_kind)999), "Unknown");
    /* Every kind has a reason. */
    for (int k = 0; k < SSHC_ERR__MAX; k++)
        assert_non_null(sshc_error_kind_reason((enum sshc_error_kind)k));
}

static void test_batch_script_shape(void **state) {
    struct sshc_batch_item it[2] = {{.command = "rpm -q docker # trailing comment"},
                                    {.command = "systemctl is-active docker"}};
    char *s = sshc_batch_script(it, 2, true, "abc123");
    assert_non_null(s);
    /* Each command on its own line inside a subshell, stdin from /dev/null. */
    assert_non_null(strstr(s, "(\nrpm -q docker # trailing comment\n) </dev/null 2>&1;"));
    assert_non_null(strstr(s, "@@sshc-abc123 0 %d@@"));
    assert_non_null(strstr(s, "@@sshc-abc123 1 %d@@"));
    assert_non_null(strstr(s, "|| exit 0"));
    free(s);
    s = sshc_batch_script(it, 2, false, "abc123");
    assert_null(strstr(s, "|| exit 0"));
    free(s);
}

static void test_batch_parse(void **state) {
    const char *out = "installed\n"
                      "\n@@sshc-n0nce 0 0@@\n"
                      "no newline at end"
                      "\n@@sshc-n0nce 1 3@@\n"
                      "\n@@sshc-n0nce 2 0@@\n";
    struct sshc_batch_item it[3] = {{.command = "a"}, {.command = "b"}, {.command = "c"}};
    assert_int_equal(sshc_batch_parse(out, strlen(out), "n0nce", it, 3), 0);
    assert_true(it[0].ran && it[1].ran && it[2].ran);
    assert_string_equal(it[0].output, "installed\n");
    assert_int_equal(it[0].exit_status, 0);
    assert_string_equal(it[1].output, "no newline at end");
    assert_int_equal(it[1].exit_status, 3);
    assert_string_equal(it[2].output, "");
    sshc_batch_items_done(it, 3);
}

static void test_batch_parse_stop_and_forgery(void **state) {
    /* Item 0 prints a delimiter with the wrong nonce; item 1 fails; item 2 never ran. */
    const char *out = "\n@@sshc-guess 1 0@@\n"
                      "\n@@sshc-real 0 0@@\n"
                      "boom\n"
                      "\n@@sshc-real 1 1@@\n";
    struct sshc_batch_item it[3] = {{.command = "a"}, {.command = "b"}, {.command = "c"}};
    assert_int_equal(sshc_batch_parse(out, strlen(out), "real", it, 3), 0);
    assert_string_equal(it[0].output, "\n@@sshc-guess 1 0@@\n");
    assert_int_equal(it[1].exit_status, 1);
    assert_false(it[2].ran);
    assert_null(it[2].output);
    sshc_batch_items_done(it, 3);
    /* A missing delimiter after a success is an error (output cut off), not "did not run". */
    const char *cut = "\n@@sshc-real 0 0@@\npartial";
    assert_int_equal(sshc_batch_parse(cut, strlen(cut), "real", it, 2), -EBADMSG);
    assert_null(it[0].output);
}

static void test_shell_quote(void **state) {
    struct cm_buf b;
    cm_buf_init(&b, 0);
    assert_int_equal(sshc_shell_quote(&b, "plain"), 0);
    assert_string_equal(b.data, "'plain'");
    cm_buf_reset(&b);
    assert_int_equal(sshc_shell_quote(&b, "it's $(x) `y` \"z\""), 0);
    assert_string_equal(b.data, "'it'\\''s $(x) `y` \"z\"'");
    cm_buf_reset(&b);
    assert_int_equal(sshc_shell_quote(&b, ""), 0);
    assert_string_equal(b.data, "''");
    cm_buf_done(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_matches_openssh),
        cmocka_unit_test(test_fingerprint_valid),
        cmocka_unit_test(test_error_reasons),
        cmocka_unit_test(test_batch_script_shape),
        cmocka_unit_test(test_batch_parse),
        cmocka_unit_test(test_batch_parse_stop_and_forgery),
        cmocka_unit_test(test_shell_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
