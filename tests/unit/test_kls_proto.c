/* kl_proto: the protobuf bodies kubectl's typed clients send. The inputs are built here with a
 * minimal encoder, with the field numbers of k8s.io/api generated.proto. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cm_buf.h"
#include "kl_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void varint(struct cm_buf *b, unsigned long long v) {
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        if (v)
            c |= 0x80;
        cm_buf_append(b, &c, 1);
    } while (v);
}

static void field_bytes(struct cm_buf *b, int num, const void *p, size_t n) {
    varint(b, (unsigned)num << 3 | 2);
    varint(b, n);
    cm_buf_append(b, p, n);
}

static void field_str(struct cm_buf *b, int num, const char *s) {
    field_bytes(b, num, s, strlen(s));
}

static void field_msg(struct cm_buf *b, int num, struct cm_buf *m) {
    field_bytes(b, num, m->data ? m->data : "", m->len);
    cm_buf_done(m);
}

static void map_entry(struct cm_buf *b, int num, const char *k, const void *v, size_t vn) {
    struct cm_buf e;
    cm_buf_init(&e, 0);
    field_str(&e, 1, k);
    field_bytes(&e, 2, v, vn);
    field_msg(b, num, &e);
}

/* Wraps raw in the k8s envelope. */
static struct cm_buf envelope(const char *apiv, const char *kind, struct cm_buf *raw) {
    struct cm_buf out, tm;
    cm_buf_init(&out, 0);
    cm_buf_init(&tm, 0);
    cm_buf_append(&out, "k8s\0", 4);
    field_str(&tm, 1, apiv);
    field_str(&tm, 2, kind);
    field_msg(&out, 1, &tm);
    field_msg(&out, 2, raw);
    field_str(&out, 4, "application/vnd.kubernetes.protobuf");
    return out;
}

static void test_secret(void **state) {
    (void)state;
    struct cm_buf meta, raw;
    cm_buf_init(&meta, 0);
    cm_buf_init(&raw, 0);
    field_str(&meta, 1, "key");
    field_str(&meta, 2, "");      /* proto3: empty strings are sent and must not appear */
    field_str(&meta, 3, "commissaire");
    map_entry(&meta, 11, "app", "x", 1);
    field_msg(&raw, 1, &meta);
    map_entry(&raw, 2, "ssh-privatekey", "PEM\0\1", 5);
    map_entry(&raw, 2, "empty", "", 0);
    field_str(&raw, 3, "kubernetes.io/ssh-auth");
    varint(&raw, 99 << 3 | 0); /* an unknown varint field is skipped */
    varint(&raw, 7);
    struct cm_buf body = envelope("v1", "Secret", &raw);
    json_t *doc = NULL;
    char *err = NULL;
    assert_int_equal(kl_proto_decode(body.data, body.len, &doc, &err), 0);
    char *txt = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(txt, "{\"apiVersion\":\"v1\",\"data\":{\"empty\":\"\",\"ssh-privatekey\":\"UEVNAAE=\"},"
                             "\"kind\":\"Secret\",\"metadata\":{\"labels\":{\"app\":\"x\"},\"name\":\"key\","
                             "\"namespace\":\"commissaire\"},\"type\":\"kubernetes.io/ssh-auth\"}");
    free(txt);
    json_decref(doc);
    cm_buf_done(&body);
}

static void test_pdb_intorstring(void **state) {
    (void)state;
    struct cm_buf meta, spec, ios, sel, raw;
    cm_buf_init(&meta, 0);
    cm_buf_init(&spec, 0);
    cm_buf_init(&ios, 0);
    cm_buf_init(&sel, 0);
    cm_buf_init(&raw, 0);
    field_str(&meta, 1, "web");
    field_msg(&raw, 1, &meta);
    varint(&ios, 1 << 3 | 0);
    varint(&ios, 1); /* type string */
    field_str(&ios, 3, "50%");
    field_msg(&spec, 3, &ios);
    map_entry(&sel, 1, "app", "web", 3);
    field_msg(&spec, 2, &sel);
    field_msg(&raw, 2, &spec);
    struct cm_buf body = envelope("policy/v1", "PodDisruptionBudget", &raw);
    json_t *doc = NULL;
    assert_int_equal(kl_proto_decode(body.data, body.len, &doc, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "spec"), "maxUnavailable")), "50%");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
                            json_object_get(doc, "spec"), "selector"), "matchLabels"), "app")),
                        "web");
    json_decref(doc);
    cm_buf_done(&body);
}

static void test_errors(void **state) {
    (void)state;
    json_t *doc = NULL;
    char *err = NULL;
    assert_int_equal(kl_proto_decode("{}", 2, &doc, &err), -EINVAL);
    free(err);
    err = NULL;
    struct cm_buf raw;
    cm_buf_init(&raw, 0);
    field_str(&raw, 1, "x");
    struct cm_buf body = envelope("apps/v1", "Deployment", &raw);
    assert_int_equal(kl_proto_decode(body.data, body.len, &doc, &err), -EPROTONOSUPPORT);
    assert_non_null(strstr(err, "Deployment"));
    free(err);
    err = NULL;
    /* truncated: a length beyond the end */
    assert_int_equal(kl_proto_decode(body.data, body.len - 3, &doc, &err), -EINVAL);
    free(err);
    cm_buf_done(&body);
    assert_null(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_pdb_intorstring),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
