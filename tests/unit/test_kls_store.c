/* kl_store: sorted objects, resourceVersions, the event history and its 410 boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kl_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct kl_rtype *type_new(const char *resource, int namespaced) {
    struct kl_rtype *rt = calloc(1, sizeof(*rt));
    rt->group = strdup("");
    rt->resource = strdup(resource);
    rt->singular = strdup(resource);
    rt->kind = strdup("Thing");
    rt->list_kind = strdup("ThingList");
    rt->namespaced = namespaced;
    rt->short_names = json_array();
    rt->categories = json_array();
    rt->versions = calloc(1, sizeof(*rt->versions));
    rt->versions[0].name = strdup("v1");
    rt->n_versions = 1;
    return rt;
}

static json_t *obj(const char *ns, const char *name, const char *label) {
    json_t *o = json_pack("{s:{s:s,s:s,s:s}}", "metadata", "name", name, "namespace", ns, "uid", name);
    if (label)
        json_object_set_new(json_object_get(o, "metadata"), "labels", json_pack("{s:s}", "l", label));
    return o;
}

static void put(struct kl_store *s, struct kl_rtype *rt, const char *ns, const char *name) {
    json_t *o = obj(ns, name, "x");
    assert_int_equal(kl_store_put(s, rt, o, NULL), 0);
    json_decref(o);
}

static void test_sorted_and_lookup(void **state) {
    (void)state;
    struct kl_store s;
    assert_int_equal(kl_store_init(&s, 64), 0);
    struct kl_rtype *rt = type_new("things", 1);
    assert_int_equal(kl_store_add_type(&s, rt), 0);
    /* "a-b" sorts before "a" once the slash is compared, like etcd keys "a-b/x" < "a/x" */
    put(&s, rt, "b", "z");
    put(&s, rt, "a", "y");
    put(&s, rt, "a-b", "x");
    put(&s, rt, "a", "c");
    assert_int_equal(rt->n, 4);
    assert_string_equal(rt->objs[0]->key, "a-b/x");
    assert_string_equal(rt->objs[1]->key, "a/c");
    assert_string_equal(rt->objs[2]->key, "a/y");
    assert_string_equal(rt->objs[3]->key, "b/z");
    assert_non_null(kl_store_get(rt, "a", "y"));
    assert_null(kl_store_get(rt, "a", "z"));
    assert_int_equal(kl_store_lower_bound(rt, "a", NULL), 1);
    assert_int_equal(kl_store_lower_bound(rt, "b", NULL), 3);
    assert_int_equal(kl_store_lower_bound(rt, NULL, "a/c"), 2);
    assert_int_equal(kl_store_lower_bound(rt, "a", "a/y"), 3);
    /* resourceVersions grow by one per write and are set in the stored text */
    assert_int_equal(s.rv, 4);
    struct kl_obj *o = kl_store_get(rt, "b", "z");
    assert_int_equal(o->rv, 1);
    assert_non_null(strstr(o->json, "\"resourceVersion\":\"1\""));
    assert_non_null(o->labels);
    kl_store_done(&s);
}

static void test_events_and_expiry(void **state) {
    (void)state;
    struct kl_store s;
    assert_int_equal(kl_store_init(&s, 16), 0);
    struct kl_rtype *a = type_new("as", 0), *b = type_new("bs", 0);
    kl_store_add_type(&s, a);
    kl_store_add_type(&s, b);
    put(&s, a, "", "one");  /* rv 1 */
    put(&s, b, "", "two");  /* rv 2 */
    put(&s, a, "", "one");  /* rv 3, MODIFIED */
    json_t *fin = obj("", "one", NULL);
    assert_int_equal(kl_store_remove(&s, a, "", "one", fin, NULL), 0); /* rv 4 */
    assert_int_equal(kl_store_remove(&s, a, "", "one", fin, NULL), -ENOENT);
    json_decref(fin);
    struct kl_event ev[8];
    uint64_t scanned;
    int n = kl_store_events_since(&s, a, 0, ev, 8, &scanned);
    assert_int_equal(n, 3);
    assert_int_equal(scanned, 4);
    assert_int_equal(ev[0].type, KL_EV_ADDED);
    assert_int_equal(ev[1].type, KL_EV_MODIFIED);
    assert_non_null(ev[1].prev);
    assert_int_equal(ev[2].type, KL_EV_DELETED);
    assert_int_equal(ev[2].obj->rv, 4);
    for (int i = 0; i < n; i++)
        kl_event_done(&ev[i]);
    n = kl_store_events_since(&s, NULL, 2, ev, 8, &scanned);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++)
        kl_event_done(&ev[i]);
    /* the ring holds 16 events: after 20 more, rv 4 is gone */
    for (int i = 0; i < 20; i++)
        put(&s, b, "", "two");
    assert_int_equal(kl_store_events_since(&s, NULL, 4, ev, 8, &scanned), -ESTALE);
    n = kl_store_events_since(&s, NULL, s.rv - 3, ev, 8, &scanned);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++)
        kl_event_done(&ev[i]);
    /* dropping history: the current rv stays watchable, anything older is not */
    uint64_t now = s.rv;
    kl_store_drop_history(&s);
    assert_int_equal(kl_store_events_since(&s, NULL, now - 1, ev, 8, &scanned), -ESTALE);
    assert_int_equal(kl_store_events_since(&s, NULL, now, ev, 8, &scanned), 0);
    put(&s, b, "", "three");
    n = kl_store_events_since(&s, NULL, now, ev, 8, &scanned);
    assert_int_equal(n, 1);
    kl_event_done(&ev[0]);
    kl_store_done(&s);
}

static void test_wait_and_close(void **state) {
    (void)state;
    struct kl_store s;
    assert_int_equal(kl_store_init(&s, 16), 0);
    struct kl_rtype *a = type_new("as", 0);
    kl_store_add_type(&s, a);
    uint64_t epoch = kl_store_epoch(&s);
    assert_int_equal(kl_store_wait(&s, 0, epoch, 10), 0);
    put(&s, a, "", "x");
    kl_store_notify(&s);
    assert_int_equal(kl_store_wait(&s, 0, epoch, 10), 1);
    kl_store_close_watches(&s, 0);
    assert_int_equal(kl_store_wait(&s, 1, epoch, 10), -ECANCELED);
    kl_store_done(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_and_lookup),
        cmocka_unit_test(test_events_and_expiry),
        cmocka_unit_test(test_wait_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
